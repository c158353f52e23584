"""Sorted sets (Redis 7.0): every command differential against the real redis-server 7.0.15.

Replies are compared raw in RESP2 and RESP3 (score formatting included: ``%.17g`` bulk
strings in RESP2, doubles in RESP3), errors by their full text, and the keyspace after each
script. Score and lex range edge cases (exclusive bounds, infinities, strtod quirks, mixed
scores with lex ranges), the ZUNION/ZINTER/ZDIFF family, pops (blocking included) and
propagation (AOF) are covered; rank/range queries are checked to stay logarithmic on a
million members.
"""

from __future__ import annotations

import random
import shlex
import time
from collections.abc import Callable
from typing import Any

import redis
from tests.helpers.diffing import (
    RawDiff,
    aof_commands,
    aof_servers,
    blocked_clients,
    dumper,
    raw,
    rd_fixture,
    wait_blocked,
)
from tests.helpers.servers import ServerProcess

dump = dumper("zset", "set")
rd = rd_fixture(dump)


MAIN = """
zadd z 1 a 2 b 3 c
zadd z 0.1 x
zscore z x
zscore z a
zscore z nope
zscore nokey a
zadd z inf pinf -inf ninf
zrange z 0 -1 withscores
zadd z nx xx 1 a
zadd z gt lt 1 a
zadd z gt nx 1 a
zadd z incr 1 a 2 b
zadd z 1 a 2
zadd z
zadd z nx
zadd z abc a
zadd z nan a
zadd z 1e400 a
zadd z 1e-400 a
zadd z 4e-320 den
zadd z " 1" a
zadd z "1 " a
zadd z 0x10 hx
zadd z 1_0 a
zadd z "" a
zadd z ch 5 a 2 b 9 new
zadd z xx ch 6 a 7 nothere
zadd z gt ch 1 a 10 b
zadd z lt ch 1 a 10 c
zadd z incr 5 a
zadd z incr nx 5 a
zadd z incr xx 5 nothere
zadd z incr gt -1 a
zadd nokey xx 1 a
zadd nokey xx incr 1 a
exists nokey
zincrby z 1 b
zincrby z -inf pinf
zincrby z nx b
zincrby z abc b
zincrby newz 2.5 m
zrange z 0 -1 withscores
zcard z
zcard nokey
zmscore z a b nope
zmscore nokey a
zrank z a
zrevrank z a
zrank z nope
zrank nokey a
zcount z -inf +inf
zcount z (1 3
zcount z 1 (3
zcount z "" 3
zcount z abc 3
zcount z ( 3
zcount z " 1" 3
zcount z "1 " 3
zcount z (inf +inf
zcount z -inf (-inf
zcount z 1e400 inf
zcount z nan 3
zrange z 0 2
zrange z -2 -1 withscores
zrange z 2 1
zrange z 0 -1 rev
zrange z 0 -1 rev withscores
zrange z (1 10 byscore
zrange z 10 (1 byscore rev
zrange z 1 10 byscore limit 1 2
zrange z 1 10 byscore limit 1 -1
zrange z 1 10 byscore limit -1 2
zrange z 1 10 byscore limit 0 0
zrange z 10 1 byscore rev limit 1 2 withscores
zrange z 0 1 limit 0 1
zrange z 0 1 limit 0 -1
zrange z - + bylex withscores
zrange z - + bylex
zrange z 0 1 bylex byscore
zrange z 0 1 rev rev
zrange z 0 1 foo
zrange z a b
zrange z a b byscore
zrange z a b bylex
zrangebyscore z -inf +inf withscores limit 0 3
zrangebyscore z -inf +inf byscore
zrangebyscore z -inf +inf rev
zrevrangebyscore z +inf -inf withscores
zrevrangebyscore z +inf -inf limit 2 2
zrevrange z 0 1 withscores
zrevrange z 0 1 byscore
del z2
zadd z2 0 a 0 b 0 c 0 d 0 e 0 f 0 g
zrangebylex z2 - +
zrangebylex z2 [b (e
zrangebylex z2 (b [e limit 1 2
zrevrangebylex z2 [e (b
zrevrangebylex z2 + - limit 1 3
zrangebylex z2 + -
zrangebylex z2 - -
zrangebylex z2 [c [c
zrangebylex z2 (c [c
zrangebylex z2 b c
zrangebylex z2 [a +x
zrangebylex z2 "" +
zlexcount z2 - +
zlexcount z2 [b [d
zlexcount z2 x y
zlexcount nokey - +
zrangebylex z2 - + withscores
zrange z2 [a [z bylex rev
zrangestore dst z2 0 2
zrange dst 0 -1 withscores
zrangestore dst z (1 +inf byscore limit 0 2
zrange dst 0 -1 withscores
zrangestore dst nokey 0 -1
exists dst
zrangestore dst z 0 -1 withscores
zrangestore dst z2 [b [d bylex rev
zrange dst 0 -1
set str x
zrange str 0 1
zrangestore dst str 0 1
zadd str 1 a
zscore str a
zcard str
zrem z a nope
zrem z nope
zrem nokey a
zremrangebyrank z2 0 1
zrange z2 0 -1
zremrangebyscore z2 0 0
exists z2
zadd z3 1 a 2 b 3 c 4 d 5 e
zremrangebyscore z3 (1 3
zrange z3 0 -1
zremrangebyscore z3 x 3
zremrangebyrank z3 x 1
zremrangebylex z3 x y
zadd z4 0 a 0 b 0 c
zremrangebylex z4 [a [b
zrange z4 0 -1
zremrangebylex z4 - +
exists z4
zpopmin z3
zpopmax z3 2
zpopmin z3 0
zpopmin z3 -1
zpopmin z3 x
zpopmin z3 1 2
zpopmin nokey
zpopmin nokey 2
zpopmin str
zadd z5 1 a 2 b 3 c
zmpop 2 nokey z5 min count 2
zmpop 1 z5 max
zmpop 1 z5 max
zmpop 0 z5 max
zmpop 1 z5 middle
zmpop 1 z5 max count 0
zmpop 2 str z5 max
zmpop 1 z5
bzpopmin nokey 0.01
bzmpop 0.01 1 nokey min
bzpopmin str 0
zadd z6 1 a 2 b
bzpopmin z6 0
bzpopmax nokey z6 0
bzmpop 0.01 1 z6 min count 3
exists z6
"""


def test_commands(rd: RawDiff) -> None:
    rd.script(MAIN)


OPS = """
zadd a 1 x 2 y 3 z
zadd b 10 y 20 z 30 w
sadd s y w q
zunion 2 a b
zunion 2 a b withscores
zunion 2 a b weights 2 3 withscores
zunion 2 a b weights 2 withscores
zunion 2 a b aggregate min withscores
zunion 2 a b aggregate max withscores
zunion 2 a b aggregate foo
zunion 3 a b s withscores
zinter 2 a b withscores
zinter 3 a b s withscores
zinter 2 a b aggregate max weights 1 -1 withscores
zinter 2 a nokey
zdiff 2 a b withscores
zdiff 2 b s withscores
zdiff 2 a a
zdiff 1 nokey
zdiff 2 a b weights 1 1
zunionstore d 2 a b
zrange d 0 -1 withscores
zinterstore d 2 a b weights 0.5 2
zrange d 0 -1 withscores
zinterstore d 2 a nokey
exists d
zdiffstore d 2 b a
zrange d 0 -1 withscores
zunionstore d 0 a
zunion 0 a
zinter -1 a
zinter x a
zunion 3 a b
zunionstore d 2 a b withscores
zinterstore d 2 a b limit 1
zintercard 2 a b
zintercard 2 a b limit 1
zintercard 2 a b limit -1
zintercard 2 a b limit x
zintercard 2 a b weights 1 1
zintercard 0 a
zintercard 1 nokey
set str v
zunion 2 a str
zunion 2 str a weights x
zinter 1 str
zunion 1 a weights x
zunion 1 a weights nan
zadd inf1 inf m
zadd ninf1 -inf m
zunion 2 inf1 ninf1 withscores
zinter 2 inf1 ninf1 withscores
zunion 2 inf1 ninf1 weights 0 1 withscores
zinter 2 inf1 ninf1 weights 0 1 aggregate min withscores
zinter 2 inf1 ninf1 weights 0 1 aggregate max withscores
zinter 2 inf1 inf1 aggregate sum withscores
zrandmember nokey
zrandmember nokey 5
zrandmember a 0
zrandmember a 10
zrandmember a 10 withscores
zrandmember a 3 withscore
zrandmember a 1 2 3
zrandmember a x
zrandmember a -9223372036854775808
zrandmember a 9223372036854775807 withscores
zrandmember str
zscan a 0
zscan nokey 0 count 0
zscan a 0 count 0
zscan a 0 match x*
zscan str 0
zscan a -1
zadd fmt 0.1 a 1e17 b 123456789012345678 c -0 d 1e300 e 4611686018427387904 f 4611686018427387903 g
zscan fmt 0
zrange fmt 0 -1 withscores
zscore fmt c
zscore fmt a
zadd zz 1 m
object encoding zz
object encoding a
"""


def test_store_ops_random_scan(rd: RawDiff) -> None:
    rd.script(OPS)


SCORES = """
zadd z 0.1 a 1.5 b 1e17 c -0.0 d 1e-300 e 123456789.123456789 f 3.0000000000000004 g
zadd z 4.9e-324 h -1.7976931348623157e308 i 0x1p-3 j inf k -inf l
zscore z a
zscore z c
zscore z d
zscore z e
zscore z f
zscore z g
zscore z h
zscore z i
zscore z j
zscore z k
zrange z 0 -1 withscores
zmscore z a b c nope
zincrby z 0.2 a
zincrby z 1e308 i
zincrby z -1e308 i
zincrby z inf l
zincrby z -inf k
zadd z incr 0.1 b
zrangebyscore z (0 (1 withscores
zrevrangebyscore z +inf -inf withscores limit 0 4
zscan z 0
zrandmember z 100 withscores
"""


def test_score_formatting(rd: RawDiff) -> None:
    rd.script(SCORES)


RANGE_PARSING = """
zadd z 1 a 2 b 3 c 4 d 5 e
zcount z 1 5
zcount z (1 (5
zcount z -inf +inf
zcount z -INF +Infinity
zcount z "" ""
zcount z "(" 3
zcount z " 2" "  4"
zcount z "2 " 4
zcount z 0x2 0x4
zcount z 2e0 4E0
zcount z 1e400 -1e400
zcount z -1e400 1e400
zcount z nan 3
zcount z 1 nan
zcount z ((1 3
zcount z [1 3
zcount z 1_0 3
zcount z 5 1
zcount z (3 3
zcount z 3 (3
zcount z 3 3
zcount z (inf inf
zcount z -inf (-inf
zrangebyscore z 2 4 limit 1 1
zrangebyscore z 2 4 limit 1
zrangebyscore z 2 4 limit x 1
zrangebyscore z 2 4 limit 0 -5
zrangebyscore z 2 4 limit -1 10
zrangebyscore z 2 4 limit 5 1
zrangebyscore z 2 4 withscores withscores
zrangebyscore z 2 4 withscores limit 0 1 limit 1 1
zrange z 4 2 byscore rev limit 1 5 withscores
zrange z 2 4 byscore rev
zrange z (1 (5 byscore limit 1 1
zremrangebyscore z (5 5
zremrangebyscore z "" 1
zrange z 0 -1
zrange z 0 1 withscores bylex
zrange z [a [c bylex withscores
zrange z 0 1 limit 0 1
zrange z 0 1 limit 0 -1
zrange z 0 1 byscore bylex
zrange z 0 1 rev rev
zrange z 0 -1 rev limit 0 1 byscore
"""


def test_range_parsing(rd: RawDiff) -> None:
    rd.script(RANGE_PARSING)


LEX = """
zadd z 0 a 0 b 0 c 0 d 0 e 0 f 0 g 0 "" 0 aa 0 ab
zrangebylex z - +
zrangebylex z [b (e
zrangebylex z (b [e limit 1 2
zrangebylex z [ (b
zrangebylex z ( +
zrevrangebylex z [e (b
zrevrangebylex z + - limit 1 3
zrevrangebylex z - +
zrangebylex z + -
zrangebylex z - -
zrangebylex z + +
zrangebylex z [c [c
zrangebylex z (c [c
zrangebylex z [c (c
zrangebylex z [d [c
zrangebylex z b c
zrangebylex z [a +x
zrangebylex z -x +
zrangebylex z "" +
zrangebylex z [a [ab limit 0 -1
zrangebylex z [a [ab limit -1 1
zlexcount z - +
zlexcount z [b [d
zlexcount z x y
zlexcount z [d [c
zlexcount nokey - +
zrangebylex z - + withscores
zrange z [a [z bylex rev limit 2 3
zremrangebylex z (a [b
zremrangebylex z [x +
zremrangebylex z x +
zrange z 0 -1
# mixed scores: Redis scans its (listpack) entries in order
zadd m 1 d 2 a 3 c 4 b 5 e
zrangebylex m - +
zrangebylex m [b [d
zrevrangebylex m [d [b
zrevrangebylex m + (a
zrangebylex m (a +
zrangebylex m [c +
zlexcount m [b [d
zlexcount m (a +
zrangestore dst m [b [e bylex
zrange dst 0 -1 withscores
zremrangebylex m [c [d
zrange m 0 -1
"""


def test_lex_ranges(rd: RawDiff) -> None:
    rd.script(LEX)


ZADD_OPTIONS = """
zadd z 1 a 2 b
zadd z nx xx 1 a
zadd z NX XX 1 a
zadd z gt lt 1 a
zadd z gt nx 1 a
zadd z lt nx 1 a
zadd z incr 1 a 2 b
zadd z incr incr 1 a
zadd z ch ch 3 a
zadd z xx gt ch 0 a 5 b 9 c
zadd z lt ch 0 a 5 b 9 c
zadd z gt incr 1 a
zadd z gt incr -1 a
zadd z lt incr -1 a
zadd z nx incr 1 a
zadd z xx incr 1 nope
zadd z nx 7 new 8 a
zadd z 1
zadd z 1 a 2
zadd z a 1
zadd z nx
zadd z xx nx
zadd z foo 1 a
zadd z 1 a foo
zadd nokey xx 1 a
zadd nokey xx ch 1 a
zadd nokey gt 1 a
zadd z2 incr -inf a
zadd z2 incr inf a
zincrby z2 inf a
zadd z2 inf b
zadd z2 incr -inf b
zincrby z2 -inf b
zadd z3 0 a -0 b
zadd z3 -0 a
zscore z3 a
zincrby z3 -0.0 b
zrange z 0 -1 withscores
zrange z2 0 -1 withscores
zincrby z nx a
zincrby z 1
zincrby z 1 a b
zincrby z x a
zincrby z "" a
zincrby z 1 a
"""


def test_zadd_options(rd: RawDiff) -> None:
    rd.script(ZADD_OPTIONS)


WRONGTYPE = """
set s str
sadd st 1 2
zadd z 1 a
zadd s 1 a
zadd s x a
zincrby s 1 a
zrem s a
zcard s
zcount s 0 1
zcount s x 1
zlexcount s - +
zscore s a
zmscore s a
zrank s a
zrevrank s a
zrange s 0 1
zrange s x 1
zrangestore d s 0 1
zrevrange s 0 1
zrangebyscore s 0 1
zrevrangebyscore s 0 1
zrangebylex s - +
zrevrangebylex s - +
zremrangebyrank s 0 1
zremrangebyscore s 0 1
zremrangebylex s - +
zunion 2 z s
zunion 2 s z weights x
zinter 1 s
zdiff 2 s z
zunionstore d 2 z s
zinterstore d 1 s
zdiffstore d 1 s
zintercard 1 s
zunion 2 z st withscores
zinter 2 z st withscores
zdiff 2 st z withscores
zpopmin s
zpopmax s 2
zmpop 1 s min
bzpopmin s 0
bzpopmax nokey s 0
bzmpop 0 1 s max
zrandmember s
zrandmember s 2
zscan s 0
zscan s x
get s
"""


def test_wrongtype_everywhere(rd: RawDiff) -> None:
    rd.script(WRONGTYPE)


ARITY = """
zadd z 1
zincrby z 1
zrem z
zcard
zcount z 0
zlexcount z -
zscore z
zmscore z
zrank z
zrevrank z
zrange z 0
zrangestore d z 0
zrevrange z 0
zrangebyscore z 0
zrevrangebyscore z 0
zrangebylex z -
zrevrangebylex z -
zremrangebyrank z 0
zremrangebyscore z 0
zremrangebylex z -
zunion 1
zinter 1
zdiff 1
zunionstore d 1
zinterstore d
zdiffstore d 1
zintercard 1
zpopmin
zpopmax z 1 2
zmpop 1 z
bzpopmin z
bzpopmax
bzmpop 0 1 z
zrandmember
zscan z
"""


def test_arity_errors(rd: RawDiff) -> None:
    rd.script(ARITY)


def test_zunion_family_with_sets_weights_and_infinities(rd: RawDiff) -> None:
    rd.script(
        """
        zadd a 1 x 2 y 3 z inf p -inf n
        zadd b 10 y 20 z 30 w -inf p inf n
        sadd s y w q 5
        zunion 3 a b s weights 1 2 3 withscores
        zunion 3 a b s weights 0 0 0 withscores
        zunion 2 a b weights -1 1 aggregate max withscores
        zunion 2 a b weights 0.5 -inf aggregate min withscores
        zinter 2 a b withscores
        zinter 3 a b s aggregate max withscores
        zinter 2 a a weights 1 -1 withscores
        zinter 2 a b weights 0 1 aggregate min withscores
        zinter 2 a b weights inf 1 withscores
        zinter 1 s withscores
        zdiff 3 a b s withscores
        zdiff 2 s a withscores
        zdiff 2 a nokey withscores
        zintercard 3 a b s
        zintercard 2 a b limit 1
        zintercard 2 a a limit 0
        zunionstore a 2 a b weights 2 1
        zrange a 0 -1 withscores
        zinterstore b 2 a b aggregate min
        zrange b 0 -1 withscores
        zdiffstore s 2 s a
        type s
        zrange s 0 -1 withscores
        zunion 1 a weights 1 withscores withscores
        zunion 1 a weights 1 weights 2
        zunion 1 a aggregate sum aggregate max withscores
        zunion 2 a
        zunion 1 a weights
        zunion 1 a aggregate
        zunion 1 a withscores x
        zunion 9223372036854775807 a
        zunion 1 a weights 1e400
        zunion 1 a weights nan
        zunion 1 a weights " 1"
        zunion 1 a aggregate foo
        zintercard 1 a withscores
        zintercard 1 a limit 1 limit 2
        zunionstore d 1 a withscores
        zunionstore d 0 a
        zinterstore d -1 a
        zintercard 0 a
        zdiff 0 a
        zdiffstore d 1 a aggregate sum
        """
    )


def test_zscan(rd: RawDiff, ember: ServerProcess) -> None:
    rd.script(
        """
        zadd z 1 a 2.5 b 1e17 c 4611686018427387904 d -0 e inf f
        zscan z 0
        zscan z 0 match [ab]
        zscan z 0 count 1
        zscan z 0 count 0
        zscan z x
        zscan nokey 0 count 0
        """
    )
    r = ember.client(protocol=2)
    members = {f"m{i}".encode(): i / 3 for i in range(1000)}
    r.zadd("big", members)
    got: dict[bytes, float] = {}
    cursor = b"0"
    for _ in range(10000):
        cursor, items = raw(r, "ZSCAN", "big", cursor, "COUNT", 100)[1]
        for m, s in zip(items[::2], items[1::2], strict=True):
            assert float(s) == members[m] and s == b"%.17g" % members[m]
            got[m] = float(s)
        if cursor == b"0":
            break
    assert got == members
    r.close()


def test_zrandmember_contract(ember: ServerProcess) -> None:
    r = ember.client(protocol=2)
    r.flushall()
    z = {b"a": 1.0, b"b": 2.0, b"c": 3.0, b"d": 4.0, b"e": 5.5}
    r.zadd("z", z)
    for _ in range(10):
        assert r.zrandmember("z") in z
        three = raw(r, "ZRANDMEMBER", "z", 3, "WITHSCORES")[1]
        assert len(set(three[::2])) == 3 and all(
            float(s) == z[m] for m, s in zip(three[::2], three[1::2], strict=True)
        )
        many = raw(r, "ZRANDMEMBER", "z", -25)[1]
        assert len(many) == 25 and set(many) <= set(z)
    assert set(raw(r, "ZRANDMEMBER", "z", -1000)[1]) == set(z)
    r.close()


def test_encoding_thresholds(rd: RawDiff) -> None:
    for n in (1, 127, 128, 129):
        rd("DEL", "z")
        rd("ZADD", "z", *[x for i in range(n) for x in (i, f"m{i}")])
        rd("OBJECT", "ENCODING", "z")
    for ln in (64, 65):
        rd("ZADD", f"v{ln}", 1, "m" * ln)
        rd("OBJECT", "ENCODING", f"v{ln}")
        rd("ZADD", f"w{ln}", 1, "a", 2, "m" * ln)
        rd("OBJECT", "ENCODING", f"w{ln}")
    rd("ZADD", "big", *[x for i in range(200) for x in (i, f"m{i}")])
    rd("ZUNIONSTORE", "u", 1, "big")
    rd("OBJECT", "ENCODING", "u")
    rd("ZRANGESTORE", "u2", "big", 0, 9)
    rd("OBJECT", "ENCODING", "u2")
    rd("ZINTERSTORE", "u3", 1, "big")
    rd("OBJECT", "ENCODING", "u3")


def test_failed_commands_change_nothing(r: redis.Redis, rr: redis.Redis) -> None:
    for c in (r, rr):
        c.zadd("z", {"a": 1, "b": 2})
        c.set("str", "x")
        w = c.pipeline(transaction=True)
        w.watch("z")
        for bad in (
            ("ZADD", "z", "1", "a"),
            ("ZADD", "z", "nx", "5", "a"),
            ("ZADD", "z", "xx", "1", "q"),
            ("ZADD", "z", "x", "a"),
            ("ZADD", "z", "nx", "xx", "1", "a"),
            ("ZREM", "z", "q"),
            ("ZINCRBY", "z", "x", "a"),
            ("ZADD", "z", "gt", "0", "b"),
            ("ZREMRANGEBYSCORE", "z", 5, 6),
            ("ZPOPMIN", "z", -1),
            ("ZRANGESTORE", "z", "str", 0, 1),
            ("ZUNIONSTORE", "z", 1, "str"),
            ("ZMPOP", 1, "z", "MIN", "COUNT", 0),
            ("ZADD", "z", "incr", "gt", "-1", "a"),
        ):
            raw(c, *bad)
        w.multi()
        w.zrange("z", 0, -1, withscores=True)
        assert w.execute() == [[(b"a", 1.0), (b"b", 2.0)]]


def test_rank_and_range_queries_are_logarithmic() -> None:
    """A million members: rank, count and range queries must not scan (in-process)."""
    from ember.commands.registry import COMMANDS, load_all

    load_all()
    from ember.config import Config
    from ember.keyspace.types import ZSet
    from ember.server.client import Client
    from ember.server.server import Server

    srv = Server(Config())
    c = Client(srv)
    z = ZSet()
    n = 1_000_000
    pairs = [(float(i // 2), b"m%07d" % i) for i in range(n)]
    z.scores = {m: s for s, m in pairs}
    z.index.update(pairs)
    srv.dbs[0].add(b"z", z)
    rnd = random.Random(1)

    def call(*args: Any) -> Any:
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        return COMMANDS[argv[0].decode().lower()].handler(c, argv)  # type: ignore[misc]

    t0 = time.perf_counter()
    for _ in range(300):
        i = rnd.randrange(n)
        m = b"m%07d" % i
        assert call("ZRANK", b"z", m) == i
        assert call("ZREVRANK", b"z", m) == n - 1 - i
        assert call("ZCOUNT", b"z", i // 2, f"({i // 2 + 10}") == 20
        assert len(call("ZRANGEBYSCORE", b"z", i // 2, "+inf", "LIMIT", 0, 5)) in (5, 2, 4, 1, 3)
        assert call("ZRANGE", b"z", i, i + 2) is not None
        assert call("ZRANGE", b"z", -i - 1, -i - 1, "REV") is not None
        assert call("ZSCORE", b"z", m) == float(i // 2)
        call("ZADD", b"z", str(i), m)
        assert call("ZREM", b"z", m) == 1
        assert call("ZADD", b"z", str(i // 2), m) == 1
    elapsed = time.perf_counter() - t0
    assert elapsed < 20, elapsed  # a single O(n) scan per query would take minutes


# ------------------------------------------------------------------------------ blocking


def run_blocked(
    srv: ServerProcess, control: redis.Redis, cmds: list[tuple[Any, ...]], then: Callable[[], Any]
) -> list[Any]:
    import threading

    results: list[Any] = [None] * len(cmds)
    threads = []
    for i, cmd in enumerate(cmds):
        before = blocked_clients(control)

        def run(i: int = i, cmd: tuple[Any, ...] = cmd) -> None:
            c = srv.client(protocol=2, socket_timeout=20)
            results[i] = raw(c, *cmd)
            c.close()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        threads.append(t)
        wait_blocked(control, before + 1)
    then()
    for t in threads:
        t.join(20)
        assert not t.is_alive()
    return results


def test_blocking_pops(ember: ServerProcess, real_redis: ServerProcess) -> None:
    outs = []
    for srv in (ember, real_redis):
        c = srv.client(protocol=2)
        c.flushall()
        out = []

        def push(c: redis.Redis = c) -> None:
            c.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})

        out.append(
            run_blocked(
                srv,
                c,
                [
                    ("BZPOPMIN", "z", 10),
                    ("BZPOPMAX", "x", "z", 10),
                    ("BZMPOP", 10, 2, "y", "z", "MIN", "COUNT", 2),
                    ("BZPOPMIN", "z", 10),
                ],
                push,
            )
        )
        out.append(raw(c, "ZRANGE", "z", 0, -1))

        def multi(c: redis.Redis = c) -> None:
            p = c.pipeline(transaction=True)
            p.zadd("k2", {"x": 1})
            p.zadd("k1", {"y": 2})
            p.execute()

        out.append(run_blocked(srv, c, [("BZPOPMIN", "k1", "k2", 10)], multi))

        def store(c: redis.Redis = c) -> None:
            c.zadd("src", {"m": 1, "n": 2})
            c.zunionstore("u", ["src"])
            c.zrangestore("r", "src", 0, 0)

        out.append(
            run_blocked(srv, c, [("BZPOPMAX", "u", 10), ("BZMPOP", 10, 1, "r", "MIN")], store)
        )
        t0 = time.monotonic()
        out.append((raw(c, "BZPOPMIN", "none", "0.1"), raw(c, "BZMPOP", "0.1", 1, "none", "MIN")))
        assert time.monotonic() - t0 >= 0.15
        p = c.pipeline(transaction=True)
        p.execute_command("BZPOPMIN", "none", 0)
        p.execute_command("BZMPOP", 0, 1, "none", "MAX")
        out.append(p.execute())
        c.close()
        outs.append(out)
    assert outs[0] == outs[1]


# ------------------------------------------------------------------------------ propagation


PROPAGATION = """
zadd z 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h
zadd z nx 9 a
zadd z xx 9 nope
zadd z gt 0 a
zincrby z 0.1 a
zadd z incr 1e3 b
zrem z nope
zrem z c
zremrangebyrank z 0 0
zremrangebyscore z (5 6
zremrangebylex z - -
zpopmin z
zpopmax z 1
zmpop 2 nokey z min count 1
zmpop 1 z max count 100
zadd z 1 a 2 b 3 c 4 d
bzpopmin nokey z 0
bzpopmax z 0
bzmpop 0 1 z min count 5
zadd y 0 a 0 b 0 c
zadd w 1 b 2 x
zunionstore u 2 y w weights 2 3
zinterstore u 2 y w
zdiffstore u 2 y w
zinterstore u 2 y nokey
zrangestore r y 0 1
zrangestore r y (a + bylex
zrangestore r nokey 0 1
"""


def test_propagation_matches_redis_aof(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> None:
    servers = aof_servers(ember_factory, redis_factory)
    states = []
    for srv in servers:
        c = srv.client(protocol=2)
        for line in PROPAGATION.strip().splitlines():
            raw(c, *shlex.split(line.strip()))

        def push(c: redis.Redis = c) -> None:
            c.zadd("q", {"a": 1, "b": 2, "c": 3})

        run_blocked(
            srv, c, [("BZPOPMAX", "q", 10), ("BZMPOP", 10, 1, "q", "MIN", "COUNT", 5)], push
        )
        states.append(dump(c))
        c.close()
    assert states[0] == states[1]
    assert aof_commands(servers[0]) == aof_commands(servers[1])
    servers[0].stop()
    servers[0].start()
    c = servers[0].client(protocol=2)
    assert dump(c) == states[1]
