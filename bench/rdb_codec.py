#!/usr/bin/env python3
"""RDB codec speed: ember's writer/loader vs redis-server, measured in the same run.

Datasets (the ones of ``bench/run.py rdb``):

* ``strings``  ``DEBUG POPULATE N`` (keys ``key:N``, values ``value:N``; default 2M)
* ``mixed``    ``fill_mixed``: lists / hashes / zsets of 100, 1000 or 10000 elements

redis-server builds each dataset and saves it; that file is the input of every load.
Per repetition, interleaved so that the machine's load hits both sides alike:

* redis ``SAVE``                      client wall time, server CPU (``/proc``)
* redis startup load                  ``DB loaded from disk`` from its log, CPU
* ember-server startup load           ``DB loaded from disk`` from its log
* ember ``load_rdb_into`` in-process  the server's load path into a fresh ``Server``
* ember ``load_rdb`` in-process       the codec's convenience loader
* ember writer in-process             ``save_rdb`` of the dataset to a file + fsync

Prints the median of ``--repeat`` runs (default 3) and the ember/redis ratios. CPU
seconds are given too: on a shared machine they are steadier than wall time.

    .venv/bin/python bench/rdb_codec.py [--keys 2000000] [--mixed 300] [--repeat 3]
                                        [--only strings,mixed] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
if os.environ.get("EMBER_SRC"):  # another copy of the package (bench/compiled.py --rdb)
    sys.path.insert(0, os.environ["EMBER_SRC"])
from run import Srv, fill_mixed, load_time_from_log, table  # noqa: E402

from ember.config import Config  # noqa: E402
from ember.persistence.rdb.reader import load_rdb  # noqa: E402
from ember.persistence.rdb.writer import save_rdb  # noqa: E402
from ember.persistence.rdbfile import load_rdb_into  # noqa: E402
from ember.server.server import Server  # noqa: E402

Sample = tuple[float, float]  # (wall s, cpu s)


def timed(fn: Callable[[], Any]) -> tuple[Sample, Any]:
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - w0, time.process_time() - c0), out


def ember_load_into(data: bytes) -> Sample:
    srv = Server(Config())
    t, _ = timed(lambda: asyncio.run(load_rdb_into(srv, data)))
    srv.dbs.clear()
    gc.collect()
    return t


def ember_load_rdb(data: bytes) -> Sample:
    t, f = timed(lambda: load_rdb(data))
    del f
    gc.collect()
    return t


class _FileSink:
    def __init__(self, f: Any) -> None:
        self.write = f.write


def ember_write(dbs: Any, path: str) -> Sample:
    def run() -> None:
        with open(path, "wb") as f:
            save_rdb(_FileSink(f), dbs)
            f.flush()
            os.fsync(f.fileno())

    t, _ = timed(run)
    return t


def redis_save(s: Srv) -> Sample:
    c = s.client()
    c0 = s.cpu()
    w0 = time.perf_counter()
    c.save()
    w = time.perf_counter() - w0
    return w, s.cpu() - c0


def server_load(s: Srv) -> Sample:
    s.restart()
    return load_time_from_log(s), s.cpu()  # startup CPU is ~all load for redis


def median(xs: list[Sample], i: int) -> float:
    return statistics.median(x[i] for x in xs)


def run_dataset(name: str, a: argparse.Namespace) -> dict[str, Any]:
    work = tempfile.mkdtemp(prefix=f"rdbcodec-{name}-")
    os.makedirs(os.path.join(work, "redis"))
    rs = Srv("redis", workdir=os.path.join(work, "redis"))
    es: Srv | None = None
    try:
        c = rs.client()
        if name == "strings":
            c.execute_command("DEBUG", "POPULATE", a.keys)
        else:
            fill_mixed(c, a.mixed)
        c.save()
        rdb = os.path.join(rs.dir, "dump.rdb")
        data = Path(rdb).read_bytes()
        edir = os.path.join(work, "ember")
        os.makedirs(edir, exist_ok=True)
        shutil.copy(rdb, os.path.join(edir, "dump.rdb"))
        dataset = load_rdb(data).dbs
        eout = os.path.join(work, "ember-written.rdb")
        ember_write(dataset, eout)  # warm up; also the input of one load row
        edata = Path(eout).read_bytes()
        res: dict[str, list[Sample]] = {}
        for _ in range(a.repeat):
            res.setdefault("redis save", []).append(redis_save(rs))
            res.setdefault("redis load", []).append(server_load(rs))
            if es is None:
                es = Srv("ember", workdir=edir)  # its first start loads too: warm-up
            res.setdefault("ember-server load", []).append((server_load(es)[0], float("nan")))
            res.setdefault("ember load_rdb_into", []).append(ember_load_into(data))
            res.setdefault("ember load_rdb_into (ember file)", []).append(ember_load_into(edata))
            res.setdefault("ember load_rdb", []).append(ember_load_rdb(data))
            res.setdefault("ember write", []).append(ember_write(dataset, eout))
        sizes = {"redis": len(data), "ember": len(edata)}
    finally:
        rs.stop()
        if es is not None:
            es.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {"samples": res, "sizes": sizes}


def report(name: str, r: dict[str, Any], a: argparse.Namespace) -> list[list[Any]]:
    s = r["samples"]
    rows = []

    def row(op: str, ember: str, redis: str) -> None:
        ew, rw = median(s[ember], 0), median(s[redis], 0)
        ec, rc = median(s[ember], 1), median(s[redis], 1)
        cpu = f"{ec:.3f} / {rc:.3f}" if ec == ec else f"- / {rc:.3f}"
        ratio = f"{ec / rc:.2f}x" if ec == ec and rc else "-"
        rows.append([name, op, ember, f"{ew:.3f} / {rw:.3f}", f"{ew / rw:.2f}x", cpu, ratio])

    row("write", "ember write", "redis save")
    row("load", "ember load_rdb_into", "redis load")
    row("load", "ember load_rdb_into (ember file)", "redis load")
    row("load", "ember load_rdb", "redis load")
    row("load", "ember-server load", "redis load")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--keys", type=int, default=2_000_000, help="strings: DEBUG POPULATE count")
    ap.add_argument("--mixed", type=int, default=300, help="mixed: number of collections")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--only", default="strings,mixed")
    ap.add_argument("--json", default="", help="also write the raw samples here")
    a = ap.parse_args()
    if not shutil.which("redis-server"):
        print("redis-server is needed", file=sys.stderr)
        return 2
    rows: list[list[Any]] = []
    out = {}
    for name in a.only.split(","):
        out[name] = run_dataset(name, a)
        rows += report(name, out[name], a)
    table(
        f"RDB codec: ember vs redis-server (median of {a.repeat}; strings = {a.keys} keys, "
        f"mixed = {a.mixed} collections)",
        [
            "dataset",
            "op",
            "ember side",
            "wall s ember / redis",
            "ratio",
            "CPU s ember / redis",
            "ratio",
        ],
        rows,
    )
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
