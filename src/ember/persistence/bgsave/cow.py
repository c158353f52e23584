"""Forkless point-in-time snapshots with key-level copy-on-write.

Theory of operation
-------------------
At the start of a snapshot (``start()``, the only pause clients see) every non-empty
database is *structurally frozen* (:meth:`ember.keyspace.db.Db.freeze`): from then on its
``data`` dict object never changes size and never gets new keys, so it is never resized
and ONE live iterator over ``data.items()``, created at the start, stays valid across
all the slices of the save. The start is O(number of databases): no key is copied (it
records ``len(data)`` / ``len(expires)`` for RESIZEDB and the progress counters). If a
previous snapshot's overlay is still being merged back (see *Thaw*) the new snapshot
takes it over as it is: its tombstones stay (the walker skips them) and its pending
``adds`` (keys created during that save and not merged yet) are copied with one C-level
``dict`` copy and walked after the dict; that one case costs O(those keys).

While frozen the keyspace works in *overlay mode* (see :mod:`ember.keyspace.db`):
a deleted key becomes a tombstone (``data[key] = None``), a new key goes to the db's
``adds`` dict (or replaces its own tombstone in place), and replacing or modifying the
value of an existing key is an ordinary same-size store. A *walker* serializes the frozen
dict in slices on the event loop (0.25 ms each, then a pause for clients, see ``run``) while
clients keep running commands.

The keyspace calls ``server.before_write(db, key)`` before ANY change to a key (see
:mod:`ember.keyspace.db`). The engine's hook applies "serialize before write":

* the first time a key of a snapshotted dict is about to change, the hook records it in
  ``touched`` (16 dicts, by hash); if the key exists in the dict (or in the copied
  ``adds`` of a previous save) at that moment its value is the value it had at the
  start (any earlier change would have passed through the hook), so the hook serializes
  it right away, appends (key, record) to the db's ``held`` arena
  (:class:`~ember.persistence.bgsave.held.HeldArena`: a buffer, spilled to an unnamed
  temp file past 512 KB, no Python object per record) and marks the key ``HELD``;
* a key created after the start is absent from the dict at its first hook call (it is in
  ``adds``, or a tombstone): it is only marked ``NOTHING`` and never saved;
* the walker, reaching (key, value) of the frozen dict: if the key was touched, it skips
  it, and a ``HELD`` mark becomes ``CONFIRMED`` (the walker had not passed the key when
  it was first written: its held record belongs in the file). An untouched key is
  unchanged since the start: its current value and expire are written. Every tombstone
  made during this save is a touched key.
* when the walker has passed every key of a db, the hook stops recording for it and the
  walker reads the arena back, in slices, writing the records of ``CONFIRMED`` keys at
  the end of that db's section. A ``HELD`` record that was never confirmed is a key
  written after the walker had passed it: the walker wrote its start value already, so
  that record is dropped (the hook cannot tell cheaply where the walker is).

So the file is exactly the dataset at ``start()``; only keys written during the save
are duplicated, each at most once. Per written key the engine keeps in memory only
the key and its ``touched`` slot, about 100 bytes (``current_cow_size`` = bytes of held
records, in memory or spilled).

Safety net: the walker checks ``len(data)`` against the start size at every slice and
the dict iterator raises if the dict changed size; either way the save FAILS with
:class:`SnapshotIntegrityError` (a bug somewhere bypassed the ``Db`` methods) rather
than writing a wrong file.

FLUSHDB/FLUSHALL and SWAPDB replace or swap the dict *objects* held by a ``Db`` (the
freeze and the overlay belong to the dict and move with it); the engine keeps
references to the original dicts, keyed by ``id(dict)``, so a flushed db is still saved
as it was, and a swapped one is saved under its original index. Hooks for dicts that
are not part of the snapshot are ignored.

Thaw: when the walker finishes (or the save is cancelled or fails) ``uninstall()``
merges each overlay back (``adds`` into ``data``, tombstones deleted): O(writes made
during the save), synchronously when small or without an event loop, otherwise in 1 ms
slices on the event loop. Until a db's merge is complete its overlay rules keep
applying, so the keyspace stays correct throughout.

SAVE, shutdown and the fork engine's child (``start(install_hooks=False)``) see no
concurrent change: they freeze nothing and walk the live view (:meth:`Db.items`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import TYPE_CHECKING, Any, Protocol

from ember.persistence.bgsave.held import HeldArena

if TYPE_CHECKING:
    from ember.keyspace.db import Db
    from ember.server.server import Server


# the states of a touched key
NOTHING = None  # created after the start: nothing to write
HELD = False  # its start value is in the arena, not (yet) known to be needed
CONFIRMED = True  # the walker reached it after it was held: the record goes in the file
TOUCHED_SHARDS = 16  # a power of two


class SnapshotIntegrityError(RuntimeError):
    """A frozen dict changed size during a forkless save: the save is abandoned."""


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
    size: int  # keys at the start (RESIZEDB)
    expires_count: int
    items: Iterator[tuple[bytes, Any]]  # live iterator over ``data`` (or the live view)
    slots: int  # entries ``items`` yields (keys, plus tombstones left by a previous save)
    frozen: bool = False  # ``data`` was frozen by this snapshot and not thawed yet
    data_len: int = 0  # len(data) at the start: a frozen dict keeps it
    extra: dict[bytes, Any] | None = None  # a previous save's unmerged ``adds``, copied
    had_tombs: bool = False  # tombstones of a previous save were in ``data`` at the start
    pos: int = 0
    # every key touched since the start -> NOTHING, HELD or CONFIRMED (see the module
    # doc), in TOUCHED_SHARDS dicts by hash: their growth leaves far less freed memory
    # behind than one big dict (~10 instead of ~20 bytes per key at 200k keys); the
    # start values of HELD/CONFIRMED keys are in ``held``
    touched: list[dict[bytes, bool | None]] = field(default_factory=list)
    ntouched: int = 0
    held: HeldArena = field(default_factory=HeldArena)
    walked: bool = False  # every key was passed: the hook ignores this db now
    tail: Iterator[tuple[bytes, bytes | bytearray]] | None = None  # ``held`` read back

    def __post_init__(self) -> None:
        if not self.touched:
            self.touched = [{} for _ in range(TOUCHED_SHARDS)]


@dataclass
class SnapshotStats:
    start_usec: int = 0  # pause at start
    longest_slice_usec: int = 0
    slices: int = 0
    keys_total: int = 0
    keys_processed: int = 0
    loop_serialized: int = 0  # keys written by the walker
    side_saved: int = 0  # keys held by the write hook
    side_written: int = 0  # held keys written to the file (the rest were walked already)
    preserved_bytes: int = 0  # arena bytes currently held
    peak_preserved_bytes: int = 0
    cow_since: float = 0.0


class ForklessSnapshot:
    """One snapshot in progress. ``run()`` walks it in slices; ``run_sync()`` all at once."""

    SLICE_SECONDS = 0.00025
    # after a slice of t seconds the walker yields for DUTY_PAUSE * t, so clients get at
    # least that share of the loop while a save runs (client p99 stays near one slice);
    # uvloop timers round such pauses up to 1 ms. When no command ran during the last
    # pause the walker only yields once (``sleep(0)``: ready clients are still served
    # first), so a save on an idle server runs at full speed.
    DUTY_PAUSE = 2.0
    # rdb-key-save-delay: keys per step = window / delay, then a sleep of the window
    # (uvloop timers have millisecond resolution)
    DELAY_WINDOW_US = 1000
    BATCH = 256
    THAW_SYNC_OPS = 20_000  # overlays up to this size are merged back at once
    THAW_STEP = 4096
    THAW_MAX_SLICES = 20_000  # then the rest is merged at once (bounded loop)

    def __init__(
        self,
        server: Server,
        encoder: SnapshotEncoder,
        key_delay_us: int = 0,
        on_progress: Callable[[], None] | None = None,
        spill_dir: str | None = None,
    ) -> None:
        self.server = server
        self.spill_dir = spill_dir  # where held records beyond 512 KB per db go
        self.encoder = encoder
        self.key_delay_us = key_delay_us
        self.stats = SnapshotStats()
        self.by_dict: dict[int, DbSnapshot] = {}
        self.dbs: list[DbSnapshot] = []
        self.cancelled = False
        self.installed = False
        self.on_progress = on_progress
        self.thaw_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ start / hooks
    def start(self, install_hooks: bool = True) -> None:
        """Take the snapshot: O(number of dbs), no key is copied (see the module doc)."""
        t0 = time.perf_counter_ns()
        srv = self.server
        if install_hooks and srv.before_write is not None:
            raise RuntimeError("another snapshot is already installed")
        for db in srv.dbs:
            n = len(db)
            if not n:
                continue
            data = db.data
            if not install_hooks:
                items = db.items()  # the live view: nothing changes while run_sync() walks
                snap = DbSnapshot(db.id, data, db.expires, n, len(db.expires), items, n)
            else:
                # a previous save's overlay may still be being merged back: this snapshot
                # takes it over (its tombstones are skipped, its adds copied at C speed)
                extra = dict(db.adds) if db.adds else None
                had_tombs = db.ntombs > 0
                db.freeze(self)
                items = iter(data.items())
                if extra is not None:
                    items = chain(items, iter(extra.items()))
                slots = len(data) + (len(extra) if extra is not None else 0)
                snap = DbSnapshot(
                    db.id,
                    data,
                    db.expires,
                    n,
                    len(db.expires),
                    items,
                    slots,
                    frozen=True,
                    data_len=len(data),
                    extra=extra,
                    had_tombs=had_tombs,
                    held=HeldArena(self.spill_dir),
                )
            self.dbs.append(snap)
            self.by_dict[id(data)] = snap
            self.stats.keys_total += snap.slots
        if install_hooks:
            srv.before_write = self._before_write
            self.installed = True
        self.stats.start_usec = (time.perf_counter_ns() - t0) // 1000

    def _before_write(self, db: Db, key: bytes) -> None:
        snap = self.by_dict.get(id(db.data))
        if snap is None or snap.data is not db.data or snap.walked:
            return
        touched = snap.touched[hash(key) & (TOUCHED_SHARDS - 1)]
        if key in touched:
            return
        snap.ntouched += 1
        value = snap.data.get(key)
        if value is None:
            extra = snap.extra
            value = extra.get(key) if extra is not None else None
            if value is None:
                # created after the start (in ``adds`` or a tombstone): not saved
                touched[key] = NOTHING
                return
        blob = self.encoder.encode_entry(snap.dbid, key, value, snap.expires.get(key))
        held = snap.held
        before = len(held)
        held.append(key, blob)
        touched[key] = HELD
        st = self.stats
        st.side_saved += 1
        if not st.preserved_bytes:
            st.cow_since = time.monotonic()
        st.preserved_bytes += len(held) - before
        if st.preserved_bytes > st.peak_preserved_bytes:
            st.peak_preserved_bytes = st.preserved_bytes

    def uninstall(self) -> None:
        """Stop the hook, free what it preserved and unfreeze the dicts (thaw)."""
        if self.installed and self.server.before_write == self._before_write:
            self.server.before_write = None
        self.installed = False
        # drop what no longer serves: lets memory go back at once
        for snap in self.dbs:
            self._drop_held(snap)
            snap.items = iter(())
            snap.extra = None
        self._thaw()

    # ------------------------------------------------------------------ thaw
    def _thawing_dbs(self) -> list[Db]:
        # the freeze moves with its dict (SWAPDB) and ends with it (FLUSHDB); a new
        # snapshot may take a db over: ``frozen is self`` finds those still ours
        return [db for db in self.server.dbs if db.frozen is self]

    def _thaw(self) -> None:
        if not any(snap.frozen for snap in self.dbs):
            return
        for snap in self.dbs:
            snap.frozen = False
        dbs = self._thawing_dbs()
        work = sum(len(db.adds) + len(db.tombs) for db in dbs)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or work <= self.THAW_SYNC_OPS:
            for db in dbs:
                db.thaw_step(1 << 62)
            return
        self.thaw_task = loop.create_task(self._thaw_slices())

    async def _thaw_slices(self) -> None:
        """Merge the overlays back in slices; clients run in between (overlay rules)."""
        perf = time.perf_counter_ns
        for _ in range(self.THAW_MAX_SLICES):
            dbs = self._thawing_dbs()
            if not dbs:
                return
            t0 = perf()
            deadline = t0 + int(self.SLICE_SECONDS * 1e9)
            for db in dbs:
                while not db.thaw_step(self.THAW_STEP) and perf() < deadline:
                    pass
                if perf() >= deadline:
                    break
            await asyncio.sleep((perf() - t0) / 1e9 * self.DUTY_PAUSE)
        for db in self._thawing_dbs():
            db.thaw_step(1 << 62)

    # ------------------------------------------------------------------ walking
    def _integrity_error(self, snap: DbSnapshot, why: str) -> SnapshotIntegrityError:
        return SnapshotIntegrityError(
            f"forkless snapshot of DB {snap.dbid}: {why} (the keyspace changed behind the "
            f"snapshot's back: save abandoned, no file written)"
        )

    def _walk(self, snap: DbSnapshot, max_keys: int, deadline_ns: int) -> None:
        """Serialize up to ``max_keys`` keys of ``snap`` (or until the deadline); once every
        key is passed, write the db's confirmed held records (``_emit_held``)."""
        if snap.walked:
            self._emit_held(snap, deadline_ns)
            return
        data = snap.data
        if snap.frozen and len(data) != snap.data_len:
            raise self._integrity_error(
                snap, f"frozen dict went from {snap.data_len} to {len(data)} entries"
            )
        items = snap.items
        expires = snap.expires
        touched = snap.touched
        ntouched = snap.ntouched
        mask = TOUCHED_SHARDS - 1
        _hash = hash
        enc = self.encoder
        dbid = snap.dbid
        end = min(snap.slots, snap.pos + max_keys)
        pos = snap.pos
        batch: list[tuple[bytes, Any, int | None]] = []
        st = self.stats
        perf = time.perf_counter_ns
        while pos < end:
            want = min(end - pos, self.BATCH)
            try:
                chunk = list(islice(items, want))
            except RuntimeError as e:  # "dictionary changed size during iteration"
                raise self._integrity_error(snap, str(e)) from None
            if len(chunk) != want:
                raise self._integrity_error(
                    snap, f"dict ended after {pos + len(chunk)} of {snap.slots} entries"
                )
            for key, value in chunk:
                if ntouched:
                    shard = touched[_hash(key) & mask]
                    if key in shard:
                        if shard[key] is HELD:
                            shard[key] = CONFIRMED  # held before the walker got here
                        continue
                if value is None:
                    if snap.had_tombs:
                        continue  # deleted during the previous save, before this start
                    raise self._integrity_error(snap, "a key was deleted without the write hook")
                batch.append((key, value, expires.get(key) if expires else None))
            if batch:
                enc.write_entries(dbid, batch)
                st.loop_serialized += len(batch)
                batch = []
            st.keys_processed += want
            pos += want
            if perf() >= deadline_ns:
                break
        snap.pos = pos
        if pos >= snap.slots:
            if snap.frozen and len(data) != snap.data_len:
                raise self._integrity_error(
                    snap, f"frozen dict went from {snap.data_len} to {len(data)} entries"
                )
            snap.walked = True  # from now on the hook leaves this db alone
            if perf() < deadline_ns:
                self._emit_held(snap, deadline_ns)

    def _emit_held(self, snap: DbSnapshot, deadline_ns: int) -> None:
        """Write the confirmed held records of a walked db, until the deadline."""
        if snap.tail is None:
            if not snap.held:
                self._drop_held(snap)
                return
            snap.tail = snap.held.records()
        tail = snap.tail
        touched = snap.touched
        mask = TOUCHED_SHARDS - 1
        enc = self.encoder
        perf = time.perf_counter_ns
        out: list[bytes | bytearray] = []
        written = 0
        batch = self.BATCH
        while True:
            seen = 0
            for key, record in islice(tail, batch):
                seen += 1
                if touched[hash(key) & mask].get(key) is CONFIRMED:
                    out.append(record)
            if out:
                enc.write_raw(b"".join(out))
                written += len(out)
                out = []
            if seen < batch:
                self._drop_held(snap)
                break
            if perf() >= deadline_ns:
                break
        self.stats.side_written += written

    def _drop_held(self, snap: DbSnapshot) -> None:
        self.stats.preserved_bytes -= len(snap.held)
        snap.held.close()
        snap.touched = [{} for _ in range(TOUCHED_SHARDS)]
        snap.ntouched = 0
        snap.tail = None
        snap.walked = True

    def _db_done(self, snap: DbSnapshot) -> bool:
        return snap.walked and not snap.held  # the arena empties only when dropped

    def run_sync(self) -> None:
        """Serialize everything now (SAVE, fork child, shutdown)."""
        enc = self.encoder
        enc.begin()
        for snap in self.dbs:
            enc.begin_db(snap.dbid, snap.size, snap.expires_count)
            self._walk(snap, snap.slots, 1 << 62)
        enc.end()

    async def run(self) -> None:
        """Serialize in slices, yielding to the event loop between them."""
        enc = self.encoder
        enc.begin()
        perf = time.perf_counter_ns
        st = self.stats
        delay = self.key_delay_us
        srv_stats = self.server.stats
        seen_cmds = -1
        for snap in self.dbs:
            enc.begin_db(snap.dbid, snap.size, snap.expires_count)
            while not self._db_done(snap):
                if self.cancelled:
                    raise asyncio.CancelledError
                for other in self.dbs:
                    other.held.raise_error()  # a held record could not be spilled
                t0 = perf()
                if delay > 0:
                    # rdb-key-save-delay: one key per `delay` microseconds, never blocking
                    n = max(1, int(self.DELAY_WINDOW_US // delay))
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
                elif srv_stats.total_commands_processed != seen_cmds:  # clients are active
                    seen_cmds = srv_stats.total_commands_processed
                    await asyncio.sleep(took / 1e6 * self.DUTY_PAUSE)
                else:
                    await asyncio.sleep(0)
        enc.end()

    @property
    def cow_size(self) -> int:
        return self.stats.preserved_bytes
