"""AOF rewrite: the RESP commands that rebuild a dataset (preamble off).

Byte-compatible with Redis 7.0 ``rewriteAppendOnlyFileRio``: an optional ``#TS:``
annotation, ``FUNCTION LOAD <code>`` per library, then per non-empty database
``SELECT <n>`` and per key the commands that rebuild it, followed by ``PEXPIREAT`` when it
has a TTL.  Collections are written in batches of :data:`AOF_REWRITE_ITEMS_PER_CMD` (64)
items (or field/value, score/member pairs).

The rewrite is a generator of byte chunks over an iterable of
``(db_index, key, value, expire_ms)``, so a background engine can run it in slices (pull a
few chunks, yield to the event loop, pull more).  Chunks end on command boundaries; a key
is written in one chunk unless it is a large collection, which is written one batch per
chunk.  Do not resume the generator after mutating the value it is serializing: a forkless
engine must hand it a stable view (copy-on-write) of each value.

Order inside a value follows what Redis produces for the equivalent encoding: lists in
order; hashes in insertion order (listpack order); sets that Redis would keep as an
intset (all members canonical 64-bit integers, at most ``set_max_intset_entries``) sorted
numerically, other sets in iteration order (Redis's hashtable order is arbitrary too);
zsets in score order (listpack order; Redis iterates its dict for large zsets); stream
groups, consumers and pending entries in rax (byte / ID) order.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from ember.keyspace.types import FieldTTLHash, Stream, ZSet
from ember.persistence.aof.format import (
    AOF_REWRITE_ITEMS_PER_CMD,
    encode_command,
    encode_select,
    timestamp_annotation,
)

RewriteItem = tuple[int, bytes, Any, int | None]

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def format_score(score: float) -> bytes:
    """A zset score as Redis 7.0 ``rioWriteBulkDouble`` writes it (``%.17g``)."""
    return b"%.17g" % score


def format_stream_id(sid: tuple[int, int]) -> bytes:
    return b"%d-%d" % (sid[0], sid[1])


def _intset_value(member: bytes) -> int | None:
    """The integer a set member would be stored as in an intset, else None.

    Redis ``string2ll``: canonical decimal (no ``+``, no leading zeros, no ``-0``),
    within 64 bits, at most 20 characters.
    """
    n = len(member)
    if n == 0 or n > 20:
        return None
    if member == b"0":
        return 0
    body = member[1:] if member[0] == 0x2D else member
    if not body or not body.isdigit() or body[0] == 0x30:
        return None
    value = int(member)
    if value < _INT64_MIN or value > _INT64_MAX:
        return None
    return value


def _set_members(value: set[bytes], max_intset: int) -> Iterable[bytes]:
    if len(value) <= max_intset:
        ints: list[tuple[int, bytes]] = []
        for m in value:
            iv = _intset_value(m)
            if iv is None:
                return value
            ints.append((iv, m))
        ints.sort()
        return [m for _, m in ints]
    return value


def _batched(
    cmd: bytes, key: bytes, items: Iterable[bytes], count: int, per_item: int, batch: int
) -> Iterator[bytes]:
    """``cmd key a b c ...`` in commands of at most ``batch`` items of ``per_item`` args."""
    args: list[bytes] = []
    left = count
    need = 0
    for a in items:
        if not args:
            size = batch if left > batch else left
            need = size * per_item
            args = [cmd, key]
        args.append(a)
        if len(args) - 2 == need:
            yield encode_command(args)
            left -= need // per_item
            args = []
    if args:  # the value shrank while iterating: write what we have
        yield encode_command(args)


def _list_commands(key: bytes, value: deque[bytes], batch: int) -> Iterator[bytes]:
    return _batched(b"RPUSH", key, value, len(value), 1, batch)


def _set_commands(key: bytes, value: set[bytes], batch: int, max_intset: int) -> Iterator[bytes]:
    return _batched(b"SADD", key, _set_members(value, max_intset), len(value), 1, batch)


def _zset_items(value: ZSet) -> Iterator[bytes]:
    # -0.0 scores go last: an early ZADD batch creates a small (listpack) zset, which
    # stores -0 as 0; by the last batch a big zset is a skiplist and keeps the sign
    negzero: list[bytes] = []
    for score, member in value.index:
        if score == 0.0 and math.copysign(1.0, score) < 0:
            negzero.append(member)
            continue
        yield format_score(score)
        yield member
    for member in negzero:
        yield b"-0"
        yield member


def _zset_commands(key: bytes, value: ZSet, batch: int) -> Iterator[bytes]:
    return _batched(b"ZADD", key, _zset_items(value), len(value), 2, batch)


def _hash_items(value: dict[bytes, bytes]) -> Iterator[bytes]:
    for f, v in value.items():
        yield f
        yield v


def _hash_commands(key: bytes, value: dict[bytes, bytes], batch: int) -> Iterator[bytes]:
    expires = getattr(value, "field_expires", None)
    if expires:
        # Redis 7.4 (hash field expiration): one HMSET per field, then HPEXPIREAT for
        # each field that has a TTL
        for f, v in value.items():
            out = [encode_command((b"HMSET", key, f, v))]
            ms = expires.get(f)
            if ms is not None:
                out.append(encode_command((b"HPEXPIREAT", key, b"%d" % ms, b"FIELDS", b"1", f)))
            yield b"".join(out)
        return
    yield from _batched(b"HMSET", key, _hash_items(value), len(value), 2, batch)


def _stream_commands(key: bytes, s: Stream) -> Iterator[bytes]:
    if len(s.entries):
        for sid, fields in s.entries.items():
            yield encode_command([b"XADD", key, format_stream_id(sid), *fields])
    else:
        # the XADD MAXLEN 0 trick creates an empty stream
        yield encode_command((b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"))
    out = [
        encode_command(
            (
                b"XSETID",
                key,
                format_stream_id(s.last_id),
                b"ENTRIESADDED",
                b"%d" % s.entries_added,
                b"MAXDELETEDID",
                format_stream_id(s.max_deleted_id),
            )
        )
    ]
    for gname in sorted(s.groups):
        g = s.groups[gname]
        out.append(
            encode_command(
                (
                    b"XGROUP",
                    b"CREATE",
                    key,
                    gname,
                    format_stream_id(g.last_id),
                    b"ENTRIESREAD",
                    b"%d" % g.entries_read,
                )
            )
        )
        for cname in sorted(g.consumers):
            c = g.consumers[cname]
            if not len(c.pel):
                out.append(encode_command((b"XGROUP", b"CREATECONSUMER", key, gname, c.name)))
                continue
            for sid in c.pel:
                nack = g.pel.get(sid)
                if nack is None:  # inconsistent PEL: nothing to claim
                    continue
                out.append(
                    encode_command(
                        (
                            b"XCLAIM",
                            key,
                            gname,
                            c.name,
                            b"0",
                            format_stream_id(sid),
                            b"TIME",
                            b"%d" % nack.delivery_time,
                            b"RETRYCOUNT",
                            b"%d" % nack.delivery_count,
                            b"JUSTID",
                            b"FORCE",
                        )
                    )
                )
        if len(out) >= 64:
            yield b"".join(out)
            out = []
    if out:
        yield b"".join(out)


def rewrite_key(
    key: bytes,
    value: Any,
    expire_ms: int | None = None,
    *,
    items_per_cmd: int = AOF_REWRITE_ITEMS_PER_CMD,
    set_max_intset_entries: int = 512,
) -> Iterator[bytes]:
    """The commands rebuilding one key (then its ``PEXPIREAT``), as byte chunks."""
    t = type(value)
    if t is bytes or t is bytearray:
        chunk = encode_command((b"SET", key, value))
        if expire_ms is not None:
            chunk += encode_command((b"PEXPIREAT", key, b"%d" % expire_ms))
        yield chunk
        return
    if t is deque:
        yield from _list_commands(key, value, items_per_cmd)
    elif t is dict or t is FieldTTLHash:
        yield from _hash_commands(key, value, items_per_cmd)
    elif t is set:
        yield from _set_commands(key, value, items_per_cmd, set_max_intset_entries)
    elif t is ZSet:
        yield from _zset_commands(key, value, items_per_cmd)
    elif t is Stream:
        yield from _stream_commands(key, value)
    else:
        raise TypeError(f"cannot rewrite a value of type {t.__name__}")
    if expire_ms is not None:
        yield encode_command((b"PEXPIREAT", key, b"%d" % expire_ms))


def function_load_command(code: bytes) -> bytes:
    """``FUNCTION LOAD <code>`` for one library (``rewriteFunctions``)."""
    return encode_command((b"FUNCTION", b"LOAD", code))


def rewrite_commands(
    items: Iterable[RewriteItem],
    functions: Iterable[bytes] = (),
    *,
    timestamp: int | None = None,
    items_per_cmd: int = AOF_REWRITE_ITEMS_PER_CMD,
    set_max_intset_entries: int = 512,
) -> Iterator[bytes]:
    """The whole rewrite as byte chunks (see the module docstring).

    ``items``: ``(db_index, key, value, expire_ms)`` grouped by database (Redis writes
    db 0 first, then 1, ...); a ``SELECT`` is written whenever the db index changes.
    ``functions``: the code of each function library.  ``timestamp``: write
    ``#TS:<timestamp>`` first (``aof-timestamp-enabled``).
    """
    if timestamp is not None:
        yield timestamp_annotation(timestamp)
    for code in functions:
        yield function_load_command(code)
    current_db: int | None = None
    for db, key, value, expire_ms in items:
        if db != current_db:
            yield encode_select(db)
            current_db = db
        yield from rewrite_key(
            key,
            value,
            expire_ms,
            items_per_cmd=items_per_cmd,
            set_max_intset_entries=set_max_intset_entries,
        )


def rewrite_dataset(
    items: Iterable[RewriteItem],
    functions: Iterable[bytes] = (),
    **kwargs: Any,
) -> bytes:
    """:func:`rewrite_commands` joined into one ``bytes`` (tests, small datasets)."""
    return b"".join(rewrite_commands(items, functions, **kwargs))


__all__ = [
    "RewriteItem",
    "format_score",
    "format_stream_id",
    "function_load_command",
    "rewrite_commands",
    "rewrite_dataset",
    "rewrite_key",
]
