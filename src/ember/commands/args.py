"""Argument parsing shared by command modules, with Redis's exact rules and errors."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Final

from ember import errors, is_compiled
from ember.errors import CommandError
from ember.keyspace.types import STRING_TYPES

if TYPE_CHECKING:
    from ember.keyspace.db import Db

LLONG_MIN: Final = -(1 << 63)
LLONG_MAX: Final = (1 << 63) - 1

_INT_RE: Final = re.compile(rb"-?[1-9][0-9]*|0")


def is_canonical_int(b: bytes) -> bool:
    """``string2ll`` accepts it: no spaces, '+', leading zeros, or '-0'."""
    return len(b) <= 20 and _INT_RE.fullmatch(b) is not None and LLONG_MIN <= int(b) <= LLONG_MAX


# Compiled (scripts/compile.py), a loop over up to 9 digits runs in unboxed ints and
# takes a third of the time of ``isdigit()`` + ``int()``; interpreted, it is slower.
_COMPILED: Final = is_compiled(__file__)


def plain_digits(b: bytes) -> int:
    """The value of 1 to 9 ASCII digits (leading zeros allowed), else -1. Compiled only:
    interpreted, it always says -1 (callers then take their general path)."""
    n = len(b)
    if not _COMPILED or n == 0 or n > 9:
        return -1
    v = 0
    for c in b:
        c -= 48
        if c < 0 or c > 9:
            return -1
        v = v * 10 + c
    return v


def parse_int(b: bytes, err: str = errors.NOT_INTEGER) -> int:
    """Redis ``getLongLongFromObjectOrReply``: strict 64-bit integer."""
    n = len(b)
    if _COMPILED and n < 10:
        v = plain_digits(b)
        if v >= 0 and (b[0] != 48 or n == 1):
            return v  # plain digits, no sign, no leading zero
    if b.isdigit() and n < 19 and (b[0] != 48 or n == 1):
        return int(b)  # the common case: plain digits, no sign, no leading zero
    if len(b) <= 20 and _INT_RE.fullmatch(b) is not None:
        v = int(b)
        if LLONG_MIN <= v <= LLONG_MAX:
            return v
    raise CommandError(err)


def parse_int_range(b: bytes, lo: int, hi: int, err: str = errors.NOT_INTEGER) -> int:
    v = parse_int(b, err)
    if v < lo or v > hi:
        raise CommandError(err)
    return v


def parse_nonneg(b: bytes, what: str = "value") -> int:
    v = parse_int(b)
    if v < 0:
        raise CommandError(f"ERR {what} is out of range, must be positive")
    return v


_FLOAT_RE = re.compile(rb"[ \t]*[+-]?(inf|infinity|nan|(\d+\.?\d*|\.\d+)(e[+-]?\d+)?)", re.I)


def parse_float(b: bytes, err: str = errors.NOT_FLOAT, allow_nan: bool = False) -> float:
    """Redis ``getLongDoubleFromObject``/``string2d``: strtod, no trailing junk, no spaces."""
    if not b or b[0] in b" \t\n\r\x0b\x0c" or b[-1] in b" \t\n\r\x0b\x0c":
        raise CommandError(err)
    try:
        v = float(b)
    except ValueError:
        # strtod accepts hex floats, but only with the 0x prefix ("abc" is not a number)
        if b.lstrip(b"+-")[:2] not in (b"0x", b"0X"):
            raise CommandError(err) from None
        try:
            v = float.fromhex(b.decode())
        except (ValueError, UnicodeDecodeError):
            raise CommandError(err) from None
    if ord("_") in b:
        raise CommandError(err)
    if math.isnan(v) and not allow_nan:
        raise CommandError(err)
    return v


def format_float(v: float) -> bytes:
    """Redis ``%.17g`` reply formatting used for scores and INCRBYFLOAT-like output."""
    if math.isinf(v):
        return b"inf" if v > 0 else b"-inf"
    return b"%.17g" % v


def get_string(db: Db, key: bytes) -> bytes | None:
    v = db.lookup(key)
    if v is None:
        return None
    if type(v) is bytes:
        return v
    if type(v) is bytearray:
        return bytes(v)
    raise CommandError(errors.WRONGTYPE)


def check_type(value: Any, expected: type | tuple[type, ...]) -> None:
    if value is not None and not isinstance(value, expected):
        raise CommandError(errors.WRONGTYPE)


def is_string(value: Any) -> bool:
    return isinstance(value, STRING_TYPES)


def parse_timeout(b: bytes) -> float:
    """Blocking-command timeout in seconds (float allowed), Redis messages."""
    try:
        v = parse_float(b, "ERR timeout is not a float or out of range")
    except CommandError:
        raise
    if v < 0:
        raise CommandError("ERR timeout is negative")
    if math.isinf(v) or v > 1e13:
        raise CommandError("ERR timeout is out of range")
    return v
