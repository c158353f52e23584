"""RDB writer: values in, bytes out (rdb-format.md; redis ``rdbSaveRio``).

Layers, as in redis ``src/rdb.c``:

* ``save_len`` / ``save_string`` / ``save_object`` (:func:`encode_value`) - pure
  functions from a value to bytes, choosing the encodings Redis 7.0 would choose for a
  value built by ordinary commands (INT8/16/32 and LZF strings, QUICKLIST_2 with
  listpack/PLAIN nodes, listpack/intset small collections, ZSET_2, STREAM_LISTPACKS_2);
* :class:`RdbWriter` - the file skeleton (magic, AUX, FUNCTION2, SELECTDB + RESIZEDB,
  EXPIRETIME_MS, EOF, CRC64) written incrementally into one ``bytearray`` that is
  flushed to ``sink.write`` in chunks of at least 64 KB; the CRC64 is updated per
  flushed chunk, so the sink never has to checksum;
* :func:`save_rdb_bytes` - a whole dataset to ``bytes``.

Dialects (``RdbWriteOptions.version``): ``10`` (Redis 7.0, default), ``11`` (Redis
7.2 / Valkey 7.2-8.x: SET_LISTPACK, STREAM_LISTPACKS_3), ``12`` (Redis 7.4+: hash field
TTLs as HASH_METADATA / HASH_LISTPACK_EX) and ``"valkey80"`` (``VALKEY080``: types of
11 plus Valkey's HASH_2 for field TTLs). A hash with field TTLs cannot be expressed in
10/11: :class:`RdbWriteError` is raised rather than silently dropping the TTLs.

Output is byte-identical to Redis 7.0's for values whose Redis encoding is determined
by their contents (strings, listpack/intset collections, lists built by RPUSH); for
hashtable-encoded sets/hashes the element order is Python's, not Redis's dict order.
"""

from __future__ import annotations

import gc
import math
import struct
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain
from operator import add, itemgetter, sub
from typing import Any, Protocol

import lzf

from ember.keyspace.types import FieldTTLHash, Stream, ZSet

from . import constants as C
from .crc64 import crc64
from .encodings import string2ll
from .encodings.intset import intset_encode
from .encodings.listpack import encode_entry, lp_from_entries
from .errors import RdbWriteError

_Q = struct.Struct("<q")
_D = struct.Struct("<d")
_ID = struct.Struct(">QQ")
_U64 = struct.Struct("<Q")
_pack_q = _Q.pack
_pack_d = _D.pack
_lzf_compress = lzf.compress

FLUSH_THRESHOLD = 64 * 1024
_U64_MASK = (1 << 64) - 1
_DOUBLE2LL_LIMIT = float((2**63 - 1) // 2)  # util.c double2ll: |d| <= LLONG_MAX/2

# first bytes that may start a canonical integer ("-" or a digit)
_NUMSTART = tuple(c == 45 or 48 <= c <= 57 for c in range(256))
_LEN1 = tuple(bytes((i,)) for i in range(64))


class Sink(Protocol):
    def write(self, data: bytes, /) -> Any: ...


# ------------------------------------------------------------------------ options
@dataclass(slots=True)
class RdbWriteOptions:
    """What to write and how (defaults = Redis 7.0.15 defaults)."""

    version: int | str = 10  # 10, 11, 12 or "valkey80"
    compression: bool = True  # rdbcompression
    checksum: bool = True  # rdbchecksum
    list_max_listpack_size: int = C.LIST_MAX_LISTPACK_SIZE
    list_packed_threshold: int = C.LIST_PACKED_THRESHOLD
    hash_max_listpack_entries: int = C.HASH_MAX_LISTPACK_ENTRIES
    hash_max_listpack_value: int = C.HASH_MAX_LISTPACK_VALUE
    set_max_intset_entries: int = C.SET_MAX_INTSET_ENTRIES
    set_max_listpack_entries: int = C.SET_MAX_LISTPACK_ENTRIES
    set_max_listpack_value: int = C.SET_MAX_LISTPACK_VALUE
    zset_max_listpack_entries: int = C.ZSET_MAX_LISTPACK_ENTRIES
    zset_max_listpack_value: int = C.ZSET_MAX_LISTPACK_VALUE
    stream_node_max_bytes: int = C.STREAM_NODE_MAX_BYTES
    stream_node_max_entries: int = C.STREAM_NODE_MAX_ENTRIES
    server_version: str = C.REDIS_VERSION_STRING  # redis-ver (valkey-ver for valkey80)
    aof_base: bool = False
    ctime: int | None = None  # default: now
    used_mem: int = 0
    aux_extra: dict[bytes, bytes] = field(default_factory=dict)

    @property
    def rdb_version(self) -> int:
        v = self.version
        if v == "valkey80" or v == 80:
            return 80
        if v in (10, 11, 12):
            return int(v)
        raise RdbWriteError(f"unsupported RDB write version {v!r}")

    @property
    def valkey(self) -> bool:
        return self.rdb_version >= 80

    @property
    def magic(self) -> bytes:
        v = self.rdb_version
        return b"VALKEY%03d" % v if v >= 80 else b"REDIS%04d" % v


DEFAULT_OPTIONS = RdbWriteOptions()


# ------------------------------------------------------------- §2/§3 primitives
def save_len(n: int) -> bytes:
    """``rdbSaveLen``: smallest of 6/14/32/64-bit length forms (big-endian)."""
    if n < 64:
        return _LEN1[n]
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def _encode_int_string(v: int) -> bytes | None:
    """``rdbEncodeInteger``: INT8/16/32 form of ``v`` or None."""
    if -128 <= v <= 127:
        return bytes((0xC0, v & 0xFF))
    if -32768 <= v <= 32767:
        return b"\xc1" + (v & 0xFFFF).to_bytes(2, "little")
    if -2147483648 <= v <= 2147483647:
        return b"\xc2" + (v & 0xFFFFFFFF).to_bytes(4, "little")
    return None


def _redis_lzf_fits(c: bytes, in_len: int, out_len: int) -> bool:
    """Would redis ``lzf_compress`` (lzf_c.c 3.6) have produced ``c`` in ``out_len``?

    python-lzf and Redis share the algorithm but not the bound checks: Redis gives up
    a few bytes early (``op + 3 + 1 >= out_end`` before each back-reference, ``op >=
    out_end`` before each main-loop literal, ``op + 3 > out_end`` before the last two
    input bytes). Replay the token stream with Redis's output pointer to decide.
    """
    op = 1  # a literal run's length byte is reserved up front
    lit = 0
    ip = 0
    i = 0
    n = len(c)
    tail_start = in_len - 2
    tail_checked = False
    while i < n:
        ctrl = c[i]
        if ctrl < 32:
            run = ctrl + 1
            i += 1 + run
            for _ in range(run):
                if ip >= tail_start:
                    if not tail_checked:
                        if op + 3 > out_len:
                            return False
                        tail_checked = True
                elif op >= out_len:
                    return False
                lit += 1
                op += 1
                ip += 1
                if lit == 32:
                    lit = 0
                    op += 1
        else:
            ln = ctrl >> 5
            if ln == 7:
                ln += c[i + 1]
                i += 3
                tok = 3
            else:
                i += 2
                tok = 2
            if op + 4 >= out_len and op - (lit == 0) + 4 >= out_len:
                return False
            op -= lit == 0
            op += tok
            lit = 0
            op += 1
            ip += ln + 2
    if not tail_checked and op + 3 > out_len:
        return False
    op -= lit == 0
    return op <= out_len


def _lzf_for_rdb(s: bytes | bytearray, n: int) -> bytes | None:
    """``rdbSaveLzfStringObject``: LZF data when it saves at least 4 bytes, else None."""
    out_len = n - 4
    c = _lzf_compress(s if type(s) is bytes else bytes(s), n + 64)  # lzf wants read-only bytes
    if c is None or len(c) > out_len:
        return None
    if len(c) + 5 >= out_len and not _redis_lzf_fits(c, n, out_len):
        return None
    return c


def save_string(s: bytes | bytearray, compression: bool = True) -> bytes:
    """``rdbSaveRawString``: INT encoding, else LZF (len > 20, saves >= 4), else raw."""
    n = len(s)
    if n <= 11 and n and _NUMSTART[s[0]]:
        v = string2ll(bytes(s))
        if v is not None:
            enc = _encode_int_string(v)
            if enc is not None:
                return enc
    if compression and n > 20:
        c = _lzf_for_rdb(s, n)
        if c is not None:
            return b"\xc3" + save_len(len(c)) + save_len(n) + c
    if n < 64:
        return _LEN1[n] + s
    return save_len(n) + s


def save_millisecond_time(ms: int) -> bytes:
    return _pack_q(ms)


def save_binary_double(d: float) -> bytes:
    return _pack_d(d)


def _double2ll(d: float) -> int | None:
    """util.c ``double2ll``: the integer value of an integral double in ±2^62."""
    if -_DOUBLE2LL_LIMIT <= d <= _DOUBLE2LL_LIMIT:
        i = int(d)
        if i == d:
            return i
    return None


def zset_score_element(score: float) -> bytes | int:
    """How ``zzlInsertAt`` stores a score in a listpack: an int or ``%.17g`` text."""
    i = _double2ll(score)
    if i is not None:
        return i
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    return b"%.17g" % score


# ------------------------------------------------------- bulk element encoders
# The hot loops of SAVE for collections. Each element is written as a header that
# depends only on its length, then its bytes: the headers come from lookup tables in
# one comprehension, are interleaved with the elements by slice assignment and the
# whole collection goes through one ``b"".join``. Only the encodings that depend on
# the contents (rdbSaveRawString's INT8/16/32 for int-like strings of <= 11 bytes,
# LZF for > 20 bytes; listpack ints for int-like strings of <= 20 bytes) need a look
# at each element: a length byte in range followed by "-" or a digit in the joined
# bytes (one translate + find) sends the collection to the exact per-element path,
# so the fast path never has to prove anything per element in Python.
_STR_HDR: list[bytes | None] = [bytes((n,)) for n in range(64)]
_STR_HDR_LZF: list[bytes | None] = [bytes((n,)) if n <= 20 else None for n in range(64)]
_LP_HEADER = struct.Struct("<IH")
# per length byte n < 64 (bytes.translate tables): 6-bit listpack string encoding byte,
# its one-byte backlen, the entry's size
_LP_HDR_TR = bytes((0x80 | n) & 0xFF for n in range(256))
_LP_BACK_TR = bytes((n + 1) & 0xFF for n in range(256))
_LP_SIZE_TR = bytes((n + 2) & 0xFF for n in range(256))
_LP_HDR = [bytes((0x80 | n,)) for n in range(64)]
_LP_BACK = [bytes((n + 1,)) for n in range(64)]
_LENS_6BIT = bytes(range(64))  # deleting these from a bytes of lengths leaves the others
_LENS_RAW_LZF = bytes(range(21))  # with compression, > 20 bytes is an LZF candidate
_first = itemgetter(0)
_second = itemgetter(1)
_NUMSTART_MASK = bytes(c == 45 or 48 <= c <= 57 for c in range(256))
_INT_LEN_MASK = bytes(1 <= n <= 11 for n in range(256))  # rdbTryIntegerEncoding lengths
_SPLIT8_N = 4096
_SPLIT8 = struct.Struct("8s" * _SPLIT8_N)  # 4096 packed doubles -> 4096 bytes objects


def _int_probe(lo: int, hi: int) -> bytes:
    """Translate table: length bytes lo..hi -> 'A', '-' and digits -> 'B', rest '.'."""
    return bytes(
        65 if lo <= c <= hi else 66 if c == 45 or 48 <= c <= 57 else 46 for c in range(256)
    )


_STR_INT_PROBE = _int_probe(1, 11)  # raw string header of an INT8/16/32 candidate
_LP_INT_PROBE = _int_probe(0x81, 0x94)  # 6-bit listpack string of <= 20 bytes


def _exact_strings(strings: Iterable[bytes], comp: bool) -> list[bytes]:
    """``save_string`` of each element (short plain ones inline)."""
    lim = 20 if comp else 63
    ns = _NUMSTART
    one = _LEN1
    return [
        one[n] + s
        if (n := len(s)) <= lim and (n > 11 or not n or not ns[s[0]])
        else save_string(s, comp)
        for s in strings
    ]


def _rdb_strings(strings: list[bytes], comp: bool) -> bytes:
    """``rdbSaveRawString`` of every element of ``strings``, concatenated."""
    t = _STR_HDR_LZF if comp else _STR_HDR
    parts: list[Any] = [None] * (2 * len(strings))
    try:
        parts[0::2] = [t[len(s)] for s in strings]  # IndexError: >= 64 bytes
        parts[1::2] = strings
        body = b"".join(parts)  # TypeError: a None header (LZF candidate)
    except (IndexError, TypeError):
        return b"".join(_exact_strings(strings, comp))
    if body.translate(_STR_INT_PROBE).find(b"AB") >= 0:
        return b"".join(_exact_strings(strings, comp))
    return body


def _lp_entries(strings: list[bytes]) -> bytes:
    """The listpack entries of ``strings`` (as ``lpAppend`` writes them), concatenated."""
    try:
        lb = bytes(map(len, strings))  # ValueError: >= 256 bytes
    except ValueError:
        lb = b""
    if not strings or not lb or lb.translate(None, _LENS_6BIT):
        return b"".join([encode_entry(s) for s in strings])
    parts: list[Any] = [None] * (3 * len(strings))
    parts[0::3] = memoryview(lb.translate(_LP_HDR_TR)).cast("c").tolist()
    parts[1::3] = strings
    parts[2::3] = memoryview(lb.translate(_LP_BACK_TR)).cast("c").tolist()
    body = b"".join(parts)
    if body.translate(_LP_INT_PROBE).find(b"AB") >= 0:
        return b"".join([encode_entry(s) for s in strings])
    return body


def _binary_doubles(scores: list[float]) -> Sequence[bytes]:
    """Each score as 8 bytes (``rdbSaveBinaryDoubleValue``): one pack, one unpack
    per ``_SPLIT8`` chunk (bounds the size of the compiled format)."""
    n = len(scores)
    packed = struct.pack(f"<{n}d", *scores)
    if n <= _SPLIT8_N:
        return struct.Struct("8s" * n).unpack(packed)
    out: list[bytes] = []
    full = n - n % _SPLIT8_N
    for off in range(0, 8 * full, 8 * _SPLIT8_N):
        out += _SPLIT8.unpack_from(packed, off)
    if full < n:
        out += struct.Struct("8s" * (n - full)).unpack_from(packed, 8 * full)
    return out


def _listpack(body: bytes, count: int) -> bytes:
    """Wrap concatenated entries into a listpack blob (header + body + 0xFF)."""
    return _LP_HEADER.pack(7 + len(body), count if count < 65535 else 65535) + body + b"\xff"


def _lp_score_entry(score: float) -> bytes:
    """The listpack entry of a zset score (``zzlInsertAt``): an int or ``%.17g`` text."""
    if -_DOUBLE2LL_LIMIT <= score <= _DOUBLE2LL_LIMIT:
        i = int(score)
        if i == score:
            return encode_entry(i)
    s = b"%.17g" % score  # never int-like ("inf", or has "." or "e"), < 64 bytes
    n = len(s)
    return _LP_HDR[n] + s + _LP_BACK[n]


# ------------------------------------------------------------------ §7 objects
def _is_intset_member(m: bytes) -> int | None:
    if not m or len(m) > 20 or not _NUMSTART[m[0]]:
        return None
    return string2ll(m)


def _save_list(value: Iterable[bytes], opts: RdbWriteOptions) -> tuple[int, bytes]:
    """QUICKLIST_2 as ``quicklistPushTail`` would have built it (quicklist.c 7.0).

    An element joins the tail node while ``lpBytes(node) + len(element) + 8`` stays
    within the size limit of a negative ``list-max-listpack-size`` (or, for a positive
    one, within 8 KB and that many elements). With ``P[j]`` the offset of entry ``j``
    in the concatenated entries, element ``j`` opens a new node after one starting at
    ``a`` when ``P[j] + len(j) > P[a] + limit - 7 - 8``: one ``bisect`` per node over
    the running maximum of ``P[j] + len(j)`` instead of a test per element (valid
    while no element alone exceeds the room of a node; else :func:`_save_list_loop`).
    """
    elements = list(value)
    n = len(elements)
    if not n:
        return C.RDB_TYPE_LIST_QUICKLIST_2, save_len(0)
    fill = opts.list_max_listpack_size
    cap: int | None = None  # max elements per node (positive fill)
    limit = -1
    if fill < 0:
        off = -fill - 1
        if off < 5:
            limit = C.QUICKLIST_OPTIMIZATION_LEVEL[off]
    if limit < 0:
        limit = C.QUICKLIST_SIZE_SAFETY_LIMIT
        cap = fill
    room = limit - 7 - C.QUICKLIST_SIZE_ESTIMATE_OVERHEAD
    thr = opts.list_packed_threshold
    keys: list[int] | None = None
    ends: list[int] = []
    body = b""
    adj = 0
    try:
        lb = bytes(map(len, elements))  # the lengths, one byte each (ValueError: >= 256)
    except ValueError:
        lb = b""
    if lb and not lb.translate(None, _LENS_6BIT) and (thr > 63 or max(lb) < thr):
        parts: list[Any] = [None] * (3 * n)
        parts[0::3] = memoryview(lb.translate(_LP_HDR_TR)).cast("c").tolist()
        parts[1::3] = elements
        parts[2::3] = memoryview(lb.translate(_LP_BACK_TR)).cast("c").tolist()
        body = b"".join(parts)
        if body.translate(_LP_INT_PROBE).find(b"AB") < 0:
            # every entry is a 6-bit string of len + 2 bytes: P[j] + len(j) = ends[j] - 2
            keys = ends = list(accumulate(lb.translate(_LP_SIZE_TR)))
            adj = 2
    if keys is None:
        lens = [len(s) for s in elements]
        top = max(lens)
        if top >= thr or top > room:
            return _save_list_loop(elements, opts)
        encs = [encode_entry(s) for s in elements]
        body = b"".join(encs)
        elens = [len(e) for e in encs]
        ends = list(accumulate(elens))
        keys = list(accumulate(map(add, map(sub, ends, elens), lens), max))
    comp = opts.compression
    out: list[bytes] = []
    a = start = 0
    while a < n:
        j = bisect_right(keys, start + room + adj, a + 1)
        if cap is not None:
            j = max(a + 1, min(j, a + cap))
        end = ends[j - 1]
        out.append(b"\x02")
        out.append(save_string(_listpack(body[start:end], j - a), comp))
        a = j
        start = end
    return C.RDB_TYPE_LIST_QUICKLIST_2, save_len(len(out) >> 1) + b"".join(out)


def _save_list_loop(value: Iterable[bytes], opts: RdbWriteOptions) -> tuple[int, bytes]:
    """:func:`_save_list` element by element (PLAIN nodes, elements near the limit)."""
    fill = opts.list_max_listpack_size
    thr = opts.list_packed_threshold
    comp = opts.compression
    if fill < 0:
        off = -fill - 1
        size_limit = C.QUICKLIST_OPTIMIZATION_LEVEL[off] if off < 5 else -1
    else:
        size_limit = -1
    safety = C.QUICKLIST_SIZE_SAFETY_LIMIT
    overhead = C.QUICKLIST_SIZE_ESTIMATE_OVERHEAD
    out: list[bytes] = []
    nodes = 0
    parts: list[bytes] = []
    cur_sz = 0  # lpBytes of the tail PACKED node (0 = tail is absent or PLAIN)
    for ele in value:
        sz = len(ele)
        if sz >= thr:
            if parts:
                out.append(b"\x02" + save_string(lp_from_entries(parts), comp))
                nodes += 1
                parts = []
            out.append(b"\x01" + save_string(ele, comp))
            nodes += 1
            cur_sz = 0
            continue
        enc = encode_entry(ele)
        if parts:
            new_sz = cur_sz + sz + overhead
            if size_limit >= 0 and new_sz <= size_limit:
                allow = True
            elif new_sz > safety:
                allow = False
            else:
                allow = len(parts) < fill
            if allow:
                parts.append(enc)
                cur_sz += len(enc)
                continue
            out.append(b"\x02" + save_string(lp_from_entries(parts), comp))
            nodes += 1
        parts = [enc]
        cur_sz = 7 + len(enc)
    if parts:
        out.append(b"\x02" + save_string(lp_from_entries(parts), comp))
        nodes += 1
    return C.RDB_TYPE_LIST_QUICKLIST_2, save_len(nodes) + b"".join(out)


def _save_set(value: set[bytes], opts: RdbWriteOptions) -> tuple[int, bytes]:
    comp = opts.compression
    n = len(value)
    if n <= opts.set_max_intset_entries:
        ints = []
        for m in value:
            v = _is_intset_member(m)
            if v is None:
                break
            ints.append(v)
        else:
            return C.RDB_TYPE_SET_INTSET, save_string(intset_encode(ints), comp)
    if (
        opts.rdb_version >= 11
        and n <= opts.set_max_listpack_entries
        and all(len(m) <= opts.set_max_listpack_value for m in value)
    ):
        blob = _listpack(_lp_entries(list(value)), n)
        return C.RDB_TYPE_SET_LISTPACK, save_string(blob, comp)
    return C.RDB_TYPE_SET, save_len(n) + _rdb_strings(list(value), comp)


def _save_zset(value: ZSet, opts: RdbWriteOptions) -> tuple[int, bytes]:
    comp = opts.compression
    n = len(value)
    parts: list[Any] = [None] * (2 * n)
    if n <= opts.zset_max_listpack_entries and all(
        len(m) <= opts.zset_max_listpack_value for m in value.scores
    ):
        ns = _NUMSTART
        parts[0::2] = [
            _LP_HDR[k] + m + _LP_BACK[k]
            if (k := len(m)) < 64 and (k > 20 or not k or not ns[m[0]])
            else encode_entry(m)
            for _, m in value.index
        ]
        parts[1::2] = [_lp_score_entry(s) for s, _ in value.index]
        blob = _listpack(b"".join(parts), 2 * n)
        return C.RDB_TYPE_ZSET_LISTPACK, save_string(blob, comp)
    if not n:
        return C.RDB_TYPE_ZSET_2, save_len(0)
    # ZSET_2: highest score first, member then binary double
    # (not zip(*...): that makes one GC-tracked iterator per member)
    pairs = list(reversed(value.index))
    scores = list(map(_first, pairs))
    members = list(map(_second, pairs))
    try:
        lb = bytes(map(len, members))  # ValueError: >= 256 bytes
        firsts = bytes(map(_first, members))  # IndexError: an empty member
    except (ValueError, IndexError):
        lb = firsts = b""
    if (
        lb
        and not lb.translate(None, _LENS_RAW_LZF if comp else _LENS_6BIT)
        # no INT8/16/32 candidate: none of <= 11 bytes starting with "-" or a digit
        and not int.from_bytes(lb.translate(_INT_LEN_MASK), "big")
        & int.from_bytes(firsts.translate(_NUMSTART_MASK), "big")
    ):
        parts = [None] * (3 * n)
        parts[0::3] = memoryview(lb).cast("c").tolist()  # rdbSaveLen: the length byte
        parts[1::3] = members
        parts[2::3] = _binary_doubles(scores)
        return C.RDB_TYPE_ZSET_2, save_len(n) + b"".join(parts)
    parts[0::2] = _exact_strings(members, comp)
    parts[1::2] = _binary_doubles(scores)
    return C.RDB_TYPE_ZSET_2, save_len(n) + b"".join(parts)


def _hash_fits_listpack(value: Mapping[bytes, bytes], opts: RdbWriteOptions) -> bool:
    if len(value) > opts.hash_max_listpack_entries:
        return False
    lim = opts.hash_max_listpack_value
    for f, v in value.items():
        if len(f) > lim or len(v) > lim:
            return False
    return True


def _save_hash(value: Mapping[bytes, bytes], opts: RdbWriteOptions) -> tuple[int, bytes]:
    comp = opts.compression
    if type(value) is FieldTTLHash:
        live = {f: ms for f, ms in value.field_expires.items() if f in value}
        if live:
            return _save_ttl_hash(value, live, opts)
    m = len(value)
    if _hash_fits_listpack(value, opts):
        flat: list[Any] = [None] * (2 * m)
        flat[0::2] = value
        flat[1::2] = value.values()
        blob = _listpack(_lp_entries(flat), 2 * m)
        return C.RDB_TYPE_HASH_LISTPACK, save_string(blob, comp)
    t = _STR_HDR_LZF if comp else _STR_HDR
    parts: list[Any] = [None] * (4 * m)
    try:
        parts[0::4] = [t[len(f)] for f in value]  # IndexError: >= 64 bytes
        parts[1::4] = value
        parts[2::4] = [t[len(v)] for v in value.values()]
        parts[3::4] = value.values()
        body = b"".join(parts)  # TypeError: a None header (LZF candidate)
    except (IndexError, TypeError):
        body = b""
    if not body or body.translate(_STR_INT_PROBE).find(b"AB") >= 0:
        body = b"".join(_exact_strings(chain.from_iterable(value.items()), comp))
    return C.RDB_TYPE_HASH, save_len(m) + body


def _save_ttl_hash(
    value: Mapping[bytes, bytes], expires: dict[bytes, int], opts: RdbWriteOptions
) -> tuple[int, bytes]:
    comp = opts.compression
    ver = opts.rdb_version
    if ver >= 80:
        # Valkey 9 HASH_2: field, value, i64 LE absolute expire ms (-1 = none)
        out = [save_len(len(value))]
        for f, v in value.items():
            out.append(save_string(f, comp))
            out.append(save_string(v, comp))
            out.append(_pack_q(expires.get(f, -1)))
        return C.RDB_TYPE_HASH_2, b"".join(out)
    if ver < 12:
        raise RdbWriteError(
            "hash with field TTLs needs RDB version 12 (Redis 7.4+) or valkey80; "
            f"version {opts.version!r} cannot store them"
        )
    for ms in expires.values():
        if ms <= 0 or ms > C.EB_EXPIRE_TIME_MAX:
            raise RdbWriteError(f"hash field expire time out of range: {ms}")
    min_expire = min(expires.values())
    if _hash_fits_listpack(value, opts):
        # HASH_LISTPACK_EX: volatile fields by ascending TTL, then the others
        # (t_hash.c listpackExAddInternal keeps that order).
        vol = sorted((ms, i, f) for i, (f, ms) in enumerate(expires.items()))
        parts = []
        for ms, _, f in vol:
            parts.append(encode_entry(f))
            parts.append(encode_entry(value[f]))
            parts.append(encode_entry(ms))
        for f, v in value.items():
            if f not in expires:
                parts.append(encode_entry(f))
                parts.append(encode_entry(v))
                parts.append(encode_entry(C.HASH_LP_NO_TTL))
        blob = save_string(lp_from_entries(parts), comp)
        return C.RDB_TYPE_HASH_LISTPACK_EX, _pack_q(min_expire) + blob
    out = [_pack_q(min_expire), save_len(len(value))]
    for f, v in value.items():
        fms = expires.get(f)
        out.append(save_len(0 if fms is None else fms - min_expire + 1))
        out.append(save_string(f, comp))
        out.append(save_string(v, comp))
    return C.RDB_TYPE_HASH_METADATA, b"".join(out)


def _wrap_i64(v: int) -> int:
    v &= _U64_MASK
    return v - (1 << 64) if v >= 1 << 63 else v


def _save_stream(value: Stream, opts: RdbWriteOptions) -> tuple[int, bytes]:
    """Stream listpacks built as ``streamAppendItem`` (t_stream.c 7.0) would."""
    comp = opts.compression
    max_bytes = opts.stream_node_max_bytes
    if max_bytes <= 0 or max_bytes > (1 << 30):
        max_bytes = 1 << 30
    max_entries = opts.stream_node_max_entries
    nodes: list[bytes] = []
    parts: list[bytes] = []  # encoded entries of the tail listpack
    lp_bytes = 0
    count = 0
    master: tuple[int, int] = (0, 0)
    mfields: list[bytes] = []

    def close_node() -> None:
        parts[0] = encode_entry(count)
        nodes.append(save_string(_ID.pack(*master), comp))
        nodes.append(save_string(lp_from_entries(parts), comp))

    for eid, flat in value.entries.items():
        fields = flat[0::2]
        vals = flat[1::2]
        nf = len(fields)
        totelelen = 0
        for x in flat:
            totelelen += len(x)
        if parts and (lp_bytes + totelelen >= max_bytes or (max_entries and count >= max_entries)):
            close_node()
            parts = []
        if not parts:
            master = eid
            mfields = list(fields)
            count = 1
            parts = [encode_entry(1), encode_entry(0), encode_entry(nf)]
            parts.extend(encode_entry(f) for f in fields)
            parts.append(encode_entry(0))
            same = True
        else:
            count += 1
            same = nf == len(mfields) and fields == mfields
        new = [
            encode_entry(C.STREAM_ITEM_FLAG_SAMEFIELDS if same else C.STREAM_ITEM_FLAG_NONE),
            encode_entry(_wrap_i64(eid[0] - master[0])),
            encode_entry(_wrap_i64(eid[1] - master[1])),
        ]
        if same:
            new.extend(encode_entry(v) for v in vals)
            new.append(encode_entry(nf + 3))
        else:
            new.append(encode_entry(nf))
            for x in flat:
                new.append(encode_entry(x))
            new.append(encode_entry(2 * nf + 4))
        parts.extend(new)
        parts[0] = encode_entry(count)
        lp_bytes = 7 + sum(len(p) for p in parts)
    if parts:
        close_node()
    v3 = opts.rdb_version >= 11
    out = [save_len(len(nodes) // 2)]
    out.extend(nodes)
    entries = value.entries
    first = entries.keys()[0] if entries else value.first_id
    out.append(save_len(len(entries)))
    out.append(save_len(value.last_id[0]))
    out.append(save_len(value.last_id[1]))
    out.append(save_len(first[0]))
    out.append(save_len(first[1]))
    out.append(save_len(value.max_deleted_id[0]))
    out.append(save_len(value.max_deleted_id[1]))
    out.append(save_len(value.entries_added))
    groups = value.groups
    out.append(save_len(len(groups)))
    for gname in sorted(groups):
        g = groups[gname]
        out.append(save_string(gname, comp))
        out.append(save_len(g.last_id[0]))
        out.append(save_len(g.last_id[1]))
        out.append(save_len(g.entries_read & _U64_MASK))
        out.append(save_len(len(g.pel)))
        for rid, nack in g.pel.items():
            out.append(_ID.pack(*rid))
            out.append(_pack_q(nack.delivery_time))
            out.append(save_len(nack.delivery_count))
        consumers = g.consumers
        out.append(save_len(len(consumers)))
        for cname in sorted(consumers):
            c = consumers[cname]
            out.append(save_string(cname, comp))
            out.append(_pack_q(c.seen_time))
            if v3:
                out.append(_pack_q(c.active_time))
            out.append(save_len(len(c.pel)))
            for rid in c.pel:
                out.append(_ID.pack(*rid))
    t = C.RDB_TYPE_STREAM_LISTPACKS_3 if v3 else C.RDB_TYPE_STREAM_LISTPACKS_2
    return t, b"".join(out)


def encode_value(value: Any, opts: RdbWriteOptions = DEFAULT_OPTIONS) -> tuple[int, bytes]:
    """``rdbSaveObjectType`` + ``rdbSaveObject``: (type byte, serialized value)."""
    t = type(value)
    if t is bytes or t is bytearray:
        return C.RDB_TYPE_STRING, save_string(value, opts.compression)
    if t is deque:
        return _save_list(value, opts)
    if t is dict or t is FieldTTLHash:
        return _save_hash(value, opts)
    if t is set:
        return _save_set(value, opts)
    if t is ZSet:
        return _save_zset(value, opts)
    if t is Stream:
        return _save_stream(value, opts)
    raise RdbWriteError(f"cannot serialize value of type {t.__name__}")


save_object = encode_value


def default_aux_fields(opts: RdbWriteOptions = DEFAULT_OPTIONS) -> dict[bytes, bytes]:
    """``rdbSaveInfoAuxFields`` order: redis-ver, redis-bits, ctime, used-mem, aof-base."""
    ver_name = b"valkey-ver" if opts.valkey else b"redis-ver"
    ctime = int(time.time()) if opts.ctime is None else opts.ctime
    aux = {
        ver_name: opts.server_version.encode(),
        b"redis-bits": b"64",
        b"ctime": b"%d" % ctime,
        b"used-mem": b"%d" % opts.used_mem,
    }
    aux.update(opts.aux_extra)
    aux[b"aof-base"] = b"1" if opts.aof_base else b"0"
    return aux


# ----------------------------------------------------------------- the writer
class RdbWriter:
    """Incremental RDB writer (``rdbSaveRio``) into ``sink.write``.

    Call :meth:`start`, then :meth:`function` per library, then per non-empty DB
    :meth:`select_db` followed by :meth:`entry` / :meth:`entries`, then :meth:`finish`.
    Data is buffered and handed to the sink in chunks >= 64 KB (and at ``finish``).
    On an exception from the sink, the output is incomplete and must be discarded.
    """

    def __init__(self, sink: Sink, opts: RdbWriteOptions = DEFAULT_OPTIONS) -> None:
        self.sink = sink
        self.opts = opts
        self._buf = bytearray()
        self._crc = 0
        self.bytes_written = 0
        self.keys_written = 0
        self._rdb_version = opts.rdb_version  # validates the dialect early

    # -- plumbing
    def _flush(self) -> None:
        buf = self._buf
        if not buf:
            return
        chunk = bytes(buf)
        buf.clear()
        self._emit(chunk)

    def _emit(self, chunk: bytes) -> None:
        """Hand ``chunk`` to the sink (the buffer must have been flushed before)."""
        if self.opts.checksum:
            self._crc = crc64(chunk, self._crc)
        self.bytes_written += len(chunk)
        self.sink.write(chunk)

    def write_raw(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) >= FLUSH_THRESHOLD:
            self._flush()

    # -- file skeleton
    def start(self, aux: Mapping[bytes, bytes] | None = None) -> None:
        """Magic + AUX fields (``aux`` replaces the default Redis set when given)."""
        buf = self._buf
        buf += self.opts.magic
        fields = default_aux_fields(self.opts) if aux is None else aux
        comp = self.opts.compression
        for k, v in fields.items():
            buf.append(C.RDB_OPCODE_AUX)
            buf += save_string(k, comp)
            buf += save_string(v, comp)

    def aux(self, name: bytes, value: bytes) -> None:
        comp = self.opts.compression
        self.write_raw(
            bytes((C.RDB_OPCODE_AUX,)) + save_string(name, comp) + save_string(value, comp)
        )

    def function(self, code: bytes) -> None:
        """One FUNCTION2 record (library source incl. its ``#!lua name=`` line)."""
        self.write_raw(bytes((C.RDB_OPCODE_FUNCTION2,)) + save_string(code, self.opts.compression))

    def select_db(self, db: int, size: int, expires_size: int) -> None:
        self.write_raw(
            bytes((C.RDB_OPCODE_SELECTDB,))
            + save_len(db)
            + bytes((C.RDB_OPCODE_RESIZEDB,))
            + save_len(size)
            + save_len(expires_size)
        )

    def entry(self, key: bytes, value: Any, expire_ms: int | None = None) -> None:
        """One key (``rdbSaveKeyValuePair``): [EXPIRETIME_MS] type key value."""
        self.entries(((key, value, expire_ms),))

    def entries(
        self,
        items: Iterable[tuple[bytes, Any, int | None]],
        access: Callable[[bytes], bytes] | None = None,
    ) -> None:
        """Many keys; the hot loop of SAVE (strings are encoded inline).

        ``access(key)``: the key's ``RDB_OPCODE_IDLE`` / ``RDB_OPCODE_FREQ`` record,
        written after its EXPIRETIME_MS and before its type, as ``rdbSaveKeyValuePair``
        does under an LRU / LFU maxmemory-policy."""
        if access is not None:
            self._entries_with_access(items, access)
            return
        buf = self._buf
        append = buf.append
        numstart = _NUMSTART
        comp = self.opts.compression
        opts = self.opts
        flush_at = FLUSH_THRESHOLD
        n_keys = 0
        for key, value, exp in items:
            if exp is not None:
                buf += b"\xfc"
                buf += _pack_q(exp)
            tv = type(value)
            if tv is bytes:
                append(0)
            else:
                t, payload = encode_value(value, opts)
                append(t)
            # key: rdbSaveRawString, inlined for the common short non-numeric case
            n = len(key)
            if n < 64 and (n > 11 or not n or not numstart[key[0]]):
                append(n)
                buf += key
            else:
                buf += save_string(key, comp)
            if tv is bytes:
                n = len(value)
                if n < 64 and (n > 11 or not n or not numstart[value[0]]) and (n <= 20 or not comp):
                    append(n)
                    buf += value
                else:
                    buf += save_string(value, comp)
            elif len(payload) < flush_at:
                buf += payload
            else:  # a big collection: straight to the sink, no copy into the buffer
                self._flush()
                self._emit(payload)
            n_keys += 1
            if len(buf) >= flush_at:
                self._flush()
        self.keys_written += n_keys

    def _entries_with_access(
        self, items: Iterable[tuple[bytes, Any, int | None]], access: Callable[[bytes], bytes]
    ) -> None:
        buf = self._buf
        for key, value, exp in items:
            if exp is not None:
                buf += b"\xfc"
                buf += _pack_q(exp)
            buf += access(key)
            self.entries(((key, value, None),))

    def finish(self) -> int:
        """EOF + CRC64 (0 when checksums are off); flushes; returns the CRC written."""
        self._buf.append(C.RDB_OPCODE_EOF)
        buf = self._buf
        chunk = bytes(buf)
        buf.clear()
        crc = crc64(chunk, self._crc) if self.opts.checksum else 0
        self._crc = crc
        tail = chunk + _U64.pack(crc)
        self.bytes_written += len(tail)
        self.sink.write(tail)
        return crc


class _ListSink:
    __slots__ = ("chunks",)

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.chunks.append(data)


def save_rdb(
    sink: Sink,
    dbs: Mapping[int, Mapping[bytes, tuple[Any, int | None]]],
    opts: RdbWriteOptions = DEFAULT_OPTIONS,
    *,
    functions: Iterable[bytes] = (),
    aux: Mapping[bytes, bytes] | None = None,
) -> int:
    """Write a whole RDB to ``sink``; ``dbs`` maps db -> {key: (value, expire_ms)}."""
    w = RdbWriter(sink, opts)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _save_all(w, dbs, functions, aux)
    finally:
        if gc_was_enabled:
            gc.enable()
    return w._crc


def _save_all(
    w: RdbWriter,
    dbs: Mapping[int, Mapping[bytes, tuple[Any, int | None]]],
    functions: Iterable[bytes],
    aux: Mapping[bytes, bytes] | None,
) -> None:
    w.start(aux)
    for code in functions:
        w.function(code)
    for db in sorted(dbs):
        keys = dbs[db]
        if not keys:
            continue
        expires = sum(1 for _, exp in keys.values() if exp is not None)
        w.select_db(db, len(keys), expires)
        w.entries((k, v, e) for k, (v, e) in keys.items())
    w.finish()


def save_rdb_bytes(
    dbs: Mapping[int, Mapping[bytes, tuple[Any, int | None]]],
    opts: RdbWriteOptions = DEFAULT_OPTIONS,
    *,
    functions: Iterable[bytes] = (),
    aux: Mapping[bytes, bytes] | None = None,
) -> bytes:
    """:func:`save_rdb` into memory."""
    sink = _ListSink()
    save_rdb(sink, dbs, opts, functions=functions, aux=aux)
    return b"".join(sink.chunks)
