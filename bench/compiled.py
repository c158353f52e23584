#!/usr/bin/env python3
"""The interpreted tree against the compiled one, same run.

Builds a compiled copy of ``src/`` in a temporary directory (``scripts/compile.py``, the
build ``make run`` uses: the request path compiled with mypyc), then measures it
against the interpreted tree:

* in-process µs per command (``bench/dispatch.py`` on each tree), and
* with ``--end-to-end``: server CPU µs per request under redis-benchmark (``-c 50``,
  with and without ``-P 16``) for ember, the compiled ember and redis-server, the
  servers taking turns, medians of ``--repeat`` rounds (as ``run.py --only floor``);
* with ``--rdb``: the RDB codec (reader and writer) compiled instead, and
  ``bench/rdb_codec.py`` (SAVE / load against redis-server) run on both trees.

    .venv/bin/python bench/compiled.py [--end-to-end | --rdb] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from compile import MODULES, build  # noqa: E402  (scripts/compile.py: the mypyc build)

# --rdb: the RDB codec (the sans-IO reader and writer)
RDB_MODULES = ["ember/persistence/rdb/reader.py", "ember/persistence/rdb/writer.py"]


def dispatch(src: Path) -> dict[str, tuple[float, float]]:
    """bench/dispatch.py against the package in ``src``: test -> (P=1, P=16) µs/cmd."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "dispatch.py")],
        env={**os.environ, "EMBER_SRC": str(src)},
        capture_output=True,
        text=True,
        timeout=1200,
        check=True,
    ).stdout
    res = {}
    for line in out.splitlines()[1:]:
        cells = line.split()
        if len(cells) == 3:
            res[cells[0]] = (float(cells[1]), float(cells[2]))
    return res


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--end-to-end", action="store_true", help="also redis-benchmark")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", help="build into this directory and keep it")
    ap.add_argument(
        "--rdb",
        action="store_true",
        help="compile the RDB codec instead and run bench/rdb_codec.py on both trees",
    )
    a = ap.parse_args()
    dest = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="ember-mypyc-"))
    try:
        build(dest, RDB_MODULES if a.rdb else MODULES)
        if a.rdb:
            for label, src in (("pure", ROOT / "src"), ("compiled", dest / "src")):
                print(f"## RDB codec, {label} ({src})", flush=True)
                subprocess.run(
                    [sys.executable, str(ROOT / "bench" / "rdb_codec.py"), "--repeat", "3"],
                    env={**os.environ, "EMBER_SRC": str(src)},
                    check=True,
                    timeout=3600,
                )
            return 0
        pure, compiled = dispatch(ROOT / "src"), dispatch(dest / "src")
        print("## In-process µs per command (bench/dispatch.py)\n")
        print("| test | pure P=1 | compiled P=1 | pure P=16 | compiled P=16 |")
        print("|---|---|---|---|---|")
        for test, (p1, p16) in pure.items():
            c1, c16 = compiled.get(test, (float("nan"), float("nan")))
            print(f"| {test} | {p1:.2f} | {c1:.2f} | {p16:.2f} | {c16:.2f} |")
        if a.end_to_end:
            os.environ["EMBER_COMPILED_SRC"] = str(dest / "src")
            sys.path.insert(0, str(ROOT / "bench"))
            import run

            ns = argparse.Namespace(quick=False, tests="set,get,incr,mset", repeat=a.repeat)
            run.scenario_compiled(ns)
    finally:
        if not a.keep:
            shutil.rmtree(dest, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
