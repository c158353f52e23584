"""Expiry: EXPIRE family and options, TTL family, lazy and active expiry, against Redis."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis
from tests.conftest import Diff


def test_expire_options(diff: Diff) -> None:
    diff.many(
        [
            ("SET", "k", "v"),
            ("EXPIRE", "k", "100", "XX"),
            ("EXPIRE", "k", "100", "GT"),
            ("EXPIRE", "k", "100", "LT"),
            ("TTL", "k"),
            ("EXPIRE", "k", "200", "NX"),
            ("EXPIRE", "k", "200", "XX"),
            ("EXPIRE", "k", "300", "GT"),
            ("EXPIRE", "k", "50", "GT"),
            ("EXPIRE", "k", "500", "LT"),
            ("EXPIRE", "k", "50", "LT"),
            ("TTL", "k"),
            ("EXPIRE", "k", "100", "NX", "XX"),
            ("EXPIRE", "k", "100", "NX", "GT"),
            ("EXPIRE", "k", "100", "GT", "LT"),
            ("EXPIRE", "k", "100", "XX", "GT"),
            ("EXPIRE", "k", "100", "FOO"),
            ("EXPIRE", "k", "abc", "FOO"),
            ("EXPIRE", "k", "100", "nx", "nx"),
            ("EXPIRE", "k", "abc"),
            ("EXPIRE", "k", "1.5"),
            ("EXPIRE", "k", ""),
            ("EXPIRE", "nokey", "100"),
            ("EXPIRE", "nokey", "100", "NX"),
            ("PERSIST", "k"),
            ("PERSIST", "k"),
            ("PERSIST", "nokey"),
            ("EXPIRE", "k", "100", "LT"),
            ("TTL", "k"),
            ("PERSIST", "k"),
            ("EXPIRE", "k"),
            ("PERSIST",),
            ("PERSIST", "a", "b"),
        ]
    )


def test_expire_overflow_and_past_times(diff: Diff) -> None:
    diff.many(
        [
            ("SET", "k", "v"),
            ("EXPIRE", "k", "9223372036854775807"),
            ("EXPIRE", "k", "9223372036854775"),
            ("EXPIRE", "k", "-9223372036854775"),
            ("EXPIRE", "k", "-9223372036854775808"),
            ("PEXPIRE", "k", "9223372036854775807"),
            ("PEXPIREAT", "k", "9223372036854775807"),
            ("EXPIREAT", "k", "9223372036854775807"),
            ("EXISTS", "k"),
            ("EXPIREAT", "k", "4000000000"),
            ("EXPIRETIME", "k"),
            ("PEXPIRETIME", "k"),
            ("PEXPIREAT", "k", "4000000000123"),
            ("EXPIRETIME", "k"),
            ("PEXPIRETIME", "k"),
            ("EXPIRE", "k", "0"),
            ("EXISTS", "k"),
            ("SET", "k", "v"),
            ("PEXPIRE", "k", "-1"),
            ("EXISTS", "k"),
            ("SET", "k", "v"),
            ("EXPIREAT", "k", "1"),
            ("EXISTS", "k"),
            ("SET", "k", "v"),
            ("PEXPIREAT", "k", "1", "GT"),
            ("PEXPIREAT", "k", "1", "LT"),
            ("EXISTS", "k"),
            ("EXPIRETIME", "nokey"),
            ("PEXPIRETIME", "nokey"),
            ("TTL", "nokey"),
            ("PTTL", "nokey"),
            ("SET", "k", "v"),
            ("TTL", "k"),
            ("PTTL", "k"),
            ("EXPIRETIME", "k"),
            ("PEXPIRETIME", "k"),
            ("TTL",),
            ("EXPIRETIME", "a", "b"),
        ]
    )


def test_ttl_rounding(r: redis.Redis) -> None:
    r.set("k", "v", px=100_400)
    assert r.ttl("k") == 100
    r.set("k", "v", px=100_700)
    assert r.ttl("k") == 101  # (ms + 500) / 1000, like Redis
    assert 100_000 < r.pttl("k") <= 100_700
    assert abs(r.execute_command("PEXPIRETIME", "k") - (time.time() * 1000 + 100_700)) < 2000


def test_lazy_expiry_on_access(r: redis.Redis) -> None:
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        before = r.info("stats")["expired_keys"]
        r.set("a", "1", px=50)
        r.set("b", "1", px=50)
        r.set("c", "1", px=50)
        time.sleep(0.15)
        assert r.dbsize() == 3  # still there: nobody touched them and the cron is off
        assert r.get("a") is None
        assert r.exists("b") == 0
        assert r.ttl("c") == -2
        assert r.dbsize() == 0
        assert r.info("stats")["expired_keys"] - before == 3
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def _wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_active_expiry_and_set_active_expire_off(r: redis.Redis, rr: redis.Redis) -> None:
    for c in (r, rr):
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        for c in (r, rr):
            c.mset({f"k{i}": 1 for i in range(200)})
            for i in range(200):
                c.pexpire(f"k{i}", 50)
            c.set("keep", 1)
        time.sleep(0.6)  # many cron runs with active expiry disabled
        assert r.dbsize() == rr.dbsize() == 201
        before = r.info("stats")["expired_keys"]
        for c in (r, rr):
            c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        assert _wait_until(lambda: r.dbsize() == 1)
        assert _wait_until(lambda: rr.dbsize() == 1)
        assert r.info("stats")["expired_keys"] - before == 200
        assert r.get("keep") == b"1"
    finally:
        for c in (r, rr):
            c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_expired_keys_are_invisible_everywhere(r: redis.Redis) -> None:
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.mset({"x": 1, "y": 2})
        r.pexpire("x", 1)
        time.sleep(0.02)
        assert r.keys("*") == [b"y"]
        assert r.mget("x", "y") == [None, b"2"]
        assert r.type("x") == b"none"
        assert r.rename("y", "x")
        assert r.get("x") == b"2" and r.ttl("x") == -1
        r.pexpire("x", 1)
        time.sleep(0.02)
        with pytest.raises(redis.ResponseError, match="no such key"):
            r.rename("x", "z")
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_set_and_write_commands_clear_or_keep_ttl(diff: Diff) -> None:
    diff.many(
        [
            ("SET", "k", "v", "EX", "100"),
            ("SET", "k", "v2"),
            ("TTL", "k"),
            ("SET", "k", "v", "EX", "100"),
            ("APPEND", "k", "x"),
            ("INCRBYFLOAT", "k", "1"),
            ("SET", "n", "1", "EX", "100"),
            ("INCR", "n"),
            ("TTL", "n"),
            ("GETSET", "n", "5"),
            ("TTL", "n"),
            ("SET", "n", "1", "EX", "100"),
            ("MSET", "n", "2"),
            ("TTL", "n"),
        ]
    )


def test_debug_set_active_expire_arguments(diff: Diff) -> None:
    diff("DEBUG", "SET-ACTIVE-EXPIRE")
    diff("DEBUG", "SET-ACTIVE-EXPIRE", "1", "2")
    diff("DEBUG", "SET-ACTIVE-EXPIRE", "abc")
    diff("DEBUG", "SET-ACTIVE-EXPIRE", "1")
