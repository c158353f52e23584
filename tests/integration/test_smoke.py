"""Smoke tests: ember starts, answers, and matches redis-server on basic string commands."""

from __future__ import annotations

import redis
from tests.conftest import Diff


def test_ping_set_get(r: redis.Redis) -> None:
    assert r.ping() is True
    assert r.set("a", "1") is True
    assert r.incr("a") == 2
    assert r.get("a") == b"2"


def test_unknown_command_matches_redis(diff: Diff) -> None:
    diff("FOO", "bar", "baz")
    diff("SET", "x")
    diff("GET", "missing")
    diff("SET", "k", "v", "NX", "XX")
    diff("INCR", "k")
