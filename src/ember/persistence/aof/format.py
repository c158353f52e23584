"""AOF record encoding: RESP arrays of bulk strings and ``#TS:`` annotations.

A record is exactly what Redis ``catAppendOnlyGenericCommand`` writes:
``*<argc>\\r\\n`` then, per argument, ``$<len>\\r\\n<bytes>\\r\\n``.  Arguments are
bytes-like objects (integers must be turned into their decimal text by the caller, as
Redis decodes integer-encoded objects before writing them).

:func:`encode_command` is on the write path of every propagated command, so it avoids
per-call formatting where a precomputed header will do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

AOF_ANNOTATION_LINE_MAX_LEN = 1024
AOF_REWRITE_ITEMS_PER_CMD = 64

_ARRAY_HDR = [b"*%d\r\n" % i for i in range(128)]
_BULK_HDR = [b"$%d\r\n" % i for i in range(1024)]
_CRLF = b"\r\n"

Arg = bytes | bytearray | memoryview


def encode_command(argv: Sequence[Arg]) -> bytes:
    """One AOF record (RESP array of bulk strings) for ``argv``."""
    n = len(argv)
    out: list[Arg] = [_ARRAY_HDR[n] if n < 128 else b"*%d\r\n" % n]
    hdr = _BULK_HDR
    for a in argv:
        size = len(a)
        out += (hdr[size] if size < 1024 else b"$%d\r\n" % size, a, _CRLF)
    return b"".join(out)


def encode_commands(commands: Iterable[Sequence[Arg]]) -> bytes:
    """Several records back to back (e.g. a MULTI ... EXEC block)."""
    out: list[Arg] = []
    hdr = _BULK_HDR
    for argv in commands:
        n = len(argv)
        out.append(_ARRAY_HDR[n] if n < 128 else b"*%d\r\n" % n)
        for a in argv:
            size = len(a)
            out += (hdr[size] if size < 1024 else b"$%d\r\n" % size, a, _CRLF)
    return b"".join(out)


def encode_bulk(value: Arg) -> bytes:
    """``$<len>\\r\\n<value>\\r\\n``."""
    size = len(value)
    return b"".join((_BULK_HDR[size] if size < 1024 else b"$%d\r\n" % size, value, _CRLF))


def encode_select(db: int) -> bytes:
    """The ``SELECT <db>`` record written whenever the target DB changes."""
    return _SELECT[db] if 0 <= db < len(_SELECT) else _encode_select(db)


def _encode_select(db: int) -> bytes:
    return encode_command((b"SELECT", b"%d" % db))


_SELECT = [_encode_select(i) for i in range(16)]


def timestamp_annotation(unix_seconds: int) -> bytes:
    """``#TS:<unix seconds>\\r\\n`` (Redis ``genAofTimestampAnnotationIfNeeded``)."""
    return b"#TS:%d\r\n" % unix_seconds


class TimestampAnnotator:
    """Emits a ``#TS:`` annotation when the second changed since the last one.

    Mirrors ``genAofTimestampAnnotationIfNeeded``: :meth:`annotation` returns the
    annotation to write before the next record, or ``b""`` when none is needed;
    ``force=True`` always returns one (a rewrite starts with one).
    """

    __slots__ = ("last",)

    def __init__(self, last: int = 0) -> None:
        self.last = last

    def annotation(self, now_seconds: int, force: bool = False) -> bytes:
        if force or self.last < now_seconds:
            self.last = now_seconds
            return b"#TS:%d\r\n" % now_seconds
        return b""


__all__ = [
    "AOF_ANNOTATION_LINE_MAX_LEN",
    "AOF_REWRITE_ITEMS_PER_CMD",
    "TimestampAnnotator",
    "encode_bulk",
    "encode_command",
    "encode_commands",
    "encode_select",
    "timestamp_annotation",
]
