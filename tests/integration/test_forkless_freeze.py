"""Forkless BGSAVE "structural freeze" (persistence/bgsave/cow.py, keyspace/db.py).

While a forkless save walks a db's dict, that dict never changes size: deletions leave
tombstones, new keys go to an overlay (``Db.adds``). These tests check that

* the file is exactly the dataset at BGSAVE time, whatever happens meanwhile (deletes,
  re-creations, new keys, FLUSHDB, SWAPDB, MOVE, RENAME, COPY, expiry);
* the live dataset is right during and after the save: the same replies as a real Redis
  running the same commands (DBSIZE, KEYS, SCAN, RANDOMKEY, EXISTS, TYPE, GET, INFO
  keyspace, DEBUG DIGEST), and the overlay is merged back afterwards;
* the start copies no keys, and a frozen dict changed behind the engine's back fails
  the save instead of writing a wrong file.
"""

from __future__ import annotations

import asyncio
import os
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers.servers import ServerProcess
from tests.helpers.snapshots import StepWalker
from tests.interop import Raw, dump_dataset, info, outcome, wait_until

from ember.persistence.rdb import load_rdb

Factory = Callable[..., ServerProcess]


# ------------------------------------------------------------------ helpers (servers)


def _start(factory: Factory, *args: str) -> ServerProcess:
    return factory("--enable-debug-command", "yes", *args)


def _file_dbs(path: Path) -> dict[int, dict[bytes, tuple[Any, int | None]]]:
    return {db: keys for db, keys in load_rdb(path.read_bytes()).dbs.items() if keys}


def _saving(r: Raw) -> bool:
    return bool(info(r, "persistence")["rdb_bgsave_in_progress"] == "1")


def _wait_idle(r: Raw, saves: int, timeout: float = 60.0) -> dict[str, str]:
    def done() -> dict[str, str] | None:
        p = info(r, "persistence")
        return p if int(p["rdb_saves"]) >= saves and p["rdb_bgsave_in_progress"] == "0" else None

    return wait_until(done, timeout, what=f"save #{saves}")  # type: ignore[no-any-return]


def _scan_all(r: Raw) -> list[bytes]:
    seen: set[bytes] = set()
    cursor = b"0"
    for _ in range(100_000):
        cursor, keys = r("SCAN", cursor, "COUNT", 7)
        seen.update(keys)
        if cursor == b"0":
            return sorted(seen)
    raise AssertionError("SCAN did not finish")


PROBES = [
    "key:0", "key:10", "key:11", "key:20", "key:21", "key:22", "key:30", "key:40",
    "key:50", "key:60", "key:70", "key:199", "new:1", "new:2", "newlist", "newhash",
    "renamed:20", "copied:40", "counter", "p1:5", "after:flush", "l", "h", "z",
]  # fmt: skip


def _view(r: Raw) -> list[Any]:
    """What clients see of the selected db (RANDOMKEY: only whether it is a key)."""
    keys = sorted(r("KEYS", "*"))
    out: list[Any] = [r("DBSIZE"), keys, _scan_all(r)]
    out.append(r.pipeline([("EXISTS", k) for k in PROBES]))
    types = r.pipeline([("TYPE", k) for k in PROBES])
    out.append(types)
    out.append(
        r.pipeline(
            [
                ("GET", k) if t == b"string" else ("ECHO", "-")
                for k, t in zip(PROBES, types, strict=True)
            ]
        )
    )
    rk = r("RANDOMKEY")
    out.append(rk in keys if keys else rk)
    ks = info(r, "keyspace")
    out.append({db: v.split(",avg_ttl")[0] for db, v in ks.items()})
    return out


def _scenario(r: Raw, check: Callable[[], None]) -> list[Any]:
    """Writes of every kind; the view of every db is recorded after each group."""
    out: list[Any] = []

    def op(*args: Any) -> Any:
        return outcome(r.any(*args))

    def look() -> None:
        check()
        for dbid in (0, 1, 2):
            r("SELECT", dbid)
            out.append((dbid, _view(r)))
        out.append(op("DEBUG", "DIGEST"))
        r("SELECT", 0)

    look()
    out.append(op("DEL", "key:10", "key:11", "key:150"))  # tombstones
    look()
    out.append(op("SET", "key:10", "again"))  # a tombstone comes back
    out.append(op("SET", "new:1", "v1"))  # new keys: overlay
    out.append(op("RPUSH", "newlist", "a", "b"))
    out.append(op("HSET", "newhash", "f", "v"))
    look()
    out.append(op("DEL", "new:1"))  # deleted from the overlay
    out.append(op("DEL", "key:10"))  # deleted again (tombstone again)
    look()
    out.append(op("SET", "new:1", "v2"))
    out.append(op("RENAME", "key:20", "renamed:20"))
    out.append(op("RENAME", "key:21", "key:22"))
    out.append(op("RENAME", "newhash", "key:11"))  # onto a tombstone
    out.append(op("MOVE", "key:30", 1))
    out.append(op("MOVE", "new:1", 2))
    out.append(op("COPY", "key:40", "copied:40"))
    out.append(op("INCR", "counter"))
    out.append(op("APPEND", "key:60", "-more"))
    out.append(op("LPUSH", "l", "x"))
    out.append(op("HDEL", "h", "f1", "f2"))  # the hash goes away
    out.append(op("PEXPIRE", "key:50", 1))
    r("SELECT", 1)
    out.append(op("MOVE", "p1:5", 0))
    r("SELECT", 0)
    time.sleep(0.05)
    out.append(op("GET", "key:50"))  # lazy expiry while frozen
    look()
    out.append(op("SWAPDB", 0, 1))
    look()
    r("SELECT", 1)  # the original db0 dict, now db 1
    out.append(op("DEL", "key:70"))
    out.append(op("SET", "new:2", "x"))
    r("SELECT", 2)
    out.append(op("FLUSHDB"))
    out.append(op("SET", "after:flush", "1"))
    r("SELECT", 0)
    look()
    out.append(op("SWAPDB", 0, 1))  # back
    out.append(op("DEL", *[f"key:{i}" for i in range(100, 140)]))
    out.append(op("MSET", *[x for i in range(100, 120) for x in (f"key:{i}", f"re{i}")]))
    look()
    return out


def _fill(r: Raw) -> None:
    r("DEBUG", "POPULATE", 200)
    r("RPUSH", "l", "1", "2", "3")
    r("HSET", "h", "f1", "a", "f2", "b")
    r("ZADD", "z", 1, "a", 2, "b")
    r("SET", "ttl1", "t", "PX", 100_000_000)
    r("SELECT", 1)
    r("DEBUG", "POPULATE", 50, "p1")
    r("SELECT", 2)
    r("DEBUG", "POPULATE", 30, "p2")
    r("SELECT", 0)


def _comparable(ds: dict[int, dict[bytes, tuple[Any, int | None]]]) -> Any:
    return {db: {k: (v, e is not None) for k, (v, e) in keys.items()} for db, keys in ds.items()}


def test_live_dataset_and_file_during_a_slow_forkless_save(
    ember_factory: Factory, redis_factory: Factory
) -> None:
    e = _start(ember_factory, "--rdb-key-save-delay", "8000")  # ~125 keys/s: a slow save
    rs = _start(redis_factory)
    with Raw(e.port) as er, Raw(rs.port) as rr:
        _fill(er)
        _fill(rr)
        expected = dump_dataset(e.port)
        assert er("BGSAVE") == b"Background saving started"
        assert _saving(er)

        def still_saving() -> None:
            assert _saving(er), "the save ended before the scenario: make it slower"

        got = _scenario(er, still_saving)
        want = _scenario(rr, lambda: None)
        assert got == want
        _wait_idle(er, 1)
        assert info(er, "persistence")["rdb_last_bgsave_status"] == "ok"
        # the file is the dataset at BGSAVE time
        assert _file_dbs(e.dir / "dump.rdb") == expected
        # after the save (overlay merged back) the views still agree
        assert _scenario(er, lambda: None) == _scenario(rr, lambda: None)
        assert _comparable(dump_dataset(e.port)) == _comparable(dump_dataset(rs.port))
        # and a new save writes the live dataset
        live = dump_dataset(e.port)
        er("CONFIG", "SET", "rdb-key-save-delay", 0)
        assert er("BGSAVE") == b"Background saving started"
        _wait_idle(er, 2)
        assert _file_dbs(e.dir / "dump.rdb") == live


def test_back_to_back_saves_take_over_a_pending_overlay(ember_factory: Factory) -> None:
    """A save starting while the previous snapshot's overlay is still being merged back
    (BGSAVE SCHEDULE starts it the moment the forkless AOF rewrite ends) saves the
    right dataset."""
    e = _start(ember_factory, "--rdb-key-save-delay", "2000")
    with Raw(e.port) as r:
        r("DEBUG", "POPULATE", 300)
        assert r("BGREWRITEAOF") == b"Background append only file rewriting started"
        # many new keys (more than is merged back synchronously) and deletions
        r("DEBUG", "POPULATE", 30_000, "big")
        r("DEL", *[f"key:{i}" for i in range(0, 300, 3)])
        r("SET", "key:0", "back")
        assert info(r, "persistence")["aof_rewrite_in_progress"] == "1", "make it slower"
        assert r("BGSAVE", "SCHEDULE") == b"Background saving scheduled"
        r("CONFIG", "SET", "rdb-key-save-delay", 0)
        _wait_idle(r, 1)
        assert info(r, "persistence")["rdb_last_bgsave_status"] == "ok"
        live = dump_dataset(e.port)
        assert r("DBSIZE") == 30_000 + 300 - 100 + 1
        assert len(live[0]) == r("DBSIZE")
        assert _file_dbs(e.dir / "dump.rdb") == live
        assert r("EXISTS", "key:3", "key:0", "big:29999", "key:1") == 3


def test_debug_reload_noflush_into_a_frozen_db(ember_factory: Factory) -> None:
    """DEBUG RELOAD NOFLUSH during a forkless save loads beside the frozen dict."""
    e = _start(ember_factory, "--rdb-key-save-delay", "20000")
    with Raw(e.port) as r:
        r("MSET", "a", "1", "b", "2")
        assert r("SAVE") == b"OK"  # the file: a=1 b=2
        r("DEL", "a")
        r("SET", "b", "20")
        r("SET", "c", "3")
        r("DEBUG", "POPULATE", 20)
        at_start = dump_dataset(e.port)
        assert r("BGSAVE") == b"Background saving started"
        # without MERGE the existing b is a duplicate: an error, as in Redis
        got = outcome(r.any("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH"))
        assert got == ("err", "ERR Error trying to load the RDB dump, check server logs.")
        assert outcome(r.any("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE")) == ("ok", b"OK")
        assert r.pipeline([("GET", k) for k in ("a", "b", "c")]) == [b"1", b"2", b"3"]
        assert r("DBSIZE") == 23
        assert _saving(r), "the save ended too early: make it slower"
        r("CONFIG", "SET", "rdb-key-save-delay", 0)
        _wait_idle(r, 2)
        assert info(r, "persistence")["rdb_last_bgsave_status"] == "ok"
        assert _file_dbs(e.dir / "dump.rdb") == at_start
        assert r.pipeline([("GET", k) for k in ("a", "b", "c")]) == [b"1", b"2", b"3"]
        assert sorted(r("KEYS", "*")) == sorted(
            [b"a", b"b", b"c"] + [b"key:%d" % i for i in range(20)]
        )


# ------------------------------------------------------------------ in-process engine


def _server() -> Any:
    from ember.commands.registry import load_all
    from ember.config import Config
    from ember.server.client import Client
    from ember.server.server import Server

    load_all()
    srv = Server(Config())
    return srv, Client(srv)


def _run(srv: Any, c: Any, *argv: bytes) -> bytes:
    c.execute(list(argv))
    out = b"".join(c.out)
    c.out.clear()
    srv.prop_ops.clear()
    return out


def _capture(srv: Any) -> dict[int, dict[bytes, tuple[Any, int | None]]]:
    from ember.keyspace.types import copy_value

    return {
        db.id: {k: (copy_value(v), db.expires.get(k)) for k, v in db.items()}
        for db in srv.dbs
        if len(db)
    }


def _snapshot(srv: Any) -> tuple[Any, Any]:
    from ember.persistence.bgsave.cow import ForklessSnapshot
    from ember.persistence.rdbfile import RdbEncoder, write_options
    from ember.persistence.sinks import MemorySink

    sink = MemorySink()
    return ForklessSnapshot(srv, RdbEncoder(sink, write_options(srv), [])), sink


def _walk_all(snap: Any) -> None:
    enc = snap.encoder
    enc.begin()
    for d in snap.dbs:
        enc.begin_db(d.dbid, d.size, d.expires_count)
        snap._walk(d, 1 << 40, 1 << 62)
    enc.end()


def _assert_clean(srv: Any) -> None:
    """No overlay left: every db is a plain dict again."""
    for db in srv.dbs:
        assert db.frozen is None and not db.adds and not db.tombs and db.ntombs == 0
        assert None not in db.data.values()
        assert len(db) == len(db.data)


def test_start_copies_no_keys() -> None:
    """start() keeps references only: no list/set/dict of the keys is built (the old
    engine held an 8 bytes/key list), and what it allocates does not grow with n."""
    srv, c = _server()
    db = srv.dbs[0]
    for i in range(200_000):
        db.data[b"k%d" % i] = b"v"
    snap, _ = _snapshot(srv)
    tracemalloc.start()
    try:
        snap.start()
        allocated, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert allocated < 64 * 1024, allocated  # a key list alone would be 1.6 MB
    (d,) = snap.dbs
    for f in fields(d):
        v = getattr(d, f.name)
        if isinstance(v, list | set | dict | tuple) and v is not d.data and v is not d.expires:
            assert len(v) < 100, f.name
    assert d.size == d.slots == 200_000 and db.frozen is snap
    assert snap.stats.keys_total == 200_000
    snap.uninstall()
    _assert_clean(srv)


def test_overlay_semantics_while_frozen() -> None:
    srv, c = _server()
    db = srv.dbs[0]
    for i in range(10):
        _run(srv, c, b"SET", b"k%d" % i, b"v%d" % i)
    snap, sink = _snapshot(srv)
    snap.start()
    data = db.data
    n0 = len(data)
    assert _run(srv, c, b"DEL", b"k1") == b":1\r\n"
    assert data[b"k1"] is None and db.ntombs == 1  # a tombstone, same size
    assert _run(srv, c, b"EXISTS", b"k1") == b":0\r\n"
    assert _run(srv, c, b"TYPE", b"k1") == b"+none\r\n"
    assert _run(srv, c, b"GET", b"k1") == b"$-1\r\n"
    assert _run(srv, c, b"SET", b"new", b"x") == b"+OK\r\n"
    assert b"new" not in data and db.adds == {b"new": b"x"}
    assert _run(srv, c, b"GET", b"new") == b"$1\r\nx\r\n"
    assert _run(srv, c, b"SET", b"k1", b"again") == b"+OK\r\n"
    assert data[b"k1"] == b"again" and db.ntombs == 0
    assert _run(srv, c, b"DBSIZE") == b":11\r\n"
    assert len(data) == n0
    keys = sorted(db.iter_keys())
    assert keys == sorted([b"k%d" % i for i in range(10)] + [b"new"])
    assert _run(srv, c, b"DEL", b"new", b"k2") == b":2\r\n"
    assert not db.adds and db.ntombs == 1 and len(db) == 9
    _walk_all(snap)
    snap.uninstall()
    _assert_clean(srv)
    assert sorted(db.data) == sorted([b"k%d" % i for i in range(10) if i != 2])
    got = load_rdb(sink.getvalue()).dbs[0]
    assert sorted(got) == [b"k%d" % i for i in range(10)]  # the dataset at start()


@pytest.mark.parametrize("spill", [False, True])
def test_held_records_are_written_once_and_only_when_the_walker_needs_them(
    spill: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serialize-before-write keeps the start value of a written key as one record in a
    per-db arena; the walker confirms it when it reaches the key and writes confirmed
    records at the end of the db. A key written after the walker passed it is held but
    never written twice; once a db is walked the hook stops holding its keys. With
    ``spill`` every record goes to the arena's temp file at once and is read back."""
    from ember.persistence.bgsave.cow import CONFIRMED, HELD, NOTHING
    from ember.persistence.bgsave.held import HeldArena

    if spill:
        monkeypatch.setattr(HeldArena, "SPILL_AT", 1)

    def touched(d: Any) -> dict[bytes, bool | None]:
        return {k: v for shard in d.touched for k, v in shard.items()}

    srv, c = _server()
    for i in range(100):
        _run(srv, c, b"SET", b"k%d" % i, b"v%d" % i)
    _run(srv, c, b"SELECT", b"1")
    _run(srv, c, b"RPUSH", b"list", b"a", b"b")
    _run(srv, c, b"SELECT", b"0")
    expected = _capture(srv)
    snap, sink = _snapshot(srv)
    snap.spill_dir = str(tmp_path) if spill else None
    snap.start()
    d0, d1 = snap.dbs
    walker = StepWalker(snap)
    walker.walk(50)  # k0..k49 written from the dict
    assert d0.pos == 50 and not touched(d0)
    _run(srv, c, b"SET", b"k10", b"late")  # already walked: held, never confirmed
    _run(srv, c, b"SET", b"k90", b"early")  # ahead of the walker: held, then confirmed
    _run(srv, c, b"DEL", b"k91")  # a tombstone, its start value held
    _run(srv, c, b"SET", b"fresh", b"x")  # created after the start: nothing to hold
    _run(srv, c, b"SELECT", b"1")
    _run(srv, c, b"RPUSH", b"list", b"c")  # another db: its own arena
    _run(srv, c, b"SELECT", b"0")
    assert touched(d0) == {b"k10": HELD, b"k90": HELD, b"k91": HELD, b"fresh": NOTHING}
    # each record: the key and the RDB entry (type 0, key, start value), each after its
    # length (4 bytes, little endian), in the order the keys were first written
    rec = [
        b"\x03\x00\x00\x00k%d\x09\x00\x00\x00\x00\x03k%d\x03v%d" % (i, i, i) for i in (10, 90, 91)
    ]
    assert b"".join(d0.held.read_chunks()) == b"".join(rec)
    assert [k for k, _ in d0.held.records()] == [b"k10", b"k90", b"k91"]
    if spill:  # on disk, one chunk per record here; nothing left in memory
        assert d0.held.chunks == [(0, 20), (20, 20), (40, 20)] and not d0.held.in_memory
        assert os.listdir(tmp_path) == []  # an unnamed temp file
    assert snap.cow_size == len(d0.held) + len(d1.held) > 0
    walker.walk(45)  # k50..k94: k90 and k91 are confirmed, their dict values skipped
    assert touched(d0)[b"k90"] is CONFIRMED and touched(d0)[b"k91"] is CONFIRMED
    assert touched(d0)[b"k10"] is HELD
    walker.walk(5)  # the rest of db 0, then its confirmed records
    assert d0.walked and not d0.held and not touched(d0)
    _run(srv, c, b"SET", b"k95", b"after")  # db 0 is walked: the hook leaves it alone
    assert not touched(d0) and not d0.held
    walker.finish()
    st = snap.stats
    assert (st.side_saved, st.side_written) == (4, 3)  # k10 dropped: walked already
    snap.uninstall()
    assert snap.cow_size == 0
    assert _file_dbs_bytes(sink.getvalue()) == expected  # no duplicate key, no late value


def test_a_held_record_that_cannot_be_spilled_fails_the_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client's write goes through; the background save fails with the disk error."""
    from ember.persistence.bgsave.held import HeldArena

    monkeypatch.setattr(HeldArena, "SPILL_AT", 1)
    srv, c = _server()
    for i in range(100):
        _run(srv, c, b"SET", b"k%d" % i, b"v")
    snap, sink = _snapshot(srv)
    snap.spill_dir = str(tmp_path / "gone")
    snap.start()
    assert _run(srv, c, b"SET", b"k99", b"new") == b"+OK\r\n"
    with pytest.raises(FileNotFoundError):
        asyncio.run(snap.run())
    snap.uninstall()
    _assert_clean(srv)
    assert _run(srv, c, b"GET", b"k99") == b"$3\r\nnew\r\n"


def test_held_records_written_in_slices_while_clients_write() -> None:
    """The end-of-db tail is sliced like the walk (one batch per slice past the deadline);
    writes, SWAPDB and FLUSHALL between its slices change nothing in the file."""
    srv, c = _server()
    for i in range(1000):
        _run(srv, c, b"SET", b"k%d" % i, b"v%d" % i)
    _run(srv, c, b"SELECT", b"1")
    for i in range(300):
        _run(srv, c, b"RPUSH", b"l%d" % i, b"a", b"b")
    _run(srv, c, b"SELECT", b"0")
    expected = _capture(srv)
    snap, sink = _snapshot(srv)
    snap.start()
    d0, d1 = snap.dbs
    snap.encoder.begin()
    snap.encoder.begin_db(0, d0.size, 0)
    snap._walk(d0, 100, 1 << 62)
    for i in range(1000):  # 900 ahead of the walker (confirmed later), 100 behind it
        _run(srv, c, b"SET", b"k%d" % i, b"new")
    _run(srv, c, b"SELECT", b"1")
    for i in range(300):
        _run(srv, c, b"LPUSH", b"l%d" % i, b"z")
    _run(srv, c, b"SELECT", b"0")
    slices = 0
    while not snap._db_done(d0):
        snap._walk(d0, 1 << 40, 0)  # deadline already passed: one batch per call
        slices += 1
        _run(srv, c, b"SET", b"k%d" % slices, b"later")  # walked or in the tail: ignored
        if slices == 5:
            _run(srv, c, b"SWAPDB", b"0", b"1")
    assert slices > 4  # the 900 confirmed records took several tail slices
    snap.encoder.begin_db(1, d1.size, 0)
    _run(srv, c, b"FLUSHALL")
    while not snap._db_done(d1):
        snap._walk(d1, 1 << 40, 0)
    snap.encoder.end()
    assert (snap.stats.side_saved, snap.stats.side_written) == (1300, 1200)
    snap.uninstall()
    _assert_clean(srv)
    assert _file_dbs_bytes(sink.getvalue()) == expected


def _file_dbs_bytes(data: bytes) -> dict[int, dict[bytes, tuple[Any, int | None]]]:
    return {db: keys for db, keys in load_rdb(data).dbs.items() if keys}


def test_a_frozen_dict_changed_behind_the_engine_fails_the_save() -> None:
    from ember.persistence.bgsave.cow import SnapshotIntegrityError

    srv, c = _server()
    db = srv.dbs[0]
    for i in range(1000):
        db.data[b"k%d" % i] = b"v"
    snap, sink = _snapshot(srv)
    snap.start()
    snap.encoder.begin()
    (d,) = snap.dbs
    snap.encoder.begin_db(0, d.size, 0)
    snap._walk(d, 10, 1 << 62)
    db.data[b"sneaky"] = b"x"  # bypasses the Db methods: the dict grows
    with pytest.raises(SnapshotIntegrityError, match="frozen dict went from 1000 to 1001"):
        snap._walk(d, 10, 1 << 62)
    del db.data[b"sneaky"]
    del db.data[b"k5"]  # ... or shrinks
    with pytest.raises(SnapshotIntegrityError, match="frozen dict went from 1000 to 999"):
        snap._walk(d, 10, 1 << 62)
    db.data[b"k5"] = b"v"
    db.data[b"sneaky"] = b"x"
    d.data_len += 1  # pretend the size check missed it: the dict iterator still notices
    with pytest.raises(SnapshotIntegrityError, match="changed size during iteration"):
        snap._walk(d, 10, 1 << 62)
    snap.uninstall()

    srv, c = _server()
    db = srv.dbs[0]
    for i in range(100):
        db.data[b"k%d" % i] = b"v"
    snap, sink = _snapshot(srv)
    snap.start()
    db.data[b"k50"] = None  # a tombstone the write hook never saw
    with pytest.raises(SnapshotIntegrityError, match="deleted without the write hook"):
        snap.run_sync()
    snap.uninstall()


def test_integrity_error_fails_a_background_save_without_a_file(tmp_path: Path) -> None:
    """Through the persistence manager: the error is logged, the status is err and no
    file is written."""
    import os

    from ember.persistence.manager import Persistence

    srv, c = _server()
    srv.config.values["rdb-key-save-delay"] = 2000
    for i in range(50):
        srv.dbs[0].data[b"k%d" % i] = b"v"
    pm = Persistence(srv)
    target = str(tmp_path / "dump.rdb")

    async def main() -> Any:
        srv.loop = asyncio.get_running_loop()
        job = pm.start_snapshot_job(
            "rdb", "forkless", target, _encoder_factory(srv), on_done=pm._bgsave_done
        )
        assert not isinstance(job, str)
        await asyncio.sleep(0.01)
        srv.dbs[0].data[b"sneaky"] = b"x"
        assert job.task is not None
        await asyncio.wait_for(job.task, 30)
        return job

    asyncio.run(main())
    assert pm.last_bgsave_status == "err"
    assert "frozen dict went from 50 to 51" in pm.last_error
    assert not os.path.exists(target)
    assert [p.name for p in tmp_path.iterdir()] == []
    assert srv.before_write is None and srv.dbs[0].frozen is None


def _encoder_factory(srv: Any) -> Any:
    from ember.persistence.rdbfile import RdbEncoder, write_options

    return lambda sink: RdbEncoder(sink, write_options(srv), [])


def test_flushdb_and_swapdb_move_the_freeze_with_the_dict() -> None:
    srv, c = _server()
    for dbid in (0, 1):
        _run(srv, c, b"SELECT", b"%d" % dbid)
        for i in range(5):
            _run(srv, c, b"SET", b"d%d:%d" % (dbid, i), b"v")
    _run(srv, c, b"SELECT", b"0")
    expected = _capture(srv)
    snap, sink = _snapshot(srv)
    snap.start()
    d0, d1 = srv.dbs[0].data, srv.dbs[1].data
    _run(srv, c, b"DEL", b"d0:0")
    _run(srv, c, b"SET", b"n0", b"x")
    assert _run(srv, c, b"SWAPDB", b"0", b"1") == b"+OK\r\n"
    assert srv.dbs[1].data is d0 and srv.dbs[1].adds == {b"n0": b"x"}
    assert srv.dbs[1].frozen is snap and srv.dbs[1].ntombs == 1
    assert _run(srv, c, b"DBSIZE") == b":5\r\n"
    _run(srv, c, b"SELECT", b"1")
    assert _run(srv, c, b"DBSIZE") == b":5\r\n"
    assert _run(srv, c, b"EXISTS", b"n0", b"d0:0", b"d0:1") == b":2\r\n"
    assert _run(srv, c, b"FLUSHDB") == b"+OK\r\n"
    assert srv.dbs[1].frozen is None and srv.dbs[1].data is not d0
    assert _run(srv, c, b"SET", b"after", b"1") == b"+OK\r\n"
    assert srv.dbs[1].data == {b"after": b"1"}  # a new dict: not frozen
    assert len(d0) == 5  # the flushed frozen dict is still walked as it was
    _walk_all(snap)
    snap.uninstall()
    _assert_clean(srv)
    assert srv.dbs[0].data is d1
    got = {k: v for k, v in load_rdb(sink.getvalue()).dbs.items() if v}
    assert got == expected


# --------------------------------------------- randomized: twin servers, one frozen

KEYS = [b"k%d" % i for i in range(6)]
_key = st.sampled_from(KEYS)
_db = st.sampled_from([b"0", b"1", b"2"])
_cmd = st.one_of(
    st.tuples(st.just(b"SET"), _key, st.sampled_from([b"1", b"x"])),
    st.tuples(st.just(b"DEL"), _key),
    st.tuples(st.just(b"SET"), _key, st.binary(max_size=6)),
    st.tuples(st.just(b"DEL"), _key),
    st.tuples(st.just(b"DEL"), _key, _key),
    st.tuples(st.just(b"APPEND"), _key, st.binary(min_size=1, max_size=3)),
    st.tuples(st.just(b"INCR"), _key),
    st.tuples(st.just(b"RENAME"), _key, _key),
    st.tuples(st.just(b"RENAMENX"), _key, _key),
    st.tuples(st.just(b"PEXPIRE"), _key, st.sampled_from([b"1", b"100000"])),
    st.tuples(st.just(b"PERSIST"), _key),
    st.tuples(st.just(b"RPUSH"), _key, st.binary(max_size=3)),
    st.tuples(st.just(b"LPOP"), _key),
    st.tuples(st.just(b"LMOVE"), _key, _key, st.just(b"LEFT"), st.just(b"RIGHT")),
    st.tuples(st.just(b"SADD"), _key, st.sampled_from([b"a", b"b"])),
    st.tuples(st.just(b"SREM"), _key, st.sampled_from([b"a", b"b"])),
    st.tuples(st.just(b"HSET"), _key, st.sampled_from([b"f", b"g"]), st.binary(max_size=2)),
    st.tuples(st.just(b"HDEL"), _key, st.sampled_from([b"f", b"g"])),
    st.tuples(st.just(b"MOVE"), _key, _db),
    st.tuples(st.just(b"COPY"), _key, _key, st.just(b"REPLACE")),
    st.tuples(st.just(b"COPY"), _key, _key, st.just(b"DB"), _db),
    st.tuples(st.just(b"SELECT"), _db),
    st.tuples(st.just(b"SWAPDB"), _db, _db),
    st.tuples(st.just(b"FLUSHDB")),
    st.tuples(st.just(b"FLUSHALL")),
    st.tuples(st.just(b"GETDEL"), _key),
    st.tuples(st.just(b"SETNX"), _key, st.binary(max_size=2)),
    # reads: the live view
    st.tuples(st.just(b"DBSIZE")),
    st.tuples(st.just(b"KEYS"), st.sampled_from([b"*", b"k1*"])),
    st.tuples(st.just(b"SCAN"), st.just(b"0"), st.just(b"COUNT"), st.just(b"1000")),
    st.tuples(st.just(b"EXISTS"), _key, _key),
    st.tuples(st.just(b"TYPE"), _key),
    st.tuples(st.just(b"GET"), _key),
    st.tuples(st.just(b"STRLEN"), _key),
    st.tuples(st.just(b"RANDOMKEY")),
    st.tuples(st.just(b"DEBUG"), st.just(b"DIGEST")),
    st.tuples(st.just(b"TIME-PASSES")),
)
_step = st.one_of(st.tuples(st.just("walk"), st.integers(1, 8)), st.tuples(st.just("cmd"), _cmd))


def _normalize(argv: tuple[bytes, ...], reply: bytes) -> bytes:
    if argv[0] in (b"KEYS", b"SCAN") and reply.startswith(b"*"):
        return b"|".join(sorted(reply.split(b"\r\n")))  # order may differ
    return reply


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    initial=st.lists(st.tuples(_db, _cmd), max_size=20),
    steps=st.lists(_step, min_size=2, max_size=50),
    after=st.lists(_step, max_size=30),
    second=st.booleans(),
)
def test_frozen_server_behaves_like_a_plain_one(
    initial: list[Any], steps: list[Any], after: list[Any], second: bool
) -> None:
    """Two in-process servers run the same commands; one has a forkless snapshot walking
    (and, with ``second``, a second snapshot taking over the first one's pending
    overlay). Every reply is the same, the datasets are the same after every step, and
    each file is the dataset at its start()."""
    frozen, fc = _server()
    plain, pc = _server()
    now = frozen.update_time()

    def both(argv: tuple[bytes, ...]) -> None:
        if argv[0] == b"TIME-PASSES":
            for srv in (frozen, plain):
                srv._now_ms += 10_000
                for db in srv.dbs:
                    db.active_expire(3, srv._now_ms)
            return
        if argv[0] == b"RANDOMKEY":
            both((b"EXISTS", *KEYS))  # lazy expiry first: RANDOMKEY's lookups may expire
        a = _run(frozen, fc, *argv)
        b = _run(plain, pc, *argv)
        if argv[0] == b"RANDOMKEY":
            if b == b"$-1\r\n":
                assert a == b
            else:
                key = a.split(b"\r\n")[1]
                assert _run(plain, pc, b"EXISTS", key) == b":1\r\n", (a, b)
            return
        assert _normalize(argv, a) == _normalize(argv, b), argv

    for srv in (frozen, plain):
        srv._now_ms = now
    for dbid, cmd in initial:
        both((b"SELECT", dbid))
        both(cmd)
    both((b"SELECT", b"0"))

    def save_during(ops: list[tuple[str, Any]], thaw_in_slices: bool) -> None:
        """A snapshot walked step by step between ``ops``: the file is the dataset at
        its start and the frozen server answers like the plain one all along."""
        snap, sink = _snapshot(frozen)
        if thaw_in_slices:
            snap.THAW_SYNC_OPS = -1  # always merge back in slices: exercises the takeover
        expected = _capture(frozen)
        snap.start()  # a second one takes over what the first has not merged back yet
        walker = StepWalker(snap)
        for kind, arg in ops:
            if kind == "walk":
                walker.walk(arg)
            else:
                both(arg)
            assert _capture(frozen) == _capture(plain)
        walker.finish()
        snap.uninstall()
        got = {db: keys for db, keys in load_rdb(sink.getvalue()).dbs.items() if keys}
        assert got == expected

    async def main() -> None:
        frozen.loop = asyncio.get_running_loop()
        save_during(steps, thaw_in_slices=True)
        assert _capture(frozen) == _capture(plain)
        if second:
            save_during(after, thaw_in_slices=False)
        else:
            for kind, arg in after:  # while the overlay is merged back
                if kind == "cmd":
                    both(arg)
                else:
                    await asyncio.sleep(0)
                assert _capture(frozen) == _capture(plain)
        for _ in range(10_000):
            if all(db.frozen is None for db in frozen.dbs):
                break
            await asyncio.sleep(0.001)
        _assert_clean(frozen)
        assert _capture(frozen) == _capture(plain)
        frozen.loop = None

    asyncio.run(main())
