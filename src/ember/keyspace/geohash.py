"""Geohash math as Redis does it: 52-bit interleaved scores, neighbor boxes, distances.

Coordinates are encoded on 26 steps per axis (latitude in the even bits, longitude in
the odd bits) over Redis's ranges (longitude -180..180, latitude -85.05112878..
85.05112878). All floating point operations are done in the same order as Redis so
the results (decoded coordinates, distances, chosen search boxes) are bit-identical.
"""

from __future__ import annotations

import math
from collections.abc import Callable

LON_MIN = -180.0
LON_MAX = 180.0
LAT_MIN = -85.05112878
LAT_MAX = 85.05112878
STEP_MAX = 26

D_R = math.pi / 180.0
EARTH_RADIUS = 6372797.560856
MERCATOR_MAX = 20037726.37

_U64 = (1 << 64) - 1
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA

GeoBits = tuple[int, int]  # (bits, step); (0, 0) is the "zero" (excluded) box


def _interleave64(xlo: int, ylo: int) -> int:
    """Bits of x in the even positions, bits of y in the odd ones (x, y < 2**32)."""
    x = xlo
    y = ylo
    x = (x | (x << 16)) & 0x0000FFFF0000FFFF
    y = (y | (y << 16)) & 0x0000FFFF0000FFFF
    x = (x | (x << 8)) & 0x00FF00FF00FF00FF
    y = (y | (y << 8)) & 0x00FF00FF00FF00FF
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0F
    y = (y | (y << 4)) & 0x0F0F0F0F0F0F0F0F
    x = (x | (x << 2)) & 0x3333333333333333
    y = (y | (y << 2)) & 0x3333333333333333
    x = (x | (x << 1)) & _EVEN
    y = (y | (y << 1)) & _EVEN
    return x | (y << 1)


def _deinterleave64(v: int) -> int:
    """Inverse of :func:`_interleave64`: even bits in the low word, odd in the high."""
    x = v
    y = v >> 1
    x &= _EVEN
    y &= _EVEN
    x = (x | (x >> 1)) & 0x3333333333333333
    y = (y | (y >> 1)) & 0x3333333333333333
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0F
    y = (y | (y >> 2)) & 0x0F0F0F0F0F0F0F0F
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FF
    y = (y | (y >> 4)) & 0x00FF00FF00FF00FF
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFF
    y = (y | (y >> 8)) & 0x0000FFFF0000FFFF
    x = (x | (x >> 16)) & 0x00000000FFFFFFFF
    y = (y | (y >> 16)) & 0x00000000FFFFFFFF
    return x | (y << 32)


def encode(
    lon: float,
    lat: float,
    step: int,
    lon_min: float = LON_MIN,
    lon_max: float = LON_MAX,
    lat_min: float = LAT_MIN,
    lat_max: float = LAT_MAX,
) -> int | None:
    """Geohash bits of a point on ``step`` bits per axis, None if out of range."""
    if step > 32 or step == 0:
        return None
    if lon > LON_MAX or lon < LON_MIN or lat > LAT_MAX or lat < LAT_MIN:
        return None
    if lat < lat_min or lat > lat_max or lon < lon_min or lon > lon_max:
        return None
    lat_off = (lat - lat_min) / (lat_max - lat_min)
    lon_off = (lon - lon_min) / (lon_max - lon_min)
    scale = float(1 << step)
    lat_off *= scale
    lon_off *= scale
    return _interleave64(int(lat_off) & 0xFFFFFFFF, int(lon_off) & 0xFFFFFFFF)


def score_of(lon: float, lat: float) -> int:
    """The 52-bit zset score of a (valid) point."""
    bits = encode(lon, lat, STEP_MAX)
    return 0 if bits is None else bits


Area = tuple[float, float, float, float]  # lon_min, lon_max, lat_min, lat_max


def decode(
    bits: int,
    step: int,
    lon_min: float = LON_MIN,
    lon_max: float = LON_MAX,
    lat_min: float = LAT_MIN,
    lat_max: float = LAT_MAX,
) -> Area:
    sep = _deinterleave64(bits & _U64)
    lat_scale = lat_max - lat_min
    lon_scale = lon_max - lon_min
    ilato = sep & 0xFFFFFFFF
    ilono = sep >> 32
    div = float(1 << step)
    return (
        lon_min + (ilono * 1.0 / div) * lon_scale,
        lon_min + (((ilono + 1) & 0xFFFFFFFF) * 1.0 / div) * lon_scale,
        lat_min + (ilato * 1.0 / div) * lat_scale,
        lat_min + (((ilato + 1) & 0xFFFFFFFF) * 1.0 / div) * lat_scale,
    )


def decode_lonlat(bits: int, step: int = STEP_MAX) -> tuple[float, float]:
    """Center of a geohash box, clamped to the valid ranges."""
    a = decode(bits, step)
    x = (a[0] + a[1]) / 2
    if x > LON_MAX:
        x = LON_MAX
    if x < LON_MIN:
        x = LON_MIN
    y = (a[2] + a[3]) / 2
    if y > LAT_MAX:
        y = LAT_MAX
    if y < LAT_MIN:
        y = LAT_MIN
    return x, y


def score_to_bits(score: float) -> int:
    """C's ``(uint64_t)double`` conversion as compiled for x86-64."""
    if score != score:
        return 0
    if score < 9223372036854775808.0:
        if score <= -9223372036854775809.0:
            return 1 << 63
        return int(score) & _U64
    if score >= 18446744073709551616.0:
        return 0
    return int(score)


# 16 interleaved bits -> their 8 even bits / 8 odd bits, for fast de-interleaving
_EVEN16: list[int] = []
_ODD16: list[int] = []


def _tables() -> None:
    ev8 = [0] * 256
    od8 = [0] * 256
    for v in range(256):
        sep = _deinterleave64(v)
        ev8[v] = sep & 0xF
        od8[v] = (sep >> 32) & 0xF
    _EVEN16.extend([ev8[v & 0xFF] | ev8[v >> 8] << 4 for v in range(65536)])
    _ODD16.extend([od8[v & 0xFF] | od8[v >> 8] << 4 for v in range(65536)])


_DECODED: dict[float, tuple[float, float]] = {}
_DECODED_MAX = 1 << 17
_LAT_SCALE = LAT_MAX - LAT_MIN
_DIV26 = float(1 << STEP_MAX)


def decode_score(score: float) -> tuple[float, float]:
    """(longitude, latitude) of a member's score (memoized)."""
    r = _DECODED.get(score)
    if r is not None:
        return r
    if 0.0 <= score < 4503599627370496.0:  # a 52-bit geohash: table-driven decode
        if not _EVEN16:
            _tables()
        b = int(score)
        ev, od = _EVEN16, _ODD16
        b0, b1, b2, b3 = b & 0xFFFF, (b >> 16) & 0xFFFF, (b >> 32) & 0xFFFF, b >> 48
        ilat = ev[b0] | ev[b1] << 8 | ev[b2] << 16 | ev[b3] << 24
        ilon = od[b0] | od[b1] << 8 | od[b2] << 16 | od[b3] << 24
        lon_lo = LON_MIN + (ilon * 1.0 / _DIV26) * 360.0
        lon_hi = LON_MIN + ((ilon + 1) * 1.0 / _DIV26) * 360.0
        lat_lo = LAT_MIN + (ilat * 1.0 / _DIV26) * _LAT_SCALE
        lat_hi = LAT_MIN + ((ilat + 1) * 1.0 / _DIV26) * _LAT_SCALE
        x = (lon_lo + lon_hi) / 2
        if x > LON_MAX:
            x = LON_MAX
        if x < LON_MIN:
            x = LON_MIN
        y = (lat_lo + lat_hi) / 2
        if y > LAT_MAX:
            y = LAT_MAX
        if y < LAT_MIN:
            y = LAT_MIN
        r = (x, y)
    else:
        r = decode_lonlat(score_to_bits(score), STEP_MAX)
    if len(_DECODED) >= _DECODED_MAX:
        _DECODED.clear()
    _DECODED[score] = r
    return r


def _move_x(bits: int, step: int, d: int) -> int:
    x = bits & _ODD
    y = bits & _EVEN
    zz = _EVEN >> (64 - step * 2)
    if d > 0:
        x = x + (zz + 1)
    else:
        x = x | zz
        x = x - (zz + 1)
    x &= _ODD >> (64 - step * 2)
    return x | y


def _move_y(bits: int, step: int, d: int) -> int:
    x = bits & _ODD
    y = bits & _EVEN
    zz = _ODD >> (64 - step * 2)
    if d > 0:
        y = y + (zz + 1)
    else:
        y = y | zz
        y = y - (zz + 1)
    y &= _EVEN >> (64 - step * 2)
    return x | y


def neighbors(bits: int, step: int) -> dict[str, int]:
    e = _move_x(bits, step, 1)
    w = _move_x(bits, step, -1)
    return {
        "east": e,
        "west": w,
        "south": _move_y(bits, step, -1),
        "north": _move_y(bits, step, 1),
        "north_west": _move_y(w, step, 1),
        "north_east": _move_y(e, step, 1),
        "south_east": _move_y(e, step, -1),
        "south_west": _move_y(w, step, -1),
    }


def _cos(x: float) -> float:
    return math.cos(x) if math.isfinite(x) else math.nan


def _sin(x: float) -> float:
    return math.sin(x) if math.isfinite(x) else math.nan


def _asin(x: float) -> float:
    return math.asin(x) if -1.0 <= x <= 1.0 else math.nan


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 else math.nan


def estimate_steps(range_meters: float, lat: float) -> int:
    if range_meters == 0:
        return 26
    step = 1
    for _ in range(4096):
        if not range_meters < MERCATOR_MAX:
            break
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    if step < 1:
        step = 1
    if step > 26:
        step = 26
    return step


class Shape:
    """A search area: circle (radius) or box (width x height), in ``conversion`` units."""

    __slots__ = ("lon", "lat", "circle", "radius", "width", "height", "conversion")

    def __init__(self) -> None:
        self.lon = 0.0
        self.lat = 0.0
        self.circle = True
        self.radius = 0.0
        self.width = 0.0
        self.height = 0.0
        self.conversion = 0.0

    def bounding_box(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat)."""
        lon, lat = self.lon, self.lat
        if self.circle:
            height = self.conversion * self.radius
            width = self.conversion * self.radius
        else:
            height = self.conversion * (self.height / 2)
            width = self.conversion * (self.width / 2)
        lat_delta = (height / EARTH_RADIUS) / D_R
        top = (width / EARTH_RADIUS / _cos((lat + lat_delta) * D_R)) / D_R
        bottom = (width / EARTH_RADIUS / _cos((lat - lat_delta) * D_R)) / D_R
        delta = bottom if lat < 0 else top
        return lon - delta, lat - lat_delta, lon + delta, lat + lat_delta

    def boxes(self) -> list[GeoBits]:
        """The 9 boxes to scan: center, N, S, E, W, NE, NW, SE, SW; (0, 0) = skipped."""
        min_lon, min_lat, max_lon, max_lat = self.bounding_box()
        if self.circle:
            radius_m = self.radius
        else:
            radius_m = _sqrt(
                (self.width / 2) * (self.width / 2) + (self.height / 2) * (self.height / 2)
            )
        radius_m *= self.conversion
        steps = estimate_steps(radius_m, self.lat)
        h = encode(self.lon, self.lat, steps) or 0
        nb = neighbors(h, steps)
        area = decode(h, steps)
        decrease = False
        if decode(nb["north"], steps)[3] < max_lat:
            decrease = True
        if decode(nb["south"], steps)[2] > min_lat:
            decrease = True
        if decode(nb["east"], steps)[1] < max_lon:
            decrease = True
        if decode(nb["west"], steps)[0] > min_lon:
            decrease = True
        if steps > 1 and decrease:
            steps -= 1
            h = encode(self.lon, self.lat, steps) or 0
            nb = neighbors(h, steps)
            area = decode(h, steps)
        zero: set[str] = set()
        if steps >= 2:
            if area[2] < min_lat:
                zero.update(("south", "south_west", "south_east"))
            if area[3] > max_lat:
                zero.update(("north", "north_east", "north_west"))
            if area[0] < min_lon:
                zero.update(("west", "south_west", "north_west"))
            if area[1] > max_lon:
                zero.update(("east", "south_east", "north_east"))
        out: list[GeoBits] = [(h, steps)]
        for name in (
            "north",
            "south",
            "east",
            "west",
            "north_east",
            "north_west",
            "south_east",
            "south_west",
        ):
            out.append((0, 0) if name in zero else (nb[name], steps))
        return out

    def matcher(self) -> Callable[[float, float], float | None]:
        """``contains`` specialised for this shape (center terms precomputed)."""
        if not self.circle:
            return self.contains
        clon, clat = self.lon, self.lat
        limit = self.radius * self.conversion
        lon1r = clon * D_R
        lat1r = clat * D_R
        cos1 = _cos(lat1r)
        sin = math.sin
        cos = math.cos
        asin = math.asin
        sqrt = math.sqrt
        r2 = 2.0 * EARTH_RADIUS

        def inside(lon: float, lat: float) -> float | None:
            lat2r = lat * D_R
            v = sin((lon * D_R - lon1r) / 2)
            if v == 0.0:
                d = EARTH_RADIUS * abs(lat2r - lat1r)
            else:
                u = sin((lat2r - lat1r) / 2)
                a = u * u + cos1 * cos(lat2r) * v * v
                d = r2 * asin(sqrt(a)) if a <= 1.0 else math.nan
            if d > limit:
                return None
            return d

        return inside

    def contains(self, lon: float, lat: float) -> float | None:
        """Distance (meters) from the center if the point is inside, else None."""
        if self.circle:
            d = distance(self.lon, self.lat, lon, lat)
            if d > self.radius * self.conversion:
                return None
            return d
        width_m = self.width * self.conversion
        height_m = self.height * self.conversion
        if lat_distance(lat, self.lat) > height_m / 2:
            return None
        if distance(lon, lat, self.lon, lat) > width_m / 2:
            return None
        return distance(self.lon, self.lat, lon, lat)


def box_score_range(bits: int, step: int) -> tuple[int, int]:
    """zset scores [min, max) of every point inside a geohash box."""
    shift = 52 - step * 2
    return (bits << shift) & _U64, ((bits + 1) << shift) & _U64


def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS * abs(lat2 * D_R - lat1 * D_R)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine great-circle distance in meters (Redis's formula and constants)."""
    lon1r = lon1 * D_R
    lon2r = lon2 * D_R
    v = _sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r = lat1 * D_R
    lat2r = lat2 * D_R
    u = _sin((lat2r - lat1r) / 2)
    a = u * u + _cos(lat1r) * _cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS * _asin(_sqrt(a))


_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def geohash_string(score: float) -> bytes | None:
    """Standard 11-character geohash of a member's score (re-encoded on -90..90)."""
    lon, lat = decode_score(score)
    bits = encode(lon, lat, 26, LON_MIN, LON_MAX, -90.0, 90.0)
    if bits is None:
        bits = 0
    out = bytearray(11)
    for i in range(11):
        idx = 0 if i == 10 else (bits >> (52 - (i + 1) * 5)) & 0x1F
        out[i] = _ALPHABET[idx]
    return bytes(out)
