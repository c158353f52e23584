"""Pub/Sub (SUBSCRIBE family, PUBLISH, PUBSUB, sharded channels) and MONITOR,
differential against redis-server 7.0 with raw sockets (exact bytes, RESP2 and RESP3)
and with redis-py PubSub objects for many concurrent subscribers."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from tests.conftest import Diff
from tests.helpers.raw import Pair, Raw, pair_maker
from tests.helpers.servers import ServerProcess


@pytest.fixture
def pair(
    r: redis.Redis, rr: redis.Redis, ember: ServerProcess, real_redis: ServerProcess
) -> Iterator[Callable[..., Pair]]:
    with pair_maker(ember.port, real_redis.port) as make:
        yield make


def _wait_numsub(c: redis.Redis, channel: str, want: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if dict(c.pubsub_numsub(channel)).get(channel.encode(), 0) == want:
            return
        time.sleep(0.02)
    raise AssertionError(f"numsub {channel} != {want}")


# ---------------------------------------------------------------------------- replies


@pytest.mark.parametrize("resp3", [False, True])
def test_subscribe_unsubscribe_confirmations(pair: Callable[..., Pair], resp3: bool) -> None:
    a = pair(resp3)
    a.call(("SUBSCRIBE", "a", "b", "a"), n=3)
    a.call(("PSUBSCRIBE", "p*", "p*", "q?"), n=3)
    a.call(("SSUBSCRIBE", "s1", "s2", "s1"), n=3)
    a.call(("PING",), ("PING", "hello"))
    a.call(("UNSUBSCRIBE", "a", "zz"), n=2)
    a.call(("PUNSUBSCRIBE", "p*"), n=1)
    a.call(("SUNSUBSCRIBE", "s1", "nope"), n=2)
    a.call(("UNSUBSCRIBE",), n=1)  # only "b" left: deterministic order
    a.call(("PUNSUBSCRIBE",), n=1)
    a.call(("SUNSUBSCRIBE",), n=1)
    # nothing left: each form still answers once, with a null name
    a.call(("UNSUBSCRIBE",), ("PUNSUBSCRIBE",), ("SUNSUBSCRIBE",), ("PING",))


def test_unsubscribe_all_many(pair: Callable[..., Pair]) -> None:
    a = pair()
    names = [f"ch{i}" for i in range(8)]
    a.call(("SUBSCRIBE", *names), n=8)
    a.call(("PSUBSCRIBE", *[n + "*" for n in names]), n=8)
    a.call(("SSUBSCRIBE", *names), n=8)
    # server dicts iterate in hash order: compare the set of names and the counts
    for cmd in ("UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"):
        a.e.send((cmd,))
        a.r.send((cmd,))
        got, want = a.read_parsed(8)
        assert sorted(m[:2] for m in got) == sorted(m[:2] for m in want)
        assert [m[2] for m in got] == [m[2] for m in want]
    a.call(("PING",))


def test_resp2_subscribed_mode_restrictions(pair: Callable[..., Pair]) -> None:
    a = pair()
    a.call(("SUBSCRIBE", "a"))
    a.call(
        ("GET", "x"),
        ("SET", "x", "1"),
        ("MULTI",),
        ("HELLO", "3"),
        ("PUBLISH", "a", "m"),
        ("PUBSUB", "NUMSUB", "a"),
        ("CLIENT", "ID"),
        ("PING",),
        ("PING", "x"),
        ("PING", "x", "y"),
    )
    a.call(("RESET",), ("GET", "x"), ("PING",))
    b = pair()
    b.call(("SSUBSCRIBE", "s"))  # shard subscriptions count for the subscribed mode too
    b.call(("GET", "x"), ("PING",))
    c = pair()
    c.call(("PSUBSCRIBE", "x*"))
    c.e.send(("QUIT",))
    c.r.send(("QUIT",))
    assert c.e.read(1) == c.r.read(1) == b"+OK\r\n"


def test_resp3_subscribed_client_runs_any_command(pair: Callable[..., Pair]) -> None:
    a = pair(resp3=True)
    a.call(("SUBSCRIBE", "a"))
    a.call(("SET", "x", "1"), ("GET", "x"), ("PING",), ("PING", "m"), ("PUBSUB", "NUMSUB", "a"))
    # publishing to itself: the push comes before the PUBLISH reply
    a.call(("PUBLISH", "a", "hello"), n=2)
    a.call_unchecked(("HELLO", "2"))  # (client ids differ)
    a.call(("GET", "x"))  # now RESP2 and subscribed: refused


def test_client_reply_off_does_not_silence_pushes(pair: Callable[..., Pair]) -> None:
    a = pair()
    a.call(
        ("CLIENT", "REPLY", "OFF"),
        ("SUBSCRIBE", "a"),
        ("UNSUBSCRIBE", "a"),
        ("PING",),
        ("CLIENT", "REPLY", "ON"),
        n=3,
    )
    b = pair(resp3=True)
    b.call(
        ("CLIENT", "REPLY", "OFF"),
        ("SUBSCRIBE", "a"),
        ("PUBLISH", "a", "x"),
        ("GET", "a"),
        ("CLIENT", "REPLY", "ON"),
        n=3,
    )


# ---------------------------------------------------------------------------- delivery


def test_publish_reaches_channel_and_pattern_subscribers(pair: Callable[..., Pair]) -> None:
    s1, s2, s3, s4, pub = pair(), pair(), pair(), pair(resp3=True), pair()
    s1.call(("SUBSCRIBE", "news.tech"))
    s2.call(("PSUBSCRIBE", "news.*"))
    s3.call(("SUBSCRIBE", "news.tech"), ("PSUBSCRIBE", "news.t*"))
    s4.call(("SUBSCRIBE", "news.tech"), ("PSUBSCRIBE", "*"))
    pub.call(
        ("PUBLISH", "news.tech", "hello"),
        ("PUBLISH", "news.art", "x"),
        ("PUBLISH", "other", ""),
        ("PUBLISH", "nobody.here", "y"),
    )
    s1.read(1)
    s2.read(2)
    s3.read(2)
    s4.read(1)
    s4.read(1)  # pmessage news.tech
    s4.read_parsed(3)  # the remaining pmessages
    pub.call(("PUBLISH", "news.tech", b"bin\x00\xff\r\n"))
    s1.read(1)
    s3.read(2)


GLOBS = [
    "h?llo",
    "h*llo",
    "h[ae]llo",
    "h[^e]llo",
    "h[a-b]llo",
    "h[b-a]llo",
    r"h\*llo",
    "h[",
    "h[\\]]llo",
    "*",
    "**llo",
    "h*l*o",
    "[",
    "\\",
    "h[e-]llo",
]
CHANNELS = [
    "hello",
    "hallo",
    "hxllo",
    "hllo",
    "heeeello",
    "h*llo",
    "h]llo",
    "h[",
    "h-llo",
    "",
    "hello!",
    "\\",
]


def test_pattern_matching_matches_redis(pair: Callable[..., Pair]) -> None:
    subs = []
    for g in GLOBS:
        s = pair()
        s.call(("PSUBSCRIBE", g))
        subs.append(s)
    pub = pair()
    for ch in CHANNELS:
        pub.call(("PUBLISH", ch, "m"))
    # every subscriber received the same pmessages (checked on both servers)
    counts = [
        int(x)
        for x in re.findall(rb":(\d+)", pub.call(*[("PUBLISH", ch, "end") for ch in CHANNELS]))
    ]
    assert sum(counts) > 0
    pub.call(("PUBSUB", "NUMPAT"))
    for s in subs:
        s.e.send(("PUNSUBSCRIBE",))
        s.r.send(("PUNSUBSCRIBE",))
        got, want = _read_until(s.e, b"punsubscribe"), _read_until(s.r, b"punsubscribe")
        assert got == want
    pub.call(("PUBSUB", "NUMPAT"))


def _read_until(raw: Raw, kind: bytes) -> list[bytes]:
    """Replies up to and including the first one whose first element is ``kind``."""
    out: list[bytes] = []
    for _ in range(1000):
        item = raw.read(1)
        out.append(item)
        if item.split(b"\r\n")[2] == kind:
            return out
    raise AssertionError(out)


def test_sharded_pubsub(pair: Callable[..., Pair]) -> None:
    s, p, pub = pair(), pair(), pair()
    s.call(("SSUBSCRIBE", "sh1", "sh2"), n=2)
    p.call(("PSUBSCRIBE", "sh*"))
    pub.call(("SPUBLISH", "sh1", "a"), ("PUBLISH", "sh1", "b"), ("SPUBLISH", "none", "c"))
    s.read(1)
    p.read(1)  # only the PUBLISH reaches the pattern
    pub.call(("PUBSUB", "SHARDCHANNELS", "*1"), ("PUBSUB", "SHARDNUMSUB", "sh1", "x"))
    pub.call(("PUBSUB", "CHANNELS"), ("PUBSUB", "NUMSUB", "sh1"))
    s.call(("SUNSUBSCRIBE", "sh2"), ("PING",))
    pub.call(("MULTI",), ("SSUBSCRIBE", "x"), ("SPUBLISH", "sh1", "z"), ("EXEC",))
    s.read(1)


def test_pubsub_introspection(diff: Diff, ember: ServerProcess, real_redis: ServerProcess) -> None:
    subs: list[Raw] = []
    try:
        for port in (ember.port, real_redis.port):
            for _ in range(2):
                s = Raw(port)
                s.call(
                    ("SUBSCRIBE", "a1", "a2", "b1"),
                    ("PSUBSCRIBE", "x*", "y*"),
                    ("SSUBSCRIBE", "s1"),
                    n=6,
                )
                subs.append(s)
        diff("PUBSUB", "CHANNELS", sort=True)
        diff("PUBSUB", "CHANNELS", "a*", sort=True)
        diff("PUBSUB", "CHANNELS", "[ab]1", sort=True)
        diff("PUBSUB", "CHANNELS", "nomatch")
        diff("PUBSUB", "NUMSUB", "a1", "a2", "zz", "a1")
        diff("PUBSUB", "NUMSUB")
        diff("PUBSUB", "NUMPAT")
        diff("PUBSUB", "SHARDCHANNELS")
        diff("PUBSUB", "SHARDCHANNELS", "s?")
        diff("PUBSUB", "SHARDNUMSUB", "s1", "a1")
        diff("PUBSUB", "SHARDNUMSUB")
        diff("PUBSUB", "CHANNELS", "a", "b")
        diff("PUBSUB", "SHARDCHANNELS", "a", "b")
        diff("PUBSUB", "NUMPAT", "x")
        diff("PUBSUB")
        diff("PUBSUB", "FOO")
        diff("PUBSUB", "HELP")
        diff("PUBSUB", "HELP", "x")
        diff("PUBLISH", "a1")
        diff("PUBLISH", "a1", "m", "x")
        diff("SPUBLISH", "a1")
        diff("SUBSCRIBE")
        diff("PSUBSCRIBE")
        diff("SSUBSCRIBE")
        diff("PUBLISH", "a1", "m")
        diff("SPUBLISH", "s1", "m")
        e_info = diff.ember.info("stats")
        r_info = diff.redis.info("stats")
        for k in ("pubsub_channels", "pubsub_patterns"):
            assert e_info[k] == r_info[k]
    finally:
        for s in subs:
            s.close()


def test_many_concurrent_subscribers(ember: ServerProcess, real_redis: ServerProcess) -> None:
    results = []
    for port in (ember.port, real_redis.port):
        pubs = [redis.Redis(port=port) for _ in range(2)]
        clients = [redis.Redis(port=port, protocol=3 if i % 2 else 2) for i in range(12)]
        pss = [c.pubsub() for c in clients]
        try:
            for i, ps in enumerate(pss):
                if i % 3 == 0:
                    ps.psubscribe("load.*")
                else:
                    ps.subscribe("load.a", "load.b")
            for ps in pss:
                for _ in range(2 if pss.index(ps) % 3 else 1):
                    assert ps.get_message(timeout=5) is not None
            counts = []
            for i in range(60):
                counts.append(pubs[i % 2].publish("load.a" if i % 3 else "load.b", f"m{i}"))
            got = []
            for ps in pss:
                msgs = []
                while len(msgs) < 60:
                    m = ps.get_message(timeout=5)
                    assert m is not None
                    msgs.append((m["type"], m["pattern"], m["channel"], m["data"]))
                got.append(msgs)
            results.append((counts, got))
        finally:
            for ps in pss:
                ps.close()
            for c in clients + pubs:
                c.close()
    assert results[0] == results[1]


def test_disconnected_subscriber_is_removed(
    ember: ServerProcess, real_redis: ServerProcess
) -> None:
    for port in (ember.port, real_redis.port):
        c = redis.Redis(port=port)
        s = Raw(port)
        s.call(("SUBSCRIBE", "gone"), ("PSUBSCRIBE", "gone*"), ("SSUBSCRIBE", "gone"))
        _wait_numsub(c, "gone", 1)
        s.close()
        _wait_numsub(c, "gone", 0)
        assert c.execute_command("PUBSUB", "SHARDNUMSUB", "gone") == [b"gone", 0]
        assert c.publish("gone", "x") == 0
        c.close()


# ---------------------------------------------------------------------------- MONITOR


_LINE = re.compile(rb"\+(\d+)\.(\d{6}) \[(\d+) (127\.0\.0\.1:\d+)\] (.*)\r\n")


def _monitor_lines(raw: Raw, n: int) -> list[tuple[int, bytes]]:
    """The next ``n`` MONITOR lines as (db, args); checks the line format."""
    out = []
    for _ in range(n):
        line = raw.read(1)
        m = _LINE.fullmatch(line)
        assert m is not None, line
        assert abs(int(m.group(1)) - time.time()) < 60
        out.append((int(m.group(3)), m.group(5)))
    return out


def test_monitor_output_matches_redis(
    pair: Callable[..., Pair], r: redis.Redis, rr: redis.Redis
) -> None:
    m = pair()
    m.call(("MONITOR",))
    a = pair()
    a.call(
        ("SET", "k", b'a"b\\c\n\r\t\x07\x08\x01\x7f\xff z'),
        ("MULTI",),
        ("GET", "k"),
        ("SELECT", "2"),
        ("EXEC",),
        ("MULTI",),
        ("NOSUCH",),
        ("EXEC",),
        ("SELECT", "0"),
        ("WATCH", "k"),
        ("AUTH", "secret"),
        ("AUTH", "user", "secret"),
        ("HELLO", "2", "AUTH", "user", "pw"),
        ("CONFIG", "GET", "maxmemory"),  # admin: not shown
        ("GET", "too", "many"),  # rejected: not shown
        ("CLIENT", "GETNAME"),
        ("PUBLISH", "c", "m"),
        ("BLPOP", "nolist", "0.01"),
        ("ECHO", ""),
        ("SET", "123", "4.5"),
    )
    want = 17
    got_e = _monitor_lines(m.e, want)
    got_r = _monitor_lines(m.r, want)
    assert got_e == got_r
    assert got_e[0] == (0, b'"SET" "k" "a\\"b\\\\c\\n\\r\\t\\a\\b\\x01\\x7f\\xff z"')
    assert (2, b'"EXEC"') in got_e


def test_monitor_client_rules(pair: Callable[..., Pair]) -> None:
    m = pair()
    m.call(("MONITOR",))
    m.e.send(("MONITOR",))
    m.r.send(("MONITOR",))  # a second MONITOR gets no reply at all
    out_e = m.e.call(("PING",), n=1)
    out_r = m.r.call(("PING",), n=1)
    assert out_e == out_r == b"+PONG\r\n"
    # the monitor sees its own commands; keyspace commands are refused
    assert _monitor_lines(m.e, 1) == _monitor_lines(m.r, 1) == [(0, b'"PING"')]
    m.call(("GET", "x"), ("SET", "x", "1"), ("PUBLISH", "c", "m"))
    a = pair()
    a.call(("MULTI",), ("MONITOR",), ("EXEC",))
    a.call(("RESET",), ("MONITOR",), ("RESET",), ("GET", "x"))
