"""Sorted set commands (Redis 7.0): ZADD ZINCRBY ZREM ZCARD ZCOUNT ZSCORE ZMSCORE ZRANK
ZREVRANK ZRANGE ZRANGESTORE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX
ZREVRANGEBYLEX ZLEXCOUNT ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ZUNION ZINTER
ZDIFF ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZINTERCARD ZPOPMIN ZPOPMAX ZMPOP BZPOPMIN
BZPOPMAX BZMPOP ZRANDMEMBER ZSCAN.

A zset is a :class:`~ember.keyspace.types.ZSet`: ``scores`` (member -> float) plus
``index``, a SortedList of ``(score, member)`` that orders members exactly like Redis's
skiplist (score, then bytes). Rank and score ranges are bisections on the index, so they
stay O(log n) at millions of members. Lex ranges bisect when all scores are equal (the
only case Redis defines); otherwise they reproduce Redis's listpack scan.

Scores are Python floats (C doubles); replies return floats, which the protocol layer
writes like Redis 7.0 (``%.17g`` bulk strings in RESP2, doubles in RESP3).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from typing import Any, Final

from ember import errors
from ember.commands.args import LLONG_MAX, parse_int, plain_digits
from ember.commands.keys import parse_scan_options, scan_page
from ember.commands.list import (
    block_timeout,
    bulk_array,
    numkeys_positions,
    positive_long,
    range_long,
)
from ember.commands.registry import Flag, command
from ember.errors import CommandError
from ember.keyspace.db import Db
from ember.keyspace.encoding import object_encoding
from ember.keyspace.scan import parse_cursor
from ember.keyspace.types import ZSet
from ember.protocol.resp import NULL_ARRAY, format_double
from ember.server.client import BLOCKED, Client
from ember.server.pubsub import NOTIFY_GENERIC, NOTIFY_ZSET, fast_glob

G = "sorted_set"
W = Flag.WRITE
WD = Flag.WRITE | Flag.DENYOOM
RO = Flag.READONLY
K1 = (1, 1, 1)
INF: Final = math.inf
MAX_RANDOM_REPLY: Final = 1 << 32

NAN_ERR: Final = "ERR resulting score is not a number (NaN)"
SCORE_RANGE_ERR: Final = "ERR min or max is not a float"
LEX_RANGE_ERR: Final = "ERR min or max not valid string range item"

# ------------------------------------------------------------------------------ numbers

_SPACE: Final = b" \t\n\v\f\r"
_HEX_RE = re.compile(
    rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
)


def _strtod_full(t: bytes) -> float | None:
    """strtod consuming all of ``t`` (no leading space): the value, or None if invalid.

    Overflow gives +-inf and underflow 0.0, as strtod returns them (callers check ERANGE).
    """
    if t[-1:] in (b" ", b"\t", b"\n", b"\v", b"\f", b"\r") or ord("_") in t:
        return None
    try:
        return float(t)
    except ValueError:
        pass
    if _HEX_RE.fullmatch(t) is None:
        return None
    try:
        return float.fromhex(t.decode())
    except OverflowError:
        return -INF if t[:1] == b"-" else INF


def _erange(t: bytes, v: float) -> bool:
    """strtod would set ERANGE with an infinite (overflow) or zero (underflow) result."""
    if v == 0.0:
        if not t.strip(b"+-.0"):
            return False  # written as zero ("0", "-0.0"): no underflow
        mant = t.lower()
        if mant.lstrip(b"+-").startswith(b"0x"):
            mant = mant.split(b"p")[0][mant.index(b"x") + 1 :]
        else:
            mant = mant.split(b"e")[0]
        return mant.strip(b"+-.0") != b""
    if v == INF or v == -INF:
        return t.lstrip(b"+-")[:1] not in (b"i", b"I")
    return False


def parse_double(b: bytes, err: str = errors.NOT_FLOAT) -> float:
    """``getDoubleFromObject`` (string2d): the whole string, no spaces, no NaN, no ERANGE."""
    d = plain_digits(b)  # (compiled: an integer score skips float(), strtod's x87 dance)
    if d >= 0:
        return float(d)
    if not b or b[0] in _SPACE:
        raise CommandError(err)
    try:
        v = float(b)
    except ValueError:
        v2 = _strtod_full(b)
        if v2 is None:
            raise CommandError(err) from None
        v = v2
    else:
        if b[-1] in _SPACE or ord("_") in b:
            raise CommandError(err)
    if v != v or ((v == 0.0 or v == INF or v == -INF) and _erange(b, v)):
        raise CommandError(err)
    return v


def strtod_lenient(b: bytes) -> tuple[float, bool] | None:
    """strtod(s, &eptr) with ``*eptr == '\\0'`` required (zslParseRange, SORT).

    Leading spaces are skipped, the empty string is 0, an embedded NUL ends the number.
    Returns (value, erange) or None when invalid or NaN.
    """
    s = b.split(b"\0", 1)[0]
    if not s:
        return 0.0, False
    t = s.lstrip(_SPACE)
    if not t:
        return None
    v = _strtod_full(t)
    if v is None or v != v:
        return None
    return v, (v == 0.0 or v == INF or v == -INF) and _erange(t, v)


def _score_item(b: bytes) -> tuple[float, bool]:
    if b[:1] == b"(":
        r = strtod_lenient(b[1:])
        ex = True
    else:
        r = strtod_lenient(b)
        ex = False
    if r is None:
        raise CommandError(SCORE_RANGE_ERR)
    return r[0], ex


def _score_range(bmin: bytes, bmax: bytes) -> tuple[float, bool, float, bool]:
    mn, mnex = _score_item(bmin)
    mx, mxex = _score_item(bmax)
    return mn, mnex, mx, mxex


# lex range items: (kind, value, exclusive); kind -1 is "-", +1 is "+", 0 a string
LexItem = tuple[int, bytes, bool]


def _lex_item(b: bytes) -> LexItem:
    c0 = b[:1]
    if c0 == b"+":
        if len(b) != 1:
            raise CommandError(LEX_RANGE_ERR)
        return (1, b"", True)
    if c0 == b"-":
        if len(b) != 1:
            raise CommandError(LEX_RANGE_ERR)
        return (-1, b"", True)
    if c0 == b"(":
        return (0, b[1:], True)
    if c0 == b"[":
        return (0, b[1:], False)
    raise CommandError(LEX_RANGE_ERR)


def _lex_range(bmin: bytes, bmax: bytes) -> tuple[LexItem, LexItem]:
    return _lex_item(bmin), _lex_item(bmax)


def _lex_cmp(a: LexItem, b: LexItem) -> int:
    """sdscmplex: '-' is below every string, '+' above."""
    if a[0] == b[0] and a[0] != 0:
        return 0
    if a[0] == -1 or b[0] == 1:
        return -1
    if a[0] == 1 or b[0] == -1:
        return 1
    return (a[1] > b[1]) - (a[1] < b[1])


def _gte_min(v: bytes, mn: LexItem) -> bool:
    if mn[0]:
        return mn[0] < 0
    return v > mn[1] if mn[2] else v >= mn[1]


def _lte_max(v: bytes, mx: LexItem) -> bool:
    if mx[0]:
        return mx[0] > 0
    return v < mx[1] if mx[2] else v <= mx[1]


# ------------------------------------------------------------------------------ helpers


def _get_zset(db: Db, key: bytes) -> ZSet | None:
    v = db.lookup(key)
    if v is None or type(v) is ZSet:
        return v
    raise CommandError(errors.WRONGTYPE)


def _score_span(z: ZSet, mn: float, mnex: bool, mx: float, mxex: bool) -> tuple[int, int]:
    """Index slice [lo, hi) of members whose score is in the range."""
    idx = z.index
    n = len(idx)
    if mnex:
        lo = n if mn == INF else idx.bisect_left((math.nextafter(mn, INF),))
    else:
        lo = idx.bisect_left((mn,))
    if mxex:
        hi = idx.bisect_left((mx,))
    else:
        hi = n if mx == INF else idx.bisect_left((math.nextafter(mx, INF),))
    return lo, max(lo, hi)


def _lex_span(z: ZSet, mn: LexItem, mx: LexItem, reverse: bool = False) -> tuple[int, int]:
    """Index slice [lo, hi) of the lex range, as Redis finds it (see module doc)."""
    idx = z.index
    n = len(idx)
    cmp = _lex_cmp(mn, mx)
    if not n or cmp > 0 or (cmp == 0 and (mn[2] or mx[2])):
        return 0, 0
    first, last = idx[0], idx[-1]
    if not _gte_min(last[1], mn) or not _lte_max(first[1], mx):
        return 0, 0
    if first[0] == last[0]:
        s0 = first[0]
        if mn[0]:
            lo = 0 if mn[0] < 0 else n
        else:
            lo = idx.bisect_right((s0, mn[1])) if mn[2] else idx.bisect_left((s0, mn[1]))
        if mx[0]:
            hi = n if mx[0] > 0 else 0
        else:
            hi = idx.bisect_left((s0, mx[1])) if mx[2] else idx.bisect_right((s0, mx[1]))
        return lo, max(lo, hi)
    # mixed scores: Redis's linear scan semantics (listpack encoding)
    if not reverse:
        i = 0
        while i < n and not _gte_min(idx[i][1], mn):
            i += 1
        j = i
        while j < n and _lte_max(idx[j][1], mx):
            j += 1
        return i, j
    j = n - 1
    while j >= 0 and not _lte_max(idx[j][1], mx):
        j -= 1
    i = j
    while i >= 0 and _gte_min(idx[i][1], mn):
        i -= 1
    return i + 1, j + 1


def _rank_span(n: int, start: int, end: int) -> tuple[int, int]:
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return 0, 0
    if end >= n:
        end = n - 1
    return start, end + 1


def _with_scores(c: Client, items: list[tuple[float, bytes]]) -> Any:
    if c.resp3:
        return [[m, s] for s, m in items]
    out: list[Any] = []
    for s, m in items:
        out.append(m)
        out.append(s)
    if len(out) >= 8:
        # RESP2 scores are bulk strings: pre-encode the whole reply
        out[1::2] = map(format_double, out[1::2])
        return bulk_array(out)
    return out


def _new_zset(items: Any) -> ZSet:
    """A ZSet from (score, member) pairs with distinct members."""
    z = ZSet()
    pairs = list(items)
    z.scores = {m: s for s, m in pairs}
    z.index.update(pairs)
    return z


def _listpack_zero(c: Client, z: ZSet) -> None:
    """Redis stores a listpack zset's -0.0 score as the integer 0: do the same."""
    if object_encoding(z, c.server.config.values) != b"listpack":
        return
    zscores = z.scores
    for m, s in zscores.items():
        if s == 0.0 and math.copysign(1.0, s) < 0:
            z.index.remove((s, m))
            z.index.add((0.0, m))
            zscores[m] = 0.0


def _deleted_if_empty(c: Client, db: Db, key: bytes, z: ZSet) -> bool:
    if len(z.scores):
        return False
    db.delete(key)
    c.server.notify(NOTIFY_GENERIC, b"del", key, db.id)
    return True


def _store_result(c: Client, db: Db, dst: bytes, z: ZSet, event: bytes) -> int:
    srv = c.server
    if len(z.scores):
        _listpack_zero(c, z)
        db.set(dst, z)
        srv.notify(NOTIFY_ZSET, event, dst, db.id)
        srv.dirty += 1
        return len(z.scores)
    if db.exists(dst) and db.delete(dst):
        srv.notify(NOTIFY_GENERIC, b"del", dst, db.id)
        srv.dirty += 1
    return 0


# ------------------------------------------------------------------------------ ZADD


_ZADD_OPTS: Final = frozenset((b"nx", b"xx", b"ch", b"incr", b"gt", b"lt"))


def parse_add_flags(argv: list[bytes], allowed: frozenset[bytes]) -> tuple[set[bytes], int]:
    """The leading options of ZADD / GEOADD (from ``argv[2]``, lowercased) while they are
    in ``allowed``, and the index of the first argument that is not one."""
    flags: set[bytes] = set()
    i = 2
    n = len(argv)
    while i < n:
        o = argv[i].lower()
        if o not in allowed:
            break
        flags.add(o)
        i += 1
    return flags, i


def _zadd_one(c: Client, key: bytes, score: float, m: bytes) -> int:
    """ZADD key score member without options (the common case)."""
    db = c.db
    z = db.lookup(key)
    if z is None:
        z = ZSet()
        z.scores[m] = score
        z.index.add((score, m))
        db.add(key, z)
        added = 1
    elif type(z) is ZSet:
        cur = z.scores.get(m)
        if cur is None:
            db.will_write(key)
            z.scores[m] = score
            z.index.add((score, m))
            added = 1
        elif cur != score:
            db.will_write(key)
            z.index.remove((cur, m))
            z.scores[m] = score
            z.index.add((score, m))
            added = 0
        else:
            return 0
    else:
        raise CommandError(errors.WRONGTYPE)
    if score == 0.0:
        _listpack_zero(c, z)
    srv = c.server
    srv.dirty += 1
    srv.notify(NOTIFY_ZSET, b"zadd", key, db.id)
    return added


def _zadd(c: Client, argv: list[bytes], incr: bool) -> Any:
    # (a score that starts with a digit, sign or dot is no option: no lower() needed)
    if len(argv) == 4 and not incr and (argv[2][:1] < b"A" or argv[2].lower() not in _ZADD_OPTS):
        return _zadd_one(c, argv[1], parse_double(argv[2]), argv[3])
    flags, i = parse_add_flags(argv, _ZADD_OPTS)
    nx, xx, ch, gt, lt = (
        b"nx" in flags,
        b"xx" in flags,
        b"ch" in flags,
        b"gt" in flags,
        b"lt" in flags,
    )
    incr = incr or b"incr" in flags
    n = len(argv)
    elements = n - i
    if elements % 2 or not elements:
        raise CommandError(errors.SYNTAX)
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and elements > 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    scores = [parse_double(argv[j]) for j in range(i, n, 2)]
    members = argv[i + 1 :: 2]
    db = c.db
    key = argv[1]
    z = _get_zset(db, key)
    srv = c.server
    if z is None:
        if xx:
            return None if incr else 0
        z = ZSet()
        db.add(key, z)
        announced = True
    else:
        announced = False
    added = updated = processed = 0
    score = 0.0
    zscores = z.scores
    index = z.index
    err = None
    for score, m in zip(scores, members, strict=True):
        cur = zscores.get(m)
        if cur is not None:
            if nx:
                continue
            if incr:
                score = cur + score
                if score != score:
                    err = NAN_ERR
                    break
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            processed += 1
            if score != cur:
                if not announced:
                    db.will_write(key)
                    announced = True
                index.remove((cur, m))
                zscores[m] = score
                index.add((score, m))
                updated += 1
        elif not xx:
            if not announced:
                db.will_write(key)
                announced = True
            zscores[m] = score
            index.add((score, m))
            added += 1
            processed += 1
    srv.dirty += added + updated
    if added or updated:
        if 0.0 in scores or incr:
            _listpack_zero(c, z)
        srv.notify(NOTIFY_ZSET, b"zincr" if incr else b"zadd", key, db.id)
    if err is not None:
        raise CommandError(err)
    if incr:
        return score if processed else None
    return added + updated if ch else added


@command(
    "zadd",
    -4,
    WD | Flag.FAST,
    keys=K1,
    group=G,
    since="1.2.0",
    summary="Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
)
def zadd(c: Client, argv: list[bytes]) -> Any:
    return _zadd(c, argv, False)


@command(
    "zincrby",
    4,
    WD | Flag.FAST,
    keys=K1,
    group=G,
    since="1.2.0",
    summary="Increments the score of a member in a sorted set.",
)
def zincrby(c: Client, argv: list[bytes]) -> Any:
    return _zadd(c, argv, True)


@command(
    "zrem",
    -3,
    W | Flag.FAST,
    keys=K1,
    group=G,
    since="1.2.0",
    summary="Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
)
def zrem(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    z = _get_zset(db, key)
    if z is None:
        return 0
    deleted = 0
    zscores = z.scores
    for m in argv[2:]:
        s = zscores.get(m)
        if s is not None:
            if not deleted:
                db.will_write(key)
            del zscores[m]
            z.index.remove((s, m))
            deleted += 1
            if not zscores:
                break
    if deleted:
        srv = c.server
        srv.notify(NOTIFY_ZSET, b"zrem", key, db.id)
        _deleted_if_empty(c, db, key, z)
        srv.dirty += deleted
    return deleted


# ------------------------------------------------------------------------------ reads


@command(
    "zcard",
    2,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="1.2.0",
    summary="Returns the number of members in a sorted set.",
)
def zcard(c: Client, argv: list[bytes]) -> Any:
    z = _get_zset(c.db, argv[1])
    return 0 if z is None else len(z.scores)


@command(
    "zscore",
    3,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="1.2.0",
    summary="Returns the score of a member in a sorted set.",
)
def zscore(c: Client, argv: list[bytes]) -> Any:
    z = _get_zset(c.db, argv[1])
    if z is None:
        return None
    return z.scores.get(argv[2])


@command(
    "zmscore",
    -3,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="6.2.0",
    summary="Returns the score of one or more members in a sorted set.",
)
def zmscore(c: Client, argv: list[bytes]) -> Any:
    z = _get_zset(c.db, argv[1])
    if z is None:
        return [None] * (len(argv) - 2)
    get = z.scores.get
    return [get(m) for m in argv[2:]]


def _zrank(c: Client, argv: list[bytes], reverse: bool) -> Any:
    z = _get_zset(c.db, argv[1])
    if z is None:
        return None
    s = z.scores.get(argv[2])
    if s is None:
        return None
    r = z.index.index((s, argv[2]))
    return len(z.scores) - 1 - r if reverse else r


@command(
    "zrank",
    3,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Returns the index of a member in a sorted set ordered by ascending scores.",
)
def zrank(c: Client, argv: list[bytes]) -> Any:
    return _zrank(c, argv, False)


@command(
    "zrevrank",
    3,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Returns the index of a member in a sorted set ordered by descending scores.",
)
def zrevrank(c: Client, argv: list[bytes]) -> Any:
    return _zrank(c, argv, True)


@command(
    "zcount",
    4,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Returns the count of members in a sorted set that have scores within a range.",
)
def zcount(c: Client, argv: list[bytes]) -> Any:
    mn, mnex, mx, mxex = _score_range(argv[2], argv[3])
    z = _get_zset(c.db, argv[1])
    if z is None:
        return 0
    lo, hi = _score_span(z, mn, mnex, mx, mxex)
    return hi - lo


@command(
    "zlexcount",
    4,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="2.8.9",
    summary="Returns the number of members in a sorted set within a lexicographical range.",
)
def zlexcount(c: Client, argv: list[bytes]) -> Any:
    mn, mx = _lex_range(argv[2], argv[3])
    z = _get_zset(c.db, argv[1])
    if z is None:
        return 0
    lo, hi = _lex_span(z, mn, mx)
    return hi - lo


# ------------------------------------------------------------------------------ ZRANGE family

RANK: Final = 1
SCORE: Final = 2
LEX: Final = 3


def _zrange(
    c: Client, argv: list[bytes], first: int, store: bool, rangetype: int, reverse: bool | None
) -> Any:
    key = argv[first]
    minidx, maxidx = first + 1, first + 2
    withscores = False
    offset = 0
    limit = -1
    n = len(argv)
    j = first + 3
    while j < n:
        o = argv[j].lower()
        left = n - j - 1
        if not store and o == b"withscores":
            withscores = True
        elif o == b"limit" and left >= 2:
            offset = parse_int(argv[j + 1])
            limit = parse_int(argv[j + 2])
            j += 2
        elif reverse is None and o == b"rev":
            reverse = True
        elif not rangetype and o == b"bylex":
            rangetype = LEX
        elif not rangetype and o == b"byscore":
            rangetype = SCORE
        else:
            raise CommandError(errors.SYNTAX)
        j += 1
    reverse = bool(reverse)
    rangetype = rangetype or RANK
    if limit != -1 and rangetype == RANK:
        raise CommandError(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    if withscores and rangetype == LEX:
        raise CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    if reverse and rangetype != RANK:
        minidx, maxidx = maxidx, minidx
    if rangetype == RANK:
        start = parse_int(argv[minidx])
        end = parse_int(argv[maxidx])
    elif rangetype == SCORE:
        srange = _score_range(argv[minidx], argv[maxidx])
    else:
        lrange = _lex_range(argv[minidx], argv[maxidx])
    db = c.db
    z = _get_zset(db, key)
    if z is None:
        if store:
            return _store_result(c, db, argv[1], ZSet(), b"zrangestore")
        return []
    size = len(z.scores)
    idx = z.index
    if rangetype == RANK:
        lo, hi = _rank_span(size, start, end)
        if reverse:
            lo, hi = size - hi, size - lo
        items = idx[lo:hi]
        if reverse:
            items.reverse()
    else:
        if rangetype == SCORE:
            lo, hi = _score_span(z, *srange)
        else:
            lo, hi = _lex_span(z, lrange[0], lrange[1], reverse)
        if offset < 0 or (offset > 0 and offset >= size) or limit == 0:
            items = []
        elif not reverse:
            start_i = lo + offset
            stop = hi if limit < 0 else min(hi, start_i + limit)
            items = idx[start_i:stop] if start_i < stop else []
        else:
            stop = hi - offset
            start_i = lo if limit < 0 else max(lo, stop - limit)
            items = idx[start_i:stop] if start_i < stop else []
            items.reverse()
    if store:
        return _store_result(c, db, argv[1], _new_zset(items), b"zrangestore")
    if withscores:
        return _with_scores(c, items)
    return bulk_array([m for _, m in items])


@command(
    "zrange",
    -4,
    RO,
    keys=K1,
    group=G,
    since="1.2.0",
    summary="Returns members in a sorted set within a range of indexes.",
)
def zrange(c: Client, argv: list[bytes]) -> Any:
    return _zrange(c, argv, 1, False, 0, None)


@command(
    "zrangestore",
    -5,
    WD,
    keys=(1, 2, 1),
    group=G,
    since="6.2.0",
    summary="Stores a range of members from sorted set in a key.",
    read_lookups=True,
)
def zrangestore(c: Client, argv: list[bytes]) -> Any:
    return _zrange(c, argv, 2, True, 0, None)


@command(
    "zrevrange",
    -4,
    RO,
    keys=K1,
    group=G,
    since="1.2.0",
    summary="Returns members in a sorted set within a range of indexes in reverse order.",
)
def zrevrange(c: Client, argv: list[bytes]) -> Any:
    return _zrange(c, argv, 1, False, RANK, True)


@command(
    "zrangebyscore",
    -4,
    RO,
    keys=K1,
    group=G,
    since="1.0.5",
    summary="Returns members in a sorted set within a range of scores.",
)
def zrangebyscore(c: Client, argv: list[bytes]) -> Any:
    return _zrange(c, argv, 1, False, SCORE, False)


@command(
    "zrevrangebyscore",
    -4,
    RO,
    keys=K1,
    group=G,
    since="2.2.0",
    summary="Returns members in a sorted set within a range of scores in reverse order.",
)
def zrevrangebyscore(c: Client, argv: list[bytes]) -> Any:
    return _zrange(c, argv, 1, False, SCORE, True)


@command(
    "zrangebylex",
    -4,
    RO,
    keys=K1,
    group=G,
    since="2.8.9",
    summary="Returns members in a sorted set within a lexicographical range.",
)
def zrangebylex(c: Client, argv: list[bytes]) -> Any:
    return _zrange(c, argv, 1, False, LEX, False)


@command(
    "zrevrangebylex",
    -4,
    RO,
    keys=K1,
    group=G,
    since="2.8.9",
    summary="Returns members in a sorted set within a lexicographical range in reverse order.",
)
def zrevrangebylex(c: Client, argv: list[bytes]) -> Any:
    return _zrange(c, argv, 1, False, LEX, True)


# ------------------------------------------------------------------------------ ZREMRANGEBY*


def _zremrange(c: Client, argv: list[bytes], rangetype: int, event: bytes) -> Any:
    if rangetype == RANK:
        start = parse_int(argv[2])
        end = parse_int(argv[3])
    elif rangetype == SCORE:
        srange = _score_range(argv[2], argv[3])
    else:
        lrange = _lex_range(argv[2], argv[3])
    db = c.db
    key = argv[1]
    z = _get_zset(db, key)
    if z is None:
        return 0
    if rangetype == RANK:
        lo, hi = _rank_span(len(z.scores), start, end)
    elif rangetype == SCORE:
        lo, hi = _score_span(z, *srange)
    else:
        lo, hi = _lex_span(z, *lrange)
    if lo >= hi:
        return 0
    db.will_write(key)
    idx = z.index
    zscores = z.scores
    if hi - lo == len(zscores):
        zscores.clear()
        idx.clear()
    else:
        for _, m in idx[lo:hi]:
            del zscores[m]
        del idx[lo:hi]
    srv = c.server
    srv.notify(NOTIFY_ZSET, event, key, db.id)
    _deleted_if_empty(c, db, key, z)
    srv.dirty += hi - lo
    return hi - lo


@command(
    "zremrangebyrank",
    4,
    W,
    keys=K1,
    group=G,
    since="2.0.0",
    summary="Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
)
def zremrangebyrank(c: Client, argv: list[bytes]) -> Any:
    return _zremrange(c, argv, RANK, b"zremrangebyrank")


@command(
    "zremrangebyscore",
    4,
    W,
    keys=K1,
    group=G,
    since="1.2.0",
    summary="Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
)
def zremrangebyscore(c: Client, argv: list[bytes]) -> Any:
    return _zremrange(c, argv, SCORE, b"zremrangebyscore")


@command(
    "zremrangebylex",
    4,
    W,
    keys=K1,
    group=G,
    since="2.8.9",
    summary="Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
)
def zremrangebylex(c: Client, argv: list[bytes]) -> Any:
    return _zremrange(c, argv, LEX, b"zremrangebylex")


# ------------------------------------------------------------------------------ ZUNION & co

UNION: Final = 1
INTER: Final = 2
DIFF: Final = 3
_AGG_SUM: Final = 1
_AGG_MIN: Final = 2
_AGG_MAX: Final = 3


def _src_scores(v: Any) -> dict[bytes, float]:
    """member -> score of an input (a zset, or a set whose members score 1)."""
    if type(v) is ZSet:
        return v.scores
    return dict.fromkeys(v, 1.0)


def _zsetop(
    c: Client,
    argv: list[bytes],
    dst: bytes | None,
    numkeys_idx: int,
    op: int,
    card_only: bool,
    name: str,
) -> Any:
    setnum = parse_int(argv[numkeys_idx])
    if setnum < 1:
        raise CommandError(f"ERR at least 1 input key is needed for '{name}' command")
    if setnum > len(argv) - (numkeys_idx + 1):
        raise CommandError(errors.SYNTAX)
    db = c.db
    srcs: list[Any] = []
    j = numkeys_idx + 1
    for k in argv[j : j + setnum]:
        v = db.lookup(k)
        if v is not None and type(v) is not ZSet and type(v) is not set:
            raise CommandError(errors.WRONGTYPE)
        srcs.append(v)
    j += setnum
    weights = [1.0] * setnum
    aggregate = _AGG_SUM
    withscores = False
    limit = 0
    n = len(argv)
    while j < n:
        o = argv[j].lower()
        remaining = n - j
        if op != DIFF and not card_only and remaining >= setnum + 1 and o == b"weights":
            weights = [
                parse_double(w, "ERR weight value is not a float")
                for w in argv[j + 1 : j + 1 + setnum]
            ]
            j += setnum + 1
        elif op != DIFF and not card_only and remaining >= 2 and o == b"aggregate":
            a = argv[j + 1].lower()
            if a == b"sum":
                aggregate = _AGG_SUM
            elif a == b"min":
                aggregate = _AGG_MIN
            elif a == b"max":
                aggregate = _AGG_MAX
            else:
                raise CommandError(errors.SYNTAX)
            j += 2
        elif remaining >= 1 and dst is None and not card_only and o == b"withscores":
            withscores = True
            j += 1
        elif card_only and remaining >= 2 and o == b"limit":
            limit = positive_long(argv[j + 1], "ERR LIMIT can't be negative")
            j += 2
        else:
            raise CommandError(errors.SYNTAX)
    inputs = [(len(v) if v is not None else 0, v, w) for v, w in zip(srcs, weights, strict=True)]
    if op != DIFF:
        inputs.sort(key=lambda t: t[0])  # stable, like glibc's merge-sort qsort
    result: dict[bytes, float] = {}
    if op == INTER:
        if inputs[0][0] > 0:
            first = inputs[0][1]
            w0 = inputs[0][2]
            rest = [(_src_scores(v), v is first, w) for _, v, w in inputs[1:]]
            count = 0
            for m, s0 in _src_scores(first).items():
                score = w0 * s0
                if score != score:
                    score = 0.0
                for sc, same, w in rest:
                    if same:
                        value = s0 * w
                    else:
                        got = sc.get(m)
                        if got is None:
                            break
                        value = got * w
                    if aggregate == _AGG_SUM:
                        score += value
                        if score != score:
                            score = 0.0
                    elif aggregate == _AGG_MIN:
                        score = value if value < score else score
                    else:
                        score = value if value > score else score
                else:
                    if card_only:
                        count += 1
                        if limit and count >= limit:
                            break
                    else:
                        result[m] = score
            if card_only:
                return count
        elif card_only:
            return 0
    elif op == UNION:
        for size, v, w in inputs:
            if not size:
                continue
            for m, s in _src_scores(v).items():
                score = w * s
                if score != score:
                    score = 0.0
                cur = result.get(m)
                if cur is None:
                    result[m] = score
                elif aggregate == _AGG_SUM:
                    cur += score
                    result[m] = 0.0 if cur != cur else cur
                elif aggregate == _AGG_MIN:
                    if score < cur:
                        result[m] = score
                elif score > cur:
                    result[m] = score
    else:
        first = inputs[0][1]
        if first is not None:
            others = [v for _, v, _ in inputs[1:] if v is not None]
            if not any(v is first for v in others):
                result = dict(_src_scores(first))
                for v in others:
                    for m in v.scores if type(v) is ZSet else v:
                        result.pop(m, None)
                    if not result:
                        break
    z = ZSet()
    z.scores = result
    z.index.update((s, m) for m, s in result.items())
    if dst is not None:
        event = b"zunionstore" if op == UNION else b"zinterstore" if op == INTER else b"zdiffstore"
        return _store_result(c, db, dst, z, event)
    items = list(z.index)
    if withscores:
        return _with_scores(c, items)
    return [m for _, m in items]


def _store_keys(argv: list[bytes]) -> list[int]:
    return [1, *numkeys_positions(2)(argv)]


@command(
    "zunionstore",
    -4,
    WD,
    keys=K1,
    keys_fn=_store_keys,
    group=G,
    since="2.0.0",
    summary="Stores the union of multiple sorted sets in a key.",
    read_lookups=True,
)
def zunionstore(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, argv[1], 2, UNION, False, "zunionstore")


@command(
    "zinterstore",
    -4,
    WD,
    keys=K1,
    keys_fn=_store_keys,
    group=G,
    since="2.0.0",
    summary="Stores the intersect of multiple sorted sets in a key.",
    read_lookups=True,
)
def zinterstore(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, argv[1], 2, INTER, False, "zinterstore")


@command(
    "zdiffstore",
    -4,
    WD,
    keys=K1,
    keys_fn=_store_keys,
    group=G,
    since="6.2.0",
    summary="Stores the difference of multiple sorted sets in a key.",
    read_lookups=True,
)
def zdiffstore(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, argv[1], 2, DIFF, False, "zdiffstore")


@command(
    "zunion",
    -3,
    RO,
    keys_fn=numkeys_positions(1),
    group=G,
    since="6.2.0",
    summary="Returns the union of multiple sorted sets.",
)
def zunion(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, None, 1, UNION, False, "zunion")


@command(
    "zinter",
    -3,
    RO,
    keys_fn=numkeys_positions(1),
    group=G,
    since="6.2.0",
    summary="Returns the intersect of multiple sorted sets.",
)
def zinter(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, None, 1, INTER, False, "zinter")


@command(
    "zintercard",
    -3,
    RO,
    keys_fn=numkeys_positions(1),
    group=G,
    since="7.0.0",
    summary="Returns the number of members of the intersect of multiple sorted sets.",
)
def zintercard(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, None, 1, INTER, True, "zintercard")


@command(
    "zdiff",
    -3,
    RO,
    keys_fn=numkeys_positions(1),
    group=G,
    since="6.2.0",
    summary="Returns the difference between multiple sorted sets.",
)
def zdiff(c: Client, argv: list[bytes]) -> Any:
    return _zsetop(c, argv, None, 1, DIFF, False, "zdiff")


# ------------------------------------------------------------------------------ pops

MIN: Final = 0
MAX: Final = 1
_ZPOP_EVENT: Final = (b"zpopmin", b"zpopmax")
_ZPOP_CMD: Final = (b"ZPOPMIN", b"ZPOPMAX")


def _pop_items(
    c: Client, db: Db, key: bytes, z: ZSet, where: int, count: int
) -> list[tuple[float, bytes]]:
    """Remove up to ``count`` members from one end; notifications, dirty, deletion."""
    db.will_write(key)
    idx = z.index
    n = len(idx)
    k = n if count > n else count
    if where == MIN:
        items = idx[:k]
        del idx[:k]
    else:
        items = idx[n - k :]
        items.reverse()
        del idx[n - k :]
    zscores = z.scores
    for _, m in items:
        del zscores[m]
    srv = c.server
    srv.dirty += k
    srv.notify(NOTIFY_ZSET, _ZPOP_EVENT[where], key, db.id)
    _deleted_if_empty(c, db, key, z)
    return items


def _flat(items: list[tuple[float, bytes]]) -> list[Any]:
    out: list[Any] = []
    for s, m in items:
        out.append(m)
        out.append(s)
    return out


def _nested(items: list[tuple[float, bytes]]) -> list[Any]:
    return [[m, s] for s, m in items]


def _zpop(c: Client, argv: list[bytes], where: int) -> Any:
    if len(argv) > 3:
        raise CommandError(errors.SYNTAX)
    count = positive_long(argv[2]) if len(argv) == 3 else -1
    db = c.db
    key = argv[1]
    z = _get_zset(db, key)
    if z is None or count == 0:
        return []
    items = _pop_items(c, db, key, z, where, 1 if count == -1 else count)
    if c.resp3 and count != -1:
        return _nested(items)
    return _flat(items)


@command(
    "zpopmin",
    -2,
    W | Flag.FAST,
    keys=K1,
    group=G,
    since="5.0.0",
    summary="Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
)
def zpopmin(c: Client, argv: list[bytes]) -> Any:
    return _zpop(c, argv, MIN)


@command(
    "zpopmax",
    -2,
    W | Flag.FAST,
    keys=K1,
    group=G,
    since="5.0.0",
    summary="Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
)
def zpopmax(c: Client, argv: list[bytes]) -> Any:
    return _zpop(c, argv, MAX)


def _parse_zmpop(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], int, int]:
    numkeys = range_long(argv[numkeys_idx], 1, LLONG_MAX, "ERR numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise CommandError(errors.SYNTAX)
    w = argv[where_idx].lower()
    if w == b"min":
        where = MIN
    elif w == b"max":
        where = MAX
    else:
        raise CommandError(errors.SYNTAX)
    count = -1
    j = where_idx + 1
    n = len(argv)
    while j < n:
        if count == -1 and argv[j].lower() == b"count" and j + 1 < n:
            count = range_long(argv[j + 1], 1, LLONG_MAX, "ERR count should be greater than 0")
            j += 2
        else:
            raise CommandError(errors.SYNTAX)
    return argv[numkeys_idx + 1 : where_idx], where, 1 if count == -1 else count


def _mpop_from(c: Client, db: Db, key: bytes, z: ZSet, where: int, count: int) -> list[Any]:
    items = _pop_items(c, db, key, z, where, count)
    c.prop_argv = [_ZPOP_CMD[where], key, b"%d" % len(items)]
    return [key, _nested(items)]


@command(
    "zmpop",
    -4,
    Flag.WRITE,
    keys_fn=numkeys_positions(1),
    group=G,
    since="7.0.0",
    summary="Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
)
def zmpop(c: Client, argv: list[bytes]) -> Any:
    keys, where, count = _parse_zmpop(argv, 1)
    db = c.db
    for key in keys:
        z = _get_zset(db, key)
        if z is not None:
            return _mpop_from(c, db, key, z, where, count)
    return NULL_ARRAY


def _bzpop(
    c: Client, argv: list[bytes], keys: list[bytes], where: int, timeout: float, count: int
) -> Any:
    """BZPOPMIN/BZPOPMAX (count -1) and BZMPOP (count >= 1)."""
    db = c.db

    def serve(key: bytes, z: ZSet) -> Any:
        if count != -1:
            return _mpop_from(c, db, key, z, where, count)
        s, m = _pop_items(c, db, key, z, where, 1)[0]
        c.prop_argv = [_ZPOP_CMD[where], key]
        return [key, m, s]

    for key in keys:
        z = _get_zset(db, key)
        if z is not None and len(z.scores):
            db.access(key)  # Redis's genericZpopCommand looks the key up a second time
            return serve(key, z)

    def retry() -> Any:
        st = c.blocked
        key = st.ready_key if st is not None else None
        if key is None:
            return BLOCKED
        z = db.lookup(key)
        if type(z) is not ZSet or not len(z.scores):
            return BLOCKED
        return serve(key, z)

    return c.block_on(keys, timeout, retry, NULL_ARRAY, argv)


@command(
    "bzpopmin",
    -3,
    W | Flag.NOSCRIPT | Flag.BLOCKING | Flag.FAST,
    keys=(1, -2, 1),
    group=G,
    since="5.0.0",
    summary="Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
)
def bzpopmin(c: Client, argv: list[bytes]) -> Any:
    timeout = block_timeout(argv[-1])
    return _bzpop(c, argv, argv[1:-1], MIN, timeout, -1)


@command(
    "bzpopmax",
    -3,
    W | Flag.NOSCRIPT | Flag.BLOCKING | Flag.FAST,
    keys=(1, -2, 1),
    group=G,
    since="5.0.0",
    summary="Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.",
)
def bzpopmax(c: Client, argv: list[bytes]) -> Any:
    timeout = block_timeout(argv[-1])
    return _bzpop(c, argv, argv[1:-1], MAX, timeout, -1)


@command(
    "bzmpop",
    -5,
    Flag.WRITE | Flag.BLOCKING,
    keys_fn=numkeys_positions(2),
    group=G,
    since="7.0.0",
    summary="Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
)
def bzmpop(c: Client, argv: list[bytes]) -> Any:
    keys, where, count = _parse_zmpop(argv, 2)
    timeout = block_timeout(argv[1])
    return _bzpop(c, argv, keys, where, timeout, count)


# ------------------------------------------------------------------------------ random / scan


@command(
    "zrandmember",
    -2,
    RO | Flag.RANDOM,
    keys=K1,
    group=G,
    since="6.2.0",
    summary="Returns one or more random members from a sorted set.",
)
def zrandmember(c: Client, argv: list[bytes]) -> Any:
    n = len(argv)
    if n == 2:
        z = _get_zset(c.db, argv[1])
        if z is None:
            return None
        return z.index[random.randrange(len(z.index))][1]
    count = range_long(argv[2], -LLONG_MAX, LLONG_MAX)
    withscores = False
    if n > 4 or (n == 4 and argv[3].lower() != b"withscores"):
        raise CommandError(errors.SYNTAX)
    if n == 4:
        withscores = True
        if count < -LLONG_MAX // 2 or count > LLONG_MAX // 2:
            raise CommandError("ERR value is out of range")
    z = _get_zset(c.db, argv[1])
    if z is None or count == 0:
        return []
    idx = z.index
    size = len(idx)
    if count < 0 or count == 1:
        k = -count if count < 0 else 1
        if k > MAX_RANDOM_REPLY:
            raise CommandError("ERR value is out of range")
        rr = random.randrange
        items = [idx[rr(size)] for _ in range(k)]
    elif count >= size:
        items = list(reversed(idx))  # Redis walks zsets from the tail here
    else:
        items = [idx[i] for i in random.sample(range(size), count)]
    if withscores:
        return _with_scores(c, items)
    return [m for _, m in items]


_LLONG_HALF: Final = float(LLONG_MAX // 2)  # double2ll's range check, as a double (2**62)


def _lp_score(s: float) -> bytes:
    """A score as Redis's listpack stores it (d2string: integers without exponent)."""
    if s == 0:
        return b"-0" if math.copysign(1.0, s) < 0 else b"0"
    if s.is_integer() and -_LLONG_HALF <= s <= _LLONG_HALF:
        return b"%d" % int(s)
    if s == INF:
        return b"inf"
    if s == -INF:
        return b"-inf"
    return b"%.17g" % s


def _sl_score(s: float) -> bytes:
    if s == INF:
        return b"inf"
    if s == -INF:
        return b"-inf"
    return b"%.17g" % s


@command(
    "zscan",
    -3,
    RO,
    keys=K1,
    group=G,
    since="2.8.0",
    summary="Iterates over members and scores of a sorted set.",
)
def zscan(c: Client, argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[2])
    z = _get_zset(c.db, argv[1])
    if z is None:
        return [b"0", []]
    count, pattern, _, _ = parse_scan_options(argv, 3, False)
    match: Callable[[bytes], bool] | None = None
    if pattern is not None and pattern != b"*":
        match = fast_glob(pattern)  # type: ignore[assignment]
    zscores = z.scores
    if object_encoding(z, c.server.config.values) == b"listpack":
        nxt = 0
        members = [m for _, m in z.index]
        fmt = _lp_score
    else:
        nxt, members = scan_page(c, cursor, zscores, count)
        fmt = _sl_score
    out: list[bytes] = []
    for m in members:
        s = zscores.get(m)
        if s is None or (match is not None and not match(m)):
            continue
        out.append(m)
        out.append(fmt(s))
    return [b"%d" % nxt, out]
