"""The bulk (per-collection) encoders and decoders give what the per-element code gives.

* writer: the table/join encoders of lists (QUICKLIST_2 node split by ``bisect``),
  hashes, sets and zsets vs straightforward per-element references built from
  ``save_string`` / ``encode_entry`` / :func:`writer._save_list_loop` (which mirror
  Redis's rdbSaveObject / quicklistPushTail element by element);
* reader: the struct kernels (6-bit strings, ZSET_2 members + doubles, listpack
  entries incl. equal-length runs cut at a fixed stride) vs the careful loaders, on
  valid and corrupted payloads;
* no GC collection is triggered by encoding a big zset (no per-member tracked objects).

Byte-identity with Redis itself is checked by the interop and corpus tests.
"""

from __future__ import annotations

import gc
import math
import random
import struct
from collections import deque
from typing import Any

import pytest

from ember.keyspace.types import ZSet
from ember.persistence.rdb import constants as C
from ember.persistence.rdb import reader as rdb_reader
from ember.persistence.rdb import writer as W
from ember.persistence.rdb.encodings.listpack import encode_entry, lp_decode, lp_encode
from ember.persistence.rdb.errors import RdbFormatError
from ember.persistence.rdb.reader import load_object
from ember.persistence.rdb.writer import RdbWriteOptions, encode_value, save_len, save_string

OPTS = [
    RdbWriteOptions(),
    RdbWriteOptions(compression=False),
    RdbWriteOptions(list_max_listpack_size=-1),
    RdbWriteOptions(list_max_listpack_size=-5),
    RdbWriteOptions(list_max_listpack_size=7),
    RdbWriteOptions(list_max_listpack_size=1),
    RdbWriteOptions(list_max_listpack_size=0),
    RdbWriteOptions(list_packed_threshold=40),
    RdbWriteOptions(hash_max_listpack_entries=0, zset_max_listpack_entries=0),
    RdbWriteOptions(version=11, set_max_intset_entries=0),
]


def _elem(rnd: random.Random, width: int) -> bytes:
    k = rnd.randrange(14)
    if k == 0:
        return b"%d" % rnd.randrange(-(10**15), 10**15)  # int-encoded (RDB or listpack)
    if k == 1:
        return rnd.choice([b"", b"-", b"0", b"-0", b"007", b"1a", b"\n5", b"9" * 12, b"-1"])
    if k == 2:
        return bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 70)))
    if k == 3:
        return b"ab" * rnd.randrange(10, 400)  # LZF candidate / 12-bit listpack string
    return bytes(rnd.choice(b"abcxyz-\x01\x85") for _ in range(rnd.randrange(width + 1)))


def _uniform(rnd: random.Random, n: int) -> list[bytes]:
    """Elements in runs of one length (what the fast paths like best)."""
    out: list[bytes] = []
    while len(out) < n:
        ln = rnd.choice([0, 1, 9, 20, 21, 63, 64, rnd.randrange(64)])
        for _ in range(rnd.choice([1, 31, 32, 33, 200, rnd.randrange(1, 300)])):
            out.append(bytes(rnd.choice(b"pqrs") for _ in range(ln)))
    return out[:n]


def _values(seed: int) -> list[Any]:
    rnd = random.Random(seed)
    out: list[Any] = []
    for n in (1, 2, 31, 128, 129, 700, 3000):
        for width in (5, 20, 63) if n < 3000 else (20,):
            mixed = [_elem(rnd, width) for _ in range(n)]
            plain = [
                bytes(rnd.choice(b"klmn") for _ in range(rnd.randrange(width + 1)))
                for _ in range(n)
            ]
            for items in (mixed, plain, _uniform(rnd, n)):
                out.append(deque(items))
                out.append(dict(zip(items, reversed(items), strict=True)))
                out.append(set(items))
                z = ZSet()
                for m in items:
                    z.add(
                        m,
                        rnd.choice(
                            [rnd.random() * 1e3, float(rnd.randrange(-9, 9)), math.inf, -math.inf]
                        ),
                    )
                out.append(z)
    return out


# ---------------------------------------------------------------- references
def _ref_list(value: deque[bytes], opts: RdbWriteOptions) -> tuple[int, bytes]:
    return W._save_list_loop(list(value), opts)


def _ref_strings(items: Any, comp: bool) -> bytes:
    return b"".join(save_string(x, comp) for x in items)


def _ref(value: Any, opts: RdbWriteOptions) -> tuple[int, bytes]:
    comp = opts.compression
    if isinstance(value, deque):
        return _ref_list(value, opts)
    if isinstance(value, dict):
        if W._hash_fits_listpack(value, opts):
            parts = [encode_entry(x) for kv in value.items() for x in kv]
            return C.RDB_TYPE_HASH_LISTPACK, save_string(W.lp_from_entries(parts), comp)
        flat = [x for kv in value.items() for x in kv]
        return C.RDB_TYPE_HASH, save_len(len(value)) + _ref_strings(flat, comp)
    if isinstance(value, set):
        t, payload = encode_value(value, opts)
        if t == C.RDB_TYPE_SET_LISTPACK:
            parts = [encode_entry(m) for m in value]
            return t, save_string(W.lp_from_entries(parts), comp)
        if t == C.RDB_TYPE_SET:
            return t, save_len(len(value)) + _ref_strings(value, comp)
        return t, payload  # intset: unchanged code
    assert isinstance(value, ZSet)
    n = len(value)
    if n <= opts.zset_max_listpack_entries and all(
        len(m) <= opts.zset_max_listpack_value for m in value.scores
    ):
        parts = []
        for score, member in value.index:
            parts.append(encode_entry(member))
            parts.append(encode_entry(W.zset_score_element(score)))
        return C.RDB_TYPE_ZSET_LISTPACK, save_string(W.lp_from_entries(parts), comp)
    out = [save_len(n)]
    for score, member in reversed(value.index):
        out.append(save_string(member, comp))
        out.append(struct.pack("<d", score))
    return C.RDB_TYPE_ZSET_2, b"".join(out)


@pytest.mark.parametrize("seed", range(3))
def test_bulk_encoders_match_per_element_reference(seed: int) -> None:
    rnd = random.Random(seed)
    for value in _values(seed):
        for opts in rnd.sample(OPTS, 4):
            assert encode_value(value, opts) == _ref(value, opts), (type(value), len(value), opts)


def test_list_nodes_split_like_push_tail() -> None:
    """Node boundaries land where quicklistPushTail puts them, for every fill."""
    rnd = random.Random(5)
    for fill in (-5, -4, -3, -2, -1, 1, 2, 100, 1000):
        opts = RdbWriteOptions(list_max_listpack_size=fill)
        for ln in (0, 1, 7, 62, 63):
            for n in (1, 100, 1500, 4000):
                items = deque(b"w" * ln for _ in range(n))
                assert encode_value(items, opts) == _ref_list(items, opts)
        items = deque(_elem(rnd, 63) for _ in range(3000))
        assert encode_value(items, opts) == _ref_list(items, opts)
        big = deque(b"v" * rnd.randrange(100, 5000) for _ in range(200))
        assert encode_value(big, opts) == _ref_list(big, opts)


def test_big_payload_goes_to_the_sink_in_order() -> None:
    """A collection >= 64 KB is written straight to the sink after the buffered bytes."""
    h = {b"f%d" % i: b"v%d" % i for i in range(20000)}
    dbs = {0: {b"a": (b"1", None), b"h": (h, 1700000000000), b"z": (b"2", None)}}
    chunks: list[bytes] = []

    class Sink:
        def write(self, data: bytes) -> None:
            chunks.append(data)

    crc = W.save_rdb(Sink(), dbs, RdbWriteOptions(ctime=0))
    data = b"".join(chunks)
    assert any(len(c) > 100000 for c in chunks)
    f = rdb_reader.load_rdb(data)
    assert f.checksum == crc and f.checksum_verified
    assert f.dbs[0] == {b"a": (b"1", None), b"h": (h, 1700000000000), b"z": (b"2", None)}
    assert data == W.save_rdb_bytes(dbs, RdbWriteOptions(ctime=0))


def test_zset_encoding_makes_no_gc_work() -> None:
    z = ZSet()
    for i in range(30000):
        z.add(b"member:%d" % i, i * 0.5)
    runs: list[int] = []

    def cb(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            runs.append(info["generation"])

    was = gc.isenabled()
    gc.enable()
    gc.collect()
    gc.callbacks.append(cb)
    try:
        for opts in (RdbWriteOptions(), RdbWriteOptions(compression=False)):
            encode_value(z, opts)
    finally:
        gc.callbacks.remove(cb)
        if not was:
            gc.disable()
    assert len(runs) <= 2, runs  # was one GC-tracked iterator per member (zip(*...))


# ---------------------------------------------------------------- reader
def _careful(monkeypatch: pytest.MonkeyPatch, t: int, payload: bytes) -> Any:
    with monkeypatch.context() as m:
        m.setattr(rdb_reader, "_FAST_LOADERS", {})
        return _load(t, payload)


def _load(t: int, payload: bytes) -> Any:
    try:
        v, end = load_object(t, payload)
    except RdbFormatError as e:
        return ("error", str(e), e.offset)
    if isinstance(v, ZSet):
        assert list(v.index) == sorted((s, m) for m, s in v.scores.items())
        v = ("zset", v.scores)
    elif isinstance(v, deque):
        v = ("list", list(v))
    return ("ok", v, end)


@pytest.mark.parametrize("seed", range(2))
def test_struct_kernels_match_careful_loaders(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    rnd = random.Random(100 + seed)
    for value in _values(seed):
        opts = rnd.choice(OPTS)
        t, payload = encode_value(value, opts)
        assert _load(t, payload) == _careful(monkeypatch, t, payload)
        if len(payload) > 20000:
            continue
        for _ in range(6):
            buf = bytearray(payload)
            buf[rnd.randrange(len(buf))] = rnd.randrange(256)
            bad = bytes(buf)
            assert _load(t, bad) == _careful(monkeypatch, t, bad)
        cut = payload[: rnd.randrange(len(payload))]
        assert _load(t, cut) == _careful(monkeypatch, t, cut)


@pytest.mark.parametrize("n", [4095, 4096, 4097, 8193])
def test_chunked_struct_kernels(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Collections larger than one struct chunk (reader _STRUCT_CHUNK, writer _SPLIT8_N)."""
    z = ZSet()
    for i in range(n):
        z.add(b"m%d" % i, (i * 7919 % n) / 3)
    h = {b"f%d" % i: b"v%d" % i for i in range(n)}
    s = {b"s%d" % i for i in range(n)}
    opts = RdbWriteOptions(compression=False, list_max_listpack_size=-5)
    for value in (z, h, s, deque(b"e%d" % i for i in range(n))):
        t, payload = encode_value(value, opts)
        assert (t, payload) == _ref(value, opts)
        got = _load(t, payload)
        assert got == _careful(monkeypatch, t, payload)
        assert got[0] == "ok" and got[2] == len(payload)


def test_listpack_runs_equal_the_decoder() -> None:
    """Equal-length runs (fixed stride) and walked remainders, valid or corrupted."""
    rnd = random.Random(9)
    for _ in range(400):
        items = _uniform(rnd, rnd.choice([32, 33, 64, 100, 700]))
        if rnd.random() < 0.3:
            items[rnd.randrange(len(items))] = b"q" * rnd.randrange(64)
        blob = bytearray(lp_encode(items))
        corrupt = rnd.random() < 0.7
        if corrupt:
            ln = len(items[0])
            blob[rnd.randrange(6, len(blob))] = rnd.choice(
                [0x80 | ln, 0x80 | rnd.randrange(64), rnd.randrange(256)]
            )
        data = bytes(blob)
        try:
            want: Any = lp_decode(data, ints_as_bytes=True)
        except ValueError:
            want = None
        got = rdb_reader._lp_fast(data, True)
        if got is not None:  # None: declined, lp_decode then decides
            assert list(got) == want
        if not corrupt:
            assert got is not None and list(got) == items
