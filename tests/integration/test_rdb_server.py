"""RDB persistence in the running server: SAVE, BGSAVE, save points, SHUTDOWN, FLUSHALL,
DEBUG RELOAD/OBJECT/POPULATE, loading at start, and point-in-time background saves.

Behaviour is compared with a real redis-server 7.0.15 wherever both can run the same
scenario (``redis_factory``). Files written by ember are read back with ember's own codec
(``load_rdb``) and compared with the dataset read over the protocol (``DUMP``), so these
tests do not depend on which type commands exist yet. The interop files
(``tests/interop``) cover redis-server loading ember's files and the reverse.
"""

from __future__ import annotations

import random
import signal
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import Diff
from tests.helpers.servers import ServerProcess
from tests.helpers.snapshots import StepWalker
from tests.interop import (
    Raw,
    RespError,
    dump_dataset,
    info,
    outcome,
    server_pid,
    wait_bgsave_done,
    wait_until,
)

from ember.keyspace.types import ZSet
from ember.persistence.rdb import load_rdb
from ember.persistence.rdb.crc64 import crc64
from ember.persistence.rdb.dump import dump_payload
from ember.persistence.rdb.writer import RdbWriteOptions, save_rdb_bytes

Factory = Callable[..., ServerProcess]


def start(factory: Factory, *args: str, **kw: Any) -> ServerProcess:
    return factory("--enable-debug-command", "yes", *args, **kw)


def file_dbs(path: Path) -> dict[int, dict[bytes, tuple[Any, int | None]]]:
    return {db: keys for db, keys in load_rdb(path.read_bytes()).dbs.items() if keys}


def temp_files(d: Path) -> list[str]:
    return sorted(p.name for p in d.glob("temp-*"))


def has_command(r: Raw, name: str) -> bool:
    reply = r("COMMAND", "INFO", name)
    return bool(reply) and reply[0] is not None


def persistence(r: Raw) -> dict[str, str]:
    return info(r, "persistence")


def wait_saves(r: Raw, n: int, timeout: float = 10.0) -> dict[str, str]:
    """Wait until ``rdb_saves`` reached n and no background save runs any more."""

    def done() -> dict[str, str] | None:
        p = persistence(r)
        return p if int(p["rdb_saves"]) >= n and p["rdb_bgsave_in_progress"] == "0" else None

    return wait_until(done, timeout, what=f"save #{n}")  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- SAVE / LASTSAVE


def test_save_writes_the_dataset_and_resets_dirty(ember_factory: Factory) -> None:
    s = start(ember_factory)
    with Raw(s.port) as r:
        r("SET", "a", "1")
        r("RPUSH", "l", "x", "y")
        r("SET", "t", "v", "PX", 100_000)
        r("SELECT", 3)
        r("SET", "in3", "x")
        r("SELECT", 0)
        assert persistence(r)["rdb_changes_since_last_save"] == "5"  # RPUSH counts 2, as in Redis
        assert r("SAVE") == b"OK"
        p = persistence(r)
        assert p["rdb_changes_since_last_save"] == "0"
        assert p["rdb_saves"] == "1"
        assert p["rdb_last_bgsave_status"] == "ok"
        assert int(p["rdb_last_save_time"]) == r("LASTSAVE")
    assert file_dbs(s.dir / "dump.rdb") == dump_dataset(s.port)
    assert temp_files(s.dir) == []
    assert "DB saved on disk" in s.log_text()


def test_save_and_lastsave_errors_match_redis(diff: Diff) -> None:
    diff("SAVE", "x")
    diff("LASTSAVE", "x")
    diff("BGSAVE", "x")
    diff("BGSAVE", "SCHEDULE", "x")


def test_lastsave_changes_with_every_save(ember_factory: Factory) -> None:
    s = start(ember_factory)
    with Raw(s.port) as r:
        t0 = r("LASTSAVE")
        assert abs(t0 - time.time()) < 30  # the start time when nothing was saved yet
        wait_until(lambda: int(time.time()) > t0, 3, what="the next second")
        assert r("SAVE") == b"OK"
        t1 = r("LASTSAVE")
        assert t1 > t0
        wait_until(lambda: int(time.time()) > t1, 3, what="the next second")
        assert r("BGSAVE") == b"Background saving started"
        wait_bgsave_done(r)
        assert r("LASTSAVE") > t1


# --------------------------------------------------------------------------------- BGSAVE


def _slow_bgsave_scenario(s: ServerProcess) -> list[Any]:
    """Replies of a scenario around a slow BGSAVE (100 keys x 10 ms)."""
    out: list[Any] = []
    with Raw(s.port) as r:
        r("DEBUG", "POPULATE", 100)
        r("CONFIG", "SET", "rdb-key-save-delay", 10_000)
        out.append(outcome(r.any("BGSAVE")))
        p = persistence(r)
        out.append(p["rdb_bgsave_in_progress"])
        out.append(p["current_save_keys_total"])
        out.append(outcome(r.any("BGSAVE")))
        out.append(outcome(r.any("BGSAVE", "SCHEDULE")))
        out.append(outcome(r.any("SAVE")))
        out.append(outcome(r.any("DEBUG", "RELOAD")))
        out.append(outcome(r.any("SET", "during", "save")))
        r("CONFIG", "SET", "rdb-key-save-delay", 0)
        p = wait_bgsave_done(r)
        out.append(p["rdb_last_bgsave_status"])
        out.append(p["rdb_saves"])
    return out


def test_bgsave_while_a_save_runs_matches_redis(
    ember_factory: Factory, redis_factory: Factory
) -> None:
    e = start(ember_factory)
    rd = start(redis_factory)
    got = _slow_bgsave_scenario(e)
    want = _slow_bgsave_scenario(rd)
    assert got == want
    assert got[0] == ("ok", b"Background saving started")
    assert got[3] == ("err", "ERR Background save already in progress")
    # the file has the 100 keys of the start, not the key written during the save
    assert set(file_dbs(e.dir / "dump.rdb")[0]) == {b"key:%d" % i for i in range(100)}
    assert temp_files(e.dir) == []


def test_bgsave_writes_temp_file_then_renames(ember_factory: Factory) -> None:
    s = start(ember_factory, "--rdb-key-save-delay", "5000")
    with Raw(s.port) as r:
        r("SET", "old", "1")
        r("SAVE")
        before = (s.dir / "dump.rdb").read_bytes()
        r("DEBUG", "POPULATE", 100)
        assert r("BGSAVE") == b"Background saving started"
        pid = server_pid(r)
        wait_until(lambda: (s.dir / f"temp-{pid}.rdb").exists(), 5, what="the temp file")
        # while the save runs the previous file is untouched
        assert (s.dir / "dump.rdb").read_bytes() == before
        p = persistence(r)
        assert p["rdb_bgsave_in_progress"] == "1"
        assert int(p["rdb_current_bgsave_time_sec"]) >= 0
        assert p["current_save_keys_total"] == "101"
        p = wait_bgsave_done(r)
        assert p["rdb_last_bgsave_status"] == "ok"
        assert p["rdb_current_bgsave_time_sec"] == "-1"
        assert int(p["rdb_last_bgsave_time_sec"]) >= 0
    assert temp_files(s.dir) == []
    assert len(file_dbs(s.dir / "dump.rdb")[0]) == 101
    log = s.log_text()
    assert "Background saving started" in log
    assert "Background saving terminated with success" in log


def test_bgsave_in_multi_is_scheduled_like_redis(
    ember_factory: Factory, redis_factory: Factory
) -> None:
    for s in (start(ember_factory), start(redis_factory)):
        with Raw(s.port) as r:
            r("SET", "k", "v")
            assert r.pipeline([("MULTI",), ("BGSAVE",), ("EXEC",)]) == [
                b"OK",
                b"QUEUED",
                [b"Background saving scheduled"],
            ]
            assert wait_saves(r, 1)["rdb_last_bgsave_status"] == "ok"
        assert (s.dir / "dump.rdb").exists()


# ----------------------------------------------------------------------------- save points


def test_save_point_triggers_background_save(ember_factory: Factory) -> None:
    s = start(ember_factory, "--save", "1 1")
    with Raw(s.port) as r:
        t0 = r("LASTSAVE")
        r("SET", "a", "1")
        wait_saves(r, 1)
        assert "1 changes in 1 seconds. Saving..." in s.log_text()
        assert r("LASTSAVE") > t0
        assert file_dbs(s.dir / "dump.rdb") == {0: {b"a": (b"1", None)}}
        p = persistence(r)
        assert p["rdb_changes_since_last_save"] == "0"
        assert p["rdb_last_bgsave_status"] == "ok"
        # save "" disables save points
        assert r("CONFIG", "SET", "save", "") == b"OK"
        assert r("CONFIG", "GET", "save") == [b"save", b""]
        r("SET", "b", "2")
        time.sleep(1.6)
        p = persistence(r)
        assert p["rdb_saves"] == "1"
        assert p["rdb_changes_since_last_save"] == "1"
        # and CONFIG SET save brings them back
        assert r("CONFIG", "SET", "save", "1 1") == b"OK"
        wait_saves(r, 2)
        assert file_dbs(s.dir / "dump.rdb") == {0: {b"a": (b"1", None), b"b": (b"2", None)}}


def test_save_point_needs_enough_changes(ember_factory: Factory) -> None:
    s = start(ember_factory, "--save", "1 3")
    with Raw(s.port) as r:
        r("SET", "a", "1")
        r("SET", "b", "1")
        time.sleep(1.5)
        assert persistence(r)["rdb_saves"] == "0"
        r("SET", "c", "1")
        wait_saves(r, 1)
    assert "3 changes in 1 seconds. Saving..." in s.log_text()


def test_config_save_values_match_redis(diff: Diff) -> None:
    try:
        for v in [
            "100 10 50 5",
            "",
            "1 1",
            "a b",
            "1",
            "1 2 3",
            "-1 5",
            "3600 1 300 100 60 10000",
            "0 0",
        ]:
            diff("CONFIG", "SET", "save", v)
            diff("CONFIG", "GET", "save")
    finally:
        diff("CONFIG", "SET", "save", "")


def test_persistence_config_options_match_redis(diff: Diff) -> None:
    for name in [
        "dbfilename",
        "rdbcompression",
        "rdbchecksum",
        "stop-writes-on-bgsave-error",
        "rdb-del-sync-files",
        "rdb-key-save-delay",
        "sanitize-dump-payload",
        "rdb-save-incremental-fsync",
    ]:
        diff("CONFIG", "GET", name)
    for name, values in [
        ("rdbcompression", ["no", "yes", "maybe"]),
        ("rdbchecksum", ["no", "yes", "1"]),
        ("stop-writes-on-bgsave-error", ["no", "yes", ""]),
        ("rdb-del-sync-files", ["yes", "no", "x"]),
        ("rdb-key-save-delay", ["10", "abc", "0"]),
        ("sanitize-dump-payload", ["yes", "clients", "bogus", "no"]),
    ]:
        for v in values:
            diff("CONFIG", "SET", name, v)
            diff("CONFIG", "GET", name)
    # protected configs: refused at runtime unless enable-protected-configs
    diff("CONFIG", "SET", "dir", "/tmp")
    diff("CONFIG", "SET", "dbfilename", "other.rdb")


def test_dbfilename_and_dir_when_protected_configs_are_enabled(
    ember_factory: Factory, redis_factory: Factory, tmp_path: Path
) -> None:
    e = start(ember_factory, "--enable-protected-configs", "yes")
    rd = start(redis_factory, "--enable-protected-configs", "yes")
    with Raw(e.port) as a, Raw(rd.port) as b:
        for cmd in [
            ("CONFIG", "SET", "dbfilename", "foo/bar.rdb"),
            ("CONFIG", "SET", "dir", str(tmp_path / "does-not-exist")),
            ("CONFIG", "GET", "dbfilename"),
            ("CONFIG", "SET", "dbfilename", "other.rdb"),
            ("CONFIG", "GET", "dbfilename"),
        ]:
            assert outcome(a.any(*cmd)) == outcome(b.any(*cmd)), cmd
        for s, r in ((e, a), (rd, b)):
            r("SET", "k", "v")
            assert r("SAVE") == b"OK"
            assert (s.dir / "other.rdb").exists() and not (s.dir / "dump.rdb").exists()
            sub = tmp_path / f"{s.kind}-sub"
            sub.mkdir()
            assert r("CONFIG", "SET", "dir", str(sub)) == b"OK"
            assert r("CONFIG", "GET", "dir") == [b"dir", str(sub).encode()]
            assert r("SAVE") == b"OK"
            assert (sub / "other.rdb").exists()
    assert file_dbs(tmp_path / "ember-sub" / "other.rdb") == {0: {b"k": (b"v", None)}}


# --------------------------------------------------------------------- compression / checksum


def test_rdbcompression_and_rdbchecksum(ember_factory: Factory) -> None:
    s = start(ember_factory)
    path = s.dir / "dump.rdb"
    with Raw(s.port) as r:
        r("SET", "big", "a" * 2000)
        r("RPUSH", "l", *(["b" * 50] * 40))
        r("SAVE")
        compressed = path.read_bytes()
        assert b"a" * 2000 not in compressed
        assert compressed[-8:] == crc64(compressed[:-8]).to_bytes(8, "little")
        r("CONFIG", "SET", "rdbcompression", "no")
        r("SAVE")
        plain = path.read_bytes()
        assert b"a" * 2000 in plain
        assert len(plain) > len(compressed) + 1500
        # rdbchecksum is immutable (as in Redis): only at start
        assert outcome(r.any("CONFIG", "SET", "rdbchecksum", "no"))[0] == "err"
    s2 = start(ember_factory, "--rdbchecksum", "no")
    with Raw(s2.port) as r:
        r("SET", "big", "a" * 2000)
        r("RPUSH", "l", *(["b" * 50] * 40))
        r("SAVE")
    nocrc = (s2.dir / "dump.rdb").read_bytes()
    assert nocrc[-8:] == b"\0" * 8
    f = load_rdb(nocrc)
    assert f.checksum == 0 and not f.checksum_verified
    assert load_rdb(compressed).dbs == load_rdb(plain).dbs == f.dbs


# ---------------------------------------------------------------------------------- SHUTDOWN


@pytest.mark.parametrize(
    "save,how,saved",
    [
        ("3600 1", "SHUTDOWN", True),
        ("3600 1", "SHUTDOWN NOSAVE", False),
        ("", "SHUTDOWN", False),
        ("", "SHUTDOWN SAVE", True),
        ("", "SHUTDOWN NOW SAVE FORCE", True),
        ("3600 1", "SIGTERM", True),
        ("", "SIGTERM", False),
        ("3600 1", "SIGINT", True),
    ],
)
def test_shutdown_saves_like_redis(
    ember_factory: Factory, redis_factory: Factory, save: str, how: str, saved: bool
) -> None:
    for factory in (ember_factory, redis_factory):
        s = start(factory, "--save", save)
        with Raw(s.port) as r:
            r("SET", "k", "v")
            r("SELECT", 2)
            r("RPUSH", "l", "a", "b")
            if how.startswith("SIG"):
                assert s.proc is not None
                s.proc.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGINT)
            else:
                r.send(*how.split())
                with pytest.raises((ConnectionError, OSError)):
                    r.read()  # no reply: the server exits
        assert s.proc is not None
        assert s.proc.wait(20) == 0, s.log_text()
        assert (s.dir / "dump.rdb").exists() == saved, (s.kind, s.log_text())
        if saved:
            assert file_dbs(s.dir / "dump.rdb") == {
                0: {b"k": (b"v", None)},
                2: {b"l": (deque([b"a", b"b"]), None)},
            }
            assert "Saving the final RDB snapshot before exiting." in s.log_text()


def test_shutdown_failing_save_keeps_running_like_redis(
    ember_factory: Factory, redis_factory: Factory
) -> None:
    for factory in (ember_factory, redis_factory):
        s = start(factory, "--save", "3600 1")
        with Raw(s.port) as r:
            r("SET", "k", "v")
            # a directory where the temp file goes makes the final save fail
            (s.dir / f"temp-{server_pid(r)}.rdb").mkdir()
            assert outcome(r.any("SHUTDOWN")) == (
                "err",
                "ERR Errors trying to SHUTDOWN. Check logs.",
            )
            assert r("PING") == b"PONG"
            assert r("SET", "k2", "v") == b"OK"  # a failed SAVE is not a MISCONF
            assert outcome(r.any("SHUTDOWN", "NOSAVE", "ABORT")) == ("err", "ERR syntax error")
            assert outcome(r.any("SHUTDOWN", "SAVE", "NOSAVE")) == ("err", "ERR syntax error")
            assert outcome(r.any("SHUTDOWN", "BOGUS")) == ("err", "ERR syntax error")
            assert outcome(r.any("SHUTDOWN", "ABORT")) == ("err", "ERR No shutdown in progress.")
            assert persistence(r)["rdb_last_bgsave_status"] == "ok"
            r.send("SHUTDOWN", "FORCE")
            with pytest.raises((ConnectionError, OSError)):
                r.read()
        assert s.proc is not None and s.proc.wait(20) == 0
        assert not (s.dir / "dump.rdb").exists()
        assert "Error trying to save the DB" in s.log_text()


# ---------------------------------------------------------------------------------- FLUSHALL


def test_flushall_with_save_points_saves_empty_dataset_like_redis(
    ember_factory: Factory, redis_factory: Factory
) -> None:
    results = []
    for factory in (ember_factory, redis_factory):
        s = start(factory, "--save", "3600 1")
        with Raw(s.port) as r:
            r("MSET", "a", "1", "b", "2", "c", "3")
            assert r("FLUSHALL") == b"OK"
            p = persistence(r)
            results.append(
                (p["rdb_changes_since_last_save"], p["rdb_saves"], p["rdb_last_bgsave_status"])
            )
        assert file_dbs(s.dir / "dump.rdb") == {}
    assert results[0] == results[1] == ("0", "0", "ok")  # FLUSHALL's save is not counted


def test_flushall_without_save_points_like_redis(
    ember_factory: Factory, redis_factory: Factory
) -> None:
    results = []
    for factory in (ember_factory, redis_factory):
        s = start(factory)
        with Raw(s.port) as r:
            r("MSET", "a", "1", "b", "2", "c", "3")
            r("FLUSHALL")
            r("FLUSHALL")
            p = persistence(r)
            results.append((p["rdb_changes_since_last_save"], p["rdb_saves"]))
        assert not (s.dir / "dump.rdb").exists()
    assert results[0] == results[1]


@pytest.mark.parametrize("engine", ["forkless", "fork"])
def test_flushall_kills_a_running_bgsave(ember_factory: Factory, engine: str) -> None:
    s = start(ember_factory, "--bgsave-engine", engine, "--rdb-key-save-delay", "20000")
    with Raw(s.port) as r:
        r("SET", "old", "1")
        r("SAVE")
        before = (s.dir / "dump.rdb").read_bytes()
        r("DEBUG", "POPULATE", 200)
        assert r("BGSAVE") == b"Background saving started"
        assert r("FLUSHALL") == b"OK"
        p = persistence(r)
        assert p["rdb_bgsave_in_progress"] == "0"
        # a killed save is not a failed save: no MISCONF, next BGSAVE works
        assert p["rdb_last_bgsave_status"] == "ok"
        wait_until(lambda: temp_files(s.dir) == [], 5, what="the temp file to go")
        assert (s.dir / "dump.rdb").read_bytes() == before  # no save points: untouched
        assert r("SET", "after", "1") == b"OK"
        r("CONFIG", "SET", "rdb-key-save-delay", 0)
        assert r("BGSAVE") == b"Background saving started"
        assert wait_bgsave_done(r)["rdb_last_bgsave_status"] == "ok"
    assert file_dbs(s.dir / "dump.rdb") == {0: {b"after": (b"1", None)}}
    assert temp_files(s.dir) == []


# ------------------------------------------------------------------------------ DEBUG RELOAD


def _reload_scenario(s: ServerProcess) -> list[Any]:
    out: list[Any] = []
    with Raw(s.port) as r:
        r("SET", "a", "1")
        r("SET", "t", "x", "PXAT", 4102444800000)
        r("RPUSH", "l", "1", "2", "3")
        r("SELECT", 5)
        r("SET", "five", "5")
        r("SELECT", 0)
        d0 = r("DEBUG", "DIGEST")
        out.append(outcome(r.any("DEBUG", "RELOAD")))
        out.append(r("DEBUG", "DIGEST") == d0)
        out.append(r("PEXPIRETIME", "t"))
        r("SET", "lost", "1")  # not in the file: NOSAVE reload drops it
        out.append(outcome(r.any("DEBUG", "RELOAD", "NOSAVE")))
        out.append(r("EXISTS", "lost"))
        out.append(r("DEBUG", "DIGEST") == d0)
        r("SET", "extra", "1")
        out.append(outcome(r.any("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE")))
        out.append(r("GET", "extra"))
        out.append(outcome(r.any("DEBUG", "RELOAD", "BOGUS")))
        out.append(r("DBSIZE"))
    return out


def test_debug_reload_like_redis(ember_factory: Factory, redis_factory: Factory) -> None:
    got = _reload_scenario(start(ember_factory))
    want = _reload_scenario(start(redis_factory))
    assert got == want
    assert got[0] == ("ok", b"OK") and got[1] is True


# ------------------------------------------------------------------------ DEBUG OBJECT / POPULATE


def test_debug_object_encodings_match_redis(diff: Diff, r: Any, rr: Any) -> None:
    for c in (r, rr):
        c.set("int", "12345")
        c.set("emb", "hello")
        c.set("raw", "x" * 100)
        c.set("lzf", "a" * 500)
        c.rpush("list", "a", "b", "c")
    for key in ["int", "emb", "raw", "lzf", "list"]:
        got = r.execute_command("DEBUG", "OBJECT", key).decode()
        want = rr.execute_command("DEBUG", "OBJECT", key).decode()
        g = dict(x.split(":", 1) for x in got.split() if ":" in x)
        w = dict(x.split(":", 1) for x in want.split() if ":" in x)
        assert g["encoding"] == w["encoding"], key
        assert set(w) <= set(g) | {"lru", "lru_seconds_idle"}, (key, got, want)
        if key != "list":
            assert g["serializedlength"] == w["serializedlength"], key
    diff("DEBUG", "OBJECT", "missing")
    diff("DEBUG", "OBJECT")
    diff("DEBUG", "OBJECT", "int", "extra")


def test_debug_populate_matches_redis(diff: Diff) -> None:
    diff("DEBUG", "POPULATE", 50)
    diff("DEBUG", "POPULATE", 20, "p")
    diff("DEBUG", "POPULATE", 20, "s", 3)
    diff("DEBUG", "POPULATE", 20, "z", 20)
    diff("DEBUG", "POPULATE", 5, "zero", 0)
    diff("SET", "key:3", "mine")
    diff("DEBUG", "POPULATE", 10)  # existing keys are kept
    diff("DBSIZE")
    diff("GET", "key:3")
    diff("GET", "z:7")
    diff("DEBUG", "DIGEST")
    diff("DEBUG", "POPULATE", -1)
    diff("DEBUG", "POPULATE", "abc")
    diff("DEBUG", "POPULATE", 1, "p", -1)
    diff("DEBUG", "POPULATE")
    diff("DEBUG", "POPULATE", 1, "a", 1, 2)
    diff("DEBUG", "DIGEST")


# ----------------------------------------------------------------------------- load at start


def _write_rdb(
    path: Path, dbs: dict[int, dict[bytes, tuple[Any, int | None]]], **opts: Any
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(save_rdb_bytes(dbs, RdbWriteOptions(**opts)))


def test_load_at_start_counts_loaded_and_expired_like_redis(
    ember_factory: Factory, redis_factory: Factory, tmp_path: Path
) -> None:
    now = int(time.time() * 1000)
    dbs: dict[int, dict[bytes, tuple[Any, int | None]]] = {
        0: {
            b"s": (b"v", None),
            b"n": (b"12345", None),
            b"future": (b"f", now + 3_600_000),
            b"gone1": (b"x", now - 10_000),
            b"gone2": (deque([b"a"]), 1000),
            b"l": (deque([b"a", b"b"]), None),
        },
        4: {b"four": (b"4", None), b"gone3": (b"x", now - 1)},
    }
    results = []
    for kind, factory in (("ember", ember_factory), ("redis", redis_factory)):
        _write_rdb(tmp_path / kind / "dump.rdb", dbs)
        s = start(factory, sub=kind)
        with Raw(s.port) as r:
            p = persistence(r)
            results.append(
                (p["rdb_last_load_keys_loaded"], p["rdb_last_load_keys_expired"], r("DBSIZE"))
            )
            r("SELECT", 4)
            assert r("GET", "four") == b"4"
            assert r("EXISTS", "gone3") == 0
        if kind == "ember":
            assert file_dbs(tmp_path / kind / "dump.rdb")  # loading does not touch the file
            assert "Done loading RDB, keys loaded: 5, keys expired: 3." in s.log_text()
            d = dump_dataset(s.port)
            assert d == {
                0: {k: v for k, v in dbs[0].items() if not k.startswith(b"gone")},
                4: {b"four": (b"4", None)},
            }
    assert results[0] == results[1] == ("5", "3", 4)


def test_clients_get_loading_while_a_big_file_loads(ember_factory: Factory, tmp_path: Path) -> None:
    src = start(ember_factory, sub="src")
    with Raw(src.port) as r:
        r("DEBUG", "POPULATE", 200_000)
        r("SAVE")
    src.stop()
    s = start(ember_factory, sub="dst", start=False)
    (s.dir / "dump.rdb").write_bytes((src.dir / "dump.rdb").read_bytes())
    s.start(wait=False)
    replies: list[Any] = []
    loading_info: dict[str, str] = {}
    deadline = time.monotonic() + 60
    r = None
    while time.monotonic() < deadline:
        try:
            r = r or Raw(s.port)
        except OSError:
            time.sleep(0.005)
            continue
        reply = r.any("GET", "key:1")
        replies.append(reply)
        if isinstance(reply, RespError) and not loading_info:
            loading_info = info(r, "persistence")  # INFO is allowed while loading
        if reply == b"value:1":
            break
        time.sleep(0.002)
    assert r is not None
    errs = {str(x) for x in replies if isinstance(x, RespError)}
    assert errs == {"LOADING Redis is loading the dataset in memory"}, replies[:5]
    assert replies[-1] == b"value:1"
    assert loading_info["loading"] == "1"
    assert int(loading_info["loading_total_bytes"]) == (s.dir / "dump.rdb").stat().st_size
    assert 0 <= float(loading_info["loading_loaded_perc"]) <= 100
    assert r("DBSIZE") == 200_000
    assert r("GET", "key:199999") == b"value:199999"
    p = persistence(r)
    assert p["loading"] == "0"
    assert p["rdb_last_load_keys_loaded"] == "200000"
    r.close()


# ------------------------------------------------------------------------ point-in-time saves


def _restore_value(r: Raw, key: str, value: Any, ttl_ms: int = 0) -> None:
    assert r("RESTORE", key, ttl_ms, dump_payload(value), "REPLACE") == b"OK"


def _zset(pairs: dict[bytes, float]) -> ZSet:
    z = ZSet()
    for m, sc in pairs.items():
        z.add(m, sc)
    return z


def _fill(r: Raw) -> None:
    """A dataset over dbs 0-2 with every type (RESTOREd: no type commands needed)."""
    r.pipeline([("SET", f"s:{i}", f"value-{i}" * (1 + i % 7)) for i in range(300)])
    r.pipeline([("SET", f"ttl:{i}", "t", "PX", 600_000 + i) for i in range(20)])
    r.pipeline([("SET", f"short:{i}", "gone soon", "PX", 300) for i in range(10)])
    _restore_value(r, "list", deque(b"e%d" % i for i in range(500)))
    _restore_value(r, "hash", {b"f%d" % i: b"v%d" % i for i in range(50)})
    _restore_value(r, "bighash", {b"f%d" % i: b"v%d" % i for i in range(700)}, 900_000)
    _restore_value(r, "set", {b"%d" % i for i in range(100)})
    _restore_value(r, "sset", {b"m%d" % i for i in range(100)})
    _restore_value(r, "zset", _zset({b"a": 1.5, b"b": float("-inf"), b"c": float("inf")}))
    _restore_value(r, "bigzset", _zset({b"m%d" % i: i / 3 for i in range(300)}))
    r("SELECT", 1)
    r.pipeline([("SET", f"one:{i}", i) for i in range(50)])
    r("SELECT", 2)
    r.pipeline([("SET", f"two:{i}", i) for i in range(50)])
    r("SELECT", 0)


def _mutate(r: Raw) -> None:
    """Writes of every kind, issued while the save runs (unknown commands are skipped)."""
    cmds: list[tuple[Any, ...]] = [
        ("SET", "s:0", "changed"),
        ("SET", "s:0", "changed twice"),
        ("DEL", "s:1", "s:2"),
        ("APPEND", "s:3", "-more"),
        ("INCR", "counter"),
        ("RENAME", "s:4", "s:4-renamed"),
        ("RENAME", "s:5", "s:6"),  # overwrites another key of the snapshot
        ("SET", "s:7", "recreated"),
        ("DEL", "s:7"),
        ("SET", "s:7", "recreated again"),
        ("SET", "brand-new", "x"),
        ("PEXPIRE", "s:8", 1),  # expires during the save
        ("PERSIST", "ttl:0"),
        ("PEXPIRE", "ttl:1", 5_000_000),
        ("SETRANGE", "s:9", 0, "XYZ"),
        ("GETDEL", "s:10"),
        ("MOVE", "s:11", 1),
        ("COPY", "s:12", "s:12-copy"),
        ("COPY", "s:13", "s:14", "REPLACE"),
        ("RESTORE", "s:15", 0, dump_payload(b"restored"), "REPLACE"),
        ("UNLINK", "s:16"),
        ("SETEX", "s:17", 100, "with ttl now"),
        ("RPUSH", "list", "tail"),
        ("LPOP", "list"),
        ("LSET", "list", 5, "changed"),
        ("LTRIM", "list", 0, 99),
        ("HSET", "hash", "f1", "changed", "new", "field"),
        ("HDEL", "hash", "f2"),
        ("HINCRBY", "bighash", "counter", 5),
        ("SADD", "set", "1000"),
        ("SREM", "set", "1", "2"),
        ("SPOP", "sset"),
        ("ZADD", "zset", 7, "a"),
        ("ZREM", "bigzset", "m1"),
        ("ZINCRBY", "bigzset", 100, "m2"),
        ("DEL", "hash"),
        ("HSET", "hash", "only", "this"),
        ("SELECT", 1),
        ("SET", "one:0", "changed in db1"),
        ("DEL", "one:1"),
        ("SWAPDB", 1, 3),  # db1's keys now live in db3 (db3 was empty)
        ("SELECT", 3),
        ("SET", "one:2", "changed after swap"),
        ("DEL", "one:3"),
        ("SELECT", 2),
        ("FLUSHDB",),
        ("SET", "two:0", "after flush"),
        ("SWAPDB", 0, 2),
        ("SELECT", 2),  # the original db0 dict
        ("SET", "s:20", "changed after swapping db0 away"),
        ("DEL", "s:21"),
        ("SELECT", 0),
        ("SET", "s:22", "this is the old db2 now"),
    ]
    known: dict[str, bool] = {}
    for cmd in cmds:
        name = str(cmd[0]).lower()
        if name not in known:
            known[name] = has_command(r, name)
        if known[name]:
            reply = r.any(*cmd)
            assert not isinstance(reply, RespError) or "WRONGTYPE" in str(reply), (cmd, reply)


@pytest.mark.parametrize("engine", ["forkless", "fork"])
def test_bgsave_is_a_point_in_time_snapshot(ember_factory: Factory, engine: str) -> None:
    s = start(ember_factory, "--bgsave-engine", engine, "--rdb-key-save-delay", "2000")
    with Raw(s.port) as r, Raw(s.port) as w:
        _fill(r)
        expected = dump_dataset(s.port)
        assert r("BGSAVE") == b"Background saving started"
        _mutate(w)
        # the writes really happened during the save
        assert persistence(r)["rdb_bgsave_in_progress"] == "1"
        if engine == "forkless":
            assert int(persistence(r)["current_cow_size"]) > 0
        p = wait_bgsave_done(r)
        assert p["rdb_last_bgsave_status"] == "ok"
        after = dump_dataset(s.port)
    assert after != expected
    got = file_dbs(s.dir / "dump.rdb")
    assert got.keys() == expected.keys()
    for db in expected:
        assert got[db].keys() == expected[db].keys(), db
        for k in expected[db]:
            assert got[db][k] == expected[db][k], (db, k)
    assert temp_files(s.dir) == []


# ---------------------------------------------- in-process: walker slices interleaved with writes


def _in_process_server() -> Any:
    from ember.commands.registry import load_all
    from ember.config import Config
    from ember.server.client import Client
    from ember.server.server import Server

    load_all()
    srv = Server(Config())
    return srv, Client(srv)


def _capture(srv: Any) -> dict[int, dict[bytes, tuple[Any, int | None]]]:
    from ember.keyspace.types import copy_value

    out = {}
    for db in srv.dbs:
        if db.data:
            out[db.id] = {k: (copy_value(v), db.expires.get(k)) for k, v in db.data.items()}
    return out


KEYS = [b"k%d" % i for i in range(12)]
_write_cmd = st.one_of(
    st.tuples(st.just(b"SET"), st.sampled_from(KEYS), st.binary(max_size=8)),
    st.tuples(st.just(b"DEL"), st.sampled_from(KEYS)),
    st.tuples(st.just(b"APPEND"), st.sampled_from(KEYS), st.binary(min_size=1, max_size=4)),
    st.tuples(st.just(b"INCR"), st.sampled_from(KEYS)),
    st.tuples(st.just(b"RENAME"), st.sampled_from(KEYS), st.sampled_from(KEYS)),
    st.tuples(st.just(b"PEXPIRE"), st.sampled_from(KEYS), st.sampled_from([b"1", b"100000"])),
    st.tuples(st.just(b"PERSIST"), st.sampled_from(KEYS)),
    st.tuples(st.just(b"RPUSH"), st.sampled_from(KEYS), st.binary(max_size=4)),
    st.tuples(st.just(b"LPOP"), st.sampled_from(KEYS)),
    st.tuples(
        st.just(b"HSET"),
        st.sampled_from(KEYS),
        st.sampled_from([b"f", b"g"]),
        st.binary(max_size=4),
    ),
    st.tuples(st.just(b"HDEL"), st.sampled_from(KEYS), st.sampled_from([b"f", b"g"])),
    st.tuples(st.just(b"SADD"), st.sampled_from(KEYS), st.sampled_from([b"1", b"x", b"y"])),
    st.tuples(st.just(b"SREM"), st.sampled_from(KEYS), st.sampled_from([b"1", b"x"])),
    st.tuples(
        st.just(b"ZADD"),
        st.sampled_from(KEYS),
        st.sampled_from([b"1", b"-inf", b"2.5"]),
        st.sampled_from([b"a", b"b"]),
    ),
    st.tuples(st.just(b"ZREM"), st.sampled_from(KEYS), st.sampled_from([b"a", b"b"])),
    st.tuples(
        st.just(b"XADD"), st.sampled_from(KEYS), st.just(b"*"), st.just(b"f"), st.binary(max_size=3)
    ),
    st.tuples(st.just(b"MOVE"), st.sampled_from(KEYS), st.sampled_from([b"0", b"1", b"2"])),
    st.tuples(st.just(b"COPY"), st.sampled_from(KEYS), st.sampled_from(KEYS), st.just(b"REPLACE")),
    st.tuples(st.just(b"SELECT"), st.sampled_from([b"0", b"1", b"2"])),
    st.tuples(
        st.just(b"SWAPDB"), st.sampled_from([b"0", b"1", b"2"]), st.sampled_from([b"0", b"1", b"2"])
    ),
    st.tuples(st.just(b"FLUSHDB")),
    st.tuples(st.just(b"FLUSHALL")),
    st.tuples(st.just(b"EXPIRE-TIME-PASSES")),
)
# writes first: hypothesis leans toward the first alternative of one_of
_step = st.one_of(
    st.tuples(st.just("write"), _write_cmd), st.tuples(st.just("walk"), st.integers(1, 6))
)
# the dataset at the start: commands that create keys (a mix of every type)
_create_cmd = st.one_of(
    st.tuples(st.just(b"SET"), st.sampled_from(KEYS), st.binary(max_size=8)),
    st.tuples(st.just(b"RPUSH"), st.sampled_from(KEYS), st.binary(max_size=4)),
    st.tuples(st.just(b"HSET"), st.sampled_from(KEYS), st.just(b"f"), st.binary(max_size=4)),
    st.tuples(st.just(b"SADD"), st.sampled_from(KEYS), st.sampled_from([b"1", b"x"])),
    st.tuples(st.just(b"ZADD"), st.sampled_from(KEYS), st.just(b"1"), st.just(b"a")),
    st.tuples(st.just(b"XADD"), st.sampled_from(KEYS), st.just(b"*"), st.just(b"f"), st.just(b"v")),
    st.tuples(st.just(b"PEXPIRE"), st.sampled_from(KEYS), st.sampled_from([b"1", b"100000"])),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    # enough keys at the start and enough steps that writes often land ahead of the
    # walker (the held-record path), not only behind it
    initial=st.lists(st.tuples(st.sampled_from([0, 1, 2]), _create_cmd), min_size=10, max_size=40),
    steps=st.lists(_step, min_size=8, max_size=60),
    sliced=st.booleans(),
)
def test_forkless_walker_interleaved_with_writes(
    initial: list[Any], steps: list[Any], sliced: bool
) -> None:
    """Random writes between walker slices: the file is exactly the dataset at start().
    ``sliced``: 1-key batches and slices that always run out of time, so the held
    records at the end of each db are also written in slices between writes."""
    from ember.persistence.bgsave.cow import ForklessSnapshot
    from ember.persistence.rdbfile import RdbEncoder, write_options
    from ember.persistence.sinks import MemorySink

    srv, c = _in_process_server()

    def run(cmd: tuple[bytes, ...]) -> None:
        if cmd[0] == b"EXPIRE-TIME-PASSES":
            srv._now_ms += 10_000  # keys with a short TTL become expired
            for db in srv.dbs:
                db.active_expire(3, srv._now_ms)  # some are deleted by the active cycle
            return
        c.execute(list(cmd))
        c.out.clear()
        srv.prop_ops.clear()

    srv.update_time()
    for dbid, cmd in initial:
        c.execute([b"SELECT", b"%d" % dbid])
        run(cmd)
    c.execute([b"SELECT", b"0"])
    c.out.clear()
    expected = _capture(srv)
    sink = MemorySink()
    snap = ForklessSnapshot(srv, RdbEncoder(sink, write_options(srv), []))
    if sliced:
        snap.BATCH = 1
    snap.start()
    walker = StepWalker(snap, sliced=sliced)
    for kind, arg in steps:
        if kind == "walk":
            walker.walk(arg)
        else:
            run(arg)
    walker.finish()
    snap.uninstall()
    assert srv.before_write is None
    got = {db: keys for db, keys in load_rdb(sink.getvalue()).dbs.items() if keys}
    assert got == expected


def test_snapshot_hook_preserves_old_values_once(ember_factory: Factory) -> None:
    """COW accounting: only keys written during the save are copied, and freed after."""
    s = start(ember_factory, "--rdb-key-save-delay", "3000")
    with Raw(s.port) as r:
        r("DEBUG", "POPULATE", 200, "k", 100)
        last = random.Random(1).randbytes(100)
        r("SET", "k:199", last)  # incompressible: the preserved copy is ~100 bytes
        assert r("BGSAVE") == b"Background saving started"
        for _ in range(5):
            r("SET", "k:199", "x" * 10)  # the walker reaches it last
        cow = int(persistence(r)["current_cow_size"])
        assert 100 < cow < 1000  # one copy of one ~100-byte value
        p = wait_bgsave_done(r)
        assert p["rdb_last_bgsave_status"] == "ok"
        assert p["current_cow_size"] == "0"
        assert int(p["rdb_last_cow_size"]) >= cow
    assert file_dbs(s.dir / "dump.rdb")[0][b"k:199"][0] == last


# ------------------------------------------------------------------------- INFO persistence


def test_info_persistence_has_redis_fields_in_order(
    ember_factory: Factory, redis_factory: Factory
) -> None:
    with Raw(start(ember_factory).port) as e, Raw(start(redis_factory).port) as r:
        got = list(info(e, "persistence"))
        want = list(info(r, "persistence"))
    missing = [f for f in want if f not in got]
    assert not missing, missing
    assert [f for f in got if f in want] == want  # same relative order (extras allowed)


# ----------------------------------------------------------------- BGSAVE vs AOF rewrite


def _bgsave_during_rewrite(s: ServerProcess) -> list[Any]:
    out: list[Any] = []
    with Raw(s.port) as r:
        r("DEBUG", "POPULATE", 100)
        r("CONFIG", "SET", "rdb-key-save-delay", 10_000)  # the rewrite takes ~1 s
        out.append(outcome(r.any("BGREWRITEAOF")))
        out.append(outcome(r.any("BGSAVE")))
        out.append(outcome(r.any("BGSAVE", "SCHEDULE")))
        out.append(persistence(r)["rdb_bgsave_in_progress"])
        r("CONFIG", "SET", "rdb-key-save-delay", 0)
        # once the rewrite is over the scheduled BGSAVE runs
        wait_until(lambda: persistence(r)["aof_rewrite_in_progress"] == "0", 20, what="the rewrite")
        out.append(wait_saves(r, 1, 20)["rdb_last_bgsave_status"])
    assert (s.dir / "dump.rdb").exists()
    return out


def test_bgsave_schedule_during_aof_rewrite_like_redis(
    ember_factory: Factory, redis_factory: Factory
) -> None:
    got = _bgsave_during_rewrite(start(ember_factory))
    want = _bgsave_during_rewrite(start(redis_factory))
    assert got == want
    assert got[2] == ("ok", b"Background saving scheduled")
