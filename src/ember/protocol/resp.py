"""RESP2/RESP3: request parsing (hiredis) and reply encoding. Bytes in, bytes out.

Reply values handlers may return, and how they are written:

===================  =======================  ==========================
Python value         RESP2                    RESP3
===================  =======================  ==========================
bytes / bytearray    ``$len`` bulk            same
int (not bool)       ``:n``                   same
None                 ``$-1`` null bulk        ``_``
list / tuple         ``*n`` array             same
Status               ``+text``                same
CommandError         ``-text``                same
float                bulk (``%.17g`` rules)   ``,double``
dict                 flat array               ``%n`` map
set / frozenset      array                    ``~n`` set
RSet (ordered set)   array                    ``~n`` set
bool                 ``:1`` / ``:0``          ``#t`` / ``#f``
NULL_ARRAY           ``*-1``                  ``_``
Verbatim             bulk                     ``=len\\r\\ntxt:...``
Push                 array                    ``>n`` push
BigNumber            bulk                     ``(n``
Raw                  bytes as they are        same
===================  =======================  ==========================
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Final

import hiredis

from ember import is_compiled
from ember.errors import CommandError


class Status:
    __slots__ = ("text", "encoded")

    def __init__(self, text: str | bytes) -> None:
        self.text = text.encode() if isinstance(text, str) else text
        self.encoded = b"+" + self.text + b"\r\n"


class Raw:
    """Pre-encoded reply bytes (valid in both protocols)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class Verbatim:
    __slots__ = ("text", "fmt")

    def __init__(self, text: bytes, fmt: bytes = b"txt") -> None:
        self.text = text
        self.fmt = fmt


class Push:
    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        self.items = items


class BigNumber:
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


class RSet(list):  # type: ignore[type-arg]
    """A set reply whose element order is fixed: RESP3 ``~n``, RESP2 ``*n``."""

    __slots__ = ()


class _NullArray:
    __slots__ = ()


NULL_ARRAY: Final = _NullArray()
OK: Final = Status("OK")
QUEUED: Final = Status("QUEUED")
PONG: Final = Status("PONG")

# pre-encoded small integers and bulk length headers for the hot path
_INTS: Final = [b":%d\r\n" % i for i in range(-1, 1024)]
_BULK_HDR: Final = [b"$%d\r\n" % i for i in range(1024)]
_ARR_HDR: Final = [b"*%d\r\n" % i for i in range(1024)]


def format_double(value: float) -> bytes:
    """Redis's reply text for a double (``addReplyDouble`` in RESP2: ``%.17g``)."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if math.isnan(value):
        return b"nan"
    text = b"%.17g" % value
    return text


def format_double_human(value: float) -> bytes:
    """Shortest text that reads back to the same double (Redis 7 ``%.17Lg`` trimmed forms).

    Used for INCRBYFLOAT / HINCRBYFLOAT results, which Redis prints with ``%.17Lf`` and
    trailing zeros removed (long double); the shortest repr is the closest Python equivalent.
    """
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if value == int(value) and abs(value) < 1e17:
        return b"%d" % int(value)
    r = repr(value)
    if "e" in r or "E" in r:
        r = f"{value:.17f}".rstrip("0").rstrip(".")
    return r.encode()


def encode(reply: Any, resp3: bool) -> bytes:
    out: list[bytes] = []
    _encode_into(reply, out, resp3)
    return b"".join(out)


def _encode_into(reply: Any, out: list[bytes], resp3: bool) -> None:
    t = type(reply)
    if t is bytes or t is bytearray:
        n = len(reply)
        out.append(_BULK_HDR[n] if n < 1024 else b"$%d\r\n" % n)
        out.append(reply)
        out.append(b"\r\n")
    elif t is Status:
        out.append(reply.encoded)
    elif t is int:
        out.append(encode_int(reply))
    elif reply is None:
        out.append(b"_\r\n" if resp3 else b"$-1\r\n")
    elif t is list or t is tuple:
        n = len(reply)
        body = encode_bulk_strings(reply, b"*%d" % n) if n > 2 else None
        if body is not None:
            out.append(body)
            return
        out.append(_ARR_HDR[n] if n < 1024 else b"*%d\r\n" % n)
        for item in reply:
            _encode_into(item, out, resp3)
    elif t is CommandError:
        out.append(_error_line(reply.message))
    elif t is Raw:
        out.append(reply.data)
    elif t is float:
        if resp3:
            out.append(b"," + format_double(reply) + b"\r\n")
        else:
            _encode_into(format_double(reply), out, resp3)
    elif t is bool:
        if resp3:
            out.append(b"#t\r\n" if reply else b"#f\r\n")
        else:
            out.append(b":1\r\n" if reply else b":0\r\n")
    elif t is dict:
        out.append((b"%%%d\r\n" if resp3 else b"*%d\r\n") % (len(reply) * (1 if resp3 else 2)))
        for k, v in reply.items():
            _encode_into(k, out, resp3)
            _encode_into(v, out, resp3)
    elif t is set or t is frozenset:
        out.append((b"~%d\r\n" if resp3 else b"*%d\r\n") % len(reply))
        for item in reply:
            _encode_into(item, out, resp3)
    elif reply is NULL_ARRAY:
        out.append(b"_\r\n" if resp3 else b"*-1\r\n")
    elif t is Verbatim:
        if resp3:
            body = reply.fmt + b":" + reply.text
            out.append(b"=%d\r\n" % len(body) + body + b"\r\n")
        else:
            _encode_into(reply.text, out, resp3)
    elif t is Push:
        out.append((b">%d\r\n" if resp3 else b"*%d\r\n") % len(reply.items))
        for item in reply.items:
            _encode_into(item, out, resp3)
    elif t is BigNumber:
        if resp3:
            out.append(b"(%d\r\n" % reply.value)
        else:
            _encode_into(b"%d" % reply.value, out, resp3)
    elif t is RSet:
        out.append((b"~%d\r\n" if resp3 else b"*%d\r\n") % len(reply))
        for item in reply:
            _encode_into(item, out, resp3)
    elif isinstance(reply, CommandError):
        out.append(_error_line(reply.message))
    else:
        raise TypeError(f"cannot encode reply of type {t!r}")


def encode_int(value: int) -> bytes:
    """``:<value>\\r\\n``, pre-encoded from -1 to 1022."""
    return _INTS[value + 1] if -1 <= value < 1023 else b":%d\r\n" % value


def encode_bulk_strings(items: Sequence[Any], head: bytes) -> bytes | None:
    """``head`` (an array header without its CRLF, e.g. ``*3``), CRLF, then
    ``$<len>\\r\\n<item>\\r\\n`` for every item, in one join; or None unless every item is
    a bulk string (``bytes``; interpreted, any bytes-like) shorter than 16 KiB.

    Headers and payloads are interleaved and joined by CRLF (a last empty part gives the
    final one): an array of bulk strings (LRANGE, MGET hits, HGETALL...) is one copy.
    Interpreted, ``map`` fills the headers with no Python-level loop; compiled, a plain
    loop is twice as fast as the ``map`` chain.
    """
    try:
        parts: list[bytes] = [b""] * (2 * len(items) + 2)
        parts[0] = head
        if _COMPILED:
            lens = _BULK_LENS
            i = 1
            for item in items:
                parts[i] = lens[len(item)]
                parts[i + 1] = item
                i += 2
        else:
            parts[1:-1:2] = map(_BULK_LEN, map(len, items))
            parts[2:-1:2] = items
        return b"\r\n".join(parts)
    except (TypeError, IndexError):  # an int, None, nested array...; or a long item
        return None


def _error_line(message: str) -> bytes:
    """``-message\\r\\n``; CR/LF inside the message (user input echoed back) become
    spaces like Redis's addReplyErrorFormat, so the reply stays one protocol line."""
    data = message.encode("utf-8", "surrogateescape")
    if ord("\r") in data or ord("\n") in data:
        data = data.replace(b"\r", b" ").replace(b"\n", b" ")
    return b"-" + data + b"\r\n"


# --------------------------------------------------------------------------- requests
#
# The request parser follows ``processInlineBuffer`` / ``processMultibulkBuffer`` of Redis
# 7.0 byte for byte, because clients see its edge cases as error replies:
#
# * a request starting with ``*`` is multibulk, anything else is an inline command;
# * length lines end at the first ``\r`` (the byte after it is skipped unchecked) and
#   are parsed with ``string2ll`` rules (no ``+``, no leading zeros, no spaces);
# * ``*0`` / ``*-5`` are consumed and ignored; counts above INT_MAX are invalid;
# * a bulk's payload is followed by two bytes that are skipped without looking at them;
# * the C code searches lines with ``strchr``, so a NUL byte before the line end means
#   "no line end yet" (the request waits, until the 64 KiB line limit is hit);
# * for a client that still has to authenticate, multibulk counts above 10 and bulk
#   lengths above 16384 are refused.

INLINE_MAX: Final = 64 * 1024  # PROTO_INLINE_MAX_SIZE
BIG_ARG: Final = 32 * 1024  # PROTO_MBULK_BIG_ARG: from this size a bulk is collected in chunks
INT_MAX: Final = (1 << 31) - 1
_LLONG_MIN: Final = -(1 << 63)
_LLONG_MAX: Final = (1 << 63) - 1
_SPACE: Final = b" \t\n\r\x0b\x0c"
_SMALL_LL: Final = {b"%d" % i: i for i in range(-1, 4096)}


def string2ll(s: bytes) -> int | None:
    """Redis ``string2ll``: the integer, or None if ``s`` is not a canonical long long."""
    v = _SMALL_LL.get(s)
    if v is not None:
        return v
    if not s or len(s) >= 21:
        return None
    try:
        v = int(s)
    except ValueError:
        return None
    if b"%d" % v != s or v < _LLONG_MIN or v > _LLONG_MAX:
        return None
    return v


_ESCAPES: Final = {0x6E: 10, 0x72: 13, 0x74: 9, 0x62: 8, 0x61: 7}
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")


def split_args(line: bytes) -> list[bytes] | None:
    """Split an inline command or a config line like ``sdssplitargs``.

    Returns None on unbalanced quotes (or a closing quote not followed by a space).
    Like the C function, the line ends at the first NUL byte.
    """
    z = line.find(b"\0")
    if z >= 0:
        line = line[:z]
    if (
        ord('"') not in line
        and ord("'") not in line
        and ord("\x0b") not in line
        and ord("\x0c") not in line
    ):
        return line.split()  # fast path: no quotes, only separators bytes.split() also uses
    args: list[bytes] = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None  # unterminated quotes
                c = line[i]
                if (
                    c == 0x5C
                    and i + 3 < n
                    and line[i + 1] == 0x78
                    and line[i + 2] in _HEX
                    and line[i + 3] in _HEX
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    return None
                c = line[i]
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \n\r\t":
                    i += 1
                    break
                if c == 0x22:
                    inq = True
                elif c == 0x27:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))


def _char(b: int) -> str:
    """``%c`` of a byte in an error reply (CR/LF become spaces, like addReplyErrorFormat)."""
    return " " if b in (10, 13) else chr(b)


class RequestParser:
    """Incremental request parser with Redis's exact rules (see the notes above).

    ``feed(data)`` returns the complete commands found so far (each a list of bytes).
    On malformed input it stops: the commands before the bad one are still returned and
    :attr:`error` is set to the Redis message (reply ``-ERR Protocol error: <error>`` after
    running them, then close). :attr:`pending` is the number of buffered bytes not yet
    consumed (compared with ``client-query-buffer-limit``). Set :attr:`auth_required`
    while the connection has not authenticated.
    """

    __slots__ = (
        "_reader",
        "_rfeed",
        "_rgets",
        "_rhas_data",
        "_buf",
        "_chunks",
        "_have",
        "_need",
        "_args",
        "_left",
        "_bulklen",
        "pending",
        "max_bulk",
        "auth_required",
        "error",
        "stopped_early",
        "querybuf_limit",
        "overflow",
    )

    def __init__(self, max_bulk: int = 512 * 1024 * 1024) -> None:
        self._new_reader()
        self._buf = b""
        self._chunks: list[bytes] | None = None  # a big bulk being collected
        self._have = 0
        self._need = 0
        self._args: list[bytes] = []  # arguments of a multibulk request read so far
        self._left = 0  # arguments still expected (0: at a request boundary)
        self._bulklen = -1  # length of the bulk being read, -1 before its $ line
        self.pending = 0
        self.max_bulk = max_bulk
        self.auth_required = False
        self.error: str | None = None
        self.stopped_early = False  # one command handed out while unauthenticated
        # client-query-buffer-limit: Redis closes a client whose query buffer (the bytes
        # of the request being read, a big argument included) grows past it
        self.querybuf_limit = 1 << 62
        self.overflow = False

    def _new_reader(self) -> None:
        """A fresh hiredis reader, its methods bound once (no lookup per request)."""
        r = self._reader = hiredis.Reader()
        self._rfeed: Callable[[bytes], None] = r.feed
        self._rgets: Callable[[], Any] = r.gets
        self._rhas_data: Callable[[], bool] = r.has_data

    def feed(self, data: bytes) -> list[list[bytes]]:
        if self.error is not None or self.overflow:
            return []
        if (
            data[:1] == b"*"
            and not self._buf
            and not self._left
            and self._chunks is None
            and not self.auth_required
            and _huge_array(data) is None
        ):
            # hiredis parse of a chunk holding only whole, well-formed multibulk requests.
            # Accepted only if every request is a ``*`` array of bulk strings and the sizes
            # add up to exactly ``len(data)`` (so no other RESP type or stray byte was
            # involved); anything else goes through :meth:`_feed_exact`.
            self._rfeed(data)
            gets = self._rgets
            out: list[list[bytes]] = []
            pos = 0
            try:
                while True:
                    cmd = gets()
                    if cmd is False:
                        break
                    if type(cmd) is not list or data[pos] != 42:
                        if cmd is None and data.startswith(b"*-1\r\n", pos):
                            pos += 5
                            continue
                        raise _Bail
                    n = len(cmd)
                    # *<n>\r\n, then $<len>\r\n<payload>\r\n per argument (a plain loop:
                    # as fast as map/sum interpreted, several times faster compiled)
                    pos += _ARRAY_HDR[n]
                    for a in cmd:
                        pos += _BULK_SIZE[len(a)]
                    if n:
                        out.append(cmd)
                # TypeError unless every argument is a bulk string (bytes): one C-level
                # join for the batch (a nested array or a +simple string may have the
                # size of a bulk string)
                b"".join(_chain_all(out))
            except (hiredis.ProtocolError, _Bail, IndexError, TypeError):
                self._new_reader()
            else:
                if pos == len(data) and not self._rhas_data():
                    if len(data) > self.max_bulk or len(data) > self.querybuf_limit - 2:
                        lim = min(self.max_bulk, self.querybuf_limit - 2)
                        if any(len(a) > lim for c in out for a in c):
                            self._new_reader()
                            return self._feed_exact(data)
                    self.pending = 0
                    return out
                self._new_reader()
        return self._feed_exact(data)

    def _feed_exact(self, data: bytes) -> list[list[bytes]]:
        if self._chunks is not None:
            self._chunks.append(data)
            self._have += len(data)
            if min(self._have, self._need) > self.querybuf_limit:
                self.overflow = True
                return []
            if self._have < self._need:
                self.pending = self._have
                return []
            buf = b"".join(self._chunks)
            self._chunks = None
        elif self._buf:
            buf = self._buf + data
        else:
            buf = data
        out: list[list[bytes]] = []
        n = len(buf)
        pos = 0
        left = self._left
        args = self._args
        bulklen = self._bulklen
        find = buf.find
        self.stopped_early = False
        try:
            while pos < n:
                if not left:
                    if out and self.auth_required:
                        # AUTH may change the limits for what follows: one at a time
                        self.stopped_early = True
                        break
                    if buf[pos] != 42:  # not '*': inline command
                        nl = find(b"\n", pos)
                        if nl >= 0 and find(b"\0", pos, nl) >= 0:
                            nl = -1  # strchr() stops at the NUL
                        if nl < 0:
                            if n - pos > INLINE_MAX:
                                raise _Err("too big inline request")
                            break
                        end = nl - 1 if nl > pos and buf[nl - 1] == 13 else nl
                        if end - pos > INLINE_MAX:
                            raise _Err("too big inline request")
                        argv = split_args(buf[pos:end])
                        if argv is None:
                            raise _Err("unbalanced quotes in request")
                        pos = nl + 1
                        if argv:
                            out.append(argv)
                        continue
                    r = find(b"\r", pos)
                    if r < 0:
                        if n - pos > INLINE_MAX:
                            raise _Err("too big mbulk count string")
                        break
                    if r + 2 > n:
                        break
                    ll = _SMALL_LL.get(buf[pos + 1 : r])
                    if ll is None:
                        ll = string2ll(buf[pos + 1 : r])
                        if ll is None or ll > INT_MAX:
                            if find(b"\0", pos, r) >= 0:
                                break  # strchr() never saw the \r
                            raise _Err("invalid multibulk length")
                    if ll > 10 and self.auth_required:
                        raise _Err("unauthenticated multibulk length")
                    pos = r + 2
                    if ll <= 0:
                        continue
                    left = ll
                    args = []
                while left:
                    if bulklen < 0:
                        r = find(b"\r", pos)
                        if r < 0:
                            if n - pos > INLINE_MAX:
                                raise _Err("too big bulk count string")
                            break
                        if r + 2 > n:
                            break
                        if buf[pos] != 36:  # '$'
                            if find(b"\0", pos, r) >= 0:
                                break
                            raise _Err(f"expected '$', got '{_char(buf[pos])}'")
                        ll = _SMALL_LL.get(buf[pos + 1 : r])
                        if ll is None:
                            ll = string2ll(buf[pos + 1 : r])
                            if ll is None or ll < 0 or ll > self.max_bulk:
                                if find(b"\0", pos, r) >= 0:
                                    break
                                raise _Err("invalid bulk length")
                        elif ll < 0 or ll > self.max_bulk:
                            raise _Err("invalid bulk length")
                        if ll > 16384 and self.auth_required:
                            raise _Err("unauthenticated bulk length")
                        pos = r + 2
                        bulklen = ll
                    end = pos + bulklen
                    if bulklen + 2 > self.querybuf_limit and n - pos > self.querybuf_limit:
                        raise _Overflow
                    if end + 2 > n:
                        break
                    args.append(buf[pos:end])
                    pos = end + 2
                    bulklen = -1
                    left -= 1
                if left:
                    break
                out.append(args)
                args = []
        except _Overflow:
            self.overflow = True
            self._buf = b""
            self.pending = 0
            return out
        except _Err as e:
            self.error = e.msg
            self._buf = b""
            self._args = []
            self._left = 0
            self._bulklen = -1
            self.pending = 0
            return out
        self._left = left
        self._args = args
        self._bulklen = bulklen
        if pos >= n:
            self._buf = b""
            self.pending = 0
        elif left and bulklen >= BIG_ARG:
            # collect a big payload in chunks instead of re-joining the buffer per read
            rest = buf[pos:] if pos else buf
            self._buf = b""
            self._chunks = [rest]
            self._have = len(rest)
            self._need = bulklen + 2
            self.pending = self._have
        else:
            self._buf = buf[pos:] if pos else buf
            self.pending = n - pos
            if self.pending > self.querybuf_limit:
                self.overflow = True
        return out


_DIGITS: Final = [len(b"%d" % i) for i in range(1 << 16)]
_BULK_LENS: Final = [b"$%d" % i for i in range(1 << 14)]  # "$<len>" without CRLF
_BULK_LEN: Final = _BULK_LENS.__getitem__
# compiled by scripts/compile.py (then plain loops beat map/sum chains)
_COMPILED: Final = is_compiled(__file__)
# bytes taken by a bulk string of length i ($<i>\r\n<payload>\r\n) and by the header of
# an array of i elements (*<i>\r\n); longer arguments go through the exact parser
_BULK_SIZE: Final = [i + _DIGITS[i] + 5 for i in range(1 << 16)]
_ARRAY_HDR: Final = [_DIGITS[i] + 3 for i in range(1 << 16)]
# hiredis allocates an array of the announced size up front (and frees it element by
# element): counts of a million or more go to the exact parser instead
_chain_all: Final = itertools.chain.from_iterable
_huge_array: Final = re.compile(rb"\*[0-9]{7}").search


class _Bail(Exception):
    pass


class _Overflow(Exception):
    pass


class _Err(Exception):
    __slots__ = ("msg",)

    def __init__(self, msg: str) -> None:
        self.msg = msg
