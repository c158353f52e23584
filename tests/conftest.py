"""Shared fixtures.

* ``ember`` / ``real_redis``: a fresh server process per test module (function-scoped
  clients flush it), on a free loopback port, in a temporary dir.
* ``ember_factory`` / ``redis_factory``: start servers with custom arguments.
* ``diff``: send the same command to ember and to the real redis-server and assert the
  replies (or error messages) are identical.

Interop needs a real ``redis-server`` (``make test`` installs it). A missing binary is a
failure, not a skip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, settings

from tests.helpers.servers import ServerProcess

# Timing-based hypothesis checks are flaky on a loaded 2-core CI machine: the suite
# asserts behaviour, never speed (benchmarks live in bench/).
settings.register_profile(
    "ember", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("ember")


@pytest.fixture(scope="module")
def ember(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    s = ServerProcess(
        "ember", tmp_path_factory.mktemp("ember"), ["--enable-debug-command", "yes"]
    ).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def real_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    s = ServerProcess(
        "redis", tmp_path_factory.mktemp("redis"), ["--enable-debug-command", "yes"]
    ).start()
    yield s
    s.stop()


@pytest.fixture
def r(ember: ServerProcess) -> Iterator[redis.Redis]:
    c = ember.client()
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def rr(real_redis: ServerProcess) -> Iterator[redis.Redis]:
    c = real_redis.client()
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def ember_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def make(*args: str, start: bool = True, sub: str | None = None, **kw: Any) -> ServerProcess:
        s = ServerProcess("ember", tmp_path / (sub or f"ember{len(started)}"), list(args), **kw)
        started.append(s)
        return s.start() if start else s

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def make(*args: str, start: bool = True, sub: str | None = None, **kw: Any) -> ServerProcess:
        s = ServerProcess("redis", tmp_path / (sub or f"redis{len(started)}"), list(args), **kw)
        started.append(s)
        return s.start() if start else s

    yield make
    for s in started:
        s.stop()


def _call(c: redis.Redis, *args: Any) -> Any:
    try:
        return ("ok", c.execute_command(*args))
    except redis.ResponseError as e:
        return ("err", str(e))


class Diff:
    """Run commands on both servers and compare replies exactly (errors included)."""

    def __init__(self, a: redis.Redis, b: redis.Redis) -> None:
        self.ember, self.redis = a, b

    def __call__(self, *args: Any, sort: bool = False) -> Any:
        got, want = _call(self.ember, *args), _call(self.redis, *args)
        if sort and got[0] == want[0] == "ok" and isinstance(want[1], list):
            got = ("ok", sorted(got[1], key=repr))
            want = ("ok", sorted(want[1], key=repr))
        assert got == want, f"{args!r}: ember={got!r} redis={want!r}"
        return got[1]

    def many(self, commands: list[tuple[Any, ...]]) -> None:
        for cmd in commands:
            self(*cmd)


@pytest.fixture
def diff(r: redis.Redis, rr: redis.Redis) -> Diff:
    return Diff(r, rr)
