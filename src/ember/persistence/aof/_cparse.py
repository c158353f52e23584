"""Tiny emulations of the libc helpers Redis uses when it reads AOF-related text.

Redis reads numbers with ``strtol``/``atoi``/``atoll`` and lines with ``fgets``; their
leniency (leading blanks, a sign, trailing garbage, clamping) decides which damaged files
load and which do not, so ember reproduces it instead of using ``int()`` (which would also
accept ``1_000`` and reject ``12abc``).  Everything here works on ``bytes`` in the C locale.
"""

from __future__ import annotations

LONG_MAX = (1 << 63) - 1
LONG_MIN = -(1 << 63)

# isspace() in the C locale: space, \t, \n, \v, \f, \r
C_SPACE = frozenset(b" \t\n\v\f\r")
_DIGITS = frozenset(b"0123456789")


def cstr(data: bytes) -> bytes:
    """The C-string view of ``data``: everything before the first NUL byte."""
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


def strtol(data: bytes, start: int = 0) -> tuple[int, int]:
    """``strtol(data+start, &end, 10)`` → ``(value, end)``; clamps like glibc.

    When no digits are found the value is 0 and ``end == start`` (``endptr = nptr``).
    NUL bytes end the number like any other non-digit.
    """
    value, end, _ = strtol_ex(data, start)
    return value, end


def strtol_ex(data: bytes, start: int = 0) -> tuple[int, int, bool]:
    """:func:`strtol` plus whether it overflowed (``errno == ERANGE``)."""
    n = len(data)
    i = start
    while i < n and data[i] in C_SPACE:
        i += 1
    neg = False
    if i < n and data[i] in b"+-":
        neg = data[i] == 0x2D
        i += 1
    j = i
    while j < n and data[j] in _DIGITS:
        j += 1
    if j == i:
        return 0, start, False
    value = int(data[i:j])
    if neg:
        value = -value
    if value > LONG_MAX:
        return LONG_MAX, j, True
    if value < LONG_MIN:
        return LONG_MIN, j, True
    return value, j, False


def atoi(data: bytes, start: int = 0) -> int:
    """``atoi``: ``(int) strtol(...)``, i.e. the low 32 bits, signed (glibc)."""
    value = strtol(data, start)[0] & 0xFFFFFFFF
    return value - (1 << 32) if value >= (1 << 31) else value


def atoll(data: bytes, start: int = 0) -> int:
    """``atoll``: ``strtoll`` with clamping (glibc)."""
    return strtol(data, start)[0]


def fgets_end(buf: bytes, pos: int, size: int, eof: bool) -> int:
    """Where ``fgets(s, size, fp)`` starting at ``pos`` stops reading (exclusive).

    ``fgets`` reads at most ``size - 1`` bytes and stops after a ``\\n``.  Returns -1
    when more input is needed to decide (only possible while ``eof`` is false) and
    ``pos`` itself when nothing at all can be read (``fgets`` returns NULL).
    """
    limit = size - 1
    nl = buf.find(b"\n", pos, pos + limit)
    if nl >= 0:
        return nl + 1
    avail = len(buf) - pos
    if avail >= limit:
        return pos + limit
    if eof:
        return len(buf)
    return -1


def c_char(byte: int) -> str:
    """A byte as ``printf("%c")`` would output it (raw byte, surrogate-escaped)."""
    return bytes([byte]).decode("utf-8", "surrogateescape")


def c_hex_char(byte: int) -> str:
    """``printf("%02x", (char) byte)`` with a signed ``char`` (x86-64 glibc)."""
    return "%02x" % (byte if byte < 0x80 else byte + 0xFFFFFF00)
