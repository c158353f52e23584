"""Generic keyspace commands, differential against redis-server 7.0.15."""

from __future__ import annotations

import random

import redis
from tests.conftest import Diff


def test_del_exists_type_touch_unlink(diff: Diff) -> None:
    diff.many(
        [
            ("MSET", "a", "1", "b", "2", "c", "3"),
            ("LPUSH", "l", "x"),
            ("EXISTS", "a", "b", "nokey", "a"),
            ("EXISTS", "nokey"),
            ("TOUCH", "a", "nokey", "l"),
            ("DEL", "a", "nokey", "a"),
            ("UNLINK", "b", "b", "c"),
            ("TYPE", "l"),
            ("TYPE", "nokey"),
            ("SET", "s", "v"),
            ("TYPE", "s"),
            ("DEL",),
            ("EXISTS",),
            ("TYPE",),
            ("TYPE", "a", "b"),
            ("TOUCH",),
            ("UNLINK",),
        ]
    )


def test_keys_patterns(diff: Diff) -> None:
    diff(
        "MSET",
        "hello",
        "1",
        "hallo",
        "2",
        "hxllo",
        "3",
        "hllo",
        "4",
        "heeeello",
        "5",
        "a*b",
        "6",
        "a?b",
        "7",
        "[x]",
        "8",
        "",
        "9",
    )
    for pat in [
        "*",
        "h?llo",
        "h*llo",
        "h[ae]llo",
        "h[^e]llo",
        "h[a-b]llo",
        "a\\*b",
        "a\\?b",
        "\\[x\\]",
        "[",
        "nomatch*",
        "*llo",
        "h*",
        "?",
        "",
    ]:
        diff("KEYS", pat, sort=True)
    diff("KEYS")
    diff("KEYS", "a", "b")


def test_rename_renamenx(diff: Diff) -> None:
    diff.many(
        [
            ("SET", "a", "1"),
            ("RENAME", "a", "b"),
            ("GET", "b"),
            ("RENAME", "nokey", "x"),
            ("RENAME", "b", "b"),
            ("RENAMENX", "b", "b"),
            ("RENAMENX", "nokey", "x"),
            ("SET", "c", "2"),
            ("RENAMENX", "b", "c"),
            ("RENAME", "b", "c"),
            ("GET", "c"),
            ("EXISTS", "b"),
            ("SET", "x", "1", "EX", "100"),
            ("RENAME", "x", "y"),
            ("TTL", "y"),
            ("SET", "z", "1"),
            ("RENAME", "y", "z"),
            ("TTL", "z"),
            ("LPUSH", "l", "a"),
            ("RENAME", "l", "l2"),
            ("LRANGE", "l2", "0", "-1"),
            ("RENAME", "a"),
            ("RENAMENX", "a", "b", "c"),
        ]
    )


def test_move_and_select(diff: Diff) -> None:
    diff.many(
        [
            ("SET", "k", "v", "EX", "100"),
            ("MOVE", "k", "1"),
            ("MOVE", "k", "1"),
            ("MOVE", "nokey", "1"),
            ("SELECT", "1"),
            ("GET", "k"),
            ("TTL", "k"),
            ("SET", "other", "1"),
            ("SELECT", "0"),
            ("SET", "other", "0"),
            ("MOVE", "other", "1"),
            ("MOVE", "other", "0"),
            ("MOVE", "other", "16"),
            ("MOVE", "other", "-1"),
            ("MOVE", "other", "abc"),
            ("SELECT", "16"),
            ("SELECT", "-1"),
            ("SELECT", "abc"),
            ("SELECT", "1.5"),
            ("SELECT", "2147483648"),
            ("SELECT",),
            ("SELECT", "1"),
            ("DBSIZE",),
            ("SELECT", "0"),
            ("DBSIZE",),
        ]
    )


def test_copy(diff: Diff) -> None:
    diff.many(
        [
            ("SET", "a", "1", "EX", "100"),
            ("COPY", "a", "b"),
            ("TTL", "b"),
            ("COPY", "a", "b"),
            ("SET", "a", "2"),
            ("COPY", "a", "b", "REPLACE"),
            ("GET", "b"),
            ("COPY", "a", "a"),
            ("COPY", "a", "a", "DB", "0"),
            ("COPY", "a", "a", "DB", "1"),
            ("SELECT", "1"),
            ("GET", "a"),
            ("SELECT", "0"),
            ("COPY", "a", "c", "DB", "16"),
            ("COPY", "a", "c", "DB", "abc"),
            ("COPY", "a", "c", "DB"),
            ("COPY", "a", "c", "FOO"),
            ("COPY", "a", "c", "REPLACE", "REPLACE"),
            ("COPY", "nokey", "c"),
            ("LPUSH", "l", "x", "y"),
            ("COPY", "l", "l2"),
            ("LPUSH", "l2", "z"),
            ("LRANGE", "l", "0", "-1"),
            ("LRANGE", "l2", "0", "-1"),
            ("COPY", "a"),
        ]
    )


def test_swapdb_flush(diff: Diff) -> None:
    diff.many(
        [
            ("SET", "a", "0"),
            ("SELECT", "1"),
            ("SET", "b", "1"),
            ("SWAPDB", "0", "1"),
            ("GET", "a"),
            ("GET", "b"),
            ("SWAPDB", "1", "1"),
            ("SWAPDB", "0", "16"),
            ("SWAPDB", "abc", "1"),
            ("SWAPDB", "0", "abc"),
            ("SWAPDB", "-1", "0"),
            ("SWAPDB", "0"),
            ("FLUSHDB", "FOO"),
            ("FLUSHDB", "ASYNC", "SYNC"),
            ("FLUSHDB", "ASYNC"),
            ("DBSIZE",),
            ("SELECT", "0"),
            ("DBSIZE",),
            ("FLUSHDB", "sync"),
            ("DBSIZE",),
            ("SELECT", "1"),
            ("SET", "x", "1"),
            ("FLUSHALL", "FOO"),
            ("FLUSHALL", "ASYNC"),
            ("DBSIZE",),
            ("SET", "x", "1"),
            ("FLUSHALL",),
            ("DBSIZE",),
            ("DBSIZE", "x"),
        ]
    )


def test_randomkey(r: redis.Redis) -> None:
    assert r.randomkey() is None
    r.mset({f"k{i}": i for i in range(50)})
    seen = {r.randomkey() for _ in range(200)}
    assert seen <= {f"k{i}".encode() for i in range(50)} and len(seen) > 10
    r.flushall()
    r.set("only", "1", px=1)
    r.execute_command("DEBUG", "SLEEP", "0.01")
    assert r.randomkey() is None


def test_object_subcommands(diff: Diff, r: redis.Redis) -> None:
    diff.many(
        [
            ("SET", "int", "12345"),
            ("SET", "big", "12345678901234567890"),
            ("SET", "emb", "a" * 44),
            ("SET", "raw", "a" * 45),
            ("SET", "neg", "-1"),
            ("SET", "zero", "0"),
            ("SET", "lead", "01"),
            ("LPUSH", "list", "x"),
            ("OBJECT", "ENCODING", "int"),
            ("OBJECT", "ENCODING", "big"),
            ("OBJECT", "ENCODING", "emb"),
            ("OBJECT", "ENCODING", "raw"),
            ("OBJECT", "ENCODING", "neg"),
            ("OBJECT", "ENCODING", "lead"),
            ("OBJECT", "ENCODING", "list"),
            ("OBJECT", "ENCODING", "nokey"),
            ("APPEND", "emb", "x"),
            ("OBJECT", "ENCODING", "emb"),
            ("INCR", "int"),
            ("OBJECT", "ENCODING", "int"),
            ("SETRANGE", "int", "0", "9"),
            ("OBJECT", "ENCODING", "int"),
            ("OBJECT", "REFCOUNT", "zero"),
            ("OBJECT", "REFCOUNT", "raw"),
            ("OBJECT", "REFCOUNT", "nokey"),
            ("OBJECT", "FREQ", "raw"),
            ("OBJECT", "FREQ", "nokey"),
            ("OBJECT", "IDLETIME", "nokey"),
            ("OBJECT", "HELP"),
            ("OBJECT", "FOO"),
            ("OBJECT",),
            ("OBJECT", "ENCODING"),
            ("OBJECT", "ENCODING", "a", "b"),
            ("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"),
            ("OBJECT", "IDLETIME", "raw"),
            ("CONFIG", "SET", "maxmemory-policy", "noeviction"),
        ]
    )
    assert isinstance(r.object("idletime", "raw"), int)


def test_scan_options_and_errors(diff: Diff, r: redis.Redis, rr: redis.Redis) -> None:
    for c in (r, rr):
        c.mset({f"key:{i}": i for i in range(300)})
        c.mset({f"other:{i}": i for i in range(30)})
        c.rpush("alist", "x")
    diff("SCAN", "0", "COUNT", "0")
    diff("SCAN", "0", "COUNT", "-1")
    diff("SCAN", "0", "COUNT", "abc")
    diff("SCAN", "abc")
    diff("SCAN", "1x")
    diff("SCAN", " 0")
    diff("SCAN", "18446744073709551616")
    diff("SCAN", "0", "MATCH")
    diff("SCAN", "0", "FOO", "bar")
    diff("SCAN")
    for kw in (
        {"match": "other:*"},
        {"match": "key:1*", "count": 7},
        {"_type": "list"},
        {"_type": "string", "count": 1000},
        {"_type": "nosuchtype"},
        {},
    ):
        assert set(r.scan_iter(**kw)) == set(rr.scan_iter(**kw)), kw  # type: ignore[arg-type]


def test_scan_returns_every_key_present_throughout(r: redis.Redis) -> None:
    """Keys present for the whole iteration are returned, whatever is added/deleted meanwhile."""
    stable = {f"stable:{i}".encode() for i in range(2000)}
    r.mset({k: b"1" for k in stable})
    volatile = [f"vol:{i}".encode() for i in range(2000)]
    r.mset({k: b"1" for k in volatile[:1000]})
    rnd = random.Random(7)
    seen: set[bytes] = set()
    cursor = 0
    added = 1000
    for _ in range(100000):
        cursor, keys = r.scan(cursor, count=rnd.randint(1, 50))
        seen.update(keys)
        # churn: delete some volatile keys, add new ones, on every step
        for _ in range(5):
            r.delete(rnd.choice(volatile[:added]))
        if added < len(volatile):
            r.mset({k: b"1" for k in volatile[added : added + 10]})
            added += 10
        r.set(f"new:{rnd.random()}", 1)
        if cursor == 0:
            break
    assert cursor == 0
    assert stable <= seen


def test_scan_with_expired_keys_and_match(r: redis.Redis) -> None:
    r.mset({f"k{i}": 1 for i in range(100)})
    for i in range(0, 100, 2):
        r.pexpire(f"k{i}", 1)
    r.execute_command("DEBUG", "SLEEP", "0.01")
    found = set(r.scan_iter(count=7))
    assert found == {f"k{i}".encode() for i in range(1, 100, 2)}


def test_many_concurrent_scans(r: redis.Redis) -> None:
    r.mset({f"k{i}": 1 for i in range(500)})
    cursors = [0] * 80
    results: list[set[bytes]] = [set() for _ in cursors]
    done = [False] * len(cursors)
    for _ in range(1000):
        for i, cur in enumerate(cursors):
            if done[i]:
                continue
            cur, keys = r.scan(cur, count=20)
            results[i].update(keys)
            cursors[i] = cur
            done[i] = cur == 0
        if all(done):
            break
    assert all(done)
    assert all(len(s) == 500 for s in results)


def test_object_idletime_under_lru_policy(r: redis.Redis, rr: redis.Redis) -> None:
    import time

    for c in (r, rr):
        c.config_set("maxmemory-policy", "allkeys-lru")
    try:
        for c in (r, rr):  # (not small integers: Redis shares those, without a clock)
            c.set("idle", "value")
            c.set("busy", "value")
        time.sleep(1.2)
        for c in (r, rr):
            c.get("busy")
            assert c.object("idletime", "idle") >= 1, c
            assert c.object("idletime", "idle") >= 1, c  # OBJECT does not count as an access
            assert c.object("idletime", "busy") == 0, c
            c.type("idle")
            c.exists("idle")
            c.ttl("idle")
            assert c.object("idletime", "idle") >= 1, c  # neither do TYPE, EXISTS, TTL
            c.touch("idle")
            assert c.object("idletime", "idle") == 0, c
        r.execute_command("SWAPDB", "0", "1")
        r.execute_command("SELECT", "1")
        assert r.object("idletime", "busy") == 0
    finally:
        for c in (r, rr):
            c.config_set("maxmemory-policy", "noeviction")
