"""intset (redis ``src/intset.c``; rdb-format.md §8.3)."""

from __future__ import annotations

from collections.abc import Iterable
from struct import Struct

from . import EncodingError

_HDR = Struct("<II")
INTSET_ENC_INT16 = 2
INTSET_ENC_INT32 = 4
INTSET_ENC_INT64 = 8
_FMT = {2: "h", 4: "i", 8: "q"}


def intset_decode(blob: bytes, *, deep: bool = False) -> list[int]:
    """Members of an intset, as ``intsetValidateIntegrity`` accepts them.

    Shallow: valid width, exact size, not empty. ``deep``: strictly ascending too.
    """
    size = len(blob)
    if size < 8:
        raise EncodingError("intset too small")
    enc, count = _HDR.unpack_from(blob, 0)
    fmt = _FMT.get(enc)
    if fmt is None:
        raise EncodingError("intset invalid encoding")
    if 8 + count * enc != size:
        raise EncodingError("intset size mismatch")
    if count == 0:
        raise EncodingError("intset is empty")
    values = list(Struct(f"<{count}{fmt}").unpack_from(blob, 8))
    if deep:
        prev = values[0]
        for v in values[1:]:
            if v <= prev:
                raise EncodingError("intset not sorted or has duplicates")
            prev = v
    return values


def intset_encode(values: Iterable[int]) -> bytes:
    """An intset of the smallest width that fits every member (``intsetAdd`` order)."""
    vals = sorted(values)
    if not vals:
        return _HDR.pack(INTSET_ENC_INT16, 0)
    lo, hi = vals[0], vals[-1]
    if lo >= -32768 and hi <= 32767:
        enc = INTSET_ENC_INT16
    elif lo >= -2147483648 and hi <= 2147483647:
        enc = INTSET_ENC_INT32
    else:
        enc = INTSET_ENC_INT64
    return _HDR.pack(enc, len(vals)) + Struct(f"<{len(vals)}{_FMT[enc]}").pack(*vals)
