"""Lists (Redis 7.0): every command differential against the real redis-server 7.0.15.

Replies are compared raw (no redis-py response callbacks), errors by their full text,
and the whole keyspace is compared after each script. Blocking commands are exercised
with several concurrent connections, waiting on ``INFO clients`` (not on sleeps) for the
clients to be blocked, and the same scenario is run on both servers. Propagation is
checked by comparing the AOF both servers write.
"""

from __future__ import annotations

import shlex
import threading
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

dump = dumper("list", "hash", "set", "zset", "string")
rd = rd_fixture(dump)


# ------------------------------------------------------------------------------ replies

BASIC = """
lpush l a b c
rpush l d e
lrange l 0 -1
lrange l -2 -1
lrange l 1 100
lrange l -100 1
lrange l 5 1
lrange l 3 -3
lrange l -1 -2
lrange l 0 9223372036854775807
lrange l -9223372036854775808 -1
lrange l x 1
lrange l 1 1.5
lrange nokey 0 -1
lindex l 0
lindex l -1
lindex l 10
lindex l -10
lindex l x
lindex nokey x
llen l
llen nokey
lpop l
rpop l
lpop l 0
lpop l -1
lpop l x
lpop l 1 2
lpop nokey 2
lpop nokey 0
lpop nokey
rpop nokey 1
lpop l 2
rpop l 5
exists l
rpush l 1 2 3 4 5 6 7 8 9 10
rpop l 3
lpop l 100
exists l
lpushx nokey a
rpushx nokey a b
rpush l2 a
lpushx l2 b c
rpushx l2 d e
lrange l2 0 -1
lset l2 0 X
lset l2 -1 Y
lset l2 10 X
lset l2 -10 X
lset l2 x X
lset nokey x X
lset nokey 0 X
linsert l2 before X Y
linsert l2 after Y Z
linsert l2 AFTER Y Z2
linsert l2 middle X Z
linsert l2 after nothere Z
linsert nokey after X Z
linsert nokey middle X Z
lrange l2 0 -1
"""


def test_basic_commands(rd: RawDiff) -> None:
    rd.script(BASIC)


LPOS = """
rpush l a b a c a d a
lpos l a
lpos l a rank 2
lpos l a rank -1
lpos l a rank -2
lpos l a rank 9
lpos l a rank -9223372036854775808
lpos l a count 0
lpos l a count 2 rank 2
lpos l a count 0 rank -1
lpos l a count 0 maxlen 3
lpos l a count 0 rank -1 maxlen 3
lpos l a rank 2 maxlen 2
lpos l a rank -2 maxlen 2
lpos l a count 1 maxlen 1
lpos l a rank 0
lpos l a count -1
lpos l a count x
lpos l a maxlen -1
lpos l a maxlen x
lpos l a rank x
lpos l a foo
lpos l a rank
lpos l a count 1 rank
lpos l z
lpos l z count 1
lpos nokey a count 1
lpos nokey a
lpos nokey a rank 0
"""


def test_lpos(rd: RawDiff) -> None:
    rd.script(LPOS)


LREM_LTRIM = """
rpush l a b a c a d a e a
lrem l 2 a
lrange l 0 -1
lrem l -1 a
lrange l 0 -1
lrem l 0 a
lrange l 0 -1
lrem l 0 nothere
lrem l x a
lrem nokey 0 a
lrem l 0 b
lrem l 10 c
lrem l -10 d
lrem l 1 e
exists l
rpush t 0 1 2 3 4 5 6 7 8 9
ltrim t 1 -2
lrange t 0 -1
ltrim t -3 100
lrange t 0 -1
ltrim t x 1
ltrim nokey 0 1
ltrim t 5 1
exists t
rpush t 0 1 2 3
ltrim t -100 -3
lrange t 0 -1
ltrim t 0 0
lrange t 0 -1
"""


def test_lrem_ltrim(rd: RawDiff) -> None:
    rd.script(LREM_LTRIM)


def test_lrem_and_ltrim_on_long_lists(rd: RawDiff) -> None:
    items = [str(i % 7) for i in range(3000)]
    rd("RPUSH", "l", *items)
    rd("LREM", "l", 100, "3")
    rd("LREM", "l", -200, "4")
    rd("LREM", "l", 5, "5")
    rd("LREM", "l", -5, "6")
    rd("LREM", "l", 0, "0")
    rd("LTRIM", "l", 500, -300)
    rd("LTRIM", "l", 1, -2)
    rd("LPOS", "l", "1", "RANK", -3, "COUNT", 10)
    rd("LPOS", "l", "1", "RANK", 40, "COUNT", 0, "MAXLEN", 900)
    rd("LRANGE", "l", 100, 200)
    rd("LRANGE", "l", -200, -100)
    rd("LINDEX", "l", -777)
    rd.same_state()


MOVES = """
rpush l2 a b c d
lmove l2 l3 left right
lmove l2 l3 RIGHT LEFT
lmove l2 l3 up right
lmove l2 l3 left down
lmove nokey l3 left right
rpoplpush l2 l2
lrange l2 0 -1
lmove l2 l2 left right
lrange l2 0 -1
rpoplpush l2 l3
rpoplpush l2 l3
exists l2
rpoplpush nokey l3
lrange l3 0 -1
lmpop 2 nokey l3 left count 2
lmpop 2 nokey l3 right
lmpop 1 nokey left
lmpop 0 l3 left
lmpop -1 l3 left
lmpop x l3 left
lmpop 3 l3 left
lmpop 1 l3
lmpop 1 l3 middle
lmpop 1 l3 left count 0
lmpop 1 l3 left count -1
lmpop 1 l3 left count x
lmpop 1 l3 left count 1 count 1
lmpop 1 l3 left foo
lmpop 1 l3 left count
lmpop 1 l3 left count 100
exists l3
"""


def test_moves_and_mpop(rd: RawDiff) -> None:
    rd.script(MOVES)


WRONGTYPE = """
set s str
hset h f v
lpush s a
rpush s a
lpushx s a
rpushx s a
lpop s
rpop s 2
lrange s 0 1
lindex s 0
lindex s x
lset s 0 v
lset s x v
linsert s before a b
linsert s middle a b
lrem s 0 a
ltrim s 0 1
llen s
lpos s a
lpos s a rank 0
lmove s l left left
rpush l x
lmove l s left left
lmove nokey s left left
rpoplpush l h
rpoplpush h l
lmpop 2 nokey s left
lmpop 2 l s left
rpush l y
blpop nokey s 0
blpop h 0
brpop s l 0
blmove s l left left 0
blmove l s left left 0
brpoplpush s l 0
blmpop 0 1 s left
lrange l 0 -1
"""


def test_wrongtype_everywhere(rd: RawDiff) -> None:
    rd.script(WRONGTYPE)


ARITY = """
lpush l
rpush
lpushx l
lpop
lpop l 1 2
rpop l 1 2
lrange l 0
lindex l
lset l 0
linsert l before a
lrem l 0
ltrim l 0
llen
lpos l
lmove a b left
rpoplpush a
lmpop 1
lmpop 1 l
blpop l
brpop
blmove a b left right
brpoplpush a b
blmpop 0 1 l
"""


def test_arity_errors(rd: RawDiff) -> None:
    rd.script(ARITY)


def test_blocking_argument_errors(rd: RawDiff) -> None:
    rd.script(
        """
        blpop nokey x
        blpop nokey -1
        blpop nokey inf
        blpop nokey nan
        brpop nokey 1e
        blmove a b left up 0
        blmove a b left right x
        brpoplpush a b -5
        blmpop x 1 l left
        blmpop 0 0 l left
        blmpop 0 1 l middle
        blmpop 0 1 l left count 0
        blmpop 0 2 l left
        """
    )


def test_failed_commands_leave_watch_untouched(r: redis.Redis, rr: redis.Redis) -> None:
    """A command that fails (or changes nothing) must not invalidate WATCH."""
    for c in (r, rr):
        c.rpush("l", "a", "b")
        c.set("s", "x")
        w = c.pipeline(transaction=True)
        w.watch("l")
        for bad in (
            ("LSET", "l", 9, "x"),
            ("LINSERT", "l", "middle", "a", "b"),
            ("LINSERT", "l", "before", "zz", "b"),
            ("LPOP", "l", -1),
            ("LPOP", "l", 0),
            ("LMOVE", "l", "s", "left", "left"),
            ("LREM", "l", "x", "a"),
            ("LREM", "l", 0, "zz"),
            ("LPUSHX", "nokey", "v"),
        ):
            raw(c, *bad)
        w.multi()
        w.lrange("l", 0, -1)
        assert w.execute() == [[b"a", b"b"]]


def test_large_elements_and_binary(rd: RawDiff) -> None:
    big = b"x" * 5000
    rd("RPUSH", "l", big, b"\x00\xff", b"", b"a\r\nb")
    rd("LRANGE", "l", 0, -1)
    rd("LPOS", "l", b"")
    rd("LINSERT", "l", "BEFORE", b"\x00\xff", big)
    rd("LREM", "l", 0, big)
    rd("LPOP", "l", 10)
    rd.same_state()


def test_lrange_reply_many_elements(rd: RawDiff) -> None:
    rd("RPUSH", "l", *[f"e{i}" for i in range(1000)], b"y" * 2000)
    rd("LRANGE", "l", 0, -1)
    rd("LRANGE", "l", 10, 30)
    rd("LPOP", "l", 30)
    rd("RPOP", "l", 30)


# ------------------------------------------------------------------------------ blocking


class Blocker:
    """Run blocking commands on their own connections, one after the other blocks."""

    def __init__(self, server: ServerProcess, control: redis.Redis) -> None:
        self.server = server
        self.control = control
        self.results: list[Any] = []
        self.threads: list[threading.Thread] = []

    def start(self, *cmd: Any, db: int = 0, expect_block: bool = True) -> None:
        i = len(self.results)
        self.results.append(None)
        before = blocked_clients(self.control)

        def run() -> None:
            c = self.server.client(db=db, socket_timeout=20)
            self.results[i] = raw(c, *cmd)
            c.close()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)
        if expect_block:
            wait_blocked(self.control, before + 1)
        else:
            t.join(10)

    def join(self) -> list[Any]:
        for t in self.threads:
            t.join(20)
            assert not t.is_alive()
        return self.results


Scenario = Callable[[ServerProcess, redis.Redis], Any]


def both(ember: ServerProcess, real_redis: ServerProcess, scenario: Scenario) -> Any:
    """Run ``scenario`` on a flushed ember and a flushed redis: results must be equal."""
    out = []
    for srv in (ember, real_redis):
        c = srv.client()
        c.flushall()
        out.append(scenario(srv, c))
        c.close()
    assert out[0] == out[1]
    return out[0]


def test_fifo_order_of_blocked_clients(ember: ServerProcess, real_redis: ServerProcess) -> None:
    def sc(srv: ServerProcess, c: redis.Redis) -> Any:
        b = Blocker(srv, c)
        b.start("BLPOP", "q", 10)
        b.start("BRPOP", "other", "q", 10)
        b.start("BLPOP", "q", 10)
        c.rpush("q", "a", "b")
        wait_blocked(c, 1)
        c.rpush("q", "c", "d")
        return b.join(), raw(c, "LRANGE", "q", 0, -1)

    res = both(ember, real_redis, sc)
    assert res[0] == [("ok", [b"q", b"a"]), ("ok", [b"q", b"b"]), ("ok", [b"q", b"c"])]


def test_timeout_and_zero_timeout_inside_multi(
    ember: ServerProcess, real_redis: ServerProcess
) -> None:
    def sc(srv: ServerProcess, c: redis.Redis) -> Any:
        t0 = time.monotonic()
        out = [
            raw(c, "BLPOP", "none", "0.2"),
            raw(c, "BLMOVE", "none", "x", "LEFT", "LEFT", "0.1"),
            raw(c, "BLMPOP", "0.1", 1, "none", "LEFT"),
        ]
        elapsed = time.monotonic() - t0
        assert 0.35 <= elapsed < 5
        # inside MULTI blocking commands never block: they reply like a timeout at once
        p = c.pipeline(transaction=True)
        p.execute_command("BLPOP", "none", 0)
        p.execute_command("BRPOPLPUSH", "none", "x", 0)
        p.execute_command("BLMOVE", "none", "x", "LEFT", "RIGHT", 0)
        p.execute_command("BLMPOP", 0, 1, "none", "LEFT")
        p.rpush("y", "v")
        p.execute_command("BLPOP", "y", 0)
        out.append(p.execute())
        return out

    res = both(ember, real_redis, sc)
    assert res[0] == ("ok", None)


def test_wakeups_by_multi_rename_swapdb_and_move(
    ember: ServerProcess, real_redis: ServerProcess
) -> None:
    def sc(srv: ServerProcess, c: redis.Redis) -> Any:
        out = []
        # pushes inside MULTI are served after EXEC, from the key that became ready first
        b = Blocker(srv, c)
        b.start("BLPOP", "k1", "k2", 10)
        b.start("BLPOP", "k1", 10)
        p = c.pipeline(transaction=True)
        p.rpush("k2", "x")
        p.rpush("k1", "y", "z")
        p.llen("k1")
        out.append(p.execute())
        out.append(b.join())
        # RENAME into a waited key
        b = Blocker(srv, c)
        b.start("BRPOP", "dst", 10)
        c.rpush("src", "1", "2")
        c.rename("src", "dst")
        out.append(b.join())
        # SWAPDB brings a list into db 0
        b = Blocker(srv, c)
        b.start("BLPOP", "sw", 10)
        c1 = srv.client(db=1)
        c1.rpush("sw", "z", "w")
        c1.swapdb(0, 1)
        out.append(b.join())
        out.append(raw(c, "LRANGE", "sw", 0, -1))
        # MOVE from another db
        b = Blocker(
            srv,
            c,
        )
        b.start("BLPOP", "mv", 10)
        c1.rpush("mv", "m")
        c1.move("mv", 0)
        out.append(b.join())
        c1.close()
        # SORT ... STORE and LMOVE create the waited list
        b = Blocker(srv, c)
        b.start("BLPOP", "sorted", 10)
        b.start("BRPOP", "moved", 10)
        c.rpush("src", 3, 1, 2)
        c.sort("src", store="sorted")
        c.lmove("src", "moved", "LEFT", "RIGHT")
        out.append(b.join())
        # key set to another type while waiting: keeps waiting; then a list arrives
        b = Blocker(srv, c)
        b.start("BLPOP", "w", 10)
        c.set("w", "str")
        c.delete("w")
        c.rpush("w", "v")
        out.append(b.join())
        return out

    both(ember, real_redis, sc)


def test_blocking_moves(ember: ServerProcess, real_redis: ServerProcess) -> None:
    def sc(srv: ServerProcess, c: redis.Redis) -> Any:
        out = []
        b = Blocker(srv, c)
        b.start("BLMOVE", "s", "d", "RIGHT", "LEFT", 10)
        b.start("BRPOPLPUSH", "s", "s", 10)
        b.start("BLMOVE", "s", "d", "LEFT", "RIGHT", 10)
        c.rpush("s", "a", "b", "c", "e")
        out.append(b.join())
        out.append((raw(c, "LRANGE", "s", 0, -1), raw(c, "LRANGE", "d", 0, -1)))
        # destination of the wrong type: the client gets WRONGTYPE when served
        c.flushall()
        c.set("d", "str")
        b = Blocker(srv, c)
        b.start("BLMOVE", "s", "d", "RIGHT", "LEFT", 10)
        b.start("BLPOP", "s", 10)
        c.rpush("s", "a")
        out.append(b.join())
        out.append(raw(c, "EXISTS", "s"))
        # BLMPOP with COUNT, served from the pushed key
        b = Blocker(srv, c)
        b.start("BLMPOP", 10, 2, "x", "y", "RIGHT", "COUNT", 2)
        b.start("BLMPOP", 10, 1, "y", "LEFT", "COUNT", 5)
        c.rpush("y", 1, 2, 3)
        out.append(b.join())
        # the same key twice
        b = Blocker(srv, c)
        b.start("BLPOP", "dd", "dd", 10)
        c.rpush("dd", "v1", "v2")
        out.append(b.join())
        out.append(raw(c, "LRANGE", "dd", 0, -1))
        return out

    both(ember, real_redis, sc)


def test_client_unblock(ember: ServerProcess, real_redis: ServerProcess) -> None:
    def sc(srv: ServerProcess, c: redis.Redis) -> Any:
        ids = []
        b = Blocker(srv, c)
        b.start("BLPOP", "u", 10)
        b.start("BLMOVE", "u", "v", "LEFT", "LEFT", 10)
        for line in c.execute_command("CLIENT", "LIST").decode().splitlines():
            if "cmd=blpop" in line or "cmd=blmove" in line:
                ids.append((line.split("cmd=")[1].split()[0], int(line.split()[0][3:])))
        for _, cid in sorted(ids):
            c.execute_command("CLIENT", "UNBLOCK", cid, "ERROR" if _ == "blmove" else "TIMEOUT")
        return b.join()

    assert both(ember, real_redis, sc) == [
        ("ok", None),
        ("err", "UNBLOCKED client unblocked via CLIENT UNBLOCK"),
    ]


# ------------------------------------------------------------------------------ propagation


PROPAGATION = """
rpush l a b c d e f g h
lpush l z
lpushx nokey a
lpop l
rpop l 2
lpop l 0
lpop nokey 3
lset l 0 Z
linsert l before c C
linsert l before nothere C
lrem l 1 C
lrem l 1 nothere
ltrim l 0 100
ltrim l 1 -1
lmove l m left right
rpoplpush l m
lmpop 2 nokey l right count 2
lmpop 1 nokey left
rpush l p q r s t
blpop nokey l 0
brpop l 0
rpush m u v w
blmpop 0 1 m left count 2
blmove m l right left 0
brpoplpush l m 0
blmove nokey l right left 0.01
lrange l 0 -1
lrange m 0 -1
"""


def test_propagation_matches_redis_aof(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> None:
    servers = aof_servers(ember_factory, redis_factory)
    results = []
    for srv in servers:
        c = srv.client()
        for line in PROPAGATION.strip().splitlines():
            raw(c, *shlex.split(line.strip()))
        # a blocked client served by a push is propagated as the non-blocking form
        b = Blocker(srv, c)
        b.start("BLPOP", "q", 10)
        b.start("BLMPOP", 10, 1, "q", "RIGHT", "COUNT", 5)
        b.start("BRPOPLPUSH", "q", "r", 10)
        b.start("BLMOVE", "q", "r", "RIGHT", "LEFT", 10)
        c.rpush("q", 1, 2, 3, 4)
        c.rpush("q", 5)
        c.rpush("q", 6, 7)
        results.append((b.join(), dump(c)))
        c.close()
    assert results[0] == results[1]
    got, want = aof_commands(servers[0]), aof_commands(servers[1])
    assert got == want
    # replaying the AOF rebuilds the same lists
    servers[0].stop()
    servers[0].start()
    c = servers[0].client()
    assert dump(c) == results[1][1]
