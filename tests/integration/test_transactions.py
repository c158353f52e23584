"""MULTI / EXEC / DISCARD / WATCH / UNWATCH, differential against redis-server 7.0.

Most tests drive raw sockets to both servers and compare the exact reply bytes (so
``*-1`` vs ``*0``, RESP3 ``_`` vs ``*-1`` and interleaved push messages are checked),
with several connections per server for the WATCH cases. Propagation and the
OOM/MISCONF rules are checked in-process against the replies Redis gives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers.raw import Pair, Raw, enc, pair_maker
from tests.helpers.servers import ServerProcess
from tests.helpers.transport import FakeTransport


@pytest.fixture
def pair(
    r: redis.Redis, rr: redis.Redis, ember: ServerProcess, real_redis: ServerProcess
) -> Iterator[Callable[..., Pair]]:
    with pair_maker(ember.port, real_redis.port) as make:
        yield make
    for c in (r, rr):
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        c.flushall()


# ---------------------------------------------------------------------------- basics


def test_multi_exec_basics(pair: Callable[..., Pair]) -> None:
    a = pair()
    out = a.call(("MULTI",), ("SET", "k", "1"), ("INCR", "k"), ("GET", "k"), ("EXEC",))
    assert out.endswith(b"*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n")
    a.call(("MULTI",), ("EXEC",))  # empty transaction: *0
    a.call(("GET", "k"))


def test_multi_errors(pair: Callable[..., Pair]) -> None:
    a = pair()
    a.call(("EXEC",))
    a.call(("DISCARD",))
    a.call(("MULTI",), ("MULTI",), ("SET", "x", "1"), ("EXEC",))  # nested: error, not flagged
    a.call(("MULTI",), ("WATCH", "x"), ("SET", "x", "2"), ("EXEC",))  # WATCH inside MULTI
    a.call(("MULTI",), ("SET", "x", "3"), ("DISCARD",), ("GET", "x"), ("DISCARD",))
    a.call(("MULTI", "extra"), ("EXEC", "extra"), ("DISCARD", "x"), ("WATCH",), ("UNWATCH", "x"))


@pytest.mark.parametrize(
    "bad",
    [
        ("NOSUCHCMD", "a"),
        ("GET",),
        ("SET", "k"),
        ("CONFIG", "NOSUCH"),
        ("CONFIG",),
        ("SAVE",),  # no-multi command
    ],
)
def test_queue_errors_abort_exec(pair: Callable[..., Pair], bad: tuple[Any, ...]) -> None:
    a = pair()
    a.call(("SET", "k", "orig"))
    out = a.call(("MULTI",), ("SET", "k", "new"), bad, ("INCR", "n"), ("EXEC",))
    assert b"EXECABORT Transaction discarded because of previous errors." in out
    a.call(("GET", "k"), ("GET", "n"), ("EXEC",))  # unchanged, and the MULTI state is gone


def test_runtime_errors_do_not_abort(pair: Callable[..., Pair]) -> None:
    a = pair()
    a.call(("SET", "s", "abc"), ("LPUSH", "l", "x"))
    out = a.call(
        ("MULTI",),
        ("INCR", "s"),
        ("LPUSH", "s", "x"),
        ("GET", "l"),
        ("SET", "t", "1"),
        ("INCRBYFLOAT", "t", "nan"),
        ("EXPIRE", "t", "x"),
        ("APPEND", "t", "2"),
        ("EXEC",),
    )
    assert b"WRONGTYPE" in out
    a.call(("GET", "t"))


def test_exec_replies_resp3(pair: Callable[..., Pair]) -> None:
    a = pair(resp3=True)
    a.call(("HSET", "h", "f", "v"), ("SADD", "s", "m"))
    a.call(
        ("MULTI",),
        ("HGETALL", "h"),
        ("SMEMBERS", "s"),
        ("GET", "nokey"),
        ("INCRBYFLOAT", "f", "1.5"),
        ("ZADD", "z", "1", "m"),
        ("ZSCORE", "z", "m"),
        ("CONFIG", "GET", "maxmemory"),
        ("EXEC",),
    )
    b = pair(resp3=True)
    a.call(("WATCH", "h"))
    b.call(("HSET", "h", "f", "w"))
    a.call(("MULTI",), ("PING",), ("EXEC",))  # aborted by WATCH: RESP3 null


def test_blocking_commands_do_not_block_inside_exec(pair: Callable[..., Pair]) -> None:
    a = pair()
    a.call(
        ("MULTI",),
        ("BLPOP", "empty", "0"),
        ("BRPOP", "empty", "0"),
        ("BLMOVE", "e1", "e2", "LEFT", "LEFT", "0"),
        ("BZPOPMIN", "ez", "0"),
        ("XREAD", "BLOCK", "0", "STREAMS", "es", "$"),
        ("EXEC",),
    )


def test_blocked_client_served_after_exec(pair: Callable[..., Pair]) -> None:
    a, b = pair(), pair()
    b.e.send(("BLPOP", "l", "0"))
    b.r.send(("BLPOP", "l", "0"))
    time.sleep(0.1)
    a.call(("MULTI",), ("LPUSH", "l", "a"), ("LPUSH", "l", "b"), ("LPUSH", "l", "c"), ("EXEC",))
    assert b.e.read(1) == b.r.read(1) == b"*2\r\n$1\r\nl\r\n$1\r\nc\r\n"
    a.call(("LRANGE", "l", "0", "-1"))


def test_subscribe_inside_exec(pair: Callable[..., Pair]) -> None:
    a = pair()
    a.call(("MULTI",), ("SUBSCRIBE", "c1", "c2"), ("PING",), ("EXEC",), n=4)
    a.call(("PING",))  # now in RESP2 subscribed mode
    b = pair(resp3=True)
    b.call(("MULTI",), ("SUBSCRIBE", "c1", "c2"), ("PUBLISH", "c1", "m"), ("EXEC",), n=4)
    b.call(("GET", "x"))
    c = pair()
    c.call(("MULTI",), ("SSUBSCRIBE", "s"), ("MONITOR",), ("EXEC",))  # deny-blocking inside EXEC


def test_self_notification_interleaved_in_exec_resp3(pair: Callable[..., Pair]) -> None:
    a = pair(resp3=True)
    a.call(("CONFIG", "SET", "notify-keyspace-events", "KA"))
    try:
        a.call(("SUBSCRIBE", "__keyspace@0__:k"))
        out = a.call(("MULTI",), ("SET", "k", "1"), ("GET", "k"), ("EXEC",), n=5)
        assert b"*2\r\n>3\r\n$7\r\nmessage" in out
    finally:
        a.call(("CONFIG", "SET", "notify-keyspace-events", ""), n=None)


def test_client_reply_skip_silences_whole_exec(pair: Callable[..., Pair]) -> None:
    a = pair()
    a.call(("CLIENT", "REPLY", "SKIP"), ("MULTI",), ("SET", "a", "1"), ("EXEC",), ("GET", "a"), n=3)
    a.call(
        ("CLIENT", "REPLY", "OFF"),
        ("MULTI",),
        ("SET", "a", "2"),
        ("EXEC",),
        ("CLIENT", "REPLY", "ON"),
        n=1,
    )
    # SKIP run inside EXEC silences the command after EXEC (the EXEC array stays short)
    a.call(
        ("MULTI",),
        ("SET", "b", "1"),
        ("CLIENT", "REPLY", "SKIP"),
        ("EXEC",),
        ("GET", "b"),
        ("PING",),
        n=4,
    )


# ---------------------------------------------------------------------------- WATCH


def test_watch_modified_by_other_client(pair: Callable[..., Pair]) -> None:
    a, b = pair(), pair()
    a.call(("SET", "x", "30"), ("WATCH", "a", "b", "x", "k", "z"))
    b.call(("SET", "x", "40"))
    out = a.call(("MULTI",), ("PING",), ("EXEC",))
    assert out.endswith(b"*-1\r\n")
    # not watched any more after a failed EXEC
    b.call(("SET", "x", "50"))
    assert a.call(("MULTI",), ("PING",), ("EXEC",)).endswith(b"*1\r\n+PONG\r\n")


def test_watch_not_modified(pair: Callable[..., Pair]) -> None:
    a, b = pair(), pair()
    a.call(("SET", "x", "30"), ("WATCH", "x", "x"))
    b.call(("GET", "x"), ("SET", "y", "1"), ("DEL", "nokey"), ("EXPIRE", "nokey", "10"))
    assert a.call(("MULTI",), ("INCR", "x"), ("EXEC",)).endswith(b"*1\r\n:31\r\n")
    b.call(("SET", "x", "40"))  # after a successful EXEC the key is no longer watched
    assert a.call(("MULTI",), ("PING",), ("EXEC",)).endswith(b"+PONG\r\n")


@pytest.mark.parametrize(
    "touch",
    [
        ("DEL", "x"),
        ("EXPIRE", "x", "100"),
        ("PERSIST", "x"),
        ("APPEND", "x", "z"),
        ("RENAME", "x", "y"),
        ("RENAME", "y", "x"),
        ("MOVE", "x", "1"),
        ("COPY", "y", "x", "REPLACE"),
        ("LPUSH", "x", "a"),
        ("SETRANGE", "x", "0", "q"),
        ("GETDEL", "x"),
        ("FLUSHDB",),
        ("FLUSHALL",),
        ("SWAPDB", "0", "1"),
    ],
)
def test_watch_touched_by(pair: Callable[..., Pair], touch: tuple[Any, ...]) -> None:
    a, b = pair(), pair()
    a.call(("SET", "x", "30"), ("EXPIRE", "x", "1000"), ("SET", "y", "1"), ("WATCH", "x"))
    b.call(touch)
    a.call(("MULTI",), ("PING",), ("EXEC",))


@pytest.mark.parametrize(
    "setup,touch",
    [
        ([], ("FLUSHDB",)),  # absent key: FLUSHDB is no change
        ([], ("FLUSHALL",)),
        ([("SELECT", "1"), ("SET", "x", "30"), ("SELECT", "0")], ("SWAPDB", "0", "1")),  # created
        ([("SELECT", "2"), ("SET", "x", "30"), ("SELECT", "0")], ("SWAPDB", "0", "1")),
        ([("SELECT", "1"), ("SET", "x", "30"), ("SELECT", "0")], ("FLUSHDB",)),
    ],
)
def test_watch_absent_key_and_db_wide_commands(
    pair: Callable[..., Pair], setup: list[tuple[Any, ...]], touch: tuple[Any, ...]
) -> None:
    a, b = pair(), pair()
    if setup:
        b.call(*setup)
    a.call(("WATCH", "x"))
    b.call(touch)
    a.call(("MULTI",), ("PING",), ("EXEC",))


def test_watch_remembers_db(pair: Callable[..., Pair]) -> None:
    a = pair()
    a.call(
        ("SELECT", "5"),
        ("SET", "x", "30"),
        ("WATCH", "x"),
        ("SELECT", "1"),
        ("SET", "x", "10"),
        ("SELECT", "5"),
    )
    assert a.call(("MULTI",), ("PING",), ("EXEC",)).endswith(b"+PONG\r\n")
    a.call(("SET", "x", "1"), ("WATCH", "x"), ("SELECT", "0"), ("SELECT", "5"), ("SET", "x", "2"))
    assert a.call(("MULTI",), ("PING",), ("EXEC",)).endswith(b"*-1\r\n")


def test_own_writes_touch_watched_keys(pair: Callable[..., Pair]) -> None:
    a = pair()
    a.call(
        ("SET", "x", "foo"), ("WATCH", "x"), ("EXPIRE", "x", "10"), ("MULTI",), ("PING",), ("EXEC",)
    )
    a.call(
        ("WATCH", "x"),
        ("SET", "x", "10"),
        ("MULTI",),
        ("DISCARD",),
        ("MULTI",),
        ("INCR", "x"),
        ("EXEC",),
    )
    a.call(("WATCH", "x"), ("SET", "x", "10"), ("UNWATCH",), ("MULTI",), ("INCR", "x"), ("EXEC",))
    a.call(("UNWATCH",))
    a.call(("WATCH", "x"), ("SET", "x", "1"), ("WATCH", "y"), ("MULTI",), ("PING",), ("EXEC",))


def test_watch_key_expiring_before_exec(pair: Callable[..., Pair]) -> None:
    a, b = pair(), pair()
    a.call(("DEBUG", "SET-ACTIVE-EXPIRE", "0"))
    a.call(("SET", "x", "1", "PX", "50"), ("WATCH", "x"))
    time.sleep(0.15)
    # nobody touched it, but it expired in between: EXEC fails (isWatchedKeyExpired)
    assert a.call(("MULTI",), ("INCR", "x"), ("EXEC",)).endswith(b"*-1\r\n")
    a.call(("SET", "y", "1", "PX", "50"), ("WATCH", "y"))
    time.sleep(0.15)
    b.call(("EXISTS", "y"))  # lazy expiry by another client touches it
    a.call(("MULTI",), ("PING",), ("EXEC",))


def test_watch_key_removed_by_active_expiry(
    pair: Callable[..., Pair], r: redis.Redis, rr: redis.Redis
) -> None:
    a = pair()
    a.call(("SET", "x", "foo"), ("PEXPIRE", "x", "100"), ("WATCH", "x"))
    deadline = time.monotonic() + 10
    while (r.dbsize() or rr.dbsize()) and time.monotonic() < deadline:
        time.sleep(0.05)
    a.call(("DBSIZE",), ("MULTI",), ("PING",), ("EXEC",))


STALE_CASES: list[list[tuple[str, tuple[Any, ...]]]] = [
    # WATCH of an already expired key: not a failure by itself
    [("a", ("WATCH", "x"))],
    # deleting it (lazy expiry, DEL of the expired key, FLUSHDB) is no logical change
    [("a", ("WATCH", "x")), ("a", ("EXISTS", "x"))],
    [("a", ("WATCH", "x")), ("b", ("DEL", "x"))],
    [("a", ("WATCH", "x")), ("b", ("FLUSHDB",))],
    [("a", ("WATCH", "x")), ("b", ("FLUSHALL",))],
    # replacing it with a value is a change
    [("a", ("WATCH", "x")), ("b", ("SET", "x", "new"))],
    [("a", ("WATCH", "x")), ("b", ("SET", "x", "new", "EX", "100"))],
    [("a", ("WATCH", "x")), ("b", ("GET", "x")), ("b", ("SET", "x", "new"))],
    [("a", ("WATCH", "x")), ("b", ("APPEND", "x", "new"))],
    [("a", ("WATCH", "x")), ("b", ("INCR", "x"))],
    [("a", ("WATCH", "x")), ("b", ("SET", "x", "new")), ("b", ("DEL", "x"))],
    [("a", ("WATCH", "x")), ("b", ("SET", "x", "new")), ("b", ("FLUSHDB",))],
    # SWAPDB with stale keys on either side
    [("a", ("WATCH", "x")), ("b", ("SWAPDB", "0", "1"))],
    [
        ("b", ("SELECT", "1")),
        ("b", ("SET", "x", "v")),
        ("a", ("WATCH", "x")),
        ("b", ("SWAPDB", "0", "1")),
    ],
    [
        ("b", ("SELECT", "1")),
        ("b", ("SET", "x", "v", "PX", "100000")),
        ("a", ("WATCH", "x")),
        ("b", ("SWAPDB", "0", "1")),
    ],
]


@pytest.mark.parametrize("case", STALE_CASES)
def test_watch_stale_keys(
    pair: Callable[..., Pair], case: list[tuple[str, tuple[Any, ...]]]
) -> None:
    conns = {"a": pair(), "b": pair()}
    conns["a"].call(("DEBUG", "SET-ACTIVE-EXPIRE", "0"))
    conns["a"].call(("SET", "x", "foo", "PX", "1"))
    conns["b"].call(("SELECT", "1"), ("SET", "x", "bar", "PX", "1"), ("SELECT", "0"))
    time.sleep(0.01)
    for who, cmd in case:
        conns[who].call(cmd)
    conns["a"].call(("MULTI",), ("PING",), ("EXEC",))


def test_stale_key_in_other_db_swapped_in(pair: Callable[..., Pair]) -> None:
    a, b = pair(), pair()
    a.call(("DEBUG", "SET-ACTIVE-EXPIRE", "0"))
    b.call(("SELECT", "1"), ("SET", "x", "v", "PX", "1"))
    time.sleep(0.01)
    a.call(("WATCH", "x"))  # absent in db 0
    b.call(("SWAPDB", "0", "1"))  # replaced with an expired key: no change
    a.call(("MULTI",), ("PING",), ("EXEC",))


# ---------------------------------------------------------------------------- stats


def _cmdstat(c: redis.Redis, name: str) -> tuple[int, int, int]:
    info = c.info("commandstats").get(f"cmdstat_{name}", {})
    return info.get("calls", 0), info.get("rejected_calls", 0), info.get("failed_calls", 0)


def test_exec_commandstats_and_errorstats(
    pair: Callable[..., Pair], r: redis.Redis, rr: redis.Redis
) -> None:
    for c in (r, rr):
        c.config_resetstat()
    a = pair()
    a.call(("MULTI",), ("GET", "a", "b"), ("EXEC",))
    a.call(("MULTI",), ("INCR", "s"), ("SET", "s", "x"), ("INCR", "s"), ("EXEC",))
    a.call(("EXEC",))
    for name in ("exec", "get", "incr", "set", "multi"):
        assert _cmdstat(r, name) == _cmdstat(rr, name), name
    es, rs = r.info("errorstats"), rr.info("errorstats")
    assert es == rs


# ---------------------------------------------------------------------------- randomized


OPS = st.one_of(
    st.tuples(st.just("SET"), st.sampled_from(["a", "b"]), st.sampled_from(["1", "x"])),
    st.tuples(st.just("INCR"), st.sampled_from(["a", "b"])),
    st.tuples(st.just("DEL"), st.sampled_from(["a", "b"])),
    st.tuples(st.just("GET"), st.sampled_from(["a", "b"])),
    st.tuples(st.just("WATCH"), st.sampled_from(["a", "b"])),
    st.tuples(st.just("UNWATCH")),
    st.tuples(st.just("MULTI")),
    st.tuples(st.just("EXEC")),
    st.tuples(st.just("DISCARD")),
    st.tuples(st.just("NOSUCH")),
    st.tuples(st.just("FLUSHDB")),
    st.tuples(st.just("SWAPDB"), st.just("0"), st.just("1")),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(0, 2), OPS), min_size=1, max_size=25))
def test_random_transactions_match_redis(
    ember: ServerProcess, real_redis: ServerProcess, steps: list[tuple[int, tuple[str, ...]]]
) -> None:
    clients = [Pair(ember.port, real_redis.port) for _ in range(3)]
    try:
        clients[0].call(("FLUSHALL",))
        for who, op in steps:
            clients[who].call(op)
        for c in clients:
            c.call(("DISCARD",), ("UNWATCH",))
        clients[0].call(("MGET", "a", "b"), ("SELECT", "1"), ("MGET", "a", "b"))
    finally:
        for c in clients:
            c.close()


# ---------------------------------------------------------------------------- propagation


def test_aof_stream_of_transactions_matches_redis(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> None:
    """End to end: what EXEC propagates (one MULTI/EXEC batch, never a literal EXEC alone)."""
    script: list[tuple[Any, ...]] = [
        ("MULTI",),
        ("SET", "a", "1"),
        ("GET", "a"),
        ("INCR", "n"),
        ("EXEC",),
        ("MULTI",),
        ("SET", "b", "2"),
        ("EXEC",),  # one write: not wrapped
        ("MULTI",),
        ("GET", "a"),
        ("EXEC",),  # read-only: nothing
        ("MULTI",),
        ("DEL", "nokey"),
        ("EXEC",),  # no effect: nothing
        ("MULTI",),
        ("EXEC",),  # empty: nothing
        ("MULTI",),
        ("SELECT", "1"),
        ("SET", "c", "1"),
        ("SELECT", "2"),
        ("SET", "d", "1"),
        ("EXEC",),
        ("SELECT", "0"),
        ("MULTI",),
        ("SET", "e", "1"),
        ("NOSUCH",),
        ("EXEC",),  # aborted: nothing
        ("WATCH", "a"),
        ("SET", "a", "x"),
        ("MULTI",),
        ("SET", "f", "1"),
        ("EXEC",),  # WATCH failed
        ("MULTI",),
        ("SET", "g", "1"),
        ("INCR", "g"),
        ("LPUSH", "g", "x"),
        ("RPUSH", "l", "1"),
        ("EXEC",),
        ("PUBLISH", "ch", "m"),
        ("SET", "end", "1"),
    ]
    files = []
    for factory in (ember_factory, redis_factory):
        srv = factory("--appendonly", "yes", "--appendfsync", "always", "--save", "")
        raw = Raw(srv.port)
        raw.call(*script)
        raw.close()
        c = srv.client()
        c.ping()
        c.close()
        files.append((srv.dir / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes())
    assert files[0] == files[1]
    assert files[0].count(b"MULTI") == 3 and files[0].count(b"EXEC") == 3


# ---------------------------------------------------------------------------- in-process


class _InProcess:
    """A Server and one Client in this process, with the propagated ops recorded."""

    def __init__(self) -> None:
        from ember.commands.registry import load_all
        from ember.config import Config
        from ember.server.client import Client
        from ember.server.server import Server

        load_all()
        self.server = Server(Config())
        self.ops: list[list[tuple[int, list[bytes]]]] = []
        self.server.propagation_sinks.append(self.ops.append)
        self._block: str | None = None
        self.server.write_block_reason = lambda: self._block
        self.client = Client(self.server)
        self.transport = FakeTransport()
        self.client.connection_made(self.transport)  # type: ignore[arg-type]

    @property
    def block(self) -> str | None:
        return self._block

    @block.setter
    def block(self, reason: str | None) -> None:
        """What write_block_reason() says; the server asks it while write_errors is up
        (the persistence layer raises it when a save or AOF write fails)."""
        self._block = reason
        self.server.write_errors = reason is not None

    def run(self, *cmds: tuple[Any, ...]) -> bytes:
        start = len(self.transport.buf)
        self.client.data_received(b"".join(enc(c) for c in cmds))
        return bytes(self.transport.buf[start:])


def test_exec_propagates_one_wrapped_batch() -> None:
    p = _InProcess()
    p.run(("MULTI",), ("SET", "a", "1"), ("GET", "a"), ("SET", "b", "2"), ("EXEC",))
    assert p.ops == [
        [(0, [b"MULTI"]), (0, [b"SET", b"a", b"1"]), (0, [b"SET", b"b", b"2"]), (0, [b"EXEC"])]
    ]
    p.ops.clear()
    # a single write is not wrapped; read-only, empty and no-op transactions propagate nothing
    p.run(("MULTI",), ("SET", "a", "1"), ("EXEC",))
    assert p.ops == [[(0, [b"SET", b"a", b"1"])]]
    p.ops.clear()
    p.run(
        ("MULTI",),
        ("GET", "a"),
        ("EXEC",),
        ("MULTI",),
        ("EXEC",),
        ("MULTI",),
        ("DEL", "zz"),
        ("EXEC",),
    )
    assert p.ops == []
    # SELECT inside: each op carries its database
    p.run(("MULTI",), ("SELECT", "1"), ("SET", "a", "1"), ("SELECT", "2"), ("INCR", "n"), ("EXEC",))
    assert p.ops == [
        [(1, [b"MULTI"]), (1, [b"SET", b"a", b"1"]), (2, [b"INCR", b"n"]), (2, [b"EXEC"])]
    ]


OOM = "OOM command not allowed when used memory > 'maxmemory'."


def _redis_oom_script(rr: redis.Redis, port: int) -> list[bytes]:
    """What real Redis answers when maxmemory is hit between queueing and EXEC."""
    a = Raw(port)
    try:
        out = [a.call(("SET", "x", "1"), ("MULTI",), ("GET", "x"), ("SET", "y", "1"))]
        rr.config_set("maxmemory", 1)
        try:
            out.append(a.call(("EXEC",)))
            out.append(a.call(("MULTI",), ("GET", "x"), ("PING",), ("EXEC",)))
            out.append(a.call(("MULTI",), ("DISCARD",)))
        finally:
            rr.config_set("maxmemory", 0)
        out.append(a.call(("MULTI",), ("GET", "x"), ("PING",)))
        rr.config_set("maxmemory", 1)
        try:
            out.append(a.call(("EXEC",)))  # only reads: allowed
        finally:
            rr.config_set("maxmemory", 0)
        return out
    finally:
        a.close()


def test_oom_rules_match_redis(rr: redis.Redis, real_redis: ServerProcess) -> None:
    want = _redis_oom_script(rr, real_redis.port)
    p = _InProcess()
    got = [p.run(("SET", "x", "1"), ("MULTI",), ("GET", "x"), ("SET", "y", "1"))]
    p.block = OOM
    got.append(p.run(("EXEC",)))
    got.append(p.run(("MULTI",), ("GET", "x"), ("PING",), ("EXEC",)))
    got.append(p.run(("MULTI",), ("DISCARD",)))
    p.block = None
    got.append(p.run(("MULTI",), ("GET", "x"), ("PING",)))
    p.block = OOM
    got.append(p.run(("EXEC",)))
    assert got == want
    assert p.server.stats.errorstats == {"EXECABORT": 2, "OOM": 2}


def test_misconf_inside_multi() -> None:
    p = _InProcess()
    p.block = "MISCONF Errors writing to the AOF file: x"
    # writes are refused when queued (and flag the transaction), reads are queued
    out = p.run(("MULTI",), ("SET", "a", "1"), ("GET", "a"), ("EXEC",))
    assert out == (
        b"+OK\r\n-MISCONF Errors writing to the AOF file: x\r\n+QUEUED\r\n"
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    )
    p.block = None
    p.run(("MULTI",), ("SET", "a", "1"), ("GET", "a"))
    p.block = "MISCONF Errors writing to the AOF file: x"
    out = p.run(("EXEC",), ("MULTI",), ("GET", "a"), ("EXEC",), ("PING",))
    assert out == (
        b"-EXECABORT Transaction discarded because of: MISCONF Errors writing to the AOF file: x\r\n"
        b"+OK\r\n+QUEUED\r\n*1\r\n$-1\r\n-MISCONF Errors writing to the AOF file: x\r\n"
    )
    assert p.client.in_multi is False
    assert p.ops == []


def test_loading_inside_exec() -> None:
    p = _InProcess()
    p.run(("MULTI",), ("SET", "a", "1"))
    p.server.loading = True
    out = p.run(("EXEC",))
    p.server.loading = False
    assert (
        out
        == b"-EXECABORT Transaction discarded because of: LOADING Redis is loading the dataset in memory\r\n"
    )
    assert p.run(("GET", "a")) == b"$-1\r\n"
