"""Incremental, sans-IO AOF parser.

The parser is fed bytes (``feed``) and told about the end of the input (``close``); it
returns events and never touches a file.  Events, in file order:

* :class:`Preamble` -- the file starts with an RDB (``REDIS`` / ``VALKEY`` magic); the
  decoded RDB and the offset where RESP begins (just after the RDB checksum).
* :class:`Command` -- ``(argv, start, end)``: one RESP record and its byte range.
* :class:`Annotation` -- a ``#`` line (``#TS:<unix>`` timestamps) and its byte range.
* :class:`End` -- always the last event (returned by ``close`` or on a fatal error):
  clean EOF, truncated tail, unterminated MULTI, format error, or bad RDB preamble,
  with the offsets a loader or ``--fix`` needs.

Two modes reproduce the two Redis readers byte for byte:

``loader`` -- ``loadSingleAppendOnlyFile`` (Redis 7.0): lines read with
    ``fgets(buf, 1024)``, ``argc = atoi()`` must be >= 1, bulk lengths with ``strtol``,
    the two bytes after a bulk payload are skipped *without* checking they are CRLF,
    annotations skipped.  EOF inside a record is a truncation whose ``offset`` is the end
    of the last complete command (Redis ``valid_up_to``); a clean EOF inside MULTI asks to
    revert to just before that MULTI (``valid_before_multi``).

``check`` -- ``redis-check-aof`` 7.0: ``*``/``$`` lines read with ``fgets(buf, 128)``,
    numbers with ``strtol`` that must be followed by CRLF, strict CRLF after payloads,
    nested MULTI / EXEC without MULTI flagged, its line counter, and its ``ok_up_to``
    (start of the first bad record, or of the open MULTI) as ``End.offset``.

What to *do* about a truncated tail (truncate the file and go on, or refuse) is the
loader's policy; the parser only reports.  Executing commands, unknown commands and MULTI
semantics belong to the server; in loader mode the parser can optionally hold back the
commands of a transaction until its EXEC (``hold_transactions=True``), so an unterminated
transaction is never handed out.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from ember.persistence.aof._cparse import (
    LONG_MAX,
    atoi,
    c_char,
    c_hex_char,
    cstr,
    fgets_end,
    strtol,
    strtol_ex,
)

AOF_LINE_SIZE = 1024  # loader: char buf[AOF_ANNOTATION_LINE_MAX_LEN] with fgets
CHECK_LINE_SIZE = 128  # redis-check-aof readLong: char buf[128]
CHECK_ANNOTATION_SIZE = 1024  # redis-check-aof processAnnotations

RDB_MAGICS = (b"REDIS", b"VALKEY")


class ParseMode(enum.StrEnum):
    LOADER = "loader"
    CHECK = "check"


class EndStatus(enum.StrEnum):
    OK = "ok"
    TRUNCATED = "truncated"  # EOF inside a record
    UNTERMINATED_MULTI = "unterminated-multi"  # clean EOF with a MULTI not closed by EXEC
    FORMAT_ERROR = "format-error"
    PREAMBLE_ERROR = "preamble-error"  # the RDB preamble / RDB base does not load


# Redis's texts for each outcome (loadSingleAppendOnlyFile / redis-check-aof).
REASON_OK = "OK"
REASON_EOF = "Unexpected end of file reading the append only file"
REASON_MULTI = "Revert incomplete MULTI/EXEC transaction in AOF file"
REASON_FORMAT = "Bad file format reading the append only file"
REASON_READ = "Unrecoverable error reading the append only file"
REASON_PREAMBLE = "Error reading the RDB preamble of the AOF file"
CHECK_FORMAT_ERROR = "format error"
CHECK_EOF_IN_MULTI = "Reached EOF before reading EXEC for MULTI"


class Command(NamedTuple):
    """One record: its arguments and ``[start, end)`` byte range in the file."""

    argv: list[bytes]
    start: int
    end: int


class Annotation(NamedTuple):
    """A ``#`` line as read (at most 1023 bytes, CRLF included when present)."""

    line: bytes
    start: int
    end: int

    @property
    def timestamp(self) -> int | None:
        """The value of a valid ``#TS:<n>\\r`` annotation, else ``None``."""
        return parse_timestamp(self.line)


class Preamble(NamedTuple):
    """An RDB at the start of the file; RESP (if any) starts at ``end``."""

    rdb: Any
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class End:
    """How parsing ended.  Always the last event.

    ``offset``:
      * loader mode -- ``OK``: size; ``TRUNCATED``: where Redis truncates the file (end
        of the last complete command, ``valid_up_to``); ``UNTERMINATED_MULTI``: where
        Redis reverts to (``valid_before_multi``: end of the last command before the open
        MULTI); ``FORMAT_ERROR``: start of the offending line; ``PREAMBLE_ERROR``: the
        RDB reader's error offset (or 0).
      * check mode -- redis-check-aof's ``ok_up_to``: what ``--fix`` keeps.
    ``valid_up_to`` is the end of the last complete command (``resp_start`` when none).
    ``before_multi`` is set when the input ended inside a MULTI.
    ``error``/``error_offset``/``line`` are redis-check-aof's error text (with its
    ``0x...:`` prefix), ``epos`` and line counter (check mode).
    """

    status: EndStatus
    offset: int
    reason: str
    size: int
    resp_start: int = 0
    valid_up_to: int = 0
    before_multi: int | None = None
    error: str | None = None
    error_offset: int | None = None
    line: int = 1
    dropped: int = 0  # held commands of an unterminated transaction (hold_transactions)

    @property
    def ok(self) -> bool:
        return self.status is EndStatus.OK

    @property
    def truncated(self) -> bool:
        """A tail that ``aof-load-truncated yes`` would cut off (EOF or open MULTI)."""
        return self.status in (EndStatus.TRUNCATED, EndStatus.UNTERMINATED_MULTI)


Event = Command | Annotation | Preamble | End


def parse_timestamp(line: bytes) -> int | None:
    """``#TS:<n>`` as redis-check-aof reads it (``strtol`` ending at ``\\r``)."""
    if not line.startswith(b"#TS:"):
        return None
    text = cstr(line)
    value, end, erange = strtol_ex(text, 4)
    if erange or end >= len(text) or text[end] != 0x0D:
        return None
    return value


def _check_error(epos: int, msg: str) -> str:
    # redis-check-aof formats into a C string and prints it with %s: a NUL ends it
    text = "0x%16x: %s" % (epos, msg)  # noqa: UP031 - mirrors the C format "0x%16llx"
    nul = text.find("\0")
    return text if nul < 0 else text[:nul]


_DETECT, _PREAMBLE, _TOP, _HDR, _PAYLOAD, _DONE = range(6)
_INF = 1 << 62


def _default_rdb_loader(data: bytes) -> Any:
    from ember.persistence.rdb.reader import load_rdb  # lazy: sibling package

    return load_rdb(data)


def _rdb_error_types() -> tuple[type[BaseException], ...]:
    try:
        from ember.persistence.rdb.errors import RdbFormatError
    except ImportError:  # pragma: no cover - the RDB package is always there
        return (ValueError,)
    return (RdbFormatError,)


class AofParser:
    """Incremental AOF parser (see the module docstring).

    ``offset``: absolute offset of the first byte fed (for reporting).  ``preamble``:
    detect an RDB preamble at the start (default: when ``offset`` is 0).  ``line``:
    starting value of redis-check-aof's line counter (it carries over between the files
    of a multi-part AOF).  ``name``: file name used in check-mode messages.
    ``rdb_loader``: ``bytes -> RdbFile`` (default ``ember.persistence.rdb.reader.load_rdb``);
    must expose ``.end_offset``.
    """

    def __init__(
        self,
        mode: ParseMode | str = ParseMode.LOADER,
        *,
        offset: int = 0,
        preamble: bool | None = None,
        line: int = 1,
        name: str = "",
        hold_transactions: bool = False,
        rdb_loader: Callable[[bytes], Any] | None = None,
    ) -> None:
        self.mode = ParseMode(mode)
        self._check = self.mode is ParseMode.CHECK
        self.name = name
        self._hold = hold_transactions and not self._check
        self._rdb_loader = rdb_loader
        self._buf = b""
        self._pos = 0
        self._base = offset
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._need = 0
        if preamble is None:
            preamble = offset == 0
        self._state = _DETECT if preamble else _TOP
        self._resp_start = offset
        # current record
        self._argc = 0
        self._args: list[bytes] = []
        self._rec_start = 0
        self._blen = 0
        # loader mode
        self._valid_up_to = offset
        self._before_multi = offset
        self._in_multi = False
        self._held: list[Command | Annotation] = []
        # check mode
        self._multi = 0
        self._ok_up_to = offset
        self._epos = 0
        self._line = line
        self._error: str | None = None
        self._at_eof = False
        self._star_buf = bytearray(CHECK_LINE_SIZE + 1)
        self.end: End | None = None
        self.preamble: Preamble | None = None

    # ------------------------------------------------------------------ public API

    @property
    def line(self) -> int:
        """redis-check-aof's line counter so far (check mode)."""
        return self._line

    @property
    def valid_up_to(self) -> int:
        """End offset of the last complete command (loader mode)."""
        return self._valid_up_to

    @property
    def in_multi(self) -> bool:
        return self._multi > 0 if self._check else self._in_multi

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Add input; returns the events it completes (the last may be an :class:`End`)."""
        if self.end is not None or not data:
            return []
        chunk = data if type(data) is bytes else bytes(data)
        self._pending.append(chunk)
        self._pending_len += len(chunk)
        if self._base + len(self._buf) + self._pending_len < self._need:
            return []
        self._join()
        return self._run(False)

    def close(self) -> list[Event]:
        """Signal end of input; returns the remaining events, the last being :class:`End`."""
        if self.end is not None:
            return []
        self._join()
        return self._run(True)

    # ------------------------------------------------------------------ internals

    def _join(self) -> None:
        if not self._pending:
            return
        rest = self._buf[self._pos :] if self._pos < len(self._buf) else b""
        if not rest and len(self._pending) == 1:
            buf = self._pending[0]
        else:
            self._pending.insert(0, rest)
            buf = b"".join(self._pending)
        self._base += self._pos
        self._buf = buf
        self._pos = 0
        self._pending = []
        self._pending_len = 0

    def _run(self, eof: bool) -> list[Event]:
        out: list[Event] = []
        if self._state == _DETECT:
            self._detect(eof)
        if self._state == _PREAMBLE:
            if not eof:
                self._need = _INF
                return out
            self._load_preamble(out)
        if self._state in (_TOP, _HDR, _PAYLOAD):
            if self._check:
                self._run_check(out, eof)
            else:
                self._run_loader(out, eof)
        return out

    def _detect(self, eof: bool) -> None:
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if avail == 0:
            if eof:
                self._state = _TOP
            else:
                self._need = self._base + pos + 1
            return
        first = buf[pos]
        for magic in RDB_MAGICS:
            if first != magic[0]:
                continue
            if avail < len(magic) and not eof:
                self._need = self._base + pos + len(magic)
                return
            if buf[pos : pos + len(magic)] == magic:
                self._state = _PREAMBLE
                return
        self._state = _TOP

    def _load_preamble(self, out: list[Event]) -> None:
        data = self._buf[self._pos :]
        if self._check and len(data) < 8:
            # redis-check-aof only treats files of >= 8 bytes as RDB (fileIsRDB)
            self._state = _TOP
            return
        loader = self._rdb_loader or _default_rdb_loader
        try:
            rdb = loader(data)
        except _rdb_error_types() as exc:
            off = getattr(exc, "offset", None)
            self._finish(
                out,
                EndStatus.PREAMBLE_ERROR,
                self._base + (off or 0),
                f"{REASON_PREAMBLE}: {exc}",
            )
            return
        end = self._base + self._pos + int(rdb.end_offset)
        self.preamble = Preamble(rdb, self._base + self._pos, end)
        out.append(self.preamble)
        self._pos = end - self._base
        self._resp_start = end
        self._valid_up_to = end
        self._before_multi = end
        self._ok_up_to = end
        self._state = _TOP

    def _finish(self, out: list[Event], status: EndStatus, offset: int, reason: str) -> None:
        size = self._base + len(self._buf)
        dropped = 0
        if self._held:
            dropped = sum(1 for e in self._held if isinstance(e, Command))
            self._held = []
        end = End(
            status=status,
            offset=offset,
            reason=reason,
            size=size,
            resp_start=self._resp_start,
            valid_up_to=self._valid_up_to,
            before_multi=(self._before_multi if self.in_multi else None),
            error=self._error,
            error_offset=self._epos if self._error is not None else None,
            line=self._line,
            dropped=dropped,
        )
        self.end = end
        self._state = _DONE
        out.append(end)

    # ---------------------------------------------------------------- loader mode

    def _run_loader(self, out: list[Event], eof: bool) -> None:
        buf = self._buf
        pos = self._pos
        n = len(buf)
        base = self._base
        state = self._state
        args = self._args
        argc = self._argc
        blen = self._blen
        rec_start = self._rec_start
        hold = self._hold
        emit = out.append
        while True:
            if state == _PAYLOAD:
                end = pos + blen + 2
                if end > n:
                    if eof:
                        self._pos = pos
                        self._finish(out, EndStatus.TRUNCATED, self._valid_up_to, REASON_EOF)
                        return
                    self._need = base + end
                    break
                args.append(buf[pos : pos + blen])
                pos = end
                if len(args) < argc:
                    state = _HDR
                    continue
                # a complete command
                cmd = Command(args, rec_start, base + pos)
                a0 = args[0]
                la0 = len(a0)
                if la0 == 5 and a0.lower() == b"multi":
                    self._before_multi = self._valid_up_to
                    self._in_multi = True
                    if hold:
                        self._held.append(cmd)
                    else:
                        emit(cmd)
                elif la0 == 4 and self._in_multi and a0.lower() == b"exec":
                    self._in_multi = False
                    if hold:
                        out.extend(self._held)
                        self._held = []
                    emit(cmd)
                elif hold and self._in_multi:
                    self._held.append(cmd)
                else:
                    emit(cmd)
                self._valid_up_to = base + pos
                args = []
                state = _TOP
                continue

            # _TOP or _HDR: both need one fgets(buf, 1024) line
            if pos >= n:
                if eof:
                    self._pos = pos
                    if state == _TOP:
                        if self._in_multi:
                            self._finish(
                                out,
                                EndStatus.UNTERMINATED_MULTI,
                                self._before_multi,
                                REASON_MULTI,
                            )
                        else:
                            self._finish(out, EndStatus.OK, base + pos, REASON_OK)
                    else:
                        self._finish(out, EndStatus.TRUNCATED, self._valid_up_to, REASON_EOF)
                    return
                self._need = base + n + 1
                break
            nl = buf.find(b"\n", pos, pos + AOF_LINE_SIZE - 1)
            if nl >= 0:
                lend = nl + 1
            elif n - pos >= AOF_LINE_SIZE - 1:
                lend = pos + AOF_LINE_SIZE - 1
            elif eof:
                lend = n
            else:
                self._need = base + n + 1
                break
            c = buf[pos]
            if state == _TOP:
                if c == 0x2A:  # '*'
                    if nl >= 0 and buf[nl - 1] == 0x0D:
                        text = buf[pos + 1 : nl - 1]
                        if text.isdigit() and len(text) < 10:
                            value = int(text)
                        else:
                            value = None
                    else:
                        value = None
                    if value is None:
                        line = buf[pos:lend]
                        if len(line) == 1 or line[1] == 0:
                            # fgets gave "*" alone (EOF) or "*\0...": Redis 'readerr'
                            self._pos = pos
                            at_eof = eof and lend == n and line[-1] != 0x0A
                            if at_eof:
                                self._finish(
                                    out, EndStatus.TRUNCATED, self._valid_up_to, REASON_EOF
                                )
                            else:
                                self._finish(out, EndStatus.FORMAT_ERROR, base + pos, REASON_READ)
                            return
                        value = atoi(cstr(line), 1)
                    if value < 1:
                        self._pos = pos
                        self._finish(out, EndStatus.FORMAT_ERROR, base + pos, REASON_FORMAT)
                        return
                    argc = value
                    rec_start = base + pos
                    args = []
                    pos = lend
                    state = _HDR
                elif c == 0x23:  # '#'
                    ann = Annotation(buf[pos:lend], base + pos, base + lend)
                    if hold and self._in_multi:
                        self._held.append(ann)
                    else:
                        emit(ann)
                    pos = lend
                else:
                    self._pos = pos
                    self._finish(out, EndStatus.FORMAT_ERROR, base + pos, REASON_FORMAT)
                    return
            else:  # _HDR
                if c != 0x24:  # '$'
                    self._pos = pos
                    self._finish(out, EndStatus.FORMAT_ERROR, base + pos, REASON_FORMAT)
                    return
                if nl >= 0 and buf[nl - 1] == 0x0D:
                    text = buf[pos + 1 : nl - 1]
                    if text.isdigit() and len(text) < 18:
                        blen = int(text)
                    else:
                        blen = strtol(cstr(buf[pos:lend]), 1)[0]
                else:
                    blen = strtol(cstr(buf[pos:lend]), 1)[0]
                if blen < 0:
                    # Redis reads it as unsigned and dies allocating ~2^64 bytes
                    self._pos = pos
                    self._finish(out, EndStatus.FORMAT_ERROR, base + pos, REASON_FORMAT)
                    return
                pos = lend
                state = _PAYLOAD
        self._pos = pos
        self._state = state
        self._args = args
        self._argc = argc
        self._blen = blen
        self._rec_start = rec_start

    # ----------------------------------------------------------------- check mode

    def _fail(self, out: list[Event], msg: str | None, truncated: bool) -> None:
        if msg is not None:
            self._error = _check_error(self._epos, msg)
        status = EndStatus.TRUNCATED if truncated else EndStatus.FORMAT_ERROR
        if self._error is None and self._multi:
            # EOF inside a transaction: redis-check-aof reports the MULTI
            self._error = _check_error(self._epos, CHECK_EOF_IN_MULTI)
        reason = self._error or (CHECK_FORMAT_ERROR if not truncated else REASON_EOF)
        self._finish(out, status, self._ok_up_to, reason)

    def _read_long(self, prefix: int, eof: bool) -> tuple[int, int] | None:
        """redis-check-aof ``readLong``: ``(value, line_end)``; ``(-1, -1)`` = failed
        (``self._error`` set, or EOF); ``None`` = need more input."""
        buf, pos = self._buf, self._pos
        lend = fgets_end(buf, pos, CHECK_LINE_SIZE, eof)
        if lend < 0:
            self._need = self._base + len(buf) + 1
            return None
        self._epos = self._base + pos
        # did this read run into the end of the input (a cut record, not a bad one)?
        self._at_eof = eof and lend == len(buf) and (lend == pos or buf[lend - 1] != 0x0A)
        if lend == pos:
            return (-1, -1)
        chunk = buf[pos:lend]
        # The C buffer after fgets: the line, its NUL terminator, then whatever the stack
        # held.  Observed on redis-check-aof 7.0.15 (x86-64): a '*' line sees the rest of
        # the previous '*' line, a '$' line sees zeros.  It only shows in the error text
        # for a line cut by EOF right after its digits.
        k = len(chunk)
        if prefix == 0x2A:
            cbuf = self._star_buf
            cbuf[0:k] = chunk
            cbuf[k] = 0
        else:
            cbuf = bytearray(chunk) + bytes(CHECK_LINE_SIZE + 1 - k)
        if chunk[0] != prefix:
            self._error = _check_error(
                self._epos, f"Expected prefix '{chr(prefix)}', got: '{c_char(chunk[0])}'"
            )
            return (-1, -1)
        value, e = strtol(cstr(chunk), 1)
        if cbuf[e] != 0x0D or cbuf[e + 1] != 0x0A:
            self._error = _check_error(
                self._epos,
                f"Expected \\r\\n, got: {c_hex_char(cbuf[e])}{c_hex_char(cbuf[e + 1])}",
            )
            return (-1, -1)
        self._line += 1
        return (value, lend)

    def _run_check(self, out: list[Event], eof: bool) -> None:
        while True:
            state = self._state
            buf = self._buf
            pos = self._pos
            n = len(buf)
            if state == _TOP:
                if not self._multi:
                    self._ok_up_to = self._base + pos
                if pos >= n:
                    if not eof:
                        self._need = self._base + n + 1
                        return
                    if self._multi:
                        self._error = _check_error(self._epos, CHECK_EOF_IN_MULTI)
                        self._finish(out, EndStatus.UNTERMINATED_MULTI, self._ok_up_to, self._error)
                    else:
                        self._finish(out, EndStatus.OK, self._base + pos, REASON_OK)
                    return
                c = buf[pos]
                if c == 0x23:  # '#'
                    lend = fgets_end(buf, pos, CHECK_ANNOTATION_SIZE, eof)
                    if lend < 0:
                        self._need = self._base + n + 1
                        return
                    self._epos = self._base + pos
                    out.append(Annotation(buf[pos:lend], self._base + pos, self._base + lend))
                    self._pos = lend
                    continue
                if c != 0x2A:  # not '*'
                    self._finish(out, EndStatus.FORMAT_ERROR, self._ok_up_to, CHECK_FORMAT_ERROR)
                    return
                self._rec_start = self._base + pos
                r = self._read_long(0x2A, eof)
                if r is None:
                    return
                value, lend = r
                if lend < 0:
                    self._fail(out, None, self._at_eof)
                    return
                self._argc = value
                self._args = []
                self._pos = lend
                self._state = _HDR
                if value <= 0:
                    self._emit_check(out)
                continue
            if state == _HDR:
                r = self._read_long(0x24, eof)
                if r is None:
                    return
                value, lend = r
                if lend < 0:
                    self._fail(out, None, self._at_eof)
                    return
                if value < 0 or value > LONG_MAX - 2:
                    self._fail(
                        out,
                        f"Expected to read string of {value} bytes, "
                        "which is not in the suitable range",
                        False,
                    )
                    return
                self._blen = value
                self._pos = lend
                self._state = _PAYLOAD
                continue
            # _PAYLOAD
            need = self._blen + 2
            if n - pos < need:
                if not eof:
                    self._need = self._base + pos + need
                    return
                self._epos = self._base + pos
                self._fail(out, f"Expected to read {need} bytes, got {n - pos} bytes", True)
                return
            self._epos = self._base + pos
            end = pos + need
            if buf[end - 2] != 0x0D or buf[end - 1] != 0x0A:
                self._fail(
                    out,
                    f"Expected \\r\\n, got: {c_hex_char(buf[end - 2])}{c_hex_char(buf[end - 1])}",
                    False,
                )
                return
            self._line += 1
            arg = buf[pos : end - 2]
            self._pos = end
            if not self._args:
                name = cstr(arg).lower()
                if name == b"multi":
                    self._multi += 1
                    if self._multi > 1:
                        self._fail(out, f"Unexpected MULTI in AOF {self.name}", False)
                        return
                elif name == b"exec":
                    self._multi -= 1
                    if self._multi:
                        self._fail(out, f"Unexpected EXEC in AOF {self.name}", False)
                        return
            self._args.append(arg)
            self._state = _HDR
            if len(self._args) >= self._argc:
                self._emit_check(out)

    def _emit_check(self, out: list[Event]) -> None:
        out.append(Command(self._args, self._rec_start, self._base + self._pos))
        self._args = []
        self._state = _TOP


# ---------------------------------------------------------------------- helpers


@dataclass(frozen=True, slots=True)
class ParsedAof:
    """Result of :func:`parse_aof`: the events (without the End), the End, the preamble."""

    events: list[Command | Annotation | Preamble]
    end: End
    preamble: Preamble | None

    @property
    def commands(self) -> list[Command]:
        return [e for e in self.events if isinstance(e, Command)]


def parse_aof(
    data: bytes | bytearray | memoryview,
    mode: ParseMode | str = ParseMode.LOADER,
    **kwargs: Any,
) -> ParsedAof:
    """Parse a whole file at once (same parser, one ``feed`` and a ``close``)."""
    p = AofParser(mode, **kwargs)
    events = p.feed(data)
    events += p.close()
    end = events.pop()
    assert isinstance(end, End)
    return ParsedAof(events, end, p.preamble)  # type: ignore[arg-type]


def iter_commands(data: bytes | bytearray | memoryview, **kwargs: Any) -> Iterator[Command]:
    """The commands of a complete file (loader mode); raises ``ValueError`` unless it
    ends cleanly."""
    parsed = parse_aof(data, ParseMode.LOADER, **kwargs)
    if not parsed.end.ok:
        raise ValueError(f"{parsed.end.reason} (offset {parsed.end.offset})")
    return iter(parsed.commands)


def find_resp_start(data: bytes, rdb_loader: Callable[[bytes], Any] | None = None) -> int:
    """Offset where RESP begins: 0, or just after the checksum of an RDB preamble."""
    if not any(data.startswith(m) for m in RDB_MAGICS):
        return 0
    loader = rdb_loader or _default_rdb_loader
    return int(loader(bytes(data)).end_offset)


__all__ = [
    "AofParser",
    "Annotation",
    "Command",
    "End",
    "EndStatus",
    "Event",
    "ParseMode",
    "ParsedAof",
    "Preamble",
    "find_resp_start",
    "iter_commands",
    "parse_aof",
    "parse_timestamp",
]
