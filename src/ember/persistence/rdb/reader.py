"""RDB reader: bytes in, events out (sans-IO; rdb-format.md §1-§12).

Theory of operation
-------------------
``RdbReader(data)`` holds the whole file (``bytes``; other buffers are copied once)
and an integer cursor ``pos``. :meth:`RdbReader.events` mirrors redis
``rdbLoadRioWithLoadingCtx``: read one type byte; an opcode is handled and yields an
event (``Aux``, ``SelectDb``, ``ResizeDb``, ``Function``, ``ModuleAux``, ``SlotInfo``,
``SlotImport``) or sets a per-key prefix (expire, LRU idle, LFU freq); anything else
is an object type, followed by a key string and the value (:meth:`load_object`), and
yields an ``Entry``. ``EOF`` checks the CRC64 trailer and yields ``Eof`` with the
offset just past the trailer (an AOF continues there in RESP).

Bulk loading: :meth:`RdbReader.load_into` yields the same events except ``Entry``;
keys go straight into the caller's dicts, runs of plain string keys through an
inlined loop (no event objects, no per-key calls). Collections are first tried by the
fast value loaders (``_FAST_LOADERS``: comprehension kernels for the commonest
encodings); on anything unusual they give up and the careful loader redoes the value
from its start. Both shortcuts fall back to the one careful per-record path for every
anomaly, so the values and the errors (offsets, context) are those of ``events()``.

Values are built directly as the in-memory types of ``ember.keyspace.types``; every
older encoding (zipmap, ziplist, intset, quicklist v1, ...) is converted on load, like
Redis does. Empty collections are skipped (``RDB_LOAD_ERR_EMPTY_KEY``), so no
``Entry`` is produced for them.

Errors: anything malformed raises :class:`RdbFormatError` carrying the offset (bytes
consumed so far, like ``redis-check-rdb``'s ``processed_bytes``), what was being done
and the key. Internal ``IndexError``/``struct.error``/``EncodingError`` are converted at
one place (the ``events`` loop and :func:`load_object`), so hot paths need no
per-access bounds checks; explicit checks exist where a slice could silently be short.
Every loop consumes at least one byte per iteration, so a corrupt count can never
make the reader spin: it runs into the end of the buffer first.
"""

# ruff: noqa: UP031  (error texts mirror redis rdb.c printf formats)

from __future__ import annotations

import gc
import math
import struct
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Final

import lzf
from sortedcontainers import SortedDict

from ember.keyspace.types import (
    Consumer,
    ConsumerGroup,
    FieldTTLHash,
    PendingEntry,
    Stream,
    ZSet,
)

from . import constants as C
from .crc64 import crc64
from .encodings import EncodingError
from .encodings.intset import intset_decode
from .encodings.listpack import lp_decode
from .encodings.ziplist import zl_decode
from .encodings.zipmap import zipmap_decode
from .errors import RdbFormatError, RdbModuleError, RdbUnsupportedVersionError

_U32BE = struct.Struct(">I")
_U64BE = struct.Struct(">Q")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_I16 = struct.Struct("<h")
_F64 = struct.Struct("<d")
_F32 = struct.Struct("<f")
_ID = struct.Struct(">QQ")
_U64 = struct.Struct("<Q")
_LP_HDR = struct.Struct("<IH")

_U64_MASK = (1 << 64) - 1

# Errors that mean "the bytes ran out or do not fit" when raised inside the parser.
_PARSE_ERRORS = (IndexError, struct.error, EncodingError, OverflowError, ValueError)
# What makes the bulk-load fast loop hand a record over to the careful path.
_FAST_ERRORS = (RdbFormatError, *_PARSE_ERRORS)

_REDIS_OBJECT_TYPES = frozenset(
    {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25}
)
_VALKEY_OBJECT_TYPES = frozenset(
    {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22}
)


# --------------------------------------------------------------------------- events
@dataclass(slots=True)
class Header:
    """The magic: ``version`` (1..12, or 80/81 with ``valkey``)."""

    version: int
    valkey: bool = False


@dataclass(slots=True)
class Aux:
    name: bytes
    value: bytes


@dataclass(slots=True)
class SelectDb:
    db: int


@dataclass(slots=True)
class ResizeDb:
    db_size: int
    expires_size: int


@dataclass(slots=True)
class SlotInfo:
    slot: int
    size: int
    expires_size: int


@dataclass(slots=True)
class SlotImport:
    name: bytes
    ranges: list[tuple[int, int]]


@dataclass(slots=True)
class Function:
    """A function library (``FUNCTION2``; 7.0-rc ``FUNCTION_PRE_GA`` is converted)."""

    code: bytes


@dataclass(slots=True)
class ModuleAux:
    module_id: int
    module_name: str
    when: int


@dataclass(slots=True)
class Entry:
    key: bytes
    value: Any
    expire_ms: int | None = None
    lru_idle: int | None = None
    lfu_freq: int | None = None
    rdb_type: int = 0


@dataclass(slots=True)
class Progress:
    """:meth:`RdbReader.load_into` made ``keys`` entries so far (loaded or dropped)."""

    pos: int
    keys: int


@dataclass(slots=True)
class Eof:
    """End of the RDB: ``end_offset`` is just past the CRC trailer."""

    end_offset: int
    checksum: int | None = None  # stored CRC (None for version < 5)
    checksum_verified: bool = False


Event = (
    Header | Aux | SelectDb | ResizeDb | SlotInfo | SlotImport | Function | ModuleAux | Entry | Eof
)


# ------------------------------------------------------------------------ helpers
def module_type_name(module_id: int) -> str:
    """redis ``moduleTypeNameByID``: 9 chars x 6 bits above the 10-bit encver."""
    cs = C.MODULE_TYPE_NAME_CHARSET
    mid = module_id >> 10
    chars = []
    for _ in range(9):
        chars.append(cs[mid & 63])
        mid >>= 6
    return "".join(reversed(chars))


def _parse_double_text(buf: bytes) -> float:
    """``%lg`` as sscanf reads an old RDB string double (§4)."""
    try:
        return float(buf.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise EncodingError("invalid string double") from None


def _score_from_lp(ele: bytes | int) -> float:
    """``zzlGetScore``: listpack/ziplist scores are int entries or ``strtod`` text."""
    if type(ele) is int:
        return float(ele)
    try:
        v = float(ele)  # type: ignore[arg-type]
    except ValueError:
        raise EncodingError("invalid zset score") from None
    return v


class RdbReader:
    """Sans-IO RDB parser over an in-memory buffer.

    Options: ``verify_checksum`` (skip when False or when the stored CRC is 0),
    ``deep_sanitize`` (validate ziplist/listpack/intset/stream internals fully, as
    ``sanitize-dump-payload yes``), ``skip_modules`` (skip module values instead of
    refusing them, as Redis refuses values and AUX data of modules it does not have;
    ``on_warning`` is told), ``allow_function_pre_ga`` (Redis 7.0.x
    converts 7.0-rc FUNCTION records; newer servers refuse them).
    """

    def __init__(
        self,
        data: bytes | bytearray | memoryview,
        *,
        verify_checksum: bool = True,
        deep_sanitize: bool = False,
        skip_modules: bool = False,
        on_warning: Callable[[str], None] | None = None,
        allow_function_pre_ga: bool = True,
    ) -> None:
        self.data: bytes = data if type(data) is bytes else bytes(data)
        self.pos = 0
        self.version = 0
        self.valkey = False
        self.verify_checksum = verify_checksum
        self.deep = deep_sanitize
        self.skip_modules = skip_modules
        self.on_warning = on_warning
        self.allow_function_pre_ga = allow_function_pre_ga
        self.empty_keys_skipped = 0
        self.modules_skipped = 0
        # XLEN as stored in the file for the stream just loaded (Stream has no slot for
        # it; a corrupt-but-loadable file may disagree with the live entry count)
        self.stream_length: int | None = None
        # error context (redis-check-rdb's rdbstate.doing / key / key_type)
        self.doing = "start"
        self.key: bytes | None = None
        self.key_type: int | None = None
        # per-key prefixes (EXPIRETIME[_MS], IDLE, FREQ) waiting for the next key
        self._expire: int | None = None
        self._idle: int | None = None
        self._freq: int | None = None
        # load_into statistics
        self.keys_loaded = 0
        self.keys_expired = 0

    # ------------------------------------------------------------------ errors
    def _error(self, msg: str, offset: int | None = None) -> RdbFormatError:
        return RdbFormatError(
            msg,
            offset=self.pos if offset is None else offset,
            doing=self.doing,
            key=self.key,
            rdb_type=self.key_type,
        )

    def _warn(self, msg: str) -> None:
        if self.on_warning is not None:
            self.on_warning(msg)

    # ---------------------------------------------------------------- §1.1 magic
    def read_header(self) -> Header:
        data = self.data
        self.doing = "start"
        if len(data) < 9:
            raise self._error("Unexpected EOF reading RDB file", offset=len(data))
        magic = data[:9]
        if magic.startswith(C.RDB_MAGIC_VALKEY):
            digits = magic[6:9]
            if not digits.isdigit():
                raise self._error("Wrong signature trying to load DB from file", 0)
            ver = int(digits)
            if ver < C.RDB_VALKEY_MIN_VERSION or ver > C.RDB_VALKEY_MAX_VERSION:
                raise RdbUnsupportedVersionError(ver)
            self.valkey = True
        elif magic.startswith(C.RDB_MAGIC_REDIS):
            digits = magic[5:9]
            n = 0
            while n < 4 and 48 <= digits[n] <= 57:  # atoi(): leading digits only
                n += 1
            ver = int(digits[:n]) if n else 0
            if ver < 1 or ver > C.RDB_MAX_READ_VERSION:
                raise RdbUnsupportedVersionError(ver)
        else:
            raise self._error("Wrong signature trying to load DB from file", 0)
        self.version = ver
        self.pos = 9
        return Header(ver, self.valkey)

    # ------------------------------------------------------------ §2 lengths
    def load_len(self) -> int:
        """``rdbLoadLen``: 6/14/32/64-bit length (``11xxxxxx`` yields its low bits)."""
        data = self.data
        pos = self.pos
        b = data[pos]
        t = b >> 6
        if t == 0:
            self.pos = pos + 1
            return b
        if t == 1:
            self.pos = pos + 2
            return ((b & 0x3F) << 8) | data[pos + 1]
        if b == 0x80:
            self.pos = pos + 5
            return int(_U32BE.unpack_from(data, pos + 1)[0])
        if b == 0x81:
            self.pos = pos + 9
            return int(_U64BE.unpack_from(data, pos + 1)[0])
        if t == 3:
            self.pos = pos + 1
            return b & 0x3F
        raise self._error("Unknown length encoding %d in rdbLoadLen()" % b, pos)

    def load_millisecond_time(self) -> int:
        pos = self.pos
        v = int(_I64.unpack_from(self.data, pos)[0])
        self.pos = pos + 8
        return v

    # ------------------------------------------------------------ §3 strings
    def load_string(self) -> bytes:
        """``rdbGenericLoadStringObject``: raw, INT8/16/32 or LZF string."""
        data = self.data
        pos = self.pos
        b = data[pos]
        if b < 0x40:
            end = pos + 1 + b
            if end > len(data):
                raise self._error("Unexpected EOF reading RDB file", len(data))
            self.pos = end
            return data[pos + 1 : end]
        if b < 0x80:
            end = pos + 2 + (((b & 0x3F) << 8) | data[pos + 1])
            if end > len(data):
                raise self._error("Unexpected EOF reading RDB file", len(data))
            self.pos = end
            return data[pos + 2 : end]
        if b < 0xC0:
            ln = self.load_len()
            pos = self.pos
            end = pos + ln
            if end > len(data):
                raise self._error("Unexpected EOF reading RDB file", len(data))
            self.pos = end
            return data[pos:end]
        enc = b & 0x3F
        if enc == C.RDB_ENC_INT8:
            v = data[pos + 1]
            self.pos = pos + 2
            return b"%d" % (v - 256 if v > 127 else v)
        if enc == C.RDB_ENC_INT16:
            self.pos = pos + 3
            return b"%d" % _I16.unpack_from(data, pos + 1)[0]
        if enc == C.RDB_ENC_INT32:
            self.pos = pos + 5
            return b"%d" % _I32.unpack_from(data, pos + 1)[0]
        if enc == C.RDB_ENC_LZF:
            self.pos = pos + 1
            clen = self.load_len()
            ulen = self.load_len()
            start = self.pos
            end = start + clen
            if end > len(data):
                raise self._error("Unexpected EOF reading RDB file", len(data))
            self.pos = end
            if ulen == 0:
                return b""
            # LZF expands at most ~88x (a 3-byte back-reference makes 264 bytes)
            if clen == 0 or ulen > clen * 90 + 64:
                raise self._error("Invalid LZF compressed string")
            try:
                out = lzf.decompress(data[start:end], ulen)
            except ValueError:
                out = None
            if out is None or len(out) != ulen:
                raise self._error("Invalid LZF compressed string")
            return bytes(out)
        raise self._error("Unknown RDB string encoding type %d" % enc, pos)

    # ------------------------------------------------------------ §4 doubles
    def load_double_value(self) -> float:
        data = self.data
        pos = self.pos
        n = data[pos]
        if n == 255:
            self.pos = pos + 1
            return -math.inf
        if n == 254:
            self.pos = pos + 1
            return math.inf
        if n == 253:
            self.pos = pos + 1
            return math.nan
        end = pos + 1 + n
        if end > len(data):
            raise self._error("Unexpected EOF reading RDB file", len(data))
        self.pos = end
        return _parse_double_text(data[pos + 1 : end])

    def load_binary_double_value(self) -> float:
        pos = self.pos
        v = float(_F64.unpack_from(self.data, pos)[0])
        self.pos = pos + 8
        return v

    # ------------------------------------------------------------ §7 objects
    def load_object(self, rdb_type: int) -> Any:
        """``rdbLoadObject``: the value of type ``rdb_type`` at ``pos``.

        Returns ``None`` for an empty collection (the key is to be skipped).
        """
        if rdb_type == C.RDB_TYPE_STRING:
            return self.load_string()
        fast = _FAST_LOADERS.get(rdb_type)
        if fast is not None:
            start = self.pos
            try:
                value = fast(self)
            except _FAST_ERRORS:
                value = _FALLBACK
            if value is not _FALLBACK:
                return value
            self.pos = start  # the careful loader below reports what is wrong
        loader = _LOADERS.get(rdb_type)
        if rdb_type == C.RDB_TYPE_HASH_2 and self.valkey:
            return self._load_hash_2()
        if loader is None:
            raise self._error("Unknown RDB encoding type %d" % rdb_type)
        return loader(self, rdb_type)

    def _load_blob(self) -> tuple[bytes, int]:
        """A packed blob (string) and the offset where its bytes started."""
        start = self.pos
        return self.load_string(), start

    def _blob_error(self, what: str, start: int) -> RdbFormatError:
        return self._error(f"{what} integrity check failed.", start)

    # lists ------------------------------------------------------------------
    def _load_list(self, rdb_type: int) -> deque[bytes] | None:
        n = self.load_len()
        if n == 0:
            return None
        load_string = self.load_string
        out: deque[bytes] = deque()
        append = out.append
        for _ in range(n):
            append(load_string())
        return out

    def _load_quicklist(self, rdb_type: int) -> deque[bytes] | None:
        nodes = self.load_len()
        if nodes == 0:
            return None
        out: deque[bytes] = deque()
        v2 = rdb_type == C.RDB_TYPE_LIST_QUICKLIST_2
        container = C.QUICKLIST_NODE_CONTAINER_PACKED
        deep = self.deep
        for _ in range(nodes):
            if v2:
                container = self.load_len()
                if container not in (
                    C.QUICKLIST_NODE_CONTAINER_PACKED,
                    C.QUICKLIST_NODE_CONTAINER_PLAIN,
                ):
                    raise self._error("Quicklist integrity check failed.")
            blob, start = self._load_blob()
            if not blob:
                raise self._error("Quicklist node is empty")
            if container == C.QUICKLIST_NODE_CONTAINER_PLAIN:
                out.append(blob)
                continue
            try:
                if v2:
                    items = lp_decode(blob, deep=deep, ints_as_bytes=True)
                else:
                    items = zl_decode(blob)
            except EncodingError as e:
                what = "Listpack" if v2 else "Ziplist"
                raise self._error(f"{what} integrity check failed. ({e})") from None
            out.extend(items)  # type: ignore[arg-type]
        if not out:
            return None
        return out

    def _load_list_ziplist(self, rdb_type: int) -> deque[bytes] | None:
        blob, start = self._load_blob()
        try:
            items = zl_decode(blob)
        except EncodingError as e:
            raise self._error(f"List ziplist integrity check failed. ({e})") from None
        if not items:
            return None
        return deque(items)  # type: ignore[arg-type]

    # sets -------------------------------------------------------------------
    def _load_set(self, rdb_type: int) -> set[bytes] | None:
        n = self.load_len()
        if n == 0:
            return None
        load_string = self.load_string
        out: set[bytes] = set()
        add = out.add
        for i in range(n):
            add(load_string())
            if len(out) != i + 1:
                raise self._error("Duplicate set members detected")
        return out

    def _load_set_intset(self, rdb_type: int) -> set[bytes] | None:
        blob, start = self._load_blob()
        try:
            values = intset_decode(blob, deep=self.deep)
        except EncodingError as e:
            raise self._error(f"Intset integrity check failed. ({e})") from None
        out = {b"%d" % v for v in values}
        if len(out) != len(values):
            raise self._error("Intset integrity check failed. (duplicates)")
        return out

    def _load_set_listpack(self, rdb_type: int) -> set[bytes] | None:
        blob, start = self._load_blob()
        try:
            items = lp_decode(blob, deep=self.deep, ints_as_bytes=True)
        except EncodingError as e:
            raise self._error(f"Set listpack integrity check failed. ({e})") from None
        out: set[bytes] = set(items)  # type: ignore[arg-type]
        if len(out) != len(items):
            raise self._error("Set listpack integrity check failed. (duplicates)")
        if not out:
            return None
        return out

    # sorted sets ------------------------------------------------------------
    def _load_zset(self, rdb_type: int) -> ZSet | None:
        n = self.load_len()
        if n == 0:
            return None
        z = ZSet()
        scores = z.scores
        load_string = self.load_string
        binary = rdb_type == C.RDB_TYPE_ZSET_2
        pairs = []
        for i in range(n):
            member = load_string()
            score = self.load_binary_double_value() if binary else self.load_double_value()
            if score != score:
                raise self._error("Zset with NAN score detected")
            scores[member] = score
            if len(scores) != i + 1:
                raise self._error("Duplicate zset fields detected")
            pairs.append((score, member))
        z.index.update(pairs)
        return z

    def _zset_from_flat(self, items: list[bytes | int], start: int, what: str) -> ZSet | None:
        if len(items) & 1:
            raise self._error(f"{what} integrity check failed. (odd length)")
        if not items:
            return None
        z = ZSet()
        scores = z.scores
        pairs = []
        try:
            for i in range(0, len(items), 2):
                member = items[i]
                if type(member) is int:
                    member = b"%d" % member
                score = _score_from_lp(items[i + 1])
                if score != score:
                    raise EncodingError("NaN score")
                scores[member] = score  # type: ignore[index]
                pairs.append((score, member))
        except EncodingError as e:
            raise self._error(f"{what} integrity check failed. ({e})") from None
        if len(scores) != len(pairs):
            raise self._error(f"{what} integrity check failed. (duplicates)")
        z.index.update(pairs)
        return z

    def _load_zset_ziplist(self, rdb_type: int) -> ZSet | None:
        blob, start = self._load_blob()
        try:
            items = zl_decode(blob, ints_as_bytes=False)
        except EncodingError as e:
            raise self._error(f"Zset ziplist integrity check failed. ({e})") from None
        return self._zset_from_flat(items, start, "Zset ziplist")

    def _load_zset_listpack(self, rdb_type: int) -> ZSet | None:
        blob, start = self._load_blob()
        try:
            items = lp_decode(blob, deep=self.deep)
        except EncodingError as e:
            raise self._error(f"Zset listpack integrity check failed. ({e})") from None
        return self._zset_from_flat(items, start, "Zset listpack")

    # hashes -----------------------------------------------------------------
    def _load_hash(self, rdb_type: int) -> dict[bytes, bytes] | None:
        n = self.load_len()
        if n == 0:
            return None
        load_string = self.load_string
        out: dict[bytes, bytes] = {}
        for i in range(n):
            f = load_string()
            out[f] = load_string()
            if len(out) != i + 1:
                raise self._error("Duplicate hash fields detected")
        return out

    def _hash_from_flat(self, items: list[Any], start: int, what: str) -> dict[bytes, bytes] | None:
        if len(items) & 1:
            raise self._error(f"{what} integrity check failed. (odd length)")
        if not items:
            return None
        it = iter(items)
        out = dict(zip(it, it, strict=True))
        if len(out) * 2 != len(items):
            raise self._error(f"{what} integrity check failed. (dup elements)")
        return out

    def _load_hash_zipmap(self, rdb_type: int) -> dict[bytes, bytes] | None:
        blob, start = self._load_blob()
        try:
            pairs = zipmap_decode(blob)
        except EncodingError as e:
            raise self._error(f"Zipmap integrity check failed. ({e})") from None
        out = dict(pairs)
        if len(out) != len(pairs):
            raise self._error("Hash zipmap with dup elements")
        return out

    def _load_hash_ziplist(self, rdb_type: int) -> dict[bytes, bytes] | None:
        blob, start = self._load_blob()
        try:
            items = zl_decode(blob)
        except EncodingError as e:
            raise self._error(f"Hash ziplist integrity check failed. ({e})") from None
        return self._hash_from_flat(items, start, "Hash ziplist")

    def _load_hash_listpack(self, rdb_type: int) -> dict[bytes, bytes] | None:
        blob, start = self._load_blob()
        try:
            items = lp_decode(blob, deep=self.deep, ints_as_bytes=True)
        except EncodingError as e:
            raise self._error(f"Hash listpack integrity check failed. ({e})") from None
        return self._hash_from_flat(items, start, "Hash listpack")

    # hash field expiration (§10) ---------------------------------------------
    def _ttl_hash(self, triples: list[tuple[bytes, bytes, int]]) -> dict[bytes, bytes] | None:
        if not triples:
            return None
        h = FieldTTLHash()
        fe = h.field_expires
        for f, v, exp in triples:
            h[f] = v
            if exp:
                fe[f] = exp
        if len(h) != len(triples):
            raise self._error("Duplicate hash fields detected")
        if not fe:
            return dict(h)
        return h

    def _load_hash_metadata(self, rdb_type: int) -> dict[bytes, bytes] | None:
        min_expire = 0
        if rdb_type == C.RDB_TYPE_HASH_METADATA:
            min_expire = self.load_millisecond_time()
        n = self.load_len()
        if n == 0:
            return None
        triples = []
        load_len = self.load_len
        load_string = self.load_string
        for _ in range(n):
            ttl = load_len()
            if rdb_type == C.RDB_TYPE_HASH_METADATA:
                expire_at = ttl + min_expire - 1 if ttl else 0
            else:
                expire_at = ttl
            if expire_at > C.EB_EXPIRE_TIME_MAX or expire_at < 0:
                raise self._error("invalid expireAt time: %d" % expire_at)
            f = load_string()
            triples.append((f, load_string(), expire_at))
        return self._ttl_hash(triples)

    def _load_hash_listpack_ex(self, rdb_type: int) -> dict[bytes, bytes] | None:
        if rdb_type == C.RDB_TYPE_HASH_LISTPACK_EX:
            self.load_millisecond_time()  # minExpire: a hint only
        blob, start = self._load_blob()
        try:
            items = lp_decode(blob, deep=self.deep)
        except EncodingError as e:
            raise self._error(f"Hash listpack integrity check failed. ({e})") from None
        if len(items) % 3:
            raise self._error("Hash listpack integrity check failed. (tuples)")
        triples = []
        for i in range(0, len(items), 3):
            f, v, ttl = items[i], items[i + 1], items[i + 2]
            if type(ttl) is not int or ttl < 0 or ttl > C.EB_EXPIRE_TIME_MAX:
                raise self._error("Hash listpack integrity check failed. (ttl)")
            if type(f) is int:
                f = b"%d" % f
            if type(v) is int:
                v = b"%d" % v
            triples.append((f, v, ttl))
        return self._ttl_hash(triples)  # type: ignore[arg-type]

    def _load_hash_2(self) -> dict[bytes, bytes] | None:
        """Valkey 9 ``HASH_2``: n x (field, value, i64 LE expire ms, -1 = none)."""
        n = self.load_len()
        if n == 0:
            return None
        triples = []
        load_string = self.load_string
        for _ in range(n):
            f = load_string()
            v = load_string()
            exp = self.load_millisecond_time()
            if exp < -1:
                raise self._error("invalid hash field expire time %d" % exp)
            triples.append((f, v, 0 if exp == -1 else exp))
        return self._ttl_hash(triples)

    # streams (§9) -------------------------------------------------------------
    def _load_stream(self, rdb_type: int) -> Stream:
        s = Stream()
        entries = s.entries
        deep = self.deep
        n_lp = self.load_len()
        tmp: dict[tuple[int, int], list[bytes]] = {}
        last_node: tuple[int, int] | None = None
        for _ in range(n_lp):
            nk_start = self.pos
            nodekey = self.load_string()
            if len(nodekey) != 16:
                raise self._error("Stream node key entry is not the size of a stream ID", nk_start)
            master = _ID.unpack(nodekey)
            if last_node is not None and master <= last_node:
                raise self._error("Listpack re-added with existing key", nk_start)
            last_node = master
            blob, start = self._load_blob()
            try:
                items = lp_decode(blob, deep=deep)
                if not items:
                    raise self._error("Empty listpack inside stream")
                self._stream_node(master, items, tmp)
            except EncodingError as e:
                raise self._error(f"Stream listpack integrity check failed. ({e})") from None
        if tmp:
            entries.update(tmp)
        load_len = self.load_len
        length = load_len()
        self.stream_length = length
        s.last_id = (load_len(), load_len())
        if rdb_type >= C.RDB_TYPE_STREAM_LISTPACKS_2:
            s.first_id = (load_len(), load_len())
            s.max_deleted_id = (load_len(), load_len())
            s.entries_added = load_len()
        else:
            s.max_deleted_id = (0, 0)
            s.entries_added = length
            s.first_id = entries.keys()[0] if entries else (0, 0)
        if length and not n_lp:
            raise self._error("Stream length inconsistent with rax entries")
        if deep and length != len(entries):
            raise self._error("Stream length inconsistent with its entries")
        n_groups = load_len()
        groups = s.groups
        for _ in range(n_groups):
            name = self.load_string()
            gid = (load_len(), load_len())
            if rdb_type >= C.RDB_TYPE_STREAM_LISTPACKS_2:
                entries_read = load_len()
                if entries_read == _U64_MASK:
                    entries_read = -1
            else:
                entries_read = _estimate_distance(s, length, gid)
            if name in groups:
                raise self._error(f"Duplicated consumer group name {name!r}")
            pel: SortedDict = SortedDict()
            g = ConsumerGroup(name=name, last_id=gid, entries_read=entries_read, pel=pel)
            groups[name] = g
            data = self.data
            for _ in range(load_len()):
                pos = self.pos
                if pos + 16 > len(data):
                    raise self._error("Stream PEL ID loading failed.", len(data))
                rid = _ID.unpack_from(data, pos)
                self.pos = pos + 16
                dtime = self.load_millisecond_time()
                dcount = load_len()
                if rid in pel:
                    raise self._error("Duplicated global PEL entry loading stream consumer group")
                pel[rid] = PendingEntry(b"", dtime, dcount)
            for _ in range(load_len()):
                cname = self.load_string()
                if cname in g.consumers:
                    raise self._error("Duplicate stream consumer detected.")
                seen = self.load_millisecond_time()
                active = (
                    self.load_millisecond_time()
                    if rdb_type >= C.RDB_TYPE_STREAM_LISTPACKS_3
                    else seen
                )
                cpel: SortedDict = SortedDict()
                for _ in range(load_len()):
                    pos = self.pos
                    if pos + 16 > len(data):
                        raise self._error("Stream short read reading PEL streamID.", len(data))
                    rid = _ID.unpack_from(data, pos)
                    self.pos = pos + 16
                    nack = pel.get(rid)
                    if nack is None:
                        raise self._error("Consumer entry not found in group global PEL")
                    if rid in cpel:
                        raise self._error(
                            "Duplicated consumer PEL entry loading a stream consumer group"
                        )
                    nack.consumer = cname
                    cpel[rid] = None
                g.consumers[cname] = Consumer(
                    name=cname, seen_time=seen, active_time=active, pel=cpel
                )
            if deep:
                owned = sum(len(c.pel) for c in g.consumers.values())
                if owned != len(pel):
                    raise self._error("Stream CG PEL entry without consumer")
        return s

    def _stream_node(
        self,
        master: tuple[int, int],
        items: list[bytes | int],
        out: dict[tuple[int, int], list[bytes]],
    ) -> None:
        """Decode one stream listpack (t_stream.c ``streamAppendItem`` layout)."""
        n = len(items)
        count, deleted, nmf = items[0], items[1], items[2]
        if type(count) is not int or type(deleted) is not int or type(nmf) is not int or nmf < 0:
            raise EncodingError("bad master entry")
        if 3 + nmf >= n:
            raise EncodingError("master entry out of range")
        mfields: list[bytes] = [
            b"%d" % f if type(f) is int else f  # type: ignore[misc]
            for f in items[3 : 3 + nmf]
        ]
        if items[3 + nmf] != 0:
            raise EncodingError("master entry not terminated")
        i = 4 + nmf
        mms, mseq = master
        live = dead = 0
        last_id: tuple[int, int] | None = None
        while i < n:
            flags = items[i]
            ms_d = items[i + 1]
            seq_d = items[i + 2]
            if type(flags) is not int or type(ms_d) is not int or type(seq_d) is not int:
                raise EncodingError("bad entry header")
            i += 3
            if flags & C.STREAM_ITEM_FLAG_SAMEFIELDS:
                nf = nmf
                vals = items[i : i + nf]
                if len(vals) != nf:
                    raise EncodingError("entry out of range")
                i += nf
                flat: list[bytes] = []
                for f, v in zip(mfields, vals, strict=True):
                    flat.append(f)
                    flat.append(b"%d" % v if type(v) is int else v)  # type: ignore[arg-type]
                extra = 3
            else:
                nfe = items[i]
                if type(nfe) is not int or nfe < 0:
                    raise EncodingError("bad field count")
                nf = nfe
                if nf < 0:
                    raise EncodingError("bad field count")
                i += 1
                raw = items[i : i + 2 * nf]
                if len(raw) != 2 * nf:
                    raise EncodingError("entry out of range")
                i += 2 * nf
                flat = [b"%d" % x if type(x) is int else x for x in raw]  # type: ignore[misc]
                extra = 4 + nf
            if i >= n:
                raise EncodingError("entry lp-count missing")
            lp_count = items[i]
            i += 1
            if lp_count != nf + extra:
                raise EncodingError("bad lp-count")
            eid = ((mms + ms_d) & _U64_MASK, (mseq + seq_d) & _U64_MASK)
            if last_id is not None and eid <= last_id and self.deep:
                raise EncodingError("entry IDs not increasing")
            last_id = eid
            if flags & C.STREAM_ITEM_FLAG_DELETED:
                dead += 1
                continue
            live += 1
            if eid in out:
                raise EncodingError("duplicate entry ID")
            out[eid] = flat
        if self.deep and (live != count or dead != deleted):
            raise EncodingError("master entry counts mismatch")

    # modules (§11) --------------------------------------------------------------
    def skip_module_opcodes(self) -> None:
        """Skip a module opcode stream up to and including its EOF opcode."""
        load_len = self.load_len
        data = self.data
        while True:
            op = load_len()
            if op == C.RDB_MODULE_OPCODE_EOF:
                return
            if op == C.RDB_MODULE_OPCODE_SINT or op == C.RDB_MODULE_OPCODE_UINT:
                load_len()
            elif op == C.RDB_MODULE_OPCODE_STRING:
                self.load_string()
            elif op == C.RDB_MODULE_OPCODE_FLOAT:
                if self.pos + 4 > len(data):
                    raise self._error("Unexpected EOF reading RDB file", len(data))
                self.pos += 4
            elif op == C.RDB_MODULE_OPCODE_DOUBLE:
                if self.pos + 8 > len(data):
                    raise self._error("Unexpected EOF reading RDB file", len(data))
                self.pos += 8
            else:
                raise self._error("Unknown module opcode %d" % op)

    def _load_module(self, rdb_type: int) -> None:
        if rdb_type == C.RDB_TYPE_MODULE_PRE_GA:
            raise self._error("Pre-release module format not supported")
        module_id = self.load_len()
        name = module_type_name(module_id)
        if not self.skip_modules:
            raise RdbModuleError(
                f"The RDB file contains module data I can't load: no matching module type '{name}'",
                offset=self.pos,
                doing=self.doing,
                key=self.key,
                rdb_type=rdb_type,
            )
        self.skip_module_opcodes()
        self.modules_skipped += 1
        self._warn(f"skipped value of module type '{name}' for key {self.key!r}")
        return None

    # ------------------------------------------------------------ main loop
    def events(self) -> Iterator[Event]:
        """Yield the file's events in order; see the module docstring."""
        try:
            yield from self._events()
        except RdbFormatError:
            raise
        except _PARSE_ERRORS as e:
            raise self._parse_error(e) from None

    def _parse_error(self, e: BaseException) -> RdbFormatError:
        if isinstance(e, (IndexError, struct.error)):
            msg = "Unexpected EOF reading RDB file"
        else:
            msg = f"Corrupt RDB data: {e}"
        return self._error(msg, min(self.pos, len(self.data)))

    def _events(self) -> Iterator[Event]:
        yield self.read_header()
        data = self.data
        last = len(data) - 2
        record = self._record
        while True:
            pos = self.pos
            # Fast path: a string key with a short raw key and value that fit in the
            # buffer; anything else (and every error) goes through _record.
            if pos < last and data[pos] == 0:
                b = data[pos + 1]
                if b < 0x40:
                    kend = pos + 2 + b
                    if kend <= last:
                        b = data[kend]
                        if b < 0x40:
                            end = kend + 1 + b
                            if end <= last + 2:
                                self.pos = end
                                yield Entry(
                                    data[pos + 2 : kend],
                                    data[kend + 1 : end],
                                    self._expire,
                                    self._idle,
                                    self._freq,
                                    0,
                                )
                                self._expire = self._idle = self._freq = None
                                continue
            ev = record()
            if ev is not None:
                yield ev
                if type(ev) is Eof:
                    return

    def _record(self) -> Event | None:
        """Parse the record at ``pos`` (redis ``rdbLoadRioWithLoadingCtx``, one step).

        Returns its event, or None for a per-key prefix opcode (kept until the next key
        in ``_expire`` / ``_idle`` / ``_freq``) and for a key that is skipped.
        """
        data = self.data
        pos = self.pos
        n = len(data)
        if pos >= n:
            self.doing = "read-type"
            raise self._error("Unexpected EOF reading RDB file", n)
        t = data[pos]
        pos += 1
        self.pos = pos
        self.doing = "read-type"
        if t < 0xF3:
            if t not in (_VALKEY_OBJECT_TYPES if self.valkey else _REDIS_OBJECT_TYPES):
                raise self._error("Invalid object type: %d" % t, pos)
            self.doing = "read-key"
            self.key_type = t
            key = self.load_string()
            self.key = key
            self.doing = "read-object-value"
            value = self.load_object(t)
            self.key = None
            self.key_type = None
            expire, idle, freq = self._expire, self._idle, self._freq
            self._expire = self._idle = self._freq = None
            if value is None:
                if t != C.RDB_TYPE_MODULE_2 and t != C.RDB_TYPE_MODULE_PRE_GA:
                    self.empty_keys_skipped += 1
                return None
            return Entry(key, value, expire, idle, freq, t)
        load_string = self.load_string
        load_len = self.load_len
        if t == C.RDB_OPCODE_EXPIRETIME_MS:
            self.doing = "read-expire"
            self._expire = self.load_millisecond_time()
        elif t == C.RDB_OPCODE_SELECTDB:
            self.doing = "read-len"
            return SelectDb(load_len())
        elif t == C.RDB_OPCODE_RESIZEDB:
            self.doing = "read-len"
            a = load_len()
            return ResizeDb(a, load_len())
        elif t == C.RDB_OPCODE_AUX:
            self.doing = "read-aux"
            name = load_string()
            return Aux(name, load_string())
        elif t == C.RDB_OPCODE_EOF:
            return self._eof()
        elif t == C.RDB_OPCODE_EXPIRETIME:
            self.doing = "read-expire"
            self._expire = int(_I32.unpack_from(data, pos)[0]) * 1000
            self.pos = pos + 4
        elif t == C.RDB_OPCODE_IDLE:
            self._idle = load_len()
        elif t == C.RDB_OPCODE_FREQ:
            self._freq = data[pos]
            self.pos = pos + 1
        elif t == C.RDB_OPCODE_FUNCTION2:
            self.doing = "read-functions"
            return Function(load_string())
        elif t == C.RDB_OPCODE_FUNCTION_PRE_GA:
            self.doing = "read-functions"
            if not self.allow_function_pre_ga:
                raise self._error("Pre-release function format not supported %d" % self.version)
            fname = load_string()
            engine = load_string()
            if load_len():
                load_string()  # description: dropped, as redis 7.0 rdbFunctionLoad does
            blob = load_string()
            return Function(b"#!%s name=%s\n%s" % (engine, fname, blob))
        elif t == C.RDB_OPCODE_MODULE_AUX:
            self.doing = "read-module-aux"
            module_id = load_len()
            when_opcode = load_len()
            when = load_len()
            if when_opcode != C.RDB_MODULE_OPCODE_UINT:
                raise self._error("bad when_opcode")
            if not self.skip_modules:
                raise RdbModuleError(
                    "The RDB file contains AUX module data I can't load: "
                    f"no matching module '{module_type_name(module_id)}'",
                    offset=self.pos,
                    doing=self.doing,
                )
            self.skip_module_opcodes()
            return ModuleAux(module_id, module_type_name(module_id), when)
        elif t == C.RDB_OPCODE_SLOT_INFO:
            self.doing = "read-len"
            slot = load_len()
            size = load_len()
            return SlotInfo(slot, size, load_len())
        elif t == C.RDB_OPCODE_SLOT_IMPORT and self.valkey:
            self.doing = "read-len"
            job = load_string()
            ranges = []
            for _ in range(load_len()):
                lo = load_len()
                ranges.append((lo, load_len()))
            return SlotImport(job, ranges)
        else:
            raise self._error("Invalid object type: %d" % t, pos + 1)
        return None

    def _eof(self) -> Eof:
        """The EOF opcode was read: check the CRC64 trailer (version >= 5)."""
        self.doing = "check-sum"
        data = self.data
        n = len(data)
        eof_end = self.pos
        if self.version < 5:
            return Eof(eof_end, None, False)
        if eof_end + 8 > n:
            raise self._error("Unexpected EOF reading RDB file", n)
        stored = int(_U64.unpack_from(data, eof_end)[0])
        self.pos = eof_end + 8
        verified = False
        if stored != 0 and self.verify_checksum:
            # one pass at C speed over the whole image (anycrc)
            expected = crc64(memoryview(data)[:eof_end])
            if expected != stored:
                raise self._error(
                    f"Wrong RDB checksum expected: ({stored:x}) got ({expected:x}). Aborting now.",
                    eof_end,
                )
            verified = True
        return Eof(self.pos, stored, verified)

    # ------------------------------------------------------------ bulk load
    def load_into(
        self,
        select_db: Callable[[int], tuple[dict[bytes, Any], dict[bytes, int]]],
        *,
        now_ms: int | None = None,
        allow_duplicates: bool = False,
        slice_entries: int = 0,
        slice_bytes: int = 0,
        before_insert: Callable[[bytes], None] | None = None,
        duplicate_message: str = "RDB has duplicated key '{key}' in DB {db}",
        pairs: bool = False,
        on_access: Callable[[bytes, int | None, int | None], None] | None = None,
    ) -> Iterator[Event | Progress]:
        """Load the whole file with the keys going straight into dicts (no ``Entry``).

        Yields the events of :meth:`events` except ``Entry``: each key is stored in the
        first dict ``select_db(db)`` returned for the current DB (called on SELECTDB,
        before the ``SelectDb`` event is yielded, and with 0 for keys before any
        SELECTDB), its expire (ms) in the second one. A key's LRU/LFU prefix (IDLE
        seconds, FREQ counter) goes to ``on_access(key, idle, freq)`` after the key is
        stored, or is dropped without ``on_access``.

        * ``now_ms``: keys whose expire is before it are dropped (``keys_expired``);
          None keeps every key. Loaded keys are counted in ``keys_loaded``.
        * A key already in the dict raises ``RdbFormatError`` (``duplicate_message``
          formatted with ``key`` and ``db``) unless ``allow_duplicates``: then the old
          key and its expire are replaced.
        * ``before_insert(key)`` is called before each key is stored (not for dropped
          ones).
        * ``pairs``: store ``(value, expire_ms or None)`` in the first dict instead
          (the second one is not used), the layout of :attr:`RdbFile.dbs`.
        * ``slice_entries`` > 0: a :class:`Progress` is yielded after every that many
          keys (loaded or dropped), so an async caller can let others run;
          ``slice_bytes`` > 0: also once a key ends that many bytes after the last one
          (big values; Redis ``loading-process-events-interval-bytes``).

        Runs of plain string keys (optionally with an EXPIRETIME_MS prefix) take an
        inlined loop; any other record, any anomaly in such a run (short buffer, bad
        encoding, duplicate key) and every error goes through the same per-record path
        as :meth:`events`, so results and errors (offsets, context) are the same.
        """
        try:
            yield from self._load_into(
                select_db,
                now_ms,
                allow_duplicates,
                slice_entries,
                slice_bytes,
                before_insert,
                duplicate_message,
                pairs,
                on_access,
            )
        except RdbFormatError:
            raise
        except _PARSE_ERRORS as e:
            raise self._parse_error(e) from None

    def _load_into(
        self,
        select_db: Callable[[int], tuple[dict[bytes, Any], dict[bytes, int]]],
        now_ms: int | None,
        allow_duplicates: bool,
        slice_entries: int,
        slice_bytes: int,
        before_insert: Callable[[bytes], None] | None,
        duplicate_message: str,
        pairs: bool,
        on_access: Callable[[bytes, int | None, int | None], None] | None,
    ) -> Iterator[Event | Progress]:
        yield self.read_header()
        data = self.data
        n = len(data)
        # expires are int64: nothing is below this when every key is kept
        cutoff = now_ms if now_ms is not None else -(1 << 64)
        slice_n = slice_entries if slice_entries > 0 else 1 << 62
        left = slice_n  # entries until the next Progress
        step = slice_bytes if slice_bytes > 0 else 1 << 62
        next_at = self.pos + step  # or the first key that ends past this offset
        tdata: dict[bytes, Any] | None = None
        texp: dict[bytes, int] = {}
        dbid = 0
        loaded = expired = 0
        record = self._record
        load_string = self.load_string
        unpack_q = _I64.unpack_from
        fast = before_insert is None
        fast_errors = _FAST_ERRORS
        pos = self.pos
        while True:
            if (
                fast
                and tdata is not None
                and self._expire is None
                and self._idle is None
                and self._freq is None
            ):
                # ---- a run of string keys, no events, no per-key method calls. An
                # entry is committed only once it fully parsed; on anything unusual
                # pos goes back to its start and _record below takes over.
                start = pos
                try:
                    while True:
                        start = pos
                        t = data[pos]
                        exp = None
                        if t == 0xFC:  # RDB_OPCODE_EXPIRETIME_MS
                            exp = unpack_q(data, pos + 1)[0]
                            pos += 9
                            t = data[pos]
                        if t != 0:
                            break
                        b = data[pos + 1]
                        if b < 0x40:
                            kend = pos + 2 + b
                            key = data[pos + 2 : kend]
                        else:
                            self.pos = pos + 1
                            key = load_string()
                            kend = self.pos
                        b = data[kend]
                        if b < 0x40:
                            pos = kend + 1 + b
                            if pos > n:
                                break
                            value = data[kend + 1 : pos]
                        elif b < 0x80:
                            pos = kend + 2 + (((b & 0x3F) << 8) | data[kend + 1])
                            if pos > n:
                                break
                            value = data[kend + 2 : pos]
                        else:
                            self.pos = kend
                            value = load_string()
                            pos = self.pos
                            if pos >= next_at:
                                left = 1  # a big value: Progress after this key
                        if exp is None:
                            if key in tdata:
                                break
                            tdata[key] = (value, None) if pairs else value
                            loaded += 1
                        elif exp < cutoff:
                            expired += 1
                        else:
                            if key in tdata:
                                break
                            if pairs:
                                tdata[key] = (value, exp)
                            else:
                                tdata[key] = value
                                texp[key] = exp
                            loaded += 1
                        left -= 1
                        if not left:
                            left = slice_n
                            next_at = pos + step
                            self.pos = pos
                            self.keys_loaded = loaded
                            self.keys_expired = expired
                            yield Progress(pos, loaded + expired)
                except fast_errors:
                    pass
                pos = start
            # ---- one record, with full checks and error context
            self.pos = pos
            self.keys_loaded = loaded
            self.keys_expired = expired
            ev = record()
            pos = self.pos
            if ev is None:
                continue
            if type(ev) is Entry:
                if tdata is None:
                    tdata, texp = select_db(0)
                exp = ev.expire_ms
                if exp is not None and exp < cutoff:
                    expired += 1
                else:
                    key = ev.key
                    if before_insert is not None:
                        before_insert(key)
                    if key in tdata:
                        if not allow_duplicates:
                            raise RdbFormatError(
                                duplicate_message.format(
                                    key=key.decode("utf-8", "replace"), db=dbid
                                ),
                                offset=pos,
                                doing="read-object-value",
                                key=key,
                                rdb_type=ev.rdb_type,
                            )
                        del tdata[key]
                        texp.pop(key, None)
                    if pairs:
                        tdata[key] = (ev.value, exp)
                    else:
                        tdata[key] = ev.value
                        if exp is not None:
                            texp[key] = exp
                    if on_access is not None and (
                        ev.lru_idle is not None or ev.lfu_freq is not None
                    ):
                        on_access(key, ev.lru_idle, ev.lfu_freq)
                    loaded += 1
                left -= 1
                if not left or pos >= next_at:
                    left = slice_n
                    next_at = pos + step
                    self.keys_loaded = loaded
                    self.keys_expired = expired
                    yield Progress(pos, loaded + expired)
                continue
            if type(ev) is SelectDb:
                dbid = ev.db
                tdata, texp = select_db(dbid)
            self.keys_loaded = loaded
            self.keys_expired = expired
            yield ev
            if type(ev) is Eof:
                return


def _estimate_distance(s: Stream, length: int, gid: tuple[int, int]) -> int:
    """t_stream.c ``streamEstimateDistanceFromFirstEverEntry`` (for type-15 groups)."""
    if not s.entries_added:
        return 0
    if not length and gid <= s.last_id:
        return s.entries_added
    if gid == s.last_id:
        return s.entries_added
    if gid > s.last_id:
        return -1
    if s.max_deleted_id == (0, 0) or s.max_deleted_id < s.first_id:
        if gid < s.first_id:
            return s.entries_added - length
        if gid == s.first_id:
            return s.entries_added - length + 1
    return -1


_LOADERS: dict[int, Callable[[RdbReader, int], Any]] = {
    C.RDB_TYPE_LIST: RdbReader._load_list,
    C.RDB_TYPE_SET: RdbReader._load_set,
    C.RDB_TYPE_ZSET: RdbReader._load_zset,
    C.RDB_TYPE_HASH: RdbReader._load_hash,
    C.RDB_TYPE_ZSET_2: RdbReader._load_zset,
    C.RDB_TYPE_MODULE_PRE_GA: RdbReader._load_module,
    C.RDB_TYPE_MODULE_2: RdbReader._load_module,
    C.RDB_TYPE_HASH_ZIPMAP: RdbReader._load_hash_zipmap,
    C.RDB_TYPE_LIST_ZIPLIST: RdbReader._load_list_ziplist,
    C.RDB_TYPE_SET_INTSET: RdbReader._load_set_intset,
    C.RDB_TYPE_ZSET_ZIPLIST: RdbReader._load_zset_ziplist,
    C.RDB_TYPE_HASH_ZIPLIST: RdbReader._load_hash_ziplist,
    C.RDB_TYPE_LIST_QUICKLIST: RdbReader._load_quicklist,
    C.RDB_TYPE_STREAM_LISTPACKS: RdbReader._load_stream,
    C.RDB_TYPE_HASH_LISTPACK: RdbReader._load_hash_listpack,
    C.RDB_TYPE_ZSET_LISTPACK: RdbReader._load_zset_listpack,
    C.RDB_TYPE_LIST_QUICKLIST_2: RdbReader._load_quicklist,
    C.RDB_TYPE_STREAM_LISTPACKS_2: RdbReader._load_stream,
    C.RDB_TYPE_SET_LISTPACK: RdbReader._load_set_listpack,
    C.RDB_TYPE_STREAM_LISTPACKS_3: RdbReader._load_stream,
    C.RDB_TYPE_HASH_METADATA_PRE_GA: RdbReader._load_hash_metadata,
    C.RDB_TYPE_HASH_LISTPACK_EX_PRE_GA: RdbReader._load_hash_listpack_ex,
    C.RDB_TYPE_HASH_METADATA: RdbReader._load_hash_metadata,
    C.RDB_TYPE_HASH_LISTPACK_EX: RdbReader._load_hash_listpack_ex,
}


# ------------------------------------------------------------ fast value loaders
# Used by RdbReader.load_object before the careful loaders above: the same values at
# fewer Python operations per element (inlined string reads, bulk dict/list builds).
# They only ever return a correct value or _FALLBACK; on _FALLBACK or any parse error
# the reader rewinds and the careful loader runs, so every error (message, offset,
# context) comes from one place.
#
# The innermost kernels (_raw_strings, _raw_scored, _lp_short_strings) handle the
# commonest encoding only (a 6-bit length then the bytes). They walk the length bytes
# alone: per element one comprehension step looks up the element's size in a table and
# its struct format ("<len + 1>p": a length byte then the bytes is exactly struct's
# Pascal string; a listpack encoding byte 0x80 | len is clipped to the field's len); ONE
# struct unpack then cuts every element out at C speed: no per-element slice or call in
# Python. Any other encoding byte has size 0 and the format _OTHER, so the walk ends
# with a TypeError and a general loop redoes the value. (Sizes are plain ints, not None
# for the others, so that the compiled build adds them natively.)
_FALLBACK: Any = object()
_UINT7 = [b"%d" % i for i in range(128)]
_OTHER: Final = "\x00"  # not a struct format: marks an element in another encoding
# ZSET_2 element: 6-bit length byte, member, binary double.
_ZSET2_STEP: Final[list[int]] = [i + 9 if i < 0x40 else 0 for i in range(256)]
_ZSET2_FMT: Final = [f"{i + 1}pd" if i < 0x40 else _OTHER for i in range(256)]
# a string with a 6-bit length byte (RDB_6BITLEN)
_RAW6_STEP: Final[list[int]] = [i + 1 if i < 0x40 else 0 for i in range(256)]
_RAW6_FMT: Final = [f"{i + 1}p" if i < 0x40 else _OTHER for i in range(256)]
# listpack 6-bit string: encoding byte, the bytes, one-byte backlen
_LP6_STEP: Final[list[int]] = [i - 126 if 0x80 <= i < 0xC0 else 0 for i in range(256)]
_LP6_FMT: Final = [f"{(i & 0x3F) + 1}px" if 0x80 <= i < 0xC0 else _OTHER for i in range(256)]
_STRUCT_CHUNK = 4096  # elements per struct (bounds the size of a compiled format)
_LP_RUN_MIN = 32  # equal-length listpack entries below this are walked instead
_BYTE = [bytes((i,)) for i in range(256)]


def _walk_unpack(
    data: bytes, pos: int, k: int, step: list[int], fr: list[str]
) -> tuple[tuple[Any, ...], int]:
    """Cut ``k`` entries from ``pos`` with ONE struct unpack: a comprehension walks only
    the encoding bytes (``step[b]``: the entry's size) and picks each entry's format
    (``fr[b]``). Returns the unpacked values and the position after the entries;
    ``TypeError`` if an entry is in an encoding the kernel does not handle (size 0,
    format ``_OTHER``), ``struct.error`` / ``IndexError`` when the buffer is short."""
    start = pos
    # pos > 0 (past a header) and steps are >= 0, so the condition (there to advance
    # pos) is always true
    fmt = "".join([fr[b] for _ in repeat(None, k) if (pos := pos + step[(b := data[pos])])])
    if _OTHER in fmt:
        raise TypeError("another encoding")
    return struct.Struct("<" + fmt).unpack_from(data, start), pos


def _raw_strings(data: bytes, pos: int, count: int) -> tuple[Sequence[bytes], int]:
    """``count`` strings with a 6-bit length byte from ``pos``.

    ``TypeError`` at the first string in another encoding; ``struct.error`` /
    ``IndexError`` when the buffer is short.
    """
    out: list[bytes] = []
    while count > 0:
        k = count if count <= _STRUCT_CHUNK else _STRUCT_CHUNK
        count -= k
        t, pos = _walk_unpack(data, pos, k, _RAW6_STEP, _RAW6_FMT)
        if not count and not out:
            return t, pos
        out += t
    return out, pos


def _raw_scored(data: bytes, pos: int, count: int) -> tuple[list[Any], list[Any], int]:
    """ZSET_2 members (6-bit raw) and their binary double scores, in file order.

    ``TypeError`` at the first member in another encoding; ``struct.error`` /
    ``IndexError`` when the buffer is short.
    """
    members: list[Any] = []
    scores: list[Any] = []
    while count > 0:
        k = count if count <= _STRUCT_CHUNK else _STRUCT_CHUNK
        count -= k
        t, pos = _walk_unpack(data, pos, k, _ZSET2_STEP, _ZSET2_FMT)
        members += t[0::2]
        scores += t[1::2]
    return members, scores, pos


def _lp_short_strings(blob: bytes, count: int) -> tuple[Sequence[bytes], int]:
    """The ``count`` entries of a listpack that holds only 6-bit strings.

    Entries of one length sit at a fixed stride, so a run of them needs no walk: its
    encoding bytes are ``blob[p::stride]`` (one C-level slice + ``lstrip`` measures the
    run) and one struct unpack cuts it out. Runs shorter than ``_LP_RUN_MIN`` are not
    worth it: from the first one on, the entries are walked one by one.
    ``TypeError`` at the first entry in another encoding, ``IndexError`` or
    ``struct.error`` when the entries overrun the blob; the caller checks that they
    end at its terminator.
    """
    fr = _LP6_FMT
    p = 6
    out: list[bytes] = []
    left = count
    while left >= _LP_RUN_MIN:
        h = blob[p]
        if not 0x80 <= h < 0xC0:
            break
        stride = (h & 0x3F) + 2
        heads = blob[p : p + left * stride : stride]
        run = len(heads) - len(heads.lstrip(_BYTE[h]))
        if run < _LP_RUN_MIN:
            break
        out += struct.Struct("<" + fr[h] * run).unpack_from(blob, p)
        p += run * stride
        left -= run
    if not left:
        return out, p
    rest, p = _walk_unpack(blob, p, left, _LP6_STEP, fr)
    if not out:
        return rest, p
    out += rest
    return out, p


def _fast_strings(r: RdbReader, count: int) -> Sequence[bytes]:
    """``count`` strings from ``r.pos`` (``IndexError`` when the buffer is short)."""
    data = r.data
    try:
        raw, pos = _raw_strings(data, r.pos, count)  # unpack_from checks the bounds
    except TypeError:
        pass
    else:
        r.pos = pos
        return raw
    pos = r.pos
    load_string = r.load_string
    out: list[bytes] = []
    append = out.append
    for _ in repeat(None, count):
        b = data[pos]
        if b < 0x40:
            end = pos + 1 + b
            append(data[pos + 1 : end])
            pos = end
        elif b < 0x80:
            start = pos + 2
            pos = start + (((b & 0x3F) << 8) | data[pos + 1])
            append(data[start:pos])
        else:
            r.pos = pos
            append(load_string())
            pos = r.pos
    if pos > len(data):
        raise IndexError
    r.pos = pos
    return out


def _lp_fast(blob: bytes, ints_as_bytes: bool) -> Sequence[Any] | None:
    """The elements of a listpack made of small strings and small ints only.

    None for anything else (other encodings, any inconsistency): the caller then uses
    ``lp_decode``, which decodes everything and reports errors.
    """
    size = len(blob)
    if size < 7 or blob[size - 1] != 0xFF:
        return None
    total, count = _LP_HDR.unpack_from(blob, 0)
    if total != size:
        return None
    last = size - 1
    if count != 65535:
        try:
            items, p = _lp_short_strings(blob, count)
        except (TypeError, IndexError, struct.error):
            pass
        else:
            return items if p == last else None
    out: list[Any] = []
    append = out.append
    uint7 = _UINT7
    p = 6
    while p < last:
        b = blob[p]
        if b < 0x80:  # 7-bit uint
            append(uint7[b] if ints_as_bytes else b)
            p += 2
        elif b < 0xC0:  # 6-bit length string (+ 1-byte backlen)
            end = p + 1 + (b & 0x3F)
            append(blob[p + 1 : end])
            p = end + 1
        elif b < 0xE0:  # 13-bit int
            v = ((b & 0x1F) << 8) | blob[p + 1]
            if v >= 4096:
                v -= 8192
            append(b"%d" % v if ints_as_bytes else v)
            p += 3
        elif b < 0xF0:  # 12-bit length string
            ln = 2 + (((b & 0x0F) << 8) | blob[p + 1])
            append(blob[p + 2 : p + ln])
            p += ln + (1 if ln <= 127 else 2)
        else:
            return None
    if p != last or (count != 65535 and count != len(out)):
        return None
    return out


def _fast_list(r: RdbReader) -> Any:
    n = r.load_len()
    if n == 0:
        return None
    return deque(_fast_strings(r, n))


def _fast_set(r: RdbReader) -> Any:
    n = r.load_len()
    if n == 0:
        return None
    out = set(_fast_strings(r, n))
    return out if len(out) == n else _FALLBACK


def _fast_hash(r: RdbReader) -> Any:
    n = r.load_len()
    if n == 0:
        return None
    it = iter(_fast_strings(r, 2 * n))
    out = dict(zip(it, it, strict=True))
    return out if len(out) == n else _FALLBACK


def _fast_zset_2(r: RdbReader) -> Any:
    n = r.load_len()
    if n == 0:
        return None
    data = r.data
    try:
        members, values, pos = _raw_scored(data, r.pos, n)  # unpack_from checks the bounds
    except TypeError:
        pos = r.pos
        load_string = r.load_string
        unpack_d = _F64.unpack_from
        members = []
        values = []
        for _ in repeat(None, n):
            b = data[pos]
            if b < 0x40:
                end = pos + 1 + b
                members.append(data[pos + 1 : end])
                pos = end
            else:
                r.pos = pos
                members.append(load_string())
                pos = r.pos
            values.append(unpack_d(data, pos)[0])
            pos += 8
    scores = dict(zip(members, values, strict=True))
    if len(scores) != n:
        return _FALLBACK  # duplicates: the careful loader reports them
    total = sum(values)  # NaN if there is a NaN (or both infinities)
    if total != total and any(map(math.isnan, values)):
        return _FALLBACK
    r.pos = pos
    z = ZSet()
    z.scores = scores
    # rdbSaveObject writes the skiplist from its tail: reversed, the pairs are sorted
    # already and SortedList.update's sort is one linear pass
    pairs = list(zip(values, members, strict=True))
    pairs.reverse()
    z.index.update(pairs)
    return z


def _fast_quicklist_2(r: RdbReader) -> Any:
    if r.deep:
        return _FALLBACK
    nodes = r.load_len()
    if nodes == 0:
        return None
    out: deque[bytes] = deque()
    load_len = r.load_len
    load_string = r.load_string
    for _ in repeat(None, nodes):
        container = load_len()
        blob = load_string()
        if not blob:
            return _FALLBACK
        if container == C.QUICKLIST_NODE_CONTAINER_PACKED:
            items = _lp_fast(blob, True)
            if items is None:
                return _FALLBACK
            out.extend(items)
        elif container == C.QUICKLIST_NODE_CONTAINER_PLAIN:
            out.append(blob)
        else:
            return _FALLBACK
    return out if out else None


def _fast_set_listpack(r: RdbReader) -> Any:
    if r.deep:
        return _FALLBACK
    items = _lp_fast(r.load_string(), True)
    if not items:
        return _FALLBACK
    out = set(items)
    return out if len(out) == len(items) else _FALLBACK


def _fast_hash_listpack(r: RdbReader) -> Any:
    if r.deep:
        return _FALLBACK
    items = _lp_fast(r.load_string(), True)
    if not items or len(items) & 1:
        return _FALLBACK
    it = iter(items)
    out = dict(zip(it, it, strict=True))
    return out if len(out) * 2 == len(items) else _FALLBACK


def _fast_zset_listpack(r: RdbReader) -> Any:
    if r.deep:
        return _FALLBACK
    items = _lp_fast(r.load_string(), False)
    if not items or len(items) & 1:
        return _FALLBACK
    members = list(items[0::2])
    for i, m in enumerate(members):
        if type(m) is int:
            members[i] = b"%d" % m
    try:
        # listpack scores are ints or strtod text (ints go through float() too)
        scores = dict(zip(members, map(float, items[1::2]), strict=True))
    except ValueError:
        return _FALLBACK
    if len(scores) != len(members) or any(map(math.isnan, scores.values())):
        return _FALLBACK
    z = ZSet()
    z.scores = scores
    z.index.update(zip(scores.values(), scores.keys(), strict=True))
    return z


_FAST_LOADERS: dict[int, Callable[[RdbReader], Any]] = {
    C.RDB_TYPE_LIST: _fast_list,
    C.RDB_TYPE_SET: _fast_set,
    C.RDB_TYPE_HASH: _fast_hash,
    C.RDB_TYPE_ZSET_2: _fast_zset_2,
    C.RDB_TYPE_LIST_QUICKLIST_2: _fast_quicklist_2,
    C.RDB_TYPE_SET_LISTPACK: _fast_set_listpack,
    C.RDB_TYPE_HASH_LISTPACK: _fast_hash_listpack,
    C.RDB_TYPE_ZSET_LISTPACK: _fast_zset_listpack,
}


# ------------------------------------------------------------------ conveniences
@dataclass(slots=True)
class RdbFile:
    """Everything :func:`load_rdb` found in a file."""

    version: int
    valkey: bool = False
    aux: dict[bytes, bytes] = field(default_factory=dict)
    functions: list[bytes] = field(default_factory=list)
    module_aux: list[ModuleAux] = field(default_factory=list)
    dbs: dict[int, dict[bytes, tuple[Any, int | None]]] = field(default_factory=dict)
    end_offset: int = 0
    checksum: int | None = None
    checksum_verified: bool = False
    expired_skipped: int = 0
    empty_keys_skipped: int = 0


def settle_gc(was_enabled: bool) -> None:
    """Re-enable the GC after a bulk load, with what was loaded in the oldest generation.

    The loaded values are long-lived by nature; left in generation 0 (the GC was off
    while they were made), the first collection after the load would traverse all of
    them (every zset index tuple, every list: ~10% of the load time). A freeze +
    unfreeze moves every tracked object to the oldest generation in O(1): they are
    then traversed by full collections only, as survivors would be. Skipped when
    something else froze objects (the unfreeze would undo that).
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
    if was_enabled:
        gc.enable()


def load_rdb(
    data: bytes | bytearray | memoryview,
    *,
    verify_checksum: bool = True,
    deep_sanitize: bool = False,
    skip_modules: bool = False,
    on_warning: Callable[[str], None] | None = None,
    allow_function_pre_ga: bool = True,
    now_ms: int | None = None,
    allow_duplicates: bool = False,
) -> RdbFile:
    """Decode a whole RDB (the file may continue after it, e.g. an AOF preamble).

    ``now_ms``: drop keys whose expire is before it, as a Redis master does on load;
    ``None`` keeps every key (AOF preamble / replica behaviour). Duplicate keys in a
    DB raise ``RdbFormatError`` ("Duplicate key"), as Redis aborts on them, unless
    ``allow_duplicates`` (redis ``RDBFLAGS_ALLOW_DUP``: the later record replaces it).
    """
    r = RdbReader(
        data,
        verify_checksum=verify_checksum,
        deep_sanitize=deep_sanitize,
        skip_modules=skip_modules,
        on_warning=on_warning,
        allow_function_pre_ga=allow_function_pre_ga,
    )
    out = RdbFile(version=0)
    dbs = out.dbs
    unused: dict[bytes, int] = {}

    def select_db(dbid: int) -> tuple[dict[bytes, Any], dict[bytes, int]]:
        db = dbs.get(dbid)
        if db is None:
            db = dbs[dbid] = {}
        return db, unused

    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of new acyclic objects: skip the useless collections
    try:
        for ev in r.load_into(
            select_db,
            now_ms=now_ms,
            allow_duplicates=allow_duplicates,
            duplicate_message="Duplicate key '{key}' found in RDB file",
            pairs=True,
        ):
            t = type(ev)
            if t is Aux:
                out.aux[ev.name] = ev.value  # type: ignore[union-attr]
            elif t is Function:
                out.functions.append(ev.code)  # type: ignore[union-attr]
            elif t is ModuleAux:
                out.module_aux.append(ev)  # type: ignore[arg-type]
            elif t is Header:
                out.version = ev.version  # type: ignore[union-attr]
                out.valkey = ev.valkey  # type: ignore[union-attr]
            elif t is Eof:
                out.end_offset = ev.end_offset  # type: ignore[union-attr]
                out.checksum = ev.checksum  # type: ignore[union-attr]
                out.checksum_verified = ev.checksum_verified  # type: ignore[union-attr]
    finally:
        settle_gc(gc_was_enabled)
    out.expired_skipped = r.keys_expired
    out.empty_keys_skipped = r.empty_keys_skipped
    return out


def load_object(
    rdb_type: int,
    data: bytes | bytearray | memoryview,
    offset: int = 0,
    *,
    version: int = C.RDB_MAX_READ_VERSION,
    valkey: bool = False,
    deep_sanitize: bool = False,
) -> tuple[Any, int]:
    """Decode one value of ``rdb_type`` starting at ``offset`` (DUMP/RESTORE).

    Returns ``(value, end_offset)``. Empty collections and module values raise
    ``RdbFormatError`` (RESTORE answers "Bad data format" for them).
    """
    r = RdbReader(data, deep_sanitize=deep_sanitize)
    r.version = version
    r.valkey = valkey
    r.pos = offset
    r.doing = "read-object-value"
    r.key_type = rdb_type
    valid = _VALKEY_OBJECT_TYPES if valkey else _REDIS_OBJECT_TYPES
    if rdb_type not in valid:
        raise r._error("Unknown RDB encoding type %d" % rdb_type, offset)
    try:
        value = r.load_object(rdb_type)
    except RdbFormatError:
        raise
    except _PARSE_ERRORS as e:
        if isinstance(e, (IndexError, struct.error)):
            msg = "Unexpected EOF reading RDB value"
        else:
            msg = f"Corrupt RDB value: {e}"
        raise r._error(msg, min(r.pos, len(r.data))) from None
    if value is None:
        raise r._error("Empty keys are not allowed", offset)
    return value, r.pos
