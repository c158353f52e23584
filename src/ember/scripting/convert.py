"""RESP <-> Lua value conversion, with Redis 7.0's rules.

Command replies reach Lua the way Redis's ``redisProtocolToLuaType`` builds them from the
protocol the script client speaks (RESP2 unless the script called ``redis.setresp(3)``):

=================  =============================  ==============================
reply              RESP2 script                   RESP3 script
=================  =============================  ==============================
integer            number                         number
bulk               string                         string
null               ``false``                      ``nil``
array              table (nested)                 table (nested)
status             ``{ok=...}``                   ``{ok=...}``
error              ``{err=...}``                  ``{err=...}``
double             string (``%.17g``)             ``{double=n}``
map                flat table                     ``{map={k=v}}``
set                table                          ``{set={m=true}}``
boolean            number 1 / 0                   ``true`` / ``false``
verbatim           string                         ``{verbatim_string={format=, string=}}``
big number         string                         ``{big_number=s}``
=================  =============================  ==============================

Lua values returned by a script become replies as ``luaReplyToRedisReply`` does: number ->
integer (C truncation), string -> bulk, ``true`` -> 1 (RESP3 script: boolean), ``false``
and ``nil`` -> null (RESP3 script: ``false`` -> boolean), tables with ``err`` / ``ok`` /
``double`` / ``map`` / ``set`` / ``big_number`` fields, other tables -> array stopping at
the first nil.
"""

from __future__ import annotations

import math
from typing import Any

from lupa import lua51

from ember.errors import CommandError
from ember.protocol.resp import (
    NULL_ARRAY,
    BigNumber,
    Push,
    Raw,
    Status,
    Verbatim,
    format_double,
)

_lua_type = lua51.lua_type
_LLONG_MIN = -(1 << 63)
_LLONG_MAX = (1 << 63) - 1
MAX_DEPTH = 200  # nesting limit of reply conversion (Redis: Lua C stack exhaustion)


class LuaError:
    """An ``{err=...}`` value coming from a reply (not yet a Lua table)."""

    __slots__ = ("message",)

    def __init__(self, message: bytes) -> None:
        self.message = message


def lua_number_to_int(n: Any) -> int:
    """``(long long)`` cast of a Lua number: truncation; NaN/out of range -> LLONG_MIN."""
    if type(n) is int:
        if _LLONG_MIN <= n <= _LLONG_MAX:
            return n
        return _LLONG_MIN
    if math.isnan(n) or math.isinf(n):
        return _LLONG_MIN
    i = int(n)
    if i < _LLONG_MIN or i > _LLONG_MAX:
        return _LLONG_MIN
    return i


def _nonl(b: bytes) -> bytes:
    return b.replace(b"\r", b" ").replace(b"\n", b" ")


class Converter:
    """Converts between command replies and Lua values for one Lua runtime."""

    def __init__(self, runtime: Any) -> None:
        self.rt = runtime
        self.table_from = runtime.table_from

    # ------------------------------------------------------------------ reply -> Lua
    def to_lua(self, reply: Any, resp3: bool, depth: int = 0) -> Any:
        t = type(reply)
        if t is bytes:
            return reply
        if t is int:
            return reply
        if reply is None or reply is NULL_ARRAY:
            return None if resp3 else False
        if t is list or t is tuple:
            if depth > MAX_DEPTH:
                return self.table_from({b"err": b"ERR reached lua stack limit"})
            out = []
            for x in reply:
                tx = type(x)
                if tx is bytes or tx is int:
                    out.append(x)
                else:
                    out.append(self.to_lua(x, resp3, depth + 1))
            return self.table_from(out)
        if t is bytearray:
            return bytes(reply)
        if t is Status:
            return self.table_from({b"ok": reply.text})
        if isinstance(reply, CommandError):
            return self.table_from({b"err": _err_text(reply.message)})
        if t is LuaError:
            return self.table_from({b"err": reply.message})
        if t is float:
            if resp3:
                return self.table_from({b"double": reply})
            return format_double(reply)
        if t is bool:
            if resp3:
                return reply
            return 1 if reply else 0
        if t is dict:
            if resp3:
                inner = {
                    self.to_lua(k, resp3, depth + 1): self.to_lua(v, resp3, depth + 1)
                    for k, v in reply.items()
                }
                return self.table_from({b"map": self.table_from(inner)})
            flat: list[Any] = []
            for k, v in reply.items():
                flat.append(k)
                flat.append(v)
            return self.to_lua(flat, resp3, depth)
        if t is set or t is frozenset:
            if resp3:
                inner = {self.to_lua(k, resp3, depth + 1): True for k in reply}
                return self.table_from({b"set": self.table_from(inner)})
            return self.to_lua(list(reply), resp3, depth)
        if t is Verbatim:
            if resp3:
                vs = self.table_from({b"format": reply.fmt, b"string": reply.text})
                return self.table_from({b"verbatim_string": vs})
            return reply.text
        if t is BigNumber:
            if resp3:
                return self.table_from({b"big_number": b"%d" % reply.value})
            return b"%d" % reply.value
        if t is Raw:
            return self.to_lua(parse_resp(reply.data), resp3, depth)
        if t is Push:
            return self.to_lua(list(reply.items), resp3, depth)
        if isinstance(reply, str):
            return reply.encode()
        return None if resp3 else False

    # ------------------------------------------------------------------ Lua -> reply
    def to_reply(self, value: Any, resp3: bool, depth: int = 0) -> Any:
        t = type(value)
        if t is bytes:
            return value
        if t is int or t is float:
            return lua_number_to_int(value)
        if t is bool:
            if resp3:
                return value
            return 1 if value else None
        if value is None:
            return None
        if _lua_type(value) != "table":
            return None
        if depth > MAX_DEPTH:
            return CommandError("ERR reached lua stack limit")
        err = value[b"err"]
        if type(err) is bytes:
            return CommandError(_nonl(err).decode("utf-8", "surrogateescape"))
        ok = value[b"ok"]
        if type(ok) is bytes:
            return Status(_nonl(ok))
        dbl = value[b"double"]
        if type(dbl) is float or type(dbl) is int:
            return float(dbl)
        big = value[b"big_number"]
        if type(big) is bytes:
            return Raw(b"(" + _nonl(big) + b"\r\n") if resp3 else _nonl(big)
        m = value[b"map"]
        if m is not None and _lua_type(m) == "table":
            return {
                _hashable(self.to_reply(k, resp3, depth + 1)): self.to_reply(v, resp3, depth + 1)
                for k, v in m.items()
            }
        s = value[b"set"]
        if s is not None and _lua_type(s) == "table":
            return {_hashable(self.to_reply(k, resp3, depth + 1)) for k in s.keys()}
        out = []
        i = 1
        while True:
            v = value[i]
            if v is None:
                break
            tv = type(v)
            if tv is bytes:
                out.append(v)
            else:
                out.append(self.to_reply(v, resp3, depth + 1))
            i += 1
        return out


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(v)
    if isinstance(v, dict):
        return tuple(v.items())
    return v


def _err_text(message: str) -> bytes:
    return message.encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------- RESP parsing
def parse_resp(data: bytes) -> Any:
    """Parse one pre-encoded reply (``Raw``) into reply values."""
    value, _ = _parse(data, 0)
    return value


def _line(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.index(b"\r\n", pos)
    return data[pos:end], end + 2


def _parse(data: bytes, pos: int) -> tuple[Any, int]:
    kind = data[pos : pos + 1]
    line, pos = _line(data, pos + 1)
    if kind == b"$":
        n = int(line)
        if n < 0:
            return None, pos
        return data[pos : pos + n], pos + n + 2
    if kind == b":":
        return int(line), pos
    if kind == b"+":
        return Status(line), pos
    if kind == b"-":
        return CommandError(line.decode("utf-8", "surrogateescape")), pos
    if kind in (b"*", b">", b"~"):
        n = int(line)
        if n < 0:
            return NULL_ARRAY, pos
        items = []
        for _ in range(n):
            v, pos = _parse(data, pos)
            items.append(v)
        if kind == b"~":
            return {_hashable(x) for x in items}, pos
        return items, pos
    if kind == b"%":
        n = int(line)
        d: dict[Any, Any] = {}
        for _ in range(n):
            k, pos = _parse(data, pos)
            v, pos = _parse(data, pos)
            d[_hashable(k)] = v
        return d, pos
    if kind == b"_":
        return None, pos
    if kind == b",":
        return float(line), pos
    if kind == b"#":
        return line == b"t", pos
    if kind == b"(":
        return BigNumber(int(line)), pos
    if kind == b"=":
        n = int(line)
        body = data[pos : pos + n]
        return Verbatim(body[4:], body[:3]), pos + n + 2
    raise ValueError(f"bad RESP type {kind!r}")
