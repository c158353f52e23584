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
bool                 ``:1`` / ``:0``          ``#t`` / ``#f``
NULL_ARRAY           ``*-1``                  ``_``
Verbatim             bulk                     ``=len\\r\\ntxt:...``
Push                 array                    ``>n`` push
BigNumber            bulk                     ``(n``
Raw                  bytes as they are        same
===================  =======================  ==========================
"""

from __future__ import annotations

import math
from typing import Any

import hiredis

from ember.errors import CommandError, ProtocolError


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


class _NullArray:
    __slots__ = ()


NULL_ARRAY = _NullArray()
OK = Status("OK")
QUEUED = Status("QUEUED")
PONG = Status("PONG")

# pre-encoded small integers and bulk length headers for the hot path
_INTS = [b":%d\r\n" % i for i in range(-1, 1024)]
_BULK_HDR = [b"$%d\r\n" % i for i in range(1024)]
_ARR_HDR = [b"*%d\r\n" % i for i in range(1024)]


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
        out.append(_INTS[reply + 1] if -1 <= reply < 1023 else b":%d\r\n" % reply)
    elif reply is None:
        out.append(b"_\r\n" if resp3 else b"$-1\r\n")
    elif t is list or t is tuple:
        n = len(reply)
        out.append(_ARR_HDR[n] if n < 1024 else b"*%d\r\n" % n)
        for item in reply:
            _encode_into(item, out, resp3)
    elif t is CommandError:
        out.append(b"-" + reply.message.encode() + b"\r\n")
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
    elif isinstance(reply, CommandError):
        out.append(b"-" + reply.message.encode() + b"\r\n")
    else:
        raise TypeError(f"cannot encode reply of type {t!r}")


# --------------------------------------------------------------------------- requests

INLINE_MAX = 64 * 1024  # PROTO_INLINE_MAX_SIZE
MULTIBULK_MAX = 1024 * 1024


def split_args(line: bytes) -> list[bytes] | None:
    """Split an inline command like ``sdssplitargs``; None on unbalanced quotes."""
    args: list[bytes] = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in b" \t\n\r\x0b\x0c\x00":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = False  # inside "double quotes"
        insq = False  # inside 'single quotes'
        done = False
        while not done:
            if inq:
                if i >= n:
                    return None
                c = line[i]
                if (
                    c == 0x5C
                    and i + 3 < n
                    and line[i + 1] == 0x78
                    and _ishex(line[i + 2])
                    and _ishex(line[i + 3])
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    e = line[i]
                    cur.append(
                        {0x6E: 10, 0x72: 13, 0x74: 9, 0x62: 8, 0x61: 7}.get(e, e)
                    )
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\x0b\x0c\x00":
                        return None
                    done = True
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
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\x0b\x0c\x00":
                        return None
                    done = True
                else:
                    cur.append(c)
            else:
                if i >= n:
                    done = True
                    break
                c = line[i]
                if c in b" \n\r\t\x00":
                    done = True
                elif c == 0x22:
                    inq = True
                elif c == 0x27:
                    insq = True
                else:
                    cur.append(c)
            if i < n:
                i += 1
        args.append(bytes(cur))


def _ishex(c: int) -> bool:
    return c in b"0123456789abcdefABCDEF"


class RequestParser:
    """Incremental request parser: multibulk via hiredis, inline commands by hand.

    ``feed(data)`` then ``commands()`` returns the complete commands parsed so far.
    Raises :class:`ProtocolError` with Redis's message on malformed input.
    ``pending`` is the number of buffered bytes of a not yet complete request, which
    the caller compares with ``client-query-buffer-limit``.
    """

    __slots__ = ("_reader", "_inline", "_in_bulk", "pending", "max_bulk")

    def __init__(self, max_bulk: int = 512 * 1024 * 1024) -> None:
        self._reader = hiredis.Reader()
        self._inline = b""
        self._in_bulk = False  # hiredis holds part of a multibulk request
        self.pending = 0
        self.max_bulk = max_bulk

    def feed(self, data: bytes) -> list[list[bytes]]:
        out: list[list[bytes]] = []
        reader = self._reader
        while data:
            if not self._in_bulk:
                if self._inline or data[0] != 0x2A:  # '*'
                    data = self._feed_inline(data, out)
                    continue
                self._check_header(data)
                self._in_bulk = True
            reader.feed(data)
            data = b""
            try:
                while True:
                    cmd = reader.gets()
                    if cmd is False:
                        break
                    if type(cmd) is list:
                        for a in cmd:
                            if type(a) is not bytes:
                                raise ProtocolError(_bad_element(a))
                        if cmd:
                            out.append(cmd)
                    elif cmd is not None:
                        raise ProtocolError("invalid multibulk length")
            except hiredis.ProtocolError as e:
                raise ProtocolError(_map_hiredis_error(str(e))) from None
            if reader.has_data():
                self.pending = reader.len()
                if self.pending > self.max_bulk + 1024 * 1024:
                    raise ProtocolError("invalid bulk length")
            else:
                self._in_bulk = False
                self.pending = 0
        return out

    def _check_header(self, data: bytes) -> None:
        """Validate the multibulk count and first bulk length as Redis does."""
        end = data.find(b"\r\n", 0, 64)
        if end < 0:
            if len(data) >= 64 or (b"\n" in data[:64]):
                raise ProtocolError("invalid multibulk length")
            return
        try:
            count = int(data[1:end])
        except ValueError:
            raise ProtocolError("invalid multibulk length") from None
        if count > MULTIBULK_MAX:
            raise ProtocolError("invalid multibulk length")
        if count <= 0:
            return
        pos = end + 2
        if pos < len(data):
            if data[pos] != 0x24:  # '$'
                raise ProtocolError(f"expected '$', got '{chr(data[pos])}'")
            end2 = data.find(b"\r\n", pos, pos + 64)
            if end2 > 0:
                try:
                    blen = int(data[pos + 1 : end2])
                except ValueError:
                    raise ProtocolError("invalid bulk length") from None
                if blen < 0 or blen > self.max_bulk:
                    raise ProtocolError("invalid bulk length")

    def _feed_inline(self, data: bytes, out: list[list[bytes]]) -> bytes:
        buf = self._inline + data if self._inline else data
        nl = buf.find(b"\n")
        if nl < 0:
            if len(buf) > INLINE_MAX:
                raise ProtocolError("too big inline request")
            self._inline = buf
            self.pending = len(buf)
            return b""
        self._inline = b""
        self.pending = 0
        line = buf[:nl]
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > INLINE_MAX:
            raise ProtocolError("too big inline request")
        args = split_args(line)
        if args is None:
            raise ProtocolError("unbalanced quotes in request")
        if args:
            out.append(args)
        return buf[nl + 1 :]


def _bad_element(a: object) -> str:
    if a is None:
        return "invalid bulk length"
    if isinstance(a, list):
        return "expected '$', got '*'"
    if isinstance(a, int):
        return "expected '$', got ':'"
    return "expected '$', got '+'"


def _map_hiredis_error(msg: str) -> str:
    if "reply type byte" in msg:
        got = msg.split('"')[1] if '"' in msg else "?"
        return f"expected '$', got '{got[:1]}'"
    if "multi-bulk" in msg.lower() or "aggregate" in msg.lower():
        return "invalid multibulk length"
    return "invalid bulk length"
