"""Set commands (Redis 7.0): SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SRANDMEMBER SPOP
SMOVE SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE SSCAN.

A set is a Python ``set[bytes]``. Redis keeps small all-integer sets as an *intset*,
which iterates in ascending numeric order; ember replies in that order too whenever the
set would be an intset (all canonical integers, at most ``set-max-intset-entries``), so
SMEMBERS & co. match Redis byte for byte in that case. Other sets come back in hash
order, which is arbitrary in both servers.

SPOP is propagated as SREM of the popped members (or DEL when the whole set is popped).
"""

from __future__ import annotations

import random
from itertools import islice
from typing import Any

from ember import errors
from ember.commands.args import LLONG_MAX, LLONG_MIN
from ember.commands.keys import parse_scan_options, scan_page
from ember.commands.list import bulk_array, numkeys_positions, positive_long, range_long
from ember.commands.registry import Flag, command
from ember.errors import CommandError
from ember.keyspace.db import Db
from ember.keyspace.scan import parse_cursor
from ember.protocol.resp import Raw
from ember.server.client import Client
from ember.server.pubsub import NOTIFY_GENERIC, NOTIFY_SET, fast_glob

G = "set"
W = Flag.WRITE
WD = Flag.WRITE | Flag.DENYOOM
RO = Flag.READONLY
K1 = (1, 1, 1)
MAX_RANDOM_REPLY = 1 << 32


def _get_set(db: Db, key: bytes) -> set[bytes] | None:
    v = db.lookup(key)
    if v is None or type(v) is set:
        return v
    raise CommandError(errors.WRONGTYPE)


def intset_order(c: Client, s: Any) -> list[bytes] | None:
    """Members in ascending numeric order if Redis would hold ``s`` as an intset."""
    if not s or len(s) > c.server.cfg["set-max-intset-entries"] or max(map(len, s)) > 20:
        return None
    try:
        nums = sorted(map(int, s))
    except ValueError:
        return None
    if not nums or nums[0] < LLONG_MIN or nums[-1] > LLONG_MAX:
        return None
    out = [b"%d" % i for i in nums]
    # int() accepts " 1", "+1", "01", "1_0": only canonical spellings make an intset
    if not s.issuperset(out) or (len(out) > 1 and len(set(out)) != len(out)):
        return None
    return out


def _members(c: Client, s: set[bytes]) -> Any:
    """The members in Redis's iteration order where it is deterministic."""
    ordered = intset_order(c, s)
    return ordered if ordered is not None else s


def set_reply(c: Client, items: Any) -> Any:
    """A RESP3 set (RESP2 array) reply, keeping the order of ``items``."""
    if type(items) is set:
        if len(items) >= 8:
            r = bulk_array(list(items), b"~" if c.resp3 else b"*")
            if r is not None:
                return r
        return items
    if len(items) >= 8:
        r = bulk_array(items if type(items) is list else list(items), b"~" if c.resp3 else b"*")
        if r is not None:
            return r
    if not c.resp3:
        return items if type(items) is list else list(items)
    parts = [b"~%d\r\n" % len(items)]
    for x in items:
        parts.append(b"$%d\r\n%b\r\n" % (len(x), x))
    return Raw(b"".join(parts))


def _random_member(s: set[bytes]) -> bytes:
    n = len(s)
    if n <= 4096:
        return random.choice(tuple(s))
    return next(islice(s, random.randrange(n), None))


@command(
    "sadd",
    -3,
    WD | Flag.FAST,
    keys=K1,
    group=G,
    summary="Adds one or more members to a set. Creates the key if it doesn't exist.",
)
def sadd(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    s = db.lookup(key)
    if s is None:
        s = set(argv[2:])
        db.add(key, s)
        added = len(s)
    elif type(s) is set:
        before = len(s)
        if len(argv) == 3:
            m = argv[2]
            if m in s:
                return 0
            db.will_write(key)
            s.add(m)
        else:
            new = [m for m in argv[2:] if m not in s]
            if not new:
                return 0
            db.will_write(key)
            s.update(new)
        added = len(s) - before
    else:
        raise CommandError(errors.WRONGTYPE)
    srv = c.server
    srv.dirty += added
    srv.notify(NOTIFY_SET, b"sadd", key, db.id)
    return added


@command(
    "srem",
    -3,
    W | Flag.FAST,
    keys=K1,
    group=G,
    summary="Removes one or more members from a set. Deletes the set if the last member was removed.",
)
def srem(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    s = _get_set(db, key)
    if s is None:
        return 0
    before = len(s)
    if not any(m in s for m in argv[2:]):
        return 0
    db.will_write(key)
    s.difference_update(argv[2:])
    removed = before - len(s)
    srv = c.server
    srv.dirty += removed
    srv.notify(NOTIFY_SET, b"srem", key, db.id)
    if not s:
        db.delete(key)
        srv.notify(NOTIFY_GENERIC, b"del", key, db.id)
    return removed


@command(
    "scard", 2, RO | Flag.FAST, keys=K1, group=G, summary="Returns the number of members in a set."
)
def scard(c: Client, argv: list[bytes]) -> Any:
    s = _get_set(c.db, argv[1])
    return 0 if s is None else len(s)


@command(
    "sismember",
    3,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    summary="Determines whether a member belongs to a set.",
)
def sismember(c: Client, argv: list[bytes]) -> Any:
    s = _get_set(c.db, argv[1])
    return 1 if s is not None and argv[2] in s else 0


@command(
    "smismember",
    -3,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="6.2.0",
    summary="Determines whether multiple members belong to a set.",
)
def smismember(c: Client, argv: list[bytes]) -> Any:
    s = _get_set(c.db, argv[1])
    if s is None:
        return [0] * (len(argv) - 2)
    return [1 if m in s else 0 for m in argv[2:]]


@command("smembers", 2, RO, keys=K1, group=G, summary="Returns all members of a set.")
def smembers(c: Client, argv: list[bytes]) -> Any:
    s = _get_set(c.db, argv[1])
    if s is None:
        return set()
    return set_reply(c, _members(c, s))


@command(
    "smove",
    4,
    W | Flag.FAST,
    keys=(1, 2, 1),
    group=G,
    summary="Moves a member from one set to another.",
)
def smove(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    src, dst, m = argv[1], argv[2], argv[3]
    s = db.lookup(src)
    d = db.lookup(dst)
    if s is None:
        return 0
    if type(s) is not set or (d is not None and type(d) is not set):
        raise CommandError(errors.WRONGTYPE)
    if s is d:
        return 1 if m in s else 0
    if m not in s:
        return 0
    srv = c.server
    db.will_write(src)
    s.discard(m)
    srv.notify(NOTIFY_SET, b"srem", src, db.id)
    if not s:
        db.delete(src)
        srv.notify(NOTIFY_GENERIC, b"del", src, db.id)
    srv.dirty += 1
    if d is None:
        db.add(dst, {m})
    elif m in d:
        return 1
    else:
        db.will_write(dst)
        d.add(m)
    srv.dirty += 1
    srv.notify(NOTIFY_SET, b"sadd", dst, db.id)
    return 1


# ------------------------------------------------------------------------------ random


@command(
    "srandmember",
    -2,
    RO | Flag.RANDOM,
    keys=K1,
    group=G,
    summary="Get one or multiple random members from a set",
)
def srandmember(c: Client, argv: list[bytes]) -> Any:
    n = len(argv)
    if n > 3:
        raise CommandError(errors.SYNTAX)
    if n == 2:
        s = _get_set(c.db, argv[1])
        return None if s is None else _random_member(s)
    count = range_long(argv[2], -LLONG_MAX, LLONG_MAX)
    s = _get_set(c.db, argv[1])
    if s is None or count == 0:
        return []
    if count < 0:
        if -count > MAX_RANDOM_REPLY:
            raise CommandError("ERR value is out of range")
        return random.choices(tuple(s), k=-count)
    if count == 1:
        return [_random_member(s)]
    if count >= len(s):
        m = _members(c, s)
        return m if type(m) is list else list(m)
    return random.sample(tuple(s), count)


@command(
    "spop",
    -2,
    W | Flag.FAST | Flag.RANDOM,
    keys=K1,
    group=G,
    summary="Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
)
def spop(c: Client, argv: list[bytes]) -> Any:
    n = len(argv)
    if n > 3:
        raise CommandError(errors.SYNTAX)
    db = c.db
    key = argv[1]
    srv = c.server
    if n == 2:
        s = _get_set(db, key)
        if s is None:
            return None
        db.will_write(key)
        m = _random_member(s) if len(s) <= 4096 else s.pop()
        s.discard(m)
        srv.notify(NOTIFY_SET, b"spop", key, db.id)
        c.prop_argv = [b"SREM", key, m]
        if not s:
            db.delete(key)
            srv.notify(NOTIFY_GENERIC, b"del", key, db.id)
        srv.dirty += 1
        return m
    count = positive_long(argv[2])
    s = _get_set(db, key)
    if s is None or count == 0:
        return set()
    size = len(s)
    srv.notify(NOTIFY_SET, b"spop", key, db.id)
    if count >= size:
        out = _members(c, s)
        out = out if type(out) is list else list(out)
        db.delete(key)
        srv.notify(NOTIFY_GENERIC, b"del", key, db.id)
        srv.dirty += size
        c.prop_argv = [b"DEL", key]
        return set_reply(c, out)
    db.will_write(key)
    picked = random.sample(tuple(s), count)
    s.difference_update(picked)
    srv.dirty += count
    for m in picked:
        srv.also_propagate(db.id, [b"SREM", key, m])
    srv.prevent_prop = True
    return set_reply(c, picked)


# ------------------------------------------------------------------------------ algebra


def _lookup_sets(db: Db, keys: list[bytes]) -> list[set[bytes] | None]:
    out: list[set[bytes] | None] = []
    for k in keys:
        out.append(_get_set(db, k))
    return out


def _inter(sets: list[set[bytes] | None], limit: int = 0) -> Any:
    """Members common to all sets, iterating the smallest (Redis order); None if empty."""
    if any(s is None for s in sets):
        return None
    ss: list[set[bytes]] = sorted(sets, key=len)  # type: ignore[arg-type]
    first, rest = ss[0], ss[1:]
    if not rest:
        return first
    if limit:
        out = []
        for m in first:
            if all(m in o for o in rest):
                out.append(m)
                if len(out) >= limit:
                    break
        return out
    return first.intersection(*rest)


def _store(c: Client, db: Db, dst: bytes, result: set[bytes], event: bytes) -> int:
    srv = c.server
    if result:
        db.set(dst, result)
        srv.notify(NOTIFY_SET, event, dst, db.id)
        srv.dirty += 1
        return len(result)
    if db.exists(dst) and db.delete(dst):
        srv.notify(NOTIFY_GENERIC, b"del", dst, db.id)
        srv.dirty += 1
    return 0


@command(
    "sinter", -2, RO, keys=(1, -1, 1), group=G, summary="Returns the intersect of multiple sets."
)
def sinter(c: Client, argv: list[bytes]) -> Any:
    sets = _lookup_sets(c.db, argv[1:])
    r = _inter(sets)
    if not r:
        return set()
    ss = sorted((s for s in sets if s is not None), key=len)
    if intset_order(c, ss[0]) is not None:
        return set_reply(c, sorted(r, key=int))
    return r


@command(
    "sintercard",
    -3,
    RO,
    keys=(0, 0, 0),
    keys_fn=numkeys_positions(1),
    group=G,
    since="7.0.0",
    summary="Returns the number of members of the intersect of multiple sets.",
)
def sintercard(c: Client, argv: list[bytes]) -> Any:
    numkeys = range_long(argv[1], 1, LLONG_MAX, "ERR numkeys should be greater than 0")
    if numkeys > len(argv) - 2:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    limit = 0
    j = 2 + numkeys
    while j < len(argv):
        if argv[j].lower() == b"limit" and j + 1 < len(argv):
            limit = positive_long(argv[j + 1], "ERR LIMIT can't be negative")
            j += 2
        else:
            raise CommandError(errors.SYNTAX)
    r = _inter(_lookup_sets(c.db, argv[2 : 2 + numkeys]), limit)
    if not r:
        return 0
    n = len(r)
    return min(n, limit) if limit else n


@command(
    "sinterstore",
    -3,
    WD,
    keys=(1, -1, 1),
    group=G,
    summary="Stores the intersect of multiple sets in a key.",
    read_lookups=True,
)
def sinterstore(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    r = _inter(_lookup_sets(db, argv[2:]))
    return _store(c, db, argv[1], set(r) if r else set(), b"sinterstore")


def _union(sets: list[set[bytes] | None]) -> set[bytes]:
    present = [s for s in sets if s is not None]
    if not present:
        return set()
    return set().union(*present)


def _diff(sets: list[set[bytes] | None]) -> set[bytes]:
    first = sets[0]
    if first is None:
        return set()
    rest = [s for s in sets[1:] if s is not None]
    if any(s is first for s in rest):
        return set()
    return first.difference(*rest)


@command("sunion", -2, RO, keys=(1, -1, 1), group=G, summary="Returns the union of multiple sets.")
def sunion(c: Client, argv: list[bytes]) -> Any:
    r = _union(_lookup_sets(c.db, argv[1:]))
    return set_reply(c, _members(c, r))


@command(
    "sunionstore",
    -3,
    WD,
    keys=(1, -1, 1),
    group=G,
    summary="Stores the union of multiple sets in a key.",
    read_lookups=True,
)
def sunionstore(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    return _store(c, db, argv[1], _union(_lookup_sets(db, argv[2:])), b"sunionstore")


@command(
    "sdiff", -2, RO, keys=(1, -1, 1), group=G, summary="Returns the difference of multiple sets."
)
def sdiff(c: Client, argv: list[bytes]) -> Any:
    r = _diff(_lookup_sets(c.db, argv[1:]))
    return set_reply(c, _members(c, r))


@command(
    "sdiffstore",
    -3,
    WD,
    keys=(1, -1, 1),
    group=G,
    summary="Stores the difference of multiple sets in a key.",
    read_lookups=True,
)
def sdiffstore(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    return _store(c, db, argv[1], _diff(_lookup_sets(db, argv[2:])), b"sdiffstore")


# ------------------------------------------------------------------------------ SSCAN


@command(
    "sscan", -3, RO, keys=K1, group=G, since="2.8.0", summary="Iterates over members of a set."
)
def sscan(c: Client, argv: list[bytes]) -> Any:
    cursor = parse_cursor(argv[2])
    s = _get_set(c.db, argv[1])
    if s is None:
        return [b"0", []]
    count, pattern, _, _ = parse_scan_options(argv, 3, False)
    match = fast_glob(pattern) if pattern is not None and pattern != b"*" else None
    ordered = intset_order(c, s)
    if ordered is not None:
        nxt, members = 0, ordered
    else:
        nxt, members = scan_page(c, cursor, s, count)
        members = [m for m in members if m in s]
    if match is not None:
        members = [m for m in members if match(m)]  # type: ignore[operator]
    return [b"%d" % nxt, members]
