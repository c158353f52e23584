#!/usr/bin/env python3
"""Build ember's compiled tree: the hot modules compiled to C extensions with mypyc.

mypyc (part of mypy, a test dependency) turns type-annotated Python modules into C
extension modules. This script copies ``src/`` to ``DEST/src`` and compiles the modules
in ``MODULES`` there, in place: each ``.so`` sits beside its ``.py`` and Python imports
the extension first. The rest of the package stays interpreted, and ``src/`` itself is
never touched, so the pure-Python tree remains what is edited, linted and tested, and
the compiled tree is the same code, run faster (``docs/performance.md``).

``make compiled`` runs this; ``make run`` and ``make bench`` use the result through
``PYTHONPATH=DEST/src`` and ``make test`` runs the whole suite on both trees. Needs gcc
and the Python headers (on every machine of this project's kind). A build is skipped when
the sources are unchanged since the last one (a hash of every file under ``src/`` and
of this script is kept in ``DEST/.stamp``).

The copy differs from ``src/`` in one respect: classes that derive from a builtin type
(``list``, ``dict`` ...) in a compiled module are marked
``mypyc_attr(native_class=False)``, as mypyc asks, so the runtime needs no
``mypy_extensions``.

    .venv/bin/python scripts/compile.py [--dest build/mypyc] [--force] [--modules a.py,b.py]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the request path (parsing, dispatch, the keyspace, the command table), the commands of
# the core types and the RDB codec: the modules where the server spends its time
MODULES = [
    "ember/protocol/resp.py",
    "ember/server/client.py",
    "ember/server/server.py",
    "ember/keyspace/db.py",
    "ember/keyspace/types.py",
    "ember/keyspace/encoding.py",
    "ember/commands/registry.py",
    "ember/commands/args.py",
    "ember/commands/string.py",
    "ember/commands/keys.py",
    "ember/commands/list.py",
    "ember/commands/hash.py",
    "ember/commands/set.py",
    "ember/commands/zset.py",
    "ember/persistence/rdb/reader.py",
    "ember/persistence/rdb/writer.py",
]
_BUILTIN_BASE = "Inheriting from most builtin types is unimplemented"
_DECORATOR = "@__import__('mypy_extensions').mypyc_attr(native_class=False)"


def source_hash(modules: list[str]) -> str:
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(sys.version.encode())
    h.update("\n".join(modules).encode())
    for p in sorted((ROOT / "src").rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p):
            h.update(str(p.relative_to(ROOT)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _mark_builtin_subclasses(dest: Path, out: str) -> bool:
    """Mark the classes mypyc refused for deriving from a builtin type; False if none."""
    refused = re.findall(rf"^(\S+\.py):(\d+): error: {_BUILTIN_BASE}", out, re.M)
    for path, line in refused:
        lines = (dest / path).read_text().split("\n")
        i = int(line) - 1
        while not lines[i].lstrip().startswith("class "):
            i -= 1
        if _DECORATOR not in lines[i - 1]:
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lines.insert(i, indent + _DECORATOR)
            (dest / path).write_text("\n".join(lines))
    return bool(refused)


def check_unreachable(modules: list[str]) -> None:
    """Refuse to compile a module with code mypy believes unreachable.

    mypy narrows an attribute after a check (``if self.blocked is not None: return``)
    and keeps the narrowed type across later calls that may change it. Interpreted, that
    is harmless; compiled, mypyc trusts it: a read of the attribute is checked against
    the narrowed type (``TypeError: None object expected``) and a branch mypy thinks
    dead is left out. ``--warn-unreachable`` finds the second kind; the cure for both is
    to test a local copy, as the compiled modules do.
    """
    mypy = Path(sys.executable).with_name("mypy")
    r = subprocess.run(
        [str(mypy), "--warn-unreachable", *(f"src/{m}" for m in modules)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    bad = [
        line
        for line in r.stdout.splitlines()
        if "[unreachable]" in line and any(line.startswith(f"src/{m}:") for m in modules)
    ]
    if bad:
        raise SystemExit("unreachable code in a compiled module:\n" + "\n".join(bad))


def build(dest: Path, modules: list[str] = MODULES) -> None:
    """Copy src/ to ``dest``/src and compile ``modules`` in place."""
    check_unreachable(modules)
    src = dest / "src"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(
        ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.so")
    )
    for name in ("pyproject.toml", "README.md"):  # mypy's settings; the package metadata
        shutil.copy(ROOT / name, dest)
    mypyc = Path(sys.executable).with_name("mypyc")
    env = {**os.environ, "MYPYC_OPT_LEVEL": os.environ.get("MYPYC_OPT_LEVEL", "3")}
    for _ in range(20):  # each round marks the classes mypyc refused
        r = subprocess.run(
            [str(mypyc), *(f"src/{m}" for m in modules)],
            cwd=dest,
            capture_output=True,
            text=True,
            timeout=1800,
            env=env,
        )
        out = r.stdout + r.stderr
        if r.returncode == 0:
            return
        if not _mark_builtin_subclasses(dest, out):
            raise SystemExit(f"mypyc failed:\n{out[-6000:]}")
    raise SystemExit("mypyc: too many rounds")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dest", default=str(ROOT / "build" / "mypyc"))
    ap.add_argument("--force", action="store_true", help="build even if nothing changed")
    ap.add_argument("--modules", default="", help="comma-separated, relative to src/")
    a = ap.parse_args()
    modules = a.modules.split(",") if a.modules else MODULES
    dest = Path(a.dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    stamp = dest / ".stamp"
    digest = source_hash(modules)
    if not a.force and stamp.exists() and stamp.read_text() == digest:
        print(f"compiled tree up to date: {dest / 'src'}")
        return 0
    stamp.unlink(missing_ok=True)
    t0 = time.monotonic()
    print(f"compiling {len(modules)} modules with mypyc into {dest / 'src'} ...", flush=True)
    build(dest, modules)
    stamp.write_text(digest)
    print(f"compiled in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
