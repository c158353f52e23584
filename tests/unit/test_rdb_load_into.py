"""The bulk-load fast paths give exactly what the event path gives.

* ``RdbReader.load_into`` (keys straight into dicts, inlined loop for runs of string
  keys) vs ``RdbReader.events()``: same keys, values, expires, events, and the same
  errors (message, offset, context) on truncated and corrupted files.
* The fast value loaders (``_FAST_LOADERS``) vs the careful ones: same values, same
  errors.
* ``rdbfile.load_rdb_into`` (the server's load): expiry, duplicates, MERGE, DB
  bounds, the ``before_write`` hook, slicing.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import random
import struct
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from ember.keyspace.types import ZSet
from ember.persistence.rdb import reader as rdb_reader
from ember.persistence.rdb.crc64 import crc64
from ember.persistence.rdb.errors import RdbFormatError
from ember.persistence.rdb.reader import (
    Entry,
    Progress,
    RdbReader,
    SelectDb,
    load_object,
    load_rdb,
)
from ember.persistence.rdb.writer import RdbWriteOptions, encode_value, save_rdb_bytes

CORPUS = Path(
    os.environ.get("EMBER_CORPUS", Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus")
).resolve()

FUTURE = 4102444800000  # 2100-01-01
PAST = 1000000000000  # 2001
NOW = 1700000000000


# ------------------------------------------------------------------- inputs
def _rand_bytes(rnd: random.Random) -> bytes:
    k = rnd.randrange(12)
    if k == 0:
        return b"%d" % rnd.randrange(-(10**12), 10**12)  # int-encoded in RDB strings
    if k == 1:
        return b"%d" % rnd.randrange(-128, 128)
    if k == 2:
        return b"x" * rnd.randrange(64, 300)  # 14-bit length, LZF-compressed
    if k == 3:
        return bytes(rnd.randrange(256) for _ in range(rnd.randrange(64, 200)))
    if k == 4:
        return b""
    return b"k%d-" % rnd.randrange(10**6) + b"z" * rnd.randrange(0, 40)


def _zset(rnd: random.Random, n: int) -> ZSet:
    z = ZSet()
    for i in range(n):
        s = rnd.choice(
            [rnd.random() * 100, float(rnd.randrange(-50, 50)), math.inf, -math.inf, 0.0]
        )
        z.add(_rand_bytes(rnd) + b"%d" % i, s)
    return z


def _dataset(
    seed: int, n_strings: int = 400, sizes: tuple[int, ...] = (1, 3, 50, 140, 700)
) -> dict[int, dict[bytes, tuple[Any, int | None]]]:
    rnd = random.Random(seed)
    dbs: dict[int, dict[bytes, tuple[Any, int | None]]] = {0: {}, 3: {}}
    for i in range(n_strings):
        db = dbs[0 if i % 5 else 3]
        key = _rand_bytes(rnd) + b"%d" % i if i % 7 else b"key:%d" % i
        exp = rnd.choice([None, None, None, FUTURE + i, PAST + i])
        db[key] = (_rand_bytes(rnd) if i % 3 else b"value:%d" % i, exp)
        if i % 37 == 0:  # break the string runs with collections
            n = rnd.choice(sizes)
            kind = rnd.randrange(4)
            v: Any
            if kind == 0:
                v = deque(_rand_bytes(rnd) for _ in range(n))
            elif kind == 1:
                v = {_rand_bytes(rnd) + b"%d" % j: _rand_bytes(rnd) for j in range(n)}
            elif kind == 2:
                v = _zset(rnd, n)
            else:
                v = {_rand_bytes(rnd) + b"%d" % j for j in range(n)}
            db[b"coll:%d" % i] = (v, rnd.choice([None, FUTURE, PAST]))
    return dbs


def _raw_rdb(body: bytes, version: int = 11) -> bytes:
    data = b"REDIS%04d" % version + body + b"\xff"
    return data + struct.pack("<Q", crc64(data))


def _s(b: bytes) -> bytes:
    assert len(b) < 64
    return bytes((len(b),)) + b


# prefixes the fast loop does not take: EXPIRETIME (s), IDLE, FREQ, an AUX between an
# expire and its key, keys before any SELECTDB
HANDMADE = _raw_rdb(
    b"\x00"
    + _s(b"a")
    + _s(b"1")
    + b"\xfd"
    + struct.pack("<i", 2000000000)
    + b"\x00"
    + _s(b"b")
    + _s(b"2")
    + b"\xf8\x05\x00"
    + _s(b"c")
    + _s(b"3")
    + b"\xf9\x07\x00"
    + _s(b"d")
    + _s(b"4")
    + b"\xfc"
    + struct.pack("<q", FUTURE)
    + b"\xfa"
    + _s(b"x")
    + _s(b"y")
    + b"\x00"
    + _s(b"e")
    + _s(b"5")
    + b"\xfc"
    + struct.pack("<q", FUTURE)
    + b"\x00"
    + _s(b"f")
    + _s(b"6")
    + b"\xfe\x02\xfb\x01\x00"
    + b"\xfc"
    + struct.pack("<q", PAST)
    + b"\x00"
    + _s(b"g")
    + _s(b"7")
    + b"\x00"
    + _s(b"h")
    + b"\xc0\x05"
    + b"\x00\xc1\x39\x30"
    + _s(b"i")
)


def _inputs() -> list[tuple[str, bytes]]:
    out = [
        ("handmade", HANDMADE),
        ("ember-v11", save_rdb_bytes(_dataset(1), RdbWriteOptions(version=11, ctime=0))),
        ("ember-v10", save_rdb_bytes(_dataset(2), RdbWriteOptions(version=10, ctime=0))),
        ("ember-nocomp", save_rdb_bytes(_dataset(3), RdbWriteOptions(compression=False, ctime=0))),
        (
            "small-v11",
            save_rdb_bytes(_dataset(4, 150, (1, 3, 20, 130)), RdbWriteOptions(version=11, ctime=0)),
        ),
        (
            "small-nocomp",
            save_rdb_bytes(_dataset(5, 150, (2, 30)), RdbWriteOptions(compression=False, ctime=0)),
        ),
    ]
    if CORPUS.is_dir():
        for p in sorted(CORPUS.glob("rdb/**/*.rdb")):
            out.append((str(p.relative_to(CORPUS)), p.read_bytes()))
    return out


INPUTS = _inputs()


# ------------------------------------------------------------------- helpers
def _norm(v: Any) -> Any:
    if isinstance(v, ZSet):
        assert list(v.index) == sorted((s, m) for m, s in v.scores.items())
        return ("zset", v.scores)
    if isinstance(v, deque):
        return ("list", list(v))
    if isinstance(v, dict):
        return (type(v).__name__, dict(v), getattr(v, "field_expires", None))
    return v  # bytes, set, Stream (compared with its __eq__)


def _err(e: RdbFormatError) -> tuple[Any, ...]:
    return (type(e).__name__, str(e), e.offset, e.doing, e.key, e.rdb_type)


def _via_events(data: bytes, now_ms: int | None = None, **kw: Any) -> Any:
    """What load_into must produce, computed from events() (later duplicates win)."""
    dbs: dict[int, tuple[dict[bytes, Any], dict[bytes, int]]] = {}
    others = []
    cur = None
    expired = 0
    try:
        for ev in RdbReader(data, **kw).events():
            if type(ev) is Entry:
                if ev.expire_ms is not None and now_ms is not None and ev.expire_ms < now_ms:
                    expired += 1
                    continue
                if cur is None:
                    cur = dbs.setdefault(0, ({}, {}))
                d, e = cur
                d.pop(ev.key, None)
                e.pop(ev.key, None)
                d[ev.key] = _norm(ev.value)
                if ev.expire_ms is not None:
                    e[ev.key] = ev.expire_ms
            else:
                if type(ev) is SelectDb:
                    cur = dbs.setdefault(ev.db, ({}, {}))
                others.append(repr(ev))
    except RdbFormatError as e:
        return ("error", _err(e))
    return ("ok", {k: (list(d.items()), e) for k, (d, e) in dbs.items()}, others, expired)


def _via_load_into(data: bytes, now_ms: int | None = None, **kw: Any) -> Any:
    dbs: dict[int, tuple[dict[bytes, Any], dict[bytes, int]]] = {}
    others = []
    r = RdbReader(data, **kw)

    def select(db: int) -> tuple[dict[bytes, Any], dict[bytes, int]]:
        return dbs.setdefault(db, ({}, {}))

    try:
        for ev in r.load_into(select, now_ms=now_ms, allow_duplicates=True, slice_entries=7):
            if type(ev) is not Progress:
                others.append(repr(ev))
    except RdbFormatError as e:
        return ("error", _err(e))
    out = {k: (list((key, _norm(v)) for key, v in d.items()), e) for k, (d, e) in dbs.items()}
    return ("ok", out, others, r.keys_expired)


# ------------------------------------------------------------------- load_into
@pytest.mark.parametrize("name,data", INPUTS, ids=[n for n, _ in INPUTS])
def test_load_into_matches_events(name: str, data: bytes) -> None:
    for now in (None, NOW):
        expected = _via_events(data, now, skip_modules=True)
        assert _via_load_into(data, now, skip_modules=True) == expected


SMALL = [(n, d) for n, d in INPUTS if n == "handmade" or n.startswith("small")]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name,data", SMALL, ids=[n for n, _ in SMALL])
def test_load_into_errors_match_events(name: str, data: bytes) -> None:
    rnd = random.Random(name)
    cuts = range(len(data)) if len(data) < 3000 else rnd.sample(range(len(data)), 1500)
    for cut in cuts:
        assert _via_load_into(data[:cut])[0] == "error"
        assert _via_load_into(data[:cut]) == _via_events(data[:cut]), cut
    for _ in range(400):
        buf = bytearray(data)
        for _ in range(rnd.choice([1, 1, 2])):
            buf[rnd.randrange(9, len(buf))] = rnd.randrange(256)
        corrupt = bytes(buf)
        assert _via_load_into(corrupt) == _via_events(corrupt)


def test_progress_counts_and_positions() -> None:
    data = save_rdb_bytes({0: {b"k%d" % i: (b"v", None) for i in range(1000)}})
    r = RdbReader(data)
    d: dict[bytes, Any] = {}
    ticks = [
        ev for ev in r.load_into(lambda db: (d, {}), slice_entries=300) if type(ev) is Progress
    ]
    assert [t.keys for t in ticks] == [300, 600, 900]
    assert all(a.pos < b.pos for a, b in zip(ticks, ticks[1:], strict=False))
    assert r.keys_loaded == 1000 and len(d) == 1000
    assert not [
        ev
        for ev in RdbReader(data).load_into(lambda db: (d.clear() or d, {}))
        if type(ev) is Progress
    ]


def test_progress_by_bytes_for_big_values() -> None:
    rnd = random.Random(1)
    keys: dict[bytes, tuple[Any, int | None]] = {}
    for i in range(60):
        if i % 3 == 0:
            v: Any = bytes(rnd.randrange(256) for _ in range(5000))  # raw, 14-bit length
        elif i % 3 == 1:
            v = b"ab" * 4000  # LZF
        else:
            v = {b"f%d" % j: b"v" * 50 for j in range(200)}
        keys[b"k%d" % i] = (v, None)
    data = save_rdb_bytes({0: keys})
    r = RdbReader(data)
    d: dict[bytes, Any] = {}
    ticks = [
        ev
        for ev in r.load_into(lambda db: (d, {}), slice_entries=10**6, slice_bytes=20000)
        if type(ev) is Progress
    ]
    assert len(d) == 60
    gaps = [b.pos - a.pos for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) >= len(data) // 30000 and all(g >= 20000 for g in gaps)
    assert all(g < 20000 + 12000 for g in gaps)  # at the first key past the mark


def test_expiry_duplicates_and_hooks() -> None:
    body = (
        b"\xfe\x00\xfc"
        + struct.pack("<q", PAST)
        + b"\x00"
        + _s(b"old")
        + _s(b"1")
        + b"\xfc"
        + struct.pack("<q", FUTURE)
        + b"\x00"
        + _s(b"dup")
        + _s(b"1")
        + b"\x00"
        + _s(b"dup")
        + _s(b"2")
    )
    data = _raw_rdb(body)
    seen: list[bytes] = []
    selects: list[int] = []
    d: dict[bytes, Any] = {}
    e: dict[bytes, int] = {}

    def select(db: int) -> tuple[dict[bytes, Any], dict[bytes, int]]:
        selects.append(db)
        return d, e

    r = RdbReader(data)
    for _ in r.load_into(select, now_ms=NOW, allow_duplicates=True, before_insert=seen.append):
        pass
    assert d == {b"dup": b"2"} and e == {}  # replaced, and so is its expire
    assert seen == [b"dup", b"dup"] and selects == [0]
    assert (r.keys_loaded, r.keys_expired) == (2, 1)

    with pytest.raises(RdbFormatError, match="RDB has duplicated key 'dup' in DB 0") as ei:
        for _ in RdbReader(data).load_into(lambda db: ({}, {}), now_ms=NOW):
            pass
    assert ei.value.key == b"dup" and ei.value.offset == len(data) - 9
    with pytest.raises(RdbFormatError, match="Duplicate key 'dup' found in RDB file"):
        load_rdb(data)
    f = load_rdb(data, allow_duplicates=True)
    assert f.dbs == {0: {b"old": (b"1", PAST), b"dup": (b"2", None)}}
    assert load_rdb(data, allow_duplicates=True, now_ms=NOW).expired_skipped == 1


def test_keys_before_selectdb_go_to_db0_lazily() -> None:
    f = load_rdb(_raw_rdb(b"\xfe\x04\x00" + _s(b"a") + _s(b"b")))
    assert list(f.dbs) == [4]
    f = load_rdb(_raw_rdb(b"\x00" + _s(b"a") + _s(b"b") + b"\xfe\x04"))
    assert f.dbs == {0: {b"a": (b"b", None)}, 4: {}}


# ------------------------------------------------------------------- value loaders
def _collections(seed: int) -> list[Any]:
    rnd = random.Random(seed)
    out: list[Any] = []
    for n in (1, 2, 5, 100, 129, 600, 3000):
        out.append(deque(_rand_bytes(rnd) for _ in range(n)))
        out.append(deque(b"item-%d" % i for i in range(n)))
        out.append({_rand_bytes(rnd) + b"%d" % j: _rand_bytes(rnd) for j in range(n)})
        out.append({b"f%d" % j: b"value-%d" % j for j in range(n)})
        out.append({_rand_bytes(rnd) + b"%d" % j for j in range(n)})
        out.append({b"m%d" % j for j in range(n)})
        out.append(_zset(rnd, n))
        z = ZSet()
        for j in range(n):
            z.add(b"m%d" % j, rnd.random() * 1000)
        out.append(z)
    return out


OPTS = [
    RdbWriteOptions(),
    RdbWriteOptions(compression=False),
    RdbWriteOptions(  # everything as plain / hashtable / skiplist encodings
        hash_max_listpack_entries=0,
        set_max_intset_entries=0,
        set_max_listpack_entries=0,
        zset_max_listpack_entries=0,
        list_max_listpack_size=1,
    ),
    RdbWriteOptions(version=11),
    RdbWriteOptions(version=12, compression=False),
]


def _careful(monkeypatch: pytest.MonkeyPatch, *args: Any, **kw: Any) -> Any:
    with monkeypatch.context() as m:
        m.setattr(rdb_reader, "_FAST_LOADERS", {})
        try:
            v, end = load_object(*args, **kw)
            return ("ok", _norm(v), end)
        except RdbFormatError as e:
            return ("error", _err(e))


def _fast(*args: Any, **kw: Any) -> Any:
    try:
        v, end = load_object(*args, **kw)
        return ("ok", _norm(v), end)
    except RdbFormatError as e:
        return ("error", _err(e))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("opt", range(len(OPTS)))
def test_fast_value_loaders_match_careful(monkeypatch: pytest.MonkeyPatch, opt: int) -> None:
    rnd = random.Random(opt)
    opts = OPTS[opt]
    for value in _collections(opt):
        t, payload = encode_value(value, opts)
        got = _fast(t, payload)
        assert got == _careful(monkeypatch, t, payload)
        assert got[0] == "ok" and got[2] == len(payload)
        if len(payload) > 3000:
            continue
        for deep in (False, True):
            for _ in range(20):
                buf = bytearray(payload)
                buf[rnd.randrange(len(buf))] = rnd.randrange(256)
                bad = bytes(buf)
                assert _fast(t, bad, deep_sanitize=deep) == _careful(
                    monkeypatch, t, bad, deep_sanitize=deep
                )
            cut = payload[: rnd.randrange(len(payload))]
            assert _fast(t, cut) == _careful(monkeypatch, t, cut)


def test_fast_loaders_refuse_what_careful_ones_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    nan = struct.pack("<d", math.nan)
    cases = [
        (5, b"\x02" + _s(b"a") + struct.pack("<d", 1.0) + _s(b"a") + struct.pack("<d", 2.0)),
        (5, b"\x01" + _s(b"a") + nan),
        (4, b"\x02" + _s(b"f") + _s(b"1") + _s(b"f") + _s(b"2")),
        (2, b"\x02" + _s(b"m") + _s(b"m")),
        (1, b"\x00"),
        (4, b"\x01" + _s(b"f")),
    ]
    for t, payload in cases:
        got = _fast(t, payload)
        assert got[0] == "error"
        assert got == _careful(monkeypatch, t, payload)


# ------------------------------------------------------------------- server load
def _server() -> Any:
    from ember.config import Config
    from ember.server.server import Server

    return Server(Config())


def _load_into_server(srv: Any, data: bytes, **kw: Any) -> Any:
    from ember.persistence.rdbfile import load_rdb_into

    return asyncio.run(load_rdb_into(srv, data, **kw))


def test_server_load_matches_codec() -> None:
    dbs = _dataset(9, 3000)
    data = save_rdb_bytes(dbs)
    srv = _server()
    ticks: list[int] = []
    res = _load_into_server(srv, data, slice_entries=100, progress=ticks.append)
    expected = load_rdb(data, now_ms=NOW)
    assert res.keys_loaded + res.keys_expired == sum(len(d) for d in dbs.values())
    assert res.keys_expired == sum(
        1 for d in dbs.values() for _, e in d.values() if e is not None and e < NOW
    )
    for dbid, keys in expected.dbs.items():
        db = srv.dbs[dbid]
        assert {k: _norm(v) for k, v in db.data.items()} == {
            k: _norm(v) for k, (v, _) in keys.items()
        }
        assert db.expires == {k: e for k, (_, e) in keys.items() if e is not None}
    assert len(ticks) == (res.keys_loaded + res.keys_expired) // 100 and ticks == sorted(ticks)
    assert res.end_offset == len(data) and gc.isenabled()

    srv = _server()
    res = _load_into_server(srv, data, aof_preamble=True, sync=True)
    assert res.keys_expired == 0 and res.keys_loaded == sum(len(d) for d in dbs.values())

    srv = _server()  # loading-process-events-interval-bytes also slices the load
    srv.config.values["loading-process-events-interval-bytes"] = 4096
    ticks = []
    _load_into_server(srv, data, progress=ticks.append)
    assert len(ticks) >= len(data) // (4096 + 20000)


def test_server_load_duplicates_merge_hook_and_db_bounds() -> None:
    data = save_rdb_bytes({0: {b"a": (b"new", None), b"b": (b"2", FUTURE)}})
    srv = _server()
    srv.dbs[0].data[b"a"] = b"old"
    srv.dbs[0].expires[b"a"] = FUTURE
    with pytest.raises(RdbFormatError, match="RDB has duplicated key 'a' in DB 0"):
        _load_into_server(srv, data)
    assert gc.isenabled()
    srv = _server()
    srv.dbs[0].data[b"a"] = b"old"
    srv.dbs[0].expires[b"a"] = FUTURE
    hooked: list[tuple[int, bytes]] = []
    srv.before_write = lambda db, key: hooked.append((db.id, key))
    _load_into_server(srv, data, allow_duplicates=True)
    assert srv.dbs[0].data == {b"a": b"new", b"b": b"2"}
    assert srv.dbs[0].expires == {b"b": FUTURE}
    assert hooked == [(0, b"a"), (0, b"b")]

    srv = _server()
    too_far = save_rdb_bytes({len(srv.dbs): {b"k": (b"v", None)}})
    with pytest.raises(RdbFormatError, match="configured to handle more than 16 databases"):
        _load_into_server(srv, too_far)
