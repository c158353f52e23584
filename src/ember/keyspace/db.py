"""Databases: the key -> value dict, the expires dict, and the write hooks.

Every mutation of the keyspace goes through :class:`Db` methods so that three observers
see it without the command code knowing about them:

* ``before_write`` (set by a background snapshot) is called with ``(db, key)`` *before*
  any change to ``key`` — the forkless save serializes the old value there;
* WATCH: clients watching ``key`` are flagged dirty (``touch``);
* blocking pops: ``signal_ready`` queues keys that blocked clients wait on.

Handlers read with :meth:`Db.lookup` (applies lazy expiry) and get values they are
about to modify in place with :meth:`Db.lookup_write`.

Structural freeze (forkless snapshots)
--------------------------------------
A forkless snapshot walks the ``data`` dict with one live iterator, so while it runs
that dict must never change size. :meth:`Db.freeze` puts the db in *overlay mode*
(``frozen`` holds the owner) until :meth:`Db.thaw_step` has merged everything back:

* deleting a key stores a *tombstone* ``data[key] = None`` (readers doing
  ``data.get(key)`` see "missing" for free) and records the key in ``tombs``;
* creating a key that is a tombstone replaces it in place; any other new key goes to
  the ``adds`` dict, never into ``data`` (a key is in ``data`` XOR in ``adds``);
* replacing the value of an existing key is a plain ``data[key] = value`` (same size).

Reads check ``adds`` on a miss only (``adds`` is empty outside overlay mode), so the
common path costs one extra test. Code outside this module must not touch ``data``
directly: :meth:`has`, :meth:`peek`, ``len(db)``, :meth:`iter_keys`, :meth:`items`,
:meth:`sample_key` give the live view. FLUSHDB gives the db a new, unfrozen dict (the
snapshot keeps the old one); SWAPDB swaps the overlay state with the dicts
(:meth:`swap_overlay`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

from ember.keyspace.access import LfuDict
from ember.keyspace.types import Stream

if TYPE_CHECKING:
    from ember.server.client import Client
    from ember.server.server import Server


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Db:
    __slots__ = (
        "id",
        "server",
        "data",
        "expires",
        "watched",
        "blocking",
        "avg_ttl",
        "expire_scan",
        "expire_pos",
        "scan_log",
        "lru",
        "adds",
        "tombs",
        "ntombs",
        "frozen",
    )

    def __init__(self, dbid: int, server: Server) -> None:
        self.id = dbid
        self.server = server
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        self.watched: dict[bytes, list[Client]] = {}
        self.blocking: dict[bytes, list[Client]] = {}
        self.avg_ttl = 0
        self.expire_scan: list[bytes] = []
        self.expire_pos = 0
        self.scan_log: list[bytes] | None = None  # see ember.keyspace.scan
        # access metadata under an LRU / LFU maxmemory-policy (ember.keyspace.access)
        self.lru: dict[bytes, int] | None = None
        # overlay mode while a snapshot walks ``data`` (see the module docstring)
        self.adds: dict[bytes, Any] = {}  # keys created while frozen (never in ``data``)
        self.tombs: list[bytes] = []  # keys tombstoned while frozen (may repeat)
        self.ntombs = 0  # tombstones currently in ``data``
        self.frozen: object | None = None  # the snapshot that froze ``data``

    def __len__(self) -> int:
        return len(self.data) - self.ntombs + len(self.adds)

    # ------------------------------------------------------------------ reads
    def lookup(self, key: bytes) -> Any:
        """Value of ``key`` or None; expired keys are deleted on the way (lazy expiry).
        While a command whose lookups are reads runs (``server.read_lookups``) it is
        Redis's ``lookupKeyRead``: a keyspace hit or miss, and a 'keymiss' event."""
        if self.expires and key in self.expires and self._expire_if_needed(key):
            value = None
        else:
            value = self.data.get(key)
            if value is None and self.adds:
                value = self.adds.get(key)  # created during a forkless save
        srv = self.server
        if value is None:
            if srv.read_lookups:
                self.count_read(key, False)
            return None
        if srv.read_lookups:
            srv.stats.keyspace_hits += 1
        if self.lru is not None:
            self.lru[key] = srv._now_ms  # an access (ember.keyspace.access)
        return value

    def count_read(self, key: bytes, found: bool, notify: bool = True) -> None:
        """A read lookup done without :meth:`lookup`: a keyspace hit, or a miss and (unless
        ``notify`` is false, Redis LOOKUP_NONOTIFY) the 'keymiss' event."""
        srv = self.server
        if found:
            srv.stats.keyspace_hits += 1
            return
        srv.stats.keyspace_misses += 1
        if notify and srv.cfg["notify-keyspace-events"]:
            srv.notify(0x800, b"keymiss", key, self.id)  # NOTIFY_KEY_MISS

    def exists(self, key: bytes) -> bool:
        if self.expires and key in self.expires and self._expire_if_needed(key):
            return False
        if key in self.data:
            return not self.ntombs or self.data[key] is not None
        return key in self.adds  # created during a forkless save

    def has(self, key: bytes) -> bool:
        """Whether ``key`` is stored (no lazy expiry, no access)."""
        if key in self.data:
            return not self.ntombs or self.data[key] is not None
        return key in self.adds  # created during a forkless save

    def peek(self, key: bytes) -> Any:
        """The stored value of ``key`` or None (no lazy expiry, no access)."""
        value = self.data.get(key)
        if value is None and self.adds:
            return self.adds.get(key)
        return value

    def iter_keys(self) -> Iterator[bytes]:
        """The stored keys (consume before changing the db)."""
        if self.frozen is None:
            return iter(self.data)
        return self._iter_keys_frozen()

    def _iter_keys_frozen(self) -> Iterator[bytes]:
        for key, value in self.data.items():
            if value is not None:
                yield key
        yield from self.adds

    def items(self) -> Iterator[tuple[bytes, Any]]:
        """The stored (key, value) pairs (consume before changing the db)."""
        if self.frozen is None:
            return iter(self.data.items())
        return self._items_frozen()

    def _items_frozen(self) -> Iterator[tuple[bytes, Any]]:
        for item in self.data.items():
            if item[1] is not None:
                yield item
        yield from self.adds.items()

    def sample_key(self) -> bytes | None:
        """A uniformly chosen slot: a stored key, or a tombstone while frozen (the
        caller checks it with :meth:`lookup`). None when nothing is stored."""
        data = self.data
        n = len(data)
        total = n + len(self.adds)
        if not total:
            return None
        idx = random.randrange(total)
        d = data
        if idx >= n:
            d = self.adds
            idx -= n
            n = total - n
        if idx < n // 2:
            return next(islice(iter(d), idx, None))
        return next(islice(reversed(d), n - 1 - idx, None))

    def _expire_if_needed(self, key: bytes) -> bool:
        when = self.expires[key]
        srv = self.server
        if when > srv.cached_now_ms():
            return False
        if srv.loading or srv.expire_paused():
            # while loading (AOF replay) or while a script/transaction runs, time stands still
            return False
        self.expire_key(key)
        return True

    def expire_key(self, key: bytes) -> None:
        """Delete an expired key and propagate its deletion (DEL, or UNLINK)."""
        self.delete(key)
        srv = self.server
        srv.stats.expired_keys += 1
        srv.notify(0x100, b"expired", key, self.id)  # NOTIFY_EXPIRED
        srv.propagate_deletion(self.id, key)

    def get_expire(self, key: bytes) -> int | None:
        return self.expires.get(key)

    # ------------------------------------------------------------------ writes
    def lookup_write(self, key: bytes) -> Any:
        """Value of ``key`` that the caller is about to modify in place (or None)."""
        if self.expires and key in self.expires and self._expire_if_needed(key):
            return None
        value = self.data.get(key)
        if value is None and self.adds:
            value = self.adds.get(key)
        if value is not None:
            self.will_write(key)
            if self.lru is not None:
                self.lru[key] = self.server._now_ms
        return value

    def will_write(self, key: bytes) -> None:
        """Announce a change to ``key``: snapshot hook + WATCH invalidation."""
        hook = self.server.before_write
        if hook is not None:
            hook(self, key)
        if self.watched and key in self.watched:
            from ember.commands.transactions import touch_watched_key

            touch_watched_key(self, key)

    def set(self, key: bytes, value: Any, keep_ttl: bool = False, touch: bool = True) -> None:
        """Store ``value`` at ``key`` (a new object or a replacement).

        Like Redis's ``setKey``, replacing a key is an access to it (its LRU time or LFU
        counter, see :mod:`ember.keyspace.access`) unless ``touch`` is false: the caller
        looked the key up already, which was the access."""
        if self.expires and key in self.expires:
            self._expire_if_needed(key)  # an expired key is deleted first, as lookupKeyWrite does
        self.will_write(key)
        if self.frozen is None:
            data = self.data
            old = data.get(key)
            data[key] = value
        else:
            old = self._store_frozen(key, value)
        if self.lru is not None:
            if old is None:
                self._created(key)
            elif touch:
                self.lru[key] = self.server._now_ms
        if old is None:
            if self.scan_log is not None:
                self.scan_log.append(key)  # SCAN: a key created during an iteration
            if self.blocking and key in self.blocking:
                self.server.ready_keys.append((self, key))
            if self.server.cfg["notify-keyspace-events"]:
                self.server.notify(0x4000, b"new", key, self.id)  # NOTIFY_NEW
        elif self.blocking and key in self.blocking and type(old) is Stream:
            self.server.ready_keys.append((self, key))  # blocked XREADGROUP: -UNBLOCKED
        if not keep_ttl and self.expires:
            self.expires.pop(key, None)

    def set_many(self, keys: list[bytes], values: list[Any]) -> None:
        """``set(key, value)`` for each pair, in order (MSET). When nothing observes the
        individual stores (no TTLs in this db, no snapshot, WATCH, blocked client, SCAN
        log, LRU clock or keyspace events) it is one C-level ``dict.update``."""
        srv = self.server
        if (
            not self.expires
            and srv.before_write is None
            and self.frozen is None
            and not self.watched
            and not self.blocking
            and self.lru is None
            and self.scan_log is None
            and not srv.cfg["notify-keyspace-events"]
        ):
            self.data.update(zip(keys, values, strict=True))
            return
        for key, value in zip(keys, values, strict=True):
            self.set(key, value)

    def add(self, key: bytes, value: Any) -> None:
        """Store a value under a key known to be absent (creating collections)."""
        self.will_write(key)
        if self.frozen is None:
            self.data[key] = value
        else:
            self._store_frozen(key, value)
        if self.lru is not None:
            self._created(key)
        if self.scan_log is not None:
            self.scan_log.append(key)  # SCAN: a key created during an iteration
        if self.blocking and key in self.blocking:
            self.server.ready_keys.append((self, key))
        if self.server.cfg["notify-keyspace-events"]:
            self.server.notify(0x4000, b"new", key, self.id)  # NOTIFY_NEW

    def _created(self, key: bytes) -> None:
        lru = self.lru
        if type(lru) is LfuDict:
            lru.created(key, self.server._now_ms)
        elif lru is not None:
            lru[key] = self.server._now_ms

    def access(self, key: bytes) -> None:
        """An access without a lookup (its LRU time / LFU counter only)."""
        if self.lru is not None:
            self.lru[key] = self.server._now_ms

    def access_meta(self, key: bytes) -> int | None:
        """The key's raw LRU/LFU entry (None when untracked), for RENAME and MOVE."""
        return None if self.lru is None else self.lru.get(key)

    def keep_access_meta(self, key: bytes, meta: int | None) -> None:
        if meta is not None and self.lru is not None:
            dict.__setitem__(self.lru, key, meta)

    def signal_ready(self, key: bytes) -> None:
        """A list/zset/stream at ``key`` got new elements: wake blocked clients later."""
        if self.blocking and key in self.blocking:
            self.server.ready_keys.append((self, key))

    def delete(self, key: bytes) -> bool:
        value = self.data.get(key)
        if value is None:
            if not self.adds or key not in self.adds:
                return False
            value = self.adds[key]
        self.will_write(key)
        if self.blocking and key in self.blocking and type(value) is Stream:
            self.server.ready_keys.append((self, key))  # blocked XREADGROUP: -UNBLOCKED
        if self.frozen is None:
            del self.data[key]
        elif key in self.adds:
            del self.adds[key]
        else:
            self.data[key] = None  # tombstone: the frozen dict keeps its size
            self.ntombs += 1
            self.tombs.append(key)
        if self.expires:
            self.expires.pop(key, None)
        if self.lru is not None:
            self.lru.pop(key, None)
        return True

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.will_write(key)
        self.expires[key] = when_ms

    def persist(self, key: bytes) -> bool:
        if key in self.expires:
            self.will_write(key)
            del self.expires[key]
            return True
        return False

    def clear(self) -> int:
        """Remove every key (FLUSHDB). Returns the number removed."""
        n = len(self)
        hook = self.server.before_flush
        if hook is not None:
            hook(self)
        if self.watched:
            from ember.commands.transactions import touch_all_watched_keys

            touch_all_watched_keys(self, None)
        if self.blocking:  # blocked XREADGROUP clients of flushed streams: -UNBLOCKED
            for key in self.blocking:
                if type(self.peek(key)) is Stream:
                    self.server.ready_keys.append((self, key))
        self.data = {}  # a frozen dict stays with its snapshot, untouched from now on
        self.expires = {}
        self.adds = {}
        self.tombs = []
        self.ntombs = 0
        self.frozen = None
        self.expire_scan = []
        self.expire_pos = 0
        if type(self.lru) is LfuDict:
            self.lru = self.lru.fresh(self.server._now_ms)
        elif self.lru is not None:
            self.lru = {}
        return n

    # ------------------------------------------------------------------ active expiry
    def active_expire(self, budget_keys: int, now: int) -> int:
        """Check up to ``budget_keys`` keys that have a TTL; delete expired ones."""
        if not self.expires:
            return 0
        scan = self.expire_scan
        pos = self.expire_pos
        expired = 0
        checked = 0
        expires = self.expires
        while checked < budget_keys:
            if pos >= len(scan):
                scan = self.expire_scan = list(expires)
                pos = 0
                if not scan:
                    break
                if checked:  # one full pass per call at most
                    break
            key = scan[pos]
            pos += 1
            checked += 1
            when = expires.get(key)
            if when is not None and when <= now:
                self.expire_key(key)
                expired += 1
        self.expire_pos = pos
        return expired

    # ------------------------------------------------------------------ structural freeze
    def _store_frozen(self, key: bytes, value: Any) -> Any:
        """Store while frozen; returns the previous value (None if the key was absent)."""
        data = self.data
        if key in data:
            old = data[key]
            if old is None:
                self.ntombs -= 1  # a tombstone comes back to life
            data[key] = value
            return old
        adds = self.adds
        old = adds.get(key)
        adds[key] = value
        return old

    def freeze(self, owner: object) -> None:
        """Keep ``data`` at its size from now on (overlay mode) for ``owner``. An overlay
        still being merged back after a previous snapshot is taken over as it is (its
        merge resumes when ``owner`` thaws)."""
        self.frozen = owner

    def thaw_step(self, budget: int) -> bool:
        """Merge up to ``budget`` overlay entries back into ``data`` (once its snapshot
        no longer walks it). True when done: the db is unfrozen. Until then the overlay
        rules keep applying, so writes made meanwhile are merged by later steps."""
        data = self.data
        adds = self.adds
        if adds:
            if len(adds) <= budget:
                budget -= len(adds)
                data.update(adds)
                adds.clear()
            else:
                for _ in range(budget):
                    key, value = adds.popitem()
                    data[key] = value
                return False
        tombs = self.tombs
        while tombs and budget > 0:
            key = tombs.pop()
            budget -= 1
            if key in data and data[key] is None:
                del data[key]
                self.ntombs -= 1
        if tombs:
            return False
        self.frozen = None
        return True

    def swap_overlay(self, other: Db) -> None:
        """SWAPDB: the overlay state follows the ``data`` dicts it belongs to."""
        self.adds, other.adds = other.adds, self.adds
        self.tombs, other.tombs = other.tombs, self.tombs
        self.ntombs, other.ntombs = other.ntombs, self.ntombs
        self.frozen, other.frozen = other.frozen, self.frozen


SnapshotHook = Callable[[Db, bytes], None]
