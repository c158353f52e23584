"""The Lua libraries Redis bundles, implemented in Python: ``cjson``, ``cmsgpack``, ``bit``
(LuaBitOp) and ``struct``.

Each function is called from a Lua wrapper (see ``prelude.lua``) and returns
``(True, value)`` or ``(False, message)``; the wrapper raises the message at the
caller's line, as the C libraries do with ``luaL_error``. ``cmsgpack.unpack`` and
``struct.unpack`` return ``(True, count, values...)`` so that nil values survive.

Covered: the common cases of each library. Not covered: cjson's configuration
functions are accepted and ignored (defaults apply), cjson error texts for malformed
JSON are approximations, struct's alignment option ``!`` is ignored.
"""

from __future__ import annotations

import json
import math
import struct as _struct
from collections.abc import Callable
from typing import Any

from lupa import lua51

_lua_type = lua51.lua_type


def _num_text(n: float | int) -> bytes:
    return b"%.14g" % n


class Libs:
    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self.null: Any = None  # cjson.null (a userdata created by the prelude)

    def functions(self) -> dict[bytes, Callable[..., Any]]:
        out: dict[bytes, Callable[..., Any]] = {}
        for name in dir(self):
            if name.startswith(("cjson_", "msgpack_", "bit_", "struct_")):
                out[name.encode()] = getattr(self, name)
        return out

    # ------------------------------------------------------------------ cjson
    def cjson_encode(self, *args: Any) -> tuple[bool, Any]:
        if len(args) != 1:
            return False, b"bad argument #1 to 'encode' (expected 1 argument)"
        out: list[bytes] = []
        try:
            self._json_enc(args[0], out, 0)
        except _LibError as e:
            return False, e.msg
        return True, b"".join(out)

    def _json_enc(self, v: Any, out: list[bytes], depth: int) -> None:
        t = type(v)
        if t is bytes:
            out.append(_json_str(v))
        elif t is bool:
            out.append(b"true" if v else b"false")
        elif t is int or t is float:
            if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
                raise _LibError(b"Cannot serialise number: must not be NaN or Inf")
            out.append(_num_text(v))
        elif v is None:
            out.append(b"null")
        elif self.null is not None and v == self.null:
            out.append(b"null")
        elif _lua_type(v) == "table":
            depth += 1
            if depth > 1000:
                raise _LibError(b"Cannot serialise, excessive nesting (1001)")
            items = list(v.items())
            n = _array_length(items)
            if n is not None and (n > 0 or not items):
                if not items:
                    out.append(b"{}")
                    return
                if n > len(items) * 2 and n > 10:
                    raise _LibError(b"Cannot serialise table: excessively sparse array")
                d = dict(items)
                out.append(b"[")
                for i in range(1, n + 1):
                    if i > 1:
                        out.append(b",")
                    x = d.get(i)
                    self._json_enc(x, out, depth)
                out.append(b"]")
                return
            out.append(b"{")
            first = True
            for k, x in items:
                tk = type(k)
                if tk is bytes:
                    key = k
                elif tk is int or tk is float:
                    key = _num_text(k)
                else:
                    raise _LibError(b"Cannot serialise table: table key must be a number or string")
                if not first:
                    out.append(b",")
                first = False
                out.append(_json_str(key))
                out.append(b":")
                self._json_enc(x, out, depth)
            out.append(b"}")
        else:
            raise _LibError(b"Cannot serialise %s: type not supported" % _lua_type(v).encode())

    def cjson_decode(self, *args: Any) -> tuple[bool, Any]:
        if len(args) != 1:
            return False, b"bad argument #1 to 'decode' (expected 1 argument)"
        s = args[0]
        if type(s) is not bytes:
            if type(s) in (int, float):
                s = _num_text(s)
            else:
                return False, b"bad argument #1 to 'decode' (string expected, got %s)" % (
                    _lua_type(s) or "nil"
                ).encode()
        try:
            text = s.decode("utf-8", "surrogateescape")
            value = json.loads(text, parse_constant=_bad_constant)
        except json.JSONDecodeError as e:
            return False, b"Expected value but found invalid token at character %d" % (e.pos + 1)
        except (ValueError, RecursionError):
            return False, b"Expected value but found invalid token at character 1"
        return True, self._to_lua(value)

    def _to_lua(self, v: Any) -> Any:
        if isinstance(v, str):
            return v.encode("utf-8", "surrogateescape")
        if isinstance(v, bool) or isinstance(v, int | float):
            return v
        if v is None:
            return self.null
        if isinstance(v, list):
            return self.rt.table_from([self._to_lua(x) for x in v])
        if isinstance(v, dict):
            return self.rt.table_from({self._to_lua(k): self._to_lua(x) for k, x in v.items()})
        return None

    # ------------------------------------------------------------------ cmsgpack
    def msgpack_pack(self, *args: Any) -> tuple[bool, Any]:
        if not args:
            return False, b"MessagePack pack needs input."
        out = bytearray()
        try:
            for a in args:
                self._mp_enc(a, out, 0)
        except _LibError as e:
            return False, e.msg
        return True, bytes(out)

    def _mp_enc(self, v: Any, out: bytearray, depth: int) -> None:
        t = type(v)
        if v is None:
            out.append(0xC0)
        elif t is bool:
            out.append(0xC3 if v else 0xC2)
        elif t is int or (t is float and v == int(v) and not math.isinf(v) and abs(v) < 2**64):
            _mp_int(int(v), out)
        elif t is float:
            if _struct.unpack(">f", _struct.pack(">f", v))[0] == v or math.isnan(v):
                out.append(0xCA)
                out += _struct.pack(">f", v)
            else:
                out.append(0xCB)
                out += _struct.pack(">d", v)
        elif t is bytes:
            n = len(v)
            if n < 32:
                out.append(0xA0 | n)
            elif n < 256:
                out += b"\xd9" + bytes([n])
            elif n < 65536:
                out += b"\xda" + _struct.pack(">H", n)
            else:
                out += b"\xdb" + _struct.pack(">I", n)
            out += v
        elif _lua_type(v) == "table":
            if depth >= 16:  # LUACMSGPACK_MAX_NESTING: deeper tables become nil
                out.append(0xC0)
                return
            items = list(v.items())
            alen = _array_length(items)
            if alen is not None and alen == len(items):
                n = alen
                if n < 16:
                    out.append(0x90 | n)
                elif n < 65536:
                    out += b"\xdc" + _struct.pack(">H", n)
                else:
                    out += b"\xdd" + _struct.pack(">I", n)
                d = dict(items)
                for i in range(1, n + 1):
                    self._mp_enc(d[i], out, depth + 1)
            else:
                n = len(items)
                if n < 16:
                    out.append(0x80 | n)
                elif n < 65536:
                    out += b"\xde" + _struct.pack(">H", n)
                else:
                    out += b"\xdf" + _struct.pack(">I", n)
                for k, x in items:
                    self._mp_enc(k, out, depth + 1)
                    self._mp_enc(x, out, depth + 1)
        else:
            out.append(0xC0)

    def _mp_unpack(self, s: Any, limit: int, offset: int) -> tuple[bool, Any]:
        if type(s) is not bytes:
            return False, b"bad argument #1 to 'unpack' (string expected)"
        vals: list[Any] = []
        pos = offset
        try:
            while pos < len(s) and (limit <= 0 or len(vals) < limit):
                v, pos = self._mp_dec(s, pos)
                vals.append(v)
        except (IndexError, _struct.error, _LibError):
            return False, b"Missing bytes in input."
        if limit > 0:
            return True, (pos if pos < len(s) else -1, vals)  # type: ignore[return-value]
        return True, vals

    def msgpack_unpack(self, *args: Any) -> tuple[Any, ...]:
        ok, r = self._mp_unpack(args[0] if args else None, 0, 0)
        if not ok:
            return False, r
        return (True, len(r), *r)

    def msgpack_unpack_one(self, *args: Any) -> tuple[Any, ...]:
        return self.msgpack_unpack_limit(args[0] if args else None, 1, *args[1:2])

    def msgpack_unpack_limit(self, *args: Any) -> tuple[Any, ...]:
        s = args[0] if args else None
        limit = int(args[1]) if len(args) > 1 and isinstance(args[1], int | float) else 0
        offset = int(args[2]) if len(args) > 2 and isinstance(args[2], int | float) else 0
        ok, r = self._mp_unpack(s, limit if limit > 0 else 1 << 62, offset)
        if not ok:
            return False, r
        nxt, vals = r
        return (True, len(vals) + 1, nxt, *vals)

    def _mp_dec(self, s: bytes, pos: int) -> tuple[Any, int]:
        b = s[pos]
        pos += 1
        if b <= 0x7F:
            return b, pos
        if b >= 0xE0:
            return b - 256, pos
        if 0x80 <= b <= 0x8F or b in (0xDE, 0xDF):
            if b <= 0x8F:
                n = b & 0x0F
            elif b == 0xDE:
                n = _struct.unpack_from(">H", s, pos)[0]
                pos += 2
            else:
                n = _struct.unpack_from(">I", s, pos)[0]
                pos += 4
            d = {}
            for _ in range(n):
                k, pos = self._mp_dec(s, pos)
                v, pos = self._mp_dec(s, pos)
                if k is not None:
                    d[k] = v
            return self.rt.table_from(d), pos
        if 0x90 <= b <= 0x9F or b in (0xDC, 0xDD):
            if b <= 0x9F:
                n = b & 0x0F
            elif b == 0xDC:
                n = _struct.unpack_from(">H", s, pos)[0]
                pos += 2
            else:
                n = _struct.unpack_from(">I", s, pos)[0]
                pos += 4
            items = []
            for _ in range(n):
                v, pos = self._mp_dec(s, pos)
                items.append(v)
            return self.rt.table_from(items), pos
        if 0xA0 <= b <= 0xBF or b in (0xD9, 0xDA, 0xDB, 0xC4, 0xC5, 0xC6):
            if b <= 0xBF:
                n = b & 0x1F
            elif b in (0xD9, 0xC4):
                n = s[pos]
                pos += 1
            elif b in (0xDA, 0xC5):
                n = _struct.unpack_from(">H", s, pos)[0]
                pos += 2
            else:
                n = _struct.unpack_from(">I", s, pos)[0]
                pos += 4
            if pos + n > len(s):
                raise _LibError(b"")
            return s[pos : pos + n], pos + n
        fixed = _MP_FIXED.get(b)
        if fixed is not None:
            fmt, size = fixed
            v = _struct.unpack_from(fmt, s, pos)[0]
            return v, pos + size
        if b == 0xC0:
            return None, pos
        if b == 0xC2:
            return False, pos
        if b == 0xC3:
            return True, pos
        raise _LibError(b"")

    # ------------------------------------------------------------------ bit (LuaBitOp)
    def bit_tobit(self, *a: Any) -> tuple[bool, Any]:
        return _bitop(a, 1, lambda x: x)

    def bit_bnot(self, *a: Any) -> tuple[bool, Any]:
        return _bitop(a, 1, lambda x: ~x)

    def bit_band(self, *a: Any) -> tuple[bool, Any]:
        return _bitfold(a, lambda x, y: x & y)

    def bit_bor(self, *a: Any) -> tuple[bool, Any]:
        return _bitfold(a, lambda x, y: x | y)

    def bit_bxor(self, *a: Any) -> tuple[bool, Any]:
        return _bitfold(a, lambda x, y: x ^ y)

    def bit_lshift(self, *a: Any) -> tuple[bool, Any]:
        return _bitop(a, 2, lambda x, n: (x & 0xFFFFFFFF) << (n & 31))

    def bit_rshift(self, *a: Any) -> tuple[bool, Any]:
        return _bitop(a, 2, lambda x, n: (x & 0xFFFFFFFF) >> (n & 31))

    def bit_arshift(self, *a: Any) -> tuple[bool, Any]:
        return _bitop(a, 2, lambda x, n: _s32(x) >> (n & 31))

    def bit_rol(self, *a: Any) -> tuple[bool, Any]:
        def rol(x: int, n: int) -> int:
            x &= 0xFFFFFFFF
            n &= 31
            return (x << n) | (x >> (32 - n)) if n else x

        return _bitop(a, 2, rol)

    def bit_ror(self, *a: Any) -> tuple[bool, Any]:
        def ror(x: int, n: int) -> int:
            x &= 0xFFFFFFFF
            n &= 31
            return (x >> n) | (x << (32 - n)) if n else x

        return _bitop(a, 2, ror)

    def bit_bswap(self, *a: Any) -> tuple[bool, Any]:
        return _bitop(a, 1, lambda x: int.from_bytes((x & 0xFFFFFFFF).to_bytes(4, "little"), "big"))

    def bit_tohex(self, *a: Any) -> tuple[bool, Any]:
        if not a:
            return False, b"bad argument #1 to 'tohex' (number expected, got no value)"
        x = _tobit(a[0])
        if x is None:
            return False, b"bad argument #1 to 'tohex' (number expected, got %s)" % _tn(a[0])
        n = 8
        if len(a) > 1 and a[1] is not None:
            nn = _tobit(a[1])
            if nn is None:
                return False, b"bad argument #2 to 'tohex' (number expected, got %s)" % _tn(a[1])
            n = nn
        upper = n < 0
        n = min(abs(n), 8)
        text = b"%0*x" % (8, x & 0xFFFFFFFF)
        text = text[8 - n :]
        return True, text.upper() if upper else text

    # ------------------------------------------------------------------ struct
    def struct_pack(self, *a: Any) -> tuple[bool, Any]:
        if not a or type(a[0]) is not bytes:
            return False, b"bad argument #1 to 'pack' (string expected)"
        try:
            return True, _struct_pack(a[0], list(a[1:]))
        except _LibError as e:
            return False, e.msg

    def struct_unpack(self, *a: Any) -> tuple[Any, ...]:
        if len(a) < 2 or type(a[0]) is not bytes or type(a[1]) is not bytes:
            return False, b"bad argument #2 to 'unpack' (string expected)"
        pos = int(a[2]) if len(a) > 2 and isinstance(a[2], int | float) else 1
        try:
            vals, nxt = _struct_unpack(a[0], a[1], pos - 1)
        except _LibError as e:
            return False, e.msg
        return (True, len(vals) + 1, *vals, nxt + 1)

    def struct_size(self, *a: Any) -> tuple[bool, Any]:
        if not a or type(a[0]) is not bytes:
            return False, b"bad argument #1 to 'size' (string expected)"
        try:
            size = 0
            for code, n, _ in _struct_items(a[0]):
                if code in b"sc" and n == 0:
                    raise _LibError(b"options 'c0' - 's' have undefined sizes")
                size += n
            return True, size
        except _LibError as e:
            return False, e.msg


class _LibError(Exception):
    def __init__(self, msg: bytes) -> None:
        self.msg = msg


def _bad_constant(name: str) -> Any:
    raise ValueError(name)


_JSON_ESC = {i: b"\\u%04x" % i for i in range(32)}
_JSON_ESC.update({8: b"\\b", 9: b"\\t", 10: b"\\n", 12: b"\\f", 13: b"\\r"})
_JSON_ESC[0x22] = b'\\"'
_JSON_ESC[0x5C] = b"\\\\"
_JSON_ESC[0x2F] = b"\\/"
_JSON_ESC[0x7F] = b"\\u007f"
_JSON_TABLE = [_JSON_ESC.get(i, bytes([i])) for i in range(256)]


def _json_str(s: bytes) -> bytes:
    tbl = _JSON_TABLE
    return b'"' + b"".join([tbl[c] for c in s]) + b'"'


def _array_length(items: list[tuple[Any, Any]]) -> int | None:
    """The max key when every key is a positive integer, else None."""
    n = 0
    for k, _ in items:
        if type(k) is int and k >= 1:
            pass
        elif type(k) is float and k >= 1 and k == int(k):
            k = int(k)
        else:
            return None
        if k > n:
            n = k
    return n


def _mp_int(v: int, out: bytearray) -> None:
    if 0 <= v <= 0x7F:
        out.append(v)
    elif -32 <= v < 0:
        out.append(v & 0xFF)
    elif v >= 0:
        if v < 256:
            out += b"\xcc" + bytes([v])
        elif v < 65536:
            out += b"\xcd" + _struct.pack(">H", v)
        elif v < 2**32:
            out += b"\xce" + _struct.pack(">I", v)
        else:
            out += b"\xcf" + _struct.pack(">Q", v & (2**64 - 1))
    else:
        if v >= -128:
            out += b"\xd0" + _struct.pack(">b", v)
        elif v >= -32768:
            out += b"\xd1" + _struct.pack(">h", v)
        elif v >= -(2**31):
            out += b"\xd2" + _struct.pack(">i", v)
        else:
            out += b"\xd3" + _struct.pack(">q", max(v, -(2**63)))


_MP_FIXED = {
    0xCA: (">f", 4),
    0xCB: (">d", 8),
    0xCC: (">B", 1),
    0xCD: (">H", 2),
    0xCE: (">I", 4),
    0xCF: (">Q", 8),
    0xD0: (">b", 1),
    0xD1: (">h", 2),
    0xD2: (">i", 4),
    0xD3: (">q", 8),
}


def _tn(v: Any) -> bytes:
    t = type(v)
    if t is bytes:
        return b"string"
    if t is bool:
        return b"boolean"
    if t is int or t is float:
        return b"number"
    if v is None:
        return b"nil"
    return (_lua_type(v) or "userdata").encode()


def _tobit(v: Any) -> int | None:
    if type(v) is bytes:
        try:
            v = float(v)
        except ValueError:
            return None
    if type(v) is bool or not isinstance(v, int | float):
        return None
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return 0
        v = round(v)  # LuaBitOp's 2^52+2^51 trick rounds to nearest even
    return _s32(int(v))


def _s32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


def _bitop(args: tuple[Any, ...], n: int, fn: Callable[..., int]) -> tuple[bool, Any]:
    vals = []
    for i in range(n):
        v = args[i] if i < len(args) else None
        x = _tobit(v)
        if x is None:
            got = b"no value" if i >= len(args) else _tn(v)
            return False, b"bad argument #%d to '?' (number expected, got %s)" % (i + 1, got)
        vals.append(x)
    return True, _s32(fn(*vals))


def _bitfold(args: tuple[Any, ...], fn: Callable[[int, int], int]) -> tuple[bool, Any]:
    if not args:
        return False, b"bad argument #1 to '?' (number expected, got no value)"
    acc = None
    for i, v in enumerate(args):
        x = _tobit(v)
        if x is None:
            return False, b"bad argument #%d to '?' (number expected, got %s)" % (i + 1, _tn(v))
        acc = x if acc is None else fn(acc, x)
    return True, _s32(acc or 0)


# ---------------------------------------------------------------------- struct
def _struct_items(fmt: bytes) -> list[tuple[bytes, int, str]]:
    """(code, size, endianness) of each item of a struct format."""
    items = []
    endian = "<"
    i = 0
    while i < len(fmt):
        ch = fmt[i : i + 1]
        i += 1
        num = b""
        while i < len(fmt) and fmt[i : i + 1].isdigit():
            num += fmt[i : i + 1]
            i += 1
        n = int(num) if num else None
        if ch in b" ":
            continue
        if ch == b"<":
            endian = "<"
        elif ch == b">":
            endian = ">"
        elif ch == b"=":
            endian = "<"
        elif ch == b"!":
            continue
        elif ch == b"x":
            items.append((b"x", 1, endian))
        elif ch in (b"b", b"B"):
            items.append((ch, 1, endian))
        elif ch in (b"h", b"H"):
            items.append((ch, 2, endian))
        elif ch in (b"l", b"L", b"T", b"j", b"J"):
            items.append((ch, 8, endian))
        elif ch in (b"i", b"I"):
            size = n if n is not None else 4
            if size < 1 or size > 8:
                raise _LibError(b"integral size %d is larger than limit of 8" % size)
            items.append((ch, size, endian))
        elif ch == b"f":
            items.append((b"f", 4, endian))
        elif ch == b"d":
            items.append((b"d", 8, endian))
        elif ch == b"c":
            items.append((b"c", n if n is not None else 1, endian))
        elif ch == b"s":
            items.append((b"s", 0, endian))
        else:
            raise _LibError(b"invalid format option '%s'" % ch)
    return items


def _num(v: Any, narg: int) -> float | int:
    if type(v) is bytes:
        try:
            return float(v)
        except ValueError:
            pass
    if isinstance(v, int | float) and type(v) is not bool:
        return v
    raise _LibError(b"bad argument #%d to 'pack' (number expected, got %s)" % (narg, _tn(v)))


def _struct_pack(fmt: bytes, args: list[Any]) -> bytes:
    out = bytearray()
    ai = 0
    for code, size, endian in _struct_items(fmt):
        if code == b"x":
            out.append(0)
            continue
        if ai >= len(args):
            raise _LibError(
                b"bad argument #%d to 'pack' (number expected, got no value)" % (ai + 2)
            )
        v = args[ai]
        ai += 1
        if code in (b"f", b"d"):
            out += _struct.pack(endian + code.decode(), float(_num(v, ai + 1)))
        elif code == b"c" or code == b"s":
            if type(v) is not bytes:
                if isinstance(v, int | float):
                    v = _num_text(v)
                else:
                    raise _LibError(
                        b"bad argument #%d to 'pack' (string expected, got %s)" % (ai + 1, _tn(v))
                    )
            if code == b"s":
                out += v + b"\x00"
            else:
                if size == 0:
                    size = len(v)
                if len(v) < size:
                    raise _LibError(b"bad argument #%d to 'pack' (string too short)" % (ai + 1))
                out += v[:size]
        else:
            x = int(_num(v, ai + 1))
            x &= (1 << (8 * size)) - 1
            out += x.to_bytes(size, "little" if endian == "<" else "big")
    return bytes(out)


def _struct_unpack(fmt: bytes, data: bytes, pos: int) -> tuple[list[Any], int]:
    vals: list[Any] = []
    for code, size, endian in _struct_items(fmt):
        if code == b"s":
            end = data.find(b"\x00", pos)
            if end < 0:
                raise _LibError(b"unfinished string in data")
            vals.append(data[pos:end])
            pos = end + 1
            continue
        if code == b"c" and size == 0:
            if not vals or not isinstance(vals[-1], int | float):
                raise _LibError(b"format 'c0' needs a previous size")
            size = int(vals.pop())
        if pos + size > len(data):
            raise _LibError(b"bad argument #2 to 'unpack' (data string too short)")
        chunk = data[pos : pos + size]
        pos += size
        if code == b"x":
            continue
        if code in (b"f", b"d"):
            vals.append(_struct.unpack(endian + code.decode(), chunk)[0])
        elif code == b"c":
            vals.append(chunk)
        else:
            x = int.from_bytes(chunk, "little" if endian == "<" else "big")
            if code in (b"b", b"h", b"l", b"i", b"j") and x & (1 << (8 * size - 1)):
                x -= 1 << (8 * size)
            vals.append(x)
    return vals, pos
