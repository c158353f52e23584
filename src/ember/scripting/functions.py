"""Function libraries (Redis 7.0 ``FUNCTION LOAD`` / ``FCALL``).

The store is ``server.functions``: ``libraries()`` lists ``(name, code)`` for the RDB
writer and AOF rewrite, ``load(code, replace)`` is what RDB loading calls. All
libraries live in one Lua VM (its own, apart from EVAL's); a library's code runs once
at load time with only the load-time API (``redis.register_function``, ``redis.log``,
``redis.LOG_*``, ``redis.REDIS_VERSION*``) visible, and must register at least one
function. Function names are case-insensitive, library names are not.
"""

from __future__ import annotations

import re
import struct
import time
from typing import TYPE_CHECKING, Any

from lupa import lua51

from ember.errors import CommandError
from ember.protocol.resp import Raw, Status
from ember.scripting.engine import FLAG_BY_NAME, FLAG_NAMES, LuaVM

if TYPE_CHECKING:
    from ember.scripting.engine import ScriptingEngine

_NAME_RE = re.compile(rb"[A-Za-z0-9_]+\Z")
_BAD_NAME = (
    "Library names can only contain letters, numbers, or underscores(_) and must be at "
    "least one character long"
)
LOAD_TIMEOUT_S = 0.5
RDB_OPCODE_FUNCTION2 = 245


class Function:
    __slots__ = ("name", "callback", "flags", "desc", "lib")

    def __init__(
        self, name: bytes, callback: Any, flags: int, desc: bytes | None, lib: Library
    ) -> None:
        self.name = name
        self.callback = callback
        self.flags = flags
        self.desc = desc
        self.lib = lib


class Library:
    __slots__ = ("name", "code", "functions")

    def __init__(self, name: bytes, code: bytes) -> None:
        self.name = name
        self.code = code
        self.functions: dict[bytes, Function] = {}  # lowercased name -> function


class LibraryStore:
    def __init__(self, engine: ScriptingEngine) -> None:
        self.engine = engine
        self._vm: LuaVM | None = None
        self.libs: dict[bytes, Library] = {}
        self.funcs: dict[bytes, Function] = {}
        self._loading: Library | None = None

    @property
    def vm(self) -> LuaVM:
        if self._vm is None:
            self._vm = LuaVM(self.engine, "function", {b"register_function": self._register})
        return self._vm

    # ------------------------------------------------------------------ RDB interface
    def libraries(self) -> list[tuple[bytes, bytes]]:
        return [(lib.name, lib.code) for lib in self.libs.values()]

    def load(self, code: bytes, replace: bool = False) -> bytes:
        """FUNCTION LOAD (raises CommandError with Redis's text)."""
        lib = self.compile(code)
        old = self.libs.get(lib.name)
        if old is not None and not replace:
            raise CommandError(f"ERR Library '{_s(lib.name)}' already exists")
        for key, fn in lib.functions.items():
            other = self.funcs.get(key)
            if other is not None and other.lib is not old:
                raise CommandError(f"ERR Function {_s(fn.name)} already exists")
        if old is not None:
            self._unlink(old)
        self._link(lib)
        return lib.name

    def flush(self) -> None:
        self.libs = {}
        self.funcs = {}

    def delete(self, name: bytes) -> None:
        lib = self.libs.get(name)
        if lib is None:
            raise CommandError("ERR Library not found")
        self._unlink(lib)

    def _link(self, lib: Library) -> None:
        self.libs[lib.name] = lib
        for key, fn in lib.functions.items():
            self.funcs[key] = fn

    def _unlink(self, lib: Library) -> None:
        del self.libs[lib.name]
        for key in lib.functions:
            if self.funcs.get(key) is not None and self.funcs[key].lib is lib:
                del self.funcs[key]

    # ------------------------------------------------------------------ compile
    def compile(self, code: bytes) -> Library:
        """functionsCreateWithLibraryCtx up to registration (no collision checks)."""
        name, engine, body = parse_metadata(code)
        if not _NAME_RE.match(name):
            raise CommandError(f"ERR {_BAD_NAME}")
        if engine.lower() != b"lua":
            raise CommandError(f"ERR Engine '{_s(engine)}' not found")
        vm = self.vm
        fn, err = vm.compile(body, b"@user_function")
        if fn is None:
            raise CommandError(f"ERR Error compiling function: {_s(err or b'')}".replace("\n", " "))
        lib = Library(name, code)
        eng = self.engine
        self._loading = lib
        eng.load_deadline = time.monotonic() + LOAD_TIMEOUT_S
        try:
            ok, e = vm.api.load_library(fn)
        finally:
            self._loading = None
            eng.load_deadline = 0.0
        if not ok:
            if lua51.lua_type(e) == "table":
                msg = e[b"err"]
                text = _s(msg) if type(msg) is bytes else "(null)"
            else:
                text = "ERR " + _s(e if type(e) is bytes else str(e).encode())
            raise CommandError(f"ERR Error registering functions: {text}".replace("\n", " "))
        if not lib.functions:
            raise CommandError("ERR No functions registered")
        return lib

    def _register(
        self, name: bytes, callback: Any, flags_t: Any, desc: bytes | None
    ) -> bytes | None:
        lib = self._loading
        if lib is None:
            return b"redis.register_function can only be called on FUNCTION LOAD command"
        if not _NAME_RE.match(name):
            return _BAD_NAME.encode()
        key = name.lower()
        if key in lib.functions:
            return b"Function already exists in the library"
        flags = 0
        for f in flags_t.values():
            flags |= FLAG_BY_NAME[f.decode()]
        lib.functions[key] = Function(name, callback, flags, desc, lib)
        return None

    # ------------------------------------------------------------------ DUMP / RESTORE
    def dump(self) -> bytes:
        from ember.persistence.rdb.crc64 import crc64
        from ember.persistence.rdb.writer import save_string

        parts = [
            bytes((RDB_OPCODE_FUNCTION2,)) + save_string(lib.code) for lib in self.libs.values()
        ]
        head = b"".join(parts) + struct.pack("<H", 10)
        return head + struct.pack("<Q", crc64(head))

    def restore(self, payload: bytes, policy: str) -> None:
        from ember.persistence.rdb.dump import verify_payload
        from ember.persistence.rdb.reader import RdbReader

        try:
            verify_payload(payload)
        except Exception:
            raise CommandError("ERR DUMP payload version or checksum are wrong") from None
        body_end = len(payload) - 10
        reader = RdbReader(payload[:body_end], verify_checksum=False)
        new: dict[bytes, Library] = {}
        new_funcs: dict[bytes, Function] = {}
        while reader.pos < body_end:
            t = payload[reader.pos]
            reader.pos += 1
            if t != RDB_OPCODE_FUNCTION2:
                raise CommandError("ERR given type is not a function")
            try:
                code = reader.load_string()
            except Exception:
                raise CommandError("ERR failed loading the given functions payload") from None
            lib = self.compile(code)
            if lib.name in new:
                raise CommandError(f"ERR Library '{_s(lib.name)}' already exists")
            for key, fn in lib.functions.items():
                if key in new_funcs:
                    raise CommandError(f"ERR Function {_s(fn.name)} already exists")
                new_funcs[key] = fn
            new[lib.name] = lib
        if policy == "flush":
            self.flush()
        removed: list[Library] = []
        try:
            for name in new:
                old = self.libs.get(name)
                if old is not None:
                    if policy != "replace":
                        raise CommandError(f"ERR Library {_s(name)} already exists")
                    self._unlink(old)
                    removed.append(old)
            for key, fn in new_funcs.items():
                if key in self.funcs:
                    raise CommandError(f"ERR Function {_s(fn.name)} already exists")
        except CommandError:
            for old in removed:
                self._link(old)
            raise
        for lib in new.values():
            self._link(lib)

    # ------------------------------------------------------------------ FUNCTION LIST
    def list(self, pattern: bytes | None, with_code: bool, resp3: bool) -> list[Any]:
        from ember.server.pubsub import glob_match

        out = []
        for lib in self.libs.values():
            if pattern is not None and not glob_match(pattern, lib.name, nocase=True):
                continue
            funcs = []
            for fn in lib.functions.values():
                names = [n for bit, n in FLAG_NAMES if fn.flags & bit]
                flags: Any = [Status(n) for n in names]
                if resp3:  # a set, in Redis's order
                    flags = Raw(
                        b"~%d\r\n" % len(names) + b"".join(b"+%s\r\n" % n.encode() for n in names)
                    )
                funcs.append(
                    {
                        b"name": fn.name,
                        b"description": fn.desc,
                        b"flags": flags,
                    }
                )
            entry: dict[bytes, Any] = {
                b"library_name": lib.name,
                b"engine": b"LUA",
                b"functions": funcs,
            }
            if with_code:
                entry[b"library_code"] = lib.code
            out.append(entry)
        return out


def parse_metadata(code: bytes) -> tuple[bytes, bytes, bytes]:
    """functionExtractLibMetaData: (name, engine, code after the shebang line)."""
    from ember.scripting.engine import split_args

    if not code.startswith(b"#!"):
        raise CommandError("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid library metadata")
    parts = split_args(code[:end])
    if not parts:
        raise CommandError("ERR Invalid library metadata")
    engine = parts[0][2:]
    name: bytes | None = None
    for p in parts[1:]:
        if p[:5].lower() == b"name=":
            if name is not None:
                raise CommandError(
                    "ERR Invalid metadata value, name argument was given multiple times"
                )
            name = p[5:]
            continue
        raise CommandError(f"ERR Invalid metadata value given: {_s(p)}")
    if name is None:
        raise CommandError("ERR Library name was not given")
    return name, engine, code[end:]


def _s(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")
