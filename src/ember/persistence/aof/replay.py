"""Find the AOF files to load, in order, from a data directory.

Resolves the same layouts Redis 7.0 ``loadAppendOnlyFiles`` does:

* multi-part: ``<dir>/<appenddirname>/<prefix>.manifest`` names a base and incr files
  (``h`` history files are never loaded);
* legacy (Redis <= 6.2): a single ``<dir>/<prefix>`` file, loaded as the base.  Redis
  migrates it into the AOF dir at startup when the AOF dir does not exist, or its
  manifest is missing or lists no base and no incr, or lists only a base with that name
  that is not in the AOF dir (``aofUpgradePrepare``); this module only reports that the
  legacy file is what gets loaded (the migration itself is the loader's job).

Nothing is modified on disk.  A file named by the manifest but missing is fatal in Redis
(it checks every size before loading anything): :func:`iter_aof_dir` raises
:class:`AofMissingFileError` before yielding.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from ember.persistence.aof.manifest import (
    BASE,
    AofInfo,
    Manifest,
    manifest_name,
    needs_legacy_upgrade,
    parse_manifest,
)

DEFAULT_PREFIX = "appendonly.aof"
DEFAULT_DIRNAME = "appendonlydir"


class AofMissingFileError(FileNotFoundError):
    """A file listed in the manifest does not exist (Redis refuses to start)."""


class AofPart(NamedTuple):
    """One file to load: its path, its kind (``b`` base / ``i`` incr) and its bytes."""

    path: Path
    kind: str
    data: bytes


@dataclass(frozen=True, slots=True)
class AofLayout:
    """What :func:`resolve_aof_dir` found.

    ``kind``: ``"multi-part"``, ``"legacy"`` (old single file, loaded as base) or
    ``"none"`` (nothing to load: Redis ``AOF_NOT_EXIST``).  ``files``: ``(path, info)`` in
    load order (base first, then incrs).  ``manifest`` is the manifest read from disk
    (``None`` when there is none); for the legacy layout ``files`` holds the old file as a
    base with seq 1, as Redis records it after migrating.
    """

    kind: Literal["multi-part", "legacy", "none"]
    aof_dir: Path
    manifest_path: Path
    manifest: Manifest | None
    files: tuple[tuple[Path, AofInfo], ...]
    legacy_path: Path | None = None

    @property
    def missing(self) -> list[Path]:
        return [p for p, _ in self.files if not p.is_file()]


def resolve_aof_dir(
    dirpath: str | os.PathLike[str],
    prefix: str = DEFAULT_PREFIX,
    dirname: str = DEFAULT_DIRNAME,
) -> AofLayout:
    """Work out which files to load from the server's ``dir`` (or the AOF dir itself).

    ``dirpath`` is the server working directory (``dir``) holding ``<dirname>/``; a path
    to the AOF directory itself (the one holding ``<prefix>.manifest``) also works.
    Raises :class:`~ember.persistence.aof.manifest.ManifestError` for a bad manifest.
    """
    root = Path(dirpath)
    mname = manifest_name(prefix)
    if (root / mname).is_file() and not (root / dirname).is_dir():
        aof_dir = root  # given the AOF dir itself
    else:
        aof_dir = root / dirname
    mpath = aof_dir / mname
    manifest = parse_manifest(mpath.read_bytes()) if mpath.is_file() else None
    legacy = root / prefix
    base_in_dir = bool(manifest and manifest.base and (aof_dir / manifest.base.name).is_file())
    if needs_legacy_upgrade(
        manifest,
        prefix,
        dir_exists=aof_dir.is_dir(),
        legacy_exists=legacy.is_file(),
        base_in_dir=base_in_dir,
    ):
        info = AofInfo(prefix, 1, BASE)
        return AofLayout("legacy", aof_dir, mpath, manifest, ((legacy, info),), legacy)
    if manifest is None or manifest.is_empty:
        return AofLayout("none", aof_dir, mpath, manifest, ())
    files = tuple((aof_dir / ai.name, ai) for ai in manifest.load_order())
    return AofLayout("multi-part", aof_dir, mpath, manifest, files)


def iter_aof_dir(
    dirpath: str | os.PathLike[str],
    prefix: str = DEFAULT_PREFIX,
    dirname: str = DEFAULT_DIRNAME,
) -> Iterator[AofPart]:
    """Yield ``(path, kind, data)`` for each file to load, in order (base, then incrs).

    Files are read one at a time, when the iterator reaches them.  The last part
    yielded is the last file (the only one whose truncated tail Redis tolerates).
    """
    layout = resolve_aof_dir(dirpath, prefix, dirname)
    missing = layout.missing
    if missing:
        raise AofMissingFileError(
            errno.ENOENT, f"The append log file {missing[0].name} doesn't exist", str(missing[0])
        )
    for path, info in layout.files:
        yield AofPart(path, info.type, path.read_bytes())


__all__ = [
    "AofLayout",
    "AofMissingFileError",
    "AofPart",
    "DEFAULT_DIRNAME",
    "DEFAULT_PREFIX",
    "iter_aof_dir",
    "resolve_aof_dir",
]
