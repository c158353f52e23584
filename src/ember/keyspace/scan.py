"""SCAN-family cursors.

Python dicts cannot be walked by a stable bucket cursor the way Redis walks its hash
table, and positions in insertion order shift when keys are deleted. So the first call
(cursor 0) takes a snapshot of the key list (a list of references, 8 bytes per key, C
speed) and the cursor encodes ``(snapshot id << 32) | offset``. Every key present for the
whole iteration is returned (it is in the snapshot); keys deleted meanwhile are filtered
out; keys added meanwhile may be missed, as Redis allows. If a snapshot was evicted
(more than :data:`MAX_SNAPSHOTS` concurrent scans), the scan restarts from the beginning
of a fresh snapshot: elements may repeat, which SCAN permits, but none is lost.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from ember.errors import CommandError

MAX_SNAPSHOTS = 64


class ScanCursors:
    def __init__(self) -> None:
        self._snaps: OrderedDict[int, list[Any]] = OrderedDict()
        self._next = 1

    def page(
        self, cursor: int, source: Iterable[Any], count: int
    ) -> tuple[int, list[Any]]:
        """Return (next cursor, up to ``count`` candidate elements)."""
        snap_id, offset = cursor >> 32, cursor & 0xFFFFFFFF
        snap = self._snaps.get(snap_id) if snap_id else None
        if snap is None:
            snap = list(source)
            snap_id = self._next
            self._next = self._next % 0x7FFFFFFF + 1
            self._snaps[snap_id] = snap
            if len(self._snaps) > MAX_SNAPSHOTS:
                self._snaps.popitem(last=False)
            offset = 0  # new iteration, or the old snapshot was evicted: start over
        else:
            self._snaps.move_to_end(snap_id)
        end = offset + max(count, 1)
        chunk = snap[offset:end]
        if end >= len(snap):
            self._snaps.pop(snap_id, None)
            return 0, chunk
        return (snap_id << 32) | end, chunk


_ULONG = 1 << 64


def parse_cursor(b: bytes) -> int:
    """A SCAN cursor as Redis reads it (``strtoul``, base 10).

    A leading space is refused; an optional sign is accepted (``-1`` wraps around to
    2**64-1 like the C library does); an empty string is 0; values beyond 64 bits or
    trailing junk are ``ERR invalid cursor``.
    """
    digits = b[1:] if b[:1] in (b"+", b"-") else b
    if b and (not digits or not digits.isdigit()):
        raise CommandError("ERR invalid cursor")
    v = int(digits) if digits else 0
    if v >= _ULONG:
        raise CommandError("ERR invalid cursor")
    return (-v) % _ULONG if b[:1] == b"-" else v
