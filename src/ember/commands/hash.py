"""Hash commands (Redis 7.0): HSET HSETNX HMSET HGET HMGET HGETALL HDEL HLEN HEXISTS HKEYS
HVALS HINCRBY HINCRBYFLOAT HSTRLEN HRANDFIELD HSCAN.

A hash is a ``dict[bytes, bytes]`` (insertion ordered, like Redis's listpack encoding,
so small hashes reply in the same order as Redis). Values loaded from newer RDB files
may be a :class:`FieldTTLHash` (a dict subclass); writing a field clears its TTL.
HINCRBYFLOAT is computed in long-double precision and propagated as ``HSET key field
<result>``.
"""

from __future__ import annotations

import decimal
import random
import re
from fractions import Fraction
from itertools import islice
from typing import Any

from ember import errors
from ember.commands.args import LLONG_MAX, LLONG_MIN, parse_int
from ember.commands.keys import parse_scan_options, scan_page
from ember.commands.list import bulk_array, range_long
from ember.commands.registry import Flag, command
from ember.errors import CommandError
from ember.keyspace.db import Db
from ember.keyspace.encoding import object_encoding
from ember.keyspace.scan import parse_cursor
from ember.keyspace.types import FieldTTLHash
from ember.protocol.resp import OK
from ember.server.client import Client
from ember.server.pubsub import NOTIFY_GENERIC, NOTIFY_HASH, fast_glob

G = "hash"
WD = Flag.WRITE | Flag.DENYOOM
RO = Flag.READONLY
K1 = (1, 1, 1)

# more random elements than this in one reply is refused (Redis would try to build it)
MAX_RANDOM_REPLY = 1 << 32


def _get_hash(db: Db, key: bytes) -> dict[bytes, bytes] | None:
    v = db.lookup(key)
    if v is None or type(v) is dict or type(v) is FieldTTLHash:
        return v
    raise CommandError(errors.WRONGTYPE)


def _write_looked_up(db: Db, key: bytes, h: dict[bytes, bytes] | None) -> dict[bytes, bytes]:
    """:func:`_hash_for_write` for a hash :func:`_get_hash` returned (one lookup in all,
    as Redis's single hashTypeLookupWriteOrCreate: one access for the LFU counter)."""
    if h is None:
        return _hash_for_write(db, key)
    db.will_write(key)
    return h


def _hash_for_write(db: Db, key: bytes) -> dict[bytes, bytes]:
    """hashTypeLookupWriteOrCreate: the existing hash (announced for write) or a new one."""
    h = db.lookup(key)
    if h is None:
        h = {}
        db.add(key, h)
        return h
    if type(h) is dict or type(h) is FieldTTLHash:
        db.will_write(key)
        return h
    raise CommandError(errors.WRONGTYPE)


def _clear_ttl(h: dict[bytes, bytes], fields: Any) -> None:
    if type(h) is FieldTTLHash and h.field_expires:
        for f in fields:
            h.field_expires.pop(f, None)


def _plain(h: dict[bytes, bytes]) -> dict[bytes, bytes]:
    return h if type(h) is dict else dict(h)


@command(
    "hset",
    -4,
    WD | Flag.FAST,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Creates or modifies the value of a field in a hash.",
)
def hset(c: Client, argv: list[bytes]) -> Any:
    n = len(argv)
    if n % 2:
        raise errors.wrong_args(argv[0].decode(errors="replace").lower())
    db = c.db
    key = argv[1]
    h = _hash_for_write(db, key)
    before = len(h)
    if n == 4:
        h[argv[2]] = argv[3]
    else:
        h.update(zip(argv[2::2], argv[3::2], strict=True))
    if type(h) is FieldTTLHash:
        _clear_ttl(h, argv[2::2])
    srv = c.server
    srv.dirty += (n - 2) // 2
    srv.notify(NOTIFY_HASH, b"hset", key, db.id)
    if argv[0][1] in b"sS":
        return len(h) - before
    return OK


@command(
    "hmset",
    -4,
    WD | Flag.FAST,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Sets the values of multiple fields.",
)
def hmset(c: Client, argv: list[bytes]) -> Any:
    return hset(c, argv)


@command(
    "hsetnx",
    4,
    WD | Flag.FAST,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Sets the value of a field in a hash only when the field doesn't exist.",
)
def hsetnx(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    key, field = argv[1], argv[2]
    h = _get_hash(db, key)
    if h is not None and field in h:
        return 0
    h = _write_looked_up(db, key, h)
    h[field] = argv[3]
    _clear_ttl(h, (field,))
    srv = c.server
    srv.dirty += 1
    srv.notify(NOTIFY_HASH, b"hset", key, db.id)
    return 1


@command(
    "hget",
    3,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Returns the value of a field in a hash.",
)
def hget(c: Client, argv: list[bytes]) -> Any:
    h = _get_hash(c.db, argv[1])
    if h is None:
        return None
    return h.get(argv[2])


@command(
    "hmget",
    -3,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Returns the values of all fields in a hash.",
)
def hmget(c: Client, argv: list[bytes]) -> Any:
    h = _get_hash(c.db, argv[1])
    if h is None:
        return [None] * (len(argv) - 2)
    get = h.get
    return [get(f) for f in argv[2:]]


@command(
    "hgetall",
    2,
    RO,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Returns all fields and values in a hash.",
)
def hgetall(c: Client, argv: list[bytes]) -> Any:
    h = _get_hash(c.db, argv[1])
    if h is None:
        return {}
    if len(h) >= 4:
        flat: list[bytes] = [b""] * (2 * len(h))
        flat[0::2] = h.keys()
        flat[1::2] = h.values()
        r = bulk_array(flat, b"%" if c.resp3 else b"*")
        if r is not None:
            return r
    return _plain(h)


@command("hkeys", 2, RO, keys=K1, group=G, since="2.0.0", summary="Returns all fields in a hash.")
def hkeys(c: Client, argv: list[bytes]) -> Any:
    h = _get_hash(c.db, argv[1])
    return [] if h is None else bulk_array(list(h))


@command("hvals", 2, RO, keys=K1, group=G, since="2.0.0", summary="Returns all values in a hash.")
def hvals(c: Client, argv: list[bytes]) -> Any:
    h = _get_hash(c.db, argv[1])
    return [] if h is None else bulk_array(list(h.values()))


@command(
    "hlen",
    2,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Returns the number of fields in a hash.",
)
def hlen(c: Client, argv: list[bytes]) -> Any:
    h = _get_hash(c.db, argv[1])
    return 0 if h is None else len(h)


@command(
    "hexists",
    3,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Determines whether a field exists in a hash.",
)
def hexists(c: Client, argv: list[bytes]) -> Any:
    h = _get_hash(c.db, argv[1])
    return 1 if h is not None and argv[2] in h else 0


@command(
    "hstrlen",
    3,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="3.2.0",
    summary="Returns the length of the value of a field.",
)
def hstrlen(c: Client, argv: list[bytes]) -> Any:
    h = _get_hash(c.db, argv[1])
    if h is None:
        return 0
    v = h.get(argv[2])
    return 0 if v is None else len(v)


@command(
    "hdel",
    -3,
    Flag.WRITE | Flag.FAST,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
)
def hdel(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    h = _get_hash(db, key)
    if h is None:
        return 0
    deleted = 0
    for f in argv[2:]:
        if f in h:
            if not deleted:
                db.will_write(key)
            del h[f]
            deleted += 1
    if not deleted:
        return 0
    _clear_ttl(h, argv[2:])
    srv = c.server
    srv.dirty += deleted
    srv.notify(NOTIFY_HASH, b"hdel", key, db.id)
    if not h:
        db.delete(key)
        srv.notify(NOTIFY_GENERIC, b"del", key, db.id)
    return deleted


@command(
    "hincrby",
    4,
    WD | Flag.FAST,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
)
def hincrby(c: Client, argv: list[bytes]) -> Any:
    incr = parse_int(argv[3])
    db = c.db
    key, field = argv[1], argv[2]
    h = _get_hash(db, key)
    cur = 0
    if h is not None:
        old = h.get(field)
        if old is not None:
            cur = parse_int(old, "ERR hash value is not an integer")
    new = cur + incr
    if new > LLONG_MAX or new < LLONG_MIN:
        raise CommandError(errors.OVERFLOW)
    h = _write_looked_up(db, key, h)
    h[field] = b"%d" % new
    _clear_ttl(h, (field,))
    srv = c.server
    srv.dirty += 1
    srv.notify(NOTIFY_HASH, b"hincrby", key, db.id)
    return new


# --------------------------------------------------------------- x87 long double emulation
#
# Redis computes HINCRBYFLOAT in ``long double`` (x86-64: 80-bit extended, 64-bit
# significand) and prints ``%.17Lf`` with trailing zeros removed. Python has no such
# type, so values are exact Fractions rounded to what the FPU would hold.

_LD_MANT = 64
_LD_MIN_EXP = -16382 - 63  # exponent of the smallest subnormal step
_LD_MAX_EXP2 = 16384  # values >= 2**16384 overflow
_DEC_RE = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HEX_RE = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?")
_INF_RE = re.compile(rb"[+-]?(?:inf|infinity)", re.I)


class _Inf(Exception):
    pass


def _ld_round(q: Fraction) -> Fraction:
    """Round an exact value to the nearest long double (ties to even); _Inf on overflow."""
    if q == 0:
        return Fraction(0)
    neg = q < 0
    n, d = abs(q.numerator), q.denominator
    e = n.bit_length() - d.bit_length() - _LD_MANT
    # find e with 2**63 <= n / (d * 2**e) < 2**64
    while True:
        num, den = (n, d << e) if e >= 0 else (n << -e, d)
        m = num // den
        if m >= 1 << _LD_MANT:
            e += 1
        elif m < 1 << (_LD_MANT - 1):
            e -= 1
        else:
            break
    if e < _LD_MIN_EXP:
        e = _LD_MIN_EXP
    num, den = (n, d << e) if e >= 0 else (n << -e, d)
    m, r = divmod(num, den)
    if 2 * r > den or (2 * r == den and m & 1):
        m += 1
    if m == 1 << _LD_MANT:
        m >>= 1
        e += 1
    if m and m.bit_length() + e > _LD_MAX_EXP2:
        raise _Inf
    v = Fraction(m << e) if e >= 0 else Fraction(m, 1 << -e)
    return -v if neg else v


def ld_parse(b: bytes, err: str = errors.NOT_FLOAT) -> Fraction | float:
    """``string2ld``: strtold on the whole string (no spaces); inf allowed, NaN refused."""
    if not b or len(b) >= 5 * 1024:
        raise CommandError(err)
    if _INF_RE.fullmatch(b):
        return float("-inf") if b[0] == 45 else float("inf")
    if _DEC_RE.fullmatch(b):
        mant, _, exp = b.lower().partition(b"e")
        ipart, _, fpart = mant.lstrip(b"+-").partition(b".")
        ipart = ipart.lstrip(b"0")
        if not ipart and not fpart.strip(b"0"):
            return Fraction(0)
        # decimal order of magnitude first: refuse absurd exponents before building integers
        if ipart:
            mag = len(ipart) + int(exp or b"0")
        else:
            mag = int(exp or b"0") - (len(fpart) - len(fpart.lstrip(b"0")))
        if mag > 4934 or mag < -4952:
            raise CommandError(err)  # ERANGE: overflow to HUGE_VAL or underflow to zero
        exact = Fraction(decimal.Decimal(b.decode()))
    else:
        m = _HEX_RE.fullmatch(b)
        if m is None or not (m.group(2) or m.group(3)):
            raise CommandError(err)
        sign, ip, fp, ex = m.group(1), m.group(2), m.group(3) or b"", m.group(4)
        mant_i = int((ip + fp) or b"0", 16)
        if not mant_i:
            return Fraction(0)
        e2 = int(ex or b"0") - 4 * len(fp)
        if e2 + 4 * len(ip + fp) > _LD_MAX_EXP2 + 8:
            raise CommandError(err)
        if e2 + mant_i.bit_length() < _LD_MIN_EXP - 2:
            raise CommandError(err)
        exact = Fraction(mant_i << e2) if e2 >= 0 else Fraction(mant_i, 1 << -e2)
        if sign == b"-":
            exact = -exact
    try:
        v = _ld_round(exact)
    except _Inf:
        raise CommandError(err) from None
    if v == 0:
        raise CommandError(err)  # underflow to zero (ERANGE)
    return v


def ld_format(v: Fraction) -> bytes:
    """``ld2string(LD_STR_HUMAN)``: ``%.17Lf``, trailing zeros (and dot) removed."""
    neg = v < 0
    a = abs(v) * 10**17
    q, r = divmod(a.numerator, a.denominator)
    if 2 * r > a.denominator or (2 * r == a.denominator and q & 1):
        q += 1
    digits = str(decimal.Decimal(q)).rjust(18, "0")  # no int->str digit limit
    text = digits[:-17] + "." + digits[-17:]
    text = text.rstrip("0").rstrip(".")
    if neg and text != "0":
        text = "-" + text
    return text.encode()


@command(
    "hincrbyfloat",
    4,
    WD | Flag.FAST,
    keys=K1,
    group=G,
    since="2.6.0",
    summary="Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
)
def hincrbyfloat(c: Client, argv: list[bytes]) -> Any:
    incr = ld_parse(argv[3])
    if isinstance(incr, float):
        raise CommandError("ERR value is NaN or Infinity")
    db = c.db
    key, field = argv[1], argv[2]
    h = _get_hash(db, key)
    cur: Fraction | float = Fraction(0)
    if h is not None:
        old = h.get(field)
        if old is not None:
            cur = ld_parse(old, "ERR hash value is not a float")
    if isinstance(cur, float):
        raise CommandError(errors.INCR_NAN)
    try:
        new = _ld_round(cur + incr)
    except _Inf:
        raise CommandError(errors.INCR_NAN) from None
    text = ld_format(new)
    h = _write_looked_up(db, key, h)
    h[field] = text
    _clear_ttl(h, (field,))
    srv = c.server
    srv.dirty += 1
    srv.notify(NOTIFY_HASH, b"hincrbyfloat", key, db.id)
    c.prop_argv = [b"HSET", key, field, text]
    return text


# ------------------------------------------------------------------------------ random


def _random_key(h: dict[bytes, bytes]) -> bytes:
    n = len(h)
    if n <= 4096:
        return random.choice(list(h))
    return next(islice(h, random.randrange(n), None))


@command(
    "hrandfield",
    -2,
    RO | Flag.RANDOM,
    keys=K1,
    group=G,
    since="6.2.0",
    summary="Returns one or more random fields from a hash.",
)
def hrandfield(c: Client, argv: list[bytes]) -> Any:
    n = len(argv)
    if n == 2:
        h = _get_hash(c.db, argv[1])
        if h is None:
            return None
        return _random_key(h)
    count = range_long(argv[2], -LLONG_MAX, LLONG_MAX)
    withvalues = False
    if n > 4 or (n == 4 and argv[3].lower() != b"withvalues"):
        raise CommandError(errors.SYNTAX)
    if n == 4:
        withvalues = True
        if count < -LLONG_MAX // 2 or count > LLONG_MAX // 2:
            raise CommandError("ERR value is out of range")
    h = _get_hash(c.db, argv[1])
    if h is None or count == 0:
        return []
    if count < 0 or count == 1:
        k = -count if count < 0 else 1
        if k > MAX_RANDOM_REPLY:
            raise CommandError("ERR value is out of range")
        picked = random.choices(list(h), k=k) if k > 1 else [_random_key(h)]
    elif count >= len(h):
        picked = list(h)
    else:
        picked = random.sample(list(h), count)
    if not withvalues:
        return picked
    if c.resp3:
        return [[f, h[f]] for f in picked]
    out: list[bytes] = []
    for f in picked:
        out.append(f)
        out.append(h[f])
    return out


# ------------------------------------------------------------------------------ HSCAN


@command(
    "hscan",
    -3,
    RO,
    keys=K1,
    group=G,
    since="2.8.0",
    summary="Iterates over fields and values of a hash.",
)
def hscan(c: Client, argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[2])
    h = _get_hash(c.db, argv[1])
    if h is None:
        return [b"0", []]
    count, pattern, _, _ = parse_scan_options(argv, 3, False)
    match = fast_glob(pattern) if pattern is not None and pattern != b"*" else None
    if object_encoding(h, c.server.config.values) == b"listpack":
        nxt, fields = 0, list(h)
    else:
        nxt, fields = scan_page(c, cursor, h, count)
    out: list[bytes] = []
    for f in fields:
        v = h.get(f)
        if v is None or (match is not None and not match(f)):  # type: ignore[operator]
            continue
        out.append(f)
        out.append(v)
    return [b"%d" % nxt, out]
