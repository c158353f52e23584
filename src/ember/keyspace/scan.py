"""SCAN-family cursors.

Python dicts cannot be walked by a stable bucket cursor the way Redis walks its hash
table, and positions in insertion order shift when keys are deleted. ember keeps the
guarantee that matters to users — every element present for the whole iteration is
returned — with snapshots:

* **Keyspace (SCAN)**: scans share an *epoch*: a list of the database's keys taken once
  (references only, C speed), to which the database appends every key created while the
  epoch is open (``Db.scan_log``). A scan started on an epoch walks that list; keys
  present when it started are all in it, keys deleted meanwhile are filtered out, keys
  added meanwhile may be returned or not. The cursor is ``(epoch id << 40) | offset``, so
  any number of concurrent scans costs one snapshot. A new epoch starts when the database
  object changed (FLUSHDB / SWAPDB), when the open one grew too much, or when it has been
  idle; idle epochs are dropped by a cron job (a cursor of a dropped epoch restarts from
  the beginning of a new one: elements may repeat, which SCAN permits).
* **Collections (HSCAN, SSCAN, ZSCAN)**: one snapshot per iteration, kept while the
  iteration is active (time based, with a generous count cap).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ember.errors import CommandError

if TYPE_CHECKING:
    from ember.keyspace.db import Db

OFFSET_BITS = 40
OFFSET_MASK = (1 << OFFSET_BITS) - 1
EPOCH_IDLE_CLOSE = 10.0  # seconds without a new SCAN before an epoch stops logging keys
EPOCH_IDLE_DROP = 300.0  # seconds without any SCAN call before an epoch is forgotten
MAX_EPOCHS = 64
MAX_SNAPSHOTS = 4096  # collection scans kept at once (least recently used dropped)
SNAPSHOT_IDLE = 300.0


class _Epoch:
    __slots__ = ("id", "data", "keys", "started", "used")

    def __init__(self, eid: int, db: Db, now: float) -> None:
        self.id = eid
        self.data = db.data
        self.keys = list(db.iter_keys())
        self.started = now
        self.used = now


class KeyspaceScans:
    """The SCAN epochs of one database."""

    def __init__(self) -> None:
        self.epochs: OrderedDict[int, _Epoch] = OrderedDict()
        self.active: _Epoch | None = None
        self.next_id = 1

    def page(self, db: Db, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """(next cursor, up to ``count`` candidate keys: the caller filters deleted ones)."""
        now = time.monotonic()
        eid, offset = cursor >> OFFSET_BITS, cursor & OFFSET_MASK
        epoch = self.epochs.get(eid) if cursor else None
        if epoch is None or epoch.data is not db.data:
            epoch = self._epoch_for_new_scan(db, now)
            offset = 0
        else:
            self.epochs.move_to_end(eid)
        epoch.used = now
        keys = epoch.keys
        end = offset + max(count, 1)
        chunk = keys[offset:end]
        if end >= len(keys):
            return 0, chunk
        return (epoch.id << OFFSET_BITS) | end, chunk

    def _epoch_for_new_scan(self, db: Db, now: float) -> _Epoch:
        act = self.active
        if (
            act is not None
            and act.data is db.data
            and db.scan_log is act.keys
            and len(act.keys) <= 2 * len(db) + 1024
        ):
            act.started = now
            self.epochs.move_to_end(act.id)
            return act
        epoch = _Epoch(self.next_id, db, now)
        self.next_id = self.next_id % ((1 << 22) - 1) + 1
        self.epochs[epoch.id] = epoch
        self.active = epoch
        db.scan_log = epoch.keys  # keys created from now on are appended to the epoch
        while len(self.epochs) > MAX_EPOCHS:
            self.epochs.popitem(last=False)
        return epoch

    def cron(self, db: Db, now: float) -> None:
        """Stop logging new keys into an idle epoch; forget epochs nobody uses."""
        act = self.active
        if act is not None and (
            now - act.started > EPOCH_IDLE_CLOSE
            or act.data is not db.data
            or len(act.keys) > 2 * len(db) + 1024
        ):
            if db.scan_log is act.keys:
                db.scan_log = None
            self.active = None
        for eid in [e.id for e in self.epochs.values() if now - e.used > EPOCH_IDLE_DROP]:
            del self.epochs[eid]


def keyspace_scans(srv: Any, db: Db) -> KeyspaceScans:
    """The SCAN state of ``db`` (kept on the server; a cron job trims it)."""
    table: dict[int, KeyspaceScans] | None = getattr(srv, "keyspace_scans", None)
    if table is None:
        table = srv.keyspace_scans = {}

        def cron() -> None:
            now = time.monotonic()
            for d in srv.dbs:
                st = table.get(d.id)
                if st is not None:
                    st.cron(d, now)

        srv.cron_jobs.append(cron)
    st = table.get(db.id)
    if st is None:
        st = table[db.id] = KeyspaceScans()
    return st


class ScanCursors:
    """Snapshots of collections being scanned (HSCAN, SSCAN, ZSCAN)."""

    def __init__(self) -> None:
        self._snaps: OrderedDict[int, tuple[list[Any], float]] = OrderedDict()
        self._next = 1

    def page(self, cursor: int, source: Iterable[Any], count: int) -> tuple[int, list[Any]]:
        """Return (next cursor, up to ``count`` candidate elements)."""
        now = time.monotonic()
        snap_id, offset = cursor >> 32, cursor & 0xFFFFFFFF
        entry = self._snaps.get(snap_id) if snap_id else None
        if entry is None:
            snap = list(source)
            snap_id = self._next
            self._next = self._next % 0x7FFFFFFF + 1
            offset = 0  # new iteration, or the old snapshot was dropped: start over
        else:
            snap = entry[0]
            self._snaps.move_to_end(snap_id)
        end = offset + max(count, 1)
        chunk = snap[offset:end]
        if end >= len(snap):
            self._snaps.pop(snap_id, None)
            return 0, chunk
        self._snaps[snap_id] = (snap, now)
        self._trim(now)
        return (snap_id << 32) | end, chunk

    def _trim(self, now: float) -> None:
        snaps = self._snaps
        while snaps:
            first = next(iter(snaps.values()))
            if len(snaps) > MAX_SNAPSHOTS or now - first[1] > SNAPSHOT_IDLE:
                snaps.popitem(last=False)
            else:
                break


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
