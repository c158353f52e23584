"""The ember-server process: start-up errors, logs, pidfile, signals, open files limit,
and the redis-cli / redis-benchmark seed checks."""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from tests.helpers.servers import ServerProcess, ember_cmd, free_port

LOG_LINE = re.compile(r"^\d+:[CMSX] \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2}\.\d{3} [.\-*#] .+$")
REDIS = shutil.which("redis-server") or "redis-server"


def _run(cmd: list[str], cwd: Path, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    "args",
    [
        ["--foo", "bar"],
        ["--port", "abc"],
        ["--port"],
        ["--maxmemory", "10xb"],
        ["--save", "1"],
        ["--loglevel", "loud", "--port", "1"],
        ["--appendonly", "maybe"],
        ["--bind", "127.0.0.1", "--hz", "x y"],
        ["--client-output-buffer-limit", "normal 1 2"],
    ],
)
def test_bad_options_fail_like_redis(args: list[str], tmp_path: Path) -> None:
    mine = _run([*ember_cmd(), *args], tmp_path)
    theirs = _run([REDIS, *args], tmp_path)
    assert mine.returncode == theirs.returncode == 1
    assert mine.stderr == theirs.stderr
    assert "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***" in mine.stderr


def test_bad_config_file_fails_like_redis(tmp_path: Path) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("# comment\nport 7000\n\nmaxmemory-policy nonsense\n")
    mine = _run([*ember_cmd(), str(conf)], tmp_path)
    theirs = _run([REDIS, str(conf)], tmp_path)
    assert mine.returncode == theirs.returncode == 1
    assert mine.stderr == theirs.stderr
    assert "at line 4\n>>> 'maxmemory-policy nonsense'" in mine.stderr
    missing = str(tmp_path / "missing.conf")
    mine = _run([*ember_cmd(), missing], tmp_path)
    theirs = _run([REDIS, missing], tmp_path)
    assert mine.returncode == theirs.returncode == 1
    expect = f"# Fatal error, can't open config file '{missing}': No such file or directory"
    assert mine.stdout.strip().endswith(expect) and theirs.stdout.strip().endswith(expect)


def test_version_and_help(tmp_path: Path) -> None:
    out = _run([*ember_cmd(), "--version"], tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("Redis server v=7.0.15 ")
    out = _run([*ember_cmd(), "--help"], tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("Usage: ")


def test_log_format_levels_and_logfile(
    ember_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    s = ember_factory()
    lines = [line for line in s.log_text().splitlines() if line]
    assert lines and all(LOG_LINE.match(line) for line in lines), lines
    assert any(
        line.endswith("# oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo") and ":C " in line
        for line in lines
    )
    assert any(line.endswith("* Ready to accept connections") and ":M " in line for line in lines)
    logfile = tmp_path / "server.log"
    q = ember_factory("--loglevel", "warning", "--logfile", str(logfile))
    q.client().execute_command("CONFIG", "SET", "loglevel", "warning")
    text = logfile.read_text()
    assert "Redis is starting" in text and "Ready to accept connections" not in text
    assert q.log_text().strip() == ""  # nothing on stdout when logfile is set
    v = ember_factory("--loglevel", "verbose", "--enable-debug-command", "yes")
    raw = v.client()
    raw.execute_command("DEBUG", "LOG", "marker")
    time.sleep(0.1)
    assert "# DEBUG LOG: marker" in v.log_text()


def test_pidfile_and_sigterm(ember_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    pidfile = tmp_path / "ember.pid"
    s = ember_factory("--pidfile", str(pidfile))
    assert s.proc is not None
    assert pidfile.read_text().strip() == str(s.proc.pid)
    s.client().set("x", 1)
    assert s.stop(signal.SIGTERM) == 0
    log = s.log_text()
    for msg in (
        "# Received SIGTERM scheduling shutdown...",
        "# User requested shutdown...",
        "* Removing the pid file.",
        "# Redis is now ready to exit, bye bye...",
    ):
        assert msg in log, msg
    assert not pidfile.exists()


def test_sigint_graceful_shutdown(ember_factory: Callable[..., ServerProcess]) -> None:
    s = ember_factory()
    assert s.stop(signal.SIGINT) == 0
    assert "Received SIGINT scheduling shutdown..." in s.log_text()


def _popen_with_nofile(cmd: list[str], cwd: Path, soft: int) -> subprocess.Popen[bytes]:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=limit
    )


def _limits(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            parts = line.split()
            return int(parts[3]), int(parts[4])
    raise AssertionError("no open files line")


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> redis.Redis:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            c = redis.Redis(port=port)
            c.ping()
            return c
        except redis.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("server did not start")


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    return out.decode(errors="replace")


def test_open_files_limit_raised_and_warning(tmp_path: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2100:
        pytest.fail(f"the hard open files limit ({hard}) is too low for this test")
    results = {}
    for kind, base in (("ember", ember_cmd()), ("redis", [REDIS])):
        # raised: maxclients + 32, soft and hard, like Redis
        port = free_port()
        proc = _popen_with_nofile(
            [
                *base,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--maxclients",
                "2000",
            ],
            tmp_path,
            1024,
        )
        c = _wait_port(port, proc)
        assert _limits(proc.pid) == (2032, 2032), kind
        assert c.config_get("maxclients") == {"maxclients": "2000"}
        log = _stop(proc)
        assert (
            "Increased maximum number of open files to 2032 (it was originally set to 1024)." in log
        )
        # not possible: maxclients is reduced, with Redis's warnings
        port = free_port()
        want = (hard if hard != resource.RLIM_INFINITY else 1 << 20) * 4
        proc = _popen_with_nofile(
            [
                *base,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--maxclients",
                str(want),
            ],
            tmp_path,
            1024,
        )
        c = _wait_port(port, proc)
        reduced = int(c.config_get("maxclients")["maxclients"])
        log = _stop(proc)
        warnings = [
            line.split(" # ", 1)[1]
            for line in log.splitlines()
            if "maxclients" in line or "maximum open files" in line
        ]
        results[kind] = (reduced, warnings)
    assert results["ember"] == results["redis"]
    reduced, warnings = results["ember"]
    assert reduced < want and warnings[0].startswith(f"You requested maxclients of {want}")


def test_config_set_maxclients_beyond_limit(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit on open files")  # pragma: no cover
    replies = []
    for factory in (ember_factory, redis_factory):
        c = factory().client()
        try:
            c.config_set("maxclients", hard * 4)
            replies.append("ok")
        except redis.ResponseError as e:
            replies.append(str(e))
        replies.append(c.config_get("maxclients")["maxclients"])
    assert replies[:2] == replies[2:]


def test_seed_checks_with_redis_cli(ember: ServerProcess) -> None:
    cli = shutil.which("redis-cli") or "redis-cli"
    out = subprocess.run(
        [cli, "-p", str(ember.port), "CONFIG", "GET", "save"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert out.returncode == 0 and out.stdout.splitlines()[0] == "save"
    out = subprocess.run(
        [cli, "-p", str(ember.port), "CONFIG", "GET", "appendonly"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert out.stdout.splitlines() == ["appendonly", "no"]
    out = subprocess.run(
        [cli, "-p", str(ember.port), "INFO", "persistence"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    lines = out.stdout.splitlines()
    assert lines[0] == "# Persistence" and any(
        x.startswith("rdb_changes_since_last_save:") for x in lines
    )
    assert any(x.startswith("aof_enabled:0") for x in lines)


BENCH_TESTS = [
    "PING_INLINE",
    "PING_MBULK",
    "SET",
    "GET",
    "INCR",
    "LPUSH",
    "RPUSH",
    "LPOP",
    "RPOP",
    "SADD",
    "HSET",
    "SPOP",
    "ZADD",
    "ZPOPMIN",
    "LPUSH (needed to benchmark LRANGE)",
    "LRANGE_100 (first 100 elements)",
    "LRANGE_300 (first 300 elements)",
    "LRANGE_500 (first 500 elements)",
    "LRANGE_600 (first 600 elements)",
    "MSET (10 keys)",
]


def test_redis_benchmark_default_suite(ember: ServerProcess) -> None:
    bench = shutil.which("redis-benchmark") or "redis-benchmark"
    out = subprocess.run(
        [bench, "-p", str(ember.port), "-c", "289", "-n", "1000", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    rates = {}
    for line in re.split(r"[\r\n]", out.stdout):
        m = re.match(r"^(.+?): ([0-9.]+) requests per second", line)
        if m:
            rates[m.group(1)] = float(m.group(2))
    assert list(rates) == BENCH_TESTS, out.stdout[-2000:]
    assert all(v > 0 for v in rates.values())
    # XADD is not in redis-benchmark 7.0's default suite: run it as a custom command
    out = subprocess.run(
        [
            bench,
            "-p",
            str(ember.port),
            "-c",
            "50",
            "-n",
            "1000",
            "-q",
            "XADD",
            "bench-stream",
            "*",
            "f",
            "v",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert re.search(r"XADD bench-stream \* f v: [0-9.]+ requests per second", out.stdout), (
        out.stdout[-500:]
    )
    c = ember.client()
    assert c.ping() and c.xlen("bench-stream") == 1000
    assert c.info("clients")["connected_clients"] < 10


def test_many_connections_at_once(ember: ServerProcess) -> None:
    clients = [redis.Redis(port=ember.port) for _ in range(300)]
    for i, c in enumerate(clients):
        c.set(f"conn:{i}", i)
    assert clients[0].info("clients")["connected_clients"] >= 300
    for c in clients:
        c.close()
    assert os.path.exists(f"/proc/{ember.proc.pid}") if ember.proc else True
