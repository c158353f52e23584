"""Every durability syscall ember makes: open, write, fsync, truncate, rename, dir fsync.

Persistence code never calls ``os.write``/``os.fsync``/``os.replace`` directly; it calls
the module-level :data:`FS` object. Tests swap it for a recording or failing double
(:class:`RecordingFS`, :class:`FaultFS`) to simulate disk-full, I/O errors and power loss
(bytes written but not fsynced are lost).
"""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass, field


class PersistenceIOError(OSError):
    """A failed durability step; ``op`` names it (write, fsync, rename, ...)."""

    def __init__(self, op: str, err: OSError, path: str = "") -> None:
        super().__init__(err.errno, err.strerror or str(err))
        self.op = op
        self.path = path
        self.filename = path

    def __str__(self) -> str:
        return f"{self.op} {self.path}: {self.strerror}"


class FileSystem:
    """The real thing. All methods raise :class:`PersistenceIOError`."""

    def open_write(self, path: str, append: bool = False) -> int:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        try:
            return os.open(path, flags, 0o644)
        except OSError as e:
            raise PersistenceIOError("open", e, path) from None

    def write(self, fd: int, data: bytes | memoryview, path: str = "") -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
            except InterruptedError:
                continue
            except OSError as e:
                raise PersistenceIOError("write", e, path) from None
            if n == 0:
                raise PersistenceIOError(
                    "write", OSError(errno.ENOSPC, "No space left on device"), path
                )
            view = view[n:]

    def fsync(self, fd: int, path: str = "") -> None:
        try:
            os.fsync(fd)
        except OSError as e:
            raise PersistenceIOError("fsync", e, path) from None

    def truncate(self, fd: int, size: int, path: str = "") -> None:
        try:
            os.ftruncate(fd, size)
        except OSError as e:
            raise PersistenceIOError("ftruncate", e, path) from None

    def close(self, fd: int, path: str = "") -> None:
        try:
            os.close(fd)
        except OSError as e:
            raise PersistenceIOError("close", e, path) from None

    def rename(self, src: str, dst: str) -> None:
        try:
            os.replace(src, dst)
        except OSError as e:
            raise PersistenceIOError("rename", e, dst) from None

    def unlink(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise PersistenceIOError("unlink", e, path) from None

    def fsync_dir(self, path: str) -> None:
        try:
            fd = os.open(path or ".", os.O_RDONLY)
        except OSError as e:
            raise PersistenceIOError("open dir", e, path) from None
        try:
            os.fsync(fd)
        except OSError as e:
            raise PersistenceIOError("fsync dir", e, path) from None
        finally:
            os.close(fd)

    def size(self, fd: int) -> int:
        return os.fstat(fd).st_size


FS: FileSystem = FileSystem()


def set_fs(fs: FileSystem) -> FileSystem:
    """Install a file-system layer (tests); returns the previous one."""
    global FS
    old, FS = FS, fs
    return old


def get_fs() -> FileSystem:
    return FS


def write_file_atomic(path: str, data: bytes) -> None:
    """temp file + write + fsync + rename + fsync(dir): the old file survives any crash."""
    fs = FS
    d = os.path.dirname(path) or "."
    tmp = os.path.join(d, f"temp-{os.getpid()}-{os.path.basename(path)}")
    fd = fs.open_write(tmp)
    try:
        fs.write(fd, data, tmp)
        fs.fsync(fd, tmp)
    except BaseException:
        fs.close(fd, tmp)
        fs.unlink(tmp)
        raise
    fs.close(fd, tmp)
    try:
        fs.rename(tmp, path)
    except BaseException:
        fs.unlink(tmp)
        raise
    fs.fsync_dir(d)


# --------------------------------------------------------------------------- test doubles


@dataclass
class Op:
    kind: str  # write | fsync | rename | truncate | open | unlink | fsync_dir
    path: str
    data: bytes = b""
    arg: str | int = ""


@dataclass
class RecordingFS(FileSystem):
    """Performs every operation and records it, for power-loss replay in tests."""

    ops: list[Op] = field(default_factory=list)
    paths: dict[int, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def open_write(self, path: str, append: bool = False) -> int:
        fd = super().open_write(path, append)
        with self.lock:
            self.paths[fd] = path
            self.ops.append(Op("open", path, arg="a" if append else "w"))
        return fd

    def write(self, fd: int, data: bytes | memoryview, path: str = "") -> None:
        super().write(fd, data, path)
        with self.lock:
            self.ops.append(Op("write", self.paths.get(fd, path), bytes(data)))

    def fsync(self, fd: int, path: str = "") -> None:
        super().fsync(fd, path)
        with self.lock:
            self.ops.append(Op("fsync", self.paths.get(fd, path)))

    def truncate(self, fd: int, size: int, path: str = "") -> None:
        super().truncate(fd, size, path)
        with self.lock:
            self.ops.append(Op("truncate", self.paths.get(fd, path), arg=size))

    def rename(self, src: str, dst: str) -> None:
        super().rename(src, dst)
        with self.lock:
            self.ops.append(Op("rename", src, arg=dst))

    def unlink(self, path: str) -> None:
        super().unlink(path)
        with self.lock:
            self.ops.append(Op("unlink", path))

    def fsync_dir(self, path: str) -> None:
        super().fsync_dir(path)
        with self.lock:
            self.ops.append(Op("fsync_dir", path))


@dataclass
class FaultFS(FileSystem):
    """Fails chosen operations with an errno (ENOSPC, EIO...) until ``heal()``."""

    fail_ops: dict[str, int] = field(default_factory=dict)  # op -> errno
    after: int = 0  # let this many matching calls succeed first
    calls: dict[str, int] = field(default_factory=dict)
    path_filter: str = ""

    def _check(self, op: str, path: str) -> None:
        if op not in self.fail_ops or (self.path_filter and self.path_filter not in path):
            return
        n = self.calls.get(op, 0)
        self.calls[op] = n + 1
        if n >= self.after:
            code = self.fail_ops[op]
            raise PersistenceIOError(op, OSError(code, os.strerror(code)), path)

    def heal(self) -> None:
        self.fail_ops.clear()

    def write(self, fd: int, data: bytes | memoryview, path: str = "") -> None:
        self._check("write", path)
        super().write(fd, data, path)

    def fsync(self, fd: int, path: str = "") -> None:
        self._check("fsync", path)
        super().fsync(fd, path)

    def rename(self, src: str, dst: str) -> None:
        self._check("rename", dst)
        super().rename(src, dst)
