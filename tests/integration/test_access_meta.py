"""LFU counters and LRU idle times under an eviction policy, differential against
redis-server 7.0: OBJECT FREQ after each command of a script that touches every type,
RESTORE ... FREQ / IDLETIME, and the RDB_OPCODE_FREQ / RDB_OPCODE_IDLE records both
servers write and read.

``lfu-log-factor 0`` makes every access an increment (probability 1) and
``lfu-decay-time 0`` turns the decay off, so both servers must agree exactly.
Under a policy without a memory limit Redis shares one object (and so one counter)
between all keys holding the same small integer; ember counts per key, as Redis does
once ``maxmemory`` is set (the only setting where the policy evicts anything)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from tests.conftest import _call
from tests.helpers.servers import ServerProcess
from tests.integration.test_keyspace_stats import SCRIPT, SETUP

# maxmemory > 0: Redis stops sharing the small-integer objects (whose single LFU counter
# every key holding that value would share) only when a memory limit is set
LFU_ARGS = (
    "--maxmemory-policy",
    "allkeys-lfu",
    "--maxmemory",
    "1gb",
    "--lfu-log-factor",
    "0",
    "--lfu-decay-time",
    "0",
    "--enable-debug-command",
    "yes",
)


@pytest.fixture(scope="module")
def lfu_pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    e = ServerProcess("ember", tmp_path_factory.mktemp("lfu-ember"), list(LFU_ARGS)).start()
    r = ServerProcess("redis", tmp_path_factory.mktemp("lfu-redis"), list(LFU_ARGS)).start()
    ce, cr = e.client(), r.client()
    try:
        yield ce, cr
    finally:
        ce.close()
        cr.close()
        e.stop()
        r.stop()


def _freqs(c: redis.Redis) -> dict[bytes, Any]:
    return {k: _call(c, "OBJECT", "FREQ", k) for k in sorted(c.keys("*"))}


def test_lfu_counters_follow_redis(lfu_pair: tuple[redis.Redis, redis.Redis]) -> None:
    ce, cr = lfu_pair
    for c in (ce, cr):
        c.flushall()
    for cmd in SETUP:
        assert _call(ce, *cmd) == _call(cr, *cmd), cmd
        assert _freqs(ce) == _freqs(cr), f"after {cmd!r}"
    assert _freqs(ce)[b"s"] == ("ok", 5)  # LFU_INIT_VAL for a new key
    for cmd in SCRIPT:
        if cmd[0] in ("MULTI", "EXEC", "EVAL", "DISCARD"):
            continue  # one connection each here; a queued MULTI would stall the comparison
        want = _call(cr, *cmd)
        got = _call(ce, *cmd)
        assert got[0] == want[0], f"{cmd!r}: ember={got!r} redis={want!r}"
        assert _freqs(ce) == _freqs(cr), f"after {cmd!r}"
    # the counters grew: reads and writes are accesses
    assert max(v[1] for v in _freqs(cr).values()) > 6


def test_lfu_rename_move_copy_keep_or_reset(lfu_pair: tuple[redis.Redis, redis.Redis]) -> None:
    ce, cr = lfu_pair
    script: list[tuple[Any, ...]] = [
        ("SET", "a", "1"),
        ("GET", "a"),
        ("GET", "a"),
        ("RENAME", "a", "b"),  # the object moves: its counter comes along
        ("COPY", "b", "c"),  # a new object: LFU_INIT_VAL
        ("MOVE", "b", "1"),
        ("SELECT", "1"),
        ("GET", "b"),
        ("SELECT", "0"),
        ("INCR", "n"),
        ("INCR", "n"),
        ("SET", "n", "5", "XX"),
        ("TYPE", "c"),
        ("EXISTS", "c"),
        ("TTL", "c"),
        ("TOUCH", "c"),
    ]
    for c in (ce, cr):
        c.flushall()
    for cmd in script:
        assert _call(ce, *cmd) == _call(cr, *cmd), cmd
        assert _freqs(ce) == _freqs(cr), f"after {cmd!r}"
    for c in (ce, cr):
        c.execute_command("SELECT", "1")
    assert _freqs(ce) == _freqs(cr)
    for c in (ce, cr):
        c.execute_command("SELECT", "0")


def test_restore_freq_and_rdb_freq_records_both_ways(
    lfu_pair: tuple[redis.Redis, redis.Redis],
    ember_factory: Callable[..., ServerProcess],
    redis_factory: Callable[..., ServerProcess],
) -> None:
    ce, cr = lfu_pair
    for c in (ce, cr):
        c.flushall()
        c.set("s", "v")
        c.rpush("l", "a", "b")
        payload = c.dump("s")
        c.execute_command("RESTORE", "r", "0", payload, "FREQ", "200")
        for _ in range(3):
            c.get("s")
    assert _freqs(ce) == _freqs(cr)
    assert _freqs(ce)[b"r"] == ("ok", 200)
    # each server saves FREQ records; the other one, started on that file, reads them
    for src, factory in ((ce, redis_factory), (cr, ember_factory)):
        src.save()
        want = _freqs(src)
        d = src.config_get("dir")["dir"]
        other = factory(*LFU_ARGS, "--dir", d)
        with other.client() as oc:
            assert _freqs(oc) == want
            assert sorted(oc.keys("*")) == [b"l", b"r", b"s"]


def test_lru_idle_time_restore_and_rdb_records(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> None:
    args = ("--maxmemory-policy", "allkeys-lru")
    e, r = ember_factory(*args), redis_factory(*args)
    with e.client() as ce, r.client() as cr:
        for c in (ce, cr):
            c.set("s", "v")
            c.execute_command("RESTORE", "old", "0", c.dump("s"), "IDLETIME", "1000")
            c.execute_command("RESTORE", "ignored", "0", c.dump("s"), "FREQ", "9")  # LRU: no-op
        for c in (ce, cr):
            assert 1000 <= c.object("idletime", "old") <= 1002
            assert c.object("idletime", "s") <= 2
            assert _call(c, "OBJECT", "FREQ", "s")[0] == "err"
        # IDLE records: each server reads the other's idle times back
        for src, factory in ((ce, redis_factory), (cr, ember_factory)):
            src.save()
            other = factory(*args, "--dir", src.config_get("dir")["dir"])
            with other.client() as oc:
                assert 1000 <= oc.object("idletime", "old") <= 1003
                assert oc.object("idletime", "s") <= 3


def test_no_access_records_without_a_policy(ember_factory: Callable[..., ServerProcess]) -> None:
    """noeviction (the default) writes neither IDLE nor FREQ records, like Redis."""
    from ember.persistence.rdb.reader import Entry, RdbReader

    e = ember_factory()
    with e.client() as c:
        c.set("s", "v")
        c.execute_command("RESTORE", "r", "0", c.dump("s"), "IDLETIME", "50")
        c.save()
        path = f"{c.config_get('dir')['dir']}/dump.rdb"
    with open(path, "rb") as fh:
        entries = [ev for ev in RdbReader(fh.read()).events() if type(ev) is Entry]
    assert len(entries) == 2
    assert all(ev.lru_idle is None and ev.lfu_freq is None for ev in entries)


def test_lfu_policy_switch_at_runtime(ember_factory: Callable[..., ServerProcess]) -> None:
    e = ember_factory()
    with e.client() as c:
        c.set("k", "v")
        with pytest.raises(redis.ResponseError, match="An LFU maxmemory policy is not selected"):
            c.object("freq", "k")
        c.config_set("maxmemory-policy", "allkeys-lfu")
        assert c.object("freq", "k") == 5  # untracked keys start at LFU_INIT_VAL
        c.config_set("lfu-log-factor", "0")
        c.get("k")
        assert c.object("freq", "k") == 6
        c.config_set("maxmemory-policy", "allkeys-lru")
        time.sleep(1.1)
        assert c.object("idletime", "k") >= 1


def _debug_lru(c: redis.Redis, key: str) -> tuple[int, int]:
    fields = dict(
        f.split(b":", 1) for f in c.execute_command("DEBUG", "OBJECT", key).split() if b":" in f
    )
    return int(fields[b"lru"]), int(fields[b"lru_seconds_idle"])


def test_debug_object_shows_the_policy_bits(
    lfu_pair: tuple[redis.Redis, redis.Redis],
    ember_factory: Callable[..., ServerProcess],
    redis_factory: Callable[..., ServerProcess],
) -> None:
    ce, cr = lfu_pair
    for c in (ce, cr):
        c.flushall()
        c.set("k", "v")
        c.get("k")
    (le, _), (lr, _) = _debug_lru(ce, "k"), _debug_lru(cr, "k")
    assert le & 0xFF == lr & 0xFF == 6  # the counter
    assert abs((le >> 8) - (lr >> 8)) <= 1  # the minute it was last decremented
    args = ("--maxmemory-policy", "allkeys-lru", "--enable-debug-command", "yes")
    e, r = ember_factory(*args), redis_factory(*args)
    with e.client() as ce2, r.client() as cr2:
        got = []
        for c in (ce2, cr2):
            c.set("s", "v")
            c.execute_command("RESTORE", "old", "0", c.dump("s"), "IDLETIME", "500")
            got.append((_debug_lru(c, "old"), _debug_lru(c, "s")))
        (eo, es), (ro, rs) = got
        assert abs(eo[0] - ro[0]) <= 1 and 500 <= eo[1] <= 501 and 500 <= ro[1] <= 501
        assert es[1] <= 1 and rs[1] <= 1


@pytest.mark.parametrize("engine", ["forkless", "fork"])
def test_bgsave_writes_the_counters_as_they_were_at_the_start(
    engine: str,
    ember_factory: Callable[..., ServerProcess],
    redis_factory: Callable[..., ServerProcess],
) -> None:
    """A background save is the dataset at its start, LFU counters included: keys
    overwritten during a forkless save go out as held records, whose FREQ is the one
    from before the write. redis-server reads every counter back."""
    e = ember_factory(*LFU_ARGS, "--bgsave-engine", engine, "--rdb-key-save-delay", "3000")
    n = 120
    with e.client() as c:
        for i in range(n):
            c.set(f"k{i}", "v")
            for _ in range(i % 7):
                c.get(f"k{i}")
        assert c.bgsave()
        for i in range(n - 1, n // 2, -1):  # the walker's tail: still to be saved
            c.set(f"k{i}", "new")
            c.get(f"k{i}")
        deadline = time.monotonic() + 60
        while int(c.info("persistence")["rdb_bgsave_in_progress"]):
            assert time.monotonic() < deadline, "BGSAVE did not finish"
            time.sleep(0.02)
        assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"
        d = c.config_get("dir")["dir"]
    r = redis_factory(*LFU_ARGS, "--dir", d)
    with r.client() as rc:
        want = {f"k{i}".encode(): ("ok", 5 + i % 7) for i in range(n)}
        assert _freqs(rc) == want
        assert rc.get(f"k{n - 1}") == b"v"
