#!/usr/bin/env python3
"""What compiling ember's hot modules with mypyc would buy: the data for that decision.

Copies ``src/`` to a temporary directory, compiles the modules of the request path
with mypyc (part of mypy, a dev dependency; needs gcc and the Python headers), then
measures the compiled copy against the tree as it is:

* in-process µs per command (``bench/dispatch.py`` on each tree), and
* with ``--end-to-end``: server CPU µs per request under redis-benchmark (``-c 50``,
  with and without ``-P 16``) for ember, the compiled ember and redis-server, the
  servers taking turns, medians of ``--repeat`` rounds (as ``run.py --only floor``);
* with ``--rdb``: the RDB codec (reader and writer) compiled instead, and
  ``bench/rdb_codec.py`` (SAVE / load against redis-server) run on both trees.

Nothing of the compiled copy is used by the project: this is an experiment kept
runnable so that its numbers can be re-checked. The copy needs no source change
beyond what is on ``main``, except that classes deriving from builtin types (``list``,
``dict``, ``bytes`` ...) are marked ``mypyc_attr(native_class=False)`` in the copy, as
mypyc asks.

    .venv/bin/python bench/compiled.py [--end-to-end | --rdb] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the request path: parsing, dispatch, the keyspace, the command table, string commands
MODULES = [
    "ember/protocol/resp.py",
    "ember/server/client.py",
    "ember/server/server.py",
    "ember/keyspace/db.py",
    "ember/commands/registry.py",
    "ember/commands/args.py",
    "ember/commands/string.py",
]
# --rdb: the RDB codec (the sans-IO reader and writer)
RDB_MODULES = ["ember/persistence/rdb/reader.py", "ember/persistence/rdb/writer.py"]
_BUILTIN_BASE = "Inheriting from most builtin types is unimplemented"
_DECORATOR = "@__import__('mypy_extensions').mypyc_attr(native_class=False)"


def build(dest: Path, modules: list[str]) -> None:
    """Copy src/ to ``dest``/src and compile ``modules`` in place (extension modules
    beside the .py files take precedence on import)."""
    shutil.copytree(ROOT / "src", dest / "src", dirs_exist_ok=True)
    for name in ("pyproject.toml", "README.md"):  # mypy's settings; the package metadata
        shutil.copy(ROOT / name, dest)
    mypyc = Path(sys.executable).with_name("mypyc")
    for _ in range(20):  # each round marks the classes mypyc refused
        r = subprocess.run(
            [str(mypyc), *(f"src/{m}" for m in modules)],
            cwd=dest,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        out = r.stdout + r.stderr
        refused = re.findall(rf"^(\S+\.py):(\d+): error: {_BUILTIN_BASE}", out, re.M)
        if r.returncode == 0:
            return
        if not refused:
            raise SystemExit(f"mypyc failed:\n{out[-4000:]}")
        for path, line in refused:
            lines = (dest / path).read_text().split("\n")
            i = int(line) - 1
            while not lines[i].lstrip().startswith("class "):
                i -= 1
            if _DECORATOR not in lines[i - 1]:
                indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
                lines.insert(i, indent + _DECORATOR)
                (dest / path).write_text("\n".join(lines))
    raise SystemExit("mypyc: too many rounds")


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
