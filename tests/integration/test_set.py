"""Sets (Redis 7.0): every command differential against the real redis-server 7.0.15.

Redis keeps small all-integer sets as an intset, which replies in ascending numeric
order; ember reproduces that order, so those replies are compared as they are. Other
sets are hash tables with an arbitrary order in both servers: those replies are compared
sorted. Random commands are checked for their contract (sizes, membership, removal) and
SPOP's propagation (SREM of the popped members, DEL for the whole set) through the AOF.
"""

from __future__ import annotations

from collections.abc import Callable

import redis
from tests.helpers.diffing import (
    RawDiff,
    Reply,
    aof_commands,
    dumper,
    raw,
    rd_fixture,
    same_aof_after,
)
from tests.helpers.servers import ServerProcess

dump = dumper("set", "list")


def _sorted(reply: Reply) -> Reply:
    kind, v = reply
    if kind == "ok" and isinstance(v, (list, set)):
        if len(v) == 2 and isinstance(v, list) and isinstance(v[1], list):  # SSCAN
            return (kind, [v[0], sorted(v[1])])
        return (kind, sorted(v))
    return reply


rd = rd_fixture(dump, lambda got, want: (_sorted(got), _sorted(want)))


BASIC = """
sadd s 3 1 2 10 -5
smembers s
sadd s 1 4
sadd s 4
scard s
sismember s 1
sismember s 9
smismember s 1 9 2
smismember nokey 1 2
srem s 1 99
srem s 99
srem nokey 1
smembers s
sadd t a b c 3
~smembers t
smembers nokey
scard nokey
sismember nokey a
sinter s t
sinter s nokey
sinter nokey s
sinter s
sinter s s
~sunion s t
~sdiff t s
sdiff s t
sdiff nokey s
sdiff s s
sdiff s nokey s
sunion nokey
sunion s nokey
sinterstore d s t
smembers d
sinterstore d s nokey
exists d
sunionstore d s t
scard d
sdiffstore d s t
smembers d
sdiffstore d nokey
exists d
sunionstore s s t
scard s
sintercard 2 s t
sintercard 1 s
sintercard 1 s limit 2
sintercard 1 s limit 0
sintercard 1 s limit -1
sintercard 1 s limit x
sintercard 0 s
sintercard -1 s
sintercard x s
sintercard 3 s t
sintercard 1 s foo
sintercard 1 s limit
sintercard 2 s nokey
srem s 3 2 10 -5 4 a b c
exists s
"""


def test_basic_commands(rd: RawDiff) -> None:
    rd.script(BASIC)


INTSET_ORDER = """
sadd i 100 -1 50 0 9223372036854775807 -9223372036854775808 7
smembers i
sscan i 0
sunion i
sdiff i
srandmember i 100
sadd j 7 8 9 50
sinter i j
sunion i j
sdiff i j
sadd lead 01 1
~smembers lead
sadd plus +1 2
~smembers plus
sadd over 9223372036854775808 1
~smembers over
sadd sp " 1" 2
~smembers sp
~sunion i over
"""


def test_intset_order(rd: RawDiff) -> None:
    rd.script(INTSET_ORDER)


def test_intset_threshold(rd: RawDiff) -> None:
    rd("SADD", "a", *range(512, 0, -1))
    rd("OBJECT", "ENCODING", "a")
    rd("SMEMBERS", "a")
    rd("SSCAN", "a", 0)
    rd("SADD", "a", 0)
    rd("OBJECT", "ENCODING", "a")
    rd("SMEMBERS", "a", sort=True)
    rd("SADD", "b", 1, 2, "x")
    rd("OBJECT", "ENCODING", "b")
    rd("SADD", "c", "x")
    rd("OBJECT", "ENCODING", "c")
    rd("SUNIONSTORE", "d", "b")
    rd("OBJECT", "ENCODING", "d")
    rd("SDIFFSTORE", "d", "b", "c")
    rd("OBJECT", "ENCODING", "d")
    rd("SMEMBERS", "d")


SMOVE = """
sadd s 1 2 3
sadd t a
set str x
smove s t 2
smove s t 2
~smembers t
smove s str 3
smove nokey str 3
smove str s 3
smove s s 3
smove s s 99
smove s new 3
smembers new
smove s new 1
exists s
smove t new a
~smove t new b
"""


def test_smove(rd: RawDiff) -> None:
    rd.script(SMOVE)


WRONGTYPE = """
set str x
sadd s 1
sadd str a
srem str a
scard str
sismember str a
smismember str a
smembers str
srandmember str
srandmember str 2
srandmember str x
spop str
spop str 2
spop str x
sinter s str
sinter nokey str
sinterstore d str
sintercard 2 s str
sintercard 1 str limit x
sunion s str
sunionstore d nokey str
sdiff nokey str
sdiff str nokey
sdiffstore d s str
sscan str 0
sscan str x
get str
"""


def test_wrongtype_everywhere(rd: RawDiff) -> None:
    rd.script(WRONGTYPE)


ARITY = """
sadd s
srem s
scard
sismember s
smismember s
smembers
srandmember
srandmember s 1 2
spop
spop s 1 2
smove a b
sinter
sinterstore d
sintercard 1
sunion
sunionstore d
sdiff
sdiffstore d
sscan s
"""


def test_arity_errors(rd: RawDiff) -> None:
    rd.script(ARITY)


def test_random_commands(rd: RawDiff, ember: ServerProcess) -> None:
    rd.script(
        """
        sadd s a b c d e
        srandmember nokey
        srandmember nokey 3
        srandmember s 0
        ~srandmember s 5
        ~srandmember s 100
        srandmember s x
        srandmember s -9223372036854775808
        spop nokey
        spop nokey 3
        spop nokey 0
        spop s 0
        spop s -1
        spop s x
        spop s 1.5
        """
    )
    r = ember.client(protocol=2)
    members = {b"a", b"b", b"c", b"d", b"e"}
    for _ in range(10):
        assert r.srandmember("s") in members
        three = raw(r, "SRANDMEMBER", "s", 3)[1]
        assert len(set(three)) == 3 and set(three) <= members
        many = raw(r, "SRANDMEMBER", "s", -30)[1]
        assert len(many) == 30 and set(many) <= members
    assert set(raw(r, "SRANDMEMBER", "s", -1000)[1]) == members
    popped = raw(r, "SPOP", "s", 2)[1]
    assert len(set(popped)) == 2 and set(popped) <= members
    one = raw(r, "SPOP", "s")[1]
    rest = set(raw(r, "SMEMBERS", "s")[1])
    assert rest | set(popped) | {one} == members and len(rest) == 2
    assert set(raw(r, "SPOP", "s", 10)[1]) == rest
    assert r.exists("s") == 0
    # SPOP on a big set: all members come out exactly once
    r.sadd("big", *range(6000))
    out = (
        [r.spop("big") for _ in range(100)]
        + raw(r, "SPOP", "big", 2900)[1]
        + raw(r, "SPOP", "big", 5000)[1]
    )
    assert sorted(int(x) for x in out) == list(range(6000))
    assert r.exists("big") == 0
    r.close()


def test_sscan(rd: RawDiff, ember: ServerProcess) -> None:
    rd.script(
        """
        sadd s a b c ab
        ~sscan s 0
        ~sscan s 0 match a*
        sscan s 0 count 0
        sscan s 0 type set
        sscan s x
        sscan nokey 0
        sscan nokey 0 count 0
        """
    )
    r = ember.client(protocol=2)
    members = {f"m{i}".encode() for i in range(3000)}
    r.sadd("big", *members)
    got: list[bytes] = []
    cursor = b"0"
    for _ in range(10000):
        cursor, items = raw(r, "SSCAN", "big", cursor, "COUNT", 200)[1]
        got += items
        if cursor == b"0":
            break
    assert sorted(got) == sorted(members)
    r.close()


def test_failed_commands_change_nothing(r: redis.Redis, rr: redis.Redis) -> None:
    for c in (r, rr):
        c.sadd("s", "a", "b")
        c.set("str", "x")
        w = c.pipeline(transaction=True)
        w.watch("s")
        for bad in (
            ("SREM", "s", "zz"),
            ("SADD", "s", "a"),
            ("SMOVE", "s", "str", "a"),
            ("SPOP", "s", -1),
            ("SINTERSTORE", "s", "str"),
            ("SMOVE", "s", "t", "zz"),
            ("SINTERCARD", 1, "s", "LIMIT", -1),
        ):
            raw(c, *bad)
        w.multi()
        w.scard("s")
        assert w.execute() == [2]


# ------------------------------------------------------------------------------ propagation


def test_propagation_matches_redis_aof(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> None:
    cmds = [
        ("SADD", "s", 1, 2, 3, "a"),
        ("SADD", "s", 1),
        ("SREM", "s", 9),
        ("SREM", "s", 2),
        ("SMOVE", "s", "t", 3),
        ("SMOVE", "s", "t", 99),
        ("SINTERSTORE", "d", "s", "t"),
        ("SUNIONSTORE", "d", "s", "t"),
        ("SDIFFSTORE", "d", "s", "t"),
        ("SINTERSTORE", "d", "s", "nokey"),
        ("SPOP", "t", 5),
        ("SPOP", "nokey"),
        ("SPOP", "s", 0),
        ("SADD", "one", "x"),
        ("SPOP", "one"),
    ]
    same_aof_after(ember_factory, redis_factory, cmds)


def test_spop_propagates_srem_of_popped_members(
    ember_factory: Callable[..., ServerProcess],
) -> None:
    srv = ember_factory("--appendonly", "yes", "--appendfsync", "always")
    c = srv.client(protocol=2)
    c.sadd("s", *range(20))
    popped = raw(c, "SPOP", "s", 5)[1]
    single = c.spop("s")
    remaining = sorted(raw(c, "SMEMBERS", "s")[1])
    cmds = aof_commands(srv)
    assert cmds[-8] == [b"MULTI"] and cmds[-2] == [b"EXEC"]
    assert sorted(cmd[2] for cmd in cmds[-7:-2]) == sorted(popped)
    assert all(cmd[:2] == [b"SREM", b"s"] and len(cmd) == 3 for cmd in cmds[-7:-2])
    assert cmds[-1] == [b"SREM", b"s", single]
    c.close()
    srv.stop()
    srv.start()
    c = srv.client(protocol=2)
    assert sorted(raw(c, "SMEMBERS", "s")[1]) == remaining
