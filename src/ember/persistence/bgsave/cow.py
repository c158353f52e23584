"""Forkless point-in-time snapshots with key-level copy-on-write.

Theory of operation
-------------------
At the start of a snapshot (``start()``, the only pause clients see) every non-empty
database contributes a *key list* (``list(db.data)``: references, 8 bytes per key) plus
references to its current ``data`` and ``expires`` dict objects. A *walker* then
serializes those keys in slices on the event loop (1 ms each, then an equal pause for clients) while clients
keep running commands.

The keyspace calls ``server.before_write(db, key)`` before ANY change to a key (see
:mod:`ember.keyspace.db`). The engine's hook applies "serialize before write":

* the first time a key of a snapshotted dict is about to change, the hook records it in
  ``touched``; if the key exists at that moment its value is the value it had at the
  start (any earlier change would have passed through the hook), so the hook serializes
  it right away into ``preserved[key]`` (bytes);
* a key created after the start is absent at its first hook call: it is only marked
  ``touched`` and never saved;
* the walker, reaching key K of the key list: if K is in ``preserved`` it writes those
  bytes (the start value); if K was touched but not preserved it skips K (impossible for
  keys in the list, kept as a guard); otherwise K is unchanged since the start and its
  current value is written.

So the file is exactly the dataset at ``start()``; only keys written during the save
are duplicated, each at most once (``current_cow_size`` = bytes held in ``preserved``).
A write to a key the walker already passed is preserved needlessly (the hook cannot tell
cheaply); those bytes are dropped when the walker finishes.

FLUSHDB/FLUSHALL and SWAPDB replace or swap the dict *objects* held by a ``Db``; the
engine keeps references to the original dicts, keyed by ``id(dict)``, so a flushed db
is still saved as it was, and a swapped one is saved under its original index. Hooks
for dicts that are not part of the snapshot are ignored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ember.keyspace.db import Db
    from ember.server.server import Server


class SnapshotEncoder(Protocol):
    """Turns the snapshot into bytes (RDB or AOF rewrite). Writes go to its own sink."""

    def begin(self) -> None: ...

    def begin_db(self, dbid: int, size: int, expires: int) -> None: ...

    def encode_entry(self, dbid: int, key: bytes, value: Any, expire: int | None) -> bytes: ...

    def write_entries(self, dbid: int, items: list[tuple[bytes, Any, int | None]]) -> None: ...

    def write_raw(self, data: bytes) -> None: ...

    def end(self) -> None: ...


@dataclass
class DbSnapshot:
    dbid: int
    data: dict[bytes, Any]
    expires: dict[bytes, int]
    keys: list[bytes]
    expires_count: int
    pos: int = 0
    touched: set[bytes] = field(default_factory=set)
    preserved: dict[bytes, bytes] = field(default_factory=dict)


@dataclass
class SnapshotStats:
    start_usec: int = 0  # pause at start
    longest_slice_usec: int = 0
    slices: int = 0
    keys_total: int = 0
    keys_processed: int = 0
    loop_serialized: int = 0  # keys written by the walker
    side_saved: int = 0  # keys preserved by the write hook
    preserved_bytes: int = 0  # currently held
    peak_preserved_bytes: int = 0
    cow_since: float = 0.0


class ForklessSnapshot:
    """One snapshot in progress. ``run()`` walks it in slices; ``run_sync()`` all at once."""

    SLICE_SECONDS = 0.001
    # after a slice of t seconds the walker yields for DUTY_PAUSE * t, so clients get at
    # least that share of the loop while a save runs (client p99 stays near one slice)
    DUTY_PAUSE = 1.0
    BATCH = 256

    def __init__(
        self,
        server: Server,
        encoder: SnapshotEncoder,
        key_delay_us: int = 0,
        on_progress: Callable[[], None] | None = None,
    ) -> None:
        self.server = server
        self.encoder = encoder
        self.key_delay_us = key_delay_us
        self.stats = SnapshotStats()
        self.by_dict: dict[int, DbSnapshot] = {}
        self.dbs: list[DbSnapshot] = []
        self.cancelled = False
        self.installed = False
        self.on_progress = on_progress

    # ------------------------------------------------------------------ start / hooks
    def start(self, install_hooks: bool = True) -> None:
        t0 = time.perf_counter_ns()
        for db in self.server.dbs:
            if not db.data:
                continue
            snap = DbSnapshot(db.id, db.data, db.expires, list(db.data), len(db.expires))
            self.dbs.append(snap)
            self.by_dict[id(db.data)] = snap
            self.stats.keys_total += len(snap.keys)
        if install_hooks:
            srv = self.server
            if srv.before_write is not None:
                raise RuntimeError("another snapshot is already installed")
            srv.before_write = self._before_write
            self.installed = True
        self.stats.start_usec = (time.perf_counter_ns() - t0) // 1000

    def _before_write(self, db: Db, key: bytes) -> None:
        snap = self.by_dict.get(id(db.data))
        if snap is None or snap.data is not db.data:
            return
        if key in snap.touched:
            return
        snap.touched.add(key)
        value = snap.data.get(key)
        if value is None:
            return  # created after the start: not part of the snapshot
        blob = self.encoder.encode_entry(snap.dbid, key, value, snap.expires.get(key))
        snap.preserved[key] = blob
        st = self.stats
        st.side_saved += 1
        if not st.preserved_bytes:
            st.cow_since = time.monotonic()
        st.preserved_bytes += len(blob)
        if st.preserved_bytes > st.peak_preserved_bytes:
            st.peak_preserved_bytes = st.preserved_bytes

    def uninstall(self) -> None:
        if self.installed and self.server.before_write == self._before_write:
            self.server.before_write = None
        self.installed = False
        # drop what no longer serves: lets memory go back at once
        for snap in self.dbs:
            snap.preserved.clear()
            snap.touched.clear()
            snap.keys = []
        self.stats.preserved_bytes = 0

    # ------------------------------------------------------------------ walking
    def _walk(self, snap: DbSnapshot, max_keys: int, deadline_ns: int) -> None:
        """Serialize up to ``max_keys`` keys of ``snap`` (or until the deadline)."""
        keys = snap.keys
        data = snap.data
        expires = snap.expires
        preserved = snap.preserved
        touched = snap.touched
        enc = self.encoder
        dbid = snap.dbid
        end = min(len(keys), snap.pos + max_keys)
        pos = snap.pos
        batch: list[tuple[bytes, Any, int | None]] = []
        st = self.stats
        perf = time.perf_counter_ns
        while pos < end:
            stop = min(end, pos + self.BATCH)
            for i in range(pos, stop):
                key = keys[i]
                if touched and key in touched:
                    blob = preserved.pop(key, None)
                    if blob is not None:
                        if batch:
                            enc.write_entries(dbid, batch)
                            st.loop_serialized += len(batch)
                            batch = []
                        enc.write_raw(blob)
                        st.preserved_bytes -= len(blob)
                    continue
                batch.append((key, data[key], expires.get(key) if expires else None))
            if batch:
                enc.write_entries(dbid, batch)
                st.loop_serialized += len(batch)
                batch = []
            st.keys_processed += stop - pos
            pos = stop
            if perf() >= deadline_ns:
                break
        snap.pos = pos

    def _db_done(self, snap: DbSnapshot) -> bool:
        return snap.pos >= len(snap.keys)

    def run_sync(self) -> None:
        """Serialize everything now (SAVE, fork child, shutdown)."""
        enc = self.encoder
        enc.begin()
        for snap in self.dbs:
            enc.begin_db(snap.dbid, len(snap.keys), snap.expires_count)
            self._walk(snap, len(snap.keys), 1 << 62)
        enc.end()

    async def run(self) -> None:
        """Serialize in slices, yielding to the event loop between them."""
        enc = self.encoder
        enc.begin()
        perf = time.perf_counter_ns
        st = self.stats
        delay = self.key_delay_us
        for snap in self.dbs:
            enc.begin_db(snap.dbid, len(snap.keys), snap.expires_count)
            while not self._db_done(snap):
                if self.cancelled:
                    raise asyncio.CancelledError
                t0 = perf()
                if delay > 0:
                    # rdb-key-save-delay: one key per `delay` microseconds, never blocking
                    n = max(1, int(self.SLICE_SECONDS * 1e6 // delay))
                    self._walk(snap, n, 1 << 62)
                else:
                    self._walk(snap, 1 << 40, t0 + int(self.SLICE_SECONDS * 1e9))
                took = (perf() - t0) // 1000
                st.slices += 1
                if took > st.longest_slice_usec:
                    st.longest_slice_usec = took
                if self.on_progress is not None:
                    self.on_progress()
                if delay > 0:
                    await asyncio.sleep(delay * n / 1e6)
                else:
                    await asyncio.sleep(took / 1e6 * self.DUTY_PAUSE)
        enc.end()

    @property
    def cow_size(self) -> int:
        return self.stats.preserved_bytes
