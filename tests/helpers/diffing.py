"""Differential helpers shared by the per-type integration tests.

* ``raw``: one command without redis-py response callbacks: ``("ok", reply)`` or
  ``("err", text)``.
* ``dumper(*types, other=...)``: a function giving the whole keyspace of the selected db
  in comparable form (the named types by content, any other type by ``other`` command).
* ``RawDiff`` / ``rd_fixture``: run each command on ember and on redis, assert identical
  raw replies; ``script`` runs a multi-line script and then compares the keyspaces.
* ``aof_commands``: the commands of a server's incremental AOF files; ``aof_servers`` /
  ``same_aof_after``: compare what ember and redis propagate.
* ``blocked_clients`` / ``wait_blocked``: the ``blocked_clients`` INFO field.
* ``keyspace_events``: the keyspace notifications a pattern subscriber receives.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import redis

from tests.helpers.servers import ServerProcess

Reply = tuple[str, Any]
Dump = Callable[[redis.Redis], dict[bytes, Any]]
Sorter = Callable[[Reply, Reply], tuple[Reply, Reply]]


def raw(c: redis.Redis, *args: Any) -> Reply:
    """One command without redis-py response callbacks: ("ok", reply) or ("err", text)."""
    conn = c.connection_pool.get_connection()
    try:
        conn.send_command(*args)
        try:
            return ("ok", conn.read_response())
        except redis.ResponseError as e:
            return ("err", str(e))
    finally:
        c.connection_pool.release(conn)


# ------------------------------------------------------------------------------ keyspace


def _hash_items(c: redis.Redis, k: bytes) -> list[tuple[Any, Any]]:
    h = raw(c, "HGETALL", k)[1]
    return sorted(h.items() if isinstance(h, dict) else zip(h[::2], h[1::2], strict=True))


_CONTENT: dict[bytes, Callable[[redis.Redis, bytes], Any]] = {
    b"list": lambda c, k: raw(c, "LRANGE", k, 0, -1),
    b"hash": _hash_items,
    b"set": lambda c, k: sorted(raw(c, "SMEMBERS", k)[1]),
    b"zset": lambda c, k: raw(c, "ZRANGE", k, 0, -1, "WITHSCORES"),
    b"string": lambda c, k: raw(c, "GET", k),
}


def dumper(*types: str, other: str = "DUMP") -> Dump:
    """``dump(c)``: key -> (type, content) for the listed types (lists and sorted sets in
    order, hashes and sets sorted), (type, raw reply of ``other key``) for the rest."""
    content = {t.encode(): _CONTENT[t.encode()] for t in types}

    def dump(c: redis.Redis) -> dict[bytes, Any]:
        out: dict[bytes, Any] = {}
        for k in sorted(c.keys("*")):
            t = c.type(k)
            get = content.get(t)
            out[k] = (t, get(c, k) if get is not None else raw(c, other, k))
        return out

    return dump


# ------------------------------------------------------------------------------ replies


def sort_lists_by_repr(got: Reply, want: Reply) -> tuple[Reply, Reply]:
    """Both array replies sorted (by repr) when both succeeded and redis gave an array."""
    if got[0] == want[0] == "ok" and isinstance(want[1], list):
        return ("ok", sorted(got[1], key=repr)), ("ok", sorted(want[1], key=repr))
    return got, want


class RawDiff:
    """Run commands on ember and on redis and compare the raw replies exactly."""

    def __init__(
        self, a: redis.Redis, b: redis.Redis, dump: Dump, sorter: Sorter = sort_lists_by_repr
    ) -> None:
        self.ember, self.redis = a, b
        self.dump, self.sorter = dump, sorter

    def __call__(self, *args: Any, sort: bool = False) -> Any:
        got, want = raw(self.ember, *args), raw(self.redis, *args)
        if sort:
            got, want = self.sorter(got, want)
        assert got == want, f"{args!r}: ember={got!r} redis={want!r}"
        return got[1]

    def script(self, text: str, sort: bool = False) -> None:
        """One command a line (``#`` comments); a line starting with ``~`` (or every line
        with ``sort``) has an unordered reply. The keyspaces are compared at the end."""
        for line in text.strip().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                self(*shlex.split(line.lstrip("~ ")), sort=sort or line.startswith("~"))
        self.same_state()

    def same_state(self) -> None:
        assert self.dump(self.ember) == self.dump(self.redis)


def rd_fixture(dump: Dump, sorter: Sorter = sort_lists_by_repr) -> Any:
    """The ``rd`` fixture of a module: a ``RawDiff`` on fresh (flushed) servers, in RESP2
    and in RESP3 (assign it to a module-level ``rd``)."""

    @pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
    def rd(
        request: pytest.FixtureRequest,
        r: redis.Redis,
        rr: redis.Redis,
        ember: ServerProcess,
        real_redis: ServerProcess,
    ) -> Iterator[RawDiff]:
        a, b = ember.client(protocol=request.param), real_redis.client(protocol=request.param)
        yield RawDiff(a, b, dump, sorter)
        a.close()
        b.close()

    return rd


# ------------------------------------------------------------------------------ servers


def aof_commands(srv: ServerProcess) -> list[list[bytes]]:
    """The commands of ``srv``'s incremental AOF files, in order."""
    d = srv.dir / "appendonlydir"
    data = b"".join(f.read_bytes() for f in sorted(d.glob("*.incr.aof")))
    out: list[list[bytes]] = []
    i = 0
    while i < len(data):
        assert data[i : i + 1] == b"*", data[i : i + 40]
        j = data.index(b"\r\n", i)
        n = int(data[i + 1 : j])
        i = j + 2
        cmd = []
        for _ in range(n):
            j = data.index(b"\r\n", i)
            ln = int(data[i + 1 : j])
            cmd.append(data[j + 2 : j + 2 + ln])
            i = j + 2 + ln + 2
        out.append(cmd)
    return out


AOF_ALWAYS = ("--appendonly", "yes", "--appendfsync", "always")


def aof_servers(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> list[ServerProcess]:
    """[ember, redis], both with an AOF written (and fsynced) at every command."""
    return [ember_factory(*AOF_ALWAYS), redis_factory(*AOF_ALWAYS)]


def same_aof_after(
    ember_factory: Callable[..., ServerProcess],
    redis_factory: Callable[..., ServerProcess],
    cmds: Iterable[tuple[Any, ...]],
    **client_kw: Any,
) -> None:
    """Run ``cmds`` (errors ignored) on fresh AOF servers; both AOFs hold the same commands."""
    servers = aof_servers(ember_factory, redis_factory)
    for srv in servers:
        c = srv.client(**client_kw)
        for cmd in cmds:
            raw(c, *cmd)
        c.close()
    assert aof_commands(servers[0]) == aof_commands(servers[1])


def blocked_clients(c: redis.Redis) -> int:
    return int(c.info("clients")["blocked_clients"])


def wait_blocked(c: redis.Redis, n: int) -> None:
    deadline = time.monotonic() + 10
    while blocked_clients(c) < n:
        assert time.monotonic() < deadline, f"expected {n} blocked clients"
        time.sleep(0.005)


def keyspace_events(
    c: redis.Redis,
    cmds: list[tuple[Any, ...]],
    *,
    publish_end: bool = False,
    rounds: int = 100,
    timeout: float = 0.3,
) -> list[Any]:
    """(channel, data) of the keyspace/keyevent messages (all events enabled) while ``c``
    runs ``cmds`` (errors ignored); collected until no message for ``timeout`` seconds.
    ``publish_end``: also PUBLISH to ``end`` and PSUBSCRIBE ``end`` before collecting."""
    c.config_set("notify-keyspace-events", "KEA")
    p = c.pubsub()
    p.psubscribe("__key*__:*")
    p.get_message(timeout=1)
    for cmd in cmds:
        try:
            c.execute_command(*cmd)
        except redis.ResponseError:
            pass
    if publish_end:
        c.execute_command("PUBLISH", "end", "x")
        p.psubscribe("end")
    out = []
    for _ in range(rounds):
        m = p.get_message(timeout=timeout)
        if m is None:
            break
        if m["type"] == "pmessage":
            out.append((m["channel"], m["data"]))
    p.close()
    c.config_set("notify-keyspace-events", "")
    return out
