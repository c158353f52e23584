"""Where the shared fixture corpus lives (real RDB/AOF files + expected contents).

A copy is committed in ``tests/corpus`` (data files only, see its README) so a clean
clone is self-contained; ``EMBER_CORPUS`` overrides it. A missing corpus is an error,
never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]


def corpus_dir() -> Path:
    env = os.environ.get("EMBER_CORPUS")
    for cand in ([Path(env)] if env else []) + [
        _ROOT / "tests" / "corpus",
        _ROOT.parent / "shared" / "corpus",
    ]:
        if (cand / "expected").is_dir():
            return cand.resolve()
    raise RuntimeError("fixture corpus not found: tests/corpus (or set EMBER_CORPUS)")


CORPUS = corpus_dir()
