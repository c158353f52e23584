"""SORT and SORT_RO (Redis 7.0): differential against the real redis-server 7.0.15.

Lists, sets (intset order) and sorted sets; numeric and ALPHA sorting, ties broken by
element, BY patterns (including ``nosort`` and ``key->field``), GET (``#``, strings, hash
fields, missing keys), LIMIT, ASC/DESC, STORE (and its deletion of the destination), and
the errors. Replies are compared raw in RESP2 and RESP3; the keyspace after each script.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.helpers.diffing import (
    RawDiff,
    dumper,
    rd_fixture,
    same_aof_after,
)
from tests.helpers.servers import ServerProcess

dump = dumper("list", "set", "zset", "hash", other="GET")
rd = rd_fixture(dump)


SCRIPT = """
rpush l 3 1 2 10 -5 1.5
sort l
sort l desc
sort l limit 1 2
sort l limit 1 -1
sort l limit -1 2
sort l limit 10 2
sort l limit 0 0
sort l limit x 1
sort l alpha
sort l alpha desc
rpush w 3 b a c
sort w
sort w alpha
sort w alpha limit 1 2 desc
sort l by nosort
sort l by nosort desc
sort l by nosort limit 1 2
sort l by nosort desc limit 1 2
set weight_3 30
set weight_1 10
set weight_2 -1
set weight_10 5
sort l by weight_*
sort l by weight_* desc
sort l by weight_* alpha
sort l by weight_* get # get weight_*
sort l get weight_* get nokey_*
sort l get foo
hset hash_3 f x
hset hash_1 f y
sort l by hash_*->f alpha
sort l get hash_*->f
sort l get hash_*->
sort l by hash_*->
sort l store dst
lrange dst 0 -1
sort l get weight_* store dst
lrange dst 0 -1
sort l limit 0 0 store dst
exists dst
sort nokey
sort nokey store dst
set str x
sort str
sort l foo
sort l limit 1
sort l store
sort_ro l
sort_ro l store dst
sort_ro l desc alpha limit 0 3
sadd s 5 3 9 1
sort s
sort s by nosort
sort s by nosort store dst
lrange dst 0 -1
sadd s2 b a c
sort s2 alpha
sort s2 by nosort store dst
lrange dst 0 -1
zadd z 3 a 1 b 2 c
sort z alpha
sort z by nosort
sort z by nosort desc limit 1 1
sort z
rpush bad 1 x 3
sort bad
sort bad alpha
rpush e "" " 2" "1e300"
sort e
del e
rpush e "" " 2" "0x10"
sort e
hset notstr a b
sort l by notstr*
rpush dup 2 1 2 1
sort dup
sort dup desc
"""


def test_sort(rd: RawDiff) -> None:
    rd.script(SCRIPT)


MORE = """
rpush l b a c B A 10 9 1e1 -1
sort l alpha
sort l alpha desc limit 0 3
sort l alpha store d
lrange d 0 -1
sort l limit 0 5 alpha
mset w_a 3 w_b 1 w_c 2 w_B 0
sort l alpha by w_*
sort l alpha by w_* desc
# (no LIMIT with BY and ties: Redis then uses an unstable partial quicksort)
sort l by w_* alpha get # get w_*
sort l by w_* get w_* store d
lrange d 0 -1
hset h_a f z
hset h_b f y
hset h_c f x
sort l alpha by h_*->f get h_*->f get #
sort l alpha by h_*->nof
sort l alpha by nokey_* desc
sort l alpha by w_ get w_*
sort l alpha get w_*->f
sort l alpha get h_*
sort l alpha asc desc asc
sort l alpha by w_* by nosort
sort l alpha limit 0 1 limit 2 2
sort l alpha store d1 store d2
exists d1
lrange d2 0 -1
sort l alpha get
sort l alpha by
sort l alpha limit 0
sort l alpha limit 0 x
sort l alpha limit 9223372036854775807 9223372036854775807
sort l alpha limit -9223372036854775808 -9223372036854775808
sort l alpha limit 0 9223372036854775807
zadd z 3 c 1 a 2 b 0 d
sort z alpha
sort z by nosort
sort z by nosort desc
sort z by nosort limit 1 2
sort z by nosort desc limit 1 10
sort z by nosort get #
sort z by nosort store d
lrange d 0 -1
sort z limit 0 2 alpha desc
sort_ro z by nosort desc
sort_ro z alpha get # get w_*
sort_ro nokey
sort_ro l store d
sort_ro l limit 0 1 alpha
sadd s c a b
sort s alpha
sort s by nosort store d
lrange d 0 -1
sort s alpha desc get # limit 1 1
rpush n 3 2.5 -1 1e2 0x10 " 7" inf -inf
sort n
sort n desc
sort n limit 1 3
set big_3 1e400
rpush m 3
sort m by big_*
set big_3 4e-320
sort m by big_*
set big_3 nan
sort m by big_*
"""


def test_sort_more(rd: RawDiff) -> None:
    rd.script(MORE)


def test_sort_store_replaces_any_type(rd: RawDiff) -> None:
    rd.script(
        """
        rpush l 3 1 2
        set dst x
        sort l store dst
        lrange dst 0 -1
        hset dst2 f v
        sort l limit 0 1 store dst2
        type dst2
        sort l limit 5 1 store dst2
        exists dst2
        """
    )


def test_getkeys(rd: RawDiff) -> None:
    for cmd in (
        ("SORT", "l"),
        ("SORT", "l", "STORE", "d"),
        ("SORT", "l", "BY", "x", "STORE", "d1", "GET", "y", "STORE", "d2"),
        ("SORT", "l", "LIMIT", 0, 1, "STORE", "d"),
        ("SORT", "l", "store"),
        ("SORT_RO", "l", "BY", "x"),
    ):
        rd("COMMAND", "GETKEYS", *cmd)


def test_propagation_matches_redis_aof(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> None:
    cmds = [
        ("RPUSH", "l", 3, 1, 2),
        ("SADD", "s", "b", "a"),
        ("SORT", "l", "STORE", "d"),
        ("SORT", "s", "BY", "nosort", "STORE", "d2"),
        ("SORT", "l"),
        ("SORT", "l", "LIMIT", 9, 1, "STORE", "d"),
        ("SORT", "nokey", "STORE", "d2"),
        ("SORT", "l", "GET", "nokey_*", "STORE", "d3"),
    ]
    same_aof_after(ember_factory, redis_factory, cmds, protocol=2)
