"""Functions (Redis 7.0): FCALL FCALL_RO and FUNCTION LOAD|DELETE|FLUSH|LIST|DUMP|RESTORE|
STATS|KILL|HELP.

FUNCTION LOAD / DELETE / FLUSH / RESTORE change the dataset (``dirty``) and are
propagated as themselves; FCALL is propagated as the write commands it ran.
"""

from __future__ import annotations

import time
from typing import Any

from ember.commands.registry import Flag, command, container
from ember.commands.scripting import EVAL_FLAGS, numkeys_keys, parse_numkeys
from ember.errors import CommandError
from ember.protocol.resp import OK, Status
from ember.scripting.engine import BUSY_EVAL
from ember.server.client import Client

G = "scripting"


def _fcall(c: Client, argv: list[bytes], ro: bool) -> Any:
    eng = c.server.scripting
    store = eng.functions
    fn = store.funcs.get(argv[1].lower())
    if fn is None:
        raise CommandError("ERR Function not found")
    numkeys = parse_numkeys(argv, "ERR Bad number of keys provided")
    read_only = eng.prepare(c, fn.flags, ro)
    keys = argv[3 : 3 + numkeys]
    args = argv[3 + numkeys :]
    name = fn.name.decode("utf-8", "surrogateescape")
    return eng.run(c, store.vm, fn.callback, name, False, fn.flags, read_only, keys, args, argv)


@command(
    "fcall",
    -3,
    EVAL_FLAGS | Flag.MAY_REPLICATE,
    group=G,
    since="7.0.0",
    keys_fn=numkeys_keys,
    summary="Invoke a function",
)
def fcall(c: Client, argv: list[bytes]) -> Any:
    return _fcall(c, argv, False)


@command(
    "fcall_ro",
    -3,
    EVAL_FLAGS | Flag.READONLY,
    group=G,
    since="7.0.0",
    keys_fn=numkeys_keys,
    summary="Invoke a read-only function",
)
def fcall_ro(c: Client, argv: list[bytes]) -> Any:
    return _fcall(c, argv, True)


container("function", G, "7.0.0", "A container for function commands")


@command(
    "load",
    -3,
    Flag.WRITE | Flag.DENYOOM | Flag.NOSCRIPT,
    parent="function",
    group=G,
    since="7.0.0",
    summary="Create a function with the given arguments (name, code, description)",
)
def function_load(c: Client, argv: list[bytes]) -> Any:
    replace = False
    i = 2
    while i < len(argv) - 1:
        if argv[i].lower() == b"replace":
            replace = True
            i += 1
            continue
        raise CommandError(
            f"ERR Unknown option given: {argv[i].decode('utf-8', 'surrogateescape')}"
        )
    if i != len(argv) - 1:
        raise CommandError("ERR Function code is missing")
    name = c.server.scripting.functions.load(argv[i], replace)
    c.server.dirty += 1
    return name


@command(
    "delete",
    3,
    Flag.WRITE | Flag.NOSCRIPT,
    parent="function",
    group=G,
    since="7.0.0",
    summary="Delete a function by name",
)
def function_delete(c: Client, argv: list[bytes]) -> Any:
    c.server.scripting.functions.delete(argv[2])
    c.server.dirty += 1
    return OK


@command(
    "flush",
    -2,
    Flag.WRITE | Flag.NOSCRIPT,
    parent="function",
    group=G,
    since="7.0.0",
    summary="Deleting all functions",
)
def function_flush(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise CommandError(
            "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP."
        )
    if len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
        raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    c.server.scripting.functions.flush()
    c.server.dirty += 1
    return OK


@command(
    "list",
    -2,
    Flag.NOSCRIPT,
    parent="function",
    group=G,
    since="7.0.0",
    summary="List information about all the functions",
)
def function_list(c: Client, argv: list[bytes]) -> Any:
    pattern: bytes | None = None
    with_code = False
    i = 2
    while i < len(argv):
        a = argv[i].lower()
        if a == b"withcode" and not with_code:
            with_code = True
            i += 1
            continue
        if a == b"libraryname" and pattern is None:
            if i + 1 >= len(argv):
                raise CommandError("ERR library name argument was not given")
            pattern = argv[i + 1]
            i += 2
            continue
        raise CommandError(f"ERR Unknown argument {argv[i].decode('utf-8', 'surrogateescape')}")
    return c.server.scripting.functions.list(pattern, with_code, c.resp3)


@command(
    "dump",
    2,
    Flag.NOSCRIPT,
    parent="function",
    group=G,
    since="7.0.0",
    summary="Dump all functions into a serialized binary payload",
)
def function_dump(c: Client, argv: list[bytes]) -> Any:
    return c.server.scripting.functions.dump()


@command(
    "restore",
    -3,
    Flag.WRITE | Flag.DENYOOM | Flag.NOSCRIPT,
    parent="function",
    group=G,
    since="7.0.0",
    summary="Restore all the functions on the given payload",
)
def function_restore(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 4:
        raise CommandError(
            "ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP."
        )
    policy = "append"
    if len(argv) == 4:
        policy = argv[3].lower().decode("latin-1")
        if policy not in ("flush", "append", "replace"):
            raise CommandError(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
            )
    c.server.scripting.functions.restore(argv[2], policy)
    c.server.dirty += 1
    return OK


@command(
    "stats",
    2,
    Flag.NOSCRIPT | Flag.ALLOW_BUSY,
    parent="function",
    group=G,
    since="7.0.0",
    summary="Return information about the function currently running (name, description, duration)",
)
def function_stats(c: Client, argv: list[bytes]) -> Any:
    eng = c.server.scripting
    ctx = eng.current
    running: Any = None
    if ctx is not None:
        if ctx.is_eval:
            raise CommandError(BUSY_EVAL)
        running = {
            b"name": ctx.name.encode("utf-8", "surrogateescape"),
            b"command": list(ctx.argv),
            b"duration_ms": int((time.monotonic() - ctx.start) * 1000),
        }
    store = c.server.scripting.functions
    return {
        b"running_script": running,
        b"engines": {
            b"LUA": {b"libraries_count": len(store.libs), b"functions_count": len(store.funcs)}
        },
    }


@command(
    "kill",
    2,
    Flag.NOSCRIPT | Flag.ALLOW_BUSY,
    parent="function",
    group=G,
    since="7.0.0",
    summary="Kill the function currently in execution.",
)
def function_kill(c: Client, argv: list[bytes]) -> Any:
    return c.server.scripting.kill(False)


_HELP = [
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
]


@command(
    "help",
    2,
    Flag.LOADING | Flag.STALE,
    parent="function",
    group=G,
    since="7.0.0",
    summary="Show helpful text about the different subcommands",
)
def function_help(c: Client, argv: list[bytes]) -> Any:
    head = f"{argv[0].decode(errors='replace').upper()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    return [Status(head)] + [Status(line) for line in _HELP]
