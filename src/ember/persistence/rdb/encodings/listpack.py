"""listpack (redis ``src/listpack.c``; rdb-format.md §8.2).

Layout: ``total_bytes u32 | num_elements u16 | entries | 0xFF``; every entry is
``encoding+data`` followed by its ``backlen``. Decoding always walks every entry (we
need the values anyway) and checks every length against the blob; ``deep`` also
checks each backlen byte-for-byte and the element count, as ``lpValidateIntegrity``
with ``deep=1`` does (``sanitize-dump-payload yes``).
"""

from __future__ import annotations

from collections.abc import Iterable
from struct import Struct

from . import EncodingError, string2ll

_U16 = Struct("<H")
_I16 = Struct("<h")
_U32 = Struct("<I")
_I32 = Struct("<i")
_I64 = Struct("<q")
_HDR = Struct("<IH")

LP_HDR_SIZE = 6
LP_HDR_NUMELE_UNKNOWN = 65535
LP_EOF = 0xFF
EMPTY_LISTPACK = b"\x07\x00\x00\x00\x00\x00\xff"


def _backlen_size(n: int) -> int:
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def encode_backlen(n: int) -> bytes:
    """``lpEncodeBacklen``: 7 bits per byte, readable right-to-left."""
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128))
    return bytes(
        (
            n >> 28,
            ((n >> 21) & 127) | 128,
            ((n >> 14) & 127) | 128,
            ((n >> 7) & 127) | 128,
            (n & 127) | 128,
        )
    )


_BACKLEN_SMALL = [bytes((i,)) for i in range(128)]


def lp_decode(blob: bytes, *, deep: bool = False, ints_as_bytes: bool = False) -> list[bytes | int]:
    """Return the elements of a listpack: ``bytes`` for strings, ``int`` for ints.

    With ``ints_as_bytes`` integer elements come back as their decimal ``bytes`` (what
    list/hash/set values hold). Raises :class:`EncodingError` on any inconsistency.
    """
    size = len(blob)
    if size < LP_HDR_SIZE + 1:
        raise EncodingError("listpack too small")
    total, count = _HDR.unpack_from(blob, 0)
    if total != size:
        raise EncodingError("listpack header size mismatch")
    last = size - 1
    if blob[last] != LP_EOF:
        raise EncodingError("listpack not terminated by 0xFF")
    out: list[bytes | int] = []
    append = out.append
    p = LP_HDR_SIZE
    while p < last:
        b = blob[p]
        if b < 0x80:
            ln = 1
            append(b"%d" % b if ints_as_bytes else b)
        elif b < 0xC0:
            ln = 1 + (b & 0x3F)
            if p + ln > last:
                raise EncodingError("listpack string out of range")
            append(blob[p + 1 : p + ln])
        elif b < 0xE0:
            ln = 2
            if p + 2 > last:
                raise EncodingError("listpack int out of range")
            v = ((b & 0x1F) << 8) | blob[p + 1]
            if v >= 4096:
                v -= 8192
            append(b"%d" % v if ints_as_bytes else v)
        elif b < 0xF0:
            if p + 2 > last:
                raise EncodingError("listpack string out of range")
            ln = 2 + (((b & 0x0F) << 8) | blob[p + 1])
            if p + ln > last:
                raise EncodingError("listpack string out of range")
            append(blob[p + 2 : p + ln])
        elif b == 0xF0:
            if p + 5 > last:
                raise EncodingError("listpack string out of range")
            ln = 5 + _U32.unpack_from(blob, p + 1)[0]
            if p + ln > last:
                raise EncodingError("listpack string out of range")
            append(blob[p + 5 : p + ln])
        elif b <= 0xF4:
            if b == 0xF1:
                ln = 3
                if p + ln > last:
                    raise EncodingError("listpack int out of range")
                v = _I16.unpack_from(blob, p + 1)[0]
            elif b == 0xF2:
                ln = 4
                if p + ln > last:
                    raise EncodingError("listpack int out of range")
                v = int.from_bytes(blob[p + 1 : p + 4], "little", signed=True)
            elif b == 0xF3:
                ln = 5
                if p + ln > last:
                    raise EncodingError("listpack int out of range")
                v = _I32.unpack_from(blob, p + 1)[0]
            else:
                ln = 9
                if p + ln > last:
                    raise EncodingError("listpack int out of range")
                v = _I64.unpack_from(blob, p + 1)[0]
            append(b"%d" % v if ints_as_bytes else v)
        else:
            raise EncodingError(f"listpack invalid entry encoding 0x{b:02x}")
        if ln <= 127:
            if deep and blob[p + ln] != ln:
                raise EncodingError("listpack bad backlen")
            p += ln + 1
        else:
            bl = _backlen_size(ln)
            if deep and blob[p + ln : p + ln + bl] != encode_backlen(ln):
                raise EncodingError("listpack bad backlen")
            p += ln + bl
    if p != last:
        raise EncodingError("listpack entry overruns terminator")
    if count != LP_HDR_NUMELE_UNKNOWN and count != len(out):
        raise EncodingError("listpack element count mismatch")
    return out


def _encode_int(v: int) -> bytes:
    """``lpEncodeIntegerGetType``: smallest integer form (plus backlen)."""
    if 0 <= v <= 127:
        return _BACKLEN_SMALL[v] + b"\x01"
    if -4096 <= v <= 4095:
        if v < 0:
            v += 8192
        return bytes(((v >> 8) | 0xC0, v & 0xFF, 2))
    if -32768 <= v <= 32767:
        return b"\xf1" + _I16.pack(v) + b"\x03"
    if -8388608 <= v <= 8388607:
        return b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little") + b"\x04"
    if -2147483648 <= v <= 2147483647:
        return b"\xf3" + _I32.pack(v) + b"\x05"
    return b"\xf4" + _I64.pack(v) + b"\x09"


def encode_entry(ele: bytes | int) -> bytes:
    """One listpack entry (encoding + data + backlen), as ``lpAppend`` writes it."""
    if type(ele) is int:
        return _encode_int(ele)
    s = bytes(ele)  # type: ignore[arg-type]
    n = len(s)
    if n and n < 21 and (s[0] == 45 or 48 <= s[0] <= 57):
        v = string2ll(s)
        if v is not None:
            return _encode_int(v)
    if n < 64:
        ln = n + 1
        return bytes((0x80 | n,)) + s + _BACKLEN_SMALL[ln]
    if n < 4096:
        ln = n + 2
        return bytes((0xE0 | (n >> 8), n & 0xFF)) + s + encode_backlen(ln)
    ln = n + 5
    return b"\xf0" + _U32.pack(n) + s + encode_backlen(ln)


def lp_encode(items: Iterable[bytes | int]) -> bytes:
    """Build a listpack of ``items`` (strings that parse as int64 are stored as ints)."""
    parts = [encode_entry(e) for e in items]
    return lp_from_entries(parts)


def lp_from_entries(parts: list[bytes]) -> bytes:
    """Wrap already-encoded entries into a listpack blob."""
    body = b"".join(parts)
    total = LP_HDR_SIZE + len(body) + 1
    n = len(parts)
    return (
        _HDR.pack(total, n if n < LP_HDR_NUMELE_UNKNOWN else LP_HDR_NUMELE_UNKNOWN) + body + b"\xff"
    )
