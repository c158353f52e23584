"""Bitmap commands: differential tests against redis-server 7.0 (replies, errors, state)."""

from __future__ import annotations

import random
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import Diff
from tests.helpers.diffing import keyspace_events


def _state(d: Diff, *keys: str) -> None:
    """Same value (and type) for the keys on both servers."""
    for k in keys:
        d("TYPE", k)
        d("GET", k) if d.redis.type(k) == b"string" else None


# ------------------------------------------------------------------ SETBIT / GETBIT


def test_setbit_getbit_basic(diff: Diff) -> None:
    for off, val in [(7, 1), (0, 1), (7, 0), (100, 1), (100, 1), (3, 0), (1000, 0)]:
        diff("SETBIT", "k", off, val)
        _state(diff, "k")
    for off in [0, 1, 7, 8, 100, 1000, 5000, 4294967295]:
        diff("GETBIT", "k", off)
    diff("GETBIT", "missing", 10)
    diff("STRLEN", "k")


def test_setbit_on_existing_string_keeps_ttl(diff: Diff) -> None:
    diff("SET", "k", "abc", "EX", 1000)
    diff("SETBIT", "k", 1, 0)
    diff("SETBIT", "k", 40, 1)
    _state(diff, "k")
    diff("TTL", "k")
    diff("APPEND", "k", "zz")
    diff("SETRANGE", "k", 1, "Q")
    diff("GETBIT", "k", 9)
    _state(diff, "k")


@pytest.mark.parametrize(
    "args",
    [
        ("k", -1, 1),
        ("k", "abc", 1),
        ("k", "1.5", 1),
        ("k", " 1", 1),
        ("k", "#1", 1),
        ("k", 4294967296, 1),
        ("k", 2**63, 1),
        ("k", 1, 2),
        ("k", 1, -1),
        ("k", 1, "x"),
        ("k", 1, ""),
        ("k", "-0", 1),
    ],
)
def test_setbit_errors(diff: Diff, args: tuple[Any, ...]) -> None:
    diff("SETBIT", *args)
    diff("EXISTS", "k")


def test_getbit_errors_and_wrongtype(diff: Diff) -> None:
    diff("GETBIT", "k", -1)
    diff("GETBIT", "k", 4294967296)
    diff("GETBIT", "k", "x")
    diff("LPUSH", "l", "a")
    diff("GETBIT", "l", 0)
    diff("SETBIT", "l", 0, 1)
    diff("GETBIT", "l", -1)  # offset checked before the type
    diff("SETBIT")
    diff("GETBIT", "k")
    diff("SETBIT", "k", 1)


def test_setbit_max_offset(diff: Diff) -> None:
    diff("SETBIT", "k", 4294967295, 1)
    diff("STRLEN", "k")
    diff("GETBIT", "k", 4294967295)
    diff("BITCOUNT", "k")
    diff("BITPOS", "k", 1)
    diff("BITPOS", "k", 1, -1)
    diff("BITPOS", "k", 0, -1)
    diff("BITCOUNT", "k", -1, -1)
    diff("DEL", "k")


def test_offset_limit_follows_proto_max_bulk_len(
    r: redis.Redis, rr: redis.Redis, diff: Diff
) -> None:
    for c in (r, rr):
        c.config_set("proto-max-bulk-len", 1024 * 1024)
    try:
        diff("SETBIT", "k", 8 * 1024 * 1024, 1)
        diff("SETBIT", "k", 8 * 1024 * 1024 - 1, 1)
        diff("BITFIELD", "k", "SET", "u8", 8 * 1024 * 1024, 1)
        diff("BITFIELD", "k", "GET", "u8", "#1048576")
        diff("BITFIELD", "k", "GET", "u8", "#1048575")
        diff("STRLEN", "k")
    finally:
        for c in (r, rr):
            c.config_set("proto-max-bulk-len", 512 * 1024 * 1024)


# ------------------------------------------------------------------ BITCOUNT


def test_bitcount(diff: Diff) -> None:
    diff("SET", "k", "foobar\x00\xff\x81")
    diff("BITCOUNT", "k")
    ranges = [(0, 0), (1, 1), (0, -1), (-2, -1), (5, 30), (-100, 100), (3, 1), (-1, -2), (-3, -5)]
    for s, e in ranges:
        diff("BITCOUNT", "k", s, e)
        for unit in ("BIT", "BYTE", "bit", "byte"):
            diff("BITCOUNT", "k", s, e, unit)
    for s, e in [(5, 30), (1, 6), (0, 71), (7, 8), (9, 9), (-9, -1), (-13, -3), (70, 200)]:
        diff("BITCOUNT", "k", s, e, "BIT")
    diff("BITCOUNT", "missing")
    diff("SET", "e", "")
    diff("BITCOUNT", "e")
    diff("BITCOUNT", "e", 0, -1)
    diff("BITCOUNT", "e", 0, -1, "BIT")


def test_bitcount_errors(diff: Diff) -> None:
    diff("SET", "k", "foobar")
    diff("BITCOUNT", "k", 0)
    diff("BITCOUNT", "k", 0, 1, "BIT", "x")
    diff("BITCOUNT", "k", 0, 1, "NIBBLE")
    diff("BITCOUNT", "k", "a", 1)
    diff("BITCOUNT", "k", 1, "b")
    diff("BITCOUNT", "k", -1, -3, "NIBBLE")  # empty negative range answers before the unit
    diff("BITCOUNT", "missing", 0)  # missing key answers before the arguments
    diff("BITCOUNT", "missing", "a", "b", "c")
    diff("HSET", "h", "f", "v")
    diff("BITCOUNT", "h")
    diff("BITCOUNT", "h", 0)
    diff("BITCOUNT")


# ------------------------------------------------------------------ BITPOS


def test_bitpos(diff: Diff) -> None:
    diff("SET", "k", "\xff\xf0\x00")
    diff("SET", "ones", "\xff\xff\xff")
    diff("SET", "zeros", "\x00\x00\x00")
    diff("SET", "e", "")
    for key in ("k", "ones", "zeros", "e", "missing"):
        for bit in (0, 1):
            diff("BITPOS", key, bit)
            for start in (0, 1, 2, -1, -2, 5, -10):
                diff("BITPOS", key, bit, start)
                for end in (0, 1, 2, -1, -3, 10):
                    diff("BITPOS", key, bit, start, end)
                    diff("BITPOS", key, bit, start, end, "BYTE")
                    diff("BITPOS", key, bit, start, end, "bit")
    for s, e in [(7, 15), (8, 11), (12, 12), (12, 13), (3, 3), (4, 20), (-5, -1), (9, 9), (13, 23)]:
        for key in ("k", "ones", "zeros"):
            diff("BITPOS", key, 0, s, e, "BIT")
            diff("BITPOS", key, 1, s, e, "BIT")


def test_bitpos_errors(diff: Diff) -> None:
    diff("SET", "k", "abc")
    diff("BITPOS", "k", 2)
    diff("BITPOS", "k", -1)
    diff("BITPOS", "k", "x")
    diff("BITPOS", "missing", 2)  # bit checked before the key
    diff("BITPOS", "missing", 1, "x", "y", "z")
    diff("BITPOS", "k", 1, "x")
    diff("BITPOS", "k", 1, 0, "y")
    diff("BITPOS", "k", 1, 0, 1, "WORD")
    diff("BITPOS", "k", 1, 0, "y", "WORD")  # unit checked before end
    diff("BITPOS", "k", 1, 0, 1, "BIT", "x")
    diff("SADD", "s", "a")
    diff("BITPOS", "s", 1)
    diff("BITPOS", "s", 3)
    diff("BITPOS", "k")


# ------------------------------------------------------------------ BITOP


def test_bitop(diff: Diff) -> None:
    diff("SET", "a", "foobar")
    diff("SET", "b", "abcdef\xff\x01")
    diff("SET", "c", "\x00")
    for op in ("AND", "OR", "XOR", "and", "Or"):
        diff("BITOP", op, "dest", "a", "b")
        _state(diff, "dest")
        diff("BITOP", op, "dest", "a", "b", "c", "missing")
        _state(diff, "dest")
        diff("BITOP", op, "dest", "missing", "a")
        _state(diff, "dest")
        diff("BITOP", op, "dest", "a")
        _state(diff, "dest")
    diff("BITOP", "NOT", "dest", "b")
    _state(diff, "dest")
    diff("BITOP", "NOT", "a", "a")
    _state(diff, "a")


def test_bitop_long_strings(diff: Diff) -> None:
    rnd = random.Random(7)
    vals = [bytes(rnd.getrandbits(8) for _ in range(n)) for n in (100, 257, 64, 1000)]
    for i, v in enumerate(vals):
        diff("SET", f"s{i}", v)
    for op in ("AND", "OR", "XOR"):
        diff("BITOP", op, "d", "s0", "s1", "s2", "s3")
        _state(diff, "d")
    diff("BITOP", "NOT", "d", "s3")
    _state(diff, "d")


def test_bitop_missing_keys_delete_target(diff: Diff) -> None:
    diff("SET", "dest", "x", "EX", 100)
    diff("BITOP", "OR", "dest", "nokey1", "nokey2")
    diff("EXISTS", "dest")
    diff("BITOP", "NOT", "dest", "nokey1")
    diff("SET", "e", "")
    diff("SADD", "dest", "m")
    diff("BITOP", "AND", "dest", "e", "nokey")
    diff("EXISTS", "dest")
    diff("SET", "dest", "x", "EX", 100)
    diff("SET", "a", "1")
    diff("BITOP", "AND", "dest", "a")
    diff("TTL", "dest")  # overwritten: TTL gone


def test_bitop_errors(diff: Diff) -> None:
    diff("SET", "a", "x")
    diff("LPUSH", "l", "x")
    diff("BITOP", "NAND", "d", "a")
    diff("BITOP", "NOT", "d", "a", "a")
    diff("BITOP", "AND", "d", "a", "l")
    diff("BITOP", "NOT", "d", "l")
    diff("BITOP", "AND", "d")
    diff("EXISTS", "d")


# ------------------------------------------------------------------ BITFIELD


def test_bitfield_basic(diff: Diff) -> None:
    diff("BITFIELD", "k", "SET", "i8", 0, 100, "GET", "u4", 0, "GET", "i4", 4)
    _state(diff, "k")
    diff("BITFIELD", "k", "INCRBY", "u2", 100, 1, "OVERFLOW", "SAT", "INCRBY", "i8", 0, 100)
    _state(diff, "k")
    diff("BITFIELD", "k", "GET", "i64", 0, "GET", "u63", 1, "GET", "i1", 7, "GET", "u1", 1000)
    diff("BITFIELD", "k", "SET", "u8", "#1", 255, "GET", "u8", "#1", "GET", "i8", "#1")
    _state(diff, "k")
    diff("BITFIELD", "k")
    diff("BITFIELD", "missing")
    diff("BITFIELD", "missing", "GET", "u8", 0)
    diff("EXISTS", "missing")
    diff("BITFIELD_RO", "k", "GET", "u8", 0, "GET", "i16", 3, "get", "u8", "#1")


def test_bitfield_overflow(diff: Diff) -> None:
    for ow in ("WRAP", "SAT", "FAIL", "wrap"):
        diff("DEL", "k")
        for t in ("u2", "i2", "u8", "i8", "i64", "u63", "i1", "u1"):
            for incr in (1, -1, 100, -100, 2**62, -(2**62), 2**63 - 1, -(2**63)):
                diff("BITFIELD", "k", "OVERFLOW", ow, "INCRBY", t, 13, incr)
            for val in (0, 1, -1, 3, 127, 128, 255, 256, -129, 2**63 - 1, -(2**63)):
                diff("BITFIELD", "k", "OVERFLOW", ow, "SET", t, 13, val)
            _state(diff, "k")


def test_bitfield_fail_still_creates_key(diff: Diff) -> None:
    diff("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", 100, 10)
    _state(diff, "k")
    diff("SET", "k2", "a")
    diff("BITFIELD", "k2", "OVERFLOW", "FAIL", "SET", "u2", 40, 10)
    _state(diff, "k2")


@pytest.mark.parametrize(
    "args",
    [
        ("GET", "u64", 0),
        ("GET", "i65", 0),
        ("GET", "i0", 0),
        ("GET", "x8", 0),
        ("GET", "I8", 0),
        ("GET", "", 0),
        ("GET", "u", 0),
        ("GET", "u8", -1),
        ("GET", "u8", "#-1"),
        ("GET", "u8", "##1"),
        ("GET", "u8", "x"),
        ("GET", "u8", 4294967296),
        ("GET", "u8", "#536870912"),
        ("SET", "u8", 0, "x"),
        ("SET", "u8", 0),
        ("INCRBY", "u8", 0, "1.5"),
        ("OVERFLOW", "BOUNCE", "GET", "u8", 0),
        ("OVERFLOW",),
        ("GET", "u8"),
        ("FOO", "u8", 0),
        ("GET", "u8", 0, "SET", "u8", 0, 1, "GET"),
        ("SET", "u8", 0, 1, "GET", "u99", 0),
    ],
)
def test_bitfield_errors(diff: Diff, args: tuple[Any, ...]) -> None:
    diff("BITFIELD", "k", *args)
    diff("EXISTS", "k")
    diff("BITFIELD_RO", "k", *args)


def test_bitfield_ro_and_wrongtype(diff: Diff) -> None:
    diff("SET", "k", "abc")
    diff("BITFIELD_RO", "k", "SET", "u8", 0, 1)
    diff("BITFIELD_RO", "k", "INCRBY", "u8", 0, 1)
    diff("BITFIELD_RO", "k", "OVERFLOW", "SAT", "GET", "u8", 0)
    diff("BITFIELD_RO", "k", "SET", "u8", 0, "x")  # parse errors first
    diff("LPUSH", "l", "a")
    diff("BITFIELD", "l", "GET", "u8", 0)
    diff("BITFIELD", "l", "SET", "u8", 0, 1)
    diff("BITFIELD_RO", "l", "GET", "u8", 0)
    diff("BITFIELD_RO", "l", "SET", "u8", 0, 1)
    diff("BITFIELD", "l", "GET", "u99", 0)
    _state(diff, "k")


# ------------------------------------------------------------------ notifications, WATCH


def _events(c: redis.Redis, cmds: list[tuple[Any, ...]]) -> list[Any]:
    return keyspace_events(c, cmds, publish_end=True, rounds=200, timeout=1)


def test_keyspace_events_match(r: redis.Redis, rr: redis.Redis) -> None:
    cmds: list[tuple[Any, ...]] = [
        ("SETBIT", "k", 3, 1),
        ("SETBIT", "k", 3, 1),  # no change: no event
        ("SETBIT", "k", 3, 0),
        ("BITFIELD", "k", "SET", "u8", 0, 0),  # same value: no event
        ("BITFIELD", "k", "INCRBY", "u8", 0, 5, "INCRBY", "u8", 8, 1),
        ("BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u8", 0, 1000),
        ("BITOP", "OR", "d", "k"),
        ("BITOP", "OR", "d", "nokey"),
        ("BITOP", "OR", "d", "nokey"),
    ]
    assert _events(r, cmds) == _events(rr, cmds)


def test_watch_not_touched_by_noop_setbit(r: redis.Redis) -> None:
    r.setbit("k", 3, 1)
    p = r.pipeline()
    p.watch("k")
    r.setbit("k", 3, 1)  # unchanged
    r.bitfield("k").set("u8", 0, r.bitfield("k").get("u8", 0).execute()[0]).execute()
    p.multi()
    p.get("k")
    assert p.execute() == [b"\x10"]
    p = r.pipeline()
    p.watch("k")
    r.setbit("k", 4, 1)
    p.multi()
    p.get("k")
    with pytest.raises(redis.WatchError):
        p.execute()


# ------------------------------------------------------------------ large strings


def test_large_string_ops(diff: Diff, r: redis.Redis, rr: redis.Redis) -> None:
    rnd = random.Random(3)
    n = 3 * 1024 * 1024
    blob = bytearray(n)
    for _ in range(200):
        blob[rnd.randrange(n)] = rnd.getrandbits(8)
    for c in (r, rr):
        c.set("big", bytes(blob))
        c.set("big2", bytes(reversed(blob)))
    diff("BITCOUNT", "big")
    diff("BITCOUNT", "big", 1000, -1000)
    diff("BITCOUNT", "big", 8001, 8 * n - 3, "BIT")
    diff("BITPOS", "big", 1)
    diff("BITPOS", "big", 1, 500000)
    diff("BITPOS", "big", 0, 7)
    diff("BITPOS", "big", 1, 8 * 1000 + 3, 8 * n - 2, "BIT")
    diff("SETBIT", "big", 8 * n + 77, 1)
    diff("BITPOS", "big", 1, -1)
    for op in ("AND", "OR", "XOR"):
        diff("BITOP", op, "res", "big", "big2")
        diff("BITCOUNT", "res")
        diff("BITPOS", "res", 1, 100)
    assert r.get("res") == rr.get("res")


# ------------------------------------------------------------------ randomized


class BitModel:
    """Reference model: a bytearray and straightforward per-bit definitions."""

    def __init__(self, data: bytes) -> None:
        self.b = bytearray(data)

    def bit(self, i: int) -> int:
        return (self.b[i >> 3] >> (7 - (i & 7))) & 1 if (i >> 3) < len(self.b) else 0

    def count(self, start: int, end: int, isbit: bool) -> int:
        total = len(self.b) * 8 if isbit else len(self.b)
        if start < 0 and end < 0 and start > end:
            return 0
        start = max(start + total if start < 0 else start, 0)
        end = max(end + total if end < 0 else end, 0)
        end = min(end, total - 1)
        if start > end:
            return 0
        if isbit:
            return sum(self.bit(i) for i in range(start, end + 1))
        return sum(bin(x).count("1") for x in self.b[start : end + 1])

    def pos(self, bit: int, start: int | None, end: int | None, isbit: bool) -> int:
        n = len(self.b)
        total = n * 8 if isbit else n
        s = 0 if start is None else start
        e = (total - 1) if end is None else end
        s = max(s + total if s < 0 else s, 0)
        e = max(e + total if e < 0 else e, 0)
        e = min(e, total - 1)
        if s > e:
            return -1
        lo, hi = (s, e) if isbit else (s * 8, e * 8 + 7)
        for i in range(lo, hi + 1):
            if self.bit(i) == bit:
                return i
        if bit == 0 and end is None:
            return hi + 1
        return -1

    def field_get(self, signed: bool, bits: int, off: int) -> int:
        u = 0
        for i in range(off, off + bits):
            u = (u << 1) | self.bit(i)
        if signed and u >> (bits - 1):
            u -= 1 << bits
        return u


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=24),
    queries=st.lists(
        st.tuples(st.integers(-40, 200), st.integers(-40, 200), st.booleans(), st.integers(0, 1)),
        max_size=6,
    ),
)
def test_random_count_pos_vs_model_and_redis(diff: Diff, data: bytes, queries: list[Any]) -> None:
    diff("SET", "k", data)
    m = BitModel(data)
    assert diff("BITCOUNT", "k") == m.count(0, -1, False)
    assert diff("BITPOS", "k", 1) == (m.pos(1, None, None, False) if data else -1)
    for s, e, isbit, bit in queries:
        unit = "BIT" if isbit else "BYTE"
        assert diff("BITCOUNT", "k", s, e, unit) == m.count(s, e, isbit)
        assert diff("BITPOS", "k", bit, s, e, unit) == m.pos(bit, s, e, isbit)
        assert diff("BITPOS", "k", bit, s) == m.pos(bit, s, None, False)


_types = st.sampled_from(["i1", "u1", "i5", "u5", "i8", "u8", "i13", "u31", "i63", "u63", "i64"])
_ops = st.one_of(
    st.tuples(st.just("GET"), _types, st.integers(0, 150)),
    st.tuples(st.just("SET"), _types, st.integers(0, 150), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("INCRBY"), _types, st.integers(0, 150), st.integers(-300, 300)),
    st.tuples(st.just("OVERFLOW"), st.sampled_from(["WRAP", "SAT", "FAIL"])),
)


def bitfield_model(
    init: bytes | None, ops: list[tuple[Any, ...]]
) -> tuple[list[Any], bytes | None]:
    """Reference BITFIELD: bit-by-bit fields, exact arithmetic for overflows."""
    writes = [op for op in ops if op[0] in ("SET", "INCRBY")]
    if init is None and not writes:
        return [0 if op[0] == "GET" else None for op in ops if op[0] != "OVERFLOW"], None
    m = BitModel(init or b"")
    if writes:
        need = max(op[2] + int(op[1][1:]) - 1 for op in writes) // 8 + 1
        m.b.extend(bytes(max(0, need - len(m.b))))
    out: list[Any] = []
    ow = "WRAP"
    for op in ops:
        if op[0] == "OVERFLOW":
            ow = op[1]
            continue
        t, off = op[1], op[2]
        signed, bits = t[0] == "i", int(t[1:])
        old = m.field_get(signed, bits, off)
        if op[0] == "GET":
            out.append(old)
            continue
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if op[0] == "SET":
            v = op[3] if signed else op[3] % (1 << 64)
        else:
            v = old + op[3]
        up = v > hi or (signed and bits < 64 and hi - v > 2**63 - 1)  # C int64 wrap quirk
        if lo <= v <= hi:
            new = v
        elif ow == "FAIL":
            out.append(None)
            continue
        elif ow == "SAT":
            new = hi if up else lo
        else:
            new = v % (1 << bits)
            if signed and new > hi:
                new -= 1 << bits
        out.append(old if op[0] == "SET" else new)
        u = new % (1 << bits)
        for i in range(bits):
            pos = off + i
            bit = (u >> (bits - 1 - i)) & 1
            m.b[pos >> 3] = (m.b[pos >> 3] & ~(1 << (7 - (pos & 7)))) | (bit << (7 - (pos & 7)))
    return out, bytes(m.b)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    init=st.one_of(st.none(), st.binary(max_size=12)), ops=st.lists(_ops, min_size=1, max_size=8)
)
def test_random_bitfield_vs_model_and_redis(
    diff: Diff, init: bytes | None, ops: list[tuple[Any, ...]]
) -> None:
    diff("DEL", "k")
    if init is not None:
        diff("SET", "k", init)
    flat = [a for op in ops for a in op]
    got = diff("BITFIELD", "k", *flat)
    final = diff("GET", "k")
    want, want_final = bitfield_model(init, ops)
    assert got == want
    assert final == want_final
    gets = [op for op in ops if op[0] == "GET"]
    if gets:
        m = BitModel(final or b"")
        reply = diff("BITFIELD_RO", "k", *[a for op in gets for a in op])
        assert reply == [m.field_get(t[0] == "i", int(t[1:]), off) for _, t, off in gets]
