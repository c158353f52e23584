"""HeldArena: the forkless save's held start values, in memory or spilled to disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ember.persistence.bgsave.held import LEN, HeldArena


def _records(arena: HeldArena) -> list[tuple[bytes, bytes]]:
    out = []
    for chunk in arena.read_chunks():
        off = 0
        while off < len(chunk):
            (n,) = LEN.unpack_from(chunk, off)
            key = bytes(chunk[off + 4 : off + 4 + n])
            off += 4 + n
            (n,) = LEN.unpack_from(chunk, off)
            out.append((key, bytes(chunk[off + 4 : off + 4 + n])))
            off += 4 + n
        assert off == len(chunk)  # whole records only
    assert [(k, bytes(r)) for k, r in arena.records()] == out
    return out


@pytest.mark.parametrize("spill_at", [1, 50, 1 << 20])
def test_records_come_back_in_order_whole(tmp_path: Path, spill_at: int) -> None:
    arena = HeldArena(str(tmp_path), spill_at)
    recs = [(b"k%d" % i, os.urandom(i % 37)) for i in range(500)]
    for k, r in recs:
        arena.append(k, r)
    assert len(arena) == sum(8 + len(k) + len(r) for k, r in recs)
    if spill_at < 1 << 20:
        assert arena.chunks and arena.in_memory < spill_at + 8 + 4 + 36
        assert os.listdir(tmp_path) == []  # unnamed: nothing to clean up after a crash
    else:
        assert not arena.chunks and arena.in_memory == len(arena)
    assert _records(arena) == recs
    arena.raise_error()  # no error
    arena.close()
    assert not arena and arena.file is None and arena.pool is None


def test_no_spill_dir_keeps_everything_in_memory() -> None:
    arena = HeldArena(None, 1)
    for r in (b"a", b"bb"):
        arena.append(b"k", r)
    assert arena.in_memory == len(arena) == 2 * 9 + 3 and arena.file is None
    assert _records(arena) == [(b"k", b"a"), (b"k", b"bb")]


def test_a_spill_error_keeps_the_records_and_fails_later(tmp_path: Path) -> None:
    arena = HeldArena(str(tmp_path / "missing"), 1)
    arena.append(b"a", b"x")  # the write that triggered the hook is not disturbed
    arena.append(b"b", b"y")
    assert isinstance(arena.error, FileNotFoundError)
    assert _records(arena) == [(b"a", b"x"), (b"b", b"y")]
    with pytest.raises(FileNotFoundError):
        arena.raise_error()
    arena.close()
