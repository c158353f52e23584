"""Server commands: INFO CONFIG COMMAND DBSIZE FLUSH* SWAPDB TIME SHUTDOWN DEBUG
MONITOR SLOWLOG LATENCY."""

from __future__ import annotations

import time
from typing import Any

from ember import errors
from ember.commands.args import parse_int
from ember.commands.connection import _sub_syntax_error, help_reply
from ember.commands.registry import COMMANDS, CommandSpec, Flag, command, container
from ember.config import BY_NAME, ConfigError, Option, parse_save, rewrite_config
from ember.errors import CommandError
from ember.protocol.resp import OK, RSet, Status, Verbatim
from ember.server.client import NO_REPLY, Client

G = "server"


_INFO_ORDER = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
]
_INFO_DEFAULT = {
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
}
_INFO_TITLES = {"cpu": "CPU"}
# Redis 7.0 field order of sections whose fields ember computes only in part: the missing
# ones are reported with neutral values (no defrag, no tracking, no replication links...)
_INFO_FIELDS: dict[str, list[tuple[str, Any]]] = {
    "clients": [
        ("connected_clients", 0),
        ("cluster_connections", 0),
        ("maxclients", 0),
        ("client_recent_max_input_buffer", 0),
        ("client_recent_max_output_buffer", 0),
        ("blocked_clients", 0),
        ("tracking_clients", 0),
        ("clients_in_timeout_table", 0),
    ],
    "memory": [
        ("used_memory", 0),
        ("used_memory_human", "0B"),
        ("used_memory_rss", 0),
        ("used_memory_rss_human", "0B"),
        ("used_memory_peak", 0),
        ("used_memory_peak_human", "0B"),
        ("used_memory_peak_perc", "100.00%"),
        ("used_memory_overhead", 0),
        ("used_memory_startup", 0),
        ("used_memory_dataset", 0),
        ("used_memory_dataset_perc", "100.00%"),
        ("allocator_allocated", 0),
        ("allocator_active", 0),
        ("allocator_resident", 0),
        ("total_system_memory", 0),
        ("total_system_memory_human", "0B"),
        ("used_memory_lua", 0),
        ("used_memory_vm_eval", 0),
        ("used_memory_lua_human", "0B"),
        ("used_memory_scripts_eval", 0),
        ("number_of_cached_scripts", 0),
        ("number_of_functions", 0),
        ("number_of_libraries", 0),
        ("used_memory_vm_functions", 0),
        ("used_memory_vm_total", 0),
        ("used_memory_vm_total_human", "0B"),
        ("used_memory_functions", 0),
        ("used_memory_scripts", 0),
        ("used_memory_scripts_human", "0B"),
        ("maxmemory", 0),
        ("maxmemory_human", "0B"),
        ("maxmemory_policy", "noeviction"),
        ("allocator_frag_ratio", "1.00"),
        ("allocator_frag_bytes", 0),
        ("allocator_rss_ratio", "1.00"),
        ("allocator_rss_bytes", 0),
        ("rss_overhead_ratio", "1.00"),
        ("rss_overhead_bytes", 0),
        ("mem_fragmentation_ratio", "1.00"),
        ("mem_fragmentation_bytes", 0),
        ("mem_not_counted_for_evict", 0),
        ("mem_replication_backlog", 0),
        ("mem_total_replication_buffers", 0),
        ("mem_clients_slaves", 0),
        ("mem_clients_normal", 0),
        ("mem_cluster_links", 0),
        ("mem_aof_buffer", 0),
        ("mem_allocator", "pymalloc"),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", 0),
        ("lazyfreed_objects", 0),
    ],
    "stats": [
        ("total_connections_received", 0),
        ("total_commands_processed", 0),
        ("instantaneous_ops_per_sec", 0),
        ("total_net_input_bytes", 0),
        ("total_net_output_bytes", 0),
        ("total_net_repl_input_bytes", 0),
        ("total_net_repl_output_bytes", 0),
        ("instantaneous_input_kbps", "0.00"),
        ("instantaneous_output_kbps", "0.00"),
        ("instantaneous_input_repl_kbps", "0.00"),
        ("instantaneous_output_repl_kbps", "0.00"),
        ("rejected_connections", 0),
        ("sync_full", 0),
        ("sync_partial_ok", 0),
        ("sync_partial_err", 0),
        ("expired_keys", 0),
        ("expired_stale_perc", "0.00"),
        ("expired_time_cap_reached_count", 0),
        ("expire_cycle_cpu_milliseconds", 0),
        ("evicted_keys", 0),
        ("evicted_clients", 0),
        ("total_eviction_exceeded_time", 0),
        ("current_eviction_exceeded_time", 0),
        ("keyspace_hits", 0),
        ("keyspace_misses", 0),
        ("pubsub_channels", 0),
        ("pubsub_patterns", 0),
        ("pubsubshard_channels", 0),
        ("latest_fork_usec", 0),
        ("total_forks", 0),
        ("migrate_cached_sockets", 0),
        ("slave_expires_tracked_keys", 0),
        ("active_defrag_hits", 0),
        ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0),
        ("tracking_total_keys", 0),
        ("tracking_total_items", 0),
        ("tracking_total_prefixes", 0),
        ("unexpected_error_replies", 0),
        ("total_error_replies", 0),
        ("dump_payload_sanitizations", 0),
        ("total_reads_processed", 0),
        ("total_writes_processed", 0),
        ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0),
        ("reply_buffer_shrinks", 0),
        ("reply_buffer_expands", 0),
    ],
}


def _info_fields(srv: Any, name: str) -> list[tuple[str, Any]] | None:
    fields = srv._info_section(name)
    template = _INFO_FIELDS.get(name)
    if fields is None or template is None:
        return fields
    have = dict(fields)
    out = [(k, have.pop(k, default)) for k, default in template]
    if name == "memory" and "used_memory_dataset_perc" not in dict(fields):
        used = have.get("used_memory", dict(out).get("used_memory", 0)) or 1
        ds = dict(out).get("used_memory_dataset", 0)
        out = [
            (k, f"{min(100.0, 100.0 * ds / used):.2f}%")
            if k == "used_memory_dataset_perc"
            else (k, v)
            for k, v in out
        ]
    # fields ember adds (or that later Redis versions have) come after Redis's own
    out += [(k, v) for k, v in fields if k in have]
    return out


def info_text(srv: Any, sections: list[str]) -> bytes:
    """``genRedisInfoString``: the requested sections in Redis's fixed order."""
    wanted = {s.lower() for s in sections} or {"default"}
    names: set[str] = set()
    for w in wanted:
        if w == "default":
            names |= _INFO_DEFAULT
        elif w in ("all", "everything"):
            names |= set(_INFO_ORDER)
        else:
            names.add(w)
    out: list[str] = []
    for name in _INFO_ORDER:
        if name not in names:
            continue
        fields = _info_fields(srv, name)
        if fields is None:
            continue
        if out:
            out.append("")
        out.append(f"# {_INFO_TITLES.get(name, name.capitalize())}")
        out.extend(f"{k}:{v}" for k, v in fields)
    return ("\r\n".join(out) + "\r\n").encode() if out else b""


@command(
    "info",
    -1,
    Flag.LOADING | Flag.STALE | Flag.SENTINEL,
    group=G,
    summary="Returns information and statistics about the server.",
)
def info(c: Client, argv: list[bytes]) -> Any:
    sections = [a.decode(errors="replace") for a in argv[1:]]
    return Verbatim(info_text(c.server, sections))


@command(
    "dbsize",
    1,
    Flag.READONLY | Flag.FAST,
    group=G,
    summary="Returns the number of keys in the database.",
)
def dbsize(c: Client, argv: list[bytes]) -> Any:
    return len(c.db)


@command(
    "time",
    1,
    Flag.LOADING | Flag.STALE | Flag.FAST,
    group=G,
    since="2.6.0",
    summary="Returns the server time.",
)
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


@command(
    "swapdb",
    3,
    Flag.WRITE | Flag.FAST,
    group=G,
    since="4.0.0",
    summary="Swaps two Redis databases.",
)
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
        da.lru, db_.lru = db_.lru, da.lru
        da.expire_scan, db_.expire_scan = [], []
        da.expire_pos = db_.expire_pos = 0
        da.swap_overlay(db_)  # a forkless save's freeze follows its dict
        for d in (da, db_):
            for key in d.blocking:
                if d.has(key):
                    srv.ready_keys.append((d, key))
    srv.dirty += 1
    return OK


# ------------------------------------------------------------------------------ CONFIG

container("config", G, "2.0.0", "A container for server configuration commands.")
CFG = Flag.ADMIN | Flag.NOSCRIPT | Flag.LOADING | Flag.STALE


@command(
    "get",
    -3,
    CFG,
    parent="config",
    group=G,
    since="2.0.0",
    summary="Returns the effective values of configuration parameters.",
)
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
        name.encode(errors="surrogateescape"): cfg.render(canonical).encode(
            errors="surrogateescape"
        )
        for name, canonical in found.values()
    }


def _protected_allowed(c: Client, setting: str) -> bool:
    """``allowProtectedAction``: yes, or local for loopback / unix socket clients."""
    return setting == "yes" or (setting == "local" and _is_local(c))


def _is_local(c: Client) -> bool:
    # Redis's islocalClient: unix socket, or exactly 127.0.0.1 / ::1 (127.0.0.2 is not local)
    return c.unix or c.addr.rsplit(":", 1)[0] in ("127.0.0.1", "::1", "[::1]")


@command(
    "set",
    -4,
    CFG,
    parent="config",
    group=G,
    since="2.0.0",
    summary="Sets configuration parameters in-flight.",
)
def config_set(c: Client, argv: list[bytes]) -> Any:
    """``configSetCommand``: all pairs are checked first, then set, then applied; any
    failure restores every value (all or nothing), with Redis's error precedence."""
    if len(argv) % 2:
        raise CommandError(errors.SYNTAX)
    srv = c.server
    cfg = srv.config
    chosen: list[tuple[Option, str]] = []
    names: list[str] = []
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
        if not opt.mutable or (
            opt.protected and not _protected_allowed(c, cfg.values["enable-protected-configs"])
        ):
            errstr = (
                "can't set immutable config" if not opt.mutable else "can't set protected config"
            )
            err_name = raw_name
            invalid = True
            continue
        if srv.loading and opt.deny_loading:
            deny_loading = invalid = True
            continue
        if raw_name.lower() in names:  # an alias is a separate entry, as in Redis
            errstr = "duplicate parameter"
            err_name = raw_name
            invalid = True
            continue
        chosen.append((opt, argv[i + 1].decode(errors="surrogateescape")))
        names.append(raw_name.lower())  # an alias is reported as such in errors
    if invalid:
        if deny_loading:
            raise CommandError(errors.LOADING)
        if invalid_name is not None:
            raise CommandError(
                f"ERR Unknown option or number of arguments for CONFIG SET - '{invalid_name}'"
            )
        raise CommandError(
            f"ERR CONFIG SET failed (possibly related to argument '{err_name}') - {errstr}"
        )
    old = {opt.name: cfg.values[opt.name] for opt, _ in chosen}
    changed: list[Option] = []
    try:
        for (opt, text), typed in zip(chosen, names, strict=True):
            words = (text.split(" ") if text else []) if opt.multi_arg else [text]
            err_name = typed
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
        raise CommandError(
            f"ERR CONFIG SET failed (possibly related to argument '{err_name}') - {e}"
        ) from None
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
            msg = (
                e.message.removeprefix("ERR ")
                if isinstance(e, CommandError)
                else (str(e) or e.__class__.__name__)
            )
            raise CommandError(
                f"ERR CONFIG SET failed (possibly related to argument '{opt.name}') - {msg}"
            ) from None
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

    adjust_open_files_limit(srv.config, at_runtime=True)
    got = srv.config.values["maxclients"]
    if got != new:
        raise ConfigError(
            f"The operating system is not able to handle the specified number of clients, try with {got}"
        )


def _on_listeners(srv: Any, old: Any, new: Any) -> None:
    """``changeListener``: bind the new port / addresses first, then drop the old sockets."""
    from ember.server.main import rebind_listeners

    if not rebind_listeners(srv):
        raise ConfigError(
            "Failed to bind to specified addresses."
            if isinstance(new, str)
            else "Unable to listen on this port. Check server logs."
        )


def _on_maxmemory_policy(srv: Any, old: str, new: str) -> None:
    from ember.keyspace import access

    access.configure(srv)


def _on_requirepass(srv: Any, old: str, new: str) -> None:
    """Without a password the default user needs no AUTH: every client may run commands
    (Redis's authRequired() looks at the user's current flags)."""
    if not new:
        for cl in srv.clients.values():
            cl.authenticated = True
            cl.parser.auth_required = False


CONFIG_HOOKS: dict[str, Any] = {
    "on_requirepass": _on_requirepass,
    "on_maxmemory_policy": _on_maxmemory_policy,
    "on_proto_max_bulk": _on_proto_max_bulk,
    "on_hz": _on_hz,
    "on_maxclients": _on_maxclients,
    "on_port": _on_listeners,
    "on_bind": _on_listeners,
}


@command(
    "resetstat",
    2,
    CFG,
    parent="config",
    group=G,
    since="2.0.0",
    summary="Resets the server's statistics.",
)
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


@command(
    "rewrite",
    2,
    CFG,
    parent="config",
    group=G,
    since="2.8.0",
    summary="Persists the effective configuration to file.",
)
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


@command(
    "help",
    2,
    Flag.LOADING | Flag.STALE,
    parent="config",
    group=G,
    since="5.0.0",
    summary="Returns helpful text about the different subcommands.",
)
def config_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply(
        argv,
        [
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    )


# ----------------------------------------------------------------------------- COMMAND
#
# COMMAND INFO / DOCS render each spec like Redis 7.0's addReplyCommandInfo. What the
# registry does not declare is taken from Redis 7.0's command metadata (facts about
# Redis, keyed by full command name): the explicit ACL categories (implicit ones come
# from the flags, as in setImplicitACLCategories), the command tips and the key specs.
# Commands Redis does not have (ember extensions) get key specs derived from their
# first/last/step positions.

_EXPLICIT_ACL: dict[str, str] = {
    "": (
        "acl acl|cat acl|deluser acl|dryrun acl|genpass acl|getuser acl|help acl|list "
        "acl|load acl|log acl|save acl|setuser acl|users acl|whoami bgrewriteaof bgsave "
        "client cluster cluster|addslots cluster|addslotsrange cluster|bumpepoch "
        "cluster|count-failure-reports cluster|countkeysinslot cluster|delslots "
        "cluster|delslotsrange cluster|failover cluster|flushslots cluster|forget "
        "cluster|getkeysinslot cluster|help cluster|info cluster|keyslot cluster|links "
        "cluster|meet cluster|myid cluster|nodes cluster|replicas cluster|replicate "
        "cluster|reset cluster|saveconfig cluster|set-config-epoch cluster|setslot "
        "cluster|shards cluster|slaves cluster|slots config config|get config|help "
        "config|resetstat config|rewrite config|set debug failover function latency "
        "latency|doctor latency|graph latency|help latency|histogram latency|history "
        "latency|latest latency|reset lolwut memory memory|doctor memory|help "
        "memory|malloc-stats memory|purge memory|stats memory|usage module module|help "
        "module|list module|load module|loadex module|unload monitor object psubscribe "
        "psync publish pubsub pubsub|channels pubsub|help pubsub|numpat pubsub|numsub "
        "pubsub|shardchannels pubsub|shardnumsub punsubscribe replconf replicaof save "
        "script shutdown slaveof slowlog slowlog|get slowlog|help slowlog|len "
        "slowlog|reset spublish ssubscribe subscribe sunsubscribe sync time unsubscribe "
        "xgroup xinfo"
    ),
    "string": (
        "append decr decrby get getdel getex getrange getset incr incrby incrbyfloat lcs "
        "mget mset msetnx psetex set setex setnx setrange strlen substr"
    ),
    "connection": (
        "asking auth client|caching client|getname client|getredir client|help client|id "
        "client|info client|kill client|list client|no-evict client|pause client|reply "
        "client|setname client|tracking client|trackinginfo client|unblock client|unpause "
        "command command|count command|docs command|getkeys command|getkeysandflags "
        "command|help command|info command|list echo hello ping quit readonly readwrite "
        "reset select wait"
    ),
    "bitmap": "bitcount bitfield bitfield_ro bitop bitpos getbit setbit",
    "list": (
        "blmove blmpop blpop brpop brpoplpush lindex linsert llen lmove lmpop lpop lpos "
        "lpush lpushx lrange lrem lset ltrim rpop rpoplpush rpush rpushx"
    ),
    "sortedset": (
        "bzmpop bzpopmax bzpopmin zadd zcard zcount zdiff zdiffstore zincrby zinter "
        "zintercard zinterstore zlexcount zmpop zmscore zpopmax zpopmin zrandmember "
        "zrange zrangebylex zrangebyscore zrangestore zrank zrem zremrangebylex "
        "zremrangebyrank zremrangebyscore zrevrange zrevrangebylex zrevrangebyscore "
        "zrevrank zscan zscore zunion zunionstore"
    ),
    "keyspace": (
        "copy dbsize del dump exists expire expireat expiretime move object|encoding "
        "object|freq object|help object|idletime object|refcount persist pexpire "
        "pexpireat pexpiretime pttl randomkey rename renamenx scan touch ttl type unlink"
    ),
    "transaction": "discard exec multi unwatch watch",
    "scripting": (
        "eval eval_ro evalsha evalsha_ro fcall fcall_ro function|delete function|dump "
        "function|flush function|help function|kill function|list function|load "
        "function|restore function|stats script|debug script|exists script|flush "
        "script|help script|kill script|load"
    ),
    "dangerous keyspace": "flushall flushdb keys migrate restore restore-asking swapdb",
    "geo": (
        "geoadd geodist geohash geopos georadius georadius_ro georadiusbymember "
        "georadiusbymember_ro geosearch geosearchstore"
    ),
    "hash": (
        "hdel hexists hget hgetall hincrby hincrbyfloat hkeys hlen hmget hmset hrandfield "
        "hscan hset hsetnx hstrlen hvals"
    ),
    "dangerous": "info",
    "admin dangerous": "lastsave role",
    "hyperloglog": "pfadd pfcount pfdebug pfmerge pfselftest",
    "set": (
        "sadd scard sdiff sdiffstore sinter sintercard sinterstore sismember smembers "
        "smismember smove spop srandmember srem sscan sunion sunionstore"
    ),
    "dangerous list set sortedset": "sort sort_ro",
    "stream": (
        "xack xadd xautoclaim xclaim xdel xgroup|create xgroup|createconsumer "
        "xgroup|delconsumer xgroup|destroy xgroup|help xgroup|setid xinfo|consumers "
        "xinfo|groups xinfo|help xinfo|stream xlen xpending xrange xread xreadgroup "
        "xrevrange xsetid xtrim"
    ),
}

_TIPS: dict[str, str] = {
    "nondeterministic_output": (
        "client|info client|list cluster|bumpepoch cluster|count-failure-reports "
        "cluster|getkeysinslot cluster|info cluster|links cluster|nodes cluster|replicas "
        "cluster|shards cluster|slaves cluster|slots dump hrandfield hscan lastsave "
        "migrate object|encoding object|freq object|idletime object|refcount pttl spop "
        "srandmember sscan time ttl xadd xautoclaim xclaim xinfo|consumers xpending xtrim "
        "zrandmember zscan"
    ),
    "nondeterministic_output_order": (
        "command command|docs command|info command|list function|list hgetall hkeys hvals "
        "module|list sdiff sinter smembers sunion"
    ),
    "request_policy:all_nodes response_policy:all_succeeded": "config|set latency|reset script|flush script|load slowlog|reset",
    "request_policy:all_shards response_policy:agg_sum": "dbsize",
    "request_policy:multi_shard response_policy:agg_sum": "del exists touch unlink",
    "request_policy:all_shards response_policy:all_succeeded": (
        "flushall flushdb function|delete function|flush function|load function|restore "
        "memory|purge ping"
    ),
    "request_policy:all_shards response_policy:one_succeeded": "function|kill script|kill",
    "nondeterministic_output request_policy:all_shards response_policy:special": "function|stats info memory|doctor memory|malloc-stats memory|stats",
    "request_policy:all_shards nondeterministic_output_order": "keys",
    "nondeterministic_output request_policy:all_nodes response_policy:special": "latency|doctor latency|graph latency|histogram latency|history latency|latest",
    "request_policy:multi_shard": "mget",
    "request_policy:multi_shard response_policy:all_succeeded": "mset",
    "request_policy:multi_shard response_policy:agg_min": "msetnx",
    "request_policy:all_shards nondeterministic_output": "randomkey",
    "nondeterministic_output request_policy:special": "scan",
    "request_policy:all_shards response_policy:agg_logical_and": "script|exists",
    "request_policy:all_nodes nondeterministic_output": "slowlog|get",
    "request_policy:all_nodes response_policy:agg_sum nondeterministic_output": "slowlog|len",
    "request_policy:all_shards response_policy:agg_min": "wait waitaof",
}

_KEY_SPECS: dict[str, str] = {
    "RW,insert|i1|r0,1,0": "append hsetnx linsert lpush lpushx pfadd rpush rpushx sadd",
    "RO,access|i1|r0,1,0": (
        "bitcount bitfield_ro bitpos dump expiretime geodist geohash geopos georadius_ro "
        "georadiusbymember_ro geosearch get getbit getrange hget hgetall hkeys hmget "
        "hrandfield hscan hvals lindex lpos lrange pexpiretime pttl smembers smismember "
        "srandmember sscan substr ttl xpending xrange xrevrange zcount zlexcount zmscore "
        "zrandmember zrange zrangebylex zrangebyscore zrank zrevrange zrevrangebylex "
        "zrevrangebyscore zrevrank zscan zscore"
    ),
    "RW,access,update,variable_flags|i1|r0,1,0": "bitfield set",
    "OW,update|i2|r0,1,0;RO,access|i3|r-1,1,0": "bitop",
    "RW,access,delete|i1|r0,1,0;RW,insert|i2|r0,1,0": "blmove brpoplpush lmove rpoplpush smove",
    "RW,access,delete|i2|n0,1,1": "blmpop bzmpop",
    "RW,access,delete|i1|r-2,1,0": "blpop brpop bzpopmax bzpopmin",
    "RO,access|i1|r0,1,0;OW,update|i2|r0,1,0": "copy",
    "RW,access,update|i1|r0,1,0": (
        "decr decrby getex getset hincrby hincrbyfloat incr incrby incrbyfloat move setbit zincrby"
    ),
    "RM,delete|i1|r-1,1,0": "del unlink",
    "RW,access,update|i2|n0,1,1": "eval evalsha fcall",
    "RO,access|i2|n0,1,1": "eval_ro evalsha_ro fcall_ro",
    "RO|i1|r-1,1,0": "exists touch watch",
    "RW,update|i1|r0,1,0": (
        "expire expireat geoadd hmset hset lset persist pexpire pexpireat setrange xack "
        "xadd xclaim xsetid zadd"
    ),
    "RO,access|i1|r0,1,0;OW,update|kSTORE,6|r0,1,0;OW,update|kSTOREDIST,6|r0,1,0": "georadius",
    "RO,access|i1|r0,1,0;OW,update|kSTORE,5|r0,1,0;OW,update|kSTOREDIST,5|r0,1,0": "georadiusbymember",
    "OW,update|i1|r0,1,0;RO,access|i2|r0,1,0": "geosearchstore zrangestore",
    "RW,access,delete|i1|r0,1,0": "getdel lpop rpop spop zpopmax zpopmin",
    "RW,delete|i1|r0,1,0": (
        "hdel lrem ltrim srem xautoclaim xdel xtrim zrem zremrangebylex zremrangebyrank "
        "zremrangebyscore"
    ),
    "RO|i1|r0,1,0": "hexists hlen hstrlen llen scard sismember strlen type xlen zcard",
    "RO,access|i1|r1,1,0": "lcs",
    "RW,access,delete|i1|n0,1,1": "lmpop zmpop",
    "RO|i2|r0,1,0": "memory|usage object|encoding object|freq object|idletime object|refcount",
    "RO,access|i1|r-1,1,0": "mget sdiff sinter sunion",
    "RW,access,delete|i3|r0,1,0;RW,access,delete,incomplete|kKEYS,-2|r-1,1,0": "migrate",
    "OW,update|i1|r-1,2,0": "mset",
    "OW,insert|i1|r-1,2,0": "msetnx",
    "RW,access|i1|r-1,1,0": "pfcount",
    "RW,access|i2|r0,1,0": "pfdebug",
    "RW,access,insert|i1|r0,1,0;RO,access|i2|r-1,1,0": "pfmerge",
    "OW,update|i1|r0,1,0": "psetex restore restore-asking setex",
    "RW,access,delete|i1|r0,1,0;OW,update|i2|r0,1,0": "rename",
    "RW,access,delete|i1|r0,1,0;OW,insert|i2|r0,1,0": "renamenx",
    "OW,update|i1|r0,1,0;RO,access|i2|r-1,1,0": "sdiffstore sunionstore",
    "OW,insert|i1|r0,1,0": "setnx",
    "RO,access|i1|n0,1,1": "sintercard zdiff zinter zintercard zunion",
    "RW,update|i1|r0,1,0;RO,access|i2|r-1,1,0": "sinterstore",
    "RO,access|i1|r0,1,0;RO,access|u|u;OW,update|u|u": "sort",
    "RO,access|i1|r0,1,0;RO,access|u|u": "sort_ro",
    "not_key|i1|r0,1,0": "spublish",
    "not_key|i1|r-1,1,0": "ssubscribe sunsubscribe",
    "RW,insert|i2|r0,1,0": "xgroup|create xgroup|createconsumer",
    "RW,delete|i2|r0,1,0": "xgroup|delconsumer xgroup|destroy",
    "RW,update|i2|r0,1,0": "xgroup|setid",
    "RO,access|i2|r0,1,0": "xinfo|consumers xinfo|groups xinfo|stream",
    "RO,access|kSTREAMS,1|r-1,1,2": "xread",
    "RO,access|kSTREAMS,4|r-1,1,2": "xreadgroup",
    "OW,update|i1|r0,1,0;RO,access|i2|n0,1,1": "zdiffstore zinterstore zunionstore",
}

_KEY_SPEC_NOTES: dict[str, list[str | None]] = {
    "bitfield": [
        "This command allows both access and modification of the key",
    ],
    "eval": [
        "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
    ],
    "eval_ro": [
        "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
    ],
    "fcall": [
        "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
    ],
    "fcall_ro": [
        "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
    ],
    "getex": [
        "RW and UPDATE because it changes the TTL",
    ],
    "pfcount": [
        (
            "RW because it may change the internal representation of the key, and propagate "
            "to replicas"
        ),
    ],
    "set": [
        "RW and ACCESS due to the optional `GET` argument",
    ],
    "sort": [
        None,
        (
            "For the optional BY/GET keyword. It is marked 'unknown' because the key names "
            "derive from the content of the key we sort"
        ),
        (
            "For the optional STORE keyword. It is marked 'unknown' because the keyword can "
            "appear anywhere in the argument array"
        ),
    ],
    "sort_ro": [
        None,
        (
            "For the optional BY/GET keyword. It is marked 'unknown' because the key names "
            "derive from the content of the key we sort"
        ),
    ],
    "xadd": [
        "UPDATE instead of INSERT because of the optional trimming feature",
    ],
}


# COMMAND INFO flag names, in Redis's order (may_replicate, sentinel... are hidden)
_INFO_FLAGS = [
    (Flag.WRITE, "write"),
    (Flag.READONLY, "readonly"),
    (Flag.DENYOOM, "denyoom"),
    (Flag.ADMIN, "admin"),
    (Flag.PUBSUB, "pubsub"),
    (Flag.NOSCRIPT, "noscript"),
    (Flag.BLOCKING, "blocking"),
    (Flag.LOADING, "loading"),
    (Flag.STALE, "stale"),
    (Flag.SKIP_MONITOR, "skip_monitor"),
    (Flag.SKIP_SLOWLOG, "skip_slowlog"),
    (Flag.FAST, "fast"),
    (Flag.NO_AUTH, "no_auth"),
    (Flag.NO_MANDATORY_KEYS, "no_mandatory_keys"),
    (Flag.NO_ASYNC_LOADING, "no_async_loading"),
    (Flag.NO_MULTI, "no_multi"),
    (Flag.ALLOW_BUSY, "allow_busy"),
]
_ACL_ORDER = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
]
_DOC_GROUPS = {"sorted_set": "sorted-set", "transactions": "transactions"}


def _expand(table: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for value, names in table.items():
        for n in names.split():
            out[n] = value.split()
    return out


def _movable(spec: CommandSpec) -> bool:
    """CMD_MOVABLE_KEYS: key positions depend on the arguments."""
    encoded = _SPECS_BY_CMD.get(spec.fullname)
    if encoded is None:
        return spec.keys_fn is not None
    return any(
        not (p.split("|")[1].startswith("i") and p.split("|")[2].startswith("r"))
        for p in encoded.split(";")
    )


_ACL_BY_CMD = _expand(_EXPLICIT_ACL)
_TIPS_BY_CMD = _expand(_TIPS)
_SPECS_BY_CMD = {n: v for v, names in _KEY_SPECS.items() for n in names.split()}


def _categories(spec: CommandSpec) -> list[str]:
    """ACL categories like Redis: implicit ones from the flags plus the explicit ones."""
    f = spec.flags
    explicit = _ACL_BY_CMD.get(spec.fullname)
    if explicit is None:  # not a Redis 7.0 command: what the registry declares
        cats = {x.lstrip("@") for x in spec.acl_categories()}
    else:
        cats = set(explicit)
        if f & Flag.WRITE:
            cats.add("write")
        if f & Flag.READONLY and "scripting" not in cats:
            cats.add("read")
        if f & Flag.ADMIN:
            cats |= {"admin", "dangerous"}
        if f & Flag.PUBSUB:
            cats.add("pubsub")
        if f & Flag.FAST:
            cats.add("fast")
        if f & Flag.BLOCKING:
            cats.add("blocking")
        if not f & Flag.FAST:
            cats.add("slow")
    return ["@" + c for c in _ACL_ORDER if c in cats] + sorted(
        "@" + c for c in cats if c not in _ACL_ORDER
    )


def _legacy_range(spec: CommandSpec) -> tuple[int, int, int]:
    return spec.first_key, spec.last_key, spec.step


def _key_specs(spec: CommandSpec) -> list[Any]:
    encoded = _SPECS_BY_CMD.get(spec.fullname)
    if encoded is None:
        if spec.first_key <= 0:
            return []
        first, last, step = _legacy_range(spec)
        flags = "RW,update" if spec.flags & Flag.WRITE else "RO,access"
        lastkey = last if last < 0 else last - first
        encoded = f"{flags}|i{first}|r{lastkey},{step},0"
    notes = _KEY_SPEC_NOTES.get(spec.fullname, [])
    out: list[Any] = []
    for i, part in enumerate(encoded.split(";")):
        flags, bs, fk = part.split("|")
        if bs[0] == "i":
            begin = {b"type": b"index", b"spec": {b"index": int(bs[1:])}}
        elif bs[0] == "k":
            kw, start = bs[1:].rsplit(",", 1)
            begin = {
                b"type": b"keyword",
                b"spec": {b"keyword": kw.encode(), b"startfrom": int(start)},
            }
        else:
            begin = {b"type": b"unknown", b"spec": {}}
        if fk[0] == "r":
            last_, step_, limit = (int(x) for x in fk[1:].split(","))
            find = {
                b"type": b"range",
                b"spec": {b"lastkey": last_, b"keystep": step_, b"limit": limit},
            }
        elif fk[0] == "n":
            idx, first_, step_ = (int(x) for x in fk[1:].split(","))
            find = {
                b"type": b"keynum",
                b"spec": {b"keynumidx": idx, b"firstkey": first_, b"keystep": step_},
            }
        else:
            find = {b"type": b"unknown", b"spec": {}}
        ks: dict[bytes, Any] = {}
        if i < len(notes) and notes[i]:
            ks[b"notes"] = notes[i].encode()  # type: ignore[union-attr]
        ks[b"flags"] = RSet(Status(x) for x in flags.split(","))
        ks[b"begin_search"] = begin
        ks[b"find_keys"] = find
        out.append(ks)
    return out


def _flag_names(spec: CommandSpec) -> list[str]:
    names = [n for f, n in _INFO_FLAGS if spec.flags & f]
    if _movable(spec):
        # Redis lists movablekeys right before allow_busy
        names.insert(len(names) - (1 if names and names[-1] == "allow_busy" else 0), "movablekeys")
    return names


def command_info(spec: CommandSpec) -> list[Any]:
    """``addReplyCommandInfo``: the 10-element description of a command."""
    return [
        spec.fullname.encode(),
        spec.arity,
        RSet(Status(n) for n in _flag_names(spec)),
        spec.first_key,
        spec.last_key,
        spec.step,
        RSet(Status(x) for x in _categories(spec)),
        RSet(t.encode() for t in _TIPS_BY_CMD.get(spec.fullname, [])),
        RSet(_key_specs(spec)),
        [command_info(s) for s in spec.subcommands.values()] or RSet(),
    ]


container("command", G, "2.8.13", "Returns detailed information about all commands.")
CMDF = Flag.LOADING | Flag.STALE


def _all_specs(c: Client) -> list[CommandSpec]:
    """The command table as the server dispatches it (rename-command applied)."""
    seen: set[int] = set()
    out = []
    for spec in c.server.commands_by_name.values():
        if id(spec) not in seen:
            seen.add(id(spec))
            out.append(spec)
    return out


def _command_all(c: Client, argv: list[bytes]) -> Any:
    return [command_info(s) for s in _all_specs(c)]


@command(
    "count",
    2,
    CMDF,
    parent="command",
    group=G,
    since="2.8.13",
    summary="Returns a count of commands.",
)
def command_count(c: Client, argv: list[bytes]) -> Any:
    return len(_all_specs(c))


@command(
    "info",
    -2,
    CMDF,
    parent="command",
    group=G,
    since="2.8.13",
    summary="Returns information about one, multiple or all commands.",
)
def command_info_cmd(c: Client, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        return _command_all(c, argv)
    out: list[Any] = []
    for name in argv[2:]:
        spec = _find(c, name)
        out.append(command_info(spec) if spec else None)
    return out


def _find(c: Client, name: bytes) -> CommandSpec | None:
    """``lookupCommandBySds``: ``name`` or ``container|sub``."""
    n = name.lower()
    if ord("|") in n:
        parent, sub = n.split(b"|", 1)
        if ord("|") in sub:
            return None
        p = c.server.commands_by_name.get(parent)
        return p.subcommands.get(sub.decode(errors="replace")) if p else None
    return c.server.commands_by_name.get(n)


def _docs(s: CommandSpec) -> dict[bytes, Any]:
    doc: dict[bytes, Any] = {}
    if s.summary:
        doc[b"summary"] = s.summary.encode()
    if s.since:
        doc[b"since"] = s.since.encode()
    doc[b"group"] = _DOC_GROUPS.get(s.group, s.group).encode()
    if s.subcommands:
        doc[b"subcommands"] = {sub.fullname.encode(): _docs(sub) for sub in s.subcommands.values()}
    return doc


@command(
    "docs",
    -2,
    CMDF,
    parent="command",
    group=G,
    since="7.0.0",
    summary="Returns documentary information about one, multiple or all commands.",
)
def command_docs(c: Client, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        specs = _all_specs(c)
    else:
        specs = [s for s in (_find(c, n) for n in argv[2:]) if s is not None]
    return {s.fullname.encode(): _docs(s) for s in specs}


def _spec_keys(spec: CommandSpec, argv: list[bytes]) -> list[tuple[int, list[str]]] | None:
    """``getKeysUsingKeySpecs``: (position, key flags) pairs from the key specs; None when
    a spec cannot be applied (unknown begin search, bad key count: ``invalid_spec``)."""
    encoded = _SPECS_BY_CMD.get(spec.fullname)
    if encoded is None:
        if spec.first_key <= 0:
            return []
        first, last, step = spec.first_key, spec.last_key, spec.step
        flags = ["RW", "update"] if spec.flags & Flag.WRITE else ["RO", "access"]
        last = len(argv) + last if last < 0 else last
        return [(i, flags) for i in range(first, min(last, len(argv) - 1) + 1, max(step, 1))]
    argc = len(argv)
    out: list[tuple[int, list[str]]] = []
    for part in encoded.split(";"):
        flags_s, bs, fk = part.split("|")
        flags = flags_s.split(",")
        if "not_key" in flags:
            continue
        if bs[0] == "i":
            first = int(bs[1:])
        elif bs[0] == "k":
            kw, start_s = bs[1:].rsplit(",", 1)
            start = int(start_s)
            i = start if start > 0 else argc + start
            end = argc - 1 if start > 0 else 1
            first = 0
            direction = 1 if i <= end else -1
            while i != end:
                if i >= argc or i < 1:
                    break
                if argv[i].lower() == kw.lower().encode():
                    first = i + 1
                    break
                i += direction
            if not first:
                continue
        else:
            return None  # unknown begin search: use the command's own key finder
        if fk[0] == "r":
            lastkey, step, limit = (int(x) for x in fk[1:].split(","))
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + ((argc - first) // limit + lastkey)
        else:
            idx, firstkey, step = (int(x) for x in fk[1:].split(","))
            if first + idx >= argc:
                return None
            from ember.protocol.resp import string2ll

            numkeys = string2ll(argv[first + idx])
            if numkeys is None or numkeys < 0:
                return None
            first += firstkey
            last = first + numkeys - 1
        if last >= argc or last < first or first >= argc:
            return None  # out of bounds: a syntax error for the command
        i = first
        while i <= last:
            out.append((i, flags))
            i += step
        if "incomplete" in flags:
            return None
    return out


def _set_keys(argv: list[bytes]) -> list[tuple[int, list[str]]]:
    """``setGetKeys``: the key is RW (access) with a GET option after the value."""
    if any(a.lower() == b"get" for a in argv[3:]):
        return [(1, ["RW", "access", "update"])]
    return [(1, ["OW", "update"])]


def _bitfield_keys(argv: list[bytes]) -> list[tuple[int, list[str]]]:
    """``bitfieldGetKeys``: read-only unless a SET / INCRBY (or a syntax error) shows up."""
    readonly = True
    i = 2
    while i < len(argv):
        rem = len(argv) - i - 1
        a = argv[i].lower()
        if a == b"get" and rem >= 2:
            i += 2
        elif a in (b"set", b"incrby") and rem >= 3:
            readonly = False
            break
        elif a == b"overflow" and rem >= 1:
            i += 1
        else:
            readonly = False
            break
        i += 1
    return [(1, ["RO", "access"] if readonly else ["RW", "access", "update"])]


def _sort_keys(argv: list[bytes]) -> list[tuple[int, list[str]]]:
    """``sortGetKeys``: the sorted key, and the last STORE destination."""
    out = [(1, ["RO", "access"])]
    store = 0
    skip = {b"limit": 2, b"get": 1, b"by": 1}
    i = 2
    while i < len(argv):
        a = argv[i].lower()
        if a in skip:
            i += skip[a]
        elif a == b"store" and i + 1 < len(argv):
            store = i + 1
        i += 1
    if store:
        out.append((store, ["OW", "update"]))
    return out


# commands whose keys (or key flags) Redis finds with a getkeys_proc
_KEY_PROCS: dict[str, Any] = {
    "set": _set_keys,
    "bitfield": _bitfield_keys,
    "sort": _sort_keys,
    "sort_ro": lambda argv: [(1, ["RO", "access"])],
}


def _getkeys(c: Client, argv: list[bytes], with_flags: bool) -> Any:
    """``getKeysSubcommandImpl`` / ``getKeysFromCommandWithSpecs``."""
    cmd = argv[2:]
    spec = c.server.commands_by_name.get(cmd[0].lower())
    if spec is not None and spec.subcommands and len(cmd) > 1:
        spec = spec.subcommands.get(cmd[1].lower().decode(errors="replace"))
    if spec is None:
        raise CommandError("ERR Invalid command specified")
    encoded = _SPECS_BY_CMD.get(spec.fullname)
    parts = [p.split("|")[0].split(",") for p in encoded.split(";")] if encoded else []
    has_keyspec = any("not_key" not in f for f in parts)
    has_varflags = any("variable_flags" in f for f in parts)
    proc = _KEY_PROCS.get(spec.fullname)
    if encoded is None:
        has_keys = spec.first_key > 0 or spec.keys_fn is not None
    else:
        has_keys = has_keyspec or proc is not None
    if not has_keys:
        raise CommandError("ERR The command has no key arguments")
    if (spec.arity > 0 and len(cmd) != spec.arity) or len(cmd) < -spec.arity:
        raise CommandError("ERR Invalid number of arguments specified for command")
    found: list[tuple[int, list[str]]] | None = None
    if encoded is None:  # not a Redis command: its own key finder, or first/last/step
        if spec.keys_fn is not None:
            default = ["RW", "update"] if spec.flags & Flag.WRITE else ["RO", "access"]
            try:
                found = [(i, default) for i in spec.key_positions(cmd)]
            except (IndexError, ValueError, CommandError):
                found = None
        else:
            found = _spec_keys(spec, cmd)
    else:
        if has_keyspec and not has_varflags:
            found = _spec_keys(spec, cmd)
        if found is None:
            # Redis's getkeys_proc: the special ones below; the others (numkeys based)
            # find no keys when the specs did not apply
            found = proc(cmd) if proc is not None else []
    if not found:
        if spec.flags & Flag.NO_MANDATORY_KEYS and found is not None:
            return []
        raise CommandError("ERR Invalid arguments specified for command")
    if with_flags:
        return [[cmd[i], RSet(Status(f) for f in flags)] for i, flags in found]
    return [cmd[i] for i, _ in found]


@command(
    "getkeys",
    -4,
    CMDF,
    parent="command",
    group=G,
    since="2.8.13",
    summary="Extracts the key names from an arbitrary command.",
)
def command_getkeys(c: Client, argv: list[bytes]) -> Any:
    return _getkeys(c, argv, False)


@command(
    "getkeysandflags",
    -4,
    CMDF,
    parent="command",
    group=G,
    since="7.0.0",
    summary="Extracts the key names and access flags for an arbitrary command.",
)
def command_getkeysandflags(c: Client, argv: list[bytes]) -> Any:
    return _getkeys(c, argv, True)


@command(
    "list",
    -2,
    CMDF,
    parent="command",
    group=G,
    since="7.0.0",
    summary="Returns a list of command names.",
)
def command_list(c: Client, argv: list[bytes]) -> Any:
    filt: tuple[bytes, bytes] | None = None
    i = 2
    while i < len(argv):
        if argv[i].lower() == b"filterby" and len(argv) - 1 - i == 2:
            kind = argv[i + 1].lower()
            if kind not in (b"module", b"aclcat", b"pattern"):
                raise CommandError(errors.SYNTAX)
            filt = (kind, argv[i + 2])
            i += 3
        else:
            raise CommandError(errors.SYNTAX)
    names: list[bytes] = []
    for spec in _all_specs(c):
        for s in (spec, *spec.subcommands.values()):
            if filt is None:
                names.append(s.fullname.encode())
                continue
            kind, arg = filt
            if kind == b"aclcat":
                if "@" + arg.decode(errors="replace").lower() in _categories(s):
                    names.append(s.fullname.encode())
            elif kind == b"pattern":
                from ember.server.pubsub import glob_match

                if glob_match(arg, s.fullname.encode(), True):
                    names.append(s.fullname.encode())
    return names


@command(
    "help",
    2,
    CMDF,
    parent="command",
    group=G,
    since="5.0.0",
    summary="Returns helpful text about the different subcommands.",
)
def command_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply(
        argv,
        [
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    )


COMMANDS["command"].handler = _command_all
COMMANDS["command"].arity = -1
COMMANDS["command"].flags = CMDF
COMMANDS["command"].acl = ("@connection",)


# ----------------------------------------------------------------------------- SHUTDOWN


@command(
    "shutdown",
    -1,
    Flag.ADMIN
    | Flag.NOSCRIPT
    | Flag.LOADING
    | Flag.STALE
    | Flag.NO_MULTI
    | Flag.SENTINEL
    | Flag.ALLOW_BUSY,
    group=G,
    summary="Synchronously saves the database(s) to disk and shuts down the Redis server.",
)
def shutdown(c: Client, argv: list[bytes]) -> Any:
    srv = c.server
    save_mode: bool | None = None
    opts = [a.lower() for a in argv[1:]]
    for o in opts:
        if o not in (b"nosave", b"save", b"now", b"force", b"abort"):
            raise CommandError(errors.SYNTAX)
    if (b"abort" in opts and len(set(opts) - {b"abort"}) > 0) or (
        b"save" in opts and b"nosave" in opts
    ):
        raise CommandError(errors.SYNTAX)  # illegal combination, as in Redis
    if b"abort" in opts:
        raise CommandError("ERR No shutdown in progress.")
    if b"nosave" in opts:
        save_mode = False
    elif b"save" in opts:
        save_mode = True
    srv.shutdown_save_mode = save_mode
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
    if not _protected_allowed(c, srv.config.values["enable-debug-command"]):
        raise CommandError(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to "
            '"local", you can run it from a local connection, otherwise you need to set this '
            "option in the configuration file, and then restart the server."
        )
    sub = argv[1].lower().decode(errors="replace")
    fn = DEBUG_SUBCOMMANDS.get(sub)
    nargs = _DEBUG_ARGC.get(sub)
    if fn is None or (nargs is not None and len(argv) != nargs):
        raise _debug_syntax(argv)
    return fn(c, argv)


def _debug_syntax(argv: list[bytes]) -> CommandError:
    return CommandError(
        f"ERR unknown subcommand or wrong number of arguments for '{argv[1].decode(errors='replace')[:128]}'. "
        "Try DEBUG HELP."
    )


# subcommands whose argument count Redis checks exactly
_DEBUG_ARGC = {
    "sleep": 3,
    "set-active-expire": 3,
    "log": 3,
    "help": 2,
    "quicklist-packed-threshold": 3,
}


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


def _strtod_prefix(b: bytes) -> float:
    """C ``strtod(s, NULL)``: the longest numeric prefix, 0 if none."""
    import re

    m = re.match(rb"\s*[+-]?(\d+\.?\d*(e[+-]?\d+)?|\.\d+(e[+-]?\d+)?|inf(inity)?|nan)", b, re.I)
    return float(m.group(0)) if m else 0.0


@debug_sub("sleep")
def debug_sleep(c: Client, argv: list[bytes]) -> Any:
    """DEBUG SLEEP <seconds>: block the whole server (like Redis) for that long."""
    secs = _strtod_prefix(argv[2])
    if secs == secs and secs > 0:
        time.sleep(min(secs, 3600.0))
    return OK


@debug_sub("set-active-expire")
def debug_set_active_expire(c: Client, argv: list[bytes]) -> Any:
    """DEBUG SET-ACTIVE-EXPIRE <0|1>: the cron's active expiry on (1) or off (0)."""
    import re

    m = re.match(rb"[ \t\n\r\x0b\x0c]*[+-]?\d+", argv[2])  # atoi()
    c.server.active_expire_enabled = bool(int(m.group(0)) if m else 0)
    return OK


@debug_sub("log")
def debug_log(c: Client, argv: list[bytes]) -> Any:
    c.server.log("warning", "DEBUG LOG: " + argv[2].decode(errors="replace"))
    return OK


_DEBUG_HELP = [
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
]


@debug_sub("help")
def debug_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply(argv, _DEBUG_HELP)


@debug_sub("change-repl-id")
def debug_change_repl_id(c: Client, argv: list[bytes]) -> Any:
    return OK


@debug_sub("quicklist-packed-threshold")
def debug_qpt(c: Client, argv: list[bytes]) -> Any:
    c.server.quicklist_packed_threshold = parse_int(argv[2])
    return OK


# ----------------------------------------------------------------------------- MONITOR


@command(
    "monitor",
    1,
    Flag.ADMIN | Flag.NOSCRIPT | Flag.LOADING | Flag.STALE,
    group=G,
    summary="Listens for all requests received by the server in real-time.",
)
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
LTF = SLF | Flag.NOSCRIPT


@command(
    "get",
    -2,
    SLF,
    parent="slowlog",
    group=G,
    since="2.2.12",
    summary="Returns the slow log's entries.",
)
def slowlog_get(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise _sub_syntax_error(argv)
    count = 10
    if len(argv) == 3:
        count = parse_int(argv[2], "ERR count should be greater than or equal to -1")
        if count < -1:
            raise CommandError("ERR count should be greater than or equal to -1")
        if count == -1:
            count = len(c.server.slowlog)
    return [list(e) for e in list(c.server.slowlog)[:count]]


@command(
    "len",
    2,
    SLF,
    parent="slowlog",
    group=G,
    since="2.2.12",
    summary="Returns the number of entries in the slow log.",
)
def slowlog_len(c: Client, argv: list[bytes]) -> Any:
    return len(c.server.slowlog)


@command(
    "reset",
    2,
    SLF,
    parent="slowlog",
    group=G,
    since="2.2.12",
    summary="Clears all entries from the slow log.",
)
def slowlog_reset(c: Client, argv: list[bytes]) -> Any:
    c.server.slowlog.clear()
    return OK


@command(
    "help",
    2,
    Flag.LOADING | Flag.STALE,
    parent="slowlog",
    group=G,
    since="6.2.0",
    summary="Show helpful text about the different subcommands",
)
def slowlog_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply(
        argv,
        [
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    )


# ----------------------------------------------------------------------------- LATENCY

container("latency", G, "2.8.13", "A container for latency diagnostics commands.")


@command(
    "latest",
    2,
    LTF,
    parent="latency",
    group=G,
    since="2.8.13",
    summary="Returns the latest latency samples for all events.",
)
def latency_latest(c: Client, argv: list[bytes]) -> Any:
    out = []
    for name, samples in c.server.latency_events.items():
        if samples:
            t, ms = samples[-1]
            out.append([name.encode(), t, ms, max(s[1] for s in samples)])
    return out


@command(
    "history",
    3,
    LTF,
    parent="latency",
    group=G,
    since="2.8.13",
    summary="Returns timestamp-latency samples for an event.",
)
def latency_history(c: Client, argv: list[bytes]) -> Any:
    samples: Any = c.server.latency_events.get(argv[2].decode(errors="replace"), [])
    return [[t, ms] for t, ms in samples]


@command(
    "reset",
    -2,
    LTF,
    parent="latency",
    group=G,
    since="2.8.13",
    summary="Resets the latency data for one or more events.",
)
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


@command(
    "doctor",
    2,
    LTF,
    parent="latency",
    group=G,
    since="2.8.13",
    summary="Returns a human-readable latency analysis report.",
)
def latency_doctor(c: Client, argv: list[bytes]) -> Any:
    srv = c.server
    if not srv.config.values["latency-monitor-threshold"]:
        text = (
            "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis "
            'instance. You may use "CONFIG SET latency-monitor-threshold <milliseconds>." in order '
            "to enable it. If we weren't in a deep space mission I'd suggest to take a look at "
            "https://redis.io/topics/latency-monitor.\n"
        )
    elif not any(srv.latency_events.values()):
        text = (
            "Dave, no latency spike was observed during the lifetime of this Redis instance, not "
            "in the slightest bit. I honestly think you ought to sleep better.\n"
        )
    else:
        lines = [
            "Dave, I have observed latency spikes in this Redis instance. You don't mind "
            "talking about it, do you Dave?",
            "",
        ]
        for i, (name, samples) in enumerate(c.server.latency_events.items(), 1):
            if not samples:
                continue
            ms = [m for _, m in samples]
            lines.append(
                f"{i}. {name}: {len(ms)} latency spikes (average {sum(ms) // len(ms)}ms, "
                f"mean deviation 0ms, period 0 sec). Worst all time event {max(ms)}ms."
            )
        text = "\n".join(lines) + "\n"
    return Verbatim(text.encode())


@command(
    "graph",
    3,
    LTF,
    parent="latency",
    group=G,
    since="2.8.13",
    summary="Returns a latency graph for an event.",
)
def latency_graph(c: Client, argv: list[bytes]) -> Any:
    name = argv[2].decode(errors="replace")
    samples = c.server.latency_events.get(name)
    if not samples:
        raise CommandError(f"ERR No samples available for event '{name}'")
    top = max(m for _, m in samples)
    low = min(m for _, m in samples)
    rows = [f"{name} - high {top} ms, low {low} ms (all time high {top} ms)", "-" * 80]
    height = 4
    for level in range(height, 0, -1):
        rows.append("".join("#" if m * height >= top * level else " " for _, m in samples))
    return Verbatim(("\n".join(rows) + "\n").encode())


@command(
    "help",
    2,
    Flag.LOADING | Flag.STALE,
    parent="latency",
    group=G,
    since="2.8.13",
    summary="Returns helpful text about the different subcommands.",
)
def latency_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply(
        argv,
        [
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    )
