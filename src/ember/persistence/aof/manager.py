"""The append-only file at run time: propagation sink, fsync policies, rewrite, loading.

Layout and manifest rules come from :mod:`.manifest`, the RESP parser from :mod:`.parser`,
the rewrite encoding from :mod:`.rewrite`/the RDB writer; this module owns the file
descriptors and the policies.

Write path (one propagation stream feeds it): every executed write arrives through
:meth:`AofManager.feed` as ``(db, argv)`` ops and is appended to ``buf`` (with ``SELECT``
when the db changes and ``#TS:`` annotations when enabled). Once per event-loop turn
(``loop.call_soon``) the buffer is written:

* ``appendfsync always``: write + fsync run on a worker thread; replies of every client
  whose commands produced AOF bytes are *held* (see :meth:`hold_output`) until the bytes
  they depend on are durable. All clients' writes of one loop turn share one
  write+fsync (group commit); while it runs, the next batch accumulates.
* ``everysec``: write on the loop; fsync on the worker thread at most once a second; if
  the previous fsync is still running when the next is due, the write goes ahead and
  ``aof_delayed_fsync`` is counted (Redis postpones up to 2 s).
* ``no``: write only.

A write or fsync error sets ``aof_last_write_status:err``; writes are then refused with
``-MISCONF`` and unwritten bytes stay in ``buf`` (never acknowledged under ``always``)
until the cron's retry succeeds. A short write is truncated back to the last good size.

Rewrite (BGREWRITEAOF, auto-rewrite, ``CONFIG SET appendonly yes``): a new incr file is
opened and recorded in the manifest first; then a point-in-time snapshot (the background
engine shared with BGSAVE) writes the new base; on success the manifest swaps in the new
base and the old base/incr files become history (deleted unless ``aof-disable-auto-gc``).
Because the snapshot is exactly the dataset at the moment the new incr opened, no rewrite
buffer is needed.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import hiredis

from ember.errors import CommandError
from ember.persistence import fs as fsmod
from ember.persistence.aof import manifest as mf
from ember.persistence.aof.format import encode_command
from ember.server import log

if TYPE_CHECKING:
    from ember.persistence.manager import BgJob, Persistence
    from ember.server.client import Client
    from ember.server.server import Server

REWRITE_RETRY_MIN = 1.0
REWRITE_RETRY_MAX = 60.0


class AofManager:
    def __init__(self, server: Server, persistence: Persistence) -> None:
        self.server = server
        self.p = persistence
        self._on = False  # appending (see the ``on`` property)
        self.fd = -1
        self.path = ""
        self.manifest: mf.Manifest | None = None
        self.buf = bytearray()
        self.last_db = -1
        self.last_ts = 0
        # byte accounting: appended = ever added to buf; written = handed to write();
        # durable = covered by a completed fsync (always) or written (others)
        self.appended = 0
        self.durable = 0
        self.current_size = 0
        self.incr_size = 0  # bytes of the open incr file known complete (truncate target)
        self.base_size = 0
        self.rewrite_base_size = 0
        self.held: list[tuple[int, Client, bytes]] = []
        self.flush_scheduled = False
        self.io_busy = False
        self.last_fsync = time.monotonic()
        self.fsync_in_flight = False
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ember-aof")
        self.lock = threading.Lock()
        # stats
        self.rewrites = 0
        self.last_rewrite_time_sec = -1
        self.last_bgrewrite_status = "ok"
        self._write_status = "ok"
        self.last_write_error = ""
        self.delayed_fsync = 0
        self.rewrite_scheduled = False
        self.rewrite_failures = 0
        self.next_rewrite_try = 0.0
        self.last_cow_size = 0
        self.wait_rewrite = False  # AOF being turned on: base not written yet
        self.pending_incr: mf.AofInfo | None = None
        self.waitaof_waiters: list[tuple[int, Client, float]] = []

    @property
    def on(self) -> bool:
        return self._on

    @on.setter
    def on(self, value: bool) -> None:
        """Appending on/off. The propagation sink and the reply gate are installed only
        while appending, so a server without AOF pays nothing per command for them."""
        self._on = value
        srv = self.server
        if value:
            if self.feed not in srv.propagation_sinks:
                srv.propagation_sinks.append(self.feed)
            srv.reply_gate = self.hold_output
        else:
            if self.feed in srv.propagation_sinks:
                srv.propagation_sinks.remove(self.feed)
            if srv.reply_gate == self.hold_output:
                srv.reply_gate = None

    # ------------------------------------------------------------------ config / paths
    @property
    def cfg(self) -> dict[str, Any]:
        return self.server.config.values

    @property
    def dirname(self) -> str:
        return self.cfg["appenddirname"]

    @property
    def prefix(self) -> str:
        return self.cfg["appendfilename"]

    def _p(self, name: str) -> str:
        return os.path.join(self.dirname, name)

    @property
    def last_write_status(self) -> str:
        return self._write_status

    @last_write_status.setter
    def last_write_status(self, status: str) -> None:
        self._write_status = status
        self.p.errors_changed()

    def write_block_reason(self) -> str | None:
        if self.on and self.last_write_status == "err":
            return f"MISCONF Errors writing to the AOF file: {self.last_write_error}"
        return None

    # ------------------------------------------------------------------ startup
    def _read_manifest(self) -> mf.Manifest | None:
        path = self._p(mf.manifest_name(self.prefix))
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        return mf.parse_manifest(data)

    def should_load(self) -> bool:
        if not self.cfg["appendonly"]:
            return False
        if os.path.exists(self.prefix) and os.path.isfile(self.prefix):
            return True
        try:
            m = self._read_manifest()
        except mf.ManifestError as e:
            for line in e.log_lines():
                log.warning(line)
            os._exit(1)
        return m is not None and not m.is_empty

    async def load(self) -> None:
        """loadAppendOnlyFiles: base then incr files in manifest order."""
        from ember.persistence.aof.loader import load_aof_files

        m = self._read_manifest()
        legacy = os.path.isfile(self.prefix)
        dir_exists = os.path.isdir(self.dirname)
        base_in_dir = bool(m and m.base and os.path.exists(self._p(m.base.name)))
        if mf.needs_legacy_upgrade(
            m, self.prefix, dir_exists=dir_exists, legacy_exists=legacy, base_in_dir=base_in_dir
        ):
            os.makedirs(self.dirname, exist_ok=True)
            fsmod.get_fs().rename(self.prefix, self._p(self.prefix))
            m = mf.upgrade_from_legacy(m or mf.Manifest(), self.prefix)
            self._persist_manifest(m)
            log.notice(
                f"Successfully migrated an old-style AOF file ({self.prefix}) into the AOF "
                f"directory ({self.dirname})."
            )
        assert m is not None
        self.manifest = m
        try:
            await load_aof_files(self.server, self.dirname, m, self.cfg["aof-load-truncated"])
        except SystemExit as e:
            # exit now, like Redis's exit(1): unwinding the event loop would keep the
            # listeners answering (with a partial dataset) while tasks are cancelled
            os._exit(e.code if isinstance(e.code, int) else 1)
        self.base_size = _fsize(self._p(m.base.name)) if m.base else 0
        self.current_size = sum(_fsize(self._p(i.name)) for i in m.load_order())
        self.rewrite_base_size = self.current_size

    def start_after_load(self) -> None:
        """aofOpenIfNeededOnServerStart: open the last incr, or create base + incr."""
        if not self.cfg["appendonly"]:
            return
        os.makedirs(self.dirname, exist_ok=True)
        m = self.manifest
        if m is None or m.base is None and not m.incrs:
            # no AOF yet: write the current dataset (maybe loaded from the RDB) as base
            m = mf.Manifest()
            m, base = mf.new_base(m, self.prefix, self.cfg["aof-use-rdb-preamble"])
            self._write_base_sync(self._p(base.name))
            self.base_size = _fsize(self._p(base.name))
            self.current_size = self.base_size
            self.rewrite_base_size = self.current_size
        m, incr = mf.last_incr(m, self.prefix)
        self._create_file(incr)
        self._persist_manifest(m)
        self.manifest = m
        self._open_incr(incr)
        self.on = True

    def _write_base_sync(self, path: str) -> None:
        from ember.persistence.bgsave.cow import ForklessSnapshot
        from ember.persistence.sinks import TempFileSink

        sink = TempFileSink(path, self._p(mf.temp_rewrite_name(os.getpid())))
        try:
            snap = ForklessSnapshot(self.server, self._make_encoder(sink))
            snap.start(install_hooks=False)
            snap.run_sync()
            sink.commit()
        except BaseException:
            sink.abort()
            raise

    def _make_encoder(self, sink: Any) -> Any:
        from ember.persistence.rdbfile import functions_of, rdb_encoder

        srv = self.server
        if self.cfg["aof-use-rdb-preamble"]:
            return rdb_encoder(srv, sink, aof_base=True)
        from ember.persistence.aof.rewrite_encoder import AofRewriteEncoder

        return AofRewriteEncoder(sink, functions_of(srv), self.cfg["aof-timestamp-enabled"])

    def _open_incr(self, info: mf.AofInfo) -> None:
        fs = fsmod.get_fs()
        if self.fd >= 0:
            fs.close(self.fd, self.path)
        self.path = self._p(info.name)
        self.fd = fs.open_write(self.path, append=True)
        self.incr_size = fs.size(self.fd)
        self.last_db = -1  # first record of a new incr is a SELECT
        self.last_ts = 0

    def _create_file(self, info: mf.AofInfo) -> None:
        """Create a file before the manifest naming it is persisted (Redis's order): the
        manifest's directory fsync then makes its entry durable too, so no crash or power
        loss leaves a manifest naming a missing file."""
        fs = fsmod.get_fs()
        path = self._p(info.name)
        fs.close(fs.open_write(path, append=True), path)

    def _persist_manifest(self, m: mf.Manifest) -> None:
        os.makedirs(self.dirname, exist_ok=True)
        fsmod.write_file_atomic(self._p(mf.manifest_name(self.prefix)), mf.format_manifest(m))

    # ------------------------------------------------------------------ propagation sink
    def feed(self, ops: list[tuple[int, list[bytes]]]) -> None:
        if not self.on:
            return
        buf = self.buf
        n0 = len(buf)
        if self.cfg["aof-timestamp-enabled"]:
            now = int(time.time())
            if now != self.last_ts:
                buf += b"#TS:%d\r\n" % now
                self.last_ts = now
        for dbid, argv in ops:
            if dbid != self.last_db:
                buf += encode_command([b"SELECT", b"%d" % dbid])
                self.last_db = dbid
            buf += encode_command(argv)
        self.appended += len(buf) - n0
        if not self.flush_scheduled:
            self.flush_scheduled = True
            loop = self.server.loop
            if loop is not None:
                loop.call_soon(self.flush)
            else:
                self.flush()

    def hold_output(self, client: Client, data: bytes) -> bool:
        """Keep a reply until the AOF bytes before it are durable (``always``) or, like
        Redis's beforeSleep (AOF write before client writes), handed to the OS by this
        loop turn's flush (``everysec``/``no``): a kill -9 never loses an acknowledged
        write."""
        if not self.on:
            return False
        if self.cfg["appendfsync"] == "always":
            if self.durable >= self.appended:
                return False
            if self.last_write_status == "err" and self._may_pass(client, data):
                return False
        elif not (self.buf and self.flush_scheduled):
            return False
        self.held.append((self.appended, client, data))
        return True

    def _may_pass(self, client: Client, data: bytes) -> bool:
        """``always`` with a disk error: replies that reveal no data (errors such as
        -MISCONF, and the reply to INFO, PING, CLIENT SETINFO... when it is the last of
        the batch, the command ``last_cmd`` names) still leave, so the server stays
        observable and clients can connect (redis-py 8 pipelines an unknown CLIENT
        subcommand with CLIENT SETINFO); replies that might show a write not yet on disk
        stay held. Never overtakes the client's own held replies."""
        if any(c is client for _, c, _ in self.held):
            return False
        replies = _parse_replies(data)
        if not replies:
            return False
        if not all(isinstance(r, hiredis.ReplyError) for r in replies[:-1]):
            return False
        return isinstance(replies[-1], hiredis.ReplyError) or client.last_cmd in _NO_DATA_COMMANDS

    def _release(self) -> None:
        if not self.held:
            return
        durable = self.durable
        keep = []
        for need, client, data in self.held:
            if need <= durable:
                if client.transport is not None and not client.transport.is_closing():
                    client.transport.write(data)
                    if client.close_after_reply:
                        client.transport.close()
            else:
                keep.append((need, client, data))
        self.held = keep
        if self.waitaof_waiters:
            self._serve_waitaof()

    # ------------------------------------------------------------------ flushing
    def flush(self) -> None:
        """flushAppendOnlyFile: called once per loop turn after commands ran."""
        self.flush_scheduled = False
        policy = self.cfg["appendfsync"]
        if not self.buf or self.fd < 0:
            if policy != "always":
                self._release_all()
            return
        if policy == "always":
            if self.io_busy:
                return  # the running batch will pick this up when it completes
            self._start_always_batch()
            return
        # everysec / no: write now on the loop, then send the replies held for it (sent
        # even when the write failed, as Redis does: later writes get -MISCONF)
        if self._write_buf_sync():
            if policy == "everysec":
                self._maybe_fsync_everysec()
            else:
                self.durable = self.appended
        self._release_all()

    def _write_buf_sync(self) -> bool:
        data = bytes(self.buf)
        fs = fsmod.get_fs()
        try:
            fs.write(self.fd, data, self.path)
        except OSError as e:
            self._write_error(e, len(data))
            return False
        del self.buf[: len(data)]
        self.current_size += len(data)
        self.incr_size += len(data)
        self._write_ok()
        return True

    def _write_error(self, e: OSError, attempted: int) -> None:
        # undo a short write so the file never holds a torn command (Redis ftruncate)
        fs = fsmod.get_fs()
        try:
            fs.truncate(self.fd, self.incr_size, self.path)
            os.lseek(self.fd, self.incr_size, os.SEEK_SET)
        except OSError:
            pass
        if self.last_write_status == "ok":
            log.warning(f"Error writing to the AOF file: {e.strerror}")
        self.last_write_status = "err"
        self.last_write_error = e.strerror or str(e)

    def _write_ok(self) -> None:
        if self.last_write_status == "err":
            log.warning("AOF write error looks solved, Redis can write again.")
        self.last_write_status = "ok"
        self.last_write_error = ""

    def _maybe_fsync_everysec(self) -> None:
        now = time.monotonic()
        if now - self.last_fsync < 1.0:
            return
        if self.fsync_in_flight:
            if now - self.last_fsync >= 2.0:
                self.delayed_fsync += 1
                log.notice(
                    "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the "
                    "AOF buffer without waiting for fsync to complete, this may slow down Redis."
                )
            return
        if self.cfg["no-appendfsync-on-rewrite"] and self.p.bg is not None:
            return
        self.fsync_in_flight = True
        self.last_fsync = now
        target = self.appended - len(self.buf)
        fd, path = self.fd, self.path
        loop = self.server.loop

        def work() -> None:
            err: OSError | None = None
            try:
                fsmod.get_fs().fsync(fd, path)
            except OSError as e:
                err = e
            if loop is not None:
                loop.call_soon_threadsafe(self._fsync_done, target, err)

        self.pool.submit(work)

    def _fsync_done(self, target: int, err: OSError | None) -> None:
        self.fsync_in_flight = False
        if err is not None:
            self._write_error(err, 0)
            return
        if target > self.durable:
            self.durable = target
        if self.waitaof_waiters:
            self._serve_waitaof()

    def _start_always_batch(self) -> None:
        data = bytes(self.buf)
        target = self.appended
        del self.buf[:]
        self.io_busy = True
        fd, path, size0 = self.fd, self.path, self.current_size
        loop = self.server.loop
        skip_fsync = self.cfg["no-appendfsync-on-rewrite"] and self.p.bg is not None

        def work() -> None:
            err: OSError | None = None
            fs = fsmod.get_fs()
            try:
                fs.write(fd, data, path)
                if not skip_fsync:
                    fs.fsync(fd, path)
            except OSError as e:
                err = e
            if loop is not None:
                loop.call_soon_threadsafe(self._always_done, data, target, size0, err)

        self.pool.submit(work)

    def _always_done(self, data: bytes, target: int, size0: int, err: OSError | None) -> None:
        self.io_busy = False
        if err is not None:
            # put the bytes back in front: they will be retried, replies stay held
            self.current_size = size0
            self._write_error(err, len(data))
            self.buf[:0] = data
            return
        self.current_size = size0 + len(data)
        self.incr_size += len(data)
        self.durable = target
        self._write_ok()
        self._release()
        if self.buf:
            self._start_always_batch()

    def fsync_now(self) -> None:
        """Write everything and fsync, synchronously (shutdown, rewrite switch)."""
        if self.fd < 0:
            return
        # wait for in-flight work on the worker thread
        self.pool.submit(lambda: None).result()
        self.io_busy = False
        if self.buf:
            self._write_buf_sync()
        try:
            fsmod.get_fs().fsync(self.fd, self.path)
            self.durable = self.appended - len(self.buf)
        except OSError as e:
            self._write_error(e, 0)
        self._release()

    # ------------------------------------------------------------------ cron
    def cron(self) -> None:
        if self.on and self.last_write_status == "err":
            # retry the failed write (disk space may be back)
            if self.cfg["appendfsync"] == "always":
                if not self.io_busy and self.buf:
                    self._start_always_batch()
            elif self.buf:
                self._write_buf_sync()
            else:
                try:
                    fsmod.get_fs().fsync(self.fd, self.path)
                    self._write_ok()
                except OSError as e:
                    self._write_error(e, 0)
        if self.on and self.cfg["appendfsync"] == "everysec":
            if self.buf:
                self._write_buf_sync()
            if self.durable < self.appended - len(self.buf):
                self._maybe_fsync_everysec()
        if self.p.bg is not None:
            return
        now = time.monotonic()
        if self.rewrite_scheduled and now >= self.next_rewrite_try:
            self.rewrite_scheduled = False
            self.start_rewrite()
            return
        if self.on and self.cfg["auto-aof-rewrite-percentage"] and self.last_write_status == "ok":
            base = self.rewrite_base_size or 1
            growth = (self.current_size - base) * 100 // base
            if (
                self.current_size > self.cfg["auto-aof-rewrite-min-size"]
                and growth >= self.cfg["auto-aof-rewrite-percentage"]
                and now >= self.next_rewrite_try
            ):
                log.notice(f"Starting automatic rewriting of AOF on {growth}% growth")
                self.start_rewrite()

    # ------------------------------------------------------------------ rewrite
    def bgrewriteaof(self) -> str:
        p = self.p
        if p.bg is not None and p.bg.kind == "aof":
            raise CommandError("ERR Background append only file rewriting already in progress")
        if p.bg is not None:
            self.rewrite_scheduled = True
            self.next_rewrite_try = 0.0
            return "Background append only file rewriting scheduled"
        err = self.start_rewrite()
        if err is not None:
            raise CommandError(
                "ERR Can't execute an AOF background rewriting. Please check the server logs for more information."
            )
        return "Background append only file rewriting started"

    def start_rewrite(self) -> str | None:
        p = self.p
        if p.bg is not None:
            return "busy"
        os.makedirs(self.dirname, exist_ok=True)
        m = self.manifest or mf.Manifest()
        new_incr_info: mf.AofInfo | None = None
        if self.on:
            # flush what we have to the old incr, then switch to a new one
            self.fsync_now()
            m, new_incr_info = mf.start_rewrite(m, self.prefix)
            try:
                self._create_file(new_incr_info)
                self._persist_manifest(m)
            except OSError as e:
                log.warning(f"Can't persist the AOF manifest: {e}")
                self._rewrite_failed()
                return str(e)
            self.manifest = m
            self._open_incr(new_incr_info)
        tmp = self._p(mf.temp_rewrite_name(os.getpid()))
        # the target name is decided when the rewrite completes
        job = p.start_snapshot_job(
            "aof",
            self.cfg["bgsave-engine"],
            tmp + ".final",
            self._make_encoder,
            on_done=self._rewrite_done,
            tmp=tmp,
        )
        if isinstance(job, str):
            self._rewrite_failed()
            return job
        log.notice(
            f"Background append only file rewriting started by pid {job.pid}"
            if job.pid
            else "Background append only file rewriting started (forkless)"
        )
        return None

    def _rewrite_failed(self) -> None:
        self.last_bgrewrite_status = "err"
        self.rewrite_failures += 1
        delay = min(REWRITE_RETRY_MAX, REWRITE_RETRY_MIN * (2 ** min(self.rewrite_failures, 10)))
        self.next_rewrite_try = time.monotonic() + delay
        if self.on or self.wait_rewrite:
            self.rewrite_scheduled = True

    def _rewrite_done(self, ok: bool, job: BgJob) -> None:
        self.last_rewrite_time_sec = int(time.time() - job.start)
        self.last_cow_size = job.peak_cow
        written = job.target  # tmp + ".final", committed by the sink
        if not ok:
            log.warning("Background AOF rewrite failed")
            _unlink(written)
            self._rewrite_failed()
            return
        m = self.manifest or mf.Manifest()
        rdb = self.cfg["aof-use-rdb-preamble"]
        try:
            m, base, _ = mf.finish_rewrite(m, self.prefix, rdb, aof_enabled=self.on)
            fsmod.get_fs().rename(written, self._p(base.name))
            if not self.on and self.wait_rewrite and self.pending_incr is not None:
                pass
            self._persist_manifest(m)
        except OSError as e:
            log.warning(f"Error trying to rename the temporary AOF base file: {e}")
            _unlink(written)
            self._rewrite_failed()
            return
        self.manifest = m
        self.base_size = _fsize(self._p(base.name))
        self.current_size = self.base_size + sum(_fsize(self._p(i.name)) for i in m.incrs)
        self.rewrite_base_size = self.current_size
        self.rewrites += 1
        self.rewrite_failures = 0
        self.last_bgrewrite_status = "ok"
        log.notice("Background AOF rewrite terminated with success")
        log.notice("Background AOF rewrite finished successfully")
        if self.wait_rewrite:
            self.wait_rewrite = False
            log.notice("AOF rewrite done, AOF is now enabled")
        if not self.cfg["aof-disable-auto-gc"]:
            self._delete_history()

    def _delete_history(self) -> None:
        m = self.manifest
        if m is None or not m.history:
            return
        for info in m.history:
            _unlink(self._p(info.name))
            log.notice(f"Removing the history file {info.name} in the background")
        m = mf.drop_history(m)
        self._persist_manifest(m)
        self.manifest = m

    # ------------------------------------------------------------------ on / off
    def on_appendonly(self, old: bool, new: bool) -> None:
        if old == new:
            return
        if new:
            self.start_append_only()
        else:
            self.stop_append_only()

    def start_append_only(self) -> None:
        """CONFIG SET appendonly yes: new incr now, base from a background rewrite."""
        if self.p.bg is not None and self.p.bg.kind == "aof":
            self.p.kill_bg()
        os.makedirs(self.dirname, exist_ok=True)
        m = self._read_manifest_safe() or mf.Manifest()
        # everything old becomes history once the new base exists
        m = mf.mark_incrs_as_history(m, keep_last=False)
        m, incr = mf.new_incr(m, self.prefix)
        self._create_file(incr)
        self._persist_manifest(m)
        self.manifest = m
        self._open_incr(incr)
        self.on = True
        self.wait_rewrite = True
        if self.p.bg is not None:
            self.rewrite_scheduled = True
            self.next_rewrite_try = 0.0
            return
        if self.start_rewrite_for_enable() is not None:
            raise OSError("Can't start the AOF rewrite")

    def start_rewrite_for_enable(self) -> str | None:
        tmp = self._p(mf.temp_rewrite_name(os.getpid()))
        job = self.p.start_snapshot_job(
            "aof",
            self.cfg["bgsave-engine"],
            tmp + ".final",
            self._make_encoder,
            on_done=self._rewrite_done,
            tmp=tmp,
        )
        if isinstance(job, str):
            self._rewrite_failed()
            return job
        log.notice("Background append only file rewriting started")
        return None

    def _read_manifest_safe(self) -> mf.Manifest | None:
        try:
            return self._read_manifest()
        except mf.ManifestError:
            return None

    def stop_append_only(self) -> None:
        """CONFIG SET appendonly no: flush, fsync, close; kill a running rewrite."""
        self.fsync_now()
        if self.p.bg is not None and self.p.bg.kind == "aof":
            self.p.kill_bg()
        if self.fd >= 0:
            try:
                fsmod.get_fs().close(self.fd, self.path)
            except OSError:
                pass
        self.fd = -1
        self.on = False
        self.wait_rewrite = False
        self._release_all()

    def _release_all(self) -> None:
        if not self.held:
            return
        held, self.held = self.held, []
        for _, client, data in held:
            if client.transport is not None and not client.transport.is_closing():
                client.transport.write(data)
                if client.close_after_reply:
                    client.transport.close()

    def on_appendfsync(self, old: str, new: str) -> None:
        if old == "always" and new != "always":
            self.fsync_now()

    def on_shutdown(self) -> bool:
        if not self.on:
            return True
        log.notice("Calling fsync() on the AOF file.")
        self.fsync_now()
        return self.last_write_status == "ok"

    # ------------------------------------------------------------------ WAITAOF
    def waitaof(self, client: Client, numlocal: int, timeout_ms: int) -> Any:
        from ember.server.client import BLOCKED

        if numlocal and not self.on:
            raise CommandError(
                "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled."
            )
        if not numlocal or self.durable >= self.appended:
            return [1 if self.on and self.durable >= self.appended else 0, 0]
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else 0.0
        self.waitaof_waiters.append((self.appended, client, deadline))
        client.paused = True
        if self.cfg["appendfsync"] != "always":
            self.last_fsync = 0.0
            if self.buf:
                self._write_buf_sync()
            self._maybe_fsync_everysec()
        if timeout_ms and self.server.loop is not None:
            self.server.loop.call_later(timeout_ms / 1000, self._serve_waitaof)
        return BLOCKED

    def _serve_waitaof(self) -> None:
        now = time.monotonic()
        keep = []
        for need, client, deadline in self.waitaof_waiters:
            done = self.durable >= need
            if done or (deadline and now >= deadline):
                client.paused = False
                client.reply([1 if done else 0, 0])
                client.flush()
                client.resume_processing()
            else:
                keep.append((need, client, deadline))
        self.waitaof_waiters = keep

    # ------------------------------------------------------------------ INFO
    def info_fields(self) -> list[tuple[str, Any]]:
        job = self.p.bg
        aof_job = job if job is not None and job.kind == "aof" else None
        return [
            ("aof_enabled", 1 if self.on else 0),
            ("aof_rewrite_in_progress", 1 if aof_job else 0),
            ("aof_rewrite_scheduled", 1 if self.rewrite_scheduled else 0),
            ("aof_last_rewrite_time_sec", self.last_rewrite_time_sec),
            ("aof_current_rewrite_time_sec", int(time.time() - aof_job.start) if aof_job else -1),
            ("aof_last_bgrewrite_status", self.last_bgrewrite_status),
            ("aof_rewrites", self.rewrites),
            ("aof_rewrites_consecutive_failures", self.rewrite_failures),
            ("aof_last_write_status", self.last_write_status),
            ("aof_last_cow_size", self.last_cow_size),
            ("module_fork_in_progress", 0),
            ("module_fork_last_cow_size", 0),
        ] + (
            [
                ("aof_current_size", self.current_size + len(self.buf) * 0),
                ("aof_base_size", self.base_size),
                ("aof_pending_rewrite", 1 if self.rewrite_scheduled else 0),
                ("aof_buffer_length", len(self.buf)),
                ("aof_pending_bio_fsync", 1 if self.fsync_in_flight or self.io_busy else 0),
                ("aof_delayed_fsync", self.delayed_fsync),
            ]
            if self.on
            else []
        )


# commands whose reply shows nothing of the dataset (see AofManager._may_pass)
_NO_DATA_COMMANDS = frozenset(
    (
        b"info",
        b"ping",
        b"echo",
        b"lastsave",
        b"auth",
        b"hello",
        b"select",
        b"debug",
        b"client|setinfo",
        b"client|setname",
        b"client|getname",
        b"client|id",
        b"client|list",
        b"client|info",
        b"config|get",
        b"config|set",
        b"latency|latest",
        b"slowlog|get",
        b"time",
        b"command|docs",
        b"command|count",
    )
)


def _parse_replies(data: bytes) -> list[Any] | None:
    """The RESP replies in ``data`` (errors as ``hiredis.ReplyError``), None when it is
    malformed (``data`` is this server's own output: whole replies)."""
    reader = hiredis.Reader()
    out = []
    try:
        reader.feed(data)
        while (reply := reader.gets()) is not False:
            out.append(reply)
    except hiredis.ProtocolError:
        return None
    return out


def _fsize(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
