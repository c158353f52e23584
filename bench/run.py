#!/usr/bin/env python3
"""ember vs redis-server, side by side in the same run.

Scenarios (``--only a,b``; ``--quick`` for small sizes):

* ``throughput``  redis-benchmark per test, ``-c 50`` with and without ``-P 16``:
                  requests/s and server CPU time per request (from /proc/PID/stat).
* ``memory``      bytes per key after loading 1M small string keys (DEBUG POPULATE).
* ``rdb``         SAVE time, load time at start, file size, peak RSS during BGSAVE:
                  2M string keys and a mixed dataset of collections.
* ``aof``         SET throughput and CPU/request with appendfsync always/everysec/no at
                  1, 10 and 50 clients; BGREWRITEAOF time for 2M keys.
* ``forkless``    2M keys, BGSAVE while a writer updates 50% of the keys: peak extra
                  RSS, start pause, client latency p50/p99/max, total save time, for
                  ember forkless / ember fork / redis; writes a PNG plot.
* ``cow10``       forkless BGSAVE of 2M keys while 10% of them are overwritten: peak
                  extra RSS against the dataset.
* ``floor``       CPU per request of ember, of ``floor_server.py`` (the bare
                  asyncio + uvloop + hiredis loop, no Redis semantics) and of redis,
                  SET/GET/INCR/MSET with and without ``-P 16``.
* ``p99``         the ``forkless`` latency case repeated (``--repeat`` saves per
                  server, ember forkless and redis): p99 during / p99 before each save.

Prints a table per scenario and writes JSON to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ember-server from the copy of the package named by an environment variable
_SRC_MAIN = (
    "import os, sys; sys.path.insert(0, os.environ[%r]);"
    "from ember.server.main import main; sys.exit(main(sys.argv[1:]))"
)


# Request-rate scenarios pin the server to CPU 0 and redis-benchmark to CPU 1 (both
# servers alike): unpinned, the scheduler moving the two processes across the 2 cores
# moved single results by up to 40%.
PIN = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def _pinned(cpu: int, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd] if PIN else cmd


class Srv:
    def __init__(
        self, kind: str, *args: str, workdir: str | None = None, pin: bool = False
    ) -> None:
        self.kind = kind
        self.port = free_port()
        self.dir = workdir or tempfile.mkdtemp(prefix=f"bench-{kind}-")
        exe = {
            "ember": (
                [sys.executable, "-c", _SRC_MAIN % "EMBER_SRC"]
                if os.environ.get("EMBER_SRC")  # bench/compiled.py: a compiled copy
                else [str(Path(sys.executable).with_name("ember-server"))]
            ),
            "redis": ["redis-server"],
            "floor": [sys.executable, str(Path(__file__).with_name("floor_server.py"))],
            # bench/compiled.py: ember from a mypyc-compiled copy of src/
            "compiled": [sys.executable, "-c", _SRC_MAIN % "EMBER_COMPILED_SRC"],
        }[kind]
        cmd = [
            *exe,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.dir,
            "--save",
            "",
            "--appendonly",
            "no",
            "--enable-debug-command",
            "yes",
            *args,
        ]
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(
            _pinned(0, cmd) if pin else cmd, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.wait()

    def wait(self, timeout: float = 600) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} exited: {Path(self.dir, 'server.log').read_text()[-2000:]}"
                )
            try:
                if self.kind == "floor":  # answers PING, not redis-py's handshake
                    with socket.create_connection(("127.0.0.1", self.port), 5) as sock:
                        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                        if sock.recv(64) != b"+PONG\r\n":
                            raise OSError("no PONG")
                else:
                    c = redis.Redis(port=self.port, socket_timeout=5)
                    c.ping()
                    c.close()
                return time.monotonic() - t0
            except (redis.exceptions.BusyLoadingError, redis.exceptions.ConnectionError, OSError):
                time.sleep(0.01)
        raise RuntimeError("server did not start")

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=600)

    def cpu(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / TICK

    def rss(self) -> int:
        total = 0
        pids = [self.proc.pid] + children(self.proc.pid)
        for pid in pids:
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()

    def restart(self, *args: str) -> float:
        self.stop()
        kind, d = self.kind, self.dir
        self.__init__(kind, *args, workdir=d)  # type: ignore[misc]
        return 0.0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def benchmark(
    port: int,
    test: str,
    n: int,
    clients: int,
    pipeline: int = 1,
    extra: list[str] | None = None,
    pin: bool = False,
) -> float:
    cmd = [
        "redis-benchmark",
        "-p",
        str(port),
        "-c",
        str(clients),
        "-n",
        str(n),
        "-P",
        str(pipeline),
        "-t",
        test,
        "--csv",
        *(extra or []),
    ]
    if pin:
        cmd = _pinned(1, cmd)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1200).stdout
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if len(cells) > 1 and cells[0] != "test":
            try:
                return float(cells[1])
            except ValueError:
                continue
    return 0.0


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = [
        f"\n## {title}",
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for r in rows:
        lines.append(
            "| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=False)) + " |"
        )
    text = "\n".join(lines)
    print(text, flush=True)
    return text


# ------------------------------------------------------------------------- scenarios

FLOOR_TESTS = ["set", "get", "incr", "mset"]
THROUGHPUT_TESTS = [
    "set",
    "get",
    "incr",
    "mset",
    "lpush",
    "lpop",
    "sadd",
    "hset",
    "zadd",
    "lrange_100",
]


def cpu_per_request(
    servers: dict[str, Srv], test: str, n: int, pipeline: int, repeat: int
) -> dict[str, tuple[float, float]]:
    """redis-benchmark ``test`` against each server, ``repeat`` rounds with the servers
    taking turns: per server the median requests/s and server CPU µs per request (medians
    damp the noise of a shared machine: other VMs, frequency changes, hitting one side)."""
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in servers}
    for _ in range(repeat):
        for name, s in servers.items():
            if s.kind != "floor":
                s.client().flushall()
            c0 = s.cpu()
            rps = benchmark(s.port, test, n, 50, pipeline, pin=True)
            cpu = s.cpu() - c0
            samples[name].append((rps, cpu * 1e6 / n))
    return {
        name: (statistics.median(x[0] for x in got), statistics.median(x[1] for x in got))
        for name, got in samples.items()
    }


def scenario_throughput(a: argparse.Namespace) -> dict[str, Any]:
    n = 20000 if a.quick else 100000
    rows, data = [], {}
    servers: dict[str, Srv] = {}
    build = "?"
    try:
        for kind in ("ember", "redis"):
            servers[kind] = Srv(kind, pin=True)
        build = build_from_log(servers["ember"])
        data["ember_build"] = build
        for pipeline in (1, 16):
            for test in a.tests.split(",") if a.tests else THROUGHPUT_TESTS:
                reqs = n * (4 if pipeline > 1 else 1)
                res = cpu_per_request(servers, test, reqs, pipeline, a.repeat)
                e, r = res["ember"], res["redis"]
                ratio = e[1] / r[1] if r[1] else float("nan")
                rows.append(
                    [
                        test.upper(),
                        pipeline,
                        f"{e[0]:.0f}",
                        f"{r[0]:.0f}",
                        f"{e[1]:.2f}",
                        f"{r[1]:.2f}",
                        f"{ratio:.2f}x",
                    ]
                )
                data[f"{test}-P{pipeline}"] = {
                    "ember_rps": e[0],
                    "redis_rps": r[0],
                    "ember_cpu_us": e[1],
                    "redis_cpu_us": r[1],
                    "cpu_ratio": ratio,
                }
    finally:
        for s in servers.values():
            s.stop()
    table(
        f"Throughput (redis-benchmark -c 50, median of {a.repeat} alternating rounds; "
        f"ember {build} build{', server and client pinned to CPUs 0 and 1' if PIN else ''})",
        [
            "test",
            "-P",
            "ember req/s",
            "redis req/s",
            "ember CPU µs/req",
            "redis CPU µs/req",
            "CPU ratio",
        ],
        rows,
    )
    return data


def scenario_floor(a: argparse.Namespace) -> dict[str, Any]:
    """ember, the bare Python RESP loop of ``floor_server.py`` and redis-server, same
    tests and rounds as ``throughput``: what the interpreter and event loop cost alone."""
    # the floor answers only these (anything else gets an error reply: no measure)
    tests = [t for t in a.tests.split(",") if t in FLOOR_TESTS] if a.tests else FLOOR_TESTS
    return _cpu_side_by_side(
        a, "floor", "CPU per request: ember, the bare Python loop, redis", "floor", tests
    )


def scenario_compiled(a: argparse.Namespace) -> dict[str, Any]:
    """ember and a mypyc-compiled copy of it (``bench/compiled.py --end-to-end`` builds
    it and sets EMBER_COMPILED_SRC), against redis-server."""
    tests = a.tests.split(",") if a.tests else FLOOR_TESTS
    return _cpu_side_by_side(
        a, "compiled", "CPU per request: ember, compiled ember, redis", "mypyc", tests
    )


def _cpu_side_by_side(
    a: argparse.Namespace, other: str, title: str, label: str, tests: list[str]
) -> dict[str, Any]:
    n = 20000 if a.quick else 100000
    rows, data = [], {}
    servers: dict[str, Srv] = {}
    try:
        for kind in ("ember", other, "redis"):
            servers[kind] = Srv(kind, pin=True)  # inside the try: a failed start stops the others
        for pipeline in (1, 16):
            for test in tests:
                reqs = n * (4 if pipeline > 1 else 1)
                res = cpu_per_request(servers, test, reqs, pipeline, a.repeat)
                e, f, r = res["ember"][1], res[other][1], res["redis"][1]
                rows.append(
                    [
                        test.upper(),
                        pipeline,
                        f"{e:.2f}",
                        f"{f:.2f}",
                        f"{r:.2f}",
                        f"{e / r:.2f}x",
                        f"{f / r:.2f}x",
                    ]
                )
                data[f"{test}-P{pipeline}"] = {
                    "ember_cpu_us": e,
                    f"{other}_cpu_us": f,
                    "redis_cpu_us": r,
                    "rps": {k: v[0] for k, v in res.items()},
                }
    finally:
        for s in servers.values():
            s.stop()
    table(
        f"{title} (median of {a.repeat} rounds)",
        ["test", "-P", "ember µs", f"{label} µs", "redis µs", "ember/redis", f"{label}/redis"],
        rows,
    )
    return data


def used_memory(s: Srv) -> int:
    info = s.client().info("memory")
    return int(info["used_memory"])


def scenario_memory(a: argparse.Namespace) -> dict[str, Any]:
    n = 200000 if a.quick else 1000000
    out = {}
    rows = []
    for kind in ("ember", "redis"):
        s = Srv(kind)
        try:
            c = s.client()
            before = used_memory(s) if kind == "redis" else s.rss()
            c.execute_command("DEBUG", "POPULATE", n)
            time.sleep(0.5)
            after = used_memory(s) if kind == "redis" else s.rss()
            per = (after - before) / n
            out[kind] = per
            rows.append([kind, n, f"{per:.1f}", "used_memory" if kind == "redis" else "RSS"])
        finally:
            s.stop()
    rows.append(["ratio", "", f"{out['ember'] / out['redis']:.2f}x", ""])
    table(
        "Memory per key (DEBUG POPULATE, key:N -> value:N)",
        ["server", "keys", "bytes/key", "measured as"],
        rows,
    )
    return out


def build_from_log(s: Srv) -> str:
    """ "compiled" or "pure": which tree the ember server runs (its start-up line)."""
    text = Path(s.dir, "server.log").read_text(errors="replace")
    m = re.search(r"just started \(ember [^,]+, (\w+) build\)", text)
    return m.group(1) if m else "?"


def load_time_from_log(s: Srv) -> float:
    text = Path(s.dir, "server.log").read_text(errors="replace")
    m = re.findall(r"DB loaded from disk: ([0-9.]+) seconds", text)
    return float(m[-1]) if m else float("nan")


def fill_mixed(c: redis.Redis, n_keys: int) -> None:
    rnd = random.Random(7)
    p = c.pipeline(transaction=False)
    for i in range(n_keys):
        size = rnd.choice([100, 1000, 10000])
        kind = i % 3
        if kind == 0:
            p.rpush(f"list:{i}", *[f"item-{j}" for j in range(size)])
        elif kind == 1:
            p.hset(f"hash:{i}", mapping={f"f{j}": f"value-{j}" for j in range(size)})
        else:
            p.zadd(f"zset:{i}", {f"m{j}": rnd.random() * 1000 for j in range(size)})
        if i % 10 == 0:
            p.execute()
    p.execute()


def peak_rss_during(s: Srv, start_cmd: list[Any], done_field: str) -> tuple[int, float]:
    c = s.client()
    base = s.rss()
    peak = base
    t0 = time.monotonic()
    c.execute_command(*start_cmd)
    while True:
        peak = max(peak, s.rss())
        info = c.info("persistence")
        if not int(info[done_field]) and time.monotonic() - t0 > 0.05:
            break
        time.sleep(0.01)
    return peak - base, time.monotonic() - t0


def scenario_rdb(a: argparse.Namespace) -> dict[str, Any]:
    n = 200000 if a.quick else 2000000
    mixed = 30 if a.quick else 300
    rows, out = [], {}
    for dataset in ("strings", "mixed"):
        res: dict[str, dict[str, Any]] = {}
        servers: dict[str, Srv] = {}
        try:
            for kind in ("ember", "redis"):
                servers[kind] = srv = Srv(kind)
                c = srv.client()
                if dataset == "strings":
                    c.execute_command("DEBUG", "POPULATE", n)
                else:
                    fill_mixed(c, mixed)
                res[kind] = {"save_samples": [], "load_samples": []}
            # the servers take turns, a.repeat rounds of each measure; medians (one
            # sample moves by up to ±40% on this machine, for either server)
            for _ in range(a.repeat):
                for kind, srv in servers.items():
                    t0 = time.monotonic()
                    srv.client().save()
                    res[kind]["save_samples"].append(time.monotonic() - t0)
            for kind, srv in servers.items():
                res[kind]["size"] = os.path.getsize(os.path.join(srv.dir, "dump.rdb"))
                extra, bg_t = peak_rss_during(srv, ["BGSAVE"], "rdb_bgsave_in_progress")
                res[kind]["bgsave_peak_extra_rss"] = extra
                res[kind]["bgsave_s"] = bg_t
            for _ in range(a.repeat):
                for kind, srv in servers.items():
                    srv.restart()
                    res[kind]["load_samples"].append(load_time_from_log(srv))
            for got in res.values():
                got["save_s"] = statistics.median(got["save_samples"])
                got["load_s"] = statistics.median(got["load_samples"])
        finally:
            for srv in servers.values():
                srv.stop()
        e, r = res["ember"], res["redis"]
        rows.append(
            [
                dataset,
                f"{e['save_s']:.2f} / {r['save_s']:.2f}",
                f"{e['save_s'] / r['save_s']:.2f}x",
                f"{e['load_s']:.2f} / {r['load_s']:.2f}",
                f"{e['load_s'] / r['load_s']:.2f}x",
                f"{e['size']} / {r['size']}",
                f"{(e['size'] - r['size']) * 100 / r['size']:+.1f}%",
                f"{e['bgsave_peak_extra_rss'] >> 20} / {r['bgsave_peak_extra_rss'] >> 20}",
            ]
        )
        out[dataset] = res
    table(
        f"RDB ({n} string keys; mixed = {mixed} lists/hashes/zsets of 100-10k;"
        f" SAVE and load: medians of {a.repeat} alternating rounds)",
        [
            "dataset",
            "SAVE s ember/redis",
            "ratio",
            "load s ember/redis",
            "ratio",
            "file bytes ember/redis",
            "size diff",
            "BGSAVE peak extra RSS MB e/r",
        ],
        rows,
    )
    return out


def scenario_aof(a: argparse.Namespace) -> dict[str, Any]:
    n = 5000 if a.quick else 30000
    rows, out = [], {}
    for policy in ("always", "everysec", "no"):
        for clients in (1, 10, 50):
            res = {}
            for kind in ("ember", "redis"):
                s = Srv(kind, "--appendonly", "yes", "--appendfsync", policy)
                try:
                    c0 = s.cpu()
                    rps = benchmark(s.port, "set", n, clients, 1, ["-r", "100000"])
                    cpu = (s.cpu() - c0) * 1e6 / n
                    res[kind] = (rps, cpu)
                finally:
                    s.stop()
            e, r = res["ember"], res["redis"]
            rows.append(
                [
                    policy,
                    clients,
                    f"{e[0]:.0f}",
                    f"{r[0]:.0f}",
                    f"{e[0] / r[0] * 100:.0f}%",
                    f"{e[1]:.1f}",
                    f"{r[1]:.1f}",
                ]
            )
            out[f"{policy}-c{clients}"] = {
                "ember_rps": e[0],
                "redis_rps": r[0],
                "ember_cpu_us": e[1],
                "redis_cpu_us": r[1],
            }
    # BGREWRITEAOF time for 2M keys
    nkeys = 200000 if a.quick else 2000000
    rw = {}
    for kind in ("ember", "redis"):
        s = Srv(kind, "--appendonly", "yes")
        try:
            c = s.client()
            c.execute_command("DEBUG", "POPULATE", nkeys)
            time.sleep(0.2)
            while int(c.info("persistence")["aof_rewrite_in_progress"]):
                time.sleep(0.05)
            t0 = time.monotonic()
            c.bgrewriteaof()
            time.sleep(0.05)
            while int(c.info("persistence")["aof_rewrite_in_progress"]) or int(
                c.info("persistence").get("aof_rewrite_scheduled", 0)
            ):
                time.sleep(0.02)
            rw[kind] = time.monotonic() - t0
        finally:
            s.stop()
    out["bgrewriteaof_s"] = rw
    rows.append(
        [
            "BGREWRITEAOF",
            f"{nkeys} keys",
            f"{rw['ember']:.2f}s",
            f"{rw['redis']:.2f}s",
            f"{rw['ember'] / rw['redis']:.2f}x",
            "",
            "",
        ]
    )
    table(
        "AOF: SET throughput per fsync policy (redis-benchmark -r 100000)",
        [
            "appendfsync",
            "clients",
            "ember req/s",
            "redis req/s",
            "ember/redis",
            "ember CPU µs/req",
            "redis CPU µs/req",
        ],
        rows,
    )
    return out


class LatencyWriter(threading.Thread):
    """Writes random keys in the first half of the key space and records latencies."""

    def __init__(self, port: int, keys: int, stop: threading.Event, prefix: str = "key") -> None:
        super().__init__(daemon=True)
        self.port, self.keys, self.stop_ev, self.prefix = port, keys, stop, prefix
        self.samples: list[tuple[float, float]] = []  # (t, latency ms)

    def run(self) -> None:
        c = redis.Redis(port=self.port, socket_timeout=30)
        rnd = random.Random(threading.get_ident())
        half = self.keys // 2
        while not self.stop_ev.is_set():
            k = f"{self.prefix}:{rnd.randrange(half)}"
            t0 = time.perf_counter()
            c.set(k, "x" * 8)
            self.samples.append((time.monotonic(), (time.perf_counter() - t0) * 1000))


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def save_under_writers(
    s: Srv, n: int, writers: int = 4
) -> tuple[dict[str, Any], tuple[list[tuple[float, float]], float, list[tuple[float, float]]]]:
    """One BGSAVE on ``s`` (``n`` keys loaded) while ``writers`` threads SET random keys
    of the first half: RSS and client latency before and during the save, and the trace
    for the plot (latency samples, the save's start time, RSS over time)."""
    c = s.client()
    base_rss = s.rss()
    stop = threading.Event()
    ws = [LatencyWriter(s.port, n, stop) for _ in range(writers)]
    for w in ws:
        w.start()
    time.sleep(2.0)  # baseline latency without a save
    t_save = time.monotonic()
    c.bgsave()
    peak = base_rss
    rss_series = []
    deadline = t_save + 600
    while time.monotonic() < deadline:
        r = s.rss()
        peak = max(peak, r)
        rss_series.append((time.monotonic() - t_save, (r - base_rss) / 2**20))
        if (
            not int(c.info("persistence")["rdb_bgsave_in_progress"])
            and time.monotonic() - t_save > 0.1
        ):
            break
        time.sleep(0.02)
    save_time = time.monotonic() - t_save
    time.sleep(0.5)
    stop.set()
    for w in ws:
        w.join()
    stats = c.info("stats")
    samples = sorted(x for w in ws for x in w.samples)
    before = [ms for t, ms in samples if t < t_save]
    during = [ms for t, ms in samples if t_save <= t <= t_save + save_time]
    return {
        "peak_extra_rss_mb": (peak - base_rss) / 2**20,
        "dataset_rss_mb": base_rss / 2**20,
        "start_pause_ms": int(stats.get("latest_fork_usec", 0)) / 1000,
        "p50_before_ms": pct(before, 0.5),
        "p99_before_ms": pct(before, 0.99),
        "p50_ms": pct(during, 0.5),
        "p99_ms": pct(during, 0.99),
        "max_ms": max(during, default=float("nan")),
        "ops_per_s_during": len(during) / save_time if save_time else 0,
        "save_s": save_time,
        "writes_during_save": len(during),
        "keys_written_frac": min(len(during), n // 2) / n,
    }, (samples, t_save, rss_series)


def scenario_forkless(a: argparse.Namespace) -> dict[str, Any]:
    n = 200000 if a.quick else 2000000
    variants = [
        ("ember forkless", "ember", ["--bgsave-engine", "forkless"]),
        ("ember fork", "ember", ["--bgsave-engine", "fork"]),
        ("redis", "redis", []),
    ]
    rows, out, series = [], {}, {}
    for label, kind, args in variants:
        s = Srv(kind, *args)
        try:
            s.client().execute_command("DEBUG", "POPULATE", n)
            time.sleep(0.5)
            res, (samples, t_save, rss_series) = save_under_writers(s, n)
            save_time = res["save_s"]
            out[label] = res
            # p99 per 250 ms window for the plot
            buckets: dict[int, list[float]] = {}
            for t, ms in samples:
                buckets.setdefault(int((t - t_save) * 4), []).append(ms)
            series[label] = {
                "rss": rss_series,
                "p99": sorted((k / 4, pct(v, 0.99)) for k, v in buckets.items()),
            }
            rows.append(
                [
                    label,
                    f"{res['dataset_rss_mb']:.0f}",
                    f"{res['peak_extra_rss_mb']:.0f}",
                    f"{res['start_pause_ms']:.1f}",
                    f"{res['p50_before_ms']:.2f}/{res['p99_before_ms']:.2f}",
                    f"{res['p50_ms']:.2f}/{res['p99_ms']:.2f}/{res['max_ms']:.1f}",
                    f"{res['ops_per_s_during']:.0f}",
                    f"{save_time:.2f}",
                    f"{res['keys_written_frac'] * 100:.1f}%",
                ]
            )
        finally:
            s.stop()
    table(
        f"BGSAVE under writes ({n} keys, 4 writers on 50% of the keys)",
        [
            "engine",
            "dataset RSS MB",
            "peak extra RSS MB",
            "start pause ms",
            "p50/p99 ms before",
            "p50/p99/max ms during",
            "ops/s during",
            "save s",
            "keys written",
        ],
        rows,
    )
    try:
        plot_forkless(series)
    except Exception as e:  # matplotlib optional
        print(f"(plot skipped: {e})")
    return out


def scenario_p99(a: argparse.Namespace) -> dict[str, Any]:
    """Client p99 during a save over p99 before it, ``--repeat`` saves per server: the
    ``forkless`` scenario's latency case, repeated (one save is too noisy to judge)."""
    n = 200000 if a.quick else 2000000
    rows, out = [], {}
    for label, kind, args in [
        ("ember forkless", "ember", ["--bgsave-engine", "forkless"]),
        ("redis", "redis", []),
    ]:
        s = Srv(kind, *args)
        runs = []
        try:
            s.client().execute_command("DEBUG", "POPULATE", n)
            for _ in range(a.repeat):
                time.sleep(0.5)
                res, _trace = save_under_writers(s, n)
                runs.append(res)
                ratio = res["p99_ms"] / res["p99_before_ms"]
                rows.append(
                    [
                        label,
                        f"{res['p50_before_ms']:.2f}/{res['p99_before_ms']:.2f}",
                        f"{res['p50_ms']:.2f}/{res['p99_ms']:.2f}/{res['max_ms']:.1f}",
                        f"{ratio:.2f}x",
                        f"{res['save_s']:.2f}",
                    ]
                )
        finally:
            s.stop()
        out[label] = runs
    table(
        f"Client p99 during BGSAVE / before it ({n} keys, 4 writers, {a.repeat} saves each)",
        ["server", "p50/p99 ms before", "p50/p99/max ms during", "p99 ratio", "save s"],
        rows,
    )
    return out


def plot_forkless(series: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for label, s in series.items():
        xs, ys = zip(*s["rss"], strict=False) if s["rss"] else ((), ())
        ax1.plot(xs, ys, label=label)
        xs2, ys2 = zip(*s["p99"], strict=False) if s["p99"] else ((), ())
        ax2.plot(xs2, ys2, label=label)
    ax1.set_ylabel("RSS above baseline (MB)")
    ax2.set_ylabel("client p99 latency (ms, 250 ms windows)")
    ax2.set_xlabel("seconds since BGSAVE")
    ax1.legend()
    ax2.set_yscale("log")
    ax1.set_title("BGSAVE of 2M keys while writers update 50% of them")
    out = ROOT / "docs" / "img" / "bgsave-forkless-vs-fork.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot written to {out}")


def scenario_zset(a: argparse.Namespace) -> dict[str, Any]:
    """ZADD 1M members into one sorted set, then ZRANGE/ZRANK/ZSCORE on it."""
    n = 100000 if a.quick else 1000000
    rows, out = [], {}
    res: dict[str, dict[str, float]] = {}
    for kind in ("ember", "redis"):
        s = Srv(kind)
        try:
            c = s.client()
            rnd = random.Random(1)
            t0 = time.monotonic()
            c0 = s.cpu()
            batch = 1000
            for i in range(0, n, batch):
                c.zadd("big", {f"member:{j}": rnd.random() * 1e6 for j in range(i, i + batch)})
            res[kind] = {"zadd_s": time.monotonic() - t0, "zadd_cpu_us": (s.cpu() - c0) * 1e6 / n}
            for label, cmd in (
                ("ZRANGE mid 10", ["ZRANGE", "big", str(n // 2), str(n // 2 + 9)]),
                (
                    "ZRANGEBYSCORE 10",
                    ["ZRANGEBYSCORE", "big", "500000", "+inf", "LIMIT", "0", "10"],
                ),
                ("ZRANK", ["ZRANK", "big", f"member:{n // 3}"]),
                ("ZSCORE", ["ZSCORE", "big", f"member:{n // 3}"]),
            ):
                c0 = s.cpu()
                m = 20000
                out_cmd = [
                    "redis-benchmark",
                    "-p",
                    str(s.port),
                    "-c",
                    "50",
                    "-n",
                    str(m),
                    "--csv",
                    *cmd,
                ]
                text = subprocess.run(out_cmd, capture_output=True, text=True, timeout=600).stdout
                rps = 0.0
                for line in text.splitlines():
                    cells = [x.strip('"') for x in line.split(",")]
                    if len(cells) > 1 and cells[0] != "test":
                        try:
                            rps = float(cells[1])
                        except ValueError:
                            pass
                res[kind][label] = rps
                res[kind][label + " cpu"] = (s.cpu() - c0) * 1e6 / m
        finally:
            s.stop()
    e, r = res["ember"], res["redis"]
    rows.append(
        [
            f"ZADD {n} members (batches of 1000)",
            f"{e['zadd_s']:.2f}s",
            f"{r['zadd_s']:.2f}s",
            f"{e['zadd_cpu_us']:.1f} / {r['zadd_cpu_us']:.1f}",
        ]
    )
    for label in ("ZRANGE mid 10", "ZRANGEBYSCORE 10", "ZRANK", "ZSCORE"):
        rows.append(
            [
                label,
                f"{e[label]:.0f}/s",
                f"{r[label]:.0f}/s",
                f"{e[label + ' cpu']:.1f} / {r[label + ' cpu']:.1f}",
            ]
        )
    out.update(res)
    table(
        f"Sorted set with {n} members",
        ["operation", "ember", "redis", "CPU µs/op ember / redis"],
        rows,
    )
    return out


def scenario_cow10(a: argparse.Namespace) -> dict[str, Any]:
    """Forkless BGSAVE while 10% of the keys are overwritten (the issue's memory case).

    A pipelined writer overwrites a random 10% of the keys as fast as it can while the
    save runs; the save is made slow enough (rdb-key-save-delay) that all the writes
    land before it ends. Peak RSS above the pre-save baseline, against the dataset RSS.
    """
    n = 200000 if a.quick else 2000000
    s = Srv("ember", "--bgsave-engine", "forkless", "--rdb-key-save-delay", "2")
    try:
        c = s.client()
        c.execute_command("DEBUG", "POPULATE", n)
        time.sleep(1)
        base = s.rss()
        keys = random.Random(1).sample(range(n), n // 10)
        written = [0]
        stop = threading.Event()

        def writer() -> None:
            cc = s.client()
            for i in range(0, len(keys), 2000):
                if stop.is_set():
                    break
                p = cc.pipeline(transaction=False)
                for k in keys[i : i + 2000]:
                    p.set(f"key:{k}", "new-value")
                p.execute()
                written[0] += min(2000, len(keys) - i)

        peak = 0
        c.bgsave()
        t = threading.Thread(target=writer)
        t.start()
        deadline = time.monotonic() + 600
        while int(c.info("persistence")["rdb_bgsave_in_progress"]) and time.monotonic() < deadline:
            peak = max(peak, s.rss() - base)
            time.sleep(0.01)
        during = written[0]
        stop.set()
        t.join()
        cow = int(c.info("persistence")["rdb_last_cow_size"])
    finally:
        s.stop()
    row = [
        f"{base >> 20}",
        f"{during} ({during * 100 / n:.1f}%)",
        f"{peak >> 20} ({peak * 100 / base:.1f}%)",
        f"{cow >> 20}",
    ]
    table(
        f"Forkless BGSAVE while 10% of {n} keys are overwritten",
        [
            "dataset RSS MB",
            "keys written during the save",
            "peak extra RSS MB (% of dataset)",
            "rdb_last_cow_size MB",
        ],
        [row],
    )
    return {"dataset_rss": base, "written": during, "peak_extra_rss": peak, "last_cow_size": cow}


SCENARIOS = {
    "throughput": scenario_throughput,
    "memory": scenario_memory,
    "rdb": scenario_rdb,
    "aof": scenario_aof,
    "forkless": scenario_forkless,
    "cow10": scenario_cow10,
    "p99": scenario_p99,
    "zset": scenario_zset,
    "floor": scenario_floor,
}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    ap.add_argument("--tests", default="", help="throughput: comma-separated redis-benchmark tests")
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="throughput: rounds per test (medians reported); rdb: SAVEs and loads per"
        " server (medians); p99: saves per server",
    )
    a = ap.parse_args()
    if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
        print("redis-server and redis-benchmark are needed (make redis)", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in a.only.split(","):
        results[name] = SCENARIOS[name](a)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        with open(RESULTS / f"{name}-{stamp}.json", "w") as f:
            json.dump(results[name], f, indent=2)
    return 0


if __name__ == "__main__":
    _ = statistics
    sys.exit(main())
