"""keyspace_hits / keyspace_misses (INFO stats) and 'keymiss' events, differential
against redis-server 7.0: Redis counts a hit or a miss for every *read* lookup
(``lookupKeyRead``: read commands, and the sources that write commands such as
SUNIONSTORE, SORT ... STORE, COPY or GETDEL read), never for write lookups, and
publishes a ``keymiss`` event (class ``m``) for each read miss."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.conftest import _call
from tests.helpers.servers import ServerProcess
from tests.integration.test_notifications import _events

SETUP: list[tuple[Any, ...]] = [
    ("SET", "s", "v"),
    ("SET", "n", "10"),
    ("RPUSH", "l", "a", "b", "c"),
    ("HSET", "h", "f", "v", "g", "w"),
    ("SADD", "st", "a", "b"),
    ("SADD", "st2", "b", "c"),
    ("ZADD", "z", "1", "a", "2", "b"),
    ("XADD", "x", "1-1", "f", "v"),
    ("XGROUP", "CREATE", "x", "g", "0"),
    ("PFADD", "hll", "a", "b"),
    ("SETBIT", "bits", "3", "1"),
    ("GEOADD", "geo", "13.361389", "38.115556", "Palermo"),
    ("SET", "w_1", "3"),
    ("RPUSH", "sl", "a", "b", "1"),  # SORT BY/GET patterns: a list keeps the order
]

# (command, ...) run one by one; hit/miss counters are compared after each
SCRIPT: list[tuple[Any, ...]] = [
    # strings
    ("GET", "s"),
    ("GET", "nope"),
    ("MGET", "s", "nope", "n"),
    ("STRLEN", "s"),
    ("STRLEN", "nope"),
    ("GETRANGE", "s", "0", "1"),
    ("SUBSTR", "nope", "0", "1"),
    ("GETEX", "s"),
    ("GETEX", "nope", "PX", "100000"),
    ("GETSET", "s", "v2"),
    ("GETSET", "nope2", "x"),
    ("GETDEL", "nope2"),
    ("GETDEL", "nope3"),
    ("SET", "s", "v3", "GET"),
    ("SET", "nope4", "v", "GET"),
    ("DEL", "nope4"),
    ("SET", "s", "v4"),
    ("SETNX", "s", "x"),
    ("APPEND", "s", "x"),
    ("INCR", "n"),
    ("INCRBYFLOAT", "n", "1.5"),
    ("SETRANGE", "s", "1", "y"),
    ("MSETNX", "a1", "1"),
    ("LCS", "s", "nope"),
    ("DEL", "a1"),
    # generic
    ("EXISTS", "s", "nope", "l"),
    ("TYPE", "s"),
    ("TYPE", "nope"),
    ("TTL", "s"),
    ("PTTL", "nope"),
    ("EXPIRETIME", "s"),
    ("OBJECT", "ENCODING", "s"),
    ("OBJECT", "ENCODING", "nope"),
    ("DUMP", "s"),
    ("DUMP", "nope"),
    ("TOUCH", "s", "nope"),
    ("EXPIRE", "s", "1000"),
    ("EXPIRE", "nope", "10"),
    ("PERSIST", "s"),
    ("COPY", "s", "s_copy"),
    ("COPY", "nope", "s_copy2"),
    ("RENAME", "s_copy", "s_copy3"),
    ("RENAMENX", "s_copy3", "s"),
    ("MOVE", "s_copy3", "1"),
    ("DEL", "s", "nope"),
    ("UNLINK", "nope"),
    ("RANDOMKEY",),
    ("DBSIZE",),
    ("KEYS", "zz*"),
    ("SCAN", "0"),
    ("SET", "s", "v"),
    # lists
    ("LRANGE", "l", "0", "-1"),
    ("LRANGE", "nope", "0", "-1"),
    ("LLEN", "l"),
    ("LINDEX", "l", "0"),
    ("LPOS", "l", "b"),
    ("LPUSH", "l", "z"),
    ("RPUSHX", "nope", "a"),
    ("LPOP", "l"),
    ("LPOP", "nope"),
    ("LSET", "l", "0", "q"),
    ("LINSERT", "l", "BEFORE", "q", "p"),
    ("LREM", "l", "0", "p"),
    ("LTRIM", "l", "0", "10"),
    ("RPOPLPUSH", "l", "l2"),
    ("LMOVE", "nope", "l2", "LEFT", "LEFT"),
    ("LMPOP", "2", "nope", "l2", "LEFT"),
    # hashes
    ("HGET", "h", "f"),
    ("HGET", "nope", "f"),
    ("HMGET", "h", "f", "x"),
    ("HGETALL", "h"),
    ("HLEN", "nope"),
    ("HEXISTS", "h", "f"),
    ("HKEYS", "h"),
    ("HVALS", "nope"),
    ("HSTRLEN", "h", "f"),
    ("HRANDFIELD", "h"),
    ("HSCAN", "h", "0"),
    ("HSET", "h", "k", "v"),
    ("HSETNX", "h", "k", "v"),
    ("HDEL", "h", "k"),
    ("HINCRBY", "h", "c", "1"),
    # sets
    ("SMEMBERS", "st"),
    ("SISMEMBER", "nope", "a"),
    ("SMISMEMBER", "st", "a", "z"),
    ("SCARD", "st"),
    ("SRANDMEMBER", "st"),
    ("SINTER", "st", "st2", "nope"),
    ("SUNION", "st", "nope"),
    ("SDIFF", "st", "st2"),
    ("SINTERCARD", "2", "st", "st2"),
    ("SUNIONSTORE", "d", "st", "nope"),
    ("SINTERSTORE", "d", "st", "st2"),
    ("SDIFFSTORE", "d", "st", "nope"),
    ("SMOVE", "st", "st3", "a"),
    ("SREM", "st", "zz"),
    ("SPOP", "nope"),
    ("SADD", "st", "a"),
    ("SSCAN", "st", "0"),
    # zsets
    ("ZSCORE", "z", "a"),
    ("ZSCORE", "nope", "a"),
    ("ZRANGE", "z", "0", "-1"),
    ("ZRANGE", "nope", "0", "-1"),
    ("ZRANK", "z", "b"),
    ("ZCARD", "z"),
    ("ZCOUNT", "z", "0", "5"),
    ("ZMSCORE", "z", "a", "q"),
    ("ZRANDMEMBER", "z"),
    ("ZINCRBY", "z", "1", "a"),
    ("ZADD", "z", "5", "c"),
    ("ZREM", "z", "c"),
    ("ZUNIONSTORE", "dz", "2", "z", "nope"),
    ("ZINTER", "2", "z", "nope"),
    ("ZDIFF", "1", "z"),
    ("ZRANGESTORE", "dz", "z", "0", "-1"),
    ("ZRANGESTORE", "dz", "nope", "0", "-1"),
    ("ZPOPMIN", "nope"),
    ("ZSCAN", "z", "0"),
    ("ZMPOP", "1", "nope", "MIN"),
    ("ZLEXCOUNT", "z", "-", "+"),
    # streams
    ("XLEN", "x"),
    ("XRANGE", "x", "-", "+"),
    ("XRANGE", "nope", "-", "+"),
    ("XREAD", "STREAMS", "x", "nope", "0", "0"),
    ("XINFO", "STREAM", "x"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x", ">"),
    ("XACK", "x", "g", "1-1"),
    ("XPENDING", "x", "g"),
    ("XCLAIM", "x", "g", "c", "0", "1-1"),
    ("XAUTOCLAIM", "x", "g", "c", "0", "0"),
    ("XDEL", "x", "9-9"),
    ("XTRIM", "x", "MAXLEN", "5"),
    ("XADD", "x", "2-1", "f", "v"),
    # others
    ("PFCOUNT", "hll"),
    ("PFCOUNT", "nope"),
    ("PFADD", "hll", "c"),
    ("PFMERGE", "hll2", "hll", "nope"),
    ("GETBIT", "bits", "3"),
    ("GETBIT", "nope", "1"),
    ("BITCOUNT", "bits"),
    ("BITPOS", "bits", "1"),
    ("BITOP", "OR", "dest", "bits", "nope"),
    ("BITFIELD", "bits", "GET", "u4", "0"),
    ("BITFIELD_RO", "nope", "GET", "u4", "0"),
    ("SETBIT", "bits", "1", "1"),
    ("GEOPOS", "geo", "Palermo"),
    ("GEODIST", "nope", "a", "b"),
    ("GEOSEARCH", "geo", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"),
    ("GEOSEARCHSTORE", "gd", "geo", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"),
    ("SORT", "l2"),
    ("SORT", "nope"),
    ("SORT_RO", "l2", "ALPHA"),
    ("SORT", "sl", "BY", "w_*", "ALPHA"),
    ("SORT", "sl", "ALPHA", "GET", "#", "GET", "w_*", "STORE", "sd"),
    # transactions and scripts count like the commands they run
    ("MULTI",),
    ("GET", "s"),
    ("HGET", "nope", "f"),
    ("SET", "s", "v"),
    ("EXEC",),
    ("EVAL", "return redis.call('GET', KEYS[1])", "1", "s"),
    ("EVAL", "return redis.call('GET', KEYS[1])", "1", "nope"),
    ("EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", "s2"),
    ("BLPOP", "l2", "nope", "0.01"),
    ("BZPOPMIN", "z", "0.01"),
]


def _counts(c: redis.Redis) -> tuple[int, int]:
    st = c.info("stats")
    return int(st["keyspace_hits"]), int(st["keyspace_misses"])


@pytest.fixture
def pair(r: redis.Redis, rr: redis.Redis) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    for c in (r, rr):
        for cmd in SETUP:
            c.execute_command(*cmd)
        c.config_resetstat()
    yield r, rr


def test_hits_and_misses_count_like_redis(
    pair: tuple[redis.Redis, redis.Redis], ember: ServerProcess, real_redis: ServerProcess
) -> None:
    r, rr = pair  # INFO on these; the script on one connection each (MULTI ... EXEC)
    run_e = ember.client(single_connection_client=True)
    run_r = real_redis.client(single_connection_client=True)
    wrong = []
    for cmd in SCRIPT:
        before = _counts(r), _counts(rr)
        _call(run_e, *cmd)  # errors included: only the counters are compared
        _call(run_r, *cmd)
        got = tuple(a - b for a, b in zip(_counts(r), before[0], strict=True))
        want = tuple(a - b for a, b in zip(_counts(rr), before[1], strict=True))
        if got != want:
            wrong.append(f"{' '.join(map(str, cmd))}: ember {got} redis {want}")
    assert not wrong, "\n".join(wrong)


def test_keymiss_events_like_redis(
    r: redis.Redis, rr: redis.Redis, ember: ServerProcess, real_redis: ServerProcess
) -> None:
    """Class 'm': one 'keymiss' event per read miss (not for OBJECT, LOOKUP_NONOTIFY)."""
    got = _events(ember.port, "KEm", SETUP + SCRIPT)
    want = _events(real_redis.port, "KEm", SETUP + SCRIPT)
    assert got == want
    assert any(b"keymiss" in m for m in got)


def test_no_keymiss_events_without_m(ember: ServerProcess, r: redis.Redis) -> None:
    got = _events(ember.port, "KEA", [("GET", "nope"), ("HGET", "nope", "f")])
    assert not any(b"keymiss" in m for m in got)
