"""In-memory value types.

A key's value is one of these plain Python objects; the type of the object *is* the
Redis type (no wrapper per key, which keeps memory per key low):

==========  ====================================  ==============================
Redis type  Python object                         notes
==========  ====================================  ==============================
string      ``bytes`` (or ``bytearray``)          bitmaps may be held as bytearray
list        ``collections.deque[bytes]``
hash        ``dict[bytes, bytes]``
set         ``set[bytes]``
zset        :class:`ZSet`                         member -> score + sorted index
stream      :class:`Stream`
==========  ====================================  ==============================

HyperLogLog values are strings (Redis's ``HYLL`` layout); geo sets are zsets.
The Redis *encoding* (listpack, intset, quicklist, ...) is derived from the value and
the config thresholds when needed (``OBJECT ENCODING``, the RDB writer), never stored.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedDict, SortedList

StreamID = tuple[int, int]  # (ms, seq)


class ZSet:
    """Sorted set: ``scores`` maps member -> score; ``index`` orders (score, member)."""

    __slots__ = ("scores", "index")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.index: SortedList = SortedList()

    def __len__(self) -> int:
        return len(self.scores)

    def add(self, member: bytes, score: float) -> None:
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return
            self.index.remove((old, member))
        self.scores[member] = score
        self.index.add((score, member))

    def discard(self, member: bytes) -> bool:
        old = self.scores.pop(member, None)
        if old is None:
            return False
        self.index.remove((old, member))
        return True

    def copy(self) -> ZSet:
        z = ZSet()
        z.scores = dict(self.scores)
        z.index = SortedList(self.index)
        return z

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ZSet) and self.scores == other.scores

    def __repr__(self) -> str:
        return f"ZSet({self.scores!r})"


@dataclass(slots=True)
class PendingEntry:
    consumer: bytes
    delivery_time: int  # ms
    delivery_count: int


@dataclass(slots=True)
class Consumer:
    name: bytes
    seen_time: int = 0  # ms
    active_time: int = -1  # ms, -1 = never (RDB stream v3 field)
    pel: SortedDict = field(default_factory=SortedDict)  # StreamID -> None (ordered set)


@dataclass(slots=True)
class ConsumerGroup:
    name: bytes
    last_id: StreamID = (0, 0)
    entries_read: int = -1  # -1 = unknown (SCG_INVALID_ENTRIES_READ)
    pel: SortedDict = field(default_factory=SortedDict)  # StreamID -> PendingEntry
    consumers: dict[bytes, Consumer] = field(default_factory=dict)


class Stream:
    """Stream: ``entries`` maps StreamID -> flat list ``[f1, v1, f2, v2, ...]``."""

    __slots__ = (
        "entries",
        "last_id",
        "entries_added",
        "max_deleted_id",
        "first_id",
        "groups",
        "nodes",
    )

    def __init__(self) -> None:
        self.entries: SortedDict = SortedDict()
        self.last_id: StreamID = (0, 0)
        self.entries_added: int = 0
        self.max_deleted_id: StreamID = (0, 0)
        self.first_id: StreamID = (0, 0)
        self.groups: dict[bytes, ConsumerGroup] = {}
        # listpack-node model (keyspace/stream_ops.py); None = rebuild from entries
        self.nodes: list[Any] | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Stream):
            return False
        return (
            dict(self.entries) == dict(other.entries)
            and self.last_id == other.last_id
            and self.entries_added == other.entries_added
            and self.max_deleted_id == other.max_deleted_id
            and self.groups == other.groups
        )


class FieldTTLHash(dict):  # type: ignore[type-arg]
    """A hash some of whose fields carry a TTL (Redis 7.4+ HFE / Valkey 9 HASH_2).

    Loaded from RDB files written by newer servers; ``field_expires`` maps
    field -> absolute unix ms. Hash commands treat it as a plain ``dict``.
    """

    __slots__ = ("field_expires",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.field_expires: dict[bytes, int] = {}


STRING_TYPES = (bytes, bytearray)

TYPE_NAMES: dict[type, bytes] = {
    bytes: b"string",
    bytearray: b"string",
    deque: b"list",
    dict: b"hash",
    FieldTTLHash: b"hash",
    set: b"set",
    ZSet: b"zset",
    Stream: b"stream",
}


def type_name(value: Any) -> bytes:
    return TYPE_NAMES[type(value)]


def copy_value(value: Any) -> Any:
    """Deep-enough copy for COPY / snapshots: containers are new, elements shared."""
    t = type(value)
    if t is bytes:
        return value
    if t is bytearray:
        return bytes(value)
    if t is deque:
        return deque(value)
    if t is dict:
        return dict(value)
    if t is FieldTTLHash:
        h = FieldTTLHash(value)
        h.field_expires = dict(value.field_expires)
        return h
    if t is set:
        return set(value)
    if t is ZSet:
        return value.copy()
    if t is Stream:
        import copy

        return copy.deepcopy(value)
    raise TypeError(f"unknown value type {t!r}")
