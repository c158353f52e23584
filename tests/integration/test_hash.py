"""Hashes (Redis 7.0): every command differential against the real redis-server 7.0.15.

Replies are compared raw (no redis-py callbacks; RESP3 byte for byte where the reply type
matters), errors by their full text, and the keyspace after each script. Small hashes are
listpack-encoded in Redis and reply in insertion order, which ember reproduces exactly.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import hiredis
import pytest
import redis
from tests.helpers.diffing import (
    RawDiff,
    dumper,
    raw,
    rd_fixture,
    same_aof_after,
)
from tests.helpers.servers import ServerProcess

dump = dumper("hash")
rd = rd_fixture(dump)


class Resp3:
    """A raw RESP3 connection: replies as the exact bytes the server sent."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self("HELLO", "3")

    def __call__(self, *args: Any) -> bytes:
        parts = [str(a).encode() if not isinstance(a, bytes) else a for a in args]
        self.sock.sendall(
            b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        )
        reader = hiredis.Reader()
        buf = b""
        while True:
            data = self.sock.recv(65536)
            assert data
            buf += data
            reader.feed(data)
            if reader.gets() is not False:
                return buf

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def r3(r: redis.Redis, rr: redis.Redis, ember: ServerProcess, real_redis: ServerProcess) -> Any:
    a, b = Resp3(ember.port), Resp3(real_redis.port)

    def call(*args: Any) -> bytes:
        x, y = a(*args), b(*args)
        assert x == y, f"{args!r}: ember={x!r} redis={y!r}"
        return x

    yield call
    a.close()
    b.close()


BASIC = """
hset h f1 v1 f2 v2
hset h f1 x f3 v3 f1 y
hset h f1
hmset h a 1 b 2
hmset h a
hgetall h
hkeys h
hvals h
hlen h
hget h f1
hget h nope
hget nokey f
hmget h f1 nope f2
hmget nokey a b
hexists h f1
hexists h no
hexists nokey f1
hstrlen h f1
hstrlen h no
hstrlen nokey no
hsetnx h f1 y
hsetnx h new y
hsetnx nokey2 f y
hgetall nokey2
hgetall nokey
hkeys nokey
hvals nokey
hlen nokey
hdel h f1 f1 nope
hdel h nope
hdel nokey a
hdel nokey2 f
exists nokey2
hset e "" ""
hget e ""
hstrlen e ""
hgetall e
"""


def test_basic_commands(rd: RawDiff) -> None:
    rd.script(BASIC)


INCR = """
hincrby h n 5
hincrby h n -10
hincrby h n x
hincrby h n 1.5
hincrby h n 9223372036854775808
hset h s abc sp " 1" lead 007 f 1.5
hincrby h s 1
hincrby h sp 1
hincrby h lead 1
hincrby h f 1
hincrby h big 9223372036854775807
hincrby h big 1
hincrby h neg -9223372036854775808
hincrby h neg -1
hincrby h n 0
hincrbyfloat h fl 1.5
hincrbyfloat h fl 0.1
hincrbyfloat h fl 1e3
hincrbyfloat h fl -1001.6
hincrbyfloat h fl inf
hincrbyfloat h fl -inf
hincrbyfloat h fl nan
hincrbyfloat h fl abc
hincrbyfloat h fl ""
hincrbyfloat h fl " 1"
hincrbyfloat h fl "1 "
hincrbyfloat h fl 1_0
hincrbyfloat h fl 0x10
hincrbyfloat h fl 0x1.8p1
hincrbyfloat h s 1
hincrbyfloat h sp 1
hincrbyfloat h lead 1
hincrbyfloat h n 2.5
hincrbyfloat h fl2 5.0e3
hincrbyfloat h fl3 -0.0
hincrbyfloat h fl4 1.23456789012345678901234
hincrbyfloat h fl5 1e30
hincrbyfloat h fl6 123456789012345678901234567890.123
hincrbyfloat h fl7 3.0e-5
hincrbyfloat h fl7 1e-20
hincrbyfloat h fl8 1e4900
hincrbyfloat h fl8 1e4900
hincrbyfloat h fl9 1e-5000
hincrbyfloat h fl9 1e5000
hincrbyfloat h fl10 17179869184
hincrbyfloat h fl10 0.3
hincrbyfloat h fl10 -0.1
hincrbyfloat h fl11 -9223372036854775808
hincrbyfloat h fl11 -0.5
"""


def test_hincrby_and_hincrbyfloat(rd: RawDiff) -> None:
    rd.script(INCR)


def test_hincrbyfloat_random_sums(rd: RawDiff) -> None:
    import random

    rnd = random.Random(7)
    for i in range(150):
        digits = rnd.randrange(0, 20)
        a = rnd.choice(
            [
                f"{rnd.uniform(-1e6, 1e6):.{digits}f}",
                str(rnd.randrange(-(10**12), 10**12)),
                f"{rnd.uniform(-1, 1):.17g}",
                f"{rnd.randrange(1, 999)}e{rnd.randrange(-30, 30)}",
            ]
        )
        rd("HINCRBYFLOAT", "h", f"f{i % 5}", a)


WRONGTYPE = """
set s str
hset s a b
hmset s a b
hsetnx s a b
hget s a
hmget s a
hgetall s
hkeys s
hvals s
hlen s
hexists s a
hstrlen s a
hdel s a
hincrby s a 1
hincrby s a x
hincrbyfloat s a 1
hincrbyfloat s a x
hrandfield s
hrandfield s 1
hrandfield s x
hscan s 0
hscan s x
get s
"""


def test_wrongtype_everywhere(rd: RawDiff) -> None:
    rd.script(WRONGTYPE)


ARITY = """
hset h f
hset h f v g
hmset h f v g
hsetnx h f
hget h
hmget h
hgetall
hdel h
hlen
hexists h
hstrlen h
hincrby h f
hincrbyfloat h f
hrandfield
hscan h
hkeys
hvals
"""


def test_arity_errors(rd: RawDiff) -> None:
    rd.script(ARITY)


def test_failed_commands_change_nothing(rd: RawDiff, r: redis.Redis, rr: redis.Redis) -> None:
    rd("HSET", "h", "a", "1", "b", "x")
    for c in (r, rr):
        w = c.pipeline(transaction=True)
        w.watch("h")
        for bad in (
            ("HINCRBY", "h", "b", 1),
            ("HINCRBYFLOAT", "h", "b", 1),
            ("HINCRBY", "h", "a", "x"),
            ("HSET", "h", "a"),
            ("HINCRBY", "h", "a", 9223372036854775807),
            ("HDEL", "h", "zz"),
            ("HSETNX", "h", "a", "2"),
            ("HINCRBYFLOAT", "h", "a", "inf"),
        ):
            raw(c, *bad)
        w.multi()
        w.hgetall("h")
        assert w.execute() == [{b"a": b"1", b"b": b"x"}]


def test_hrandfield(rd: RawDiff, ember: ServerProcess) -> None:
    rd.script(
        """
        hset h a 1 b 2 c 3 d 4 e 5
        hrandfield nokey
        hrandfield nokey 5
        hrandfield nokey 5 withvalues
        hrandfield nokey x
        hrandfield h 0
        hrandfield h 0 withvalues
        hrandfield h 5
        hrandfield h 100 withvalues
        hrandfield h -5 foo
        hrandfield h 1 withvalues foo
        hrandfield h 1 2 3
        hrandfield h x
        hrandfield h -9223372036854775808
        hrandfield h -9223372036854775807 withvalues
        hrandfield h 9223372036854775807 withvalues
        hrandfield h 4611686018427387904 withvalues
        """
    )
    h = {b"a": b"1", b"b": b"2", b"c": b"3", b"d": b"4", b"e": b"5"}
    r = ember.client(protocol=2)
    for _ in range(20):
        assert r.execute_command("HRANDFIELD", "h") in h
        one = raw(r, "HRANDFIELD", "h", 1, "WITHVALUES")[1]
        assert len(one) == 2 and h[one[0]] == one[1]
        three = raw(r, "HRANDFIELD", "h", 3)[1]
        assert len(set(three)) == 3 and set(three) <= set(h)
        many = raw(r, "HRANDFIELD", "h", -20, "WITHVALUES")[1]
        assert len(many) == 40 and all(
            h[f] == v for f, v in zip(many[::2], many[1::2], strict=True)
        )
    seen = set(raw(r, "HRANDFIELD", "h", -500)[1])
    assert seen == set(h)  # negative counts sample with replacement from the whole hash


def test_hscan(rd: RawDiff, r: redis.Redis) -> None:
    rd.script(
        """
        hset h a 1 b 2 c 3 ab 4
        hscan h 0
        hscan h 0 match a*
        hscan h 0 count 1
        hscan h 0 count 0
        hscan h 0 count x
        hscan h 0 match
        hscan h 0 type string
        hscan h x
        hscan h -1
        hscan nokey 0
        hscan nokey 0 count 0
        """
    )
    # a hashtable-encoded hash: iterate with the cursor until 0, every field exactly once
    fields = {f"f{i}".encode(): str(i).encode() for i in range(2000)}
    r.hset("big", mapping=fields)
    got: dict[bytes, bytes] = {}
    cursor = b"0"
    for _ in range(10000):
        cursor, items = raw(r, "HSCAN", "big", cursor, "COUNT", 100)[1]
        got.update(zip(items[::2], items[1::2], strict=True))
        if cursor == b"0":
            break
    assert got == fields
    _, items = raw(r, "HSCAN", "big", 0, "MATCH", "f1999", "COUNT", 100000)[1]
    assert items == [b"f1999", b"1999"]


def test_resp3_replies(r3: Callable[..., bytes]) -> None:
    r3("HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5")
    r3("HGETALL", "h")
    r3("HGETALL", "nokey")
    r3("HKEYS", "h")
    r3("HVALS", "h")
    r3("HRANDFIELD", "h", 10, "WITHVALUES")
    r3("HRANDFIELD", "h", 0, "WITHVALUES")
    r3("HRANDFIELD", "nokey")
    r3("HSCAN", "h", 0)
    r3("HMGET", "h", "a", "zz")
    r3("HINCRBYFLOAT", "h", "a", "1.5")
    r3("HSET", "small", "x", "y")
    r3("HGETALL", "small")


def test_encoding_thresholds(rd: RawDiff) -> None:
    for n in (1, 511, 512, 513):
        rd("DEL", "h")
        rd("HSET", "h", *[x for i in range(n) for x in (f"f{i}", "v")])
        rd("OBJECT", "ENCODING", "h")
    for ln in (64, 65):
        rd("HSET", f"v{ln}", "f", "x" * ln)
        rd("OBJECT", "ENCODING", f"v{ln}")
        rd("HSET", f"k{ln}", "f" * ln, "x")
        rd("OBJECT", "ENCODING", f"k{ln}")
        rd("HINCRBYFLOAT", f"i{ln}", "f" * ln, 1)
        rd("OBJECT", "ENCODING", f"i{ln}")


def test_encoding_follows_config(rd: RawDiff) -> None:
    try:
        rd("CONFIG", "SET", "hash-max-listpack-entries", "2")
        rd("CONFIG", "SET", "hash-max-listpack-value", "3")
        rd("HSET", "a", "f", "v", "g", "w")
        rd("OBJECT", "ENCODING", "a")
        rd("HSET", "a", "h", "x")
        rd("OBJECT", "ENCODING", "a")
        rd("HSET", "b", "f", "1234")
        rd("OBJECT", "ENCODING", "b")
    finally:
        rd("CONFIG", "SET", "hash-max-listpack-entries", "512")
        rd("CONFIG", "SET", "hash-max-listpack-value", "64")


# ------------------------------------------------------------------------------ propagation


def test_propagation_matches_redis_aof(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> None:
    cmds = [
        ("HSET", "h", "a", "1", "b", "2"),
        ("HMSET", "h", "c", "3"),
        ("HSETNX", "h", "a", "9"),
        ("HSETNX", "h", "d", "4"),
        ("HINCRBY", "h", "a", 10),
        ("HINCRBYFLOAT", "h", "f", "0.1"),
        ("HINCRBYFLOAT", "h", "f", "1e3"),
        ("HINCRBYFLOAT", "h", "g", "5.0e3"),
        ("HDEL", "h", "zz"),
        ("HDEL", "h", "a", "b"),
        ("HINCRBY", "h", "c", "x"),
        ("HDEL", "h", "c", "d", "f", "g"),
    ]
    same_aof_after(ember_factory, redis_factory, cmds)
