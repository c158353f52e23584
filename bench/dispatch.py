#!/usr/bin/env python3
"""In-process dispatch cost: µs of Python per command, without the network.

Feeds pre-encoded requests straight into ``Client.data_received`` (a fake transport
collects the replies), so the number is the server's own per-command Python cost:
parsing, dispatch checks, the handler, reply encoding and flushing. Use it before and
after a change to the hot path (``make bench`` measures the whole server against Redis).

    .venv/bin/python bench/dispatch.py [--pipeline 16] [--rounds 20000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

# EMBER_SRC: measure another copy of the package (bench/compiled.py: a mypyc build)
sys.path.insert(0, os.environ.get("EMBER_SRC") or str(Path(__file__).resolve().parents[1] / "src"))

from ember.commands.registry import load_all  # noqa: E402
from ember.config import Config  # noqa: E402
from ember.server.client import Client  # noqa: E402
from ember.server.server import Server  # noqa: E402


class Sink:
    """A transport that keeps only the byte count."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, data: bytes) -> None:
        self.n += len(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name in ("peername", "sockname") else default

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False


def enc(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)


TESTS: dict[str, bytes] = {
    "PING": enc(b"PING"),
    "SET": enc(b"SET", b"key:__rand_int__", b"xxx"),
    "GET": enc(b"GET", b"key:__rand_int__"),
    "INCR": enc(b"INCR", b"counter:__rand_int__"),
    "MSET": enc(*[b"MSET"] + [b"key:__rand_int__", b"xxx"] * 10),
    "LPUSH": enc(b"LPUSH", b"mylist", b"xxx"),
    "LPOP": enc(b"LPOP", b"mylist"),
    "SADD": enc(b"SADD", b"myset", b"element:__rand_int__"),
    "HSET": enc(b"HSET", b"myhash", b"element:__rand_int__", b"xxx"),
    "ZADD": enc(b"ZADD", b"myzset", b"0", b"element:__rand_int__"),
}


def measure(name: str, pipeline: int, rounds: int) -> float:
    srv = Server(Config())
    c = Client(srv)
    c.connection_made(Sink())  # type: ignore[arg-type]
    batch = TESTS[name] * pipeline
    if name == "LPOP":
        c.data_received(TESTS["LPUSH"] * pipeline * (rounds + 1))
    feed = c.data_received
    t0 = time.perf_counter_ns()
    for _ in range(rounds):
        feed(batch)
    return (time.perf_counter_ns() - t0) / 1000 / (rounds * pipeline)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pipeline", type=int, default=0, help="0 = both 1 and 16")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--tests", default=",".join(TESTS))
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    load_all()
    pipes = [a.pipeline] if a.pipeline else [1, 16]
    names = a.tests.split(",")
    if a.profile:
        pr = cProfile.Profile()
        pr.enable()
    print(f"{'test':8} " + " ".join(f"{'P=' + str(p) + ' µs/cmd':>14}" for p in pipes))
    for name in names:
        cells = []
        for p in pipes:
            rounds = a.rounds or (100_000 // p)
            best = min(measure(name, p, rounds) for _ in range(3))
            cells.append(f"{best:14.2f}")
        print(f"{name:8} " + " ".join(cells))
    if a.profile:
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
