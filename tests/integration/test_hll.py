"""HyperLogLog: replies, errors and the stored bytes must be identical to redis-server 7.0."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import Diff
from tests.helpers.diffing import keyspace_events

HDR = 16


def _same_value(r: redis.Redis, rr: redis.Redis, *keys: str) -> None:
    for k in keys:
        a, b = r.get(k), rr.get(k)
        assert a == b, (
            f"{k}: ember {a[:40] if a else a!r}... ({len(a or b'')}) != redis ({len(b or b'')})"
        )


def _pfadd_both(r: redis.Redis, rr: redis.Redis, key: str, elements: list[Any]) -> None:
    assert r.pfadd(key, *elements) == rr.pfadd(key, *elements)


_M = 0xC6A4A7935BD1E995
_U64 = (1 << 64) - 1


def element_with_hash(target: int) -> bytes:
    """An 8-byte element whose MurmurHash64A (seed 0xadc83b19) is ``target``.

    Every step of the hash is invertible for one 8-byte block: undo the final
    xorshift/multiply rounds, then the block mixing.
    """
    minv = pow(_M, -1, 1 << 64)
    h = target
    h ^= h >> 47
    h = (h * minv) & _U64
    h ^= h >> 47
    h = (h * minv) & _U64  # before the last ``h *= m`` of the block loop
    k = h ^ (0xADC83B19 ^ ((8 * _M) & _U64))
    k = (k * minv) & _U64
    k ^= k >> 47
    k = (k * minv) & _U64
    return k.to_bytes(8, "little")


def test_element_with_hash() -> None:
    from ember.keyspace.hll import murmurhash64a

    for t in (0, 1, 12345, (1 << 63) | 99, _U64):
        assert murmurhash64a(element_with_hash(t)) == t


# ------------------------------------------------------------------ byte identity


@pytest.mark.parametrize("n", [0, 1, 2, 10, 100, 300, 1000, 1500, 2500, 4000, 12000])
def test_bytes_identical_after_pfadd(r: redis.Redis, rr: redis.Redis, diff: Diff, n: int) -> None:
    if n == 0:
        diff("PFADD", "h")
    for i in range(0, n, 50):
        _pfadd_both(r, rr, "h", [f"item:{j}" for j in range(i, min(n, i + 50))])
        if i % 500 == 0:
            _same_value(r, rr, "h")
    _same_value(r, rr, "h")
    diff("PFDEBUG", "ENCODING", "h")
    diff("PFCOUNT", "h")
    _same_value(r, rr, "h")  # cached cardinality written in the header
    diff("PFADD", "h", "item:0")  # already counted: no change
    _same_value(r, rr, "h")
    diff("PFADD", "h", "brand-new-element-x")
    _same_value(r, rr, "h")
    diff("PFCOUNT", "h")


def test_bytes_identical_one_by_one(r: redis.Redis, rr: redis.Redis, diff: Diff) -> None:
    rnd = random.Random(11)
    for i in range(1200):
        ele = rnd.getrandbits(40).to_bytes(5, "little") if i % 3 else f"e{i}".encode()
        assert r.pfadd("h", ele) == rr.pfadd("h", ele)
        if i % 97 == 0:
            diff("PFCOUNT", "h")
            _same_value(r, rr, "h")
    _same_value(r, rr, "h")
    diff("PFDEBUG", "DECODE", "h")


def test_binary_and_long_elements(r: redis.Redis, rr: redis.Redis, diff: Diff) -> None:
    elems = [
        b"",
        b"\x00",
        b"\xff" * 7,
        b"a" * 8,
        b"b" * 9,
        b"c" * 15,
        b"d" * 16,
        b"e" * 17,
        bytes(range(256)) * 3,
    ]
    _pfadd_both(r, rr, "h", elems)
    _same_value(r, rr, "h")
    diff("PFCOUNT", "h")
    diff("PFDEBUG", "GETREG", "h")
    _same_value(r, rr, "h")


@pytest.mark.parametrize("maxbytes", [0, 100, 700, 5000])
def test_sparse_max_bytes_config(
    r: redis.Redis, rr: redis.Redis, diff: Diff, maxbytes: int
) -> None:
    for c in (r, rr):
        c.config_set("hll-sparse-max-bytes", maxbytes)
    try:
        for i in range(0, 2500, 25):
            _pfadd_both(r, rr, "h", [f"x{j}" for j in range(i, i + 25)])
            if i % 250 == 0:
                _same_value(r, rr, "h")
                diff("PFDEBUG", "ENCODING", "h")
        _same_value(r, rr, "h")
        diff("PFCOUNT", "h")
    finally:
        for c in (r, rr):
            c.config_set("hll-sparse-max-bytes", 3000)


def test_promotion_by_register_value(r: redis.Redis, rr: redis.Redis, diff: Diff) -> None:
    # an element whose pattern length exceeds 32 (a sparse VAL cannot hold it)
    big = element_with_hash((1 << (14 + 40)) | 5)
    _pfadd_both(r, rr, "h", ["a", "b", "c"])
    diff("PFDEBUG", "ENCODING", "h")
    _pfadd_both(r, rr, "h", [big, "d"])
    diff("PFDEBUG", "ENCODING", "h")
    _same_value(r, rr, "h")
    diff("PFCOUNT", "h")


# ------------------------------------------------------------------ PFCOUNT / PFMERGE


def test_pfcount_union_does_not_write(r: redis.Redis, rr: redis.Redis, diff: Diff) -> None:
    _pfadd_both(r, rr, "a", [f"a{i}" for i in range(200)])
    _pfadd_both(r, rr, "b", [f"b{i}" for i in range(5000)])
    _pfadd_both(r, rr, "c", [f"a{i}" for i in range(100, 400)])
    diff("PFCOUNT", "a", "b", "c")
    diff("PFCOUNT", "a", "c", "missing")
    diff("PFCOUNT", "missing", "missing2")
    diff("PFCOUNT", "missing")
    _same_value(r, rr, "a", "b", "c")  # caches still invalid on both
    diff("PFCOUNT", "a")
    diff("PFCOUNT", "b")
    _same_value(r, rr, "a", "b", "c")


def test_pfmerge(r: redis.Redis, rr: redis.Redis, diff: Diff) -> None:
    _pfadd_both(r, rr, "s1", [f"a{i}" for i in range(300)])
    _pfadd_both(r, rr, "s2", [f"a{i}" for i in range(200, 700)])
    _pfadd_both(r, rr, "d1", [f"d{i}" for i in range(6000)])
    diff("PFMERGE", "m1", "s1", "s2")  # sparse + sparse -> sparse destination
    _same_value(r, rr, "m1")
    diff("PFDEBUG", "ENCODING", "m1")
    diff("PFCOUNT", "m1")
    diff("PFMERGE", "m2", "s1", "d1")  # a dense input -> dense destination
    _same_value(r, rr, "m2")
    diff("PFCOUNT", "m2")
    diff("PFMERGE", "s1", "s2")  # existing sparse destination is also a source
    _same_value(r, rr, "s1")
    diff("PFMERGE", "m3")
    diff("PFMERGE", "m4", "nokey")
    _same_value(r, rr, "m3", "m4")
    diff("PFMERGE", "d1", "s2", "m1")
    _same_value(r, rr, "d1")
    diff("PFCOUNT", "d1", "s1")


def test_pfmerge_sparse_overflowing_max_bytes(r: redis.Redis, rr: redis.Redis, diff: Diff) -> None:
    for i in range(6):
        _pfadd_both(r, rr, f"s{i}", [f"s{i}-{j}" for j in range(400)])
    diff("PFMERGE", "dst", *[f"s{i}" for i in range(6)])  # promoted half way through
    _same_value(r, rr, "dst")
    diff("PFDEBUG", "ENCODING", "dst")


def test_ttl_kept(diff: Diff) -> None:
    diff("PFADD", "h", "a")
    diff("EXPIRE", "h", 1000)
    diff("PFADD", "h", "b", "c")
    diff("PFCOUNT", "h")
    diff("PFMERGE", "h", "h")
    diff("TTL", "h")


# ------------------------------------------------------------------ cross loading


def test_cross_load_redis_to_ember(r: redis.Redis, rr: redis.Redis) -> None:
    for n in (3, 400, 5000):
        key = f"h{n}"
        rr.pfadd(key, *[f"v{i}" for i in range(n)])
        raw = rr.get(key)
        r.set(key, raw)
        assert r.execute_command("PFCOUNT", key) == rr.execute_command("PFCOUNT", key)
        assert r.get(key) == rr.get(key)
        assert r.pfadd(key, "extra1", "extra2") == rr.pfadd(key, "extra1", "extra2")
        assert r.get(key) == rr.get(key)
    assert r.pfcount("h3", "h400", "h5000") == rr.pfcount("h3", "h400", "h5000")


def test_cross_load_ember_to_redis(r: redis.Redis, rr: redis.Redis) -> None:
    for n in (7, 900, 8000):
        key = f"h{n}"
        r.pfadd(key, *[f"w{i}" for i in range(n)])
        rr.set(key, r.get(key))
        assert rr.pfcount(key) == r.pfcount(key)
        assert r.get(key) == rr.get(key)
        rr.execute_command("PFDEBUG", "GETREG", key)
        r.execute_command("PFDEBUG", "GETREG", key)
        assert r.get(key) == rr.get(key)


def test_dump_restore_roundtrip(r: redis.Redis, rr: redis.Redis) -> None:
    rr.pfadd("h", *[f"z{i}" for i in range(100)])
    payload = rr.dump("h")
    assert payload is not None
    r.restore("h", 0, payload)
    assert r.pfcount("h") == rr.pfcount("h")
    assert r.get("h") == rr.get("h")


# ------------------------------------------------------------------ errors


def test_wrong_types(diff: Diff) -> None:
    diff("SET", "s", "not an hll at all, long enough")
    diff("SET", "short", "HYLL")
    diff("LPUSH", "l", "a")
    diff("SET", "int", "12345")
    for k in ("s", "short", "l", "int"):
        diff("PFADD", k, "a")
        diff("PFCOUNT", k)
        diff("PFCOUNT", k, "missing")
        diff("PFCOUNT", "missing", k)
        diff("PFMERGE", k, "missing")
        diff("PFMERGE", "dst", k)
        diff("PFDEBUG", "ENCODING", k)
    diff("EXISTS", "dst")
    diff("PFADD")
    diff("PFCOUNT")
    diff("PFMERGE")


def _set_both(r: redis.Redis, rr: redis.Redis, key: str, value: bytes) -> None:
    r.set(key, value)
    rr.set(key, value)


def test_invalid_headers(r: redis.Redis, rr: redis.Redis, diff: Diff) -> None:
    rr.pfadd("ok", "a", "b")
    good = rr.get("ok")
    assert good is not None
    rr.execute_command("PFDEBUG", "TODENSE", "ok")
    dense = rr.get("ok")
    assert dense is not None
    cases = {
        "badmagic": b"HYLX" + good[4:],
        "badenc": good[:4] + b"\x02" + good[5:],
        "denselen": dense[:-1],
        "denselong": dense + b"\x00",
        "hdronly": good[:HDR],
        "short": good[:10],
    }
    for k, v in cases.items():
        _set_both(r, rr, k, v)
        diff("PFADD", k, "x")
        diff("PFCOUNT", k)
        diff("PFCOUNT", k, "ok")
        diff("PFMERGE", "dst", k)
        diff("PFDEBUG", "DECODE", k)
        _same_value(r, rr, k)


def test_corrupted_sparse_payloads(r: redis.Redis, rr: redis.Redis, diff: Diff) -> None:
    rr.pfadd("ok", "a", "b", "c")
    good = rr.get("ok")
    assert good is not None
    hdr, body = good[:HDR], good[HDR:]
    cases = {
        "too_few": hdr + body[:-1],  # registers don't add up to 16384
        "too_many": hdr + body + b"\x3f",
        "extra_val": hdr + body + b"\x80",
        "only_val": hdr + b"\x83" * 3,
        "xzero_cut": hdr + body[:-1] + b"\x40",  # last XZERO lacks its second byte
        "bigxzero": hdr + b"\x7f\xff\x7f\xff",
        "zeros": hdr + b"\x3f" * 300,
    }
    for k, v in cases.items():
        _set_both(r, rr, k, v)
        diff("PFCOUNT", k)
        diff("PFCOUNT", k, "ok")
        diff("PFMERGE", "dst", "ok", k)
        diff("PFDEBUG", "DECODE", k)
        diff("PFADD", k, "a", "zz", "yy")
        _same_value(r, rr, k)
        diff("PFDEBUG", "TODENSE", k)
        _same_value(r, rr, k)
    diff("EXISTS", "dst")


def _elem(index: int, count: int) -> bytes:
    """An element landing in register ``index`` with pattern length ``count``."""
    return element_with_hash((1 << (14 + count - 1)) | index)


def test_truncated_xzero_payload(r: redis.Redis, rr: redis.Redis, diff: Diff) -> None:
    # XZERO(16127) + a lone XZERO lead byte read as 0x41 0x00 (257 registers): valid sum
    payload = b"HYLL\x01\x00\x00\x00" + bytes(7) + b"\x80" + b"\x7e\xfe" + b"\x41"
    for i, elems in enumerate(
        [
            [_elem(16200, 3)],
            [_elem(16383, 2), _elem(16127, 1)],
            [_elem(100, 4), _elem(16300, 40)],
            [_elem(16128, 1), _elem(16129, 1), _elem(16130, 1)],
        ]
    ):
        key = f"t{i}"
        _set_both(r, rr, key, payload)
        diff("PFCOUNT", key)
        diff("PFDEBUG", "DECODE", key)
        diff("PFADD", key, *elems)
        _same_value(r, rr, key)
        # Redis now reads a byte left past the end of the string in memory (not part
        # of the value): ember keeps that memory with its decoded copy of the value
        diff("PFDEBUG", "DECODE", key)
        diff("PFADD", key, _elem(5, 2), _elem(16250, 2))
        _same_value(r, rr, key)
        diff("PFCOUNT", key)
        _same_value(r, rr, key)


def test_crafted_register_patterns(r: redis.Redis, rr: redis.Redis, diff: Diff) -> None:
    """Adjacent registers with equal values: exercises VAL splitting and merging."""
    rnd = random.Random(5)
    elems = []
    for _ in range(400):
        base = rnd.randrange(16380)
        for j in range(rnd.randrange(1, 6)):
            elems.append(_elem(base + j, rnd.choice([1, 1, 2, 2, 3, 32, 33])))
    for i in range(0, len(elems), 7):
        _pfadd_both(r, rr, "h", elems[i : i + 7])
        if i % 70 == 0:
            _same_value(r, rr, "h")
    _same_value(r, rr, "h")
    diff("PFCOUNT", "h")


def test_pfdebug(r: redis.Redis, rr: redis.Redis, diff: Diff) -> None:
    diff("PFADD", "h", "a", "b", "c")
    diff("PFDEBUG", "DECODE", "h")
    diff("PFDEBUG", "ENCODING", "h")
    diff("PFDEBUG", "encoding", "h")
    diff("PFDEBUG", "GETREG", "h")  # converts to dense
    _same_value(r, rr, "h")
    diff("PFDEBUG", "DECODE", "h")
    diff("PFDEBUG", "ENCODING", "h")
    diff("PFDEBUG", "TODENSE", "h")
    diff("PFADD", "h2", "x")
    diff("PFDEBUG", "TODENSE", "h2")
    _same_value(r, rr, "h2")
    diff("PFDEBUG", "NOPE", "h")
    diff("PFDEBUG", "NOPE", "missing")
    diff("PFDEBUG", "GETREG", "missing")
    diff("PFDEBUG", "GETREG")
    diff("PFDEBUG", "GETREG", "h", "extra")
    diff("SET", "s", "x")
    diff("PFDEBUG", "NOPE", "s")


def test_pfselftest(r: redis.Redis) -> None:
    assert r.execute_command("PFSELFTEST") == b"OK"


# ------------------------------------------------------------------ WATCH / events


def test_pfcount_caching_touches_watch(r: redis.Redis) -> None:
    r.pfadd("h", "a")
    p = r.pipeline()
    p.watch("h")
    r.pfcount("h")  # writes the cached cardinality, as in Redis
    p.multi()
    p.get("h")
    with pytest.raises(redis.WatchError):
        p.execute()
    p = r.pipeline()
    p.watch("h")
    r.pfcount("h")  # cache valid now: no write
    r.pfadd("h", "a")  # no register changed
    p.multi()
    p.pfcount("h")
    assert p.execute() == [1]


def _events(c: redis.Redis, cmds: list[tuple[Any, ...]]) -> list[Any]:
    return keyspace_events(c, cmds)


def test_keyspace_events(r: redis.Redis, rr: redis.Redis) -> None:
    cmds: list[tuple[Any, ...]] = [
        ("PFADD", "h", "a"),
        ("PFADD", "h", "a"),
        ("PFCOUNT", "h"),
        ("PFMERGE", "m", "h"),
        ("PFADD", "n"),
    ]
    assert _events(r, cmds) == _events(rr, cmds)


# ------------------------------------------------------------------ randomized


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(
        st.lists(st.binary(max_size=12), max_size=40),
        min_size=1,
        max_size=12,
    ),
    count_every=st.integers(1, 4),
)
def test_random_sequences_identical(
    r: redis.Redis, rr: redis.Redis, batches: list[list[bytes]], count_every: int
) -> None:
    r.delete("h", "g")
    rr.delete("h", "g")
    for i, batch in enumerate(batches):
        key = "h" if i % 2 == 0 else "g"
        assert r.pfadd(key, *batch) == rr.pfadd(key, *batch)
        if i % count_every == 0:
            assert r.pfcount(key) == rr.pfcount(key)
    _same_value(r, rr, "h", "g")
    assert r.pfcount("h", "g") == rr.pfcount("h", "g")
    assert r.pfmerge("h", "g") == rr.pfmerge("h", "g")
    _same_value(r, rr, "h")


# ------------------------------------------------------------------ throughput


def test_throughput_report(r: redis.Redis, capsys: pytest.CaptureFixture[str]) -> None:
    """Not a benchmark gate: prints PFADD/PFCOUNT rates (sanity bound only)."""
    n = 20000
    elements = [f"elem:{i}".encode() for i in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, 100):
        r.pfadd("tp", *elements[i : i + 100])
    t1 = time.perf_counter()
    p = r.pipeline(transaction=False)
    for i in range(2000):
        p.pfadd("tp1", elements[i])
    p.execute()
    t2 = time.perf_counter()
    p = r.pipeline(transaction=False)
    for i in range(500):
        p.pfadd("tp", elements[i] + b"!")
        p.pfcount("tp")
    p.execute()
    t3 = time.perf_counter()
    union = r.pfcount("tp", "tp1")
    t4 = time.perf_counter()
    with capsys.disabled():
        print(
            f"\n[hll] PFADD batched: {n / (t1 - t0):,.0f} elements/s; "
            f"PFADD single (sparse): {2000 / (t2 - t1):,.0f} cmds/s; "
            f"PFADD+PFCOUNT dense: {500 / (t3 - t2):,.0f} pairs/s; "
            f"PFCOUNT 2-key union: {1000 * (t4 - t3):.1f} ms (={union})"
        )
    assert t1 - t0 < 30


# ------------------------------------------------------------------ propagation


def test_aof_replay_reproduces_values(ember_factory: Any) -> None:
    """What is propagated (PFADD, PFCOUNT cache updates, PFMERGE, GEOADD as ZADD, bit
    commands) replays to byte-identical values."""
    args = ("--appendonly", "yes", "--save", "")
    s = ember_factory(*args, sub="aof")
    c = s.client()
    c.pfadd("h", *[f"x{i}" for i in range(700)])
    c.pfcount("h")
    c.pfadd("h2", "a", "b")
    c.pfmerge("h3", "h", "h2")
    c.execute_command("PFDEBUG", "TODENSE", "h2")
    c.setbit("b", 100, 1)
    c.bitfield("b").incrby("u8", 0, 5).overflow("FAIL").incrby("u2", 50, 9).execute()
    c.bitop("XOR", "b2", "b", "h")
    c.execute_command("GEOADD", "g", "CH", 13.36, 38.11, "Palermo", 15.08, 37.5, "Catania")
    c.execute_command(
        "GEOSEARCHSTORE", "gs", "g", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "STOREDIST"
    )
    before = {k: c.dump(k) for k in c.keys()}
    c.close()
    s.stop()
    s2 = ember_factory(*args, sub="aof")
    c2 = s2.client()
    after = {k: c2.dump(k) for k in c2.keys()}
    c2.close()
    assert before == after


def test_multikey_error_order(r: redis.Redis, rr: redis.Redis, diff: Diff) -> None:
    diff("PFADD", "ok", "a")
    good = rr.get("ok")
    assert good is not None
    _set_both(r, rr, "corrupt", good[:HDR] + b"\x7f\xff\x00")
    diff("SET", "str", "plain string value")
    diff("PFCOUNT", "corrupt", "str")
    diff("PFCOUNT", "str", "corrupt")
    diff("PFMERGE", "corrupt", "str")
    diff("PFMERGE", "ok", "corrupt", "str")
    diff("PFCOUNT", "ok", "ok")
    diff("PFCOUNT", "ok", "missing")
    diff("PFADD", "ok", "b")
    diff("PFCOUNT", "ok", "missing")  # the union cache sees the new value


def test_object_encoding(diff: Diff) -> None:
    diff("PFADD", "h", "a")
    diff("OBJECT", "ENCODING", "h")
    diff("PFCOUNT", "h")
    diff("OBJECT", "ENCODING", "h")
    diff("PFMERGE", "m", "h")
    diff("OBJECT", "ENCODING", "m")
    diff("SET", "a", "1")
    diff("BITOP", "OR", "b", "a")
    diff("OBJECT", "ENCODING", "b")
    diff("SETBIT", "s", 3, 1)
    diff("OBJECT", "ENCODING", "s")
    diff("BITFIELD", "f", "SET", "u8", 0, 49)
    diff("OBJECT", "ENCODING", "f")
