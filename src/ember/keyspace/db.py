"""Databases: the key -> value dict, the expires dict, and the write hooks.

Every mutation of the keyspace goes through :class:`Db` methods so that three observers
see it without the command code knowing about them:

* ``before_write`` (set by a background snapshot) is called with ``(db, key)`` *before*
  any change to ``key`` — the forkless save serializes the old value there;
* WATCH: clients watching ``key`` are flagged dirty (``touch``);
* blocking pops: ``signal_ready`` queues keys that blocked clients wait on.

Handlers read with :meth:`Db.lookup` (applies lazy expiry) and get values they are
about to modify in place with :meth:`Db.lookup_write`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

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
        self.lru: dict[bytes, int] | None = None  # last access (ms) under *-lru policies

    def __len__(self) -> int:
        return len(self.data)

    # ------------------------------------------------------------------ reads
    def lookup(self, key: bytes) -> Any:
        """Value of ``key`` or None; expired keys are deleted on the way (lazy expiry)."""
        if self.expires and key in self.expires and self._expire_if_needed(key):
            return None
        if self.lru is None:
            return self.data.get(key)
        value = self.data.get(key)
        if value is not None:
            self.lru[key] = self.server._now_ms  # OBJECT IDLETIME
        return value

    def exists(self, key: bytes) -> bool:
        if self.expires and key in self.expires and self._expire_if_needed(key):
            return False
        return key in self.data

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

    def set(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
        """Store ``value`` at ``key`` (a new object or a replacement)."""
        if self.expires and key in self.expires:
            self._expire_if_needed(key)  # an expired key is deleted first, as lookupKeyWrite does
        self.will_write(key)
        data = self.data
        if self.lru is not None:
            self.lru[key] = self.server._now_ms
        if key not in data:
            data[key] = value
            if self.scan_log is not None:
                self.scan_log.append(key)  # SCAN: a key created during an iteration
            if self.blocking and key in self.blocking:
                self.server.ready_keys.append((self, key))
            if self.server.config.values["notify-keyspace-events"]:
                self.server.notify(0x4000, b"new", key, self.id)  # NOTIFY_NEW
        else:
            if self.blocking and key in self.blocking and type(data[key]) is Stream:
                self.server.ready_keys.append((self, key))  # blocked XREADGROUP: -UNBLOCKED
            data[key] = value
        if not keep_ttl and self.expires:
            self.expires.pop(key, None)

    def add(self, key: bytes, value: Any) -> None:
        """Store a value under a key known to be absent (creating collections)."""
        self.will_write(key)
        self.data[key] = value
        if self.lru is not None:
            self.lru[key] = self.server._now_ms
        if self.scan_log is not None:
            self.scan_log.append(key)  # SCAN: a key created during an iteration
        if self.blocking and key in self.blocking:
            self.server.ready_keys.append((self, key))
        if self.server.config.values["notify-keyspace-events"]:
            self.server.notify(0x4000, b"new", key, self.id)  # NOTIFY_NEW

    def signal_ready(self, key: bytes) -> None:
        """A list/zset/stream at ``key`` got new elements: wake blocked clients later."""
        if self.blocking and key in self.blocking:
            self.server.ready_keys.append((self, key))

    def delete(self, key: bytes) -> bool:
        if key not in self.data:
            return False
        self.will_write(key)
        if self.blocking and key in self.blocking and type(self.data[key]) is Stream:
            self.server.ready_keys.append((self, key))  # blocked XREADGROUP: -UNBLOCKED
        del self.data[key]
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
        n = len(self.data)
        hook = self.server.before_flush
        if hook is not None:
            hook(self)
        if self.watched:
            from ember.commands.transactions import touch_all_watched_keys

            touch_all_watched_keys(self, None)
        if self.blocking:  # blocked XREADGROUP clients of flushed streams: -UNBLOCKED
            for key in self.blocking:
                if type(self.data.get(key)) is Stream:
                    self.server.ready_keys.append((self, key))
        self.data = {}
        self.expires = {}
        self.expire_scan = []
        self.expire_pos = 0
        if self.lru is not None:
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

    def items(self) -> Iterator[tuple[bytes, Any]]:
        return iter(self.data.items())


SnapshotHook = Callable[[Db, bytes], None]
