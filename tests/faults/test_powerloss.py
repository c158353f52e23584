"""Power-loss simulation (see :mod:`tests.faults.powerloss` for the model and what it
does not cover): a recorded workload is cut at fsync/rename boundaries and at random
points, with unsynced bytes dropped, torn or kept, and every rebuilt directory is loaded
with ember's own loaders."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.faults import powerloss as pl

pytestmark = [pytest.mark.faults]

SEED = int(os.environ.get("FAULTS_SEED", random.randrange(1 << 30)))


@pytest.mark.parametrize("policy", pl.POLICIES)
def test_power_loss(policy: str, tmp_path: Path) -> None:
    st = pl.run_policy(policy, tmp_path, seed=SEED, quick=True)
    detail = "\n".join(st.errors[:6])
    assert st.ok, (
        f"{policy} (FAULTS_SEED={SEED}): lost={st.lost} phantom={st.phantom} torn={st.torn} "
        f"refused={st.refused}\n{detail}"
    )
    assert st.rounds > 20 and st.acked > 0
    assert st.real_starts >= 1  # a rebuilt directory also started a real ember-server
    if policy == "always":
        assert st.unsaved == 0  # a power cut never loses an acknowledged write
    if policy == "everysec":
        # loss bounded by what was not fsynced: about a second (2 s worst case, as Redis)
        assert st.max_loss_window < 3.0, st.max_loss_window


def test_detects_reply_before_write(tmp_path: Path) -> None:
    """Mutation: replies sent before the AOF write() (kill -9 would lose them)."""
    rec = pl.record_workload(
        "everysec", tmp_path / "mut", SEED, quick=True, mutation="reply-before-write"
    )
    checked, bad = pl.write_before_reply_violations(rec)
    assert checked > 100
    assert bad > 0
    # the unmutated server passes the same check in test_power_loss[everysec] (run_policy)


def test_detects_manifest_naming_missing_file(tmp_path: Path) -> None:
    """Mutation: the manifest is persisted before the incr file it names is created;
    a power cut before the next directory fsync leaves a manifest ember refuses."""
    rec = pl.record_workload(
        "always", tmp_path / "mut", SEED, quick=True, mutation="manifest-before-file"
    )
    st = pl.check_recording(rec, tmp_path / "cuts", SEED, limit=12, real_checks=0)
    assert st.refused > 0
    assert any("refused" in e for e in st.errors)


# ------------------------------------------------------------------ the replay model itself


def _op(
    kind: str, path: str, data: bytes = b"", arg: str | int = "", fd: int = 3, size0: int = 0
) -> pl.TOp:
    return pl.TOp(kind, path, data, arg, fd=fd, size0=size0)


def test_simfs_drops_unsynced_and_tears(tmp_path: Path) -> None:
    root = str(tmp_path)
    f = os.path.join(root, "a.aof")
    sim = pl.SimFS()
    for op in [
        _op("open", f, arg="a"),
        _op("fsync_dir", root),
        _op("write", f, b"hello "),
        _op("fsync", f, size0=6),
        _op("write", f, b"world"),
    ]:
        sim.apply(op)
    rng = random.Random(1)
    for variant, want in (
        ("synced", {b"hello "}),
        ("process", {b"hello world"}),
        ("torn", {b"hello " + b"world"[:n] for n in range(6)}),
    ):
        d = tmp_path / variant
        sim.materialize(root, d, variant, rng)
        assert (d / "a.aof").read_bytes() in want


def test_simfs_rename_needs_dir_fsync(tmp_path: Path) -> None:
    root = str(tmp_path)
    tmp, dst = os.path.join(root, "temp-1.rdb"), os.path.join(root, "dump.rdb")
    sim = pl.SimFS()
    for op in [
        _op("open", dst, arg="w", fd=3),
        _op("write", dst, b"OLD", fd=3),
        _op("fsync", dst, fd=3, size0=3),
        _op("close", dst, fd=3),
        _op("fsync_dir", root),
        _op("open", tmp, arg="w", fd=4),
        _op("write", tmp, b"NEW", fd=4),
        _op("fsync", tmp, fd=4, size0=3),
        _op("close", tmp, fd=4),
        _op("rename", tmp, arg=dst),
    ]:
        sim.apply(op)
    rng = random.Random(2)
    sim.materialize(root, tmp_path / "s", "synced", rng)
    assert (tmp_path / "s" / "dump.rdb").read_bytes() == b"OLD"  # rename not durable yet
    assert not (tmp_path / "s" / "temp-1.rdb").exists()  # never made durable either
    sim.materialize(root, tmp_path / "p", "process", rng)
    assert (tmp_path / "p" / "dump.rdb").read_bytes() == b"NEW"
    seen = set()
    for i in range(20):
        d = tmp_path / f"m{i}"
        sim.materialize(root, d, "meta", rng)
        seen.add((d / "dump.rdb").read_bytes())
    assert seen == {b"OLD", b"NEW"}  # a journaled rename may or may not have committed
    sim.apply(_op("fsync_dir", root))
    sim.materialize(root, tmp_path / "s2", "synced", rng)
    assert (tmp_path / "s2" / "dump.rdb").read_bytes() == b"NEW"
