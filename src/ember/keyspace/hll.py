"""HyperLogLog values in Redis's exact string layout (``HYLL`` header, sparse/dense).

A HyperLogLog is a plain string value. The 16-byte header is ``HYLL``, an encoding
byte (0 dense, 1 sparse), three unused bytes and the cached cardinality (8 bytes,
little endian; the top bit of the last byte set means "cache invalid").

* dense: 16384 registers of 6 bits packed LSB first (12288 bytes after the header);
* sparse: run-length opcodes ZERO ``00xxxxxx`` (1..64 zero registers), XZERO
  ``01xxxxxx yyyyyyyy`` (1..16384 zero registers) and VAL ``1vvvvvxx`` (1..4
  registers holding 1..32).

Every update reproduces Redis's byte-level algorithm (including where the sparse form
splits and merges opcodes, and when it is promoted to dense), so the stored strings are
byte-identical to what redis-server stores for the same inserts.

Speed: per element the work is one MurmurHash64A (cached for repeated elements) and
one register update. Sparse values are kept parsed as an opcode list with a bisectable
index of first registers, so an update does not rescan the string; parsed forms and
register histograms are cached per immutable ``bytes`` value, so repeated PFADD/PFCOUNT
on the same key do not re-decode the string. Whole-register work (histogram, dense
<-> raw conversion, union of several HLLs) uses ``bytes.translate``, extended slices
and big-integer SWAR arithmetic instead of per-register Python loops.
"""

from __future__ import annotations

import math
import re
import struct
from bisect import bisect_right
from collections import Counter

P = 14
REGISTERS = 1 << P
P_MASK = REGISTERS - 1
Q = 64 - P
HDR_SIZE = 16
DENSE = 0
SPARSE = 1
DENSE_REGS_SIZE = (REGISTERS * 6 + 7) // 8  # 12288
DENSE_SIZE = HDR_SIZE + DENSE_REGS_SIZE
MAGIC = b"HYLL"
SEED = 0xADC83B19
ALPHA_INF = 0.721347520444481703680

VAL_MAX_VALUE = 32
VAL_MAX_LEN = 4
ZERO_MAX_LEN = 64
XZERO_MAX_LEN = 16384

PROMOTE = 2  # result of a sparse set that needs the dense encoding

INVALID_ERR = "INVALIDOBJ Corrupted HLL object detected"
WRONGTYPE_ERR = "WRONGTYPE Key is not a valid HyperLogLog string value."

#: a freshly created HLL (PFADD on a missing key, before the cache is invalidated)
EMPTY_SPARSE = MAGIC + b"\x01\x00\x00\x00" + bytes(8) + b"\x7f\xff"

_M = 0xC6A4A7935BD1E995
_U64 = (1 << 64) - 1
_STRUCTS: dict[int, struct.Struct] = {}


def murmurhash64a(data: bytes, seed: int = SEED) -> int:
    """MurmurHash2 64-bit (``MurmurHash64A``), endian-neutral as in Redis."""
    n = len(data)
    h = (seed ^ (n * _M)) & _U64
    nblocks = n >> 3
    if nblocks:
        st = _STRUCTS.get(nblocks)
        if st is None:
            st = _STRUCTS[nblocks] = struct.Struct(f"<{nblocks}Q")
        for k in st.unpack_from(data):
            k = (k * _M) & _U64
            k ^= k >> 47
            h = ((h ^ ((k * _M) & _U64)) * _M) & _U64
        if n & 7:
            h = ((h ^ int.from_bytes(data[nblocks << 3 :], "little")) * _M) & _U64
    elif n:
        h = ((h ^ int.from_bytes(data, "little")) * _M) & _U64
    h ^= h >> 47
    h = (h * _M) & _U64
    return h ^ (h >> 47)


_PAT_CACHE: dict[bytes, tuple[int, int]] = {}
_PAT_CACHE_MAX = 1 << 16
_Q_BIT = 1 << Q


def pat_len(ele: bytes) -> tuple[int, int]:
    """(register index, length of the 000..1 pattern) for an element (``hllPatLen``)."""
    r = _PAT_CACHE.get(ele)
    if r is None:
        h = murmurhash64a(ele)
        x = (h >> P) | _Q_BIT
        r = (h & P_MASK, (x & -x).bit_length())
        if len(ele) <= 64:
            if len(_PAT_CACHE) >= _PAT_CACHE_MAX:
                _PAT_CACHE.clear()
            _PAT_CACHE[bytes(ele)] = r
    return r


def is_hll(v: bytes | bytearray) -> bool:
    """``isHLLObjectOrReply`` structural checks (type already known to be string)."""
    n = len(v)
    if n < HDR_SIZE or v[:4] != MAGIC:
        return False
    enc = v[4]
    if enc > SPARSE:
        return False
    return not (enc == DENSE and n != DENSE_SIZE)


# ------------------------------------------------------------------ dense helpers

_T_AND63 = bytes(i & 63 for i in range(256))
_T_SHR6 = bytes(i >> 6 for i in range(256))
_T_AND15_SHL2 = bytes((i & 15) << 2 for i in range(256))
_T_SHR4 = bytes(i >> 4 for i in range(256))
_T_AND3_SHL4 = bytes((i & 3) << 4 for i in range(256))
_T_SHR2 = bytes(i >> 2 for i in range(256))
_T_AND3_SHL6 = bytes(((i & 3) << 6) & 0xFF for i in range(256))
_T_AND15_SHL4 = bytes(((i & 15) << 4) & 0xFF for i in range(256))
_T_SHL2 = bytes((i << 2) & 0xFF for i in range(256))
_GROUPS = REGISTERS // 4  # 4 registers per 3 bytes


def _or_bytes(a: bytes | bytearray, b: bytes | bytearray) -> bytes:
    n = len(a)
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(n, "little")


def dense_to_raw(regs: bytes | bytearray) -> bytearray:
    """16384 register values (one byte each) from the 12288 packed dense bytes."""
    b0, b1, b2 = regs[0::3], regs[1::3], regs[2::3]
    raw = bytearray(REGISTERS)
    raw[0::4] = b0.translate(_T_AND63)
    raw[1::4] = _or_bytes(b0.translate(_T_SHR6), b1.translate(_T_AND15_SHL2))
    raw[2::4] = _or_bytes(b1.translate(_T_SHR4), b2.translate(_T_AND3_SHL4))
    raw[3::4] = b2.translate(_T_SHR2)
    return raw


def raw_to_dense(raw: bytes | bytearray) -> bytearray:
    """Pack 16384 register values (each <= 63) into the dense 6-bit layout."""
    r0, r1, r2, r3 = raw[0::4], raw[1::4], raw[2::4], raw[3::4]
    out = bytearray(DENSE_REGS_SIZE)
    out[0::3] = _or_bytes(r0, r1.translate(_T_AND3_SHL6))
    out[1::3] = _or_bytes(r1.translate(_T_SHR2), r2.translate(_T_AND15_SHL4))
    out[2::3] = _or_bytes(r2.translate(_T_SHR4), r3.translate(_T_SHL2))
    return out


def dense_get(regs: bytes | bytearray, idx: int) -> int:
    bit = idx * 6
    pos = bit >> 3
    fb = bit & 7
    if fb <= 2:
        return (regs[pos] >> fb) & 63
    return ((regs[pos] >> fb) | (regs[pos + 1] << (8 - fb))) & 63


def dense_put(regs: bytearray, idx: int, val: int) -> None:
    bit = idx * 6
    pos = bit >> 3
    fb = bit & 7
    if fb <= 2:
        regs[pos] = (regs[pos] & ~(63 << fb) & 0xFF) | (val << fb)
    else:
        regs[pos] = (regs[pos] & ((1 << fb) - 1)) | ((val << fb) & 0xFF)
        fb8 = 8 - fb
        regs[pos + 1] = (regs[pos + 1] & ~(63 >> fb8) & 0xFF) | (val >> fb8)


def raw_histogram(raw: bytes | bytearray) -> list[int]:
    """Register value counts: pairs of registers counted at C speed, then split."""
    hist = [0] * 64
    with memoryview(raw) as mv, mv.cast("H") as pairs:
        for p, n in Counter(pairs).items():
            hist[p & 0xFF] += n
            hist[p >> 8] += n
    return hist


_LANE_H = int.from_bytes(b"\x80" * REGISTERS, "little")


def raw_max_int(a: int, b: int) -> int:
    """Lane-wise max of two raw register arrays held as little-endian big ints.

    Each 8-bit lane holds a value <= 63: ``(a | 0x80) - b`` never borrows across lanes
    and its top bit tells whether ``a >= b``.
    """
    m = ((((a | _LANE_H) - b) & _LANE_H) >> 7) * 0xFF
    return (a & m) | (b & ~m)


# ------------------------------------------------------------------ estimator


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    for _ in range(2000):
        x *= x
        zp = z
        z += x * y
        y += y
        if zp == z:
            break
    return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    for _ in range(2000):
        x = math.sqrt(x)
        zp = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if zp == z:
            break
    return z / 3


def estimate(hist: list[int]) -> int:
    """Cardinality from the register histogram (Ertl's estimator, ``hllCount``)."""
    m = float(REGISTERS)
    z = m * _tau((m - hist[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += hist[j]
        z *= 0.5
    z += m * _sigma(hist[0] / m)
    e = ALPHA_INF * m * m / z
    if math.isinf(e) or math.isnan(e):
        return 0
    r = math.floor(e)
    if e - r >= 0.5:
        r += 1
    return int(r) & _U64


# ------------------------------------------------------------------ sparse opcodes
# An opcode is held as an int: ZERO = len-1 (0..63); VAL = 0x80|(val-1)<<2|(len-1);
# XZERO = 0x4000|(len-1) (its two bytes, big endian).


def _span(c: int) -> int:
    if c < 0x40:
        return c + 1
    if c < 0x100:
        return (c & 3) + 1
    return (c & 0x3FFF) + 1


def _zero_code(n: int) -> int:
    return 0x4000 | (n - 1) if n > ZERO_MAX_LEN else n - 1


def _val_code(val: int, n: int) -> int:
    return 0x80 | ((val - 1) << 2) | (n - 1)


_ENC: list[bytes] = []


def _enc_table() -> list[bytes]:
    if not _ENC:
        table: list[bytes] = [b""] * 0x8000
        for i in range(0x40):
            table[i] = bytes((i,))
        for i in range(0x80, 0x100):
            table[i] = bytes((i,))
        for i in range(0x4000, 0x8000):
            table[i] = i.to_bytes(2, "big")
        _ENC.extend(table)
    return _ENC


class Sparse:
    """A sparse payload as an opcode list plus the first register of each opcode."""

    __slots__ = ("ops", "starts", "nbytes", "hist", "total", "truncated")

    def __init__(self) -> None:
        self.ops: list[int] = []
        self.starts: list[int] = []
        self.nbytes = 0
        self.hist = [0] * 64
        self.total = 0
        self.truncated = False

    @classmethod
    def parse(cls, payload: bytes | bytearray, hidden: int = 0) -> Sparse:
        """Decode opcodes like Redis's readers do.

        A final XZERO cut after its first byte reads ``hidden`` as its second byte: the
        byte past the end of the string in memory (the terminator, 0, for a new string).
        """
        sp = cls()
        ops = sp.ops
        starts = sp.starts
        hist = sp.hist
        n = len(payload)
        p = 0
        idx = 0
        while p < n:
            b = payload[p]
            if b < 0x40:
                span = b + 1
                ops.append(b)
                hist[0] += span
                p += 1
            elif b < 0x80:
                if p + 1 < n:
                    c = (b << 8) | payload[p + 1]
                else:
                    c = (b << 8) | hidden
                    sp.truncated = True
                span = (c & 0x3FFF) + 1
                ops.append(c)
                hist[0] += span
                p += 2
            else:
                span = (b & 3) + 1
                ops.append(b)
                hist[((b >> 2) & 0x1F) + 1] += span
                p += 1
            starts.append(idx)
            idx += span
        sp.nbytes = n
        sp.total = idx
        return sp

    @property
    def valid(self) -> bool:
        return self.total == REGISTERS

    def serialize(self) -> bytes:
        if self.truncated:
            raise ValueError("truncated sparse payload has no opcode form")
        return b"".join(map(_enc_table().__getitem__, self.ops))

    def to_raw(self) -> bytearray | None:
        """Register values (``hllSparseToDense`` / ``hllMerge`` rules), None if corrupt."""
        if self.total != REGISTERS:
            return None
        raw = bytearray(REGISTERS)
        for c, first in zip(self.ops, self.starts, strict=True):
            if 0x80 <= c < 0x100:
                n = (c & 3) + 1
                raw[first : first + n] = bytes((((c >> 2) & 0x1F) + 1,)) * n
        return raw

    def decode_text(self) -> bytes:
        parts = []
        for c in self.ops:
            if c < 0x40:
                parts.append(b"z:%d" % (c + 1))
            elif c < 0x100:
                parts.append(b"v:%d,%d" % (((c >> 2) & 0x1F) + 1, (c & 3) + 1))
            else:
                parts.append(b"Z:%d" % ((c & 0x3FFF) + 1))
        return b" ".join(parts)

    def set(self, index: int, count: int, max_bytes: int) -> int:
        """``hllSparseSet``: 1 updated, 0 unchanged, -1 corrupt, PROMOTE needs dense."""
        if count > VAL_MAX_VALUE:
            return PROMOTE
        starts = self.starts
        ops = self.ops
        i = bisect_right(starts, index) - 1
        if i < 0:
            return -1
        c = ops[i]
        first = starts[i]
        if c < 0x40:
            span = c + 1
            kind = 0
        elif c < 0x100:
            span = (c & 3) + 1
            kind = 2
        else:
            span = (c & 0x3FFF) + 1
            kind = 1
        if index >= first + span:
            return -1
        hist = self.hist
        if kind == 2:
            oldval = ((c >> 2) & 0x1F) + 1
            if oldval >= count:
                return 0
            if span == 1:
                ops[i] = _val_code(count, 1)
                hist[oldval] -= 1
                hist[count] += 1
                self._merge(i)
                return 1
        elif kind == 0 and span == 1:
            ops[i] = _val_code(count, 1)
            hist[0] -= 1
            hist[count] += 1
            self._merge(i)
            return 1
        last = first + span - 1
        seq: list[int] = []
        seq_starts: list[int] = []
        if kind != 2:
            oldval = 0
            if index != first:
                seq.append(_zero_code(index - first))
                seq_starts.append(first)
            seq.append(_val_code(count, 1))
            seq_starts.append(index)
            if index != last:
                seq.append(_zero_code(last - index))
                seq_starts.append(index + 1)
        else:
            if index != first:
                seq.append(_val_code(oldval, index - first))
                seq_starts.append(first)
            seq.append(_val_code(count, 1))
            seq_starts.append(index)
            if index != last:
                seq.append(_val_code(oldval, last - index))
                seq_starts.append(index + 1)
        seqlen = len(seq)
        for s in seq:
            if s >= 0x100:
                seqlen += 1
        delta = seqlen - (2 if kind == 1 else 1)
        if delta > 0 and HDR_SIZE + self.nbytes + delta > max_bytes:
            return PROMOTE
        ops[i : i + 1] = seq
        starts[i : i + 1] = seq_starts
        self.nbytes += delta
        hist[oldval] -= 1
        hist[count] += 1
        self._merge(i)
        return 1

    def _merge(self, i: int) -> None:
        """Step 4 of ``hllSparseSet``: merge adjacent equal VALs, 5 opcodes from prev."""
        ops = self.ops
        j = i - 1 if i > 0 else 0
        n = len(ops)
        scan = 5
        while j < n and scan:
            scan -= 1
            c = ops[j]
            if c < 0x80 or c >= 0x100:
                j += 1
                continue
            if j + 1 < n:
                c2 = ops[j + 1]
                if 0x80 <= c2 < 0x100 and (c >> 2) == (c2 >> 2):
                    ln = (c & 3) + (c2 & 3) + 2
                    if ln <= VAL_MAX_LEN:
                        ops[j] = (c & ~3) | (ln - 1)
                        del ops[j + 1]
                        del self.starts[j + 1]
                        self.nbytes -= 1
                        n -= 1
                        continue
            j += 1


def sparse_set_bytes(
    payload: bytes | bytearray, index: int, count: int, max_bytes: int
) -> tuple[int, bytes]:
    """Byte-level ``hllSparseSet`` on a payload string (the reference implementation).

    Returns ``(result, new_payload)``; on PROMOTE or -1 the payload is unchanged.
    """
    mem = bytearray(payload) + bytes(16)
    r, length = sparse_set_mem(mem, len(payload), index, count, max_bytes)
    return r, bytes(mem[:length])


def sparse_set_mem(
    mem: bytearray, length: int, index: int, count: int, max_bytes: int
) -> tuple[int, int]:
    """``hllSparseSet`` on the memory of an sds string: ``mem[:length]`` is the payload.

    Bytes past ``length`` are what Redis would find in memory there (the terminator,
    or what earlier updates left behind); reading a cut final XZERO uses them, so a
    corrupt payload evolves exactly as in Redis. Returns ``(result, new_length)``.
    """
    if count > VAL_MAX_VALUE:
        return PROMOTE, length
    if len(mem) < length + 8:
        mem.extend(bytes(length + 8 - len(mem)))
    p = 0
    first = 0
    prev = -1
    span = 0
    while p < length:
        b = mem[p]
        oplen = 1
        if b & 0xC0 == 0:
            span = (b & 0x3F) + 1
        elif b & 0x80:
            span = (b & 3) + 1
        else:
            span = (((b & 0x3F) << 8) | mem[p + 1]) + 1
            oplen = 2
        if index <= first + span - 1:
            break
        prev = p
        p += oplen
        first += span
    if span == 0 or p >= length:
        return -1, length
    b = mem[p]
    is_xzero = b & 0xC0 == 0x40
    nxt: int | None = p + (2 if is_xzero else 1)
    if nxt >= length:  # type: ignore[operator]
        nxt = None
    done = False
    if b & 0x80:
        oldval = ((b >> 2) & 0x1F) + 1
        runlen = (b & 3) + 1
        if oldval >= count:
            return 0, length
        if runlen == 1:
            mem[p] = _val_code(count, 1)
            done = True
    elif b & 0xC0 == 0:
        runlen = (b & 0x3F) + 1
        if runlen == 1:
            mem[p] = _val_code(count, 1)
            done = True
    if not done:
        last = first + span - 1
        seq: list[int] = []
        if not b & 0x80:
            if index != first:
                seq.append(_zero_code(index - first))
            seq.append(_val_code(count, 1))
            if index != last:
                seq.append(_zero_code(last - index))
        else:
            curval = ((b >> 2) & 0x1F) + 1
            if index != first:
                seq.append(_val_code(curval, index - first))
            seq.append(_val_code(count, 1))
            if index != last:
                seq.append(_val_code(curval, last - index))
        sb = b"".join(s.to_bytes(2, "big") if s >= 0x100 else bytes((s,)) for s in seq)
        delta = len(sb) - (2 if is_xzero else 1)
        if delta > 0 and HDR_SIZE + length + delta > max_bytes:
            return PROMOTE, length
        if delta and nxt is not None:
            chunk = mem[nxt:length]
            mem[nxt + delta : nxt + delta + len(chunk)] = chunk
        length += delta
        mem[length] = 0
        mem[p : p + len(sb)] = sb
    # step 4: merge adjacent VAL opcodes
    p = prev if prev >= 0 else 0
    scan = 5
    while p < length and scan:
        scan -= 1
        b = mem[p]
        if b & 0xC0 == 0x40:
            p += 2
            continue
        if b & 0xC0 == 0:
            p += 1
            continue
        if p + 1 < length and mem[p + 1] & 0x80:
            b2 = mem[p + 1]
            v1 = ((b >> 2) & 0x1F) + 1
            if v1 == ((b2 >> 2) & 0x1F) + 1:
                ln = (b & 3) + (b2 & 3) + 2
                if ln <= VAL_MAX_LEN:
                    mem[p + 1] = _val_code(v1, ln)
                    mem[p:length] = mem[p + 1 : length + 1]
                    length -= 1
                    mem[length] = 0
                    continue
        p += 1
    return 1, length


# ------------------------------------------------------------------ whole values


class HLL:
    """A decoded HyperLogLog: header + sparse opcodes or dense registers."""

    __slots__ = ("hdr", "sparse", "regs", "hist", "mem", "mlen", "rint")

    def __init__(self, hdr: bytearray) -> None:
        self.hdr = hdr
        self.sparse: Sparse | None = None
        self.regs: bytearray | None = None  # dense registers (12288 bytes)
        self.hist: list[int] | None = None  # dense histogram cache
        # a sparse payload whose last XZERO is cut: kept as sds-like memory (mem[:mlen]
        # is the payload) and updated byte by byte, as Redis does
        self.mem: bytearray | None = None
        self.mlen = 0
        self.rint: int | None = None  # cached registers as a big int (see raw_int)

    @classmethod
    def load(cls, value: bytes | bytearray) -> HLL:
        """Decode a value that passed :func:`is_hll`."""
        h = cls(bytearray(value[:HDR_SIZE]))
        if value[4] == DENSE:
            h.regs = bytearray(value[HDR_SIZE:])
        else:
            sp = Sparse.parse(value[HDR_SIZE:])
            h.sparse = sp
            if sp.truncated:
                h.mem = bytearray(value[HDR_SIZE:]) + bytes(16)
                h.mlen = len(value) - HDR_SIZE
        return h

    @property
    def is_dense(self) -> bool:
        return self.regs is not None

    def to_bytes(self) -> bytes:
        if self.regs is not None:
            return bytes(self.hdr) + self.regs
        if self.mem is not None:
            return bytes(self.hdr) + self.mem[: self.mlen]
        assert self.sparse is not None
        return bytes(self.hdr) + self.sparse.serialize()

    def invalidate_cache(self) -> None:
        self.hdr[15] |= 0x80

    def cached_card(self) -> int | None:
        if self.hdr[15] & 0x80:
            return None
        return int.from_bytes(self.hdr[8:16], "little")

    def set_cached_card(self, card: int) -> None:
        self.hdr[8:16] = card.to_bytes(8, "little")

    def to_raw(self) -> bytearray | None:
        if self.regs is not None:
            return dense_to_raw(self.regs)
        assert self.sparse is not None
        return self.sparse.to_raw()

    def raw_int(self) -> int | None:
        """Registers as a little-endian big int (one byte each), None if corrupt."""
        if self.rint is None:
            raw = self.to_raw()
            if raw is None:
                return None
            self.rint = int.from_bytes(raw, "little")
        return self.rint

    def set_dense_raw(self, raw: bytes | bytearray) -> None:
        """Replace the registers of a dense HLL."""
        self.regs = raw_to_dense(raw)
        self.hist = None
        self.rint = None

    def to_dense(self) -> bool:
        """``hllSparseToDense``: False if the sparse form is corrupt."""
        if self.regs is not None:
            return True
        assert self.sparse is not None
        raw = self.sparse.to_raw()
        if raw is None:
            return False
        self.hist = self.sparse.hist.copy()
        self.regs = raw_to_dense(raw)
        self.sparse = None
        self.mem = None
        self.hdr[4] = DENSE
        return True

    def histogram(self) -> list[int] | None:
        if self.regs is not None:
            if self.hist is None:
                self.hist = raw_histogram(dense_to_raw(self.regs))
            return self.hist
        assert self.sparse is not None
        return self.sparse.hist if self.sparse.valid else None

    def count(self) -> int | None:
        """Estimated cardinality, None if the sparse form is corrupt."""
        hist = self.histogram()
        return None if hist is None else estimate(hist)

    def set_register(self, index: int, count: int, max_bytes: int) -> int:
        """Raise register ``index`` to ``count``: 1 changed, 0 not, -1 corrupt."""
        self.rint = None
        regs = self.regs
        if regs is not None:
            old = dense_get(regs, index)
            if count <= old:
                return 0
            dense_put(regs, index, count)
            hist = self.hist
            if hist is not None:
                hist[old] -= 1
                hist[count] += 1
            return 1
        sp = self.sparse
        assert sp is not None
        mem = self.mem
        if mem is not None:
            r, self.mlen = sparse_set_mem(mem, self.mlen, index, count, max_bytes)
            if r == 1:
                nsp = Sparse.parse(mem[: self.mlen], mem[self.mlen])
                self.sparse = nsp
                if not nsp.truncated:
                    self.mem = None
        else:
            r = sp.set(index, count, max_bytes)
        if r == PROMOTE:
            if not self.to_dense():
                return -1
            return self.set_register(index, count, max_bytes)
        return r

    def add(self, elements: list[bytes], max_bytes: int) -> tuple[int, bool]:
        """PFADD the elements: (number of register updates, corrupt?)."""
        self.rint = None
        updated = 0
        regs = self.regs
        hist = self.hist
        cache = _PAT_CACHE
        for ele in elements:
            r = cache.get(ele)
            if r is None:
                r = pat_len(ele)
            index, count = r
            if regs is not None:
                # inlined dense_get / dense_put (hot path)
                bit = index * 6
                pos = bit >> 3
                fb = bit & 7
                if fb <= 2:
                    b0 = regs[pos]
                    old = (b0 >> fb) & 63
                    if count <= old:
                        continue
                    regs[pos] = (b0 & ~(63 << fb) & 0xFF) | (count << fb)
                else:
                    b0 = regs[pos]
                    b1 = regs[pos + 1]
                    old = ((b0 >> fb) | (b1 << (8 - fb))) & 63
                    if count <= old:
                        continue
                    fb8 = 8 - fb
                    regs[pos] = (b0 & ((1 << fb) - 1)) | ((count << fb) & 0xFF)
                    regs[pos + 1] = (b1 & ~(63 >> fb8) & 0xFF) | (count >> fb8)
                if hist is not None:
                    hist[old] -= 1
                    hist[count] += 1
                updated += 1
                continue
            res = self.set_register(index, count, max_bytes)
            if res < 0:
                return updated, True
            updated += res
            regs = self.regs
            hist = self.hist
        return updated, False


# Decoded values cached by identity of their immutable ``bytes`` object (the entry keeps
# the object alive, so the id cannot be reused while cached).
_CACHE: dict[int, tuple[bytes, HLL]] = {}
_CACHE_MAX = 256


def load_cached(value: bytes | bytearray, take: bool = False) -> HLL:
    """The decoded form of a valid HLL value; ``take=True`` to mutate it afterwards."""
    if type(value) is bytes:
        e = _CACHE.get(id(value))
        if e is not None and e[0] is value:
            if take:
                del _CACHE[id(value)]
            return e[1]
    h = HLL.load(value)
    if not take and type(value) is bytes:
        remember(value, h)
    return h


def remember(value: bytes, h: HLL) -> None:
    """Cache ``h`` as the decoded form of ``value`` (which must equal ``h.to_bytes()``)."""
    if len(_CACHE) >= _CACHE_MAX:
        # drop the oldest quarter
        for k in list(_CACHE)[: _CACHE_MAX // 4]:
            del _CACHE[k]
    _CACHE[id(value)] = (value, h)


def forget(value: bytes | bytearray) -> None:
    e = _CACHE.get(id(value))
    if e is not None and e[0] is value:
        del _CACHE[id(value)]


_NONZERO = re.compile(rb"[^\x00]")


def nonzero_registers(raw: bytes | bytearray) -> list[int]:
    return [m.start() for m in _NONZERO.finditer(raw)]
