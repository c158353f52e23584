"""Forkless BGSAVE: INFO metrics, latency events, memory proportional to writes, and the
file being the dataset at the start (see persistence/bgsave/cow.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import redis
from tests.helpers.servers import ServerProcess

from ember.persistence.rdb.reader import load_rdb


def _wait_saved(c: redis.Redis, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not int(c.info("persistence")["rdb_bgsave_in_progress"]):
            return
        time.sleep(0.02)
    raise AssertionError("BGSAVE did not finish")


def test_forkless_metrics_while_saving(ember_factory: Callable[..., ServerProcess]) -> None:
    s = ember_factory("--enable-debug-command", "yes", "--rdb-key-save-delay", "20")
    c = s.client()
    n = 50_000
    c.execute_command("DEBUG", "POPULATE", n)
    assert c.bgsave()
    info = c.info("persistence")
    assert info["rdb_bgsave_in_progress"] == 1
    assert info["current_save_keys_total"] == n
    assert info["rdb_bgsave_engine"] == "forkless"
    # writes to keys not saved yet preserve their old values: COW grows with writes only
    written = 0
    for i in range(n - 1, n - 2001, -1):  # the walker goes in insertion order: take the tail
        c.set(f"key:{i}", "new")
        written += 1
    info = c.info("persistence")
    assert info["rdb_bgsave_in_progress"] == 1, "save finished too early for the test"
    cow = info["current_cow_size"]
    # each preserved entry is ~ key + value + 3 bytes of RDB framing
    assert 0 < cow <= written * 40, cow
    assert 0 < info["current_save_keys_processed"] < n
    assert 0.0 < float(info["current_fork_perc"]) < 100.0
    _wait_saved(c)
    info = c.info("persistence")
    assert info["rdb_last_bgsave_status"] == "ok"
    assert info["rdb_last_cow_size"] >= cow
    assert info["current_cow_size"] == 0
    stats = c.info("stats")
    assert stats["total_forks"] >= 1
    assert stats["latest_fork_usec"] > 0
    # the file holds the values from the moment BGSAVE started
    rdb = load_rdb(open(os.path.join(s.dir, "dump.rdb"), "rb").read())
    db0 = rdb.dbs[0]
    assert len(db0) == n
    assert db0[f"key:{n - 1}".encode()][0] == f"value:{n - 1}".encode()
    assert db0[b"key:0"][0] == b"value:0"


def test_latency_events_for_snapshot(ember_factory: Callable[..., ServerProcess]) -> None:
    s = ember_factory("--enable-debug-command", "yes", "--latency-monitor-threshold", "1")
    c = s.client()
    c.execute_command("DEBUG", "POPULATE", 200_000)
    # slices aim at 0.5 ms; one that serializes (and LZF-compresses) a 16 MB value
    # runs past the 1 ms threshold and must be reported
    c.execute_command("DEBUG", "POPULATE", 1, "big", 16 << 20)
    assert c.bgsave()
    _wait_saved(c)
    latest = {row[0]: row for row in c.execute_command("LATENCY", "LATEST")}
    assert b"snapshot-slice" in latest, latest
    hist = c.execute_command("LATENCY", "HISTORY", "snapshot-slice")
    assert hist and hist[-1][1] >= 1


def test_fork_engine_reports_cow_from_smaps(ember_factory: Callable[..., ServerProcess]) -> None:
    s = ember_factory(
        "--enable-debug-command", "yes", "--bgsave-engine", "fork", "--rdb-key-save-delay", "50"
    )
    c = s.client()
    c.execute_command("DEBUG", "POPULATE", 20_000)
    assert c.bgsave()
    time.sleep(0.3)
    info = c.info("persistence")
    assert info["rdb_bgsave_in_progress"] == 1
    assert info["rdb_bgsave_engine"] == "fork"
    _wait_saved(c)
    info = c.info("persistence")
    assert info["rdb_last_bgsave_status"] == "ok"
    # the child's Private_Dirty pages, as Redis measures COW
    assert info["rdb_last_cow_size"] > 0
    rdb = load_rdb(open(os.path.join(s.dir, "dump.rdb"), "rb").read())
    assert len(rdb.dbs[0]) == 20_000


def test_fork_child_dies_with_a_killed_server(ember_factory: Callable[..., ServerProcess]) -> None:
    """kill -9 of the server during a fork-engine save: the kernel kills the child too,
    so it can never rename an older snapshot over the dump.rdb of a restarted server."""
    s = ember_factory(
        "--enable-debug-command", "yes", "--bgsave-engine", "fork", "--rdb-key-save-delay", "2000"
    )
    c = s.client()
    c.execute_command("DEBUG", "POPULATE", 100)
    assert c.save()
    path = os.path.join(s.dir, "dump.rdb")
    before = open(path, "rb").read()
    c.execute_command("DEBUG", "POPULATE", 200)
    assert c.bgsave()
    time.sleep(0.2)
    assert c.info("persistence")["rdb_bgsave_in_progress"] == 1
    assert s.proc is not None
    children = [
        int(p) for p in open(f"/proc/{s.proc.pid}/task/{s.proc.pid}/children").read().split()
    ]
    assert len(children) == 1
    s.kill()
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{children[0]}") and time.monotonic() < deadline:
        try:  # reap it if it became our child (a subreaper) or is a zombie
            os.waitpid(children[0], os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    state = ""
    if os.path.exists(f"/proc/{children[0]}/stat"):
        state = open(f"/proc/{children[0]}/stat").read().split(")")[-1].split()[0]
    assert state in ("", "Z"), f"save child still running ({state})"
    time.sleep(0.5)
    assert open(path, "rb").read() == before  # the last good file, untouched
