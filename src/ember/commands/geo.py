"""Geo commands (Redis 7.0): GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH GEOSEARCHSTORE
GEORADIUS GEORADIUSBYMEMBER and the _RO variants.

A geo set is a sorted set whose scores are 52-bit interleaved geohashes
(:mod:`ember.keyspace.geohash`). Searches scan the same 9 geohash boxes Redis picks
(center + 8 neighbors, some skipped), in the same order, with the same distance
formula, so results, their order, and the printed distances/coordinates match.
GEOADD is propagated as the equivalent ZADD, like Redis does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ember import errors
from ember.commands.args import parse_int
from ember.commands.registry import Flag, command
from ember.commands.zset import parse_add_flags
from ember.errors import CommandError
from ember.keyspace import geohash as gh
from ember.keyspace.types import ZSet
from ember.protocol.resp import NULL_ARRAY, Raw
from ember.server.client import Client
from ember.server.pubsub import NOTIFY_GENERIC, NOTIFY_ZSET

G = "geo"
K1 = (1, 1, 1)
W = Flag.WRITE | Flag.DENYOOM
RO = Flag.READONLY

UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}
UNIT_ERR = "ERR unsupported unit provided. please use M, KM, FT, MI"
MEMBER_ERR = "ERR could not decode requested zset member"
_LLONG_MIN = -(1 << 63)


# ------------------------------------------------------------------------ arguments

_INF_WORDS = (b"inf", b"infinity")
_SPACES = b" \t\n\r\x0b\x0c"


def parse_double(b: bytes, err: str = errors.NOT_FLOAT) -> float:
    """``string2d``: strtod of the whole string; NaN and overflow/underflow refused."""
    if not b or b[0] in _SPACES or b[-1] in _SPACES or ord("_") in b:
        raise CommandError(err)
    t = b.lower().lstrip(b"+-")
    ishex = t.startswith(b"0x") and len(b) - len(t) <= 1
    try:
        v = float.fromhex(b.decode("ascii")) if ishex else float(b)
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise CommandError(err) from None
    if v != v:
        raise CommandError(err)
    if math.isinf(v):
        if t not in _INF_WORDS:
            raise CommandError(err)
    elif v == 0.0:
        if ishex:
            mant = t[2:].split(b"p", 1)[0]
            nonzero = any(ch in b"123456789abcdef" for ch in mant)
        else:
            mant = t.split(b"e", 1)[0]
            nonzero = any(ch in b"123456789" for ch in mant)
        if nonzero:
            raise CommandError(err)
    return v


def _lonlat(a: bytes, b: bytes) -> tuple[float, float]:
    lon = parse_double(a)
    lat = parse_double(b)
    if lon < gh.LON_MIN or lon > gh.LON_MAX or lat < gh.LAT_MIN or lat > gh.LAT_MAX:
        raise CommandError(f"ERR invalid longitude,latitude pair {lon:f},{lat:f}")
    return lon, lat


def _unit(arg: bytes) -> float:
    u = UNITS.get(arg.lower())
    if u is None:
        raise CommandError(UNIT_ERR)
    return u


def _distance_arg(num: bytes, unit: bytes) -> tuple[float, float]:
    d = parse_double(num, "ERR need numeric radius")
    if d < 0:
        raise CommandError("ERR radius cannot be negative")
    return d, _unit(unit)


def _box_arg(w: bytes, h: bytes, unit: bytes) -> tuple[float, float, float]:
    width = parse_double(w, "ERR need numeric width")
    height = parse_double(h, "ERR need numeric height")
    if height < 0 or width < 0:
        raise CommandError("ERR height or width cannot be negative")
    return width, height, _unit(unit)


def _zset(c: Client, key: bytes) -> ZSet | None:
    z = c.db.lookup(key)
    if z is not None and type(z) is not ZSet:
        raise CommandError(errors.WRONGTYPE)
    return z


# ------------------------------------------------------------------------ replies


def format_distance(d: float) -> bytes:
    """``fixedpoint_d2string(d, 4)``: llrint(d * 10000) printed with 4 decimals."""
    if d == 0:
        return b"0.0000"
    x = d * 10000.0
    if not math.isfinite(x) or not -9.2233720368547758e18 <= x < 9.2233720368547758e18:
        sv = _LLONG_MIN
    else:
        sv = round(x)
    neg = sv < 0
    val = -sv if neg else sv
    return b"%s%d.%04d" % (b"-" if neg else b"", val // 10000, val % 10000)


def format_human(x: float) -> bytes:
    """``ld2string(LD_STR_HUMAN)``: ``%.17Lf`` without trailing zeros."""
    if math.isinf(x):
        return b"inf" if x > 0 else b"-inf"
    s = b"%.17f" % x
    s = s.rstrip(b"0")
    if s.endswith(b"."):
        s = s[:-1]
    if s == b"-0":
        s = b"0"
    return s


def _coord(c: Client, x: float) -> Any:
    s = format_human(x)
    return Raw(b"," + s + b"\r\n") if c.resp3 else s


# ------------------------------------------------------------------------ GEOADD

_GEOADD_OPTS = frozenset((b"nx", b"xx", b"ch"))


@command(
    "geoadd",
    -5,
    W,
    keys=K1,
    group=G,
    since="3.2.0",
    summary="Add one or more geospatial items in the geospatial index represented using a sorted set",
)
def geoadd(c: Client, argv: list[bytes]) -> Any:
    flags, i = parse_add_flags(argv, _GEOADD_OPTS)
    xx, nx, ch = b"xx" in flags, b"nx" in flags, b"ch" in flags
    n = len(argv)
    if (n - i) % 3 or (xx and nx) or n == i:
        raise CommandError(errors.SYNTAX)
    items: list[tuple[float, bytes]] = []
    zadd_argv = [b"ZADD", *argv[1:i]]
    for j in range(i, n, 3):
        lon, lat = _lonlat(argv[j], argv[j + 1])
        bits = gh.score_of(lon, lat)
        items.append((float(bits), argv[j + 2]))
        zadd_argv.append(b"%d" % bits)
        zadd_argv.append(argv[j + 2])
    db = c.db
    key = argv[1]
    z = _zset(c, key)
    created = z is None
    if z is None:
        if xx:
            return 0
        z = ZSet()
    added = updated = 0
    touched = created
    scores = z.scores
    for score, member in items:
        old = scores.get(member)
        if old is None:
            if xx:
                continue
        elif nx or old == score:
            continue
        if not touched:
            db.will_write(key)
            touched = True
        z.add(member, score)
        if old is None:
            added += 1
        else:
            updated += 1
    if created:
        db.add(key, z)
    elif added:
        db.signal_ready(key)
    srv = c.server
    if added or updated:
        srv.dirty += added + updated
        srv.notify(NOTIFY_ZSET, b"zadd", key, db.id)
    c.prop_argv = zadd_argv
    return added + updated if ch else added


# ------------------------------------------------------------------------ lookups


@command(
    "geodist",
    -4,
    RO,
    keys=K1,
    group=G,
    since="3.2.0",
    summary="Returns the distance between two members of a geospatial index",
)
def geodist(c: Client, argv: list[bytes]) -> Any:
    to_meter = 1.0
    if len(argv) == 5:
        to_meter = _unit(argv[4])
    elif len(argv) > 5:
        raise CommandError(errors.SYNTAX)
    z = _zset(c, argv[1])
    if z is None:
        return None
    s1 = z.scores.get(argv[2])
    s2 = z.scores.get(argv[3])
    if s1 is None or s2 is None:
        return None
    lon1, lat1 = gh.decode_score(s1)
    lon2, lat2 = gh.decode_score(s2)
    return format_distance(gh.distance(lon1, lat1, lon2, lat2) / to_meter)


@command(
    "geohash",
    -2,
    RO,
    keys=K1,
    group=G,
    since="3.2.0",
    summary="Returns members of a geospatial index as standard geohash strings",
)
def geohash(c: Client, argv: list[bytes]) -> Any:
    z = _zset(c, argv[1])
    out: list[Any] = []
    for member in argv[2:]:
        s = z.scores.get(member) if z is not None else None
        out.append(None if s is None else gh.geohash_string(s))
    return out


@command(
    "geopos",
    -2,
    RO,
    keys=K1,
    group=G,
    since="3.2.0",
    summary="Returns longitude and latitude of members of a geospatial index",
)
def geopos(c: Client, argv: list[bytes]) -> Any:
    z = _zset(c, argv[1])
    out: list[Any] = []
    for member in argv[2:]:
        s = z.scores.get(member) if z is not None else None
        if s is None:
            out.append(NULL_ARRAY)
        else:
            lon, lat = gh.decode_score(s)
            out.append([_coord(c, lon), _coord(c, lat)])
    return out


# ------------------------------------------------------------------------ searches

_COORDS = 1  # search around coordinates (GEORADIUS)
_MEMBER = 2  # search around a member (GEORADIUSBYMEMBER)
_NOSTORE = 4  # no STORE/STOREDIST (_RO variants)
_SEARCH = 8  # GEOSEARCH syntax
_SEARCHSTORE = 16  # GEOSEARCHSTORE

_SORT_NONE, _SORT_ASC, _SORT_DESC = 0, 1, 2


def _collect(
    z: ZSet, shape: gh.Shape, limit: int
) -> list[tuple[float, bytes, float, float, float]]:
    """Points inside the shape: (distance m, member, score, lon, lat), Redis's order."""
    found: list[tuple[float, bytes, float, float, float]] = []
    boxes = shape.boxes()
    index = z.index
    last: tuple[int, int] | None = None
    decode = gh.decode_score
    inside = shape.matcher()
    append = found.append
    # members at the same position are adjacent in the index: computed once
    prev = -1.0
    d: float | None = None
    lon = lat = 0.0
    for i, box in enumerate(boxes):
        if box == (0, 0):
            continue
        if last is not None and box == last:
            continue
        if found and limit and len(found) >= limit:
            break
        lo, hi = gh.box_score_range(*box)
        flo, fhi = float(lo), float(hi)
        for score, member in index.irange((flo,)):
            if score >= fhi:
                break
            if score != prev:
                prev = score
                lon, lat = decode(score)
                d = inside(lon, lat)
            if d is not None:
                append((d, member, score, lon, lat))
                if limit and len(found) >= limit:
                    break
        if i > 0:
            last = box
    return found


def _dist_key(p: tuple[float, bytes, float, float, float]) -> float:
    return p[0]


def _partial_sort(items: list[Any], last: int, desc: bool) -> None:
    """Order ``items[0..last]`` by distance as Redis's ``pqsort`` does.

    A Bentley-McIlroy quicksort (median-of-3 / ninther pivot, 3-way partition that
    parks equal keys at both ends) that skips partitions outside the wanted range.
    Elements at equal distance end up in the same order as in Redis.
    """
    keys = [-p[0] if desc else p[0] for p in items]

    def cmp(i: int, j: int) -> int:
        a, b = keys[i], keys[j]
        return 1 if a > b else (0 if a == b else -1)

    def swap(i: int, j: int) -> None:
        keys[i], keys[j] = keys[j], keys[i]
        items[i], items[j] = items[j], items[i]

    def med3(x: int, y: int, z: int) -> int:
        if cmp(x, y) < 0:
            return y if cmp(y, z) < 0 else (z if cmp(x, z) < 0 else x)
        return y if cmp(y, z) > 0 else (x if cmp(x, z) < 0 else z)

    stack = [(0, len(items))]
    for _ in range(4 * len(items) + 4):
        if not stack:
            break
        a, n = stack.pop()
        if n < 7:
            for m in range(a + 1, a + n):
                k = m
                while k > a and keys[k - 1] > keys[k]:
                    swap(k, k - 1)
                    k -= 1
            continue
        pm = a + n // 2
        if n > 7:
            pl = a
            pn = a + n - 1
            if n > 40:
                d = n // 8
                pl = med3(pl, pl + d, pl + 2 * d)
                pm = med3(pm - d, pm, pm + d)
                pn = med3(pn - 2 * d, pn - d, pn)
            pm = med3(pl, pm, pn)
        swap(a, pm)
        piv = keys[a]
        pa = pb = a + 1
        pc = pd = a + n - 1
        for _ in range(n + 1):
            while pb <= pc:
                x = keys[pb]
                if x > piv:
                    break
                if x == piv:
                    if pa != pb:
                        swap(pa, pb)
                    pa += 1
                pb += 1
            while pb <= pc:
                x = keys[pc]
                if not (x > piv or x == piv):
                    break
                if x == piv:
                    if pc != pd:
                        swap(pc, pd)
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            swap(pb, pc)
            pb += 1
            pc -= 1
        pn = a + n
        r = min(pa - a, pb - pa)
        for i in range(r):
            swap(a + i, pb - r + i)
        r = min(pd - pc, pn - pd - 1)
        for i in range(r):
            swap(pb + i, pn - r + i)
        r = pb - pa
        if r > 1 and last >= a:
            stack.append((a, r))
        r = pd - pc
        if r > 1 and last >= pn - r:
            stack.append((pn - r, r))


def _georadius(c: Client, argv: list[bytes], src: int, flags: int) -> Any:
    db = c.db
    z = _zset(c, argv[src])
    storekey: bytes | None = None
    storedist = False
    shape = gh.Shape()
    if flags & _COORDS:
        base = 6
        shape.lon, shape.lat = _lonlat(argv[2], argv[3])
        shape.radius, shape.conversion = _distance_arg(argv[4], argv[5])
    elif flags & _MEMBER and z is None:
        base = 5
    elif flags & _MEMBER:
        base = 5
        s = z.scores.get(argv[2]) if z is not None else None
        if s is None:
            raise CommandError(MEMBER_ERR)
        shape.lon, shape.lat = gh.decode_score(s)
        shape.radius, shape.conversion = _distance_arg(argv[3], argv[4])
    else:
        base = 2
        if flags & _SEARCHSTORE:
            base = 3
            storekey = argv[1]
    withdist = withhash = withcoord = False
    frommember = fromloc = byradius = bybox = False
    sort = _SORT_NONE
    any_ = False
    count = 0
    n = len(argv)
    remaining = n - base
    i = 0
    search = bool(flags & _SEARCH)
    while i < remaining:
        arg = argv[base + i].lower()
        if arg == b"withdist":
            withdist = True
        elif arg == b"withhash":
            withhash = True
        elif arg == b"withcoord":
            withcoord = True
        elif arg == b"any":
            any_ = True
        elif arg == b"asc":
            sort = _SORT_ASC
        elif arg == b"desc":
            sort = _SORT_DESC
        elif arg == b"count" and i + 1 < remaining:
            count = parse_int(argv[base + i + 1])
            if count <= 0:
                raise CommandError("ERR COUNT must be > 0")
            i += 1
        elif (
            arg in (b"store", b"storedist")
            and i + 1 < remaining
            and not flags & (_NOSTORE | _SEARCH)
        ):
            storekey = argv[base + i + 1]
            storedist = arg == b"storedist"
            i += 1
        elif arg == b"storedist" and search and flags & _SEARCHSTORE:
            storedist = True
        elif arg == b"frommember" and i + 1 < remaining and search and not fromloc:
            if z is not None:
                s = z.scores.get(argv[base + i + 1])
                if s is None:
                    raise CommandError(MEMBER_ERR)
                shape.lon, shape.lat = gh.decode_score(s)
            frommember = True
            i += 1
        elif arg == b"fromlonlat" and i + 2 < remaining and search and not frommember:
            shape.lon, shape.lat = _lonlat(argv[base + i + 1], argv[base + i + 2])
            fromloc = True
            i += 2
        elif arg == b"byradius" and i + 2 < remaining and search and not bybox:
            shape.radius, shape.conversion = _distance_arg(argv[base + i + 1], argv[base + i + 2])
            shape.circle = True
            byradius = True
            i += 2
        elif arg == b"bybox" and i + 3 < remaining and search and not byradius:
            shape.width, shape.height, shape.conversion = _box_arg(
                argv[base + i + 1], argv[base + i + 2], argv[base + i + 3]
            )
            shape.circle = False
            bybox = True
            i += 3
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if storekey is not None and (withdist or withhash or withcoord):
        what = "GEOSEARCHSTORE" if flags & _SEARCHSTORE else "STORE option in GEORADIUS"
        raise CommandError(
            f"ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )
    name = argv[0].decode(errors="replace")
    if search and not (frommember or fromloc):
        raise CommandError(
            f"ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )
    if search and not (byradius or bybox):
        raise CommandError(f"ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if any_ and not count:
        raise CommandError("ERR the ANY argument requires COUNT argument")
    srv = c.server
    if z is None:
        if storekey is not None:
            if db.delete(storekey):
                srv.notify(NOTIFY_GENERIC, b"del", storekey, db.id)
                srv.dirty += 1
            return 0
        return []
    if count and sort == _SORT_NONE and not any_:
        sort = _SORT_ASC
    found = _collect(z, shape, count if any_ else 0)
    if not found and storekey is None:
        return []
    if sort != _SORT_NONE:
        desc = sort == _SORT_DESC
        dists = [p[0] for p in found]
        if not count or count >= len(found) or len(set(dists)) == len(dists):
            # Redis uses libc qsort (glibc: a stable merge sort); without equal
            # distances any correct partial sort gives the same first COUNT items
            found.sort(key=_dist_key, reverse=desc)
        else:
            _partial_sort(found, count - 1, desc)
    returned = found if not count or len(found) <= count else found[:count]
    conv = shape.conversion
    if storekey is None:
        out: list[Any] = []
        nopts = withdist + withhash + withcoord
        for d, member, score, lon, lat in returned:
            if not nopts:
                out.append(member)
                continue
            item: list[Any] = [member]
            if withdist:
                item.append(format_distance(d / conv))
            if withhash:
                item.append(int(score))
            if withcoord:
                item.append([_coord(c, lon), _coord(c, lat)])
            out.append(item)
        return out
    if returned:
        dst = ZSet()
        for d, member, score, _lon, _lat in returned:
            dst.add(member, d / conv if storedist else score)
        db.set(storekey, dst)
        event = b"geosearchstore" if search else b"georadiusstore"
        srv.notify(NOTIFY_ZSET, event, storekey, db.id)
        srv.dirty += len(returned)
    elif db.delete(storekey):
        srv.notify(NOTIFY_GENERIC, b"del", storekey, db.id)
        srv.dirty += 1
    return len(returned)


def _radius_keys_from(start: int) -> Callable[[list[bytes]], list[int]]:
    """GEORADIUS* key specs: the source, then the key after the first STORE and the
    first STOREDIST keyword found from ``start`` (``COMMAND GETKEYS`` as in Redis 7.0)."""

    def keys(argv: list[bytes]) -> list[int]:
        out = [1]
        for kw in (b"store", b"storedist"):
            for i in range(start, len(argv) - 1):
                if argv[i].lower() == kw:
                    out.append(i + 1)
                    break
        return out

    return keys


@command(
    "georadius",
    -6,
    W,
    keys=K1,
    keys_fn=_radius_keys_from(6),
    group=G,
    since="3.2.0",
    summary="Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point",
    read_lookups=True,
)
def georadius(c: Client, argv: list[bytes]) -> Any:
    return _georadius(c, argv, 1, _COORDS)


@command(
    "georadiusbymember",
    -5,
    W,
    keys=K1,
    keys_fn=_radius_keys_from(5),
    group=G,
    since="3.2.0",
    summary="Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member",
    read_lookups=True,
)
def georadiusbymember(c: Client, argv: list[bytes]) -> Any:
    return _georadius(c, argv, 1, _MEMBER)


@command(
    "georadius_ro",
    -6,
    RO,
    keys=K1,
    group=G,
    since="3.2.10",
    summary="A read-only variant for GEORADIUS",
)
def georadius_ro(c: Client, argv: list[bytes]) -> Any:
    return _georadius(c, argv, 1, _COORDS | _NOSTORE)


@command(
    "georadiusbymember_ro",
    -5,
    RO,
    keys=K1,
    group=G,
    since="3.2.10",
    summary="A read-only variant for GEORADIUSBYMEMBER",
)
def georadiusbymember_ro(c: Client, argv: list[bytes]) -> Any:
    return _georadius(c, argv, 1, _MEMBER | _NOSTORE)


@command(
    "geosearch",
    -7,
    RO,
    keys=K1,
    group=G,
    since="6.2.0",
    summary="Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.",
)
def geosearch(c: Client, argv: list[bytes]) -> Any:
    return _georadius(c, argv, 1, _SEARCH)


@command(
    "geosearchstore",
    -8,
    W,
    keys=(1, 2, 1),
    group=G,
    since="6.2.0",
    summary="Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.",
    read_lookups=True,
)
def geosearchstore(c: Client, argv: list[bytes]) -> Any:
    return _georadius(c, argv, 2, _SEARCH | _SEARCHSTORE)
