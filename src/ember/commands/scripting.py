"""Lua scripting commands (Redis 7.0): EVAL EVALSHA EVAL_RO EVALSHA_RO and SCRIPT
LOAD|EXISTS|FLUSH|KILL|HELP.

The engine lives in :mod:`ember.scripting` (``c.server.scripting``). A script is
propagated as the write commands it ran (effects replication), never as EVAL.
"""

from __future__ import annotations

from typing import Any

from ember.commands.args import parse_int
from ember.commands.registry import Flag, command, container
from ember.errors import CommandError
from ember.protocol.resp import OK, Status
from ember.server.client import Client

G = "scripting"
EVAL_FLAGS = Flag.NOSCRIPT | Flag.STALE | Flag.SKIP_MONITOR | Flag.NO_MANDATORY_KEYS
NOSCRIPT_ERR = "NOSCRIPT No matching script. Please use EVAL."


def numkeys_keys(argv: list[bytes]) -> list[int]:
    """Key positions of EVAL-like commands: ``cmd <script> numkeys key ... arg ...``."""
    try:
        n = int(argv[2])
    except (ValueError, IndexError):
        return []
    if n < 0 or n > len(argv) - 3:
        return []
    return list(range(3, 3 + n))


def parse_numkeys(argv: list[bytes], bad: str | None = None) -> int:
    if bad is None:
        n = parse_int(argv[2])
    else:
        n = parse_int(argv[2], bad)
    if n > len(argv) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if n < 0:
        raise CommandError("ERR Number of keys can't be negative")
    return n


def _eval(c: Client, argv: list[bytes], evalsha: bool, ro: bool) -> Any:
    numkeys = parse_numkeys(argv)
    eng = c.server.scripting
    if evalsha:
        sha = argv[1].lower().decode("latin-1")
        sc = eng.scripts.get(sha) if len(argv[1]) == 40 else None
        if sc is None:
            raise CommandError(NOSCRIPT_ERR)
    else:
        sha, sc = eng.create_script(argv[1])
    read_only = eng.prepare(c, sc.flags, ro)
    keys = argv[3 : 3 + numkeys]
    args = argv[3 + numkeys :]
    return eng.run(c, eng.eval_vm, sc.fn, sha, True, sc.flags, read_only, keys, args, argv)


@command(
    "eval",
    -3,
    EVAL_FLAGS | Flag.MAY_REPLICATE,
    group=G,
    since="2.6.0",
    keys_fn=numkeys_keys,
    summary="Execute a Lua script server side",
)
def eval_(c: Client, argv: list[bytes]) -> Any:
    return _eval(c, argv, False, False)


@command(
    "evalsha",
    -3,
    EVAL_FLAGS | Flag.MAY_REPLICATE,
    group=G,
    since="2.6.0",
    keys_fn=numkeys_keys,
    summary="Execute a Lua script server side",
)
def evalsha(c: Client, argv: list[bytes]) -> Any:
    return _eval(c, argv, True, False)


@command(
    "eval_ro",
    -3,
    EVAL_FLAGS | Flag.READONLY,
    group=G,
    since="7.0.0",
    keys_fn=numkeys_keys,
    summary="Execute a read-only Lua script server side",
)
def eval_ro(c: Client, argv: list[bytes]) -> Any:
    return _eval(c, argv, False, True)


@command(
    "evalsha_ro",
    -3,
    EVAL_FLAGS | Flag.READONLY,
    group=G,
    since="7.0.0",
    keys_fn=numkeys_keys,
    summary="Execute a read-only Lua script server side",
)
def evalsha_ro(c: Client, argv: list[bytes]) -> Any:
    return _eval(c, argv, True, True)


container("script", G, "2.6.0", "A container for Lua scripts management commands")


@command(
    "load",
    3,
    Flag.NOSCRIPT | Flag.STALE,
    parent="script",
    group=G,
    since="2.6.0",
    summary="Load the specified Lua script into the script cache.",
)
def script_load(c: Client, argv: list[bytes]) -> Any:
    sha, _ = c.server.scripting.create_script(argv[2])
    return sha.encode()


@command(
    "exists",
    -3,
    Flag.NOSCRIPT,
    parent="script",
    group=G,
    since="2.6.0",
    summary="Check existence of scripts in the script cache.",
)
def script_exists(c: Client, argv: list[bytes]) -> Any:
    scripts = c.server.scripting.scripts
    return [1 if a.lower().decode("latin-1") in scripts else 0 for a in argv[2:]]


@command(
    "flush",
    -2,
    Flag.NOSCRIPT,
    parent="script",
    group=G,
    since="2.6.0",
    summary="Remove all the scripts from the script cache.",
)
def script_flush(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3 or (len(argv) == 3 and argv[2].lower() not in (b"sync", b"async")):
        raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    c.server.scripting.flush_scripts()
    return OK


@command(
    "kill",
    2,
    Flag.NOSCRIPT | Flag.ALLOW_BUSY,
    parent="script",
    group=G,
    since="2.6.0",
    summary="Kill the script currently in execution.",
)
def script_kill(c: Client, argv: list[bytes]) -> Any:
    return c.server.scripting.kill(True)


_HELP = [
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
]


@command(
    "help",
    2,
    Flag.LOADING | Flag.STALE,
    parent="script",
    group=G,
    since="5.0.0",
    summary="Show helpful text about the different subcommands",
)
def script_help(c: Client, argv: list[bytes]) -> Any:
    head = f"{argv[0].decode(errors='replace').upper()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    return [Status(head)] + [Status(line) for line in _HELP]
