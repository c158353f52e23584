"""ziplist (redis ``src/ziplist.c``; rdb-format.md §8.1). Read-only: nobody writes it
since Redis 7.0, and Redis always validates ziplists deeply when converting on load
(``ziplistValidateIntegrity(..., deep=1)``), so this decoder does too: header size,
terminator, every prevlen, ``zltail`` and the element count.
"""

from __future__ import annotations

from struct import Struct

from . import EncodingError

_HDR = Struct("<IIH")
_I16 = Struct("<h")
_I32 = Struct("<i")
_I64 = Struct("<q")
_U32 = Struct("<I")
_U32BE = Struct(">I")

ZIPLIST_HEADER_SIZE = 10
ZIP_END = 0xFF
ZIP_BIG_PREVLEN = 254


def zl_decode(blob: bytes, *, ints_as_bytes: bool = True) -> list[bytes | int]:
    """Return the entries of a ziplist (ints as decimal ``bytes`` unless told otherwise)."""
    size = len(blob)
    if size < ZIPLIST_HEADER_SIZE + 1:
        raise EncodingError("ziplist too small")
    zlbytes, zltail, zllen = _HDR.unpack_from(blob, 0)
    if zlbytes != size:
        raise EncodingError("ziplist header size mismatch")
    last = size - 1
    if blob[last] != ZIP_END:
        raise EncodingError("ziplist not terminated by 0xFF")
    if zltail > last - 1 and not (zltail == ZIPLIST_HEADER_SIZE and last == ZIPLIST_HEADER_SIZE):
        raise EncodingError("ziplist tail offset out of range")
    out: list[bytes | int] = []
    append = out.append
    p = ZIPLIST_HEADER_SIZE
    prev_len = 0
    prev_start = -1
    while p < last:
        start = p
        b = blob[p]
        if b < ZIP_BIG_PREVLEN:
            prevlen = b
            p += 1
        elif b == ZIP_BIG_PREVLEN:
            if p + 5 > last:
                raise EncodingError("ziplist prevlen out of range")
            prevlen = _U32.unpack_from(blob, p + 1)[0]
            p += 5
        else:
            raise EncodingError("ziplist unexpected end marker")
        if prevlen != prev_len:
            raise EncodingError("ziplist prevlen mismatch")
        if p >= last:
            raise EncodingError("ziplist entry out of range")
        e = blob[p]
        top = e >> 6
        if top == 0:
            n = e & 0x3F
            p += 1
            if p + n > last:
                raise EncodingError("ziplist string out of range")
            append(blob[p : p + n])
            p += n
        elif top == 1:
            if p + 2 > last:
                raise EncodingError("ziplist string out of range")
            n = ((e & 0x3F) << 8) | blob[p + 1]
            p += 2
            if p + n > last:
                raise EncodingError("ziplist string out of range")
            append(blob[p : p + n])
            p += n
        elif top == 2:
            if p + 5 > last:
                raise EncodingError("ziplist string out of range")
            n = _U32BE.unpack_from(blob, p + 1)[0]
            p += 5
            if p + n > last:
                raise EncodingError("ziplist string out of range")
            append(blob[p : p + n])
            p += n
        else:
            if e == 0xC0:
                w = 2
            elif e == 0xD0:
                w = 4
            elif e == 0xE0:
                w = 8
            elif e == 0xF0:
                w = 3
            elif e == 0xFE:
                w = 1
            elif 0xF1 <= e <= 0xFD:
                w = 0
            else:
                raise EncodingError(f"ziplist invalid entry encoding 0x{e:02x}")
            p += 1
            if p + w > last:
                raise EncodingError("ziplist int out of range")
            if w == 0:
                v = (e & 0x0F) - 1
            elif w == 2:
                v = _I16.unpack_from(blob, p)[0]
            elif w == 4:
                v = _I32.unpack_from(blob, p)[0]
            elif w == 8:
                v = _I64.unpack_from(blob, p)[0]
            else:
                v = int.from_bytes(blob[p : p + w], "little", signed=True)
            p += w
            append(b"%d" % v if ints_as_bytes else v)
        prev_len = p - start
        prev_start = start
    if p != last:
        raise EncodingError("ziplist entry overruns terminator")
    if prev_start == -1:
        if zltail != ZIPLIST_HEADER_SIZE:
            raise EncodingError("ziplist tail offset mismatch")
    elif zltail != prev_start:
        raise EncodingError("ziplist tail offset mismatch")
    if zllen != 65535 and zllen != len(out):
        raise EncodingError("ziplist element count mismatch")
    return out
