"""The Redis 7.0 object encoding a value would have (OBJECT ENCODING, RDB writer).

Derived from the value and the config thresholds, never stored (checked against
redis-server 7.0.15 at every threshold: ``hash-max-listpack-entries`` 512 /
``-value`` 64, ``set-max-intset-entries`` 512 with canonical 64-bit integers only,
``zset-max-listpack-entries`` 128 / ``-value`` 64; lists are always quicklists in 7.0).

Known difference: Redis converts compact encodings to the big ones one way only (a hash
that grew past ``hash-max-listpack-entries`` stays a hashtable after shrinking, a set
that once held a non-integer stays a hashtable). Remembering that per value would need a
mark on every dict/set object, which Python's builtin types cannot carry, so ember
reports the encoding Redis would choose for the current contents, which is also what
Redis reports after a restart (DEBUG RELOAD, RDB load).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ember.commands.args import is_canonical_int
from ember.keyspace.types import FieldTTLHash, Stream, ZSet

OBJ_SHARED_INTEGERS = 10000
EMBSTR_LIMIT = 44


def string_encoding(v: bytes | bytearray) -> bytes:
    if type(v) is bytes and len(v) <= 20 and is_canonical_int(v):
        return b"int"
    if type(v) is bytes and len(v) <= EMBSTR_LIMIT:
        return b"embstr"
    return b"raw"


def object_encoding(value: Any, cfg: dict[str, Any]) -> bytes:
    t = type(value)
    if t is bytes or t is bytearray:
        return string_encoding(value)
    if t is deque:
        return b"quicklist"
    if t is dict or t is FieldTTLHash:
        if len(value) <= cfg["hash-max-listpack-entries"]:
            lim = cfg["hash-max-listpack-value"]
            if all(len(k) <= lim and len(v) <= lim for k, v in value.items()):
                return b"listpack"
        return b"hashtable"
    if t is set:
        if len(value) <= cfg["set-max-intset-entries"] and all(is_canonical_int(m) for m in value):
            return b"intset"
        return b"hashtable"
    if t is ZSet:
        if len(value) <= cfg["zset-max-listpack-entries"]:
            lim = cfg["zset-max-listpack-value"]
            if all(len(m) <= lim for m in value.scores):
                return b"listpack"
        return b"skiplist"
    if t is Stream:
        return b"stream"
    return b"raw"
