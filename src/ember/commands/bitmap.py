"""Bitmap commands (Redis 7.0): SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO.

Bit 0 is the most significant bit of the first byte. Strings written bit by bit are kept
as ``bytearray`` so SETBIT/BITFIELD update them in place (after ``db.lookup_write``).
Whole-string work is done at C level: popcount with ``int.from_bytes(...).bit_count()``,
BITOP with big-integer ``& | ^`` (little endian, so shorter inputs are zero padded for
free) or ``bytes.translate`` for NOT, BITPOS with a compiled regex that finds the first
byte that is not all zeros / all ones.
"""

from __future__ import annotations

import re
from typing import Any

from ember import errors
from ember.commands.args import parse_int
from ember.commands.registry import Flag, command
from ember.errors import CommandError
from ember.keyspace.db import Db
from ember.server.client import Client
from ember.server.pubsub import NOTIFY_GENERIC, NOTIFY_STRING

G = "bitmap"
K1 = (1, 1, 1)

OFFSET_ERR = "ERR bit offset is not an integer or out of range"
BIT_ERR = "ERR bit is not an integer or out of range"
TYPE_ERR = (
    "ERR Invalid bitfield type. Use something like i16 u8. "
    "Note that u64 is not supported but i64 is."
)

_NOT_TABLE = bytes(255 - i for i in range(256))
_FIRST_NONZERO = re.compile(rb"[^\x00]")
_FIRST_NOT_FF = re.compile(rb"[^\xff]")
_I64 = 1 << 64


def _check_string(v: Any) -> None:
    if type(v) is not bytes and type(v) is not bytearray:
        raise CommandError(errors.WRONGTYPE)


def _bit_offset(c: Client, arg: bytes, bits: int = 0) -> int:
    """``getBitOffsetFromArgument``: ``#N`` means N*bits when ``bits`` is given."""
    usehash = bits > 0 and arg[:1] == b"#"
    try:
        v = parse_int(arg[1:] if usehash else arg)
    except CommandError:
        raise CommandError(OFFSET_ERR) from None
    if usehash:
        v = ((v * bits + (1 << 63)) % _I64) - (1 << 63)  # C long long wrap-around
    if v < 0 or (
        (v >> 3) >= c.server.config.values["proto-max-bulk-len"] and not c.is_loader
    ):  # the AOF loader (like a master link in Redis) is not limited
        raise CommandError(OFFSET_ERR)
    return v


def _popcount(v: bytes | bytearray, start: int, end: int) -> int:
    """Set bits in bytes ``v[start:end]``."""
    if end - start < 4096:
        return int.from_bytes(v[start:end], "big").bit_count()
    with memoryview(v) as mv:
        return int.from_bytes(mv[start:end], "big").bit_count()


@command(
    "setbit",
    4,
    Flag.WRITE | Flag.DENYOOM,
    keys=K1,
    group=G,
    since="2.2.0",
    summary="Sets or clears the bit at offset in the string value stored at key",
)
def setbit(c: Client, argv: list[bytes]) -> Any:
    off = _bit_offset(c, argv[2])
    try:
        on = parse_int(argv[3])
    except CommandError:
        raise CommandError(BIT_ERR) from None
    if on & ~1:
        raise CommandError(BIT_ERR)
    db = c.db
    key = argv[1]
    byte = off >> 3
    shift = 7 - (off & 7)
    v = db.lookup(key)
    if v is None:
        buf = bytearray(byte + 1)
        if on:
            buf[byte] = 1 << shift
        db.add(key, buf)
        old = 0
    else:
        _check_string(v)
        n = len(v)
        old = (v[byte] >> shift) & 1 if byte < n else 0
        if byte < n and old == on:
            return old
        buf = _writable(db, key, v)
        if byte >= n:
            buf.extend(bytes(byte + 1 - n))
        if on:
            buf[byte] |= 1 << shift
        else:
            buf[byte] &= ~(1 << shift) & 0xFF
    srv = c.server
    srv.dirty += 1
    srv.notify(NOTIFY_STRING, b"setbit", key, db.id)
    return old


@command(
    "getbit",
    3,
    Flag.READONLY | Flag.FAST,
    keys=K1,
    group=G,
    since="2.2.0",
    summary="Returns the bit value at offset in the string value stored at key",
)
def getbit(c: Client, argv: list[bytes]) -> Any:
    off = _bit_offset(c, argv[2])
    v = c.db.lookup(argv[1])
    if v is None:
        return 0
    _check_string(v)
    byte = off >> 3
    if byte >= len(v):
        return 0
    return (v[byte] >> (7 - (off & 7))) & 1


def _parse_unit(arg: bytes) -> bool:
    o = arg.lower()
    if o == b"bit":
        return True
    if o == b"byte":
        return False
    raise CommandError(errors.SYNTAX)


def _normalize(start: int, end: int, totlen: int) -> tuple[int, int]:
    if start < 0:
        start += totlen
    if end < 0:
        end += totlen
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= totlen:
        end = totlen - 1
    return start, end


@command(
    "bitcount",
    -2,
    Flag.READONLY,
    keys=K1,
    group=G,
    since="2.6.0",
    summary="Count set bits in a string",
)
def bitcount(c: Client, argv: list[bytes]) -> Any:
    v = c.db.lookup(argv[1])
    if v is None:
        return 0
    _check_string(v)
    n = len(argv)
    strlen = len(v)
    if n == 2:
        return _popcount(v, 0, strlen)
    if n not in (4, 5):
        raise CommandError(errors.SYNTAX)
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    if start < 0 and end < 0 and start > end:
        return 0
    isbit = _parse_unit(argv[4]) if n == 5 else False
    start, end = _normalize(start, end, strlen << 3 if isbit else strlen)
    if start > end:
        return 0
    if not isbit:
        return _popcount(v, start, end + 1)
    sb, eb = start >> 3, end >> 3
    count = _popcount(v, sb, eb + 1)
    first_neg = ~((1 << (8 - (start & 7))) - 1) & 0xFF
    last_neg = (1 << (7 - (end & 7))) - 1
    return count - (v[sb] & first_neg).bit_count() - (v[eb] & last_neg).bit_count()


_CHUNK = 1 << 16
_ZEROS = bytes(_CHUNK)
_ONES = b"\xff" * _CHUNK


def _find_byte_not(v: bytes | bytearray, skip: int, start: int, end: int) -> int:
    """Index of the first byte in ``v[start:end]`` that is not ``skip`` (0 or 0xFF), -1.

    Long ranges are skipped a chunk at a time with a memcmp against a constant block.
    """
    pat = _FIRST_NONZERO if skip == 0 else _FIRST_NOT_FF
    if end - start <= _CHUNK:
        m = pat.search(v, start, end)
        return -1 if m is None else m.start()
    block = _ZEROS if skip == 0 else _ONES
    i = start
    while i < end:
        j = min(i + _CHUNK, end)
        if j - i < _CHUNK or v[i:j] != block:
            m = pat.search(v, i, j)
            if m is not None:
                return m.start()
        i = j
    return -1


def _first_bit(byte: int, bit: int) -> int:
    """Index (0 = MSB) of the first ``bit`` in a byte known to contain one."""
    if not bit:
        byte ^= 0xFF
    return 8 - byte.bit_length()


@command(
    "bitpos",
    -3,
    Flag.READONLY,
    keys=K1,
    group=G,
    since="2.8.7",
    summary="Find first bit set or clear in a string",
)
def bitpos(c: Client, argv: list[bytes]) -> Any:
    bit = parse_int(argv[2])
    if bit != 0 and bit != 1:
        raise CommandError("ERR The bit argument must be 1 or 0.")
    v = c.db.lookup(argv[1])
    if v is None:
        return -1 if bit else 0
    _check_string(v)
    n = len(argv)
    strlen = len(v)
    end_given = False
    isbit = False
    if n in (4, 5, 6):
        start = parse_int(argv[3])
        if n == 6:
            isbit = _parse_unit(argv[5])
        if n >= 5:
            end = parse_int(argv[4])
            end_given = True
        else:
            end = strlen - 1
        start, end = _normalize(start, end, strlen << 3 if isbit else strlen)
    elif n == 3:
        start, end = 0, strlen - 1
    else:
        raise CommandError(errors.SYNTAX)
    if start > end:
        return -1
    skip = 0 if bit else 0xFF
    if not isbit:
        i = _find_byte_not(v, skip, start, end + 1)
        if i >= 0:
            return i * 8 + _first_bit(v[i], bit)
        if bit or end_given:
            return -1
        return (end + 1) * 8
    # BIT unit: search bits [start, end] exactly
    sb, eb = start >> 3, end >> 3
    head = v[sb] ^ skip
    head &= 0xFF >> (start & 7)
    if sb == eb:
        head &= (0xFF << (7 - (end & 7))) & 0xFF
    if head:
        return sb * 8 + 8 - head.bit_length()
    if sb == eb:
        return -1
    if eb - sb > 1:
        i = _find_byte_not(v, skip, sb + 1, eb)
        if i >= 0:
            return i * 8 + _first_bit(v[i], bit)
    tail = (v[eb] ^ skip) & (0xFF << (7 - (end & 7))) & 0xFF
    if tail:
        return eb * 8 + 8 - tail.bit_length()
    return -1


@command(
    "bitop",
    -4,
    Flag.WRITE | Flag.DENYOOM,
    keys=(2, -1, 1),
    group=G,
    since="2.6.0",
    summary="Perform bitwise operations between strings",
    read_lookups=True,
)
def bitop(c: Client, argv: list[bytes]) -> Any:
    op = argv[1].lower()
    if op not in (b"and", b"or", b"xor", b"not"):
        raise CommandError(errors.SYNTAX)
    if op == b"not" and len(argv) != 4:
        raise CommandError("ERR BITOP NOT must be called with a single source key.")
    db = c.db
    values: list[bytes | bytearray] = []
    for key in argv[3:]:
        v = db.lookup(key)
        if v is None:
            values.append(b"")
            continue
        _check_string(v)
        values.append(v)
    maxlen = max(len(v) for v in values)
    target = argv[2]
    srv = c.server
    if maxlen:
        if op == b"not":
            res = bytes(values[0]).translate(_NOT_TABLE)
        else:
            acc = int.from_bytes(values[0], "little")
            if op == b"and":
                for v in values[1:]:
                    acc &= int.from_bytes(v, "little")
            elif op == b"or":
                for v in values[1:]:
                    acc |= int.from_bytes(v, "little")
            else:
                for v in values[1:]:
                    acc ^= int.from_bytes(v, "little")
            res = acc.to_bytes(maxlen, "little")
        # a new "raw" string, as in Redis (never the shared/embedded encodings)
        db.set(target, bytearray(res) if maxlen <= 44 else res)
        srv.notify(NOTIFY_STRING, b"set", target, db.id)
        srv.dirty += 1
    elif db.delete(target):
        srv.notify(NOTIFY_GENERIC, b"del", target, db.id)
        srv.dirty += 1
    return maxlen


# ---------------------------------------------------------------------------- BITFIELD

_GET, _SET, _INCRBY = 0, 1, 2
_WRAP, _SAT, _FAIL = 0, 1, 2


def _bitfield_type(arg: bytes) -> tuple[bool, int]:
    if not arg or arg[0] not in b"iu":
        raise CommandError(TYPE_ERR)
    signed = arg[0] == 0x69  # 'i'
    try:
        bits = parse_int(arg[1:])
    except CommandError:
        raise CommandError(TYPE_ERR) from None
    if bits < 1 or (signed and bits > 64) or (not signed and bits > 63):
        raise CommandError(TYPE_ERR)
    return signed, bits


def _get_bits(buf: bytes | bytearray, off: int, bits: int) -> int:
    byte = off >> 3
    r = off & 7
    nb = (r + bits + 7) >> 3
    chunk = buf[byte : byte + nb]
    w = int.from_bytes(chunk, "big") << ((nb - len(chunk)) << 3)
    return (w >> ((nb << 3) - r - bits)) & ((1 << bits) - 1)


def _set_bits(buf: bytearray, off: int, bits: int, value: int) -> None:
    byte = off >> 3
    r = off & 7
    nb = (r + bits + 7) >> 3
    w = int.from_bytes(buf[byte : byte + nb], "big")
    shift = (nb << 3) - r - bits
    mask = ((1 << bits) - 1) << shift
    w = (w & ~mask) | ((value << shift) & mask)
    buf[byte : byte + nb] = w.to_bytes(nb, "big")


def _signed(u: int, bits: int) -> int:
    return u - (1 << bits) if u >> (bits - 1) else u


def _i64(u: int) -> int:
    u &= _I64 - 1
    return u - _I64 if u >> 63 else u


def _signed_op(value: int, incr: int, bits: int, owtype: int) -> tuple[int, bool]:
    """``checkSignedBitfieldOverflow``: (value to store, overflowed?).

    The limits use C int64 arithmetic, including its wrap-around (e.g. SET i8 to
    INT64_MIN saturates to +127, as in Redis).
    """
    hi = (1 << (bits - 1)) - 1
    lo = -hi - 1
    maxincr = _i64(hi - value)
    minincr = lo - value
    if (
        value > hi
        or (bits != 64 and incr > maxincr)
        or (value >= 0 and incr > 0 and incr > maxincr)
    ):
        over = 1
    elif (
        value < lo or (bits != 64 and incr < minincr) or (value < 0 and incr < 0 and incr < minincr)
    ):
        over = -1
    else:
        return value + incr, False
    if owtype == _SAT:
        return (hi if over > 0 else lo), True
    return _signed((value + incr) & ((1 << bits) - 1), bits), True


def _unsigned_op(value: int, incr: int, bits: int, owtype: int) -> tuple[int, bool]:
    """``checkUnsignedBitfieldOverflow`` (``value`` is already a uint64)."""
    hi = (1 << bits) - 1
    if value > hi or (incr > 0 and incr > hi - value):
        over = 1
    elif incr < 0 and incr < -value:
        over = -1
    else:
        return value + incr, False
    if owtype == _SAT:
        return (hi if over > 0 else 0), True
    return (value + incr) & hi, True


def _writable(db: Db, key: bytes, v: bytes | bytearray) -> bytearray:
    """The value of ``key`` as a bytearray about to be changed in place."""
    db.will_write(key)
    if type(v) is bytearray:
        return v
    buf = bytearray(v)
    db.set(key, buf, keep_ttl=True)
    return buf


def _bitfield(c: Client, argv: list[bytes], ro: bool) -> Any:
    ops: list[tuple[int, bool, int, int, int, int]] = []
    owtype = _WRAP
    readonly = True
    highest = 0
    n = len(argv)
    j = 2
    while j < n:
        rem = n - j - 1
        sub = argv[j].lower()
        if sub == b"get" and rem >= 2:
            opcode = _GET
        elif sub == b"set" and rem >= 3:
            opcode = _SET
        elif sub == b"incrby" and rem >= 3:
            opcode = _INCRBY
        elif sub == b"overflow" and rem >= 1:
            t = argv[j + 1].lower()
            if t == b"wrap":
                owtype = _WRAP
            elif t == b"sat":
                owtype = _SAT
            elif t == b"fail":
                owtype = _FAIL
            else:
                raise CommandError("ERR Invalid OVERFLOW type specified")
            j += 2
            continue
        else:
            raise CommandError(errors.SYNTAX)
        signed, bits = _bitfield_type(argv[j + 1])
        off = _bit_offset(c, argv[j + 2], bits)
        val = 0
        if opcode != _GET:
            readonly = False
            if highest < off + bits - 1:
                highest = off + bits - 1
            val = parse_int(argv[j + 3])
        ops.append((opcode, signed, bits, off, val, owtype))
        j += 3 if opcode == _GET else 4
    db = c.db
    key = argv[1]
    if readonly:
        v = db.lookup(key)
        if not c.server.read_lookups:  # BITFIELD with only GETs reads (lookupKeyRead)
            db.count_read(key, v is not None)
        if v is not None:
            _check_string(v)
        src = v if v is not None else b""
        out: list[Any] = []
        for _op, signed, bits, off, _val, _ow in ops:
            u = _get_bits(src, off, bits)
            out.append(_signed(u, bits) if signed else u)
        return out
    if ro:
        raise CommandError("ERR BITFIELD_RO only supports the GET subcommand")
    v = db.lookup(key)
    need = (highest >> 3) + 1
    buf: bytes | bytearray
    if v is None:
        buf = bytearray(need)
        db.add(key, buf)
        grown = True
        writable = True
    else:
        _check_string(v)
        buf = v
        grown = len(v) < need
        writable = False
        if grown:  # Redis pads the string before running the ops
            buf = _writable(db, key, v)
            buf.extend(bytes(need - len(buf)))
            writable = True
    out = []
    changes = 0
    for opcode, signed, bits, off, val, ow in ops:
        u = _get_bits(buf, off, bits)
        old = _signed(u, bits) if signed else u
        if opcode == _GET:
            out.append(old)
            continue
        if opcode == _INCRBY:
            if signed:
                new, overflow = _signed_op(old, val, bits, ow)
            else:
                new, overflow = _unsigned_op(old, val, bits, ow)
            ret = new
        else:
            if signed:
                new, overflow = _signed_op(val, 0, bits, ow)
            else:
                new, overflow = _unsigned_op(val % _I64, 0, bits, ow)
            ret = old
        if overflow and ow == _FAIL:
            out.append(None)
            continue
        out.append(ret)
        if new != old:
            if not writable:
                buf = _writable(db, key, buf)
                writable = True
            _set_bits(buf, off, bits, new & ((1 << bits) - 1))  # type: ignore[arg-type]
        if grown or new != old:
            changes += 1
    if changes:
        srv = c.server
        srv.notify(NOTIFY_STRING, b"setbit", key, db.id)
        srv.dirty += changes
    return out


@command(
    "bitfield",
    -2,
    Flag.WRITE | Flag.DENYOOM,
    keys=K1,
    group=G,
    since="3.2.0",
    summary="Perform arbitrary bitfield integer operations on strings",
)
def bitfield(c: Client, argv: list[bytes]) -> Any:
    return _bitfield(c, argv, False)


@command(
    "bitfield_ro",
    -2,
    Flag.READONLY | Flag.FAST,
    keys=K1,
    group=G,
    since="6.0.0",
    summary="Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
)
def bitfield_ro(c: Client, argv: list[bytes]) -> Any:
    return _bitfield(c, argv, True)
