"""Resolving the files to load from a data dir (manifest or legacy single file)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ember.persistence.aof.manifest import ManifestError
from ember.persistence.aof.replay import AofMissingFileError, iter_aof_dir, resolve_aof_dir
from tests.helpers.corpus import CORPUS

AOF = CORPUS / "aof"
needs_corpus = pytest.mark.skipif(not AOF.is_dir(), reason="corpus not available")


@needs_corpus
def test_multi_part_corpus_dir() -> None:
    root = AOF / "generated-redis-7.0.15/plain/2-after-rewrite"
    parts = list(iter_aof_dir(root))
    assert [(p.path.name, p.kind) for p in parts] == [
        ("appendonly.aof.2.base.aof", "b"),
        ("appendonly.aof.2.incr.aof", "i"),
    ]
    assert parts[0].data == (root / "appendonlydir/appendonly.aof.2.base.aof").read_bytes()
    # given the AOF dir itself
    assert [p.path for p in iter_aof_dir(root / "appendonlydir")] == [p.path for p in parts]
    layout = resolve_aof_dir(root)
    assert layout.kind == "multi-part" and layout.manifest is not None
    assert layout.manifest_path == root / "appendonlydir/appendonly.aof.manifest"


@needs_corpus
def test_every_corpus_layout_resolves() -> None:
    for manifest in sorted(AOF.glob("**/appendonly.aof.manifest")):
        parts = list(iter_aof_dir(manifest.parent.parent))
        assert parts and parts[0].kind == "b", manifest
    for legacy in sorted(AOF.glob("generated-redis-6.2.14/*/*/appendonly.aof")):
        parts = list(iter_aof_dir(legacy.parent))
        assert [(p.path, p.kind) for p in parts] == [(legacy, "b")]


def test_legacy_rules(tmp_path: Path) -> None:
    (tmp_path / "appendonly.aof").write_bytes(b"*1\r\n$4\r\nPING\r\n")
    # no AOF dir: the old file
    assert resolve_aof_dir(tmp_path).kind == "legacy"
    d = tmp_path / "appendonlydir"
    d.mkdir()
    # dir without manifest: still the old file
    assert resolve_aof_dir(tmp_path).kind == "legacy"
    # manifest listing only a base named like the old file, not moved yet (crash while
    # upgrading): the old file
    (d / "appendonly.aof.manifest").write_bytes(b"file appendonly.aof seq 1 type b\n")
    assert resolve_aof_dir(tmp_path).kind == "legacy"
    # ... once moved, the dir wins
    shutil.move(tmp_path / "appendonly.aof", d / "appendonly.aof")
    (tmp_path / "appendonly.aof").write_bytes(b"")
    layout = resolve_aof_dir(tmp_path)
    assert layout.kind == "multi-part"
    assert layout.files[0][0] == d / "appendonly.aof"
    # a real multi-part manifest ignores a stray old file
    (d / "appendonly.aof.manifest").write_bytes(
        b"file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    )
    (d / "appendonly.aof.1.base.aof").write_bytes(b"")
    (d / "appendonly.aof.1.incr.aof").write_bytes(b"")
    assert resolve_aof_dir(tmp_path).kind == "multi-part"


def test_nothing_to_load(tmp_path: Path) -> None:
    assert resolve_aof_dir(tmp_path).kind == "none"
    assert list(iter_aof_dir(tmp_path)) == []
    d = tmp_path / "appendonlydir"
    d.mkdir()
    (d / "appendonly.aof.manifest").write_bytes(b"# empty\n")
    assert list(iter_aof_dir(tmp_path)) == []


def test_missing_file_is_fatal_before_anything_is_read(tmp_path: Path) -> None:
    d = tmp_path / "appendonlydir"
    d.mkdir()
    (d / "appendonly.aof.manifest").write_bytes(
        b"file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    )
    (d / "appendonly.aof.1.base.aof").write_bytes(b"")
    it = iter_aof_dir(tmp_path)
    with pytest.raises(AofMissingFileError) as ei:
        next(it)
    assert "appendonly.aof.1.incr.aof" in str(ei.value)
    assert isinstance(ei.value, FileNotFoundError)


def test_history_files_are_not_loaded_and_prefix_is_configurable(tmp_path: Path) -> None:
    d = tmp_path / "aofs"
    d.mkdir()
    (d / "db.aof.manifest").write_bytes(
        b"file db.aof.2.base.rdb seq 2 type b\n"
        b"file db.aof.1.incr.aof seq 1 type h\n"
        b"file db.aof.2.incr.aof seq 2 type i\n"
        b"file db.aof.3.incr.aof seq 3 type i\n"
    )
    for name in ("db.aof.2.base.rdb", "db.aof.2.incr.aof", "db.aof.3.incr.aof"):
        (d / name).write_bytes(name.encode())
    parts = list(iter_aof_dir(tmp_path, "db.aof", "aofs"))
    assert [(p.path.name, p.kind, p.data) for p in parts] == [
        ("db.aof.2.base.rdb", "b", b"db.aof.2.base.rdb"),
        ("db.aof.2.incr.aof", "i", b"db.aof.2.incr.aof"),
        ("db.aof.3.incr.aof", "i", b"db.aof.3.incr.aof"),
    ]


def test_bad_manifest_raises(tmp_path: Path) -> None:
    d = tmp_path / "appendonlydir"
    d.mkdir()
    (d / "appendonly.aof.manifest").write_bytes(b"file a seq 0 type b\n")
    with pytest.raises(ManifestError):
        resolve_aof_dir(tmp_path)
