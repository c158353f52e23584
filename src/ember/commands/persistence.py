"""Persistence commands: SAVE BGSAVE LASTSAVE DUMP RESTORE, DEBUG RELOAD/DIGEST/OBJECT/
POPULATE/DIGEST-VALUE."""

from __future__ import annotations

from typing import Any

from ember import errors
from ember.commands.args import parse_int
from ember.commands.registry import Flag, command
from ember.commands.server_admin import debug_sub
from ember.errors import CommandError
from ember.keyspace.encoding import object_encoding
from ember.protocol.resp import OK, Status
from ember.server.client import Client
from ember.server.pubsub import NOTIFY_GENERIC

G = "server"


def _persistence(c: Client) -> Any:
    p = c.server.persistence
    if p is None:
        raise CommandError("ERR persistence is not available")
    return p


@command(
    "save",
    1,
    Flag.ADMIN | Flag.NOSCRIPT | Flag.NO_ASYNC_LOADING | Flag.NO_MULTI,
    group=G,
    summary="Synchronously saves the database(s) to disk.",
)
def save(c: Client, argv: list[bytes]) -> Any:
    p = _persistence(c)
    if p.bg is not None and p.bg.kind == "rdb":
        raise CommandError("ERR Background save already in progress")
    p.rdb_saves += 1  # counted before saving, even when it fails (Redis saveCommand)
    if p.save_sync():
        return OK
    raise CommandError("ERR")


@command(
    "bgsave",
    -1,
    Flag.ADMIN | Flag.NOSCRIPT | Flag.NO_ASYNC_LOADING,
    group=G,
    summary="Asynchronously saves the database(s) to disk.",
)
def bgsave(c: Client, argv: list[bytes]) -> Any:
    p = _persistence(c)
    schedule = False
    if len(argv) > 1:
        if len(argv) == 2 and argv[1].lower() == b"schedule":
            schedule = True
        else:
            raise CommandError(errors.SYNTAX)
    if p.bg is not None and p.bg.kind == "rdb":
        raise CommandError("ERR Background save already in progress")
    if p.bg is not None or c.in_exec:
        # like Redis: inside MULTI/EXEC the save is always scheduled (started by the cron)
        if schedule or c.in_exec:
            p.rdb_bgsave_scheduled = True
            return Status("Background saving scheduled")
        raise CommandError(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. "
            "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
        )
    err = p.bgsave()
    if err is not None:
        raise CommandError(err)
    if p.last_bgsave_status == "err" and p.bg is None:
        raise CommandError("ERR")
    return Status("Background saving started")


@command(
    "lastsave",
    1,
    Flag.LOADING | Flag.STALE | Flag.FAST,
    group=G,
    summary="Returns the Unix timestamp of the last successful save to disk.",
)
def lastsave(c: Client, argv: list[bytes]) -> Any:
    return c.server.lastsave


# ------------------------------------------------------------------------ DUMP / RESTORE


@command(
    "dump",
    2,
    Flag.READONLY,
    keys=(1, 1, 1),
    group="generic",
    since="2.6.0",
    summary="Returns a serialized representation of the value stored at a key.",
)
def dump(c: Client, argv: list[bytes]) -> Any:
    from ember.persistence.rdb.dump import dump_payload
    from ember.persistence.rdbfile import write_options

    v = c.db.lookup(argv[1])
    if v is None:
        return None
    return dump_payload(v, write_options(c.server))


_BAD_PAYLOAD = "ERR DUMP payload version or checksum are wrong"


def _restorable_version(ver: int, rdb_version: str) -> bool:
    """Like verifyDumpPayload: payloads newer than the RDB version this server writes
    (``rdb-version``; 10 = Redis 7.0) are refused."""
    if rdb_version == "valkey80":
        return 1 <= ver <= 11 or 80 <= ver <= 81
    return 1 <= ver <= int(rdb_version)


@command(
    "restore",
    -4,
    Flag.WRITE | Flag.DENYOOM,
    keys=(1, 1, 1),
    group="generic",
    since="2.6.0",
    summary="Creates a key from the serialized representation of a value.",
)
def restore(c: Client, argv: list[bytes]) -> Any:
    from ember.keyspace.access import restore_access
    from ember.persistence.rdb.dump import DumpPayloadError, payload_version, restore_payload

    key = argv[1]
    replace = absttl = False
    idle = freq = -1
    i = 4
    while i < len(argv):
        o = argv[i].lower()
        if o == b"replace":
            replace = True
        elif o == b"absttl":
            absttl = True
        elif o == b"idletime" and i + 1 < len(argv) and freq == -1:
            try:
                idle = parse_int(argv[i + 1])
            except CommandError:
                raise CommandError(errors.NOT_INTEGER) from None
            if idle < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            i += 1
        elif o == b"freq" and i + 1 < len(argv) and idle == -1:
            try:
                freq = parse_int(argv[i + 1])
            except CommandError:
                raise CommandError(errors.NOT_INTEGER) from None
            if freq < 0 or freq > 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    # same order of checks as Redis: options, BUSYKEY, TTL, payload
    db = c.db
    if not replace and db.lookup(key) is not None:
        raise CommandError("BUSYKEY Target key name already exists.")
    try:
        ttl = parse_int(argv[2])
    except CommandError:
        raise CommandError(errors.NOT_INTEGER) from None
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    cfg = c.server.config.values
    payload = argv[3]
    try:
        ver = payload_version(payload)
    except DumpPayloadError:
        raise CommandError(_BAD_PAYLOAD) from None
    if not _restorable_version(ver, cfg["rdb-version"]):
        raise CommandError(_BAD_PAYLOAD)
    sanitize = cfg["sanitize-dump-payload"] in ("yes", "clients") and not c.is_loader
    if sanitize and payload[0] != 0:
        c.server.stats.dump_payload_sanitizations += 1  # deep checks of an encoded value
    try:
        value = restore_payload(payload, sanitize=sanitize)
    except DumpPayloadError:
        raise CommandError(_BAD_PAYLOAD) from None
    except Exception:
        raise CommandError("ERR Bad data format") from None
    srv = c.server
    when = None
    if ttl:
        when = ttl if absttl else srv.cached_now_ms() + ttl
        if when <= srv.cached_now_ms():
            # already expired: only deletes the old key, as Redis does
            if replace and db.delete(key):
                srv.dirty += 1
                c.prop_argv = [b"DEL", key]
            return OK
    existed = db.lookup(key) is not None
    if existed:
        db.delete(key)
    db.add(key, value)
    restore_access(srv, db.lru, key, idle if idle >= 0 else None, freq if freq >= 0 else None)
    if when is not None:
        db.set_expire(key, when)
        if not absttl:
            c.prop_argv = [*argv[:2], b"%d" % when, *argv[3:], b"ABSTTL"]
    srv.dirty += 1
    srv.notify(NOTIFY_GENERIC, b"restore", key, db.id)
    return OK


# ------------------------------------------------------------------------------- DEBUG


@debug_sub("reload")
def debug_reload(c: Client, argv: list[bytes]) -> Any:
    """DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, flush, load the RDB back."""
    p = _persistence(c)
    opts = {a.lower() for a in argv[2:]}
    for o in opts:
        if o not in (b"merge", b"noflush", b"nosave"):
            raise CommandError(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."
            )
    # like Redis's rdbSave, this save may run while a BGSAVE is in progress
    if b"nosave" not in opts and not p.save_sync():
        raise CommandError("ERR")
    srv = c.server
    if b"noflush" not in opts:
        for db in srv.dbs:
            db.clear()
    coro = p.load_rdb_file(sync=True, merge=b"merge" in opts)
    try:
        coro.send(None)
    except StopIteration:
        pass
    except Exception as e:
        from ember.persistence.rdb.errors import RdbFormatError
        from ember.persistence.rdbfile import describe_error

        srv.log(
            "warning", f"DEBUG RELOAD: {describe_error(e) if isinstance(e, RdbFormatError) else e}"
        )
        raise CommandError("ERR Error trying to load the RDB dump, check server logs.") from None
    srv.log("notice", "DB reloaded by DEBUG RELOAD")
    return OK


@debug_sub("digest")
def debug_digest(c: Client, argv: list[bytes]) -> Any:
    from ember.persistence.digest import dataset_digest

    return Status(dataset_digest(c.server.dbs))


@debug_sub("digest-value")
def debug_digest_value(c: Client, argv: list[bytes]) -> Any:
    from ember.persistence.digest import value_digest

    db = c.db
    out = []
    for key in argv[2:]:
        v = db.lookup(key)
        out.append(Status(value_digest(v, key in db.expires)))
    return out


@debug_sub("object")
def debug_object(c: Client, argv: list[bytes]) -> Any:
    from ember.persistence.rdb.writer import encode_value
    from ember.persistence.rdbfile import write_options

    if len(argv) != 3:
        raise _debug_syntax(argv)
    from ember.keyspace.access import debug_lru

    v = c.db.peek(argv[2])  # a dict find in Redis: no expiry, no access
    if v is None:
        raise CommandError(errors.NO_SUCH_KEY)
    lru, idle = debug_lru(c.server, c.db.lru, argv[2])
    enc = object_encoding(v, c.server.config.values).decode()
    _, payload = encode_value(v, write_options(c.server))
    extra = ""
    if enc == "quicklist":
        extra = f" ql_nodes:{max(1, (len(v) + 127) // 128)} ql_avg_node:{len(v) / max(1, (len(v) + 127) // 128):.2f} ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:{len(payload)}"
    return Status(
        f"Value at:0x{id(v):x} refcount:1 encoding:{enc} serializedlength:{len(payload)} "
        f"lru:{lru} lru_seconds_idle:{idle}{extra}"
    )


def _debug_syntax(argv: list[bytes]) -> CommandError:
    """Redis's addReplySubcommandSyntaxError text for a DEBUG subcommand."""
    return CommandError(
        f"ERR unknown subcommand or wrong number of arguments for '{argv[1].decode(errors='replace')}'. "
        f"Try {argv[0].decode(errors='replace').upper()} HELP."
    )


def _positive(arg: bytes) -> int:
    try:
        n = parse_int(arg)
    except CommandError:
        n = -1
    if n < 0:
        raise CommandError("ERR value is out of range, must be positive")
    return n


@debug_sub("populate")
def debug_populate(c: Client, argv: list[bytes]) -> Any:
    """DEBUG POPULATE count [prefix] [size]: keys ``prefix:N`` = ``value:N`` (zero-padded
    or cut to ``size`` bytes when size > 0); existing keys are left alone."""
    if len(argv) < 3 or len(argv) > 5:
        raise _debug_syntax(argv)
    count = _positive(argv[2])
    prefix = argv[3] if len(argv) > 3 else b"key"
    size = _positive(argv[4]) if len(argv) > 4 else 0
    db = c.db
    data = db.data
    expires = db.expires
    # plain dict stores unless a snapshot hook, WATCH or a blocked client must see them
    fast = (
        c.server.before_write is None and not db.watched and not db.blocking and db.frozen is None
    )
    for j in range(count):
        key = b"%s:%d" % (prefix, j)
        if (key in data if fast else db.has(key)) and (
            key not in expires or db.lookup(key) is not None
        ):
            continue
        val = b"value:%d" % j
        if size:
            val = val[:size] if len(val) >= size else val + bytes(size - len(val))
        if fast:
            data[key] = val
        else:
            db.add(key, val)
    return OK


# --------------------------------------------------------------------------------- AOF


def _aof(c: Client) -> Any:
    aof = _persistence(c).aof
    if aof is None:
        raise CommandError("ERR AOF is not available")
    return aof


@command(
    "bgrewriteaof",
    1,
    Flag.ADMIN | Flag.NOSCRIPT | Flag.NO_ASYNC_LOADING,
    group=G,
    since="1.0.0",
    summary="Asynchronously rewrites the append-only file to disk.",
)
def bgrewriteaof(c: Client, argv: list[bytes]) -> Any:
    return Status(_aof(c).bgrewriteaof())


@command(
    "waitaof",
    4,
    Flag.NOSCRIPT,
    group="generic",
    acl=("@connection",),
    since="7.2.0",
    summary="Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas.",
)
def waitaof(c: Client, argv: list[bytes]) -> Any:
    try:
        numlocal = parse_int(argv[1])
        numreplicas = parse_int(argv[2])
    except CommandError:
        raise CommandError(errors.NOT_INTEGER) from None
    try:
        timeout = parse_int(argv[3])
    except CommandError:
        raise CommandError("ERR timeout is not an integer or out of range") from None
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    if numlocal < 0 or numreplicas < 0:
        raise CommandError(errors.NOT_INTEGER)
    if c.in_multi or c.in_exec:
        return [0, 0]
    return _aof(c).waitaof(c, numlocal, timeout)


@debug_sub("fs-fault")
def debug_fs_fault(c: Client, argv: list[bytes]) -> Any:
    """DEBUG FS-FAULT <op> <errno-name>|OFF [after N] [path-substring]: inject disk faults.

    Test hook (needs enable-debug-command): makes the persistence file layer fail
    ``op`` (write, fsync, rename) with e.g. ENOSPC or EIO, like a full or broken disk.
    ``DEBUG FS-FAULT OFF`` restores the real file system.
    """
    import errno as errno_mod

    from ember.persistence import fs as fsmod

    if len(argv) >= 3 and argv[2].lower() == b"off":
        fsmod.set_fs(fsmod.FileSystem())
        return OK
    if len(argv) < 4:
        raise CommandError(
            "ERR Usage: DEBUG FS-FAULT <write|fsync|rename> <ENOSPC|EIO|...>|OFF [after N] [path-substring]"
        )
    op = argv[2].decode().lower()
    if op not in ("write", "fsync", "rename"):
        raise CommandError("ERR op must be write, fsync or rename")
    code = getattr(errno_mod, argv[3].decode().upper(), None)
    if not isinstance(code, int):
        raise CommandError("ERR unknown errno name")
    after = 0
    path_filter = ""
    rest = argv[4:]
    if len(rest) >= 2 and rest[0].lower() == b"after":
        after = parse_int(rest[1])
        rest = rest[2:]
    if rest:
        path_filter = rest[0].decode()
    cur = fsmod.get_fs()
    if isinstance(cur, fsmod.FaultFS):
        cur.fail_ops[op] = code
        cur.after = after
        cur.path_filter = path_filter
    else:
        fsmod.set_fs(fsmod.FaultFS(fail_ops={op: code}, after=after, path_filter=path_filter))
    return OK
