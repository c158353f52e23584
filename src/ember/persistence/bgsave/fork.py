"""The fork engine: a direct child of the server writes the snapshot, like Redis.

The child inherits the dataset through the kernel's copy-on-write pages, serializes it
with the same encoder the forkless engine uses (synchronously, no event loop), commits
the temp file and exits 0 (1 on error). The parent polls it from the cron
(``poll_child``), measures its copied memory from ``/proc/<pid>/smaps_rollup``
(Private_Dirty, as Redis measures COW), and kills it on SHUTDOWN. If the server dies
(kill -9) the kernel kills the child too (``PR_SET_PDEATHSIG``): an orphaned child would
otherwise go on and rename its older snapshot over a ``dump.rdb`` that a restarted
server may have written since (Redis's own child does exactly that). Its temp file is
left behind, like Redis's after a crash.

In CPython the child's reference-count updates dirty nearly every page it reads, so this
engine roughly doubles memory; it stays available for comparison (``bgsave-engine fork``).
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING, Any

from ember.persistence.bgsave.cow import ForklessSnapshot
from ember.persistence.sinks import TempFileSink

if TYPE_CHECKING:
    from ember.persistence.manager import BgJob
    from ember.server.server import Server


PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGKILL when the parent dies (Linux ``prctl``)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the child outlives a killed parent, as in Redis
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def fork_snapshot(
    server: Server, target: str, tmp: str, make_encoder: Any, key_delay_us: int
) -> int:
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    # ---- child
    code = 1
    try:
        _die_with_parent(parent)
        from ember.server import log

        log.set_role("C")
        # like Redis's child: do not keep the server's listening sockets open, so a
        # restart can bind the port while a save child is still finishing
        for lsrv in server.servers:
            for sock in lsrv.sockets or ():
                try:
                    os.close(sock.fileno())
                except OSError:
                    pass
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:
            pass
        sink = TempFileSink(target, tmp, autosync=32 << 20)
        try:
            snap = ForklessSnapshot(server, make_encoder(sink), key_delay_us=0)
            snap.start(install_hooks=False)
            if key_delay_us > 0:
                _slow_run(snap, key_delay_us)
            else:
                snap.run_sync()
            sink.commit()
            log.notice("DB saved on disk")
            cow = _private_dirty(os.getpid())
            if cow:
                log.notice(
                    f"Fork CoW for RDB: current {cow // (1024 * 1024)} MB, peak {cow // (1024 * 1024)} MB, average {cow // (1024 * 1024)} MB"
                )
            code = 0
        except OSError as e:
            log.warning(f"Write error saving DB on disk: {e.strerror}")
            sink.abort()
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _slow_run(snap: ForklessSnapshot, delay_us: int) -> None:
    enc = snap.encoder
    enc.begin()
    for db in snap.dbs:
        enc.begin_db(db.dbid, db.size, db.expires_count)
        while db.pos < db.slots:
            snap._walk(db, 1, 1 << 62)
            time.sleep(delay_us / 1e6)
    enc.end()


def _private_dirty(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Private_Dirty:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def child_cow_size(job: BgJob) -> int:
    if not job.pid:
        return 0
    cow = _private_dirty(job.pid)
    if cow > job.peak_cow:
        job.peak_cow = cow
    return cow


def poll_child(job: BgJob) -> bool | None:
    """None while running; True/False when the child exited with success/failure."""
    child_cow_size(job)
    try:
        pid, status = os.waitpid(job.pid, os.WNOHANG)
    except ChildProcessError:
        return False
    if pid == 0:
        return None
    return os.waitstatus_to_exitcode(status) == 0


def kill_child(pid: int, tmp: str) -> None:
    try:
        os.kill(pid, signal.SIGUSR1)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
    try:
        os.unlink(tmp)
    except OSError:
        pass
