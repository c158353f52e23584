"""zipmap (redis ``src/zipmap.c``; rdb-format.md §8.4). Read-only (written by <= 2.4).

Redis validates zipmaps deeply on load (``zipmapValidateIntegrity(..., 1)``), so we do.
"""

from __future__ import annotations

from struct import Struct

from . import EncodingError

_U32 = Struct("<I")
ZIPMAP_BIGLEN = 254
ZIPMAP_END = 255


def zipmap_decode(blob: bytes) -> list[tuple[bytes, bytes]]:
    """(field, value) pairs of a zipmap, in stored order."""
    size = len(blob)
    if size < 2:
        raise EncodingError("zipmap too small")
    last = size - 1
    if blob[last] != ZIPMAP_END:
        raise EncodingError("zipmap not terminated by 0xFF")
    out: list[tuple[bytes, bytes]] = []
    p = 1
    while True:
        if p > last:
            raise EncodingError("zipmap entry out of range")
        b = blob[p]
        if b == ZIPMAP_END:
            break
        # field length
        if b < ZIPMAP_BIGLEN:
            flen = b
            p += 1
        else:
            if p + 5 > last:
                raise EncodingError("zipmap length out of range")
            flen = _U32.unpack_from(blob, p + 1)[0]
            p += 5
        if p + flen > last:
            raise EncodingError("zipmap field out of range")
        field = blob[p : p + flen]
        p += flen
        b = blob[p]
        if b == ZIPMAP_END:
            raise EncodingError("zipmap value missing")
        if b < ZIPMAP_BIGLEN:
            vlen = b
            p += 1
        else:
            if p + 5 > last:
                raise EncodingError("zipmap length out of range")
            vlen = _U32.unpack_from(blob, p + 1)[0]
            p += 5
        if p > last:
            raise EncodingError("zipmap free byte out of range")
        free = blob[p]
        p += 1
        if p + vlen + free > last:
            raise EncodingError("zipmap value out of range")
        out.append((field, blob[p : p + vlen]))
        p += vlen + free
    if p != last:
        raise EncodingError("zipmap entry overruns terminator")
    if not out:
        raise EncodingError("zipmap is empty")
    if blob[0] != ZIPMAP_BIGLEN and blob[0] != len(out):
        raise EncodingError("zipmap count mismatch")
    return out
