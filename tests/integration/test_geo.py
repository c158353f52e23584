"""Geo commands: exact differential tests against redis-server 7.0."""

from __future__ import annotations

import socket
from typing import Any

import hiredis
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import Diff
from tests.helpers.servers import ServerProcess

SICILY = [
    (13.361389, 38.115556, "Palermo"),
    (15.087269, 37.502669, "Catania"),
    (12.758489, 38.788135, "edge1"),
    (13.583333, 37.316667, "Agrigento"),
    (14.015, 37.49, "Caltanissetta"),
    (15.28, 37.08, "Siracusa"),
    (12.43, 37.8, "Marsala"),
]


def _load(d: Diff, key: str = "Sicily", points: list[tuple[float, float, str]] = SICILY) -> None:
    args: list[Any] = []
    for lon, lat, name in points:
        args += [lon, lat, name]
    d("GEOADD", key, *args)


def _zset_state(d: Diff, *keys: str) -> None:
    for k in keys:
        d("TYPE", k)
        d("ZRANGE", k, 0, -1, "WITHSCORES")
        d("TTL", k)


# ------------------------------------------------------------------ GEOADD


def test_geoadd_and_scores(diff: Diff) -> None:
    _load(diff)
    _zset_state(diff, "Sicily")
    diff("GEOADD", "Sicily", 13.361389, 38.115556, "Palermo")
    diff("GEOADD", "Sicily", "CH", 13.4, 38.1, "Palermo", 1, 1, "new")
    diff("GEOADD", "Sicily", "NX", 1, 2, "Palermo", 2, 3, "new2")
    diff("GEOADD", "Sicily", "XX", 1, 2, "Palermo", 2, 3, "new3")
    diff("GEOADD", "Sicily", "XX", "CH", 1, 3, "Palermo", 2, 3, "new3")
    diff("GEOADD", "Sicily", "ch", "nx", 5, 5, "Palermo", 6, 6, "new4")
    diff("GEOADD", "dup", 1, 1, "a", 2, 2, "a", 3, 3, "b", 3, 3, "b")
    diff("GEOADD", "dup2", "CH", 1, 1, "a", 2, 2, "a")
    diff("GEOADD", "dup3", "NX", "CH", 1, 1, "a", 2, 2, "a")
    diff("GEOADD", "nokey", "XX", 1, 1, "a")
    diff("EXISTS", "nokey")
    _zset_state(diff, "Sicily", "dup", "dup2", "dup3")


def test_geoadd_limits(diff: Diff) -> None:
    for lon, lat in [
        (180, 85.05112878),
        (-180, -85.05112878),
        (0, 0),
        (-0.0, -0.0),
        (179.99999999, 85.0511287),
        (1e-300, -1e-300),
    ]:
        diff("GEOADD", "g", lon, lat, f"{lon},{lat}")
    _zset_state(diff, "g")
    diff("GEOPOS", "g", *[m.decode() for m in diff("ZRANGE", "g", 0, -1)])


@pytest.mark.parametrize(
    "args",
    [
        (181, 0, "m"),
        (-180.0001, 0, "m"),
        (0, 85.06, "m"),
        (0, -85.05112879, "m"),
        ("inf", 0, "m"),
        (0, "-inf", "m"),
        ("abc", 0, "m"),
        (0, "1,5", "m"),
        ("nan", 0, "m"),
        ("1e999", 0, "m"),
        ("1e-999", 0, "m"),
        (" 1", 0, "m"),
        ("1 ", 0, "m"),
        ("", 0, "m"),
        ("0x10", "0x1p2", "hexok"),
        (1, 2, "a", 3),
        (1, 2, "a", 3, 4),
        ("NX", "XX", 1, 2, "a"),
        ("XX", "NX", "CH", 1, 2, "a"),
        ("GT", 1, 2, "a"),
        ("CH", "CH", "CH"),
        ("NX", 1, 2, "ok", 200, 0, "bad"),
    ],
)
def test_geoadd_errors(diff: Diff, args: tuple[Any, ...]) -> None:
    diff("GEOADD", "g", *args)
    _zset_state(diff, "g")


def test_geoadd_wrongtype_and_arity(diff: Diff) -> None:
    diff("SET", "s", "x")
    diff("GEOADD", "s", 1, 2, "a")
    diff("GEOADD", "s", 1, 200, "a")  # coordinates are checked before the type
    diff("GEOADD", "s", 1, 2)
    diff("GEOADD", "s")


# ------------------------------------------------------------------ GEOPOS / GEOHASH / GEODIST


def test_geopos_geohash_geodist(diff: Diff) -> None:
    _load(diff)
    names = [n for _, _, n in SICILY]
    diff("GEOPOS", "Sicily", *names, "missing")
    diff("GEOHASH", "Sicily", *names, "missing")
    diff("GEOPOS", "nokey", "a", "b")
    diff("GEOHASH", "nokey", "a")
    diff("GEOPOS", "Sicily")
    diff("GEOHASH", "Sicily")
    for unit in ("m", "km", "mi", "ft", "KM", "Mi"):
        diff("GEODIST", "Sicily", "Palermo", "Catania", unit)
        diff("GEODIST", "Sicily", "edge1", "Siracusa", unit)
    diff("GEODIST", "Sicily", "Palermo", "Catania")
    diff("GEODIST", "Sicily", "Palermo", "Palermo")
    diff("GEODIST", "Sicily", "Palermo", "missing")
    diff("GEODIST", "nokey", "a", "b")
    diff("GEODIST", "nokey", "a", "b", "parsec")  # unit checked first
    diff("GEODIST", "Sicily", "Palermo", "Catania", "parsec")
    diff("GEODIST", "Sicily", "Palermo", "Catania", "km", "extra")
    diff("GEODIST", "Sicily", "Palermo")
    diff("SET", "s", "x")
    diff("GEODIST", "s", "a", "b")
    diff("GEOPOS", "s", "a")
    diff("GEOHASH", "s", "a")


def test_far_points_and_poles(diff: Diff) -> None:
    pts = [
        (179.9, 0.0, "east"),
        (-179.9, 0.0, "west"),
        (0.0, 85.05, "north"),
        (0.0, -85.05, "south"),
        (90.0, 84.0, "n2"),
        (-90.0, -84.0, "s2"),
        (0.0, 0.0, "zero"),
        (180.0, 0.0, "anti"),
    ]
    _load(diff, "w", pts)
    names = [p[2] for p in pts]
    for a in names:
        for b in names:
            diff("GEODIST", "w", a, b, "km")
    diff("GEOPOS", "w", *names)
    diff("GEOHASH", "w", *names)


def test_non_geo_scores(diff: Diff) -> None:
    diff(
        "ZADD",
        "z",
        -5,
        "neg",
        1e30,
        "huge",
        4503599627370496,
        "b52",
        0.5,
        "half",
        "-inf",
        "minf",
        3,
        "three",
    )
    names = ["neg", "huge", "b52", "half", "minf", "three"]
    diff("GEOPOS", "z", *names)
    diff("GEOHASH", "z", *names)
    for a in names:
        diff("GEODIST", "z", a, "three")
    diff("GEOSEARCH", "z", "FROMLONLAT", -180, -85, "BYRADIUS", 100, "km", "WITHHASH", "ASC")


# ------------------------------------------------------------------ searches


_SEARCH_OPTS: list[tuple[Any, ...]] = [
    (),
    ("ASC",),
    ("DESC",),
    ("WITHDIST",),
    ("WITHCOORD",),
    ("WITHHASH",),
    ("WITHDIST", "WITHCOORD", "WITHHASH", "ASC"),
    ("withcoord", "withdist", "desc"),
    ("COUNT", 2),
    ("COUNT", 3, "DESC", "WITHDIST"),
    ("COUNT", 1, "ANY"),
    ("COUNT", 100, "ANY", "ASC"),
    ("COUNT", 2, "ANY", "DESC", "WITHDIST"),
    ("ANY", "COUNT", 4),
]


@pytest.mark.parametrize("opts", _SEARCH_OPTS)
def test_geosearch_options(diff: Diff, opts: tuple[Any, ...]) -> None:
    _load(diff)
    for shape in (
        ("BYRADIUS", 200, "km"),
        ("BYBOX", 400, 300, "km"),
        ("BYRADIUS", 120000, "m"),
        ("BYBOX", 90, 150, "mi"),
        ("BYRADIUS", 0, "km"),
    ):
        diff("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, *shape, *opts)
        diff("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", *shape, *opts)
    diff("GEORADIUS", "Sicily", 15, 37, 200, "km", *opts)
    diff("GEORADIUS_RO", "Sicily", 15, 37, 150, "km", *opts)
    diff("GEORADIUSBYMEMBER", "Sicily", "Catania", 100, "km", *opts)
    diff("GEORADIUSBYMEMBER_RO", "Sicily", "Catania", 300, "km", *opts)


def test_search_store(diff: Diff) -> None:
    _load(diff)
    diff("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km")
    _zset_state(diff, "dst")
    diff(
        "GEOSEARCHSTORE",
        "dst",
        "Sicily",
        "FROMLONLAT",
        15,
        37,
        "BYBOX",
        400,
        400,
        "km",
        "STOREDIST",
        "DESC",
        "COUNT",
        3,
    )
    _zset_state(diff, "dst")
    diff(
        "GEOSEARCHSTORE",
        "dst2",
        "Sicily",
        "FROMMEMBER",
        "Palermo",
        "BYRADIUS",
        1,
        "km",
        "STOREDIST",
    )
    _zset_state(diff, "dst2")
    diff("GEORADIUS", "Sicily", 15, 37, 200, "km", "STORE", "st")
    _zset_state(diff, "st")
    diff("GEORADIUS", "Sicily", 15, 37, 200, "mi", "STOREDIST", "sd", "COUNT", 2)
    _zset_state(diff, "sd")
    diff(
        "GEORADIUSBYMEMBER",
        "Sicily",
        "Palermo",
        300,
        "km",
        "STORE",
        "st",
        "STOREDIST",
        "sd2",
        "ASC",
    )
    _zset_state(diff, "st", "sd2")
    diff("SET", "st", "x", "EX", 100)
    diff("GEORADIUS", "Sicily", 0, 0, 1, "km", "STORE", "st")  # empty result deletes
    _zset_state(diff, "st")
    diff("SET", "st", "x", "EX", 100)
    diff("GEORADIUS", "nokey", 0, 0, 1, "km", "STORE", "st")  # missing source deletes
    _zset_state(diff, "st")
    diff("GEOSEARCHSTORE", "sd", "nokey", "FROMLONLAT", 0, 0, "BYRADIUS", 1, "km")
    _zset_state(diff, "sd")
    diff("GEOSEARCHSTORE", "Sicily", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", 100, "km")
    _zset_state(diff, "Sicily")


def test_search_missing_key(diff: Diff) -> None:
    diff("GEOSEARCH", "nokey", "FROMLONLAT", 0, 0, "BYRADIUS", 1, "km")
    diff("GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", 1, "km")
    diff("GEORADIUS", "nokey", 0, 0, 1, "km", "WITHDIST")
    diff("GEORADIUSBYMEMBER", "nokey", "x", 1, "km")
    diff("GEORADIUSBYMEMBER", "nokey", "x", "notanumber", "parsec")  # not parsed without a key
    diff("GEORADIUSBYMEMBER_RO", "nokey", "x", 1, "km", "STORE", "k")
    diff("GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", -1, "km")


@pytest.mark.parametrize(
    "cmd",
    [
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "FROMMEMBER", "Palermo", "BYRADIUS", 1, "km"),
        ("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km"),
        (
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "FROMMEMBER",
            "Catania",
            "BYRADIUS",
            1,
            "km",
        ),
        ("GEOSEARCH", "Sicily", "BYRADIUS", 1, "km", "ASC", "WITHDIST"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "ASC", "WITHDIST"),
        ("geosearch", "Sicily", "FROMLONLAT", 15, 37, "ASC", "WITHDIST"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "BYBOX", 1, 1, "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYBOX", 1, 1, "km", "BYRADIUS", 1, "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "ANY"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "COUNT", 0),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "COUNT", -1),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "COUNT", "x"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "COUNT"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", -1, "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", "x", "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "parsec"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYBOX", -1, 1, "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYBOX", "w", "h", "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYBOX", 1, "h", "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYBOX", 1, 1, "x"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYBOX", 1, 1),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 200, 37, "BYRADIUS", 1, "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", "a", 37, "BYRADIUS", 1, "km"),
        ("GEOSEARCH", "Sicily", "FROMMEMBER", "nobody", "BYRADIUS", 1, "km"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "STORE", "x"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "STOREDIST"),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "BOGUS"),
        ("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "WITHDIST"),
        ("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "WITHHASH"),
        ("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km", "STORE", "x"),
        ("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", 15, 37),
        ("GEORADIUS", "Sicily", 15, 37, 200, "km", "STORE", "x", "WITHDIST"),
        ("GEORADIUS", "Sicily", 15, 37, 200, "km", "STOREDIST", "x", "WITHCOORD"),
        ("GEORADIUS", "Sicily", 15, 37, 200, "km", "STORE"),
        ("GEORADIUS", "Sicily", 15, 37, 200, "km", "FROMMEMBER", "Palermo"),
        ("GEORADIUS", "Sicily", 15, 37, 200, "km", "BYRADIUS", 1, "km"),
        ("GEORADIUS", "Sicily", 15, 37, -1, "km"),
        ("GEORADIUS", "Sicily", 15, 37, 1, "parsec"),
        ("GEORADIUS", "Sicily", 15, 100, 1, "km"),
        ("GEORADIUS", "Sicily", 15, 37, 200, "km", "ANY"),
        ("GEORADIUS_RO", "Sicily", 15, 37, 200, "km", "STORE", "x"),
        ("GEORADIUS_RO", "Sicily", 15, 37, 200, "km", "STOREDIST", "x"),
        ("GEORADIUSBYMEMBER", "Sicily", "nobody", 1, "km"),
        ("GEORADIUSBYMEMBER", "Sicily", "Palermo", "x", "km"),
        ("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", 1, "km", "STORE", "x"),
        ("GEORADIUSBYMEMBER", "Sicily", "Palermo", 1, "km", "STORE", "x", "WITHHASH"),
        ("GEORADIUS", "Sicily", 15, 37, 200),
        ("GEOSEARCH", "Sicily", "FROMLONLAT", 15, 37),
    ],
)
def test_search_errors(diff: Diff, cmd: tuple[Any, ...]) -> None:
    _load(diff)
    diff(*cmd)
    diff("EXISTS", "x", "d")


def test_search_wrongtype(diff: Diff) -> None:
    diff("SET", "s", "x")
    diff("GEOSEARCH", "s", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km")
    diff("GEOSEARCH", "s", "BOGUS")  # type checked before the arguments
    diff("GEORADIUS", "s", 500, 37, 1, "km")
    diff("GEOSEARCHSTORE", "d", "s", "FROMLONLAT", 15, 37, "BYRADIUS", 1, "km")
    _load(diff)
    diff("GEOSEARCHSTORE", "s", "Sicily", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km")
    _zset_state(diff, "s")


def test_huge_radius_and_poles(diff: Diff) -> None:
    pts = [
        (float(lon), float(lat), f"p{lon}_{lat}")
        for lon in range(-180, 181, 30)
        for lat in range(-80, 81, 20)
    ]
    _load(diff, "w", pts)
    for center in ((0, 0), (179, 84), (-179, -84), (90, 85.05), (-180, 0)):
        for radius in (100, 2000, 6000, 15000, 20000, 40000):
            diff(
                "GEOSEARCH",
                "w",
                "FROMLONLAT",
                *center,
                "BYRADIUS",
                radius,
                "km",
                "ASC",
                "WITHDIST",
                "WITHCOORD",
            )
            diff(
                "GEOSEARCH",
                "w",
                "FROMLONLAT",
                *center,
                "BYBOX",
                radius,
                radius / 2,
                "km",
                "DESC",
                "WITHHASH",
            )


def test_coordinates_resp3_text(ember: ServerProcess, real_redis: ServerProcess) -> None:
    cmds = [
        ["GEOADD", "rk", "13.361389", "38.115556", "Palermo", "-0.0000001", "0", "zero"],
        ["GEOPOS", "rk", "Palermo", "zero", "nope"],
        [
            "GEOSEARCH",
            "rk",
            "FROMLONLAT",
            "13",
            "38",
            "BYRADIUS",
            "500",
            "km",
            "WITHCOORD",
            "WITHDIST",
            "ASC",
        ],
        ["GEODIST", "rk", "Palermo", "zero", "km"],
        ["DEL", "rk"],
    ]
    assert _raw_session(ember.port, cmds) == _raw_session(real_redis.port, cmds)


def _raw_session(port: int, cmds: list[list[str]]) -> list[bytes]:
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for cmd in [["HELLO", "3"], *cmds]:
            s.sendall(
                b"*%d\r\n" % len(cmd)
                + b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in cmd)
            )
            reader = hiredis.Reader()
            buf = b""
            while True:
                chunk = s.recv(65536)
                assert chunk
                buf += chunk
                reader.feed(chunk)
                if reader.gets() is not False:
                    break
            if cmd[0] != "HELLO":
                out.append(buf)
    return out


def test_events(r: redis.Redis, rr: redis.Redis) -> None:
    cmds: list[tuple[Any, ...]] = [
        ("GEOADD", "g", 1, 1, "a", 2, 2, "b"),
        ("GEOADD", "g", 1, 1, "a"),
        ("GEOSEARCHSTORE", "d", "g", "FROMLONLAT", 1, 1, "BYRADIUS", 500, "km"),
        ("GEORADIUS", "g", 1, 1, 500, "km", "STORE", "d2"),
        ("GEORADIUS", "g", 50, 50, 1, "km", "STORE", "d2"),
    ]
    got = []
    for c in (r, rr):
        c.config_set("notify-keyspace-events", "KEA")
        p = c.pubsub()
        p.psubscribe("__keyevent*__:*")
        p.get_message(timeout=1)
        for cmd in cmds:
            c.execute_command(*cmd)
        ev = []
        for _ in range(50):
            m = p.get_message(timeout=0.3)
            if m is None:
                break
            if m["type"] == "pmessage":
                ev.append((m["channel"], m["data"]))
        p.close()
        c.config_set("notify-keyspace-events", "")
        got.append(ev)
    assert got[0] == got[1]


# ------------------------------------------------------------------ randomized

_lon = st.floats(-180, 180, allow_nan=False)
_lat = st.floats(-85.05112878, 85.05112878, allow_nan=False)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    points=st.lists(st.tuples(_lon, _lat), min_size=1, max_size=40),
    center=st.tuples(_lon, _lat),
    radius=st.one_of(st.floats(0, 25000), st.sampled_from([0.0, 1.0, 500.0, 5000.0])),
    box=st.tuples(st.floats(0, 30000), st.floats(0, 30000)),
    unit=st.sampled_from(["m", "km", "mi", "ft"]),
    count=st.integers(0, 5),
)
def test_random_searches(
    diff: Diff,
    points: list[tuple[float, float]],
    center: tuple[float, float],
    radius: float,
    box: tuple[float, float],
    unit: str,
    count: int,
) -> None:
    diff("DEL", "g")
    args: list[Any] = []
    for i, (lon, lat) in enumerate(points):
        args += [repr(lon), repr(lat), f"m{i}"]
    diff("GEOADD", "g", *args)
    scale = {"m": 1000.0, "km": 1.0, "mi": 0.6, "ft": 3000.0}[unit]
    cnt: tuple[Any, ...] = ("COUNT", count) if count else ()
    opts = ("WITHDIST", "WITHCOORD", "WITHHASH", "ASC", *cnt)
    c = (repr(center[0]), repr(center[1]))
    diff("GEOSEARCH", "g", "FROMLONLAT", *c, "BYRADIUS", repr(radius * scale), unit, *opts)
    diff(
        "GEOSEARCH",
        "g",
        "FROMLONLAT",
        *c,
        "BYBOX",
        repr(box[0] * scale),
        repr(box[1] * scale),
        unit,
        *opts,
    )
    diff(
        "GEOSEARCH",
        "g",
        "FROMMEMBER",
        "m0",
        "BYRADIUS",
        repr(radius * scale),
        unit,
        "WITHDIST",
        "DESC",
    )
    diff("GEORADIUS", "g", *c, repr(radius * scale), unit, "WITHDIST", *cnt)
    diff("GEODIST", "g", "m0", f"m{len(points) - 1}", unit)
    diff("GEOPOS", "g", "m0")
    diff("GEOHASH", "g", "m0", f"m{len(points) - 1}")


def test_equal_distances_order(diff: Diff) -> None:
    """Ties keep Redis's order: stable full sort, Bentley-McIlroy partial sort for COUNT."""
    args: list[Any] = []
    for i in range(60):
        args += [10 + (i % 3) * 0.001, 10, f"m{i:02d}"]
    diff("GEOADD", "g", *args)
    for count in (1, 2, 5, 6, 7, 8, 20, 41, 59, 60, 100):
        for order in ("ASC", "DESC"):
            diff(
                "GEOSEARCH", "g", "FROMLONLAT", 10, 10, "BYRADIUS", 10, "km", "COUNT", count, order
            )
            diff("GEORADIUS", "g", 10.001, 10, 10, "km", "COUNT", count, order, "WITHDIST")
    diff("GEOSEARCH", "g", "FROMLONLAT", 10, 10, "BYRADIUS", 10, "km", "ASC")
    diff("GEOSEARCH", "g", "FROMLONLAT", 10, 10, "BYRADIUS", 10, "km", "DESC")


def test_getkeys(r: redis.Redis, rr: redis.Redis) -> None:
    for cmd in [
        ("GEORADIUS", "k", 1, 2, 3, "km", "STORE", "x", "STOREDIST", "y"),
        ("GEORADIUS", "k", 1, 2, 3, "km", "ASC"),
        ("GEORADIUSBYMEMBER", "k", "m", 3, "km", "STOREDIST", "z"),
        ("GEOSEARCHSTORE", "d", "s", "FROMMEMBER", "m", "BYRADIUS", 1, "km"),
        ("GEOADD", "k", 1, 2, "m"),
    ]:
        assert r.command_getkeys(*cmd) == rr.command_getkeys(*cmd)
