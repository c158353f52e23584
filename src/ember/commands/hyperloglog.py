"""HyperLogLog commands (Redis 7.0): PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST.

Values are strings in Redis's exact HLL layout (see :mod:`ember.keyspace.hll`), so they
can be moved between ember and redis-server with GET/SET, DUMP/RESTORE or RDB files.

Like Redis, a single-key PFCOUNT stores the computed cardinality in the header cache:
that modifies the value (it counts as a change and is propagated), although the command
is flagged read-only.
"""

from __future__ import annotations

import math
import random
from typing import Any

from ember import errors
from ember.commands.registry import Flag, command
from ember.errors import CommandError
from ember.keyspace import hll as H
from ember.keyspace.db import Db
from ember.protocol.resp import OK, Status
from ember.server.client import Client
from ember.server.pubsub import NOTIFY_STRING

G = "hyperloglog"
SINCE = "2.8.9"
EMBSTR_MAX = 44


def _lookup(db: Db, key: bytes) -> bytes | bytearray | None:
    """The value of an HLL key (None if missing), with Redis's type/format errors."""
    v = db.lookup(key)
    if v is None:
        return None
    if type(v) is not bytes and type(v) is not bytearray:
        raise CommandError(errors.WRONGTYPE)
    if not H.is_hll(v):
        raise CommandError(H.WRONGTYPE_ERR)
    return v


def _store(db: Db, key: bytes, h: H.HLL, created: bool) -> None:
    new: bytes | bytearray = h.to_bytes()
    if len(new) <= EMBSTR_MAX and h.mem is None:
        # Redis's HLL strings are "raw" (OBJECT ENCODING); tiny values are cheap to decode
        new = bytearray(new)
    else:
        H.remember(new, h)  # type: ignore[arg-type]
    if created:
        db.add(key, new)
    else:
        db.set(key, new, keep_ttl=True, touch=False)  # the caller's lookup was the access


def _keep(v: bytes | bytearray, h: H.HLL) -> None:
    """Put back an unchanged decoded value in the cache."""
    if type(v) is bytes:
        H.remember(v, h)


@command(
    "pfadd",
    -2,
    Flag.WRITE | Flag.DENYOOM | Flag.FAST,
    keys=(1, 1, 1),
    group=G,
    since=SINCE,
    summary="Adds the specified elements to the specified HyperLogLog.",
)
def pfadd(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    v = _lookup(db, key)
    if v is None:
        h = H.HLL.load(H.EMPTY_SPARSE)
        created = True
        updated = 1
    else:
        h = H.load_cached(v, take=True)
        created = False
        updated = 0
    n, corrupt = h.add(argv[2:], c.server.config.values["hll-sparse-max-bytes"])
    if corrupt:
        # Redis keeps the registers already updated in place, without propagating
        if n or created:
            _store(db, key, h, created)
        elif v is not None:
            _keep(v, h)
        raise CommandError(H.INVALID_ERR)
    updated += n
    if not updated:
        assert v is not None
        _keep(v, h)
        return 0
    h.invalidate_cache()
    _store(db, key, h, created)
    srv = c.server
    srv.dirty += updated
    srv.notify(NOTIFY_STRING, b"pfadd", key, db.id)
    return 1


def _values(db: Db, keys: list[bytes]) -> list[bytes | bytearray]:
    """The existing HLL values at ``keys``, each checked (type, then corruption) in
    order like Redis's merge loop."""
    out = []
    for key in keys:
        v = _lookup(db, key)
        if v is not None:
            sp = H.load_cached(v).sparse
            if sp is not None and not sp.valid:
                raise CommandError(H.INVALID_ERR)
            out.append(v)
    return out


def _union_raw(values: list[bytes | bytearray]) -> bytes | None:
    """Register-wise max of HLL values (raw, one byte per register), None if none."""
    acc: int | None = None
    for v in values:
        x = H.load_cached(v).raw_int()
        if x is None:
            raise CommandError(H.INVALID_ERR)
        acc = x if acc is None else H.raw_max_int(acc, x)
    if acc is None:
        return None
    return acc.to_bytes(H.REGISTERS, "little")


# last multi-key PFCOUNT: its input values and result (repeated unions are common)
_last_union: tuple[tuple[bytes, ...], int] | None = None


def _union_count(values: list[bytes | bytearray]) -> int:
    global _last_union
    if not values:
        return 0
    if _last_union is not None:
        prev, card = _last_union
        # same contents (identical objects compare in O(1), others with a memcmp)
        if len(prev) == len(values) and all(a == b for a, b in zip(prev, values, strict=True)):
            return card
    if len(values) == 1:
        one = H.load_cached(values[0]).count()
        if one is None:
            raise CommandError(H.INVALID_ERR)
        card = one
    else:
        raw = _union_raw(values)
        assert raw is not None
        card = H.estimate(H.raw_histogram(raw))
    _last_union = (tuple(bytes(v) for v in values), card)
    return card


@command(
    "pfcount",
    -2,
    Flag.READONLY | Flag.MAY_REPLICATE,
    keys=(1, -1, 1),
    group=G,
    since=SINCE,
    summary="Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
)
def pfcount(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    if len(argv) > 2:
        return _union_count(_values(db, argv[1:]))
    key = argv[1]
    v = _lookup(db, key)
    if v is None:
        return 0
    if not v[15] & 0x80:
        return int.from_bytes(v[8:16], "little")
    h = H.load_cached(v, take=True)
    card = h.count()
    if card is None:
        _keep(v, h)
        raise CommandError(H.INVALID_ERR)
    h.set_cached_card(card)
    _store(db, key, h, False)
    srv = c.server
    srv.dirty += 1
    # Redis propagates PFCOUNT when it updated the cached cardinality
    srv.also_propagate(db.id, list(argv))
    return card


@command(
    "pfmerge",
    -2,
    Flag.WRITE | Flag.DENYOOM,
    keys=(1, -1, 1),
    group=G,
    since=SINCE,
    summary="Merge N different HyperLogLogs into a single one.",
    read_lookups=True,
)
def pfmerge(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    values = _values(db, argv[1:])
    use_dense = any(v[4] == H.DENSE for v in values)
    raw = _union_raw(values)
    dest = argv[1]
    v = db.peek(dest)  # already looked up (and validated) as the first source
    if v is None:
        h = H.HLL.load(H.EMPTY_SPARSE)
        created = True
    else:
        h = H.load_cached(v, take=True)
        created = False
    if use_dense and not h.to_dense():
        raise CommandError(H.INVALID_ERR)
    if raw is not None:
        if not h.is_dense:
            maxb = c.server.config.values["hll-sparse-max-bytes"]
            for j in H.nonzero_registers(raw):
                h.set_register(j, raw[j], maxb)
                if h.is_dense:
                    break
        if h.is_dense:
            # every register ends at the union's value (the destination is a source)
            h.set_dense_raw(raw)
    h.invalidate_cache()
    _store(db, dest, h, created)
    srv = c.server
    srv.notify(NOTIFY_STRING, b"pfadd", dest, db.id)
    srv.dirty += 1
    return OK


@command(
    "pfdebug",
    3,
    Flag.WRITE | Flag.DENYOOM | Flag.ADMIN,
    keys=(2, 2, 1),
    group=G,
    since=SINCE,
    summary="Internal commands for debugging HyperLogLog values",
)
def pfdebug(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    sub = argv[1]
    key = argv[2]
    v = db.lookup(key)
    if v is None:
        raise CommandError("ERR The specified key does not exist")
    v = _lookup(db, key)
    assert v is not None
    h = H.load_cached(v, take=True)
    s = sub.lower()
    if s == b"getreg":
        if not h.is_dense:
            if not h.to_dense():
                _keep(v, h)
                raise CommandError(H.INVALID_ERR)
            _store(db, key, h, False)
            c.server.dirty += 1
        else:
            _keep(v, h)
        assert h.regs is not None
        return list(H.dense_to_raw(h.regs))
    if s == b"decode":
        _keep(v, h)
        if h.sparse is None:
            raise CommandError("ERR HLL encoding is not sparse")
        return h.sparse.decode_text()
    if s == b"encoding":
        _keep(v, h)
        return Status("dense" if h.is_dense else "sparse")
    if s == b"todense":
        if h.is_dense:
            _keep(v, h)
            return 0
        if not h.to_dense():
            _keep(v, h)
            raise CommandError(H.INVALID_ERR)
        _store(db, key, h, False)
        c.server.dirty += 1
        return 1
    _keep(v, h)
    raise CommandError(f"ERR Unknown PFDEBUG subcommand '{sub.decode(errors='replace')}'")


@command(
    "pfselftest",
    1,
    Flag.ADMIN,
    group=G,
    since=SINCE,
    summary="An internal command for testing HyperLogLog values",
)
def pfselftest(c: Client, argv: list[bytes]) -> Any:
    rnd = random.Random()
    # 1: dense register access, packed vs. one byte per register
    regs = bytearray(H.DENSE_REGS_SIZE)
    for _ in range(3):
        vals = bytes(rnd.getrandbits(6) for _ in range(H.REGISTERS))
        packed = H.raw_to_dense(vals)
        for i in range(0, H.REGISTERS, 97):
            H.dense_put(regs, i, vals[i])
            if H.dense_get(regs, i) != vals[i]:
                raise CommandError(
                    f"TESTFAILED Register {i} should be {vals[i]} but is {H.dense_get(regs, i)}"
                )
        if bytes(H.dense_to_raw(packed)) != vals:
            raise CommandError("TESTFAILED dense packing")
    # 2: sparse and dense agree, error within bounds
    maxb = c.server.config.values["hll-sparse-max-bytes"]
    sparse = H.HLL.load(H.EMPTY_SPARSE)
    dense = H.HLL.load(H.EMPTY_SPARSE)
    dense.to_dense()
    seed = rnd.getrandbits(64)
    checkpoint = 1
    for j in range(1, 10001):
        ele = (j ^ seed).to_bytes(8, "little")
        sparse.add([ele], maxb)
        dense.add([ele], maxb)
        if j == checkpoint:
            if j < maxb // 2 and sparse.is_dense:
                raise CommandError("TESTFAILED sparse encoding not used")
            card = dense.count() or 0
            if card != sparse.count():
                raise CommandError("TESTFAILED dense/sparse disagree")
            maxerr = 1 if j == 10 else math.ceil(1.04 / 128 * 6 * j)
            if abs(j - card) > maxerr:
                raise CommandError(f"TESTFAILED Too big error. card:{j} abserr:{abs(j - card)}")
            checkpoint *= 10
    return OK
