"""SnapshotEncoder for an AOF base in RESP (``aof-use-rdb-preamble no``).

Wraps :mod:`.rewrite` (the Redis 7.0 rewrite command stream) for the background
snapshot engine: the walker calls ``write_entries`` for unchanged keys, the write hook
calls ``encode_entry`` to preserve a key's old value as bytes.
"""

from __future__ import annotations

import time
from typing import Any

from ember.persistence.aof.format import encode_select, timestamp_annotation
from ember.persistence.aof.rewrite import function_load_command, rewrite_key

FLUSH_AT = 64 * 1024


class AofRewriteEncoder:
    def __init__(self, sink: Any, functions: list[bytes], timestamps: bool) -> None:
        self.sink = sink
        self.functions = functions
        self.timestamps = timestamps
        self.buf = bytearray()

    def _maybe_flush(self) -> None:
        if len(self.buf) >= FLUSH_AT:
            self.sink.write(bytes(self.buf))
            self.buf.clear()

    def begin(self) -> None:
        if self.timestamps:
            self.buf += timestamp_annotation(int(time.time()))
        for code in self.functions:
            self.buf += function_load_command(code)

    def begin_db(self, dbid: int, size: int, expires: int) -> None:
        self.buf += encode_select(dbid)

    def encode_entry(self, dbid: int, key: bytes, value: Any, expire: int | None) -> bytes:
        return b"".join(rewrite_key(key, value, expire))

    def write_entries(self, dbid: int, items: list[tuple[bytes, Any, int | None]]) -> None:
        buf = self.buf
        for key, value, expire in items:
            for chunk in rewrite_key(key, value, expire):
                buf += chunk
        self._maybe_flush()

    def write_raw(self, data: bytes) -> None:
        self.buf += data
        self._maybe_flush()

    def end(self) -> None:
        if self.buf:
            self.sink.write(bytes(self.buf))
            self.buf.clear()
