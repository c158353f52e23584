"""Corrupt input only ever raises RdbFormatError (never IndexError & co, never hangs)."""

from __future__ import annotations

import math
import random
import zlib
from collections import deque

import pytest

from ember.keyspace.types import Consumer, ConsumerGroup, FieldTTLHash, PendingEntry, Stream, ZSet
from ember.persistence.rdb import RdbFormatError, RdbReader, load_object, load_rdb
from ember.persistence.rdb.dump import dump_payload, restore_payload
from ember.persistence.rdb.errors import DumpBadDataError, DumpPayloadError
from ember.persistence.rdb.writer import RdbWriteOptions, save_rdb_bytes
from tests.helpers.corpus import CORPUS

SMALL_CORPUS_FILES = [
    "rdb/redis/list-quicklist.rdb",
    "rdb/redis/hash-zipmap.rdb",
    "rdb/redis/zset-ziplist.rdb",
    "rdb/redis/encodings.rdb",
    "rdb/hdt3213/valkey_hash2_with_hfe.rdb",
    "rdb/hdt3213/hash_as_listpack_with_hfe.rdb",
    "rdb/hdt3213/hash_with_hfe.rdb",
    "rdb/hdt3213/stream_listoacks_3.rdb",
    "rdb/rdbtools/redis_50_with_streams.rdb",
    "rdb/rdbtools/redis_60_with_module_aux.rdb",
    "rdb/rdbtools/rdb_version_8_with_64b_length_and_scores.rdb",
]


def _all_types_dataset(version: int | str) -> bytes:
    z = ZSet()
    for i, s in enumerate([1.5, -math.inf, math.inf, 3.0, 0.25]):
        z.add(b"m%d" % i, s)
    big = ZSet()
    for i in range(130):
        big.add(b"b%d" % i, i * 1.25)
    st = Stream()
    for i in range(12):
        st.entries[(1000 + i, i % 2)] = [b"f", b"%d" % i, b"g", b"x" * i] if i % 3 else [b"h", b"v"]
    st.last_id = (1011, 1)
    st.entries_added = 14
    st.max_deleted_id = (5, 0)
    st.first_id = (1000, 0)
    g = ConsumerGroup(name=b"g", last_id=(1005, 1), entries_read=6)
    c = Consumer(name=b"c", seen_time=10, active_time=11)
    g.pel[(1001, 1)] = PendingEntry(b"c", 123, 2)
    c.pel[(1001, 1)] = None
    g.consumers[b"c"] = c
    st.groups[b"g"] = g
    dbs: dict[int, dict[bytes, tuple[object, int | None]]] = {
        0: {
            b"s": (b"hello", None),
            b"i": (b"-30000", 1_000_000),
            b"lzf": (b"ab" * 40, None),
            b"l": (deque([b"a", b"1", b"x" * 70, b"-5"]), None),
            b"h": ({b"f": b"v", b"n": b"12"}, None),
            b"hbig": ({b"f%d" % i: b"v" for i in range(130)}, None),
            b"si": ({b"1", b"5000000000"}, None),
            b"ss": ({b"a", b"b"}, None),
            b"z": (z, None),
            b"zbig": (big, None),
            b"st": (st, None),
        },
        3: {b"x": (b"y", None)},
    }
    if version in (12, "valkey80"):
        h = FieldTTLHash({b"a": b"1", b"b": b"2"})
        h.field_expires[b"a"] = 4102444800000
        dbs[0][b"ttl"] = (h, None)
        hb = FieldTTLHash({b"k%d" % i: b"v" for i in range(130)})
        hb.field_expires[b"k7"] = 4102444800000
        dbs[0][b"ttlbig"] = (hb, None)
    return save_rdb_bytes(dbs, RdbWriteOptions(version=version, ctime=0))


def _inputs() -> list[tuple[str, bytes]]:
    out = [(f"ember-v{v}", _all_types_dataset(v)) for v in (10, 11, 12, "valkey80")]
    for rel in SMALL_CORPUS_FILES:
        p = CORPUS / rel
        if p.is_file():
            out.append((rel, p.read_bytes()))
    return out


INPUTS = _inputs()


def _try_load(data: bytes, **kw: object) -> None:
    try:
        load_rdb(data, skip_modules=True, **kw)  # type: ignore[arg-type]
    except RdbFormatError as e:
        assert e.offset is not None and 0 <= e.offset <= len(data)
        str(e)


SMALL_INPUTS = [(n, d) for n, d in INPUTS if len(d) <= 8192]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name,data", SMALL_INPUTS, ids=[n for n, _ in SMALL_INPUTS])
def test_truncation_at_every_offset(name: str, data: bytes) -> None:
    load_rdb(data, skip_modules=True)
    for cut in range(len(data)):
        with pytest.raises(RdbFormatError):
            load_rdb(data[:cut], skip_modules=True)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("deep", [False, True])
@pytest.mark.parametrize("name,data", INPUTS, ids=[n for n, _ in INPUTS])
def test_random_byte_flips(name: str, data: bytes, deep: bool) -> None:
    rnd = random.Random(zlib.crc32(name.encode()))
    for _ in range(300):
        buf = bytearray(data)
        for _ in range(rnd.choice([1, 1, 2, 4])):
            pos = rnd.randrange(9, len(buf))
            buf[pos] = rnd.choice(
                [rnd.randrange(256), buf[pos] ^ (1 << rnd.randrange(8)), 0xFF, 0x00, 0x7F, 0x80]
            )
        _try_load(bytes(buf), verify_checksum=False, deep_sanitize=deep)


@pytest.mark.timeout(60)
def test_huge_lengths_do_not_allocate_or_hang() -> None:
    for body in (
        b"\x02\x01k\x81" + b"\xff" * 8,  # SET with 2^64-1 members
        b"\x0e\x01k\x81" + b"\x7f" + b"\xff" * 7,  # quicklist with 2^63 nodes
        b"\x00\x01k\xc3\x81" + b"\xff" * 8 + b"\x81" + b"\xff" * 8,  # LZF with absurd sizes
        b"\x00\x01k\xc3\x05\x80\xff\xff\xff\xff" + b"\x00" * 5,  # LZF ulen 4G from 5 bytes
        b"\x0f\x01k\x00\x81" + b"\xff" * 8,  # stream
        b"\x07\x01k\x05\x02\x81" + b"\xff" * 8,  # module opcode stream
    ):
        data = b"REDIS0010\xfe\x00" + body + b"\xff" + b"\x00" * 8
        with pytest.raises(RdbFormatError):
            load_rdb(data, skip_modules=True)


@pytest.mark.timeout(60)
def test_dump_payload_flips_raise_only_typed_errors() -> None:
    rnd = random.Random(5)
    values: list[object] = [b"x" * 50, deque([b"a", b"b"]), {b"f": b"v"}, {b"1", b"2"}]
    z = ZSet()
    z.add(b"a", 1.0)
    values.append(z)
    for v in values:
        payload = dump_payload(v)
        for _ in range(200):
            buf = bytearray(payload)
            pos = rnd.randrange(len(buf))
            buf[pos] = rnd.randrange(256)
            try:
                restore_payload(bytes(buf), sanitize=True, verify_checksum=False)
            except (DumpBadDataError, DumpPayloadError):
                pass
        for cut in range(len(payload)):
            with pytest.raises((DumpBadDataError, DumpPayloadError)):
                restore_payload(payload[:cut], sanitize=False, verify_checksum=False)


def test_load_object_errors_have_offsets() -> None:
    with pytest.raises(RdbFormatError) as ei:
        load_object(16, b"\x05abc", 0)
    assert ei.value.offset is not None
    with pytest.raises(RdbFormatError):
        load_object(99, b"", 0)


def test_reader_error_context() -> None:
    data = INPUTS[0][1]
    cut = data.index(b"hello") + 2
    with pytest.raises(RdbFormatError) as ei:
        list(RdbReader(data[:cut]).events())
    e = ei.value
    assert e.doing == "read-object-value" and e.key == b"s" and e.offset == cut
