"""Packed blob formats stored inside RDB strings (rdb-format.md §8).

Each module decodes a blob (``bytes``) into Python values and, where ember writes the
format, encodes it back. Decoders raise :class:`EncodingError` with a message; the RDB
reader adds the file offset and key and re-raises it as ``RdbFormatError``.
"""

from __future__ import annotations


class EncodingError(ValueError):
    """A packed blob (listpack, ziplist, intset, zipmap) is malformed."""


INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def string2ll(s: bytes) -> int | None:
    """Redis ``string2ll`` / ``lpStringToInt64``: canonical decimal int64 or None.

    Canonical means no sign other than a leading ``-``, no leading zeros, no spaces,
    ``-0`` rejected, at most 20 characters, and within int64.
    """
    n = len(s)
    if n == 0 or n >= 21:
        return None
    c = s[0]
    if c == 45:  # '-'
        if n == 1 or not 49 <= s[1] <= 57 or not s[1:].isdigit():
            return None
    elif 49 <= c <= 57:
        if not s.isdigit():
            return None
    elif c == 48 and n == 1:
        return 0
    else:
        return None
    v = int(s)
    if v < INT64_MIN or v > INT64_MAX:
        return None
    return v
