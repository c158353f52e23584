"""The start values a forkless save's write hook holds for one db (see :mod:`.cow`).

Records are appended once, in the order the keys were first written, and read back
once, in the same order, when the walker has finished the db. Each record is the key
and the encoded entry, each preceded by its length (4 bytes, little endian); no Python
object is kept per record. Memory holds at most about ``spill_at`` bytes of records: whenever
the buffer reaches that size it is handed, whole, to a worker thread that appends it
to an unnamed temp file in ``spill_dir`` (removed by the kernel when closed, even if
the process dies). A buffer always holds whole records, so every spilled chunk does
too and is read back as one unit.

Disk errors never reach the client whose write triggered the hook: the arena records
the error, and the save fails when it next looks at the arena (``raise_error``).
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO

LEN = struct.Struct("<I")


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


def _pread_all(fd: int, size: int, offset: int) -> bytes:
    parts = []
    while size > 0:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            raise OSError(f"held records: temp file ended {size} bytes early")
        parts.append(chunk)
        size -= len(chunk)
        offset += len(chunk)
    return b"".join(parts)


class HeldArena:
    SPILL_AT = 512 * 1024

    def __init__(self, spill_dir: str | None = None, spill_at: int | None = None) -> None:
        self.buf = bytearray()
        self.size = 0  # bytes of records held (in memory and spilled)
        self.spill_dir = spill_dir
        self.spill_at = spill_at if spill_at is not None else self.SPILL_AT
        self.file: IO[bytes] | None = None
        self.pool: ThreadPoolExecutor | None = None
        self.chunks: list[tuple[int, int]] = []  # (offset, length) in the temp file
        self.futures: list[Future[None]] = []
        self.error: BaseException | None = None

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    @property
    def in_memory(self) -> int:
        return len(self.buf)

    def append(self, key: bytes, record: bytes) -> None:
        buf = self.buf
        n = len(buf)
        buf += LEN.pack(len(key))
        buf += key
        buf += LEN.pack(len(record))
        buf += record
        self.size += len(buf) - n
        if len(buf) >= self.spill_at and self.spill_dir is not None and self.error is None:
            self._spill()

    def _spill(self) -> None:
        try:
            if self.file is None:
                self.file = tempfile.TemporaryFile(dir=self.spill_dir, prefix="temp-cow-")
                self.pool = ThreadPoolExecutor(1, thread_name_prefix="ember-cowspill")
            assert self.pool is not None
            data = bytes(self.buf)
            offset = self.chunks[-1][0] + self.chunks[-1][1] if self.chunks else 0
            self.futures.append(self.pool.submit(_pwrite_all, self.file.fileno(), data, offset))
        except OSError as e:
            self.error = e  # keep holding in memory; the save fails at its next step
            return
        self.chunks.append((offset, len(data)))
        self.buf = bytearray()

    def raise_error(self) -> None:
        for fut in self.futures:
            if fut.done() and fut.exception() is not None and self.error is None:
                self.error = fut.exception()
        if self.error is not None:
            raise self.error

    def records(self) -> Iterator[tuple[bytes, bytes | bytearray]]:
        """(key, encoded entry) in the order they were appended."""
        unpack = LEN.unpack_from
        for chunk in self.read_chunks():
            off = 0
            end = len(chunk)
            while off < end:
                (n,) = unpack(chunk, off)
                off += 4
                key = bytes(chunk[off : off + n])
                off += n
                (n,) = unpack(chunk, off)
                off += 4
                yield key, chunk[off : off + n]
                off += n

    def read_chunks(self) -> Iterator[bytes | bytearray]:
        """The records in order, chunk by chunk (each chunk holds whole records)."""
        for fut in self.futures:
            fut.result()  # written (or raises the disk error)
        self.futures.clear()
        if self.file is not None:
            fd = self.file.fileno()
            for offset, length in self.chunks:
                yield _pread_all(fd, length, offset)
        if self.buf:
            yield self.buf

    def close(self) -> None:
        self.buf = bytearray()
        self.size = 0
        self.chunks = []
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
        self.futures = []
        if self.file is not None:
            try:
                self.file.close()
            except OSError:
                pass
            self.file = None
