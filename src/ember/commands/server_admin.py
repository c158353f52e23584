"""Server commands: INFO CONFIG COMMAND DBSIZE FLUSH* SWAPDB TIME SHUTDOWN DEBUG
MONITOR SLOWLOG LATENCY."""

from __future__ import annotations

import time
from typing import Any

from ember import errors
from ember.commands.args import parse_int
from ember.commands.registry import COMMANDS, CommandSpec, Flag, command, container
from ember.config import BY_NAME, ConfigError, rewrite_config
from ember.errors import CommandError
from ember.protocol.resp import OK, Status, Verbatim
from ember.server.client import NO_REPLY, Client

G = "server"


@command("info", -1, Flag.LOADING | Flag.STALE | Flag.SENTINEL, group=G, summary="Returns information and statistics about the server.")
def info(c: Client, argv: list[bytes]) -> Any:
    sections = [a.decode(errors="replace") for a in argv[1:]]
    return Verbatim(c.server.info(sections))


@command("dbsize", 1, Flag.READONLY | Flag.FAST, group=G, summary="Returns the number of keys in the database.")
def dbsize(c: Client, argv: list[bytes]) -> Any:
    return len(c.db.data)


@command("time", 1, Flag.LOADING | Flag.STALE | Flag.FAST, group=G, since="2.6.0", summary="Returns the server time.")
def time_(c: Client, argv: list[bytes]) -> Any:
    ns = time.time_ns()
    return [b"%d" % (ns // 1_000_000_000), b"%d" % ((ns // 1000) % 1_000_000)]


def _flush_mode(argv: list[bytes]) -> None:
    if len(argv) > 2:
        raise CommandError(errors.SYNTAX)
    if len(argv) == 2 and argv[1].lower() not in (b"async", b"sync"):
        raise CommandError(errors.SYNTAX)


@command("flushdb", -1, Flag.WRITE, group=G, summary="Removes all keys from the current database.")
def flushdb(c: Client, argv: list[bytes]) -> Any:
    _flush_mode(argv)
    n = c.db.clear()
    c.server.dirty += max(n, 1)
    return OK


@command("flushall", -1, Flag.WRITE, group=G, summary="Removes all keys from all databases.")
def flushall(c: Client, argv: list[bytes]) -> Any:
    _flush_mode(argv)
    srv = c.server
    n = 0
    for db in srv.dbs:
        n += db.clear()
    srv.dirty += n
    hook = getattr(srv, "after_flushall", None)
    if hook is not None:
        hook()  # kills a running RDB save; with save points saves the empty dataset (dirty = 0)
    # always propagated, even when nothing was removed or the save reset dirty
    # (Redis forceCommandPropagation)
    srv.also_propagate(c.db.id, argv)
    srv.prevent_prop = True
    return OK


@command("swapdb", 3, Flag.WRITE | Flag.FAST, group=G, since="4.0.0", summary="Swaps two Redis databases.")
def swapdb(c: Client, argv: list[bytes]) -> Any:
    srv = c.server
    try:
        a = parse_int(argv[1])
    except CommandError:
        raise CommandError("ERR invalid first DB index") from None
    try:
        b = parse_int(argv[2])
    except CommandError:
        raise CommandError("ERR invalid second DB index") from None
    n = len(srv.dbs)
    if not (0 <= a < n) or not (0 <= b < n):
        raise CommandError(errors.DB_INDEX_RANGE)
    if a != b:
        da, db_ = srv.dbs[a], srv.dbs[b]
        if srv.before_swap is not None:
            srv.before_swap(da, db_)
        from ember.commands.transactions import touch_all_watched_keys  # WATCH: before the swap

        touch_all_watched_keys(da, db_)
        touch_all_watched_keys(db_, da)
        da.data, db_.data = db_.data, da.data
        da.expires, db_.expires = db_.expires, da.expires
        da.expire_scan, db_.expire_scan = [], []
        da.expire_pos = db_.expire_pos = 0
        for d in (da, db_):
            for key in d.blocking:
                if key in d.data:
                    srv.ready_keys.append((d, key))
    srv.dirty += 1
    return OK


# ------------------------------------------------------------------------------ CONFIG

container("config", G, "2.0.0", "A container for server configuration commands.")
CFG = Flag.ADMIN | Flag.NOSCRIPT | Flag.LOADING | Flag.STALE


@command("get", -3, CFG, parent="config", group=G, summary="Returns the effective values of configuration parameters.")
def config_get(c: Client, argv: list[bytes]) -> Any:
    cfg = c.server.config
    out: dict[bytes, bytes] = {}
    for pat in argv[2:]:
        for name in cfg.matching(pat.decode(errors="replace")):
            out[name.encode()] = cfg.render(name).encode()
    if c.resp3:
        return out
    flat: list[bytes] = []
    for k, v in out.items():
        flat += [k, v]
    return flat


@command("set", -4, CFG | Flag.SKIP_SLOWLOG, parent="config", group=G, summary="Sets configuration parameters in-flight.")
def config_set(c: Client, argv: list[bytes]) -> Any:
    if len(argv) % 2 != 0:
        raise errors.wrong_args("config|set")
    srv = c.server
    cfg = srv.config
    changes: list[tuple[Any, Any]] = []
    seen: set[str] = set()
    for i in range(2, len(argv), 2):
        raw_name = argv[i].decode(errors="replace")
        opt = BY_NAME.get(raw_name.lower())
        if opt is None or opt.hidden:
            raise CommandError(f"ERR Unknown option or number of arguments for CONFIG SET - '{raw_name}'")
        if opt.name in seen:
            raise CommandError(f"ERR Duplicate parameter - '{raw_name}'")
        seen.add(opt.name)
        if not opt.mutable:
            raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{raw_name}') - can't set immutable config")
        if opt.protected and cfg.values["enable-protected-configs"] == "no":
            raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{raw_name}') - can't set protected config")
        text = argv[i + 1].decode(errors="surrogateescape")
        try:
            if opt.kind in ("save", "special") or opt.multi_arg:
                value = cfg.parse_value(opt, text.split() if opt.kind != "string" else [text])
                if opt.kind == "save":
                    from ember.config import parse_save

                    value = parse_save(text)
            else:
                value = cfg.parse_value(opt, [text])
        except ConfigError as e:
            raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{raw_name}') - {e}") from None
        changes.append((opt, value))
    # apply all, run hooks, roll back everything if a hook fails (atomic CONFIG SET)
    old = {opt.name: cfg.values[opt.name] for opt, _ in changes}
    for opt, value in changes:
        cfg.values[opt.name] = value
    applied: list[Any] = []
    try:
        for opt, value in changes:
            if opt.hook:
                fn = getattr(srv, opt.hook, None) or _hook_from_modules(srv, opt.hook)
                if fn is not None:
                    fn(old[opt.name], value)
            applied.append(opt)
    except (ConfigError, OSError, CommandError) as e:
        for opt, _ in changes:
            cfg.values[opt.name] = old[opt.name]
        for opt in applied:
            if opt.hook:
                fn = getattr(srv, opt.hook, None) or _hook_from_modules(srv, opt.hook)
                if fn is not None:
                    try:
                        fn(cfg.values[opt.name], old[opt.name])
                    except Exception:
                        pass
        msg = e.message if isinstance(e, CommandError) else str(e)
        name = changes[len(applied)][0].name
        raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - {msg}") from None
    return OK


def _hook_from_modules(srv: Any, hook: str) -> Any:
    for obj in (srv.persistence, srv.scripting):
        if obj is not None and hasattr(obj, hook):
            return getattr(obj, hook)
    return CONFIG_HOOKS.get(hook)


CONFIG_HOOKS: dict[str, Any] = {}


@command("resetstat", 2, CFG, parent="config", group=G, summary="Resets the server's statistics.")
def config_resetstat(c: Client, argv: list[bytes]) -> Any:
    from ember.server.server import Stats

    srv = c.server
    srv.stats = Stats()
    for spec in COMMANDS.values():
        for s in [spec, *spec.subcommands.values()]:
            s.calls = s.usec = s.rejected_calls = s.failed_calls = 0
    reset = getattr(srv.persistence, "reset_stats", None)
    if reset is not None:
        reset()
    return OK


@command("rewrite", 2, CFG, parent="config", group=G, since="2.8.0", summary="Persists the effective configuration to file.")
def config_rewrite(c: Client, argv: list[bytes]) -> Any:
    path = c.server.config.config_file
    if not path:
        raise CommandError("ERR The server is running without a config file")
    try:
        rewrite_config(path, c.server.config)
    except OSError as e:
        c.server.log("warning", f"CONFIG REWRITE failed: {e.strerror}")
        raise CommandError(f"ERR Rewriting config file: {e.strerror}") from None
    c.server.log("notice", "CONFIG REWRITE executed with success.")
    return OK


@command("help", 2, CFG, parent="config", group=G, since="5.0.0", summary="Returns helpful text about the different subcommands.")
def config_help(c: Client, argv: list[bytes]) -> Any:
    lines = [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
        "RESETSTAT", "    Reset statistics reported by the INFO command.",
        "REWRITE", "    Rewrite the configuration file.",
        "HELP", "    Print this help.",
    ]
    return [Status(x) for x in lines]


# ----------------------------------------------------------------------------- COMMAND


def _key_specs(spec: CommandSpec) -> list[Any]:
    if spec.first_key <= 0:
        return []
    flags = [b"RW"] if spec.flags & Flag.WRITE else [b"RO"]
    return [
        {
            b"flags": flags,
            b"begin_search": {b"type": b"index", b"spec": {b"index": spec.first_key}},
            b"find_keys": {
                b"type": b"range",
                b"spec": {b"lastkey": spec.last_key if spec.last_key < 0 else spec.last_key - spec.first_key, b"keystep": spec.step, b"limit": 0},
            },
        }
    ]


def command_info(spec: CommandSpec) -> list[Any]:
    return [
        spec.fullname.encode(),
        spec.arity,
        [Status(n) for n in spec.flag_names()],
        spec.first_key,
        spec.last_key,
        spec.step,
        [Status(x) for x in spec.acl_categories()],
        [],  # tips
        _key_specs(spec),
        [command_info(s) for s in spec.subcommands.values()],
    ]


container("command", G, "2.8.13", "Returns detailed information about all commands.")
CMDF = Flag.LOADING | Flag.STALE


def _command_all(c: Client, argv: list[bytes]) -> Any:
    if len(argv) == 1:
        return [command_info(s) for s in COMMANDS.values()]
    raise errors.unknown_subcommand(argv[1], "command")


@command("count", 2, CMDF, parent="command", group=G, since="2.8.13", summary="Returns a count of commands.")
def command_count(c: Client, argv: list[bytes]) -> Any:
    return len(COMMANDS)


@command("info", -2, CMDF, parent="command", group=G, since="2.8.13", summary="Returns information about one, multiple or all commands.")
def command_info_cmd(c: Client, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return [command_info(s) for s in COMMANDS.values()]
    out: list[Any] = []
    for name in argv[2:]:
        spec = _find(name)
        out.append(command_info(spec) if spec else None)
    return out


def _find(name: bytes) -> CommandSpec | None:
    n = name.decode(errors="replace").lower()
    if "|" in n:
        parent, sub = n.split("|", 1)
        p = COMMANDS.get(parent)
        return p.subcommands.get(sub) if p else None
    return COMMANDS.get(n)


@command("docs", -2, CMDF, parent="command", group=G, since="7.0.0", summary="Returns documentary information about one, multiple or all commands.")
def command_docs(c: Client, argv: list[bytes]) -> Any:
    specs = [s for s in COMMANDS.values()] if len(argv) == 2 else [s for s in (_find(n) for n in argv[2:]) if s]
    out: dict[bytes, Any] = {}
    for s in specs:
        doc: dict[bytes, Any] = {
            b"summary": s.summary.encode(),
            b"since": s.since.encode(),
            b"group": s.group.encode(),
        }
        if s.subcommands:
            doc[b"subcommands"] = {
                sub.fullname.encode(): {b"summary": sub.summary.encode(), b"since": sub.since.encode(), b"group": sub.group.encode()}
                for sub in s.subcommands.values()
            }
        out[s.fullname.encode()] = doc
    return out


@command("getkeys", -3, CMDF, parent="command", group=G, since="2.8.13", summary="Extracts the key names from an arbitrary command.")
def command_getkeys(c: Client, argv: list[bytes]) -> Any:
    cmd = argv[2:]
    spec = c.server.commands_by_name.get(cmd[0].lower())
    if spec is None:
        raise CommandError("ERR Invalid command specified")
    if spec.subcommands and len(cmd) > 1:
        spec = spec.subcommands.get(cmd[1].lower().decode(errors="replace"), spec)
    if (spec.arity > 0 and len(cmd) != spec.arity) or len(cmd) < -spec.arity:
        raise CommandError("ERR Invalid number of arguments specified for command")
    try:
        pos = spec.key_positions(cmd)
    except (IndexError, ValueError, CommandError):
        raise CommandError("ERR Invalid arguments specified for command") from None
    if not pos:
        raise CommandError("ERR The command has no key arguments")
    return [cmd[i] for i in pos]


@command("list", -2, CMDF, parent="command", group=G, since="7.0.0", summary="Returns a list of command names.")
def command_list(c: Client, argv: list[bytes]) -> Any:
    names = [s.name.encode() for s in COMMANDS.values()]
    if len(argv) == 5 and argv[2].lower() == b"filterby":
        kind, val = argv[3].lower(), argv[4].decode(errors="replace").lower()
        if kind == b"aclcat":
            names = [s.name.encode() for s in COMMANDS.values() if "@" + val in s.acl_categories()]
        elif kind == b"pattern":
            from ember.server.pubsub import glob_match

            names = [n for n in names if glob_match(val.encode(), n)]
        elif kind == b"module":
            names = []
        else:
            raise CommandError(errors.SYNTAX)
    elif len(argv) != 2:
        raise CommandError(errors.SYNTAX)
    return names


@command("help", 2, CMDF, parent="command", group=G, since="5.0.0", summary="Returns helpful text about the different subcommands.")
def command_help(c: Client, argv: list[bytes]) -> Any:
    return [Status(x) for x in [
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)", "    Return details about all Redis commands.",
        "COUNT", "    Return the total number of commands in this Redis server.",
        "LIST", "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
        "DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.",
        "GETKEYS <full-command>", "    Return the keys from a full Redis command.",
        "HELP", "    Print this help.",
    ]]


COMMANDS["command"].handler = _command_all
COMMANDS["command"].arity = -1
COMMANDS["command"].flags = CMDF


# ----------------------------------------------------------------------------- SHUTDOWN


@command("shutdown", -1, Flag.ADMIN | Flag.NOSCRIPT | Flag.LOADING | Flag.STALE | Flag.NO_MULTI | Flag.SENTINEL | Flag.ALLOW_BUSY, group=G, summary="Synchronously saves the database(s) to disk and shuts down the Redis server.")
def shutdown(c: Client, argv: list[bytes]) -> Any:
    srv = c.server
    save_mode: bool | None = None
    opts = [a.lower() for a in argv[1:]]
    for o in opts:
        if o not in (b"nosave", b"save", b"now", b"force", b"abort"):
            raise CommandError(errors.SYNTAX)
    if (b"abort" in opts and len(set(opts) - {b"abort"}) > 0) or (b"save" in opts and b"nosave" in opts):
        raise CommandError(errors.SYNTAX)  # illegal combination, as in Redis
    if b"abort" in opts:
        raise CommandError("ERR No shutdown in progress.")
    if b"nosave" in opts:
        save_mode = False
    elif b"save" in opts:
        save_mode = True
    srv.shutdown_save_mode = save_mode  # type: ignore[attr-defined]
    # run the persistence hooks now so a failed save is reported to this client
    ok = True
    for hook in srv.shutdown_hooks:
        if not hook(save_mode):
            ok = False
    if not ok and b"force" not in opts:
        return CommandError("ERR Errors trying to SHUTDOWN. Check logs.")
    srv.shutdown_hooks = []
    srv.request_shutdown(0)
    return NO_REPLY


# ------------------------------------------------------------------------------- DEBUG

container("debug", G, "1.0.0", "A container for debugging commands.")


def _debug(c: Client, argv: list[bytes]) -> Any:
    srv = c.server
    mode = srv.config.values["enable-debug-command"]
    if mode == "no" or (mode == "local" and not (c.unix or c.addr.startswith("127.") or c.addr.startswith("::1"))):
        raise CommandError(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to "
            '"local", you can run it from a local connection, otherwise you need to set this '
            "option in the configuration file, and then restart the server."
        )
    sub = argv[1].lower().decode(errors="replace")
    fn = DEBUG_SUBCOMMANDS.get(sub)
    if fn is None:
        raise CommandError(
            f"ERR unknown subcommand or wrong number of arguments for '{argv[1].decode(errors='replace')}'. Try DEBUG HELP."
        )
    return fn(c, argv)


DEBUG_SUBCOMMANDS: dict[str, Any] = {}


def debug_sub(name: str) -> Any:
    def deco(fn: Any) -> Any:
        DEBUG_SUBCOMMANDS[name] = fn
        return fn

    return deco


COMMANDS["debug"] = CommandSpec(
    "debug",
    _debug,
    -2,
    Flag.ADMIN | Flag.NOSCRIPT | Flag.LOADING | Flag.STALE,
    group=G,
    summary="A container for debugging commands.",
)


@debug_sub("sleep")
def debug_sleep(c: Client, argv: list[bytes]) -> Any:
    from ember.commands.args import parse_float

    secs = parse_float(argv[2]) if len(argv) > 2 else 0.0
    time.sleep(max(0.0, secs))
    return OK


@debug_sub("set-active-expire")
def debug_set_active_expire(c: Client, argv: list[bytes]) -> Any:
    if len(argv) != 3:
        raise CommandError("ERR wrong number of arguments")
    c.server.active_expire_enabled = parse_int(argv[2]) != 0  # type: ignore[attr-defined]
    return OK


@debug_sub("log")
def debug_log(c: Client, argv: list[bytes]) -> Any:
    c.server.log("warning", "DEBUG LOG: " + b" ".join(argv[2:]).decode(errors="replace"))
    return OK


@debug_sub("help")
def debug_help(c: Client, argv: list[bytes]) -> Any:
    return [Status(f"DEBUG {n.upper()}") for n in sorted(DEBUG_SUBCOMMANDS)]


@debug_sub("change-repl-id")
def debug_change_repl_id(c: Client, argv: list[bytes]) -> Any:
    return OK


@debug_sub("quicklist-packed-threshold")
def debug_qpt(c: Client, argv: list[bytes]) -> Any:
    c.server.quicklist_packed_threshold = parse_int(argv[2])  # type: ignore[attr-defined]
    return OK


# ----------------------------------------------------------------------------- MONITOR


@command("monitor", 1, Flag.ADMIN | Flag.NOSCRIPT | Flag.LOADING | Flag.STALE, group=G, summary="Listens for all requests received by the server in real-time.")
def monitor(c: Client, argv: list[bytes]) -> Any:
    if c.in_exec:
        raise CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if c.monitor:
        return NO_REPLY  # already monitoring: Redis ignores the command without a reply
    c.monitor = True
    c.server.monitors.append(c)
    return OK


# ----------------------------------------------------------------------------- SLOWLOG


def slowlog_add(c: Client, argv: list[bytes], usec: int) -> None:
    srv = c.server
    maxlen = srv.config.values["slowlog-max-len"]
    if maxlen <= 0:
        return
    args: list[bytes] = []
    for i, a in enumerate(argv[:32]):
        if i == 31 and len(argv) > 32:
            args.append(b"... (%d more arguments)" % (len(argv) - 31))
            break
        args.append(a if len(a) <= 128 else a[:128] + b"... (%d more bytes)" % (len(a) - 128))
    entry = [srv.slowlog_next_id, int(time.time()), usec, args, c.addr.encode(), c.name]
    srv.slowlog_next_id += 1
    srv.slowlog.appendleft(entry)
    while len(srv.slowlog) > maxlen:
        srv.slowlog.pop()


container("slowlog", G, "2.2.12", "A container for slow log commands.")
SLF = Flag.ADMIN | Flag.LOADING | Flag.STALE


@command("get", -2, SLF, parent="slowlog", group=G, since="2.2.12", summary="Returns the slow log's entries.")
def slowlog_get(c: Client, argv: list[bytes]) -> Any:
    count = 10
    if len(argv) == 3:
        try:
            count = parse_int(argv[2])
        except CommandError:
            raise CommandError("ERR count should be greater than or equal to -1") from None
        if count < -1:
            raise CommandError("ERR count should be greater than or equal to -1")
        if count == -1:
            count = len(c.server.slowlog)
    elif len(argv) > 3:
        raise errors.wrong_args("slowlog|get")
    return [list(e) for e in list(c.server.slowlog)[:count]]


@command("len", 2, SLF, parent="slowlog", group=G, since="2.2.12", summary="Returns the number of entries in the slow log.")
def slowlog_len(c: Client, argv: list[bytes]) -> Any:
    return len(c.server.slowlog)


@command("reset", 2, SLF, parent="slowlog", group=G, since="2.2.12", summary="Clears all entries from the slow log.")
def slowlog_reset(c: Client, argv: list[bytes]) -> Any:
    c.server.slowlog.clear()
    return OK


@command("help", 2, SLF, parent="slowlog", group=G, since="6.2.0", summary="Show helpful text about the different subcommands")
def slowlog_help(c: Client, argv: list[bytes]) -> Any:
    return [Status(x) for x in ["SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "GET [<count>]", "LEN", "RESET", "HELP"]]


# ----------------------------------------------------------------------------- LATENCY

container("latency", G, "2.8.13", "A container for latency diagnostics commands.")


@command("latest", 2, SLF, parent="latency", group=G, since="2.8.13", summary="Returns the latest latency samples for all events.")
def latency_latest(c: Client, argv: list[bytes]) -> Any:
    out = []
    for name, samples in c.server.latency_events.items():
        if samples:
            t, ms = samples[-1]
            out.append([name.encode(), t, ms, max(s[1] for s in samples)])
    return out


@command("history", 3, SLF, parent="latency", group=G, since="2.8.13", summary="Returns timestamp-latency samples for an event.")
def latency_history(c: Client, argv: list[bytes]) -> Any:
    samples = c.server.latency_events.get(argv[2].decode(errors="replace"), [])
    return [[t, ms] for t, ms in samples]


@command("reset", -2, SLF, parent="latency", group=G, since="2.8.13", summary="Resets the latency data for one or more events.")
def latency_reset(c: Client, argv: list[bytes]) -> Any:
    ev = c.server.latency_events
    if len(argv) == 2:
        n = len(ev)
        ev.clear()
        return n
    n = 0
    for a in argv[2:]:
        if ev.pop(a.decode(errors="replace"), None) is not None:
            n += 1
    return n


@command("help", 2, SLF, parent="latency", group=G, since="2.8.13", summary="Returns helpful text about the different subcommands.")
def latency_help(c: Client, argv: list[bytes]) -> Any:
    return [Status(x) for x in ["LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "LATEST", "HISTORY <event>", "RESET [<event> ...]", "HELP"]]

