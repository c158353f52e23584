"""Byte sinks for snapshots: a plain file, a background-thread file, and memory.

``TempFileSink`` implements the durable-write protocol: data goes to ``temp-<pid>.rdb``
(or another temp name), ``commit()`` flushes, fsyncs, renames over the target and
fsyncs the directory, so a crash at any point leaves the previous good file.
``ThreadedFileSink`` does the same with every write and fsync on one worker thread,
so the event loop never waits for the disk (it only waits when more than
``max_pending`` bytes are queued).
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor

from ember.persistence import fs as fsmod


class MemorySink:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.chunks.append(bytes(data))

    def getvalue(self) -> bytes:
        return b"".join(self.chunks)


class TempFileSink:
    """Synchronous durable file writer (SAVE, fork child)."""

    def __init__(self, target: str, tmp: str | None = None, autosync: int = 0) -> None:
        self.target = target
        d = os.path.dirname(target) or "."
        self.dir = d
        self.tmp = tmp or os.path.join(d, f"temp-{os.getpid()}.rdb")
        self.fs = fsmod.get_fs()
        self.fd = self.fs.open_write(self.tmp)
        self.size = 0
        self.autosync = autosync
        self._since_sync = 0
        self._settled = False

    def write(self, data: bytes) -> None:
        self.fs.write(self.fd, data, self.tmp)
        self.size += len(data)
        if self.autosync:
            self._since_sync += len(data)
            if self._since_sync >= self.autosync:
                self.fs.fsync(self.fd, self.tmp)
                self._since_sync = 0

    def commit(self) -> None:
        fs = self.fs
        fs.fsync(self.fd, self.tmp)
        fs.close(self.fd, self.tmp)
        self.fd = -1
        fs.rename(self.tmp, self.target)
        self._settled = True  # the temp name is gone: a later abort() must not unlink it
        fs.fsync_dir(self.dir)

    def abort(self) -> None:
        """Close and remove the temp file (once: the name may be reused afterwards)."""
        if self._settled:
            return
        self._settled = True
        if self.fd >= 0:
            try:
                self.fs.close(self.fd, self.tmp)
            except OSError:
                pass
            self.fd = -1
        try:
            self.fs.unlink(self.tmp)
        except OSError:
            pass


class ThreadedFileSink:
    """Like :class:`TempFileSink`, but disk work happens on a worker thread."""

    def __init__(
        self, target: str, tmp: str | None = None, autosync: int = 0, max_pending: int = 8 << 20
    ) -> None:
        self._inner = TempFileSink(target, tmp, autosync)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ember-bgwrite")
        self._futures: list[Future[None]] = []
        self._pending = 0
        self.max_pending = max_pending
        self.error: BaseException | None = None
        self._settled = False

    @property
    def size(self) -> int:
        return self._inner.size

    @property
    def tmp(self) -> str:
        return self._inner.tmp

    def write(self, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        self._pending += len(data)
        fut = self._pool.submit(self._write, data)
        self._futures.append(fut)
        if self._pending > self.max_pending or len(self._futures) > 256:
            self._drain(keep=8)

    def _write(self, data: bytes) -> None:
        try:
            self._inner.write(data)
        finally:
            self._pending -= len(data)

    def _drain(self, keep: int = 0) -> None:
        while len(self._futures) > keep:
            fut = self._futures.pop(0)
            exc = fut.exception()
            if exc is not None and self.error is None:
                self.error = exc
        if self.error is not None:
            raise self.error

    def commit_in_thread(self) -> Future[None]:
        """Queue fsync + rename + dir fsync; the future completes when durable."""
        return self._pool.submit(self._commit)

    def _commit(self) -> None:
        for fut in list(self._futures):
            exc = fut.exception()
            if exc is not None:
                raise exc
        self._inner.commit()

    def abort(self) -> None:
        """Wait for queued writes, then close and remove the temp file (idempotent)."""
        if self._settled:
            return
        self._settled = True
        try:
            self._pool.submit(self._inner.abort).result()
        except BaseException:
            pass

    def close(self) -> None:
        self._pool.shutdown(wait=True)
