"""Generic keyspace commands: DEL UNLINK EXISTS TYPE KEYS SCAN RANDOMKEY RENAME[NX]
MOVE COPY TOUCH OBJECT and the expiry family (EXPIRE... TTL... PERSIST)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ember import errors
from ember.commands.args import LLONG_MAX, parse_int
from ember.commands.registry import Flag, command, container
from ember.errors import CommandError
from ember.keyspace.access import LfuDict, idle_ms
from ember.keyspace.encoding import object_encoding
from ember.keyspace.scan import ScanCursors, keyspace_scans, parse_cursor
from ember.keyspace.types import TYPE_NAMES, copy_value
from ember.protocol.resp import OK, Status
from ember.server.client import Client
from ember.server.pubsub import NOTIFY_GENERIC, fast_glob

G = "generic"
RO = Flag.READONLY
W = Flag.WRITE


def peek(db: Any, key: bytes) -> Any:
    """The value of ``key`` without counting as an access (Redis LOOKUP_NOTOUCH): lazy
    expiry applies, the OBJECT IDLETIME clock is left alone."""
    return db.peek(key) if db.exists(key) else None


def peek_read(db: Any, key: bytes, notify: bool = True) -> Any:
    """:func:`peek` for a read command (TYPE, TTL, OBJECT): a keyspace hit or miss."""
    v = peek(db, key)
    db.count_read(key, v is not None, notify)
    return v


def all_keys(argv: list[bytes]) -> list[int]:
    return list(range(1, len(argv)))


@command("del", -2, W, keys=(1, -1, 1), group=G, summary="Deletes one or more keys.")
def del_(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    srv = c.server
    n = 0
    for key in argv[1:]:
        if db.expires and key in db.expires and db.lookup(key) is None:
            continue
        if db.delete(key):
            n += 1
            srv.notify(NOTIFY_GENERIC, b"del", key, db.id)
    srv.dirty += n
    return n


@command(
    "unlink",
    -2,
    W | Flag.FAST,
    keys=(1, -1, 1),
    group=G,
    since="4.0.0",
    summary="Asynchronously deletes one or more keys.",
)
def unlink(c: Client, argv: list[bytes]) -> Any:
    return del_(c, argv)


@command(
    "exists",
    -2,
    RO | Flag.FAST,
    keys=(1, -1, 1),
    group=G,
    summary="Determines whether one or more keys exist.",
)
def exists(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    n = 0
    for k in argv[1:]:
        found = db.exists(k)
        db.count_read(k, found)
        n += found
    return n


@command(
    "touch",
    -2,
    RO | Flag.FAST,
    keys=(1, -1, 1),
    group=G,
    since="3.2.1",
    summary="Returns the number of existing keys out of those specified after updating the time they were last accessed.",
)
def touch(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    return sum(1 for k in argv[1:] if db.lookup(k) is not None)  # an access: LRU clock


@command(
    "type",
    2,
    RO | Flag.FAST,
    keys=(1, 1, 1),
    group=G,
    summary="Determines the type of value stored at a key.",
)
def type_(c: Client, argv: list[bytes]) -> Any:
    v = peek_read(c.db, argv[1])
    if v is None:
        return Status("none")
    return Status(TYPE_NAMES[type(v)])


@command("keys", 2, RO, group=G, summary="Returns all key names that match a pattern.")
def keys(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    pat = argv[1]
    now = c.server.cached_now_ms()
    exp = db.expires
    if pat == b"*":
        cand = list(db.iter_keys())
    else:
        match: Callable[[bytes], bool] = fast_glob(pat)  # type: ignore[assignment]
        cand = [k for k in db.iter_keys() if match(k)]
    if exp:
        cand = [k for k in cand if k not in exp or exp[k] > now]
    return cand


def _scan_cursors(c: Client) -> ScanCursors:
    srv = c.server
    sc = getattr(srv, "scan_cursors", None)
    if sc is None:
        sc = srv.scan_cursors = ScanCursors()
    return sc


def parse_scan_options(
    argv: list[bytes], start: int, allow_type: bool
) -> tuple[int, bytes | None, bytes | None, bool]:
    count = 10
    pattern = None
    typ = None
    novalues = False
    i = start
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"count" and i + 1 < len(argv):
            count = parse_int(argv[i + 1])
            if count < 1:
                raise CommandError(errors.SYNTAX)
            i += 2
        elif opt == b"match" and i + 1 < len(argv):
            pattern = argv[i + 1]
            i += 2
        elif opt == b"type" and allow_type and i + 1 < len(argv):
            typ = argv[i + 1].lower()
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    return count, pattern, typ, novalues


def scan_page(
    c: Client, cursor: int, source: Any, count: int, scan_id: Any = None
) -> tuple[int, list[Any]]:
    return _scan_cursors(c).page(cursor, source, count)


@command(
    "scan",
    -2,
    RO | Flag.TOUCHES_ARBITRARY_KEYS,
    group=G,
    since="2.8.0",
    summary="Iterates over the key names in the database.",
)
def scan(c: Client, argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[1])
    count, pattern, typ, _ = parse_scan_options(argv, 2, True)
    db = c.db
    nxt, chunk = keyspace_scans(c.server, db).page(db, cursor, count)
    match = fast_glob(pattern) if pattern is not None and pattern != b"*" else None
    out = []
    for k in chunk:
        v = peek(db, k)
        if v is None:
            continue
        if match is not None and not match(k):  # type: ignore[operator]
            continue
        if typ is not None and TYPE_NAMES[type(v)] != typ:
            continue
        out.append(k)
    return [b"%d" % nxt, out]


@command(
    "randomkey",
    1,
    RO | Flag.TOUCHES_ARBITRARY_KEYS,
    group=G,
    summary="Returns a random key name from the database.",
)
def randomkey(c: Client, argv: list[bytes]) -> Any:
    return c.server.random_key(c.db)


def _rename(c: Client, argv: list[bytes], nx: bool) -> Any:
    db = c.db
    src, dst = argv[1], argv[2]
    value = db.lookup(src)
    if value is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else OK
    expire = db.expires.get(src)
    dst_exists = db.lookup(dst) is not None
    if dst_exists and nx:
        return 0
    srv = c.server
    meta = db.access_meta(src)
    db.delete(src)
    if dst_exists:
        db.delete(dst)
    db.add(dst, value)
    db.keep_access_meta(dst, meta)  # Redis moves the object, with its LRU/LFU bits
    if expire is not None:
        db.set_expire(dst, expire)
    srv.dirty += 1
    srv.notify(NOTIFY_GENERIC, b"rename_from", src, db.id)
    srv.notify(NOTIFY_GENERIC, b"rename_to", dst, db.id)
    return 1 if nx else OK


@command(
    "rename", 3, W, keys=(1, 2, 1), group=G, summary="Renames a key and overwrites the destination."
)
def rename(c: Client, argv: list[bytes]) -> Any:
    return _rename(c, argv, False)


@command(
    "renamenx",
    3,
    W | Flag.FAST,
    keys=(1, 2, 1),
    group=G,
    summary="Renames a key only when the target key name doesn't exist.",
)
def renamenx(c: Client, argv: list[bytes]) -> Any:
    return _rename(c, argv, True)


@command(
    "move", 3, W | Flag.FAST, keys=(1, 1, 1), group=G, summary="Moves a key to another database."
)
def move(c: Client, argv: list[bytes]) -> Any:
    srv = c.server
    try:
        idx = parse_int(argv[2])
    except CommandError:
        raise CommandError(errors.NOT_INTEGER) from None
    if idx < 0 or idx >= len(srv.dbs):
        raise CommandError(errors.DB_INDEX_RANGE)
    src, dst = c.db, srv.dbs[idx]
    if src is dst:
        raise CommandError("ERR source and destination objects are the same")
    key = argv[1]
    value = src.lookup(key)
    if value is None:
        return 0
    if dst.lookup(key) is not None:
        return 0
    expire = src.expires.get(key)
    meta = src.access_meta(key)
    src.delete(key)
    dst.add(key, value)
    dst.keep_access_meta(key, meta)
    if expire is not None:
        dst.set_expire(key, expire)
    srv.dirty += 1
    srv.notify(NOTIFY_GENERIC, b"move_from", key, src.id)
    srv.notify(NOTIFY_GENERIC, b"move_to", key, dst.id)
    return 1


@command(
    "copy",
    -3,
    W | Flag.DENYOOM,
    keys=(1, 2, 1),
    group=G,
    since="6.2.0",
    summary="Copies the value of a key to a new key.",
    read_lookups=True,
)
def copy(c: Client, argv: list[bytes]) -> Any:
    srv = c.server
    dst_db = c.db
    replace = False
    i = 3
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"replace":
            replace = True
            i += 1
        elif opt == b"db" and i + 1 < len(argv):
            try:
                idx = parse_int(argv[i + 1])
            except CommandError:
                raise CommandError(errors.NOT_INTEGER) from None
            if idx < 0 or idx >= len(srv.dbs):
                raise CommandError(errors.DB_INDEX_RANGE)
            dst_db = srv.dbs[idx]
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    src, dst = argv[1], argv[2]
    if src == dst and dst_db is c.db:
        raise CommandError("ERR source and destination objects are the same")
    value = c.db.lookup(src)
    if value is None:
        return 0
    if dst_db.exists(dst):
        if not replace:
            return 0
        dst_db.delete(dst)
    expire = c.db.expires.get(src)
    dst_db.add(dst, copy_value(value))
    if expire is not None:
        dst_db.set_expire(dst, expire)
    srv.dirty += 1
    srv.notify(NOTIFY_GENERIC, b"copy_to", dst, dst_db.id)
    return 1


# ------------------------------------------------------------------------------ OBJECT

container("object", G, "2.2.3", "A container for object introspection commands.")


@command(
    "encoding",
    3,
    RO,
    keys=(2, 2, 1),
    parent="object",
    group=G,
    since="2.2.3",
    summary="Returns the internal encoding of a Redis object.",
)
def object_encoding_cmd(c: Client, argv: list[bytes]) -> Any:
    v = peek_read(c.db, argv[2], notify=False)  # LOOKUP_NONOTIFY
    if v is None:
        return None
    return object_encoding(v, c.server.config.values)


@command(
    "refcount",
    3,
    RO,
    keys=(2, 2, 1),
    parent="object",
    group=G,
    since="2.2.3",
    summary="Returns the reference count of a value of a key.",
)
def object_refcount(c: Client, argv: list[bytes]) -> Any:
    v = peek_read(c.db, argv[2], notify=False)  # LOOKUP_NONOTIFY
    if v is None:
        return None
    if (
        type(v) is bytes
        and object_encoding(v, c.server.config.values) == b"int"
        and 0 <= int(v) < 10000
    ):
        return 2147483647  # OBJ_SHARED_REFCOUNT: shared integer objects
    return 1


@command(
    "idletime",
    3,
    RO,
    keys=(2, 2, 1),
    parent="object",
    group=G,
    since="2.2.3",
    summary="Returns the time since the last access to a Redis object.",
)
def object_idletime(c: Client, argv: list[bytes]) -> Any:
    v = peek_read(c.db, argv[2], notify=False)  # LOOKUP_NONOTIFY
    if v is None:
        return None
    if "lfu" in c.server.cfg["maxmemory-policy"]:
        raise CommandError(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that "
            "when switching between policies at runtime LRU and LFU data will take some time "
            "to adjust."
        )
    lru = c.db.lru
    if lru is None:
        return 0  # access times are tracked only under an LRU maxmemory-policy
    return idle_ms(c.server, lru, argv[2]) // 1000


@command(
    "freq",
    3,
    RO,
    keys=(2, 2, 1),
    parent="object",
    group=G,
    since="4.0.0",
    summary="Returns the logarithmic access frequency counter of a Redis object.",
)
def object_freq(c: Client, argv: list[bytes]) -> Any:
    v = peek_read(c.db, argv[2], notify=False)  # LOOKUP_NONOTIFY
    if v is None:
        return None
    if "lfu" not in c.server.cfg["maxmemory-policy"]:
        raise CommandError(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please "
            "note that when switching between policies at runtime LRU and LFU data will take "
            "some time to adjust."
        )
    lfu = c.db.lru
    return lfu.counter(argv[2], c.server.cached_now_ms()) if type(lfu) is LfuDict else 0


@command(
    "help",
    2,
    Flag.LOADING | Flag.STALE,
    parent="object",
    group=G,
    since="6.2.0",
    summary="Returns helpful text about the different subcommands.",
)
def object_help(c: Client, argv: list[bytes]) -> Any:
    return [
        Status(x)
        for x in [
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Prints this help.",
        ]
    ]


# ------------------------------------------------------------------------------ expiry


def _expire_generic(c: Client, argv: list[bytes], base_ms: int, unit_ms: int) -> Any:
    name = argv[0].decode(errors="replace").lower()
    key = argv[1]
    nx = xx = gt = lt = False
    for a in argv[3:]:
        o = a.lower()
        if o == b"nx":
            nx = True
        elif o == b"xx":
            xx = True
        elif o == b"gt":
            gt = True
        elif o == b"lt":
            lt = True
        else:
            raise CommandError(f"ERR Unsupported option {a.decode(errors='replace')}")
    if nx and (xx or gt or lt):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if gt and lt:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    when = parse_int(argv[2])
    if unit_ms == 1000:
        if when > LLONG_MAX // 1000 or when < -(LLONG_MAX // 1000):
            raise CommandError(errors.INVALID_EXPIRE.format(name))
        when *= 1000
    if when > LLONG_MAX - base_ms:
        raise CommandError(errors.INVALID_EXPIRE.format(name))
    when += base_ms
    db = c.db
    srv = c.server
    if db.lookup(key) is None:
        return 0
    current = db.expires.get(key)
    if nx and current is not None:
        return 0
    if xx and current is None:
        return 0
    if gt and (current is None or when <= current):
        return 0
    if lt and current is not None and when >= current:
        return 0
    if when <= srv.cached_now_ms() and not srv.loading:
        db.delete(key)
        srv.dirty += 1
        srv.notify(NOTIFY_GENERIC, b"del", key, db.id)
        cmd = b"UNLINK" if srv.cfg["lazyfree-lazy-expire"] else b"DEL"
        c.prop_argv = [cmd, key]
        return 1
    db.set_expire(key, when)
    srv.dirty += 1
    srv.notify(NOTIFY_GENERIC, b"expire", key, db.id)
    c.prop_argv = [b"PEXPIREAT", key, b"%d" % when, *argv[3:]]
    return 1


@command(
    "expire",
    -3,
    W | Flag.FAST,
    keys=(1, 1, 1),
    group=G,
    summary="Sets the expiration time of a key in seconds.",
)
def expire(c: Client, argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, c.server.cached_now_ms(), 1000)


@command(
    "pexpire",
    -3,
    W | Flag.FAST,
    keys=(1, 1, 1),
    group=G,
    since="2.6.0",
    summary="Sets the expiration time of a key in milliseconds.",
)
def pexpire(c: Client, argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, c.server.cached_now_ms(), 1)


@command(
    "expireat",
    -3,
    W | Flag.FAST,
    keys=(1, 1, 1),
    group=G,
    since="1.2.0",
    summary="Sets the expiration time of a key to a Unix timestamp.",
)
def expireat(c: Client, argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, 0, 1000)


@command(
    "pexpireat",
    -3,
    W | Flag.FAST,
    keys=(1, 1, 1),
    group=G,
    since="2.6.0",
    summary="Sets the expiration time of a key to a Unix milliseconds timestamp.",
)
def pexpireat(c: Client, argv: list[bytes]) -> Any:
    return _expire_generic(c, argv, 0, 1)


def _ttl(c: Client, key: bytes, unit_ms: int, absolute: bool) -> int:
    db = c.db
    if peek_read(db, key) is None:
        return -2
    when = db.expires.get(key)
    if when is None:
        return -1
    if absolute:
        return when // unit_ms if unit_ms > 1 else when
    ttl = max(0, when - c.server.cached_now_ms())
    return (ttl + 500) // 1000 if unit_ms == 1000 else ttl


@command(
    "ttl",
    2,
    RO | Flag.FAST,
    keys=(1, 1, 1),
    group=G,
    summary="Returns the expiration time in seconds of a key.",
)
def ttl(c: Client, argv: list[bytes]) -> Any:
    return _ttl(c, argv[1], 1000, False)


@command(
    "pttl",
    2,
    RO | Flag.FAST,
    keys=(1, 1, 1),
    group=G,
    since="2.6.0",
    summary="Returns the expiration time in milliseconds of a key.",
)
def pttl(c: Client, argv: list[bytes]) -> Any:
    return _ttl(c, argv[1], 1, False)


@command(
    "expiretime",
    2,
    RO | Flag.FAST,
    keys=(1, 1, 1),
    group=G,
    since="7.0.0",
    summary="Returns the expiration time of a key as a Unix timestamp.",
)
def expiretime(c: Client, argv: list[bytes]) -> Any:
    return _ttl(c, argv[1], 1000, True)


@command(
    "pexpiretime",
    2,
    RO | Flag.FAST,
    keys=(1, 1, 1),
    group=G,
    since="7.0.0",
    summary="Returns the expiration time of a key as a Unix milliseconds timestamp.",
)
def pexpiretime(c: Client, argv: list[bytes]) -> Any:
    return _ttl(c, argv[1], 1, True)


@command(
    "persist",
    2,
    W | Flag.FAST,
    keys=(1, 1, 1),
    group=G,
    since="2.2.0",
    summary="Removes the expiration time of a key.",
)
def persist(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    if db.lookup(argv[1]) is None:
        return 0
    if db.persist(argv[1]):
        c.server.dirty += 1
        c.server.notify(NOTIFY_GENERIC, b"persist", argv[1], db.id)
        return 1
    return 0
