"""Disk faults: ENOSPC / EIO on write, fsync and rename, injected with
``DEBUG FS-FAULT`` in a running server, and a real full disk (a small tmpfs mount, when
``mount`` works: it needs root; otherwise those tests are skipped and say so).

For each: the server logs the error, INFO shows ``aof_last_write_status:err`` /
``rdb_last_bgsave_status:err``, writes get Redis's ``-MISCONF`` error, reads keep
working, and once the fault is gone ember recovers (by itself for the AOF, with the next
successful save for RDB) and nothing acknowledged is lost across a kill -9 + restart.
Under ``appendfsync always`` Redis exits on a write error; ember instead holds replies
that could show data not on disk (reads included) until the disk recovers, while errors
(-MISCONF) and replies without data (INFO, PING, CLIENT ...) still go out.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.faults.workload import Writer, check_round, connect, keys_of, read_dataset
from tests.helpers.servers import ServerProcess

pytestmark = [pytest.mark.faults, pytest.mark.interop]

RDB_MISCONF = (
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. "
    "Commands that may modify the data set are disabled, because this instance is configured to report "
    "errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check "
    "the Redis logs for details about the RDB error."
)
STRERROR = {"ENOSPC": "No space left on device", "EIO": "Input/output error"}


def wait_for(pred: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or pred}")


def persist_info(c: redis.Redis) -> dict[str, Any]:
    return dict(c.info("persistence"))


def error_of(fn: Callable[[], Any]) -> str | None:
    """The error text (redis-py drops a bare "ERR" code: "-ERR" gives ""), None if none."""
    try:
        fn()
    except redis.ResponseError as e:
        return str(e)
    return None


@contextlib.contextmanager
def ember(tmp: Path, *args: str, name: str = "d") -> Iterator[ServerProcess]:
    s = ServerProcess("ember", tmp / name, ["--enable-debug-command", "yes", *args]).start()
    try:
        yield s
    finally:
        s.stop()


def raw(port: int) -> socket.socket:
    sk = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sk


def recv_within(sk: socket.socket, seconds: float) -> bytes:
    sk.settimeout(seconds)
    try:
        return sk.recv(65536)
    except TimeoutError:
        return b""


def restart_and_check(s: ServerProcess, writers: list[Writer], extra: int) -> None:
    """kill -9, restart, every acknowledged write is there (none phantom / torn)."""
    s.kill()
    s.start()
    c = connect(s.port, 30)
    ops = {w.w: w.ops for w in writers}
    keys: set[bytes] = set()
    for lst in ops.values():
        for op in lst:
            keys.update(keys_of(op))
    got = read_dataset(c, keys)
    v, _ = check_round({}, ops, got, c.dbsize(), extra_count=extra)
    c.close()
    assert v.acked > 0
    assert v.ok, v.notes


# ------------------------------------------------------------------------------ AOF


@pytest.mark.parametrize("op,err", [("write", "ENOSPC"), ("write", "EIO"), ("fsync", "EIO")])
def test_aof_everysec_fault_then_recovery(op: str, err: str, tmp_path: Path) -> None:
    with ember(tmp_path, "--save", "", "--appendonly", "yes", "--appendfsync", "everysec") as s:
        c = connect(s.port)
        c.set("before", "1")
        stop = threading.Event()
        w = Writer(0, s.port, 0, stop, pause=0.002)
        w.start()
        time.sleep(0.3)
        assert c.execute_command("DEBUG", "FS-FAULT", op, err, "incr.aof") == b"OK"
        wait_for(
            lambda: persist_info(c)["aof_last_write_status"] == "err",
            5,
            "aof_last_write_status:err",
        )
        assert (
            error_of(lambda: c.set("x", "1"))
            == f"MISCONF Errors writing to the AOF file: {STRERROR[err]}"
        )
        assert c.get("before") == b"1"  # reads keep working
        assert c.dbsize() >= 1
        assert "Error writing to the AOF file" in s.log_text()
        time.sleep(0.3)
        c.execute_command("DEBUG", "FS-FAULT", "OFF")
        # the cron retries: no command needed
        wait_for(lambda: persist_info(c)["aof_last_write_status"] == "ok", 10, "recovery")
        assert "AOF write error looks solved" in s.log_text()
        assert c.set("after", "1")
        time.sleep(0.3)
        stop.set()
        w.join(10)
        misconf = [op for op in w.ops if op.err]
        assert misconf and all("MISCONF" in op.err for op in misconf)
        wait_for(lambda: persist_info(c)["aof_buffer_length"] == 0, 5, "buffer written")
        c.close()
        restart_and_check(s, [w], extra=2)
        c = connect(s.port)
        assert c.mget("before", "after", "x") == [b"1", b"1", None]


def test_aof_always_write_fault_holds_replies(tmp_path: Path) -> None:
    with ember(tmp_path, "--save", "", "--appendonly", "yes", "--appendfsync", "always") as s:
        c = connect(s.port)
        c.set("a", "1")
        c.execute_command("DEBUG", "FS-FAULT", "write", "ENOSPC", "incr.aof")
        pending = raw(s.port)
        pending.sendall(b"SET b 2\r\n")
        assert recv_within(pending, 0.5) == b""  # not on disk: not acknowledged
        c2 = connect(s.port)  # new clients still connect (HELLO, CLIENT SETINFO pass)
        info = persist_info(c2)
        assert info["aof_last_write_status"] == "err"
        assert (error_of(c2.ping) or "").startswith(
            "MISCONF"
        )  # PING is refused like a write (Redis)
        assert (
            error_of(lambda: c2.set("c", "3"))
            == "MISCONF Errors writing to the AOF file: No space left on device"
        )
        # a pipelined batch of replies that show no data leaves too: redis-py 8 sends
        # CLIENT MAINT_NOTIFICATIONS and CLIENT SETINFO together when it connects (both
        # unknown to Redis 7.0: two errors)
        hello = raw(s.port)
        hello.sendall(b"CLIENT NO-SUCH-THING\r\nCLIENT SETINFO LIB-NAME x\r\nINFO server\r\n")
        got = recv_within(hello, 2)
        assert got.startswith(b"-ERR unknown subcommand 'NO-SUCH-THING'. Try CLIENT HELP.\r\n")
        assert b"-ERR unknown subcommand 'SETINFO'" in got and b"redis_version:" in got
        hello.close()
        reader = raw(s.port)
        reader.sendall(b"GET b\r\n")  # could show b, which is not on disk: held
        assert recv_within(reader, 0.5) == b""
        c2.execute_command("DEBUG", "FS-FAULT", "OFF")
        assert recv_within(pending, 5) == b"+OK\r\n"
        assert recv_within(reader, 5) == b"$1\r\n2\r\n"
        assert persist_info(c2)["aof_last_write_status"] == "ok"
        pending.close()
        reader.close()
        s.kill()
        s.start()
        c = connect(s.port)
        assert c.mget("a", "b", "c") == [b"1", b"2", None]


def test_aof_rewrite_fault(tmp_path: Path) -> None:
    with ember(tmp_path, "--save", "", "--appendonly", "yes") as s:
        c = connect(s.port)
        for i in range(200):
            c.set(f"k{i}", i)
        c.execute_command("DEBUG", "FS-FAULT", "write", "ENOSPC", "temp-rewriteaof")
        c.bgrewriteaof()
        wait_for(lambda: persist_info(c)["aof_rewrite_in_progress"] == 0, 10)
        info = persist_info(c)
        assert info["aof_last_bgrewrite_status"] == "err"
        assert info["aof_last_write_status"] == "ok"
        assert c.set("during", "1")  # the AOF itself is fine: writes go on
        assert "Background AOF rewrite failed" in s.log_text()
        rewrites = info["aof_rewrites"]
        c.execute_command("DEBUG", "FS-FAULT", "OFF")
        # retried by the cron with a growing delay (1 s, 2 s, ...)
        wait_for(lambda: persist_info(c)["aof_rewrites"] > rewrites, 15, "automatic rewrite retry")
        assert persist_info(c)["aof_last_bgrewrite_status"] == "ok"
        assert not [p for p in (s.dir / "appendonlydir").iterdir() if p.name.startswith("temp-")]
        c.set("after", "1")
        s.kill()
        s.start()
        c = connect(s.port)
        assert c.dbsize() == 202 and c.get("k199") == b"199" and c.get("during") == b"1"


# ------------------------------------------------------------------------------ RDB


@pytest.mark.parametrize(
    "op,err,path",
    [("write", "ENOSPC", "temp-"), ("fsync", "EIO", "temp-"), ("rename", "EIO", "dump.rdb")],
)
def test_rdb_bgsave_fault(op: str, err: str, path: str, tmp_path: Path) -> None:
    with ember(tmp_path, "--save", "3600 1", "--appendonly", "no") as s:
        c = connect(s.port)
        c.set("a", "1")
        assert c.save()
        good = (s.dir / "dump.rdb").read_bytes()
        c.set("b", "2")
        c.execute_command("DEBUG", "FS-FAULT", op, err, path)
        c.bgsave()
        wait_for(lambda: persist_info(c)["rdb_bgsave_in_progress"] == 0, 10)
        assert persist_info(c)["rdb_last_bgsave_status"] == "err"
        assert "Background saving error" in s.log_text()
        assert error_of(lambda: c.set("c", "3")) == RDB_MISCONF
        assert error_of(lambda: c.save()) == ""  # -ERR, as Redis
        assert c.mget("a", "b") == [b"1", b"2"]  # reads keep working
        assert (s.dir / "dump.rdb").read_bytes() == good  # the previous file is intact
        assert not [p for p in s.dir.iterdir() if p.name.startswith("temp-")]
        c.execute_command("DEBUG", "FS-FAULT", "OFF")
        c.bgsave()
        wait_for(lambda: persist_info(c)["rdb_bgsave_in_progress"] == 0, 10)
        assert persist_info(c)["rdb_last_bgsave_status"] == "ok"
        assert c.set("c", "3")
        s.kill()
        s.start()
        c = connect(s.port)
        assert c.mget("a", "b", "c") == [b"1", b"2", None]  # c came after the last save


def test_fs_fault_after_n_and_usage(tmp_path: Path) -> None:
    """The hook itself: ``after N`` lets N calls through; bad arguments are refused."""
    with ember(tmp_path, "--save", "", "--appendonly", "yes", "--appendfsync", "everysec") as s:
        c = connect(s.port)
        assert (
            error_of(lambda: c.execute_command("DEBUG", "FS-FAULT", "open", "EIO"))
            == "op must be write, fsync or rename"
        )
        assert (
            error_of(lambda: c.execute_command("DEBUG", "FS-FAULT", "write", "ENOPE"))
            == "unknown errno name"
        )
        c.execute_command("DEBUG", "FS-FAULT", "write", "EIO", "after", "3", "incr.aof")
        for i in range(3):
            c.set(f"ok{i}", "1")
            time.sleep(0.05)  # one write() per loop turn
        assert persist_info(c)["aof_last_write_status"] == "ok"
        c.set("boom", "1")
        wait_for(lambda: persist_info(c)["aof_last_write_status"] == "err", 5)
        c.execute_command("DEBUG", "FS-FAULT", "OFF")
        wait_for(lambda: persist_info(c)["aof_last_write_status"] == "ok", 10)


def test_debug_fs_fault_needs_debug_enabled(tmp_path: Path) -> None:
    s = ServerProcess("ember", tmp_path / "d", ["--enable-debug-command", "no"]).start()
    try:
        c = connect(s.port)
        assert (
            error_of(lambda: c.execute_command("DEBUG", "FS-FAULT", "write", "EIO")) or ""
        ).startswith("DEBUG command not allowed")
    finally:
        s.stop()


# ------------------------------------------------------------------------------ real full disk


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}): real-ENOSPC test skipped"
        )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def grow(path: Path, size: str) -> None:
    subprocess.run(
        ["mount", "-o", f"remount,size={size}", str(path)], check=True, capture_output=True
    )


def _fill_aof(kind: str, mnt: Path, log_dir: Path) -> dict[str, Any]:
    """Write 100 KB values into a 3 MB tmpfs until the AOF write fails; return what was
    observed (same procedure for ember and redis-server)."""
    s = ServerProcess(
        kind, mnt / "d", ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"]
    )
    s.logfile = log_dir / f"{kind}.log"  # keep the log off the full disk
    s.start()
    out: dict[str, Any] = {}
    try:
        c = connect(s.port, 10)
        acked = []
        for i in range(200):
            try:
                c.set(f"k{i}", "x" * 100_000)
                acked.append(i)
            except redis.ResponseError as e:
                out["error"] = str(e)
                break
        wait_for(lambda: persist_info(c)["aof_last_write_status"] == "err", 5)
        out["get"] = c.get("k0") == b"x" * 100_000
        out["misconf"] = error_of(lambda: c.set("small", "1"))
        grow(mnt, "40m")  # space is back
        wait_for(lambda: persist_info(c)["aof_last_write_status"] == "ok", 10, "recovery")
        out["after"] = c.set("after", "1")
        time.sleep(1.2)
        s.kill()
        s.start()
        c = connect(s.port, 10)
        out["kept"] = sum(c.exists(f"k{i}") for i in acked) == len(acked)
        out["acked"] = len(acked) > 10
        out["after_kept"] = c.get("after") == b"1"
        c.close()
    finally:
        s.stop()
    return out


def test_real_enospc_aof_like_redis(tmp_path: Path) -> None:
    got = {}
    for kind in ("ember", "redis"):
        with tmpfs(tmp_path / f"mnt-{kind}", "3m") as mnt:
            got[kind] = _fill_aof(kind, mnt, tmp_path)
    assert got["ember"] == got["redis"]
    assert (
        got["ember"]["misconf"] == "MISCONF Errors writing to the AOF file: No space left on device"
    )
    assert got["ember"]["kept"] and got["ember"]["acked"] and got["ember"]["after_kept"]


def _fill_rdb(kind: str, mnt: Path, log_dir: Path) -> dict[str, Any]:
    """BGSAVE of ~3 MB into a 2 MB tmpfs, then with space back (ember and redis alike)."""
    s = ServerProcess(
        kind, mnt / "d", ["--save", "3600 1", "--appendonly", "no", "--rdbcompression", "no"]
    )
    s.logfile = log_dir / f"{kind}.log"
    s.start()
    try:
        c = connect(s.port, 10)
        c.set("small", "1")
        assert c.save()
        for i in range(30):  # 3 MB of data: the snapshot cannot fit in 2 MB
            c.set(f"k{i}", os.urandom(50_000).hex())
        c.bgsave()
        wait_for(lambda: persist_info(c)["rdb_bgsave_in_progress"] == 0, 20)
        info = persist_info(c)
        res = {
            "status": info["rdb_last_bgsave_status"],
            "misconf": error_of(lambda: c.set("x", "1")),
            "read": c.get("small"),
            "temps": [p.name for p in (mnt / "d").iterdir() if p.name.startswith("temp-")],
        }
        grow(mnt, "40m")
        c.bgsave()
        wait_for(lambda: persist_info(c)["rdb_bgsave_in_progress"] == 0, 20)
        res["recovered"] = persist_info(c)["rdb_last_bgsave_status"]
        res["write_after"] = c.set("x", "1")
        c.close()
        return res
    finally:
        s.stop()


def test_real_enospc_bgsave_like_redis(tmp_path: Path) -> None:
    got = {}
    for kind in ("ember", "redis"):
        with tmpfs(tmp_path / f"mnt-{kind}", "2m") as mnt:
            got[kind] = _fill_rdb(kind, mnt, tmp_path)
    assert got["ember"] == got["redis"]
    assert got["ember"]["status"] == "err" and got["ember"]["misconf"] == RDB_MISCONF
    assert got["ember"]["recovered"] == "ok" and got["ember"]["temps"] == []
