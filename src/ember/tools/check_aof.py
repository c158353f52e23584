"""``ember-check-aof``: check (and optionally fix) an AOF the way ``redis-check-aof`` does.

Usage: ``ember-check-aof [--fix | --truncate-to-timestamp TS] [-y] PATH`` where PATH is
a manifest (multi-part AOF, Redis >= 7), an old-style AOF with an RDB preamble, or a
plain RESP AOF -- detected from the content like redis-check-aof 7.0:

* manifest: the first non-``#`` line starts with ``file``;
* RDB preamble: at least 8 bytes starting with ``REDIS`` (ember also accepts ``VALKEY``);
* otherwise RESP.

The messages, the ``AOF analyzed: ...`` line (including its line counter, which carries
over from file to file), the ``Continue? [y/N]:`` prompt of ``--fix`` and the exit codes
(0 valid or fixed, 1 otherwise) are those of redis-check-aof 7.0.  ``-y`` answers the
prompt with yes (ember extension; the prompt is still printed).  Only the last file of a
multi-part AOF can be fixed or truncated.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from ember.persistence.aof._cparse import fgets_end, strtol_ex
from ember.persistence.aof.manifest import MANIFEST_MAX_LINE, ManifestError, parse_manifest
from ember.persistence.aof.parser import (
    CHECK_FORMAT_ERROR,
    Annotation,
    AofParser,
    End,
    EndStatus,
    ParseMode,
    parse_timestamp,
)

CHECK_OK = 0
CHECK_EMPTY = 1
CHECK_TRUNCATED = 2
CHECK_TIMESTAMP_TRUNCATED = 3

RESP, RDB_PREAMBLE, MULTI_PART = "resp", "rdb-preamble", "multi-part"

USAGE = "Usage: %s [--fix|--truncate-to-timestamp $timestamp] [-y] <file.manifest|file.aof>\n"


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _strerror(exc: OSError) -> str:
    return exc.strerror or str(exc)


class AofChecker:
    """One run of the tool (redis-check-aof keeps this state in globals)."""

    def __init__(
        self,
        out: IO[str],
        stdin: IO[str] | None,
        *,
        fix: bool = False,
        to_timestamp: int = 0,
        assume_yes: bool = False,
    ) -> None:
        self.out = out
        self.stdin = stdin
        self.fix = fix
        self.to_timestamp = to_timestamp
        self.assume_yes = assume_yes
        self.line = 1  # redis-check-aof's global line counter

    def p(self, text: str) -> None:
        self.out.write(text)

    def die(self, text: str | None = None) -> None:
        if text is not None:
            self.p(text)
        raise _Exit(1)

    def server_log(self, msg: str) -> None:
        """A ``serverLog(LL_WARNING, ...)`` line as the tool prints it."""
        now = time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now))
        ms = int(now * 1000) % 1000
        self.p(f"{os.getpid()}:C {stamp}.{ms:03d} # {msg}\n")

    # ------------------------------------------------------------ input detection

    def _read_for_detect(self, path: str) -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            self.die(f"Cannot open file {path}: {_strerror(e)}\n")
            raise AssertionError from e  # unreachable

    def file_is_manifest(self, path: str) -> bool:
        data = self._read_for_detect(path)
        pos = 0
        found = False
        while True:
            end = fgets_end(data, pos, MANIFEST_MAX_LINE + 1, True)
            if end == pos:
                return found
            chunk = data[pos:end]
            pos = end
            if chunk[0] == 0x23:
                continue
            if chunk.startswith(b"file"):
                found = True

    def file_is_rdb(self, path: str) -> bool:
        data = self._read_for_detect(path)
        return len(data) >= 8 and (data.startswith(b"REDIS") or data.startswith(b"VALKEY"))

    def input_type(self, path: str) -> str:
        if self.file_is_manifest(path):
            return MULTI_PART
        if self.file_is_rdb(path):
            return RDB_PREAMBLE
        return RESP

    # ----------------------------------------------------------------- one file

    def _check_preamble(self, filename: str, data: bytes) -> int | None:
        """redis-check-rdb on the preamble; returns the RESP start offset or None."""
        from ember.persistence.rdb.errors import RdbFormatError
        from ember.persistence.rdb.reader import load_rdb

        try:
            end: int | None = int(load_rdb(data).end_offset)
        except RdbFormatError:
            end = None
        check_rdb: Callable[[str, bytes, Any], int] | None
        try:
            from ember.tools.check_rdb import check as check_rdb
        except ImportError:  # pragma: no cover - check_rdb ships with ember
            check_rdb = None
        if check_rdb is not None:
            rc = check_rdb(filename, data if end is None else data[:end], self.out)
            if rc != 0:
                end = None
        elif end is not None:
            self.p(f"[offset {end}] \\o/ RDB looks OK! \\o/\n")
        return end

    def check_single(self, filename: str, filepath: str, last_file: bool, preamble: bool) -> int:
        """``checkSingleAof``: returns one of the ``CHECK_*`` codes (or exits)."""
        try:
            with open(filepath, "r+b") as f:
                data = f.read()
        except OSError as e:
            self.die(f"Cannot open file {filepath}: {_strerror(e)}, aborting...\n")
            raise AssertionError from e  # unreachable
        size = len(data)
        if size == 0:
            return CHECK_EMPTY
        start = 0
        if preamble:
            resp_start = self._check_preamble(filename, data)
            if resp_start is None:
                self.die("RDB preamble of AOF file is not sane, aborting.\n")
                raise AssertionError  # unreachable
            self.p("RDB preamble is OK, proceeding with AOF tail...\n")
            start = resp_start
        parser = AofParser(
            ParseMode.CHECK, offset=start, preamble=False, line=self.line, name=filepath
        )
        events = parser.feed(data[start:]) + parser.close()
        end = events[-1]
        assert isinstance(end, End)
        if self.to_timestamp:
            for ev in events:
                if isinstance(ev, Annotation) and self._timestamp_cut(ev, filepath, last_file):
                    return CHECK_TIMESTAMP_TRUNCATED
        self.line = end.line
        if end.status is EndStatus.FORMAT_ERROR and end.reason == CHECK_FORMAT_ERROR:
            self.p(f"AOF {filename} format error\n")
        if end.error:
            self.p(f"{end.error}\n")
        pos = end.offset
        diff = size - pos
        if diff == 0 and self.to_timestamp:
            self.p(f"Truncate nothing in AOF {filename} to timestamp {self.to_timestamp}\n")
            return CHECK_OK
        self.p(
            f"AOF analyzed: filename={filename}, size={size}, ok_up_to={pos}, "
            f"ok_up_to_line={self.line}, diff={diff}\n"
        )
        if diff > 0:
            if not self.fix:
                self.die(f"AOF {filename} is not valid. Use the --fix option to try fixing it.\n")
            if not last_file:
                self.die(f"Failed to truncate AOF {filename} because it is not the last file\n")
            self.p(
                f"This will shrink the AOF {filename} from {size} bytes, "
                f"with {diff} bytes, to {pos} bytes\n"
            )
            self.p("Continue? [y/N]: ")
            if not self._confirm():
                self.die("Aborting...\n")
            try:
                os.truncate(filepath, pos)
            except OSError:
                self.die(f"Failed to truncate AOF {filename}\n")
            return CHECK_TRUNCATED
        return CHECK_OK

    def _confirm(self) -> bool:
        if self.assume_yes:
            return True
        self.out.flush()
        if self.stdin is None:
            return False
        answer = self.stdin.read(1)
        return answer[:1] in ("y", "Y")

    def _timestamp_cut(self, ann: Annotation, filepath: str, last_file: bool) -> bool:
        """``processAnnotations`` with ``--truncate-to-timestamp``: True = truncated."""
        if not ann.line.startswith(b"#TS:"):
            return False
        ts = parse_timestamp(ann.line)
        if ts is None:
            self.die("Invalid timestamp annotation\n")
            raise AssertionError  # unreachable
        if ts <= self.to_timestamp:
            return False
        epos = ann.start
        if epos == 0:
            self.die(
                f"AOF {filepath} has nothing before timestamp {self.to_timestamp}, aborting...\n"
            )
        if not last_file:
            self.p(
                f"Failed to truncate AOF {filepath} to timestamp {self.to_timestamp} "
                f"to offset {epos} because it is not the last file.\n"
            )
            self.die(
                "If you insist, please delete all files after this file according to the "
                "manifest file and delete the corresponding records in manifest file "
                "manually. Then re-run redis-check-aof.\n"
            )
        try:
            os.truncate(filepath, epos)
        except OSError:
            self.die(f"Failed to truncate AOF {filepath} to timestamp {self.to_timestamp}\n")
        return True

    def report(self, label: str, filename: str, ret: int) -> None:
        if ret == CHECK_OK:
            self.p(f"{label}{filename} is valid\n")
        elif ret == CHECK_EMPTY:
            self.p(f"{label}{filename} is empty\n")
        elif ret == CHECK_TIMESTAMP_TRUNCATED:
            self.p(f"Successfully truncated AOF {filename} to timestamp {self.to_timestamp}\n")
        elif ret == CHECK_TRUNCATED:
            self.p(f"Successfully truncated AOF {filename}\n")

    # ------------------------------------------------------------- whole inputs

    def load_manifest(self, manifest_path: str) -> Any:
        try:
            with open(manifest_path, "rb") as f:
                data = f.read()
        except OSError as e:
            self.server_log(
                f"Fatal error: can't open the AOF manifest file {manifest_path} "
                f"for reading: {_strerror(e)}"
            )
            raise _Exit(1) from e
        try:
            return parse_manifest(data)
        except ManifestError as e:
            for msg in e.log_lines():
                self.server_log(msg)
            raise _Exit(1) from e

    def check_multi_part(self, dirpath: str, manifest_path: str) -> None:
        self.p("Start checking Multi Part AOF\n")
        m = self.load_manifest(manifest_path)
        files = m.load_order()
        total = len(files)
        for num, info in enumerate(files, 1):
            last_file = num == total
            filepath = os.path.join(dirpath, info.name)
            if info is m.base:
                rdb = self.file_is_rdb(filepath)
                self.p("Start to check BASE AOF (%s format).\n" % ("RDB" if rdb else "RESP"))
                ret = self.check_single(info.name, filepath, last_file, rdb)
                self.report("BASE AOF ", info.name, ret)
            else:
                if num == (2 if m.base is not None else 1):
                    self.p("Start to check INCR files.\n")
                ret = self.check_single(info.name, filepath, last_file, False)
                self.report("INCR AOF ", info.name, ret)
        self.p("All AOF files and manifest are valid\n")

    def check_old_style(self, filepath: str, preamble: bool) -> None:
        self.p("Start checking Old-Style AOF\n")
        ret = self.check_single(filepath, filepath, True, preamble)
        self.report("AOF ", filepath, ret)


def _parse_args(argv: Sequence[str]) -> tuple[str, bool, int, bool] | str:
    """``(path, fix, to_timestamp, yes)``, or an error message to print."""
    fix = yes = False
    ts: int | None = None
    path: str | None = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--fix":
            fix = True
        elif a in ("-y", "--yes"):
            yes = True
        elif a == "--truncate-to-timestamp":
            if i + 1 >= len(argv):
                return "usage"
            raw = argv[i + 1].encode("utf-8", "surrogateescape")
            value, end, erange = strtol_ex(raw)
            if erange or end != len(raw):
                return "Invalid timestamp, aborting...\n"
            ts = value
            i += 1
        elif path is None:
            path = a
        else:
            return "usage"
        i += 1
    if path is None or (fix and ts is not None):
        return "usage"
    return path, fix, ts or 0, yes


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: IO[str] | None = None,
    stdin: IO[str] | None = None,
) -> int:
    """Run the tool; returns the exit code (0 valid / fixed, 1 error)."""
    if argv is None:
        argv = sys.argv[1:]
    if stdout is None:
        stdout = sys.stdout
        reconfigure = getattr(stdout, "reconfigure", None)
        if reconfigure is not None:  # file names and bytes may not be UTF-8
            reconfigure(errors="surrogateescape")
    out = stdout
    inp = stdin if stdin is not None else sys.stdin
    parsed = _parse_args(argv)
    if isinstance(parsed, str):
        out.write(USAGE % "ember-check-aof" if parsed == "usage" else parsed)
        return 1
    path, fix, to_timestamp, yes = parsed
    checker = AofChecker(out, inp, fix=fix, to_timestamp=to_timestamp, assume_yes=yes)
    try:
        kind = checker.input_type(path)
        if kind == MULTI_PART:
            checker.check_multi_part(os.path.dirname(path) or ".", path)
        else:
            checker.check_old_style(path, kind == RDB_PREAMBLE)
    except _Exit as e:
        out.flush()
        return e.code
    out.flush()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
