"""write -> read round trips of the RDB codec (property tests + encoding boundaries)."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ember.keyspace.types import Consumer, ConsumerGroup, FieldTTLHash, PendingEntry, Stream, ZSet
from ember.persistence.rdb import constants as C
from ember.persistence.rdb import load_rdb
from ember.persistence.rdb.errors import RdbWriteError
from ember.persistence.rdb.reader import RdbReader
from ember.persistence.rdb.writer import (
    RdbWriteOptions,
    encode_value,
    save_rdb_bytes,
    save_string,
)

VERSIONS: list[int | str] = [10, 11, 12, "valkey80"]

INT_EDGES = [
    0,
    1,
    -1,
    12,
    13,
    63,
    64,
    127,
    128,
    -128,
    -129,
    255,
    256,
    4095,
    4096,
    -4096,
    -4097,
    32767,
    32768,
    -32768,
    -32769,
    8388607,
    8388608,
    -8388608,
    -8388609,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**63 - 1,
    -(2**63),
    2**63,
    -(2**63) - 1,
]
LEN_EDGES = [0, 1, 11, 12, 20, 21, 63, 64, 127, 128, 4095, 4096, 16383, 16384]

edge_ints = st.sampled_from(INT_EDGES) | st.integers(-(2**64), 2**64)
int_strings = edge_ints.map(lambda i: b"%d" % i)
odd_numeric = st.sampled_from([b"-0", b"007", b"+1", b" 1", b"1 ", b"1e3", b"-", b"", b"0x10"])
small_bytes = st.binary(max_size=70)
repetitive = st.builds(
    lambda unit, n: (unit * n)[: max(n, 0)], st.binary(min_size=1, max_size=3), st.integers(0, 300)
)
elements = st.one_of(small_bytes, int_strings, odd_numeric, repetitive)
scores = st.one_of(
    st.floats(allow_nan=False),
    st.sampled_from(
        [math.inf, -math.inf, 0.0, -0.0, 2.0**62, 2.0**62 + 2048, -(2.0**62), 0.1, 1e20]
    ),
    st.integers(-(2**53), 2**53).map(float),
)


def zsets(max_size: int = 40) -> st.SearchStrategy[ZSet]:
    def build(d: dict[bytes, float]) -> ZSet:
        z = ZSet()
        for m, s in d.items():
            z.add(m, s)
        return z

    return st.dictionaries(elements, scores, min_size=1, max_size=max_size).map(build)


lists = st.lists(elements, min_size=1, max_size=60).map(deque)
hashes = st.dictionaries(elements, elements, min_size=1, max_size=40)
sets_ = st.one_of(
    st.sets(elements, min_size=1, max_size=40),
    st.sets(int_strings, min_size=1, max_size=40),
)


@st.composite
def streams(draw: st.DrawFn, v3: bool = True) -> Stream:
    s = Stream()
    n = draw(st.integers(0, 30))
    ms = draw(st.integers(0, 2**40))
    seq = draw(st.integers(0, 5))
    field_sets = draw(
        st.lists(st.lists(small_bytes, min_size=1, max_size=4), min_size=1, max_size=3)
    )
    for _ in range(n):
        if draw(st.booleans()):
            ms += draw(st.integers(1, 2**20))
            seq = draw(st.integers(0, 3))
        else:
            seq += 1
        fields = draw(st.sampled_from(field_sets))
        flat: list[bytes] = []
        for f in fields:
            flat.append(f)
            flat.append(draw(elements))
        s.entries[(ms, seq)] = flat
    ids = list(s.entries.keys())
    s.last_id = (ms, seq + draw(st.integers(0, 2)))
    s.entries_added = len(ids) + draw(st.integers(0, 10))
    s.max_deleted_id = (draw(st.integers(0, ms)), 0)
    s.first_id = ids[0] if ids else (0, 0)
    for gname in draw(st.sets(small_bytes, max_size=3)):
        g = ConsumerGroup(
            name=gname,
            last_id=draw(st.sampled_from(ids)) if ids else (0, 0),
            entries_read=draw(st.integers(-1, 100)),
        )
        cnames = draw(st.lists(small_bytes, max_size=3, unique=True))
        for cname in cnames:
            seen = draw(st.integers(0, 2**45))
            active = draw(st.integers(-1, 2**45)) if v3 else seen
            g.consumers[cname] = Consumer(name=cname, seen_time=seen, active_time=active)
        if ids and cnames:
            for rid in draw(st.sets(st.sampled_from(ids), max_size=5)):
                owner = draw(st.sampled_from(cnames))
                g.pel[rid] = PendingEntry(
                    owner, draw(st.integers(0, 2**45)), draw(st.integers(0, 1000))
                )
                g.consumers[owner].pel[rid] = None
        s.groups[gname] = g
    return s


def ttl_hashes() -> st.SearchStrategy[FieldTTLHash]:
    def build(d: dict[bytes, tuple[bytes, int | None]]) -> FieldTTLHash:
        h = FieldTTLHash()
        for f, (v, ttl) in d.items():
            h[f] = v
            if ttl is not None:
                h.field_expires[f] = ttl
        if not h.field_expires:
            first = next(iter(h))
            h.field_expires[first] = 1
        return h

    return st.dictionaries(
        elements,
        st.tuples(elements, st.none() | st.integers(1, C.EB_EXPIRE_TIME_MAX)),
        min_size=1,
        max_size=30,
    ).map(build)


def values(version: int | str) -> st.SearchStrategy[Any]:
    base = [
        elements,
        lists,
        hashes,
        sets_,
        zsets(),
        streams(v3=version != 10),
    ]
    if version in (12, "valkey80"):
        base.append(ttl_hashes())
    return st.one_of(*base)


def assert_same(a: Any, b: Any) -> None:
    assert type(a) is type(b) or (isinstance(a, dict) and isinstance(b, dict)), (a, b)
    assert a == b
    if type(a) is FieldTTLHash:
        assert type(b) is FieldTTLHash
        assert a.field_expires == b.field_expires
    if type(a) is ZSet:
        assert list(a.index) == list(b.index)
    if type(a) is Stream:
        assert a.first_id == b.first_id or not a.entries


def roundtrip(dbs: dict[int, dict[bytes, tuple[Any, int | None]]], opts: RdbWriteOptions) -> None:
    data = save_rdb_bytes(
        dbs,
        opts,
        functions=[b"#!lua name=lib\nredis.register_function('f', function() return 1 end)"],
    )
    f = load_rdb(data, deep_sanitize=True)
    assert f.end_offset == len(data)
    assert f.functions and f.functions[0].startswith(b"#!lua")
    want = {db: keys for db, keys in dbs.items() if keys}
    assert sorted(f.dbs) == sorted(want)
    for db, keys in want.items():
        got = f.dbs[db]
        assert list(got) == list(keys)
        for k, (v, exp) in keys.items():
            gv, gexp = got[k]
            assert gexp == exp
            assert_same(v, gv)
    if opts.checksum:
        assert f.checksum_verified
    else:
        assert f.checksum == 0


@st.composite
def datasets(
    draw: st.DrawFn,
) -> tuple[dict[int, dict[bytes, tuple[Any, int | None]]], RdbWriteOptions]:
    version = draw(st.sampled_from(VERSIONS))
    opts = RdbWriteOptions(
        version=version,
        compression=draw(st.booleans()),
        checksum=draw(st.booleans()),
        ctime=0,
        list_max_listpack_size=draw(st.sampled_from([-2, -1, -5, 1, 3, 128])),
        list_packed_threshold=draw(st.sampled_from([1 << 30, 10, 64])),
        hash_max_listpack_entries=draw(st.sampled_from([128, 2])),
        set_max_intset_entries=draw(st.sampled_from([512, 3])),
        zset_max_listpack_entries=draw(st.sampled_from([128, 3])),
        stream_node_max_entries=draw(st.sampled_from([100, 2, 0])),
        stream_node_max_bytes=draw(st.sampled_from([4096, 60, 0])),
    )
    dbs: dict[int, dict[bytes, tuple[Any, int | None]]] = {}
    for db in draw(st.sets(st.integers(0, 20), min_size=1, max_size=3)):
        keys = draw(
            st.dictionaries(
                elements,
                st.tuples(values(version), st.none() | st.integers(-(2**63), 2**63 - 1)),
                max_size=6,
            )
        )
        dbs[db] = keys
    return dbs, opts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets())
def test_roundtrip_random_datasets(
    case: tuple[dict[int, dict[bytes, tuple[Any, int | None]]], RdbWriteOptions],
) -> None:
    dbs, opts = case
    roundtrip(dbs, opts)


@pytest.mark.parametrize("compression", [True, False])
@pytest.mark.parametrize("n", LEN_EDGES + [65535, 65536, 70000])
def test_string_length_boundaries(n: int, compression: bool) -> None:
    for payload in (b"a" * n, bytes(range(256)) * (n // 256) + bytes(range(n % 256))):
        roundtrip(
            {0: {b"k": (payload, None), payload or b"e": (b"v", 1)}},
            RdbWriteOptions(compression=compression),
        )


@pytest.mark.parametrize("i", INT_EDGES)
def test_int_string_encodings(i: int) -> None:
    s = b"%d" % i
    enc = save_string(s)
    if -128 <= i <= 127:
        assert enc[0] == 0xC0
    elif -32768 <= i <= 32767:
        assert enc[0] == 0xC1
    elif -(2**31) <= i < 2**31:
        assert enc[0] == 0xC2
    else:
        assert enc[0] == len(s)
    roundtrip({0: {s: (s, None)}}, RdbWriteOptions())


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("n", [1, 127, 128, 129, 511, 512, 513])
def test_collection_entry_count_boundaries(version: int | str, n: int) -> None:
    opts = RdbWriteOptions(version=version)
    z = ZSet()
    for i in range(n):
        z.add(b"m%d" % i, i / 7 if i % 3 else math.inf if i % 2 else -math.inf)
    dbs = {
        0: {
            b"list": (deque(b"%d" % i for i in range(n)), None),
            b"hash": ({b"f%d" % i: b"v" for i in range(n)}, None),
            b"intset": ({b"%d" % (i * 1000003) for i in range(n)}, None),
            b"set": ({b"s%d" % i for i in range(n)}, None),
            b"zset": (z, None),
        }
    }
    roundtrip(dbs, opts)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("vlen", [63, 64, 65])
def test_listpack_value_size_boundaries(version: int | str, vlen: int) -> None:
    opts = RdbWriteOptions(version=version)
    v = b"x" * vlen
    z = ZSet()
    z.add(v, 1.5)
    dbs = {0: {b"h": ({v: b"1", b"a": v}, None), b"s": ({v, b"b"}, None), b"z": (z, None)}}
    t_hash = encode_value({v: b"1"}, opts)[0]
    t_zset = encode_value(z, opts)[0]
    if vlen <= 64:
        assert t_hash == C.RDB_TYPE_HASH_LISTPACK and t_zset == C.RDB_TYPE_ZSET_LISTPACK
    else:
        assert t_hash == C.RDB_TYPE_HASH and t_zset == C.RDB_TYPE_ZSET_2
    roundtrip(dbs, opts)


def test_big_list_quicklist_nodes_and_plain() -> None:
    items = deque([b"item-%d" % i for i in range(5000)] + [b"z" * 20000, b"tail"])
    for opts in (
        RdbWriteOptions(),
        RdbWriteOptions(list_max_listpack_size=16),
        RdbWriteOptions(list_packed_threshold=100),
    ):
        roundtrip({0: {b"l": (items, None)}}, opts)
    t, body = encode_value(deque([b"a" * 200, b"b"]), RdbWriteOptions(list_packed_threshold=100))
    assert t == C.RDB_TYPE_LIST_QUICKLIST_2
    assert body[0] == 2 and body[1] == C.QUICKLIST_NODE_CONTAINER_PLAIN


def test_type_choice_per_version() -> None:
    s = Stream()
    s.entries[(1, 1)] = [b"a", b"1"]
    s.last_id = (1, 1)
    s.entries_added = 1
    assert encode_value(s, RdbWriteOptions(version=10))[0] == C.RDB_TYPE_STREAM_LISTPACKS_2
    assert encode_value(s, RdbWriteOptions(version=11))[0] == C.RDB_TYPE_STREAM_LISTPACKS_3
    assert encode_value({b"a", b"b"}, RdbWriteOptions(version=10))[0] == C.RDB_TYPE_SET
    assert encode_value({b"a", b"b"}, RdbWriteOptions(version=11))[0] == C.RDB_TYPE_SET_LISTPACK
    assert encode_value({b"1", b"2"}, RdbWriteOptions(version=11))[0] == C.RDB_TYPE_SET_INTSET
    h = FieldTTLHash({b"f": b"v", b"g": b"w"})
    h.field_expires[b"f"] = 4102444800000
    for version in (10, 11):
        with pytest.raises(RdbWriteError):
            encode_value(h, RdbWriteOptions(version=version))
    assert encode_value(h, RdbWriteOptions(version=12))[0] == C.RDB_TYPE_HASH_LISTPACK_EX
    big = FieldTTLHash({b"f%d" % i: b"v" for i in range(200)})
    big.field_expires[b"f3"] = 4102444800000
    assert encode_value(big, RdbWriteOptions(version=12))[0] == C.RDB_TYPE_HASH_METADATA
    assert encode_value(h, RdbWriteOptions(version="valkey80"))[0] == C.RDB_TYPE_HASH_2
    # a FieldTTLHash without live TTLs is just a hash
    plain = FieldTTLHash({b"f": b"v"})
    assert encode_value(plain, RdbWriteOptions(version=10))[0] == C.RDB_TYPE_HASH_LISTPACK


@example(-0.0)
@example(math.inf)
@example(2.0**62)
@given(scores)
def test_zset_scores_roundtrip(score: float) -> None:
    for n in (1, 200):
        z = ZSet()
        for i in range(n):
            z.add(b"m%d" % i, score)
        roundtrip({0: {b"z": (z, None)}}, RdbWriteOptions())


def test_empty_collections_are_skipped() -> None:
    from ember.persistence.rdb.writer import save_len

    body = b"REDIS0010" + b"\xfe\x00"
    body += b"\x02\x01k" + save_len(0)  # empty SET
    body += b"\x00\x01s\x01v" + b"\xff" + b"\x00" * 8
    r = RdbReader(body)
    keys = [e.key for e in r.events() if type(e).__name__ == "Entry"]  # type: ignore[union-attr]
    assert keys == [b"s"] and r.empty_keys_skipped == 1


def test_duplicate_keys_are_an_error() -> None:
    from ember.persistence.rdb import RdbFormatError

    body = b"REDIS0010\xfe\x00\x00\x01k\x01a\x00\x01k\x01b\xff" + b"\x00" * 8
    with pytest.raises(RdbFormatError, match="Duplicate key"):
        load_rdb(body)
    assert load_rdb(body, allow_duplicates=True).dbs[0][b"k"] == (b"b", None)


def test_nan_score_is_an_error() -> None:
    import struct

    from ember.persistence.rdb import RdbFormatError

    body = (
        b"REDIS0010\xfe\x00\x05\x01z\x01\x01m" + struct.pack("<d", math.nan) + b"\xff" + b"\x00" * 8
    )
    with pytest.raises(RdbFormatError, match="NAN"):
        load_rdb(body)


def test_unsupported_versions() -> None:
    from ember.persistence.rdb import RdbUnsupportedVersionError

    for magic, ver in (
        (b"REDIS0013", 13),
        (b"REDIS0000", 0),
        (b"VALKEY079", 79),
        (b"VALKEY082", 82),
    ):
        with pytest.raises(RdbUnsupportedVersionError) as ei:
            load_rdb(magic + b"\xff" + b"\x00" * 8)
        assert str(ei.value.message) == f"Can't handle RDB format version {ver}"


def test_old_versions_and_expiretime_seconds() -> None:
    # version 1 (no CRC trailer), EXPIRETIME in seconds, LIST and old ZSET types
    body = (
        b"REDIS0001\xfe\x00"
        + b"\xfd"
        + (2000000000).to_bytes(4, "little")
        + b"\x00\x01k\x01v"
        + b"\x01\x01l\x02\x01a\xc0\x07"
        + b"\x03\x01z\x02\x01a\x031.5\x01b\xfe"
        + b"\xff"
    )
    f = load_rdb(body)
    assert f.end_offset == len(body) and f.checksum is None
    db = f.dbs[0]
    assert db[b"k"] == (b"v", 2000000000000)
    assert db[b"l"][0] == deque([b"a", b"7"])
    assert db[b"z"][0].scores == {b"a": 1.5, b"b": math.inf}
