"""DEBUG DIGEST / DIGEST-VALUE: Redis's order-independent SHA1 dataset digest.

Same construction as Redis (``computeDatasetDigest`` in debug.c): per key a 20-byte
digest mixing the key, the value's type and contents and an expire marker, XORed into
the database digest, which is mixed with the database id. Matching Redis's bytes lets
interop tests compare a whole dataset between ember and redis-server in one call.
"""

from __future__ import annotations

import hashlib
import struct
from collections import deque
from typing import Any

from ember.keyspace.types import Stream, ZSet

_TYPE_CODE = {bytes: 0, bytearray: 0, deque: 1, set: 2, ZSet: 3, Stream: 6}


def _xor(digest: bytearray, data: bytes) -> None:
    h = hashlib.sha1(data).digest()
    for i in range(20):
        digest[i] ^= h[i]


def _mix(digest: bytearray, data: bytes) -> None:
    _xor(digest, data)
    digest[:] = hashlib.sha1(bytes(digest)).digest()


def _type_code(value: Any) -> int:
    if isinstance(value, dict):
        return 4
    return _TYPE_CODE[type(value)]


def object_digest(digest: bytearray, value: Any, has_expire: bool) -> None:
    _mix(digest, struct.pack(">I", _type_code(value)))
    t = type(value)
    if t is bytes or t is bytearray:
        _mix(digest, bytes(value))
    elif t is deque:
        for e in value:
            _mix(digest, e)
    elif t is set:
        for e in value:
            _xor(digest, e)
    elif t is ZSet:
        for member, score in value.scores.items():
            ele = bytearray(20)
            _mix(ele, member)
            _mix(ele, _fmt17g(score))
            _xor(digest, bytes(ele))
    elif isinstance(value, dict):
        for f, v in value.items():
            ele = bytearray(20)
            _mix(ele, f)
            _mix(ele, v)
            _xor(digest, bytes(ele))
    elif t is Stream:
        for (ms, seq), fields in value.entries.items():
            _mix(digest, b"%d.%d" % (ms, seq))
            for x in fields:
                _mix(digest, x)
    if has_expire:
        _xor(digest, b"!!expire!!")  # xorDigest, not mixDigest (debug.c xorObjectDigest)


def _fmt17g(v: float) -> bytes:
    if v == float("inf"):
        return b"inf"
    if v == float("-inf"):
        return b"-inf"
    return b"%.17g" % v


def dataset_digest(dbs: list[Any]) -> bytes:
    final = bytearray(20)
    for db in dbs:
        if not len(db):
            continue
        _mix(final, struct.pack(">I", db.id))
        expires = db.expires
        for key, value in db.items():
            d = bytearray(20)
            _mix(d, key)
            object_digest(d, value, key in expires)
            _xor(final, bytes(d))
    return final.hex().encode()


def value_digest(value: Any, has_expire: bool) -> bytes:
    d = bytearray(20)
    if value is not None:
        object_digest(d, value, has_expire)
    return d.hex().encode()
