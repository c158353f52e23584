"""RDB persistence under faults: disk errors while saving, MISCONF, corrupt files at start.

Disk errors are injected inside ember with ``DEBUG FS-FAULT <op> <errno> [after N]`` (the
persistence file layer, :mod:`ember.persistence.fs`); for redis-server the same situations
are produced from outside (a directory where the temp file goes, a killed save child).
Invariant checked everywhere: a failed save leaves the previous ``dump.rdb`` byte-identical
and no ``temp-*`` file behind.
"""

from __future__ import annotations

import os
import signal
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.servers import ServerProcess
from tests.interop import (
    Raw,
    RespError,
    children_of,
    info,
    outcome,
    server_pid,
    wait_bgsave_done,
    wait_until,
)

from ember.persistence.rdb import load_rdb
from ember.persistence.rdb.crc64 import crc64
from ember.persistence.rdb.writer import RdbWriteOptions, save_rdb_bytes

Factory = Callable[..., ServerProcess]

MISCONF = (
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist "
    "to disk. Commands that may modify the data set are disabled, because this instance is "
    "configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the "
    "RDB error."
)


def start(factory: Factory, *args: str, **kw: Any) -> ServerProcess:
    return factory("--enable-debug-command", "yes", *args, **kw)


def temp_files(d: Path) -> list[str]:
    return sorted(p.name for p in d.glob("temp-*"))


# ---------------------------------------------------------------------------- failed saves


@pytest.mark.parametrize("op", ["write", "fsync", "rename"])
def test_failed_save_keeps_previous_dump(ember_factory: Factory, op: str) -> None:
    s = start(ember_factory)
    dump = s.dir / "dump.rdb"
    with Raw(s.port) as r:
        r("SET", "old", "1")
        assert r("SAVE") == b"OK"
        before = dump.read_bytes()
        r("DEBUG", "POPULATE", 1000)
        assert r("DEBUG", "FS-FAULT", op, "ENOSPC") == b"OK"
        # SAVE
        assert outcome(r.any("SAVE")) == ("err", "ERR")
        assert dump.read_bytes() == before
        assert temp_files(s.dir) == []
        # a failed SAVE is not a failed BGSAVE: no MISCONF (as in Redis)
        assert info(r, "persistence")["rdb_last_bgsave_status"] == "ok"
        # BGSAVE
        assert r("BGSAVE") == b"Background saving started"
        p = wait_bgsave_done(r)
        assert p["rdb_last_bgsave_status"] == "err"
        assert dump.read_bytes() == before
        assert temp_files(s.dir) == []
        # healed: the next save replaces the file
        assert r("DEBUG", "FS-FAULT", "OFF") == b"OK"
        assert r("SAVE") == b"OK"
        assert info(r, "persistence")["rdb_last_bgsave_status"] == "ok"
    assert len(load_rdb(dump.read_bytes()).dbs[0]) == 1001
    log = s.log_text()
    if op == "rename":
        assert "Error moving temp DB file" in log
    else:
        assert "Write error saving DB on disk: No space left on device" in log
    assert "Background saving error" in log


@pytest.mark.parametrize("engine", ["forkless", "fork"])
def test_disk_full_in_the_middle_of_a_big_bgsave(ember_factory: Factory, engine: str) -> None:
    s = start(ember_factory, "--bgsave-engine", engine)
    dump = s.dir / "dump.rdb"
    with Raw(s.port) as r:
        r("DEBUG", "POPULATE", 1000)
        r("SAVE")
        before = dump.read_bytes()
        r("DEBUG", "POPULATE", 30_000, "big", 30)  # ~1.5 MB: many 64 KB writes
        # the first two writes succeed, then the disk is full
        assert r("DEBUG", "FS-FAULT", "write", "ENOSPC", "after", 2) == b"OK"
        assert r("BGSAVE") == b"Background saving started"
        assert wait_bgsave_done(r)["rdb_last_bgsave_status"] == "err"
        assert dump.read_bytes() == before
        assert temp_files(s.dir) == []
        r("DEBUG", "FS-FAULT", "OFF")
        assert r("BGSAVE") == b"Background saving started"
        assert wait_bgsave_done(r)["rdb_last_bgsave_status"] == "ok"
    assert sum(len(k) for k in load_rdb(dump.read_bytes()).dbs.values()) == 31_000


def test_fs_fault_arguments(ember_factory: Factory) -> None:
    s = start(ember_factory)
    with Raw(s.port) as r:
        assert isinstance(r.any("DEBUG", "FS-FAULT", "write"), RespError)
        assert isinstance(r.any("DEBUG", "FS-FAULT", "chmod", "EIO"), RespError)
        assert isinstance(r.any("DEBUG", "FS-FAULT", "write", "ENOTANERRNO"), RespError)
        assert r("DEBUG", "FS-FAULT", "fsync", "EIO") == b"OK"
        assert r("DEBUG", "FS-FAULT", "OFF") == b"OK"
        assert r("SAVE") == b"OK"


# ---------------------------------------------------------------------------------- MISCONF


def _redis_misconf(redis_factory: Factory) -> tuple[Any, Any, Any]:
    """Make a real redis-server fail a BGSAVE (kill -9 the child); return its replies."""
    s = start(redis_factory, "--save", "3600 1", "--rdb-key-save-delay", "100000")
    with Raw(s.port) as r:
        r("DEBUG", "POPULATE", 100)
        assert r("BGSAVE") == b"Background saving started"
        pid = server_pid(r)
        child = wait_until(lambda: children_of(pid), 5, what="the redis save child")[0]
        os.kill(child, signal.SIGKILL)
        assert wait_bgsave_done(r)["rdb_last_bgsave_status"] == "err"
        replies = r.any("SET", "k", "v"), r.any("PING"), r.any("GET", "key:1")
        r("CONFIG", "SET", "rdb-key-save-delay", 0)  # quick final save at stop
        return replies


def test_misconf_after_failed_bgsave_like_redis(
    ember_factory: Factory, redis_factory: Factory
) -> None:
    want = _redis_misconf(redis_factory)
    assert isinstance(want[0], RespError) and str(want[0]) == MISCONF
    s = start(ember_factory, "--save", "3600 1")
    with Raw(s.port) as r:
        r("DEBUG", "POPULATE", 100)
        r("DEBUG", "FS-FAULT", "write", "ENOSPC")
        assert r("BGSAVE") == b"Background saving started"
        assert wait_bgsave_done(r)["rdb_last_bgsave_status"] == "err"
        got = (r.any("SET", "k", "v"), r.any("PING"), r.any("GET", "key:1"))
        assert [outcome(x) for x in got] == [outcome(x) for x in want]
        # errors are counted like Redis's
        assert info(r, "errorstats")["errorstat_MISCONF"] == "count=2"
        # read commands and persistence admin still work; a MULTI with a write fails
        multi = r.pipeline([("MULTI",), ("SET", "k", "v"), ("EXEC",)])
        assert [outcome(x) for x in multi] == [
            ("ok", b"OK"),
            ("err", MISCONF),
            ("err", "EXECABORT Transaction discarded because of previous errors."),
        ]
        # stop-writes-on-bgsave-error no lifts the block
        r("CONFIG", "SET", "stop-writes-on-bgsave-error", "no")
        assert r("SET", "k", "v") == b"OK"
        r("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes")
        assert outcome(r.any("SET", "k", "v")) == ("err", MISCONF)
        # without save points there is no MISCONF either
        r("CONFIG", "SET", "save", "")
        assert r("SET", "k", "v") == b"OK"
        r("CONFIG", "SET", "save", "3600 1")
        assert outcome(r.any("SET", "k", "v")) == ("err", MISCONF)
        # the next good save clears it
        r("DEBUG", "FS-FAULT", "OFF")
        assert r("BGSAVE") == b"Background saving started"
        assert wait_bgsave_done(r)["rdb_last_bgsave_status"] == "ok"
        assert r("SET", "k", "v") == b"OK"
        assert r("PING") == b"PONG"


def test_misconf_cleared_by_a_good_save(ember_factory: Factory) -> None:
    s = start(ember_factory, "--save", "3600 1")
    with Raw(s.port) as r:
        r("SET", "a", "1")
        r("DEBUG", "FS-FAULT", "fsync", "EIO")
        r("BGSAVE")
        wait_bgsave_done(r)
        assert outcome(r.any("INCR", "a")) == ("err", MISCONF)
        r("DEBUG", "FS-FAULT", "OFF")
        assert r("SAVE") == b"OK"  # a good SAVE also clears it
        assert r("INCR", "a") == 2


def test_failed_save_point_is_retried_after_a_delay(ember_factory: Factory) -> None:
    """CONFIG_BGSAVE_RETRY_DELAY: a failed automatic save is retried 5 s later, not at once."""
    s = start(ember_factory, "--save", "1 1")
    with Raw(s.port) as r:
        r("DEBUG", "FS-FAULT", "write", "ENOSPC")
        r("SET", "a", "1")
        wait_until(lambda: info(r, "persistence")["rdb_last_bgsave_status"] == "err", 5)
        wait_bgsave_done(r)
        saves = int(info(r, "persistence")["rdb_saves"])
        time.sleep(2)
        assert int(info(r, "persistence")["rdb_saves"]) == saves  # no retry storm
        r("DEBUG", "FS-FAULT", "OFF")
        wait_until(lambda: info(r, "persistence")["rdb_last_bgsave_status"] == "ok", 10)
    assert (s.dir / "dump.rdb").exists()


# ------------------------------------------------------------------ corrupt files at start


def _good_rdb() -> bytes:
    dbs: dict[int, dict[bytes, tuple[Any, int | None]]] = {
        0: {b"k%d" % i: (b"v%d" % i * 10, None) for i in range(200)},
        3: {b"x": (b"y", None)},
    }
    return save_rdb_bytes(dbs, RdbWriteOptions())


def _corrupt(kind: str) -> bytes:
    data = bytearray(_good_rdb())
    if kind == "truncated":
        return bytes(data[: len(data) // 2])
    if kind == "flipped":
        i = data.index(b"k150")
        data[i + 1] = ord("z")  # a key name changes: still parses, the CRC catches it
        return bytes(data)
    if kind == "unknown-type":
        i = data.index(b"\x00\x02k0")  # type byte of the first key
        data[i] = 0x3E
        data[-8:] = struct.pack("<Q", crc64(bytes(data[:-8])))
        return bytes(data)
    if kind == "future-version":
        data[5:9] = b"0013"
        return bytes(data)
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind,message",
    [
        ("truncated", ""),
        ("flipped", "Wrong RDB checksum"),
        ("unknown-type", ""),
        ("future-version", "Can't handle RDB format version 13"),
    ],
)
def test_corrupt_file_stops_the_start(
    ember_factory: Factory, redis_factory: Factory, kind: str, message: str
) -> None:
    data = _corrupt(kind)
    for factory in (ember_factory, redis_factory):
        s = start(factory, start=False)
        (s.dir / "dump.rdb").write_bytes(data)
        s.start(wait=False)
        assert s.proc is not None
        rc = s.proc.wait(30)
        assert rc != 0, (s.kind, s.log_text())
        log = s.log_text()
        assert message in log, (s.kind, log)
        if s.kind == "ember":
            line = next(x for x in log.splitlines() if "Fatal error loading the DB" in x)
            if kind != "future-version":
                assert "at offset " in line, line
            assert "Ready to accept connections" not in log
    assert (s.dir / "dump.rdb").read_bytes() == data  # never modified


def test_bad_checksum_is_accepted_with_rdbchecksum_no(
    ember_factory: Factory, redis_factory: Factory
) -> None:
    data = bytearray(_good_rdb())
    data[-8:] = b"\x01" * 8  # wrong CRC, right content
    for factory in (ember_factory, redis_factory):
        s = start(factory, "--rdbchecksum", "no", start=False)
        (s.dir / "dump.rdb").write_bytes(bytes(data))
        s.start()
        with Raw(s.port) as r:
            assert r("DBSIZE") == 200
            assert r("GET", "k7") == b"v7" * 10
            assert info(r, "persistence")["rdb_last_load_keys_loaded"] == "201"


def test_missing_dump_starts_empty(ember_factory: Factory) -> None:
    s = start(ember_factory)
    with Raw(s.port) as r:
        assert r("DBSIZE") == 0
        assert info(r, "persistence")["rdb_last_load_keys_loaded"] == "0"
    assert not (s.dir / "dump.rdb").exists()


# ------------------------------------------------------------- the durable-write protocol


def _in_process(tmp_path: Path) -> Any:
    from ember.commands.registry import load_all
    from ember.config import Config
    from ember.persistence.manager import Persistence
    from ember.server.server import Server

    load_all()
    srv = Server(Config())
    p = Persistence(srv)
    srv.persistence = p
    srv.config.values["dbfilename"] = str(tmp_path / "dump.rdb")
    for i in range(2000):
        srv.dbs[0].add(b"k%d" % i, b"v" * 100)
    return srv, p


def _protocol(ops: list[Any], tmp_path: Path) -> list[tuple[str, str]]:
    out = []
    for op in ops:
        name = os.path.basename(op.path) if op.kind != "fsync_dir" else op.path
        if op.kind == "rename":
            name += " -> " + os.path.basename(str(op.arg))
        if not out or out[-1] != (op.kind, name):
            out.append((op.kind, name))  # consecutive writes collapse into one
    return out


@pytest.mark.parametrize("how", ["SAVE", "BGSAVE"])
def test_durable_write_sequence(tmp_path: Path, how: str) -> None:
    """temp file -> writes -> fsync(temp) -> rename over dump.rdb -> fsync(dir)."""
    import asyncio

    from ember.persistence import fs as fsmod

    srv, p = _in_process(tmp_path)
    rec = fsmod.RecordingFS()
    old = fsmod.set_fs(rec)
    try:
        if how == "SAVE":
            assert p.save_sync()
        else:

            async def run() -> None:
                srv.loop = asyncio.get_running_loop()
                assert p.bgsave() is None
                for _ in range(1000):
                    if p.bg is None:
                        break
                    await asyncio.sleep(0.01)
                assert p.bg is None

            asyncio.run(run())
            assert p.last_bgsave_status == "ok"
    finally:
        fsmod.set_fs(old)
    tmp = f"temp-{os.getpid()}.rdb"
    assert _protocol(rec.ops, tmp_path) == [
        ("open", tmp),
        ("write", tmp),
        ("fsync", tmp),
        ("rename", f"{tmp} -> dump.rdb"),
        ("fsync_dir", str(tmp_path)),
    ]
    assert len(load_rdb((tmp_path / "dump.rdb").read_bytes()).dbs[0]) == 2000
    assert not list(tmp_path.glob("temp-*"))


def _rdb_with_bad_backlen() -> bytes:
    data = bytearray(
        save_rdb_bytes({0: {b"h": ({b"f1": b"v1", b"f2": b"v2"}, None)}}, RdbWriteOptions())
    )
    i = data.index(b"\x82f1\x03")
    data[i + 3] = 0x04  # the back-length of entry "f1": only a deep check looks at it
    data[-8:] = struct.pack("<Q", crc64(bytes(data[:-8])))
    return bytes(data)


@pytest.mark.parametrize("sanitize", ["no", "yes"])
def test_sanitize_dump_payload_applies_to_loading_like_redis(
    ember_factory: Factory, redis_factory: Factory, sanitize: str
) -> None:
    data = _rdb_with_bad_backlen()
    for factory in (ember_factory, redis_factory):
        s = start(factory, "--sanitize-dump-payload", sanitize, start=False)
        (s.dir / "dump.rdb").write_bytes(data)
        s.start(wait=False)
        assert s.proc is not None
        if sanitize == "yes":
            assert s.proc.wait(30) != 0, (s.kind, s.log_text())
        else:
            s.wait_ready()  # loaded without the deep check
            with Raw(s.port) as r:
                assert r("DBSIZE") == 1
                if s.kind == "ember":  # (redis-server asserts when it walks this listpack)
                    assert sorted(r("HGETALL", "h")) == [b"f1", b"f2", b"v1", b"v2"]
