"""String commands (Redis 7.0): SET GET GETEX GETDEL GETSET MGET MSET MSETNX SETNX SETEX
PSETEX APPEND STRLEN GETRANGE SUBSTR SETRANGE INCR INCRBY DECR DECRBY INCRBYFLOAT LCS.

Relative expiry is propagated as absolute (``SET k v PXAT ms``, ``PEXPIREAT``) and
INCRBYFLOAT as ``SET k <result> KEEPTTL`` so the AOF replays to the same state.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Final

from ember import errors
from ember.commands.args import LLONG_MAX, LLONG_MIN, get_string, parse_int
from ember.commands.hash import _Inf, _ld_round, ld_format, ld_parse
from ember.commands.registry import Flag, command
from ember.errors import CommandError
from ember.protocol.resp import OK
from ember.server.client import Client
from ember.server.pubsub import NOTIFY_GENERIC, NOTIFY_STRING

G = "string"
W = Flag.WRITE | Flag.DENYOOM
RO = Flag.READONLY
K1 = (1, 1, 1)

_SMALL_MAX: Final = (1 << 62) - 1
_SMALL_MIN: Final = -(1 << 62)
_EXPIRE_OPTS: Final = {b"ex": 1000, b"px": 1, b"exat": -1000, b"pxat": -1}


def _parse_expire(c: Client, name: str, opt: bytes, arg: bytes) -> int:
    """Absolute unix ms for an EX/PX/EXAT/PXAT argument, with Redis's checks."""
    try:
        v = parse_int(arg)
    except CommandError:
        raise CommandError(errors.NOT_INTEGER) from None
    if v <= 0:
        raise CommandError(errors.INVALID_EXPIRE.format(name))
    unit = _EXPIRE_OPTS[opt]
    if abs(unit) == 1000:
        if v > LLONG_MAX // 1000:
            raise CommandError(errors.INVALID_EXPIRE.format(name))
        v *= 1000
    if unit > 0:
        now = c.server.cached_now_ms()
        if v > LLONG_MAX - now:
            raise CommandError(errors.INVALID_EXPIRE.format(name))
        v += now
    return v


_NX: Final = 1
_XX: Final = 2
_GET: Final = 4
_KEEPTTL: Final = 8
_PERSIST: Final = 16
_EXPIRE_NAMES: Final = (b"ex", b"px", b"exat", b"pxat")


def _parse_set_options(
    argv: list[bytes], start: int, is_set: bool
) -> tuple[int, bytes | None, bytes]:
    """``parseExtendedStringArgumentsOrReply``: flags, expire option and its argument.

    Conflicting options are a syntax error; the same expire option may be repeated
    (the last value wins).
    """
    flags = 0
    expire_opt: bytes | None = None
    expire_arg = b""
    n = len(argv)
    i = start
    while i < n:
        o = argv[i].lower()
        if o == b"nx" and is_set and not flags & _XX:
            flags |= _NX
        elif o == b"xx" and is_set and not flags & _NX:
            flags |= _XX
        elif o == b"get" and is_set:
            flags |= _GET
        elif o == b"keepttl" and is_set and not flags & _PERSIST and expire_opt is None:
            flags |= _KEEPTTL
        elif o == b"persist" and not is_set and expire_opt is None and not flags & _KEEPTTL:
            flags |= _PERSIST
        elif (
            o in _EXPIRE_NAMES
            and not flags & (_KEEPTTL | _PERSIST)
            and expire_opt in (None, o)
            and i + 1 < n
        ):
            expire_opt = o
            expire_arg = argv[i + 1]
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    return flags, expire_opt, expire_arg


@command(
    "set",
    -3,
    W,
    keys=K1,
    group=G,
    summary="Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
)
def set_(c: Client, argv: list[bytes]) -> Any:
    key, value = argv[1], argv[2]
    db = c.db
    if len(argv) == 3:  # fast path: plain SET
        db.set(key, value)
        c.server.dirty += 1
        if c.server.cfg["notify-keyspace-events"]:
            c.server.notify(NOTIFY_STRING, b"set", key, db.id)
        return OK
    flags, expire_opt, expire_arg = _parse_set_options(argv, 3, True)
    nx, xx, get, keepttl = flags & _NX, flags & _XX, flags & _GET, flags & _KEEPTTL
    when = _parse_expire(c, "set", expire_opt, expire_arg) if expire_opt is not None else None
    old = db.lookup(key)
    if get:  # getGenericCommand: a read lookup
        db.count_read(key, old is not None)
    if get and old is not None and type(old) is not bytes and type(old) is not bytearray:
        raise CommandError(errors.WRONGTYPE)
    if (nx and old is not None) or (xx and old is None):
        return bytes(old) if get and old is not None else None
    db.set(key, value, keep_ttl=bool(keepttl), touch=bool(get))  # GET: Redis's 2nd lookup
    srv = c.server
    srv.dirty += 1
    srv.notify(NOTIFY_STRING, b"set", key, db.id)
    if when is not None:
        db.set_expire(key, when)
        srv.notify(NOTIFY_GENERIC, b"expire", key, db.id)
        c.prop_argv = [b"SET", key, value, b"PXAT", b"%d" % when]
    elif get:
        # propagate without GET (it may be repeated)
        c.prop_argv = [a for i, a in enumerate(argv) if i < 3 or a.lower() != b"get"]
    if get:
        return bytes(old) if old is not None else None
    return OK


@command("get", 2, RO | Flag.FAST, keys=K1, group=G, summary="Returns the string value of a key.")
def get(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    if (db.expires and key in db.expires) or db.lru is not None:
        v = db.lookup(key)  # counts the hit or miss
        if v is None:
            return None
    else:
        v = db.data.get(key)
        if v is None and db.adds:  # keys created during a forkless save
            v = db.adds.get(key)
        if v is None:
            db.count_read(key, False)
            return None
        c.server.stats.keyspace_hits += 1
    t = type(v)
    if t is bytes:
        return v
    if t is bytearray:
        return bytes(v)
    raise CommandError(errors.WRONGTYPE)


@command(
    "getex",
    -2,
    Flag.WRITE | Flag.FAST,
    keys=K1,
    group=G,
    since="6.2.0",
    summary="Returns the string value of a key after setting its expiration time.",
    read_lookups=True,
)
def getex(c: Client, argv: list[bytes]) -> Any:
    key = argv[1]
    flags, expire_opt, expire_arg = _parse_set_options(argv, 2, False)
    db = c.db
    v = get_string(db, key)
    if v is None:
        return None
    # the expire value is validated only for an existing string key, like Redis
    when = _parse_expire(c, "getex", expire_opt, expire_arg) if expire_opt is not None else None
    srv = c.server
    if when is not None:
        if when <= srv.cached_now_ms():
            db.delete(key)
            srv.dirty += 1
            srv.notify(NOTIFY_GENERIC, b"del", key, db.id)
            c.prop_argv = [b"UNLINK" if srv.cfg["lazyfree-lazy-expire"] else b"DEL", key]
        else:
            db.set_expire(key, when)
            srv.dirty += 1
            srv.notify(NOTIFY_GENERIC, b"expire", key, db.id)
            c.prop_argv = [b"PEXPIREAT", key, b"%d" % when]
    elif flags & _PERSIST and db.persist(key):
        srv.dirty += 1
        srv.notify(NOTIFY_GENERIC, b"persist", key, db.id)
        c.prop_argv = [b"PERSIST", key]
    return v


@command(
    "getdel",
    2,
    Flag.WRITE | Flag.FAST,
    keys=K1,
    group=G,
    since="6.2.0",
    summary="Returns the string value of a key after deleting the key.",
    read_lookups=True,
)
def getdel(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    v = get_string(db, argv[1])
    if v is None:
        return None
    db.delete(argv[1])
    srv = c.server
    srv.dirty += 1
    srv.notify(NOTIFY_GENERIC, b"del", argv[1], db.id)
    c.prop_argv = [b"UNLINK" if srv.cfg["lazyfree-lazy-user-del"] else b"DEL", argv[1]]
    return v


@command(
    "getset",
    3,
    W | Flag.FAST,
    keys=K1,
    group=G,
    summary="Returns the previous string value of a key after setting it to a new value.",
    read_lookups=True,
)
def getset(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    old = get_string(db, argv[1])
    db.set(argv[1], argv[2])
    c.server.dirty += 1
    c.server.notify(NOTIFY_STRING, b"set", argv[1], db.id)
    c.prop_argv = [b"SET", argv[1], argv[2]]
    return old


@command(
    "mget",
    -2,
    RO | Flag.FAST,
    keys=(1, -1, 1),
    group=G,
    summary="Atomically returns the string values of one or more keys.",
)
def mget(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    out: list[Any] = []
    for key in argv[1:]:
        v = db.lookup(key)
        t = type(v)
        if t is bytes:
            out.append(v)
        elif t is bytearray:
            out.append(bytes(v))
        else:
            out.append(None)
    return out


@command(
    "mset",
    -3,
    W,
    keys=(1, -1, 2),
    group=G,
    since="1.0.1",
    summary="Atomically creates or modifies the string values of one or more keys.",
)
def mset(c: Client, argv: list[bytes]) -> Any:
    if len(argv) % 2 == 0:
        raise errors.wrong_args("mset")
    db = c.db
    srv = c.server
    if srv.cfg["notify-keyspace-events"]:
        for i in range(1, len(argv), 2):
            db.set(argv[i], argv[i + 1])
            srv.notify(NOTIFY_STRING, b"set", argv[i], db.id)
    else:
        db.set_many(argv[1::2], argv[2::2])
    srv.dirty += (len(argv) - 1) // 2
    return OK


@command(
    "msetnx",
    -3,
    W,
    keys=(1, -1, 2),
    group=G,
    since="1.0.1",
    summary="Atomically modifies the string values of one or more keys only when all keys don't exist.",
)
def msetnx(c: Client, argv: list[bytes]) -> Any:
    if len(argv) % 2 == 0:
        raise errors.wrong_args("msetnx")
    db = c.db
    for i in range(1, len(argv), 2):
        if db.lookup(argv[i]) is not None:
            return 0
    mset(c, argv)
    return 1


@command(
    "setnx",
    3,
    W | Flag.FAST,
    keys=K1,
    group=G,
    summary="Set the string value of a key only when the key doesn't exist.",
)
def setnx(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    if db.lookup(argv[1]) is not None:
        return 0
    db.set(argv[1], argv[2])
    c.server.dirty += 1
    c.server.notify(NOTIFY_STRING, b"set", argv[1], db.id)
    return 1


def _setex(c: Client, argv: list[bytes], opt: bytes) -> Any:
    name = argv[0].decode(errors="replace").lower()
    when = _parse_expire(c, name, opt, argv[2])
    db = c.db
    db.set(argv[1], argv[3])
    db.set_expire(argv[1], when)
    srv = c.server
    srv.dirty += 1
    srv.notify(NOTIFY_STRING, b"set", argv[1], db.id)
    srv.notify(NOTIFY_GENERIC, b"expire", argv[1], db.id)
    c.prop_argv = [b"SET", argv[1], argv[3], b"PXAT", b"%d" % when]
    return OK


@command(
    "setex",
    4,
    W,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
)
def setex(c: Client, argv: list[bytes]) -> Any:
    return _setex(c, argv, b"ex")


@command(
    "psetex",
    4,
    W,
    keys=K1,
    group=G,
    since="2.6.0",
    summary="Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
)
def psetex(c: Client, argv: list[bytes]) -> Any:
    return _setex(c, argv, b"px")


def _check_size(c: Client, size: int) -> None:
    if size > c.server.cfg["proto-max-bulk-len"]:
        raise CommandError(errors.NOT_STRING_LEN)


@command(
    "append",
    3,
    W | Flag.FAST,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Appends a string to the value of a key. Creates the key if it doesn't exist.",
)
def append(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    old = get_string(db, key)
    if old is None:
        db.set(key, argv[2])
        newlen = len(argv[2])
    else:
        _check_size(c, len(old) + len(argv[2]))
        cur = db.peek(key)
        db.will_write(key)
        if type(cur) is bytearray:
            cur += argv[2]
        else:
            # grow in place from now on: repeated APPENDs stay linear
            buf = bytearray(cur)
            buf += argv[2]
            db.set(key, buf, keep_ttl=True, touch=False)
            cur = buf
        newlen = len(cur)
    c.server.dirty += 1
    c.server.notify(NOTIFY_STRING, b"append", key, db.id)
    return newlen


@command(
    "strlen",
    2,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="2.2.0",
    summary="Returns the length of a string value.",
)
def strlen(c: Client, argv: list[bytes]) -> Any:
    v = c.db.lookup(argv[1])
    if v is None:
        return 0
    if type(v) is not bytes and type(v) is not bytearray:
        raise CommandError(errors.WRONGTYPE)
    return len(v)


def _getrange(c: Client, argv: list[bytes]) -> Any:
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    v = get_string(c.db, argv[1])
    if v is None:
        return b""
    n = len(v)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start += n
    if end < 0:
        end += n
    start = max(start, 0)
    end = max(end, 0)
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return b""
    return v[start : end + 1]


@command(
    "getrange",
    4,
    RO,
    keys=K1,
    group=G,
    since="2.4.0",
    summary="Returns a substring of the string stored at a key.",
)
def getrange(c: Client, argv: list[bytes]) -> Any:
    return _getrange(c, argv)


@command(
    "substr",
    4,
    RO,
    keys=K1,
    group=G,
    since="1.0.0",
    summary="Returns a substring from a string value.",
)
def substr(c: Client, argv: list[bytes]) -> Any:
    return _getrange(c, argv)


@command(
    "setrange",
    4,
    W,
    keys=K1,
    group=G,
    since="2.2.0",
    summary="Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
)
def setrange(c: Client, argv: list[bytes]) -> Any:
    key, value = argv[1], argv[3]
    offset = parse_int(argv[2])
    if offset < 0:
        raise CommandError(errors.OFFSET_RANGE)
    db = c.db
    old = get_string(db, key)
    if old is None:
        if not value:
            return 0
        _check_size(c, offset + len(value))
        buf = bytearray(offset) + value
        db.set(key, bytes(buf))
    else:
        if not value:
            return len(old)
        _check_size(c, offset + len(value))
        cur = db.peek(key)
        db.will_write(key)
        buf = cur if type(cur) is bytearray else bytearray(cur)
        if len(buf) < offset + len(value):
            buf.extend(bytes(offset + len(value) - len(buf)))
        buf[offset : offset + len(value)] = value
        if buf is not cur:
            db.set(key, buf, keep_ttl=True, touch=False)
    c.server.dirty += 1
    c.server.notify(NOTIFY_STRING, b"setrange", key, db.id)
    return len(db.peek(key))


def _incr(c: Client, key: bytes, delta: int) -> Any:
    db = c.db
    v = db.lookup(key)
    if v is None:
        cur = 0
    else:
        t = type(v)
        if t is not bytes and t is not bytearray:
            raise CommandError(errors.WRONGTYPE)
        cur = parse_int(v if t is bytes else bytes(v))
    new = cur + delta
    # (the first test keeps to the small ints the compiled build holds unboxed)
    if (new > _SMALL_MAX or new < _SMALL_MIN) and (new > LLONG_MAX or new < LLONG_MIN):
        raise CommandError(errors.OVERFLOW)
    db.set(key, b"%d" % new, keep_ttl=True, touch=False)
    srv = c.server
    srv.dirty += 1
    if srv.cfg["notify-keyspace-events"]:
        srv.notify(NOTIFY_STRING, b"incrby", key, db.id)
    return new


@command(
    "incr",
    2,
    W | Flag.FAST,
    keys=K1,
    group=G,
    summary="Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
)
def incr(c: Client, argv: list[bytes]) -> Any:
    return _incr(c, argv[1], 1)


@command(
    "decr",
    2,
    W | Flag.FAST,
    keys=K1,
    group=G,
    summary="Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
)
def decr(c: Client, argv: list[bytes]) -> Any:
    return _incr(c, argv[1], -1)


@command(
    "incrby",
    3,
    W | Flag.FAST,
    keys=K1,
    group=G,
    summary="Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
)
def incrby(c: Client, argv: list[bytes]) -> Any:
    return _incr(c, argv[1], parse_int(argv[2]))


@command(
    "decrby",
    3,
    W | Flag.FAST,
    keys=K1,
    group=G,
    summary="Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
)
def decrby(c: Client, argv: list[bytes]) -> Any:
    delta = parse_int(argv[2])
    if delta == LLONG_MIN:
        raise CommandError("ERR decrement would overflow")
    return _incr(c, argv[1], -delta)


@command(
    "incrbyfloat",
    3,
    W | Flag.FAST,
    keys=K1,
    group=G,
    since="2.6.0",
    summary="Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
)
def incrbyfloat(c: Client, argv: list[bytes]) -> Any:
    """Computed like Redis in x87 ``long double`` (exact Fractions rounded to 64-bit
    significands, see ``ld_parse`` in :mod:`ember.commands.hash`), printed ``%.17Lf``."""
    db = c.db
    key = argv[1]
    v = db.lookup(key)
    cur: Fraction | float = Fraction(0)
    if v is not None:
        if type(v) is not bytes and type(v) is not bytearray:
            raise CommandError(errors.WRONGTYPE)
        cur = ld_parse(bytes(v))
    incr_by = ld_parse(argv[2])
    if type(cur) is float or type(incr_by) is float:  # an infinity
        raise CommandError(errors.INCR_NAN)
    try:
        new = _ld_round(cur + incr_by)  # type: ignore[arg-type]  # floats were refused above
    except _Inf:
        raise CommandError(errors.INCR_NAN) from None
    text = ld_format(new)
    db.set(key, text, keep_ttl=True, touch=False)
    srv = c.server
    srv.dirty += 1
    srv.notify(NOTIFY_STRING, b"incrbyfloat", key, db.id)
    c.prop_argv = [b"SET", key, text, b"KEEPTTL"]
    return text


# ---------------------------------------------------------------------------------- LCS


def _lcs_rows(a: bytes, b: bytes) -> list[int]:
    """Bit-parallel LCS (Hyyrö): row ``i`` is a bit vector over ``b`` whose zero bits
    below ``j`` count LCS(a[:i], b[:j]). One big-int operation per byte of ``a``."""
    m = len(b)
    full = (1 << m) - 1
    masks: dict[int, int] = {}
    for j, ch in enumerate(b):
        masks[ch] = masks.get(ch, 0) | (1 << j)
    v = full
    rows = [v]
    for ch in a:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & full
        rows.append(v)
    return rows


@command(
    "lcs",
    -3,
    RO,
    keys=(1, 2, 1),
    group=G,
    since="7.0.0",
    summary="Finds the longest common substring.",
)
def lcs(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    va, vb = db.lookup(argv[1]), db.lookup(argv[2])
    for v in (va, vb):
        if v is not None and type(v) is not bytes and type(v) is not bytearray:
            raise CommandError("ERR The specified keys must contain string values")
    a = bytes(va) if va is not None else b""
    b = bytes(vb) if vb is not None else b""
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    i = 3
    while i < len(argv):
        o = argv[i].lower()
        if o == b"idx":
            getidx = True
        elif o == b"len":
            getlen = True
        elif o == b"withmatchlen":
            withmatchlen = True
        elif o == b"minmatchlen" and i + 1 < len(argv):
            minmatchlen = max(parse_int(argv[i + 1]), 0)
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if getidx and getlen:
        raise CommandError("ERR If you want both the length and indexes, please just use IDX.")
    alen, blen = len(a), len(b)
    if (alen + 1) * (blen + 1) * 4 > c.server.cfg["proto-max-bulk-len"]:
        raise CommandError(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
        )
    rows = _lcs_rows(a, b)
    total = blen - rows[alen].bit_count()
    if getlen:
        return total

    def cell(ii: int, jj: int) -> int:  # LCS(a[:ii], b[:jj])
        return jj - (rows[ii] & ((1 << jj) - 1)).bit_count()

    # walk back like Redis's lcsCommand (same tie-breaking, same range emission)
    idx = total
    result = bytearray(idx)
    matches: list[Any] = []
    ii, jj = alen, blen
    arange_start = alen  # alen: no range open
    arange_end = brange_start = brange_end = 0
    while ii > 0 and jj > 0:
        emit = False
        if a[ii - 1] == b[jj - 1]:
            result[idx - 1] = a[ii - 1]
            if arange_start == alen:
                arange_start = arange_end = ii - 1
                brange_start = brange_end = jj - 1
            elif arange_start == ii and brange_start == jj:
                arange_start -= 1
                brange_start -= 1
            else:
                emit = True
            if arange_start == 0 or brange_start == 0:
                emit = True
            idx -= 1
            ii -= 1
            jj -= 1
        else:
            if cell(ii - 1, jj) > cell(ii, jj - 1):
                ii -= 1
            else:
                jj -= 1
            if arange_start != alen:
                emit = True
        if emit:
            mlen = arange_end - arange_start + 1
            if getidx and (minmatchlen == 0 or mlen >= minmatchlen):
                m: list[Any] = [[arange_start, arange_end], [brange_start, brange_end]]
                if withmatchlen:
                    m.append(mlen)
                matches.append(m)
            arange_start = alen
    if getidx:
        return {b"matches": matches, b"len": total}
    return bytes(result)
