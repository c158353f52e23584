"""Per-key access metadata under an eviction policy (Redis ``evict.c`` semantics).

Redis keeps 24 bits per object for the eviction policy: the time of the last access (LRU
clock, seconds) or, under an ``*-lfu`` policy, a logarithmic access counter with the
minute it was last decremented. ember keeps the same information only while
``maxmemory-policy`` needs it, in ``Db.lru`` (one dict per db, so a default server pays
nothing per key):

* ``allkeys-lru`` / ``volatile-lru``: a plain dict, key -> last access in ms;
* ``allkeys-lfu`` / ``volatile-lfu``: an :class:`LfuDict`, key -> ``(minutes << 8) |
  counter``.

The Db's read and write paths store ``lru[key] = now_ms`` on every access; for an
:class:`LfuDict` that assignment is an LFU access (decay, then a logarithmic
increment). A key missing from the dict was last accessed when tracking started (LRU)
or has the initial counter, ``LFU_INIT_VAL`` (LFU). The counters travel with the keys
in RDB files (``RDB_OPCODE_IDLE`` / ``RDB_OPCODE_FREQ``, written under the matching
policy as Redis does) and are set by ``RESTORE ... IDLETIME | FREQ``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ember.persistence.rdb import constants as C

if TYPE_CHECKING:
    from ember.server.server import Server

LFU_INIT_VAL = 5
LRU_CLOCK_MAX = (1 << 24) - 1  # LRU clock resolution: 1 s
LRU_POLICIES = ("allkeys-lru", "volatile-lru")
LFU_POLICIES = ("allkeys-lfu", "volatile-lfu")


def lfu_minutes(now_ms: int) -> int:
    """``LFUGetTimeInMinutes``: the 16 low bits of the Unix time in minutes."""
    return (now_ms // 60000) & 0xFFFF


def lfu_decayed(packed: int, now_min: int, decay_time: int) -> int:
    """``LFUDecrAndReturn``: the counter less one per ``decay_time`` minutes elapsed."""
    counter = packed & 0xFF
    if not decay_time:
        return counter
    ldt = packed >> 8
    elapsed = now_min - ldt if now_min >= ldt else 65535 - ldt + now_min
    return max(0, counter - elapsed // decay_time)


def lfu_log_incr(counter: int, log_factor: int) -> int:
    """``LFULogIncr``: +1 with probability 1 / ((counter - LFU_INIT_VAL) * factor + 1)."""
    if counter >= 255:
        return 255
    base = counter - LFU_INIT_VAL
    if base < 0:
        base = 0
    if random.random() < 1.0 / (base * log_factor + 1):
        return counter + 1
    return counter


class LfuDict(dict[bytes, int]):
    """``Db.lru`` under an LFU policy: key -> ``(minutes << 8) | counter``.

    ``d[key] = now_ms`` is an access (``updateLFU``): the stored counter (the initial
    one for a key not in the dict) decays by the minutes elapsed, then gets its
    logarithmic increment. :meth:`created` records a new key at ``LFU_INIT_VAL``.
    """

    __slots__ = ("cfg", "since_min")

    def __init__(self, cfg: dict[str, Any], now_ms: int) -> None:
        super().__init__()
        self.cfg = cfg  # the live config values (lfu-log-factor, lfu-decay-time)
        self.since_min = lfu_minutes(now_ms)  # tracking started: the keys not in the dict

    def __setitem__(self, key: bytes, now_ms: int) -> None:
        now_min = lfu_minutes(now_ms)
        cfg = self.cfg
        counter = lfu_decayed(self.packed(key), now_min, cfg["lfu-decay-time"])
        counter = lfu_log_incr(counter, cfg["lfu-log-factor"])
        dict.__setitem__(self, key, (now_min << 8) | counter)

    def packed(self, key: bytes) -> int:
        v = self.get(key)
        return (self.since_min << 8) | LFU_INIT_VAL if v is None else v

    def created(self, key: bytes, now_ms: int, counter: int = LFU_INIT_VAL) -> None:
        """A new key (``createObject``), or a counter given by RESTORE or an RDB file."""
        dict.__setitem__(self, key, (lfu_minutes(now_ms) << 8) | counter)

    def counter(self, key: bytes, now_ms: int) -> int:
        """``LFUDecrAndReturn`` (OBJECT FREQ, RDB FREQ): the counter, not stored back."""
        return lfu_decayed(self.packed(key), lfu_minutes(now_ms), self.cfg["lfu-decay-time"])

    def fresh(self, now_ms: int) -> LfuDict:
        return LfuDict(self.cfg, now_ms)


def configure(srv: Server) -> None:
    """Start or stop tracking for the current ``maxmemory-policy`` (at start and on
    CONFIG SET). Switching between LRU and LFU starts the new kind afresh, where Redis
    reinterprets the old bits for a while."""
    policy = srv.config.values["maxmemory-policy"]
    now = srv.cached_now_ms()
    for db in srv.dbs:
        old = db.lru
        if policy in LRU_POLICIES:
            if old is None or type(old) is not dict:
                srv.lru_since_ms = now
                db.lru = {}
        elif policy in LFU_POLICIES:
            if type(old) is not LfuDict:
                db.lru = LfuDict(srv.config.values, now)
        else:
            db.lru = None


def idle_ms(srv: Server, lru: dict[bytes, int], key: bytes) -> int:
    """Milliseconds since the last access under an LRU policy."""
    now = srv.cached_now_ms()
    return max(0, now - lru.get(key, srv.lru_since_ms))


def rdb_prefix(srv: Server) -> Callable[[int], Callable[[bytes], bytes] | None] | None:
    """What ``rdbSaveKeyValuePair`` writes before a key under the current policy:
    ``RDB_OPCODE_IDLE`` + idle seconds (LRU policies) or ``RDB_OPCODE_FREQ`` + the
    decayed counter (LFU policies). Returns a function of the db id giving the per-key
    prefix function, or None when the policy keeps no such data (nothing is written)."""
    from ember.persistence.rdb.writer import save_len

    policy = srv.config.values["maxmemory-policy"]
    if policy in LRU_POLICIES:

        def for_db_lru(dbid: int) -> Callable[[bytes], bytes] | None:
            lru = srv.dbs[dbid].lru
            if type(lru) is not dict:
                return None
            idle_op = bytes((C.RDB_OPCODE_IDLE,))
            return lambda key: idle_op + save_len(idle_ms(srv, lru, key) // 1000)

        return for_db_lru
    if policy in LFU_POLICIES:

        def for_db_lfu(dbid: int) -> Callable[[bytes], bytes] | None:
            lfu = srv.dbs[dbid].lru
            if type(lfu) is not LfuDict:
                return None
            now = srv.cached_now_ms()
            return lambda key: bytes((C.RDB_OPCODE_FREQ, lfu.counter(key, now)))

        return for_db_lfu
    return None


def restore_access(srv: Server, lru: Any, key: bytes, idle: int | None, freq: int | None) -> None:
    """``objectSetLRUOrLFU``: an idle time (seconds) or counter from RESTORE or an RDB
    file, applied when the policy tracks that kind (the other one is ignored)."""
    if lru is None:
        return
    now = srv.cached_now_ms()
    if type(lru) is LfuDict:
        if freq is not None:
            lru.created(key, now, freq)
    elif idle is not None:
        lru[key] = now - idle * 1000


def debug_lru(srv: Server, lru: Any, key: bytes) -> tuple[int, int]:
    """DEBUG OBJECT's ``lru`` (the object's 24 policy bits) and ``lru_seconds_idle``
    (``estimateObjectIdleTime``, which reads those bits as an LRU clock even under an
    LFU policy). Both are 0 when the policy keeps no access data."""
    if lru is None:
        return 0, 0
    now = srv.cached_now_ms()
    clock = (now // 1000) & LRU_CLOCK_MAX
    if type(lru) is LfuDict:
        bits = lru.packed(key)
    else:
        bits = (lru.get(key, srv.lru_since_ms) // 1000) & LRU_CLOCK_MAX
    idle = clock - bits if clock >= bits else clock + (LRU_CLOCK_MAX - bits)
    return bits, idle
