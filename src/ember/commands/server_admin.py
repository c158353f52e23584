"""Server commands: INFO CONFIG COMMAND DBSIZE FLUSH* SWAPDB TIME SHUTDOWN DEBUG
MONITOR SLOWLOG LATENCY."""

from __future__ import annotations

import time
from typing import Any

from ember import errors
from ember.commands.args import parse_int
from ember.commands.connection import help_reply
from ember.commands.registry import COMMANDS, CommandSpec, Flag, command, container
from ember.config import BY_NAME, ConfigError, Option, parse_save, rewrite_config
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
    """``configGetCommand``: several names/patterns; each option once (names compare
    case-insensitively, the first spelling wins)."""
    cfg = c.server.config
    found: dict[str, tuple[str, str]] = {}
    for pat in argv[2:]:
        for name in cfg.get_names(pat.decode(errors="surrogateescape")):
            key = name.lower()
            if key not in found:
                found[key] = (name, BY_NAME[key].name)
    return {
        name.encode(errors="surrogateescape"): cfg.render(canonical).encode(errors="surrogateescape")
        for name, canonical in found.values()
    }


def _protected_allowed(c: Client, setting: str) -> bool:
    """``allowProtectedAction``: yes, or local for loopback / unix socket clients."""
    return setting == "yes" or (setting == "local" and _is_local(c))


def _is_local(c: Client) -> bool:
    return c.unix or c.addr.startswith("127.") or c.addr.startswith("::1:") or c.addr.startswith("[::1]")


@command("set", -4, CFG | Flag.SKIP_SLOWLOG, parent="config", group=G, since="2.0.0", summary="Sets configuration parameters in-flight.")
def config_set(c: Client, argv: list[bytes]) -> Any:
    """``configSetCommand``: all pairs are checked first, then set, then applied; any
    failure restores every value (all or nothing), with Redis's error precedence."""
    if len(argv) % 2:
        raise CommandError(errors.SYNTAX)
    srv = c.server
    cfg = srv.config
    chosen: list[tuple[Option, str]] = []
    invalid_name: str | None = None
    errstr: str | None = None
    err_name = ""
    invalid = deny_loading = False
    for i in range(2, len(argv), 2):
        raw_name = argv[i].decode(errors="surrogateescape")
        opt = BY_NAME.get(raw_name.lower())
        if opt is None:
            if not invalid:
                invalid_name = raw_name
                invalid = True
            continue
        if invalid:
            continue
        if not opt.mutable or (opt.protected and not _protected_allowed(c, cfg.values["enable-protected-configs"])):
            errstr = "can't set immutable config" if not opt.mutable else "can't set protected config"
            err_name = raw_name
            invalid = True
            continue
        if srv.loading and opt.deny_loading:
            deny_loading = invalid = True
            continue
        if any(o is opt for o, _ in chosen):
            errstr = "duplicate parameter"
            err_name = raw_name
            invalid = True
            continue
        chosen.append((opt, argv[i + 1].decode(errors="surrogateescape")))
    if invalid:
        if deny_loading:
            raise CommandError(errors.LOADING)
        if invalid_name is not None:
            raise CommandError(f"ERR Unknown option or number of arguments for CONFIG SET - '{invalid_name}'")
        raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{err_name}') - {errstr}")
    old = {opt.name: cfg.values[opt.name] for opt, _ in chosen}
    changed: list[Option] = []
    try:
        for opt, text in chosen:
            words = (text.split(" ") if text else []) if opt.multi_arg else [text]
            err_name = opt.name
            if opt.name == "save":
                value = parse_save(words)
            elif opt.multi_arg and not words:
                value = cfg.parse_value(opt, [""])
            else:
                value = cfg.parse_value(opt, words)
            if value != cfg.values[opt.name]:
                changed.append(opt)
            cfg.values[opt.name] = value
    except ConfigError as e:
        cfg.values.update(old)
        raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{err_name}') - {e}") from None
    # apply: run each changed option's hook; a failure restores everything
    applied: list[Option] = []
    for opt in changed:
        fn = _config_hook(srv, opt.hook)
        if fn is None:
            continue
        try:
            fn(old[opt.name], cfg.values[opt.name])
            applied.append(opt)
        except (ConfigError, OSError, CommandError) as e:
            srv.log(
                "warning",
                f"Failed applying new configuration. Possibly related to new {opt.name} setting. "
                "Restoring previous settings.",
            )
            new = {o.name: cfg.values[o.name] for o, _ in chosen}
            cfg.values.update(old)
            for done in applied:
                undo = _config_hook(srv, done.hook)
                if undo is not None:
                    try:
                        undo(new[done.name], old[done.name])
                    except Exception:  # noqa: BLE001 - best effort rollback
                        pass
            msg = e.message.removeprefix("ERR ") if isinstance(e, CommandError) else (str(e) or e.__class__.__name__)
            raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{opt.name}') - {msg}") from None
    return OK


def _config_hook(srv: Any, hook: str | None) -> Any:
    if hook is None:
        return None
    fn = getattr(srv, hook, None)
    if fn is not None:
        return fn
    return _hook_from_modules(srv, hook)


def _hook_from_modules(srv: Any, hook: str) -> Any:
    for obj in (srv.persistence, srv.scripting):
        if obj is not None and hasattr(obj, hook):
            return getattr(obj, hook)
    fn = CONFIG_HOOKS.get(hook)
    return (lambda old, new: fn(srv, old, new)) if fn is not None else None


# ---------------------------------------------------------------- CONFIG SET side effects


def _on_proto_max_bulk(srv: Any, old: int, new: int) -> None:
    for cl in srv.clients.values():
        cl.parser.max_bulk = new


def _on_hz(srv: Any, old: int, new: int) -> None:
    srv.config.values["hz"] = min(max(new, 1), 500)  # updateHZ clamps to 1..500


def _on_maxclients(srv: Any, old: int, new: int) -> None:
    """``updateMaxclients``: raise the open files limit for the new value."""
    from ember.server.main import adjust_open_files_limit

    if new > old:
        adjust_open_files_limit(srv.config, at_runtime=True)
        if srv.config.values["maxclients"] < new:
            srv.config.values["maxclients"] = new
            raise ConfigError("The operating system is not able to handle the specified number of clients")


def _on_listeners(srv: Any, old: Any, new: Any) -> None:
    """``changeListener``: bind the new port / addresses first, then drop the old sockets."""
    from ember.server.main import rebind_listeners

    if not rebind_listeners(srv):
        raise ConfigError("Failed to bind to specified addresses." if isinstance(new, str) else "Unable to listen on this port. Check server logs.")


CONFIG_HOOKS: dict[str, Any] = {
    "on_proto_max_bulk": _on_proto_max_bulk,
    "on_hz": _on_hz,
    "on_maxclients": _on_maxclients,
    "on_port": _on_listeners,
    "on_bind": _on_listeners,
}


@command("resetstat", 2, CFG, parent="config", group=G, since="2.0.0", summary="Resets the server's statistics.")
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
    c.server.log("warning", "CONFIG REWRITE executed with success.")
    return OK


@command("help", 2, CFG, parent="config", group=G, since="5.0.0", summary="Returns helpful text about the different subcommands.")
def config_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply(argv, [
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
    ])


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

