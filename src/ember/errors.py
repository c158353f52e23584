"""Every client-visible error string, in one place.

Handlers raise :class:`CommandError` with the full Redis text (including the error
code prefix such as ``ERR`` or ``WRONGTYPE``); only the dispatcher turns it into a
``-...\\r\\n`` reply and counts it in ``errorstats``.
"""

from __future__ import annotations


class CommandError(Exception):
    """An error reply. ``message`` starts with the error code (``ERR``, ``WRONGTYPE``...)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return self.message.split(" ", 1)[0]


class ProtocolError(Exception):
    """Malformed request: reply ``-ERR Protocol error: ...`` and close the connection."""


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
NO_SUCH_KEY = "ERR no such key"
OVERFLOW = "ERR increment or decrement would overflow"
INCR_NAN = "ERR increment would produce NaN or Infinity"
INVALID_EXPIRE = "ERR invalid expire time in '{}' command"
DB_INDEX_RANGE = "ERR DB index is out of range"
INVALID_DB = "ERR invalid DB index"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
NOT_STRING_LEN = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
OFFSET_RANGE = "ERR offset is out of range"
LOADING = "LOADING Redis is loading the dataset in memory"
MISCONF = (
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
    "persist to disk. Commands that may modify the data set are disabled, because this "
    "instance is configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details "
    "about the RDB error."
)
MISCONF_AOF = "MISCONF Errors writing to the AOF file: {}"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
OOM = "OOM command not allowed when used memory > 'maxmemory'."
BUSY_SCRIPT = (
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
)


def wrong_args(name: str) -> CommandError:
    return CommandError(f"ERR wrong number of arguments for '{name}' command")


def unknown_subcommand(sub: bytes, container: str) -> CommandError:
    return CommandError(
        f"ERR unknown subcommand '{sub.decode(errors='replace')[:128]}'. "
        f"Try {container.upper()} HELP."
    )


def unknown_command(argv: list[bytes]) -> CommandError:
    """Redis 7.0 ``unknown command`` text (``processCommand``: args capped near 128 bytes)."""
    args = ""
    for a in argv[1:]:
        if len(args) >= 128:
            break
        args += "'" + a.decode(errors="replace")[: 128 - len(args)] + "' "
    name = argv[0].decode(errors="replace")[:128]
    msg = f"ERR unknown command '{name}', with args beginning with: {args}"
    return CommandError(msg.replace("\r", " ").replace("\n", " "))
