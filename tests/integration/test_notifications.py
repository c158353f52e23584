"""Keyspace notifications (notify-keyspace-events), differential against redis-server 7.0:
the configuration's canonical form, and the exact message stream a pattern subscriber
receives for string / generic commands, expiry, key creation ('n') and databases."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.conftest import Diff
from tests.helpers.raw import Raw
from tests.helpers.servers import ServerProcess


@pytest.fixture
def servers(
    r: redis.Redis, rr: redis.Redis, ember: ServerProcess, real_redis: ServerProcess
) -> Iterator[tuple[int, int]]:
    yield ember.port, real_redis.port
    for c in (r, rr):
        c.config_set("notify-keyspace-events", "")
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        c.flushall()


PONG2 = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"


def _events(
    port: int,
    flags: str,
    cmds: list[tuple[Any, ...]],
    resp3: bool = False,
    pattern: str = "__key*__:*",
    sleep_before: float = 0.0,
) -> list[bytes]:
    """The messages a PSUBSCRIBE-r receives while another client runs ``cmds``."""
    ctl, sub = Raw(port), Raw(port)
    try:
        ctl.call(("CONFIG", "SET", "notify-keyspace-events", flags))
        if resp3:
            sub.call(("HELLO", "3"))
        sub.call(("PSUBSCRIBE", pattern))
        for cmd in cmds:
            if cmd == ("SLEEP",):
                time.sleep(0.02)
                continue
            ctl.call(cmd)
        if sleep_before:
            time.sleep(sleep_before)
        if resp3:
            sub.send(("ECHO", "marker"))
            return sub.until(b"$6\r\nmarker\r\n")
        sub.send(("PING",))
        return sub.until(PONG2)
    finally:
        ctl.call(("CONFIG", "SET", "notify-keyspace-events", ""))
        ctl.close()
        sub.close()


def _same_events(
    servers: tuple[int, int], flags: str, cmds: list[tuple[Any, ...]], **kw: Any
) -> list[bytes]:
    got = _events(servers[0], flags, cmds, **kw)
    want = _events(servers[1], flags, cmds, **kw)
    assert got == want, f"flags={flags}\nember={got}\nredis={want}"
    return got


# ---------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "value",
    [
        "KEA",
        "Ex",
        "AKE",
        "gx$",
        "A",
        "An",
        "Anm",
        "Km",
        "g$lshzxetd",
        "g$lshzxetdn",
        "E",
        "K",
        "",
        "x",
        "KA",
        "m",
        "Kn",
        "nd",
        "KEg$lshzxet",
        "EKmnxe",
        "$$$K",
        "tdlhs",
    ],
)
def test_config_canonical_form(diff: Diff, servers: tuple[int, int], value: str) -> None:
    diff("CONFIG", "SET", "notify-keyspace-events", value)
    diff("CONFIG", "GET", "notify-keyspace-events")


@pytest.mark.parametrize("value", ["Kq", "K E", "KEA ", "a", "k", "1"])
def test_config_rejects_bad_classes(diff: Diff, servers: tuple[int, int], value: str) -> None:
    diff("CONFIG", "SET", "notify-keyspace-events", "KEA")
    diff("CONFIG", "SET", "notify-keyspace-events", value)
    diff("CONFIG", "GET", "notify-keyspace-events")  # unchanged


def test_config_file_and_startup_args(ember_factory: Any, redis_factory: Any) -> None:
    e = ember_factory("--notify-keyspace-events", "Exg")
    r = redis_factory("--notify-keyspace-events", "Exg")
    ce, cr = e.client(), r.client()
    assert ce.config_get("notify-keyspace-events") == cr.config_get("notify-keyspace-events")
    ce.close()
    cr.close()


# ---------------------------------------------------------------------------- events

STRING_AND_GENERIC = [
    ("SET", "k", "v"),
    ("SET", "k", "v2", "EX", "100"),
    ("SET", "k", "v3", "KEEPTTL"),
    ("SET", "k", "nx", "NX"),
    ("SET", "k", "v4", "XX", "GET"),
    ("GETEX", "k", "PERSIST"),
    ("GETEX", "k", "EX", "50"),
    ("GETEX", "k"),
    ("APPEND", "k", "x"),
    ("APPEND", "n", "x"),
    ("SETRANGE", "k", "1", "zz"),
    ("SETRANGE", "sr", "3", "a"),
    ("INCR", "i"),
    ("INCRBY", "i", "5"),
    ("DECR", "i"),
    ("DECRBY", "i", "2"),
    ("INCRBYFLOAT", "f", "1.5"),
    ("INCR", "k"),  # error: no event
    ("EXPIRE", "k", "100"),
    ("PEXPIREAT", "k", "99999999999999"),
    ("EXPIRE", "k", "100", "NX"),  # not set: no event
    ("PERSIST", "k"),
    ("PERSIST", "k"),
    ("RENAME", "k", "k2"),
    ("RENAMENX", "k2", "k3"),
    ("RENAMENX", "k3", "i"),
    ("COPY", "k3", "k4"),
    ("COPY", "k3", "k4", "REPLACE"),
    ("COPY", "k3", "k4", "DB", "2"),
    ("MOVE", "k4", "1"),
    ("DEL", "k3", "nokey", "f"),
    ("UNLINK", "n"),
    ("GETDEL", "i"),
    ("GETDEL", "i"),
    ("SETEX", "e", "100", "v"),
    ("PSETEX", "e", "100000", "v"),
    ("PEXPIRE", "e", "0"),  # immediate deletion: del event
    ("EXPIRE", "sr", "-1"),
    ("MSET", "a", "1", "b", "2"),
    ("SETNX", "a", "1"),
    ("SETNX", "z", "1"),
    ("GETSET", "z", "2"),
    ("MSETNX", "q", "1", "r", "2"),
    ("MSETNX", "q", "1", "s", "2"),
    ("RENAME", "b", "b"),
    ("SELECT", "3"),
    ("SET", "d3", "x"),
    ("EXPIRE", "d3", "10"),
    ("FLUSHDB",),
    ("SELECT", "0"),
    ("SWAPDB", "0", "1"),
    ("FLUSHALL",),
]


@pytest.mark.parametrize(
    "flags", ["KEA", "KA", "EA", "KEAn", "Kg", "E$", "Kx", "KEn", "KEgn", "A", "K"]
)
def test_string_and_generic_events(servers: tuple[int, int], flags: str) -> None:
    events = _same_events(servers, flags, STRING_AND_GENERIC)
    if "A" in flags and ("K" in flags or "E" in flags):
        assert len(events) > 40


def test_list_events(servers: tuple[int, int]) -> None:
    _same_events(
        servers,
        "KEAn",
        [
            ("LPUSH", "l", "a", "b"),
            ("RPUSH", "l", "c"),
            ("LPOP", "l"),
            ("RPOP", "l"),
            ("LPOP", "l"),
            ("RPUSH", "l", "x"),
            ("LPUSHX", "nol", "a"),
            ("DEL", "l"),
        ],
    )


def test_new_key_event_order(servers: tuple[int, int]) -> None:
    events = _same_events(
        servers,
        "KEn$g",
        [
            ("SET", "a", "1"),
            ("SET", "a", "2"),
            ("INCR", "c"),
            ("RENAME", "a", "b"),
            ("COPY", "b", "a"),
        ],
    )
    assert any(b"new" in e for e in events)


def test_lazy_expired_event(servers: tuple[int, int]) -> None:
    _same_events(
        servers,
        "KEA",
        [
            ("DEBUG", "SET-ACTIVE-EXPIRE", "0"),
            ("SET", "e1", "v", "PX", "1"),
            ("SET", "e2", "v", "PX", "1"),
            ("SET", "e3", "v", "PX", "1"),
            ("SLEEP",),
            ("GET", "e1"),
            ("EXISTS", "e2"),
            ("SET", "e3", "new"),  # overwriting an expired key: expired + new value
            ("TTL", "e3"),
            ("DEBUG", "SET-ACTIVE-EXPIRE", "1"),
        ],
    )


def test_active_expired_event(servers: tuple[int, int]) -> None:
    for port in servers:
        sub = Raw(port)
        ctl = Raw(port)
        try:
            ctl.call(("CONFIG", "SET", "notify-keyspace-events", "Ex"))
            sub.call(("SUBSCRIBE", "__keyevent@0__:expired"))
            ctl.call(("SET", "gone", "v", "PX", "50"))
            assert (
                sub.read(1)
                == b"*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:expired\r\n$4\r\ngone\r\n"
            )
            assert ctl.call(("EXISTS", "gone")) == b":0\r\n"
        finally:
            ctl.call(("CONFIG", "SET", "notify-keyspace-events", ""))
            sub.close()
            ctl.close()


def test_resp3_subscriber_gets_push_messages(servers: tuple[int, int]) -> None:
    events = _same_events(servers, "KEA", [("SET", "k", "v"), ("DEL", "k")], resp3=True)
    assert all(e.startswith(b">4\r\n") for e in events) and len(events) == 4


def test_keyspace_channel_for_one_key(servers: tuple[int, int]) -> None:
    _same_events(
        servers,
        "K$g",
        [("SET", "k", "v"), ("SET", "other", "v"), ("APPEND", "k", "x"), ("DEL", "k", "other")],
        pattern="__keyspace@0__:k",
    )
    _same_events(
        servers,
        "E$g",
        [("SET", "k", "v"), ("INCR", "n"), ("DEL", "k")],
        pattern="__keyevent@0__:set",
    )


def test_no_events_when_disabled(servers: tuple[int, int]) -> None:
    assert _same_events(servers, "", [("SET", "k", "v"), ("DEL", "k")]) == []
    assert _same_events(servers, "KE", [("SET", "k", "v"), ("DEL", "k")]) == []  # no class
    assert _same_events(servers, "A", [("SET", "k", "v"), ("DEL", "k")]) == []  # no K/E
    assert _same_events(servers, "El", [("SET", "k", "v"), ("DEL", "k")]) == []  # other class


def test_events_inside_multi_exec(servers: tuple[int, int]) -> None:
    _same_events(
        servers,
        "KEA",
        [
            ("MULTI",),
            ("SET", "k", "1"),
            ("INCR", "k"),
            ("EXPIRE", "k", "5"),
            ("DEL", "k"),
            ("EXEC",),
        ],
    )
