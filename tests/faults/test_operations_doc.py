"""docs/operations.md and conf/*.conf: every shell command shown in the doc is run here
(``$ ...`` lines of ``sh`` blocks; a test fails when the doc shows a command no test
runs), and every shipped config file starts ember (and redis-server) and keeps what it
promises across a kill -9."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.faults.workload import connect
from tests.helpers.servers import ROOT, ServerProcess, free_port

pytestmark = [pytest.mark.faults, pytest.mark.interop]

DOC = ROOT / "docs" / "operations.md"
CONF = ROOT / "conf"
BIN = Path(sys.executable).parent


def doc_commands() -> list[str]:
    out, in_sh = [], False
    for line in DOC.read_text().splitlines():
        if line.startswith("```"):
            in_sh = line.strip() == "```sh"
            continue
        if in_sh and line.startswith("$ "):
            out.append(line[2:])
    return out


def sh(
    line: str,
    cwd: Path,
    port: int = 0,
    env: dict[str, str] | None = None,
    stdin: str = "",
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run a doc command in bash, with ``redis-cli`` pointed at the test server."""
    prelude = 'redis-cli() { command redis-cli -p "$EMBER_PORT" "$@"; }\n'
    full_env = dict(
        os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}", EMBER_PORT=str(port), **(env or {})
    )
    return subprocess.run(
        ["bash", "-c", prelude + line],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# the doc commands, grouped by the test that runs them
START = [
    "ember-server conf/production.conf",
    "ember-server conf/production.conf --dir /srv/ember --port 6380",
]
WATCH = ["redis-cli INFO persistence"]
BACKUP_RDB = [
    "redis-cli BGSAVE",
    "redis-cli INFO persistence | grep -E '^rdb_(bgsave_in_progress|last_bgsave_status)'",
    'cp dump.rdb "$BACKUP_DIR/dump-$(date +%Y%m%d-%H%M%S).rdb"',
    "ember-check-rdb dump.rdb",
]
BACKUP_AOF = [
    "redis-cli BGREWRITEAOF",
    "redis-cli INFO persistence | grep -E '^aof_(rewrite_in_progress|last_bgrewrite_status)'",
    'tar czf "$BACKUP_DIR/aof-$(date +%Y%m%d-%H%M%S).tgz" appendonlydir',
]
REPAIR = [
    "ember-check-aof appendonlydir/appendonly.aof.manifest",
    "ember-check-aof --fix appendonlydir/appendonly.aof.manifest",
]
LIMITS = ["ulimit -n", "ulimit -n 10032", "redis-cli CONFIG GET maxclients"]


def test_every_doc_command_is_exercised() -> None:
    shown = doc_commands()
    exercised = START + WATCH + BACKUP_RDB + BACKUP_AOF + REPAIR + LIMITS
    assert sorted(shown) == sorted(exercised)


@pytest.fixture
def prod(tmp_path: Path) -> Iterator[ServerProcess]:
    s = ServerProcess("ember", tmp_path / "data", [], conf_file=CONF / "production.conf").start()
    yield s
    s.stop()


def _spawn(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    return subprocess.Popen(
        ["bash", "-c", " ".join(args)],
        cwd=cwd,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Wait for the ember-server started through bash; kill its session if it lingers."""
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> redis.Redis:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "ember-server exited"
        try:
            c = connect(port, 5)
            c.ping()
            return c
        except (redis.ConnectionError, OSError):
            time.sleep(0.05)
    raise AssertionError("not ready")


def test_start_commands(tmp_path: Path) -> None:
    # 1. as shown, plus the overrides a test needs (a free port, a scratch dir)
    port = free_port()
    data = tmp_path / "var-lib-ember"
    data.mkdir()
    proc = _spawn([START[0], "--port", str(port), "--dir", str(data)], ROOT, tmp_path / "1.log")
    try:
        c = _ready(port, proc)
        assert c.config_get("appendonly") == {"appendonly": "yes"}
        assert c.config_get("appendfsync") == {"appendfsync": "everysec"}
        c.set("k", "v")
        c.shutdown()
    except redis.ConnectionError:
        pass
    finally:
        _reap(proc)
    assert (data / "appendonlydir").is_dir() and (data / "dump.rdb").exists()
    # 2. the override line, with /srv/ember and 6380 mapped to the sandbox
    port2 = free_port()
    srv = tmp_path / "srv-ember"
    srv.mkdir()
    line = START[1].replace("/srv/ember", str(srv)).replace("6380", str(port2))
    proc = _spawn([line], ROOT, tmp_path / "2.log")
    try:
        c = _ready(port2, proc)
        assert c.config_get("dir") == {"dir": str(srv)}
        assert c.config_get("port") == {"port": str(port2)}
        c.shutdown(nosave=True)
    except redis.ConnectionError:
        pass
    finally:
        _reap(proc)


def test_watch_and_backup_commands(prod: ServerProcess, tmp_path: Path) -> None:
    c = connect(prod.port)
    for i in range(500):
        c.set(f"key:{i}", f"value:{i}")
    digest_keys = sorted(c.keys("*"))
    out = sh(WATCH[0], prod.dir, prod.port)
    assert (
        out.returncode == 0
        and "aof_enabled:1" in out.stdout
        and "rdb_last_bgsave_status:ok" in out.stdout
    )
    backups = tmp_path / "backups"
    backups.mkdir()
    env = {"BACKUP_DIR": str(backups)}
    # RDB backup
    assert sh(BACKUP_RDB[0], prod.dir, prod.port).stdout.strip() == "Background saving started"
    deadline = time.monotonic() + 20
    while True:
        out = sh(BACKUP_RDB[1], prod.dir, prod.port).stdout
        if "rdb_bgsave_in_progress:0" in out or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert "rdb_bgsave_in_progress:0" in out and "rdb_last_bgsave_status:ok" in out
    assert sh(BACKUP_RDB[2], prod.dir, prod.port, env).returncode == 0
    check = sh(BACKUP_RDB[3], prod.dir, prod.port)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "RDB looks OK" in check.stdout
    # AOF backup
    assert (
        sh(BACKUP_AOF[0], prod.dir, prod.port).stdout.strip()
        == "Background append only file rewriting started"
    )
    deadline = time.monotonic() + 20
    while True:
        out = sh(BACKUP_AOF[1], prod.dir, prod.port).stdout
        if "aof_rewrite_in_progress:0" in out or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert "aof_rewrite_in_progress:0" in out and "aof_last_bgrewrite_status:ok" in out
    assert sh(BACKUP_AOF[2], prod.dir, prod.port, env).returncode == 0
    c.set("after-backup", "1")
    # restore each backup into a fresh directory: the data is there
    rdb = next(backups.glob("dump-*.rdb"))
    r1 = tmp_path / "restore-rdb"
    r1.mkdir()
    shutil.copy(rdb, r1 / "dump.rdb")
    s1 = ServerProcess("ember", r1, ["--appendonly", "no", "--save", ""]).start()
    try:
        assert sorted(connect(s1.port).keys("*")) == digest_keys
    finally:
        s1.stop()
    tgz = next(backups.glob("aof-*.tgz"))
    r2 = tmp_path / "restore-aof"
    r2.mkdir()
    with tarfile.open(tgz) as tf:
        tf.extractall(r2, filter="data")
    s2 = ServerProcess("ember", r2, ["--appendonly", "yes", "--save", ""]).start()
    try:
        assert sorted(connect(s2.port).keys("*")) == digest_keys
    finally:
        s2.stop()


def test_repair_commands(tmp_path: Path) -> None:
    s = ServerProcess(
        "ember", tmp_path / "d", ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
    ).start()
    try:
        _repair(s)
    finally:
        s.stop()


def _repair(s: ServerProcess) -> None:
    c = connect(s.port)
    for i in range(20):
        c.set(f"k{i}", "v" * 50)
    s.kill()
    incr = next((s.dir / "appendonlydir").glob("*.incr.aof"))
    incr.write_bytes(incr.read_bytes()[:-30])  # a torn last command
    out = sh(REPAIR[0], s.dir)
    assert out.returncode == 1, out.stdout
    assert "AOF analyzed" in out.stdout and "is not valid" in out.stdout
    out = sh(REPAIR[1], s.dir, stdin="y\n")
    assert out.returncode == 0, out.stdout
    assert "Successfully truncated AOF" in out.stdout
    assert sh(REPAIR[0], s.dir).returncode == 0
    s.args += ["--aof-load-truncated", "no"]  # starts although truncation is refused
    s.start()
    c = connect(s.port)
    assert c.dbsize() == 19 and c.exists("k19") == 0
    s.stop()


def test_limit_commands(prod: ServerProcess) -> None:
    out = sh(LIMITS[0], prod.dir)
    assert out.returncode == 0 and re.fullmatch(r"\d+|unlimited", out.stdout.strip())
    hard = sh("ulimit -Hn", prod.dir).stdout.strip()
    if hard != "unlimited" and int(hard) < 10032:
        pytest.skip(f"hard limit {hard} < 10032")
    out = sh(f"{LIMITS[1]}; {LIMITS[0]}", prod.dir)
    assert out.returncode == 0 and out.stdout.strip() == "10032"
    out = sh(LIMITS[2], prod.dir, prod.port)
    assert out.stdout.split() == ["maxclients", "10000"]


# ------------------------------------------------------------------------------ conf files


EXPECT = {
    "development.conf": {"appendonly": "no", "save": "3600 1 300 100 60 10000"},
    "production.conf": {
        "appendonly": "yes",
        "appendfsync": "everysec",
        "save": "3600 1 300 100 60 10000",
        "enable-debug-command": "no",
        "protected-mode": "yes",
    },
    "max-safety.conf": {
        "appendonly": "yes",
        "appendfsync": "always",
        "save": "3600 1 300 100",
        "enable-debug-command": "no",
        "protected-mode": "yes",
    },
}


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_conf_file_loads_and_keeps_its_promise(name: str, tmp_path: Path) -> None:
    s = ServerProcess("ember", tmp_path / "ember", [], conf_file=CONF / name).start()
    try:
        c = connect(s.port)
        for k, v in EXPECT[name].items():
            assert c.config_get(k) == {k: v}, k
        for i in range(100):
            c.set(f"k{i}", i)
        if name == "development.conf":  # RDB only: what was saved survives
            c.bgsave()
            while int(c.info("persistence")["rdb_bgsave_in_progress"]):
                time.sleep(0.05)
            c.set("unsaved", "1")
        s.kill()  # acknowledged writes survive a crash with the AOF on
        s.start()
        c = connect(s.port)
        assert c.dbsize() == 100 and c.get("k99") == b"99"
    finally:
        s.stop()
    r = ServerProcess(
        "redis", tmp_path / "redis", [], conf_file=CONF / name
    ).start()  # Redis reads it too
    try:
        assert connect(r.port).config_get("appendonly") == {
            "appendonly": EXPECT[name]["appendonly"]
        }
    finally:
        r.stop()
