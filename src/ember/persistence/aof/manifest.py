"""Multi-part AOF manifest: parsing, formatting, file naming and state transitions.

Follows Redis 7.0 ``aof.c`` (``aofLoadManifestFromFile``, ``aofInfoFormat``,
``getNewBaseFileNameAndMarkPreAsHistory``, ``getNewIncrAofName``,
``markRewrittenIncrAofAsHistory``, ``aofUpgradePrepare``); see ``docs/aof.md``.

Everything here is pure: parsing takes bytes, formatting returns bytes, transitions return
a new :class:`Manifest`.  Writing the file (temp name, fsync, rename, fsync dir) is the
writer's job.

A manifest is a list of lines ``file <name> seq <n> type <b|h|i>\\n``; file names are
``str`` (bytes decoded as UTF-8 with ``surrogateescape``, the way :func:`os.fsdecode`
does on Linux), so any byte string Redis accepts round-trips.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from ember.persistence.aof._cparse import atoll, cstr, fgets_end
from ember.protocol.resp import split_args  # the one sdssplitargs

AofType = Literal["b", "h", "i"]

BASE: AofType = "b"
HISTORY: AofType = "h"
INCR: AofType = "i"

BASE_FILE_SUFFIX = ".base"
INCR_FILE_SUFFIX = ".incr"
RDB_FORMAT_SUFFIX = ".rdb"
AOF_FORMAT_SUFFIX = ".aof"
MANIFEST_NAME_SUFFIX = ".manifest"
TEMP_FILE_NAME_PREFIX = "temp-"

MANIFEST_MAX_LINE = 1024

# Redis's error texts (aofLoadManifestFromFile), reproduced verbatim.
ERR_EMPTY = "Found an empty AOF manifest"
ERR_READ = "Read AOF manifest failed"
ERR_TOO_LONG = "The AOF manifest file contains too long line"
ERR_FORMAT = "Invalid AOF manifest file format"
ERR_PATH = "File can't be a path, just a filename"
ERR_DUP_BASE = "Found duplicate base file information"
ERR_NON_MONOTONIC = "Found a non-monotonic sequence number"
ERR_UNKNOWN_TYPE = "Unknown AOF file type"


class ManifestError(ValueError):
    """A manifest Redis would refuse to load (the server exits on it).

    ``reason`` is Redis's message; ``linenum``/``line`` are set when Redis logs the
    offending line (``line`` is the line after trimming blanks, as Redis shows it).
    """

    def __init__(self, reason: str, linenum: int | None = None, line: bytes | None = None):
        super().__init__(reason)
        self.reason = reason
        self.linenum = linenum
        self.line = line

    def log_lines(self) -> list[str]:
        """The messages Redis logs (``serverLog`` calls) for this error, in order."""
        out = ["\n*** FATAL AOF MANIFEST FILE ERROR ***\n"]
        if self.line is not None:
            out.append(f"Reading the manifest file, at line {self.linenum}\n")
            text = self.line.decode("utf-8", "surrogateescape")
            out.append(f">>> '{text}'\n")
        out.append(f"{self.reason}\n")
        return out

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.reason} (line {self.linenum}: {self.line!r})"
        return self.reason


@dataclass(frozen=True, slots=True)
class AofInfo:
    """One manifest line: file name, sequence number and type (``b``/``h``/``i``)."""

    name: str
    seq: int
    type: AofType

    def as_type(self, new_type: AofType) -> AofInfo:
        return AofInfo(self.name, self.seq, new_type)


@dataclass(frozen=True, slots=True)
class Manifest:
    """The parsed manifest: at most one base, history files, then incr files in order.

    ``curr_base_seq``/``curr_incr_seq`` are Redis's ``curr_base_file_seq`` and
    ``curr_incr_file_seq``: the last sequence numbers handed out (after a load: the base's
    seq and the last incr's seq, 0 when absent), used to name the next files.
    """

    base: AofInfo | None = None
    history: tuple[AofInfo, ...] = ()
    incrs: tuple[AofInfo, ...] = ()
    curr_base_seq: int = 0
    curr_incr_seq: int = 0

    def __post_init__(self) -> None:
        # accept lists for convenience, store tuples (the manifest is immutable)
        if not isinstance(self.history, tuple):
            object.__setattr__(self, "history", tuple(self.history))
        if not isinstance(self.incrs, tuple):
            object.__setattr__(self, "incrs", tuple(self.incrs))

    @property
    def is_empty(self) -> bool:
        """No base and no incr: Redis treats the AOF as non-existent (``AOF_NOT_EXIST``)."""
        return self.base is None and not self.incrs

    def load_order(self) -> list[AofInfo]:
        """The files a loader reads, in order: the base (if any) then every incr."""
        files = [self.base] if self.base is not None else []
        files.extend(self.incrs)
        return files

    def all_files(self) -> list[AofInfo]:
        """Every file named by the manifest, in manifest order (base, history, incr)."""
        files = [self.base] if self.base is not None else []
        files.extend(self.history)
        files.extend(self.incrs)
        return files


# --------------------------------------------------------------------------- names


def base_name(prefix: str, seq: int, rdb: bool) -> str:
    """``<prefix>.<seq>.base.rdb`` (RDB preamble) or ``<prefix>.<seq>.base.aof``."""
    fmt = RDB_FORMAT_SUFFIX if rdb else AOF_FORMAT_SUFFIX
    return f"{prefix}.{seq}{BASE_FILE_SUFFIX}{fmt}"


def incr_name(prefix: str, seq: int) -> str:
    """``<prefix>.<seq>.incr.aof``."""
    return f"{prefix}.{seq}{INCR_FILE_SUFFIX}{AOF_FORMAT_SUFFIX}"


def manifest_name(prefix: str) -> str:
    """``<prefix>.manifest``."""
    return f"{prefix}{MANIFEST_NAME_SUFFIX}"


def temp_manifest_name(prefix: str) -> str:
    """``temp-<prefix>.manifest``: written then renamed over the manifest."""
    return f"{TEMP_FILE_NAME_PREFIX}{prefix}{MANIFEST_NAME_SUFFIX}"


def temp_incr_name(prefix: str) -> str:
    """``temp-<prefix>.incr``: the incr file used while AOF is turned on at runtime."""
    return f"{TEMP_FILE_NAME_PREFIX}{prefix}{INCR_FILE_SUFFIX}"


def temp_rewrite_name(pid: int) -> str:
    """``temp-rewriteaof-bg-<pid>.aof``: the rewrite output before it becomes a base."""
    return f"{TEMP_FILE_NAME_PREFIX}rewriteaof-bg-{pid}.aof"


def is_base_name(name: str) -> bool:
    """Redis ``pathIsBaseName``: no ``/`` and no ``\\``."""
    return "/" not in name and "\\" not in name


# --------------------------------------------------------------------------- parsing


def _decode_name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _encode_name(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def _trim(s: bytes) -> bytes:
    return s.strip(b" \t\r\n")


def parse_manifest(data: bytes) -> Manifest:
    """Parse a manifest exactly like Redis 7.0 ``aofLoadManifestFromFile``.

    Raises :class:`ManifestError` with Redis's message on anything Redis refuses.
    A manifest holding only comments is valid and yields an empty :class:`Manifest`.
    """
    data = bytes(data)
    pos = 0
    linenum = 0
    base: AofInfo | None = None
    history: list[AofInfo] = []
    incrs: list[AofInfo] = []
    curr_base = 0
    curr_incr = 0
    maxseq = 0
    while True:
        end = fgets_end(data, pos, MANIFEST_MAX_LINE + 1, eof=True)
        if end == pos:  # fgets() returned NULL: end of file
            if linenum == 0:
                raise ManifestError(ERR_EMPTY)
            break
        chunk = data[pos:end]
        pos = end
        linenum += 1
        if chunk[0] == 0x23:  # '#': comment (even a truncated one)
            continue
        text = cstr(chunk)
        if ord("\n") not in text:
            raise ManifestError(ERR_TOO_LONG)
        line = _trim(text)
        if not line:
            raise ManifestError(ERR_FORMAT, linenum, line)
        argv = split_args(line)
        if argv is None or len(argv) < 6 or len(argv) % 2:
            raise ManifestError(ERR_FORMAT, linenum, line)
        name: str | None = None
        seq = 0
        ftype = 0
        for i in range(0, len(argv), 2):
            key = cstr(argv[i]).lower()
            value = argv[i + 1]
            if key == b"file":
                name = _decode_name(cstr(value))
                if not is_base_name(name):
                    raise ManifestError(ERR_PATH, linenum, line)
            elif key == b"seq":
                seq = atoll(cstr(value))
            elif key == b"type":
                ftype = value[0] if value else 0
            # unknown keys are ignored (forward compatibility)
        if name is None or not seq or not ftype:
            raise ManifestError(ERR_FORMAT, linenum, line)
        if ftype == 0x62:  # 'b'
            if base is not None:
                raise ManifestError(ERR_DUP_BASE, linenum, line)
            base = AofInfo(name, seq, BASE)
            curr_base = seq
        elif ftype == 0x68:  # 'h'
            history.append(AofInfo(name, seq, HISTORY))
        elif ftype == 0x69:  # 'i'
            if seq <= maxseq:
                raise ManifestError(ERR_NON_MONOTONIC, linenum, line)
            incrs.append(AofInfo(name, seq, INCR))
            curr_incr = seq
            maxseq = seq
        else:
            raise ManifestError(ERR_UNKNOWN_TYPE, linenum, line)
    return Manifest(base, tuple(history), tuple(incrs), curr_base, curr_incr)


# --------------------------------------------------------------------------- formatting


def needs_repr(name: bytes) -> bool:
    """Redis ``sdsneedsrepr`` (escapes needed, or any blank), plus ``'``.

    Redis writes a name containing a single quote unquoted, and ``sdssplitargs`` then
    reads it as an unterminated quoted token: the manifest no longer loads.  ember
    quotes such names (Redis reads them back fine); every other name is written exactly
    as Redis writes it.
    """
    for c in name:
        if c < 0x21 or c > 0x7E or c == 0x5C or c == 0x22 or c == 0x27:
            return True
    return False


_REPR = {
    0x5C: b"\\\\",
    0x22: b'\\"',
    0x0A: b"\\n",
    0x0D: b"\\r",
    0x09: b"\\t",
    0x07: b"\\a",
    0x08: b"\\b",
}


def repr_bytes(s: bytes) -> bytes:
    """Redis ``sdscatrepr``: a double-quoted string ``sdssplitargs`` reads back."""
    out = bytearray(b'"')
    for c in s:
        esc = _REPR.get(c)
        if esc is not None:
            out += esc
        elif 0x20 <= c <= 0x7E:
            out.append(c)
        else:
            out += b"\\x%02x" % c
    out.append(0x22)
    return bytes(out)


def format_info(info: AofInfo) -> bytes:
    """One manifest line (``aofInfoFormat``), ``\\n`` terminated."""
    raw = _encode_name(info.name)
    if needs_repr(raw):
        raw = repr_bytes(raw)
    return b"file %s seq %d type %s\n" % (raw, info.seq, info.type.encode())


def format_manifest(m: Manifest) -> bytes:
    """The manifest text (``getAofManifestAsString``): base, then history, then incrs."""
    return b"".join(format_info(ai) for ai in m.all_files())


# --------------------------------------------------------------------------- transitions


def new_base(m: Manifest, prefix: str, rdb: bool) -> tuple[Manifest, AofInfo]:
    """A rewrite finished: name its base; the old base (if any) becomes history.

    ``getNewBaseFileNameAndMarkPreAsHistory``: the old base goes to the *head* of the
    history list and the new base gets ``curr_base_seq + 1``.
    """
    history = m.history
    if m.base is not None:
        history = (m.base.as_type(HISTORY), *history)
    seq = m.curr_base_seq + 1
    info = AofInfo(base_name(prefix, seq, rdb), seq, BASE)
    return replace(m, base=info, history=history, curr_base_seq=seq), info


def new_incr(m: Manifest, prefix: str) -> tuple[Manifest, AofInfo]:
    """Open a new incr file (``getNewIncrAofName``): appended with ``curr_incr_seq + 1``.

    Used when a rewrite starts (``openNewIncrAofForAppend``): writes go to the new incr
    while the rewrite snapshots the dataset.
    """
    seq = m.curr_incr_seq + 1
    info = AofInfo(incr_name(prefix, seq), seq, INCR)
    return replace(m, incrs=(*m.incrs, info), curr_incr_seq=seq), info


def last_incr(m: Manifest, prefix: str) -> tuple[Manifest, AofInfo]:
    """The incr to append to at startup (``getLastIncrAofName``): the last, or a new one."""
    if m.incrs:
        return m, m.incrs[-1]
    return new_incr(m, prefix)


def mark_incrs_as_history(m: Manifest, keep_last: bool = True) -> Manifest:
    """``markRewrittenIncrAofAsHistory``: incrs covered by the new base become history.

    With ``keep_last`` (AOF enabled: the last incr is the one being written) the last
    incr stays.  The moved files go to the head of the history list, in their order.
    """
    if not m.incrs:
        return m
    if keep_last:
        moved, kept = m.incrs[:-1], m.incrs[-1:]
    else:
        moved, kept = m.incrs, ()
    hist = tuple(ai.as_type(HISTORY) for ai in moved)
    return replace(m, incrs=kept, history=(*hist, *m.history))


def start_rewrite(m: Manifest, prefix: str) -> tuple[Manifest, AofInfo]:
    """A rewrite starts with AOF on: open a new incr (persist the manifest, then switch)."""
    return new_incr(m, prefix)


def finish_rewrite(
    m: Manifest,
    prefix: str,
    rdb: bool,
    *,
    aof_enabled: bool = True,
    wait_rewrite: bool = False,
) -> tuple[Manifest, AofInfo, AofInfo | None]:
    """A rewrite succeeded (``backgroundRewriteDoneHandler``).

    Returns ``(manifest, new_base, new_incr)``: the temp rewrite file is to be renamed
    to ``new_base.name``; when AOF was being turned on (``wait_rewrite``, Redis
    ``AOF_WAIT_REWRITE``) the temp incr is renamed to ``new_incr.name``.  Every incr
    before the one being written, and the old base, become history.
    """
    m, base = new_base(m, prefix, rdb)
    incr: AofInfo | None = None
    if wait_rewrite:
        m, incr = new_incr(m, prefix)
    m = mark_incrs_as_history(m, keep_last=aof_enabled)
    return m, base, incr


def drop_history(m: Manifest) -> Manifest:
    """History files were deleted (``aofDelHistoryFiles``)."""
    return replace(m, history=())


def upgrade_from_legacy(m: Manifest, prefix: str) -> Manifest:
    """``aofUpgradePrepare``: the old single ``<prefix>`` file becomes base seq 1."""
    return replace(m, base=AofInfo(prefix, 1, BASE), curr_base_seq=1)


def needs_legacy_upgrade(
    m: Manifest | None, prefix: str, *, dir_exists: bool, legacy_exists: bool, base_in_dir: bool
) -> bool:
    """Whether Redis would migrate an old-style ``<prefix>`` file (``loadAppendOnlyFiles``).

    ``m`` is the manifest read from the AOF dir (``None``/empty when missing),
    ``legacy_exists`` whether ``<dir>/<prefix>`` is a file, ``base_in_dir`` whether the
    manifest's base exists inside the AOF dir.
    """
    if not legacy_exists:
        return False
    if not dir_exists or m is None or m.is_empty:
        return True
    return m.base is not None and not m.incrs and m.base.name == prefix and not base_in_dir


__all__ = [
    "AofInfo",
    "AofType",
    "BASE",
    "HISTORY",
    "INCR",
    "Manifest",
    "ManifestError",
    "TEMP_FILE_NAME_PREFIX",
    "base_name",
    "drop_history",
    "finish_rewrite",
    "format_info",
    "format_manifest",
    "incr_name",
    "is_base_name",
    "last_incr",
    "manifest_name",
    "mark_incrs_as_history",
    "needs_legacy_upgrade",
    "new_base",
    "new_incr",
    "parse_manifest",
    "repr_bytes",
    "split_args",
    "start_rewrite",
    "temp_incr_name",
    "temp_manifest_name",
    "temp_rewrite_name",
    "upgrade_from_legacy",
]
