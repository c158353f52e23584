"""SORT and SORT_RO (Redis 7.0).

``SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC]
[ALPHA] [STORE destination]`` on lists, sets and sorted sets. Numeric sorting breaks ties
by comparing the elements (bytes), like Redis, so the output is deterministic; ALPHA
compares bytes (Redis uses strcoll, which is the same under the C locale). ``BY`` without
``*`` skips sorting (except for sets with STORE, which Redis sorts alphabetically so the
result replicates deterministically). ``pattern->field`` reads a hash field.
"""

from __future__ import annotations

import sys
from collections import deque
from itertools import islice
from typing import Any

from ember import errors
from ember.commands.args import parse_int
from ember.commands.registry import Flag, command
from ember.commands.set import intset_order
from ember.commands.zset import strtod_lenient
from ember.errors import CommandError
from ember.keyspace.db import Db
from ember.keyspace.types import FieldTTLHash, ZSet
from ember.server.client import Client
from ember.server.pubsub import NOTIFY_GENERIC, NOTIFY_LIST

G = "generic"
_ACL = ("@set", "@sortedset", "@list", "@dangerous")
_DBL_MIN = sys.float_info.min


def lookup_by_pattern(db: Db, pattern: bytes, subst: bytes) -> bytes | None:
    """``lookupKeyByPattern``: ``#`` is the element; ``*`` is replaced by it; ``->f`` reads
    a hash field. Missing keys, wrong types and patterns without ``*`` give None."""
    if pattern == b"#":
        return subst
    p = pattern.find(b"*")
    if p < 0:
        return None
    f = pattern.find(b"->", p + 1)
    field = None
    if f >= 0 and f + 2 < len(pattern):
        field = pattern[f + 2 :]
        key = pattern[:p] + subst + pattern[p + 1 : f]
    else:
        key = pattern[:p] + subst + pattern[p + 1 :]
    o = db.lookup(key)
    if o is None:
        return None
    if field is not None:
        if type(o) is dict or type(o) is FieldTTLHash:
            return o.get(field)
        return None
    t = type(o)
    if t is bytes:
        return o
    if t is bytearray:
        return bytes(o)
    return None


def _sort_keys(argv: list[bytes]) -> list[int]:
    """sortGetKeys: the sorted key and the last STORE destination."""
    keys = [1]
    store = -1
    skip = {b"limit": 2, b"get": 1, b"by": 1}
    i = 2
    n = len(argv)
    while i < n:
        o = argv[i].lower()
        if o in skip:
            i += skip[o]
        elif o == b"store" and i + 1 < n:
            store = i + 1
        i += 1
    if store > 0:
        keys.append(store)
    return keys


def _strcoll_key(b: bytes) -> bytes:
    # strcoll() in the C locale is strcmp(): the comparison stops at a NUL byte
    return b.split(b"\0", 1)[0] if ord("\0") in b else b


def _sort(c: Client, argv: list[bytes], readonly: bool) -> Any:
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    storekey: bytes | None = None
    sortby: bytes | None = None
    gets: list[bytes] = []
    j = 2
    n = len(argv)
    while j < n:
        o = argv[j].lower()
        left = n - j - 1
        if o == b"asc":
            desc = False
        elif o == b"desc":
            desc = True
        elif o == b"alpha":
            alpha = True
        elif o == b"limit" and left >= 2:
            limit_start = parse_int(argv[j + 1])
            limit_count = parse_int(argv[j + 2])
            j += 2
        elif not readonly and o == b"store" and left >= 1:
            storekey = argv[j + 1]
            j += 1
        elif o == b"by" and left >= 1:
            sortby = argv[j + 1]
            dontsort = ord("*") not in sortby
            j += 1
        elif o == b"get" and left >= 1:
            gets.append(argv[j + 1])
            j += 1
        else:
            raise CommandError(errors.SYNTAX)
        j += 1
    db = c.db
    val = db.lookup(argv[1])
    t = type(val)
    if val is not None and t is not deque and t is not set and t is not ZSet:
        raise CommandError(errors.WRONGTYPE)
    if val is None:
        val = deque()
        t = deque
    if dontsort and t is set and (storekey is not None or c.server.busy_script is not None):
        # the output must be deterministic to replicate: sort alphabetically instead
        dontsort, alpha, sortby = False, True, None
    size = len(val)
    start = min(max(limit_start, 0), size)
    limit_count = min(max(limit_count, -1), size)
    end = size - 1 if limit_count < 0 else start + limit_count - 1
    if start >= size:
        start, end = size - 1, size - 2
    if end >= size:
        end = size - 1
    elems: list[bytes]
    if dontsort and (t is deque or t is ZSet):
        # native order (reversed by DESC), only the requested range
        if t is deque:
            src: Any = reversed(val) if desc else val
        else:
            src = (m for _, m in (reversed(val.index) if desc else val.index))
        elems = list(islice(src, start, end + 1)) if end >= start else []
        end -= start
        start = 0
    elif t is deque:
        elems = list(val)
    elif t is set:
        ordered = intset_order(c, val)
        elems = ordered if ordered is not None else list(val)
    else:
        elems = list(val.scores)
    if not dontsort:
        store = storekey is not None
        if alpha:
            if sortby is not None:
                cmp: list[Any] = []
                for e in elems:
                    v = lookup_by_pattern(db, sortby, e)
                    cmp.append((0,) if v is None else (1, v if store else _strcoll_key(v)))
            else:
                cmp = elems if store else [_strcoll_key(e) for e in elems]
            order = sorted(range(len(elems)), key=cmp.__getitem__, reverse=desc)
            elems = [elems[i] for i in order]
        else:
            keyed: list[tuple[float, bytes]] = []
            bad = False
            for e in elems:
                byval = lookup_by_pattern(db, sortby, e) if sortby is not None else e
                score = 0.0
                if byval is not None:
                    r = strtod_lenient(byval)
                    if r is None or r[1] or (r[0] != 0.0 and -_DBL_MIN < r[0] < _DBL_MIN):
                        bad = True
                    else:
                        score = r[0]
                keyed.append((score, e))
            if bad:
                raise CommandError("ERR One or more scores can't be converted into double")
            keyed.sort(reverse=desc)
            elems = [e for _, e in keyed]
    picked = elems[start : end + 1] if end >= start else []
    if storekey is None:
        if not gets:
            return picked
        out: list[Any] = []
        for e in picked:
            for g in gets:
                out.append(lookup_by_pattern(db, g, e))
        return out
    if gets:
        stored: list[bytes] = []
        for e in picked:
            for g in gets:
                v = lookup_by_pattern(db, g, e)
                stored.append(b"" if v is None else v)
    else:
        stored = picked
    srv = c.server
    if stored:
        db.set(storekey, deque(stored))
        srv.notify(NOTIFY_LIST, b"sortstore", storekey, db.id)
        srv.dirty += len(stored)
    elif db.exists(storekey) and db.delete(storekey):
        srv.notify(NOTIFY_GENERIC, b"del", storekey, db.id)
        srv.dirty += 1
    return len(stored)


@command(
    "sort",
    -2,
    Flag.WRITE | Flag.DENYOOM,
    keys=(1, 1, 1),
    keys_fn=_sort_keys,
    group=G,
    acl=_ACL,
    since="1.0.0",
    summary="Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
    read_lookups=True,
)
def sort(c: Client, argv: list[bytes]) -> Any:
    return _sort(c, argv, False)


@command(
    "sort_ro",
    -2,
    Flag.READONLY,
    keys=(1, 1, 1),
    keys_fn=lambda argv: [1],
    group=G,
    acl=_ACL,
    since="7.0.0",
    summary="Returns the sorted elements of a list, a set, or a sorted set.",
)
def sort_ro(c: Client, argv: list[bytes]) -> Any:
    return _sort(c, argv, True)
