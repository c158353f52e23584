"""Unit tests of the HyperLogLog core (ember.keyspace.hll) against simple references."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ember.keyspace import hll as H

_M = 0xC6A4A7935BD1E995
_U64 = (1 << 64) - 1


def murmur_reference(data: bytes, seed: int = 0xADC83B19) -> int:
    """Byte-by-byte transcription of MurmurHash64A's definition."""
    h = (seed ^ ((len(data) * _M) & _U64)) & _U64
    nblocks = len(data) // 8
    for i in range(nblocks):
        k = 0
        for j in range(8):
            k |= data[i * 8 + j] << (8 * j)
        k = (k * _M) & _U64
        k ^= k >> 47
        k = (k * _M) & _U64
        h ^= k
        h = (h * _M) & _U64
    tail = data[nblocks * 8 :]
    if tail:
        for j in reversed(range(len(tail))):
            h ^= tail[j] << (8 * j)
        h = (h * _M) & _U64
    h ^= h >> 47
    h = (h * _M) & _U64
    h ^= h >> 47
    return h


@given(st.binary(max_size=70))
def test_murmur_matches_reference(data: bytes) -> None:
    assert H.murmurhash64a(data) == murmur_reference(data)


def test_pat_len() -> None:
    for i in range(2000):
        e = b"x%d" % i
        h = murmur_reference(e)
        idx, cnt = H.pat_len(e)
        assert idx == h & 16383
        rest = (h >> 14) | (1 << 50)
        n = 1
        while not rest & 1:
            rest >>= 1
            n += 1
        assert cnt == n


def test_dense_packing_roundtrip() -> None:
    rnd = random.Random(1)
    raw = bytes(rnd.getrandbits(6) for _ in range(H.REGISTERS))
    dense = H.raw_to_dense(raw)
    assert len(dense) == H.DENSE_REGS_SIZE
    assert bytes(H.dense_to_raw(dense)) == raw
    for i in range(0, H.REGISTERS, 7):
        assert H.dense_get(dense, i) == raw[i]
    regs = bytearray(H.DENSE_REGS_SIZE)
    for i in rnd.sample(range(H.REGISTERS), 3000):
        H.dense_put(regs, i, raw[i])
    for i in range(H.REGISTERS):
        assert H.dense_get(regs, i) in (0, raw[i])


def test_raw_max_and_histogram() -> None:
    rnd = random.Random(2)
    a = bytes(rnd.getrandbits(6) for _ in range(H.REGISTERS))
    b = bytes(rnd.getrandbits(6) for _ in range(H.REGISTERS))
    m = H.raw_max_int(int.from_bytes(a, "little"), int.from_bytes(b, "little"))
    assert m.to_bytes(H.REGISTERS, "little") == bytes(max(x, y) for x, y in zip(a, b, strict=True))
    hist = H.raw_histogram(a)
    assert sum(hist) == H.REGISTERS
    assert all(hist[v] == a.count(v) for v in range(64))


def test_estimate_bounds() -> None:
    assert H.estimate([H.REGISTERS] + [0] * 63) == 0
    for n in (1, 10, 100, 1000, 50000):
        h = H.HLL.load(H.EMPTY_SPARSE)
        d = H.HLL.load(H.EMPTY_SPARSE)
        assert d.to_dense()
        elems = [b"e%d" % i for i in range(n)]
        h.add(elems, 3000)
        d.add(elems, 3000)
        assert h.count() == d.count()
        c = d.count()
        assert c is not None and abs(c - n) <= max(2, 0.05 * n)


@settings(max_examples=150, deadline=None)
@given(
    ops=st.lists(st.tuples(st.integers(0, 16383), st.integers(1, 34)), max_size=120),
    max_bytes=st.sampled_from([40, 200, 3000]),
    clustered=st.booleans(),
)
def test_sparse_oplist_matches_bytewise(
    ops: list[tuple[int, int]], max_bytes: int, clustered: bool
) -> None:
    """The opcode-list implementation reproduces the byte-level algorithm exactly."""
    if clustered:
        ops = [(16000 + idx % 40, cnt) for idx, cnt in ops]
    payload = H.EMPTY_SPARSE[H.HDR_SIZE :]
    sp = H.Sparse.parse(payload)
    for idx, cnt in ops:
        want, new_payload = H.sparse_set_bytes(payload, idx, cnt, max_bytes)
        got = sp.set(idx, cnt, max_bytes)
        assert got == want
        if want == H.PROMOTE:
            break
        payload = new_payload
        assert sp.serialize() == payload
        assert sp.nbytes == len(payload)
        fresh = H.Sparse.parse(payload)
        assert sp.hist == fresh.hist and sp.starts == fresh.starts
    raw = sp.to_raw()
    assert raw is not None and len(raw) == H.REGISTERS


def test_sparse_to_dense_and_count_agree() -> None:
    rnd = random.Random(9)
    h = H.HLL.load(H.EMPTY_SPARSE)
    d = H.HLL.load(H.EMPTY_SPARSE)
    d.to_dense()
    for _ in range(40):
        batch = [rnd.randbytes(6) for _ in range(20)]
        h.add(batch, 3000)
        d.add(batch, 3000)
        assert h.count() == d.count()
    assert not h.is_dense
    raw = h.to_raw()
    assert raw is not None
    assert raw == d.to_raw()
    h.to_dense()
    assert h.to_bytes()[H.HDR_SIZE :] == d.to_bytes()[H.HDR_SIZE :]


def test_corrupt_sparse_detected() -> None:
    sp = H.Sparse.parse(b"\x7f\xff\x00")  # 16385 registers
    assert not sp.valid and sp.to_raw() is None
    assert sp.set(16384, 1, 3000) == 1  # Redis updates an index it can find...
    sp = H.Sparse.parse(b"\x7f\xfe")  # 16383 registers
    assert sp.set(16383, 1, 3000) == -1  # ...and fails on one it cannot
    assert H.Sparse.parse(b"").set(0, 1, 3000) == -1


def test_value_cache_identity() -> None:
    h = H.HLL.load(H.EMPTY_SPARSE)
    h.add([b"a", b"b"], 3000)
    v = h.to_bytes()
    H.remember(v, h)
    assert H.load_cached(v) is h
    other = v[:5] + v[5:]  # equal content, another object: decoded again
    assert other is not v and H.load_cached(other) is not h
    taken = H.load_cached(v, take=True)
    assert taken is h
    assert H.load_cached(v) is not h
    H.forget(v)
