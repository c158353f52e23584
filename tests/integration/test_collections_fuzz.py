"""Randomized differential sequences on lists, hashes, sets and sorted sets.

Hypothesis draws command sequences over a few keys and a small alphabet of members,
values and scores (valid and invalid: wrong types, bad numbers, option conflicts); each
command runs on ember and on the real redis-server 7.0.15, replies must be identical
(replies whose order Redis leaves to its hash tables are compared sorted) and the whole
keyspace is compared after every step. (OBJECT ENCODING is not compared: Redis never
converts a shrunk collection back to its compact encoding, ember reports the encoding for
the current contents; thresholds are tested in the per-type modules.)
"""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers.diffing import Reply, dumper, raw
from tests.helpers.servers import ServerProcess

KEYS = ["k1", "k2", "k3"]
ALL_KEYS = [*KEYS, "str"]
MEMBERS = ["a", "b", "c", "", "1", "2", "-3", "10", "007", "aa", "x" * 70]
INTS = [
    "0",
    "1",
    "2",
    "-1",
    "-2",
    "5",
    "-10",
    "100",
    "x",
    "1.5",
    "9223372036854775807",
    "-9223372036854775808",
]
FLOATS = [
    "0",
    "1",
    "-1",
    "2.5",
    "-0",
    "1e3",
    "0.1",
    "inf",
    "-inf",
    "nan",
    "x",
    "1e400",
    " 1",
    "0x10",
]
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


dump = dumper("list", "hash", "set", "zset", other="GET")


def _sorted(reply: Reply) -> Reply:
    kind, v = reply
    if kind == "ok" and isinstance(v, list):
        if len(v) == 2 and isinstance(v[1], list) and not isinstance(v[0], list):
            return (kind, [v[0], sorted(v[1], key=repr)])  # [key, elements] / [cursor, items]
        return (kind, sorted(v, key=repr))
    return reply


class Runner:
    def __init__(self, ember: ServerProcess, real_redis: ServerProcess) -> None:
        self.a = ember.client(protocol=2)
        self.b = real_redis.client(protocol=2)

    def reset(self) -> None:
        for c in (self.a, self.b):
            c.flushall()
            c.set("str", "text")

    def run(self, cmds: list[tuple[Any, ...]], unordered: frozenset[str] = frozenset()) -> None:
        self.reset()
        for cmd in cmds:
            got, want = raw(self.a, *cmd), raw(self.b, *cmd)
            if str(cmd[0]).upper() in unordered:
                got, want = _sorted(got), _sorted(want)
            assert got == want, f"{cmd!r}: ember={got!r} redis={want!r}"
            assert dump(self.a) == dump(self.b), f"state differs after {cmd!r}"

    def close(self) -> None:
        self.a.close()
        self.b.close()


@pytest.fixture
def runner(ember: ServerProcess, real_redis: ServerProcess) -> Any:
    r = Runner(ember, real_redis)
    yield r
    r.close()


key = st.sampled_from(ALL_KEYS)
member = st.sampled_from(MEMBERS)
integer = st.one_of(st.sampled_from(INTS), st.integers(-6, 6).map(str))
fnum = st.sampled_from(FLOATS)


# ------------------------------------------------------------------------------ lists

list_cmd = st.one_of(
    st.tuples(st.sampled_from(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), key, member, member),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), key),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), key, integer),
    st.tuples(st.just("LRANGE"), key, integer, integer),
    st.tuples(st.just("LINDEX"), key, integer),
    st.tuples(st.just("LSET"), key, integer, member),
    st.tuples(st.just("LINSERT"), key, st.sampled_from(["BEFORE", "AFTER", "x"]), member, member),
    st.tuples(st.just("LREM"), key, integer, member),
    st.tuples(st.just("LTRIM"), key, integer, integer),
    st.tuples(st.just("LLEN"), key),
    st.tuples(
        st.just("LPOS"),
        key,
        member,
        st.just("RANK"),
        integer,
        st.just("COUNT"),
        integer,
        st.just("MAXLEN"),
        integer,
    ),
    st.tuples(st.just("LPOS"), key, member),
    st.tuples(
        st.just("LMOVE"),
        key,
        key,
        st.sampled_from(["LEFT", "RIGHT"]),
        st.sampled_from(["LEFT", "RIGHT", "up"]),
    ),
    st.tuples(st.just("RPOPLPUSH"), key, key),
    st.tuples(
        st.just("LMPOP"),
        st.just("2"),
        key,
        key,
        st.sampled_from(["LEFT", "RIGHT"]),
        st.just("COUNT"),
        integer,
    ),
    st.tuples(
        st.just("BLMPOP"),
        st.just("0.01"),
        st.just("1"),
        st.sampled_from(["k1", "str"]),
        st.just("LEFT"),
    ),
)


@SETTINGS
@given(cmds=st.lists(list_cmd, min_size=1, max_size=25))
def test_lists(runner: Runner, cmds: list[tuple[Any, ...]]) -> None:
    runner.run([*[("RPUSH", "k1", m) for m in ("a", "b", "a")], *cmds])


# ------------------------------------------------------------------------------ hashes

field = st.sampled_from(["f", "g", "h", "", "1", "n", "y" * 70])
hvalue = st.sampled_from(["v", "1", "-2", "2.5", "abc", "", "9223372036854775807", "1e5", "z" * 70])
hash_cmd = st.one_of(
    st.tuples(st.just("HSET"), key, field, hvalue),
    st.tuples(st.just("HSET"), key, field, hvalue, field, hvalue),
    st.tuples(st.just("HMSET"), key, field, hvalue),
    st.tuples(st.just("HSETNX"), key, field, hvalue),
    st.tuples(st.sampled_from(["HGET", "HEXISTS", "HSTRLEN"]), key, field),
    st.tuples(st.just("HMGET"), key, field, field),
    st.tuples(st.sampled_from(["HGETALL", "HKEYS", "HVALS", "HLEN"]), key),
    st.tuples(st.just("HDEL"), key, field, field),
    st.tuples(st.just("HINCRBY"), key, field, integer),
    st.tuples(st.just("HINCRBYFLOAT"), key, field, fnum),
    st.tuples(st.just("HSCAN"), key, st.just("0")),
    st.tuples(
        st.just("HRANDFIELD"), key, st.sampled_from(["0", "50", "-0"]), st.just("WITHVALUES")
    ),
)


@SETTINGS
@given(cmds=st.lists(hash_cmd, min_size=1, max_size=25))
def test_hashes(runner: Runner, cmds: list[tuple[Any, ...]]) -> None:
    # big values make Redis use a hash table, whose order is arbitrary
    runner.run(
        list(cmds), unordered=frozenset({"HGETALL", "HKEYS", "HVALS", "HSCAN", "HRANDFIELD"})
    )


# ------------------------------------------------------------------------------ sets

set_cmd = st.one_of(
    st.tuples(st.just("SADD"), key, member, member),
    st.tuples(st.just("SREM"), key, member, member),
    st.tuples(st.sampled_from(["SCARD", "SMEMBERS"]), key),
    st.tuples(st.just("SISMEMBER"), key, member),
    st.tuples(st.just("SMISMEMBER"), key, member, member),
    st.tuples(st.just("SMOVE"), key, key, member),
    st.tuples(st.sampled_from(["SINTER", "SUNION", "SDIFF"]), key, key),
    st.tuples(st.sampled_from(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), key, key, key),
    st.tuples(st.just("SINTERCARD"), st.just("2"), key, key, st.just("LIMIT"), integer),
    st.tuples(st.just("SPOP"), key, st.sampled_from(["0", "100", "-1"])),
    st.tuples(st.just("SRANDMEMBER"), key, st.sampled_from(["0", "100", "x"])),
    st.tuples(st.just("SSCAN"), key, st.just("0"), st.just("COUNT"), st.just("1000")),
)


@SETTINGS
@given(cmds=st.lists(set_cmd, min_size=1, max_size=25))
def test_sets(runner: Runner, cmds: list[tuple[Any, ...]]) -> None:
    runner.run(
        list(cmds),
        unordered=frozenset(
            {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "SPOP", "SRANDMEMBER", "SSCAN"}
        ),
    )


# ------------------------------------------------------------------------------ sorted sets

score_bound = st.one_of(
    fnum, fnum.map(lambda s: "(" + s), st.sampled_from(["", "(", "-inf", "+inf"])
)
lex_bound = st.one_of(
    st.sampled_from(["-", "+", "x", "[", "("]),
    member.map(lambda m: "[" + m),
    member.map(lambda m: "(" + m),
)
zopts = st.lists(st.sampled_from(["NX", "XX", "GT", "LT", "CH", "INCR"]), max_size=2, unique=True)
zset_cmd = st.one_of(
    st.builds(
        lambda k, o, s1, m1, s2, m2: ("ZADD", k, *o, s1, m1, s2, m2),
        key,
        zopts,
        fnum,
        member,
        fnum,
        member,
    ),
    st.builds(lambda k, o, s1, m1: ("ZADD", k, *o, s1, m1), key, zopts, fnum, member),
    st.tuples(st.just("ZINCRBY"), key, fnum, member),
    st.tuples(st.just("ZREM"), key, member, member),
    st.tuples(st.sampled_from(["ZSCORE", "ZRANK", "ZREVRANK"]), key, member),
    st.tuples(st.just("ZMSCORE"), key, member, member),
    st.tuples(st.just("ZCARD"), key),
    st.tuples(st.just("ZCOUNT"), key, score_bound, score_bound),
    st.tuples(st.just("ZLEXCOUNT"), key, lex_bound, lex_bound),
    st.builds(
        lambda k, a, b, rev, ws: ("ZRANGE", k, a, b, *rev, *ws),
        key,
        integer,
        integer,
        st.sampled_from([(), ("REV",)]),
        st.sampled_from([(), ("WITHSCORES",)]),
    ),
    st.builds(
        lambda k, a, b, rev, lim: ("ZRANGE", k, a, b, "BYSCORE", *rev, "WITHSCORES", *lim),
        key,
        score_bound,
        score_bound,
        st.sampled_from([(), ("REV",)]),
        st.sampled_from([(), ("LIMIT", "0", "2"), ("LIMIT", "1", "-1"), ("LIMIT", "-1", "1")]),
    ),
    st.builds(
        lambda k, a, b, rev, lim: ("ZRANGE", k, a, b, "BYLEX", *rev, *lim),
        key,
        lex_bound,
        lex_bound,
        st.sampled_from([(), ("REV",)]),
        st.sampled_from([(), ("LIMIT", "1", "2"), ("LIMIT", "0", "0")]),
    ),
    st.tuples(st.just("ZREVRANGEBYSCORE"), key, score_bound, score_bound, st.just("WITHSCORES")),
    st.tuples(st.just("ZRANGEBYLEX"), key, lex_bound, lex_bound),
    st.tuples(st.just("ZREMRANGEBYRANK"), key, integer, integer),
    st.tuples(st.just("ZREMRANGEBYSCORE"), key, score_bound, score_bound),
    st.tuples(st.just("ZREMRANGEBYLEX"), key, lex_bound, lex_bound),
    st.tuples(st.sampled_from(["ZPOPMIN", "ZPOPMAX"]), key, st.sampled_from(["1", "2", "0", "-1"])),
    st.tuples(
        st.just("ZMPOP"),
        st.just("2"),
        key,
        key,
        st.sampled_from(["MIN", "MAX"]),
        st.just("COUNT"),
        integer,
    ),
    st.builds(
        lambda op, d, a, b, w, agg: (op, d, "2", a, b, *w, *agg),
        st.sampled_from(["ZUNIONSTORE", "ZINTERSTORE"]),
        key,
        key,
        key,
        st.sampled_from(
            [(), ("WEIGHTS", "2", "-1"), ("WEIGHTS", "0", "inf"), ("WEIGHTS", "x", "1")]
        ),
        st.sampled_from([(), ("AGGREGATE", "MIN"), ("AGGREGATE", "MAX"), ("AGGREGATE", "SUM")]),
    ),
    st.tuples(st.just("ZDIFFSTORE"), key, st.just("2"), key, key),
    st.tuples(
        st.sampled_from(["ZUNION", "ZINTER", "ZDIFF"]),
        st.just("2"),
        key,
        key,
        st.just("WITHSCORES"),
    ),
    st.tuples(st.just("ZINTERCARD"), st.just("2"), key, key),
    st.tuples(st.just("ZRANGESTORE"), key, key, integer, integer),
    st.tuples(st.just("ZSCAN"), key, st.just("0")),
    st.tuples(st.just("ZRANDMEMBER"), key, st.sampled_from(["0", "100"]), st.just("WITHSCORES")),
)


@SETTINGS
@given(cmds=st.lists(zset_cmd, min_size=1, max_size=25))
def test_sorted_sets(runner: Runner, cmds: list[tuple[Any, ...]]) -> None:
    setup = [("ZADD", "k1", "1", "a", "2", "b", "2", "c", "-inf", "x"), ("SADD", "k3", "a", "1")]
    runner.run([*setup, *cmds], unordered=frozenset({"ZSCAN"}))


# ------------------------------------------------------------------------------ keyspace events

EVENTS = """
rpush l a b c
lpush l z
lpushx l y
rpushx nokey y
lpop l
rpop l 2
lset l 0 Q
linsert l before Q P
lrem l 1 P
ltrim l 0 0
lmove l l2 left right
rpoplpush l2 l3
lmpop 1 l3 left
rpush l a b
blpop l 0
blmove l l4 left left 0
hset h a 1
hsetnx h b 2
hincrby h a 1
hincrbyfloat h a 1.5
hdel h a b
sadd s a b 1
srem s a
smove s s2 b
spop s
sadd s 1 2 3
spop s 2
sadd s 4
spop s 10
sadd a 1 2
sadd b 2 3
sinterstore d a b
sunionstore d a b
sdiffstore d a b
sinterstore d a nokey
zadd z 1 a 2 b 3 c
zadd z incr 1 a
zincrby z 1 b
zrem z c
zadd z 3 c 4 d 5 e
zremrangebyrank z 0 0
zremrangebyscore z 2 2
zremrangebylex z - +
zadd z 1 a 2 b 3 c
zpopmin z
zpopmax z 2
zadd z 1 a
zmpop 1 z min
zadd y 1 a
zunionstore u 1 y
zinterstore u 1 y
zdiffstore u 1 y
zrangestore u y 0 0
zrangestore u y 5 6
bzpopmin y 0
rpush srt 3 1 2
sort srt store sorted
sort nokey store sorted
"""


def _events(srv: ServerProcess) -> list[Any]:
    c = srv.client(protocol=2)
    c.flushall()
    c.config_set("notify-keyspace-events", "KEA")
    p = c.pubsub()
    p.psubscribe("__key*__:*")
    p.subscribe("marker")
    out = []
    try:
        for i, line in enumerate(EVENTS.strip().splitlines()):
            c.execute_command(*shlex.split(line))
            c.publish("marker", str(i))
            msgs = []
            for _ in range(1000):
                m = p.get_message(timeout=10)
                assert m is not None
                if m["type"] in ("subscribe", "psubscribe"):
                    continue
                if m["channel"] == b"marker":
                    break
                msgs.append((m["channel"], m["data"]))
            out.append((line, msgs))
    finally:
        c.config_set("notify-keyspace-events", "")
        p.close()
        c.close()
    return out


def test_keyspace_events_match_redis(ember: ServerProcess, real_redis: ServerProcess) -> None:
    got, want = _events(ember), _events(real_redis)
    for g, w in zip(got, want, strict=True):
        assert g == w
