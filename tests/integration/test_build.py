"""Which tree runs: ``make test`` runs the suite twice, on the interpreted tree and on
the compiled one (``scripts/compile.py``, ``PYTHONPATH=build/mypyc/src``). These tests
make sure each run really exercises the tree it claims to, in-process and in the
``ember-server`` processes the other tests start."""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.helpers.servers import ServerProcess

from ember import build_kind

EXPECTED = os.environ.get("EMBER_EXPECT_BUILD", "pure")
_spec = importlib.util.spec_from_file_location(
    "ember_compile_script", Path(__file__).resolve().parents[2] / "scripts" / "compile.py"
)
assert _spec is not None and _spec.loader is not None
_compile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_compile)
# the modules scripts/compile.py compiles, as import names
HOT = [m.removesuffix(".py").replace("/", ".") for m in _compile.MODULES]


def test_in_process_tree_is_the_expected_one() -> None:
    assert build_kind() == EXPECTED


@pytest.mark.parametrize("name", HOT)
def test_hot_modules_are_all_of_one_kind(name: str) -> None:
    path = importlib.import_module(name).__file__ or ""
    assert path.endswith(".py") == (EXPECTED == "pure"), path


def test_server_process_logs_its_build(ember_factory: Callable[..., ServerProcess]) -> None:
    srv = ember_factory()
    assert f"just started (ember 0.1.0, {EXPECTED} build)" in srv.log_text()
    c = srv.client()
    assert c.set("k", "v") and c.get("k") == b"v"
