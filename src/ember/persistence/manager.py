"""Persistence orchestration: SAVE/BGSAVE, save points, MISCONF, startup loading, INFO.

Layers (Redis's onion): the codec (``rdb/``) -> :mod:`rdbfile` (encoder, loading) ->
this module (temp file + rename, background engines, stats, scheduling) -> the commands
in :mod:`ember.commands.persistence`.

Background engines (``bgsave-engine``): ``forkless`` (default, :mod:`bgsave.cow`) runs the
snapshot walker on the event loop in slices and writes through a worker thread; ``fork``
(:mod:`bgsave.fork`) forks a child that writes the file, like Redis.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ember import errors
from ember.config import ConfigError
from ember.persistence.bgsave.cow import ForklessSnapshot
from ember.persistence.rdb.errors import RdbFormatError
from ember.persistence.rdbfile import describe_error, load_rdb_into, rdb_encoder
from ember.persistence.sinks import TempFileSink, ThreadedFileSink
from ember.server import log

if TYPE_CHECKING:
    from ember.server.server import Server

BGSAVE_RETRY_DELAY = 5  # CONFIG_BGSAVE_RETRY_DELAY


@dataclass
class BgJob:
    kind: str  # "rdb" or "aof"
    engine: str  # "forkless" or "fork"
    start: float
    snapshot: ForklessSnapshot | None = None
    task: asyncio.Task[Any] | None = None
    pid: int = 0
    target: str = ""
    tmp: str = ""
    keys_total: int = 0
    peak_cow: int = 0
    cow_sampled_at: float = 0.0
    on_done: Any = None  # callback(ok: bool, job)
    dirty_at_start: int = 0
    sink: Any = None  # forkless: the ThreadedFileSink being written
    killed: bool = False  # stopped on purpose (FLUSHALL, SHUTDOWN...): not a save error


class Persistence:
    def __init__(self, server: Server) -> None:
        self.server = server
        # RDB stats (INFO persistence)
        self.rdb_saves = 0
        self._bgsave_status = "ok"
        self.last_bgsave_time_sec = -1
        self.last_bgsave_try = 0.0
        self.last_cow_size = 0
        self.last_load_keys_loaded = 0
        self.last_load_keys_expired = 0
        self.rdb_bgsave_scheduled = False
        self.total_forks = 0
        self.latest_fork_usec = 0
        self.bg: BgJob | None = None
        self.loading_start = 0.0
        self.loading_total = 0
        self.loading_loaded = 0
        self.last_error = ""
        self.aof: Any = None  # ember.persistence.aof.manager.AofManager when attached

    # ------------------------------------------------------------------ wiring
    def attach(self) -> None:
        srv = self.server
        srv.persistence = self
        srv.info_providers["persistence"] = self.info_persistence
        srv.cron_jobs.append(self.cron)
        srv.shutdown_hooks.append(self.on_shutdown)
        srv.write_block_reason = self.write_block_reason
        srv.after_flushall = self.after_flushall
        try:
            from ember.persistence.aof.manager import AofManager
        except ImportError:
            return
        self.aof = AofManager(srv, self)

    @property
    def rdb_path(self) -> str:
        return self.server.config.values["dbfilename"]

    # ------------------------------------------------------------------ MISCONF
    @property
    def last_bgsave_status(self) -> str:
        return self._bgsave_status

    @last_bgsave_status.setter
    def last_bgsave_status(self, status: str) -> None:
        self._bgsave_status = status
        self.errors_changed()

    def errors_changed(self) -> None:
        """Keep ``server.write_errors`` true while a save or an AOF write is failing, so
        that the dispatcher asks :meth:`write_block_reason` only then."""
        aof = self.aof
        self.server.write_errors = self._bgsave_status == "err" or (
            aof is not None and aof.last_write_status == "err"
        )

    def write_block_reason(self) -> str | None:
        # called for every write command: cheap attribute tests first
        if self.last_bgsave_status == "err":
            v = self.server.config.values
            if v["stop-writes-on-bgsave-error"] and v["save"]:
                return errors.MISCONF
        aof = self.aof
        if aof is not None and aof.last_write_status == "err":
            return aof.write_block_reason()
        return None

    # ------------------------------------------------------------------ SAVE
    def save_sync(self) -> bool:
        """Write the dataset now, blocking (rdbSave). Returns success.

        Like Redis's rdbSave it may run while a background save is in progress (DEBUG
        RELOAD does that); it then uses its own temp file name.
        """
        srv = self.server
        target = os.path.abspath(self.rdb_path)
        tmp = os.path.join(os.path.dirname(target), f"temp-{os.getpid()}.rdb")
        if self.bg is not None and self.bg.tmp == tmp:
            tmp = os.path.join(os.path.dirname(target), f"temp-{os.getpid()}-sync.rdb")
        try:
            sink = TempFileSink(
                target,
                tmp,
                autosync=32 << 20 if srv.config.values["rdb-save-incremental-fsync"] else 0,
            )
        except OSError as e:
            log.warning(
                f"Failed opening the temp RDB file temp-{os.getpid()}.rdb (in server root dir "
                f"{os.getcwd()}) for saving: {e.strerror}"
            )
            self.last_error = str(e)  # a failed SAVE leaves rdb_last_bgsave_status alone (Redis)
            return False
        try:
            snap = ForklessSnapshot(srv, rdb_encoder(srv, sink))
            snap.start(install_hooks=False)
            snap.run_sync()
            sink.commit()
        except OSError as e:
            sink.abort()
            if getattr(e, "op", "") == "rename":
                log.warning(
                    f"Error moving temp DB file {os.path.basename(sink.tmp)} on the final destination "
                    f"{os.path.basename(target)} (in server root dir {os.getcwd()}): {e.strerror}"
                )
            else:
                log.warning(f"Write error saving DB on disk: {e.strerror}")
            self.last_error = str(e)
            return False
        log.notice("DB saved on disk")
        self._save_succeeded(dirty_at_start=srv.dirty)
        return True

    def _save_succeeded(self, dirty_at_start: int) -> None:
        srv = self.server
        srv.dirty -= dirty_at_start
        if srv.dirty < 0:
            srv.dirty = 0
        srv.lastsave = int(time.time())
        self.last_bgsave_status = "ok"

    def _save_failed(self, e: BaseException) -> None:
        self.last_bgsave_status = "err"
        self.last_error = str(e)

    # ------------------------------------------------------------------ BGSAVE
    def bgsave(self, reason: str = "") -> str | None:
        """Start a background save. Returns an error message or None."""
        if self.bg is not None:
            if self.bg.kind == "rdb":
                return "ERR Background save already in progress"
            return "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
        srv = self.server
        target = os.path.abspath(self.rdb_path)
        self.last_bgsave_try = time.time()
        self.rdb_saves += 1  # counted when a BGSAVE starts (rdbSaveBackground), as in Redis
        engine = srv.config.values["bgsave-engine"]
        job = self.start_snapshot_job(
            "rdb",
            engine,
            target,
            lambda sink: rdb_encoder(srv, sink),
            on_done=self._bgsave_done,
        )
        if isinstance(job, str):
            self._save_failed(Exception(job))
            return None
        if engine == "fork":
            log.notice(f"Background saving started by pid {job.pid}")
        else:
            log.notice(f"Background saving started (forkless, {job.keys_total} keys)")
        return None

    def start_snapshot_job(
        self,
        kind: str,
        engine: str,
        target: str,
        make_encoder: Any,
        on_done: Any,
        tmp: str | None = None,
    ) -> BgJob | str:
        """Start a background snapshot into ``target`` (temp file + rename)."""
        srv = self.server
        tmp = tmp or os.path.join(
            os.path.dirname(target), f"temp-{os.getpid()}.{'rdb' if kind == 'rdb' else 'aof'}"
        )
        job = BgJob(
            kind,
            engine,
            time.time(),
            target=target,
            tmp=tmp,
            on_done=on_done,
            dirty_at_start=srv.dirty,
        )
        delay = srv.config.values["rdb-key-save-delay"]
        if engine == "fork":
            from ember.persistence.bgsave.fork import fork_snapshot

            t0 = time.perf_counter_ns()
            try:
                job.pid = fork_snapshot(srv, target, tmp, make_encoder, delay)
            except OSError as e:
                log.warning(f"Can't save in background: fork: {e.strerror}")
                return f"fork: {e.strerror}"
            self.latest_fork_usec = (time.perf_counter_ns() - t0) // 1000
            self.total_forks += 1
            srv.latency_add("fork", self.latest_fork_usec // 1000)
            job.keys_total = sum(len(db) for db in srv.dbs)
            self.bg = job
            return job
        try:
            sink = ThreadedFileSink(target, tmp, autosync=32 << 20)
        except OSError as e:
            log.warning(f"Failed opening the temp file {tmp} for saving: {e.strerror}")
            return str(e)
        snap = ForklessSnapshot(
            srv, make_encoder(sink), key_delay_us=delay, spill_dir=os.path.dirname(tmp) or "."
        )
        job.sink = sink
        snap.start()
        self.latest_fork_usec = snap.stats.start_usec
        self.total_forks += 1
        srv.latency_add("fork", snap.stats.start_usec // 1000)
        job.snapshot = snap
        job.keys_total = snap.stats.keys_total
        self.bg = job
        job.task = asyncio.ensure_future(self._run_forkless(job, snap, sink))
        return job

    async def _run_forkless(
        self, job: BgJob, snap: ForklessSnapshot, sink: ThreadedFileSink
    ) -> None:
        ok = False
        try:
            await snap.run()
            loop = asyncio.get_running_loop()
            await asyncio.wrap_future(sink.commit_in_thread(), loop=loop)
            ok = True
        except asyncio.CancelledError:
            sink.abort()
        except OSError as e:
            log.warning(f"Write error saving DB on disk: {e.strerror}")
            self.last_error = str(e)
            sink.abort()
        except Exception as e:  # never leave a half-done job behind
            log.warning(f"Background snapshot failed: {e!r}")
            self.last_error = repr(e)
            sink.abort()
        finally:
            job.peak_cow = max(job.peak_cow, snap.stats.peak_preserved_bytes)
            snap.uninstall()
            sink.close()
            self.server.latency_add("snapshot-slice", snap.stats.longest_slice_usec // 1000)
        self._finish_job(job, ok)

    def _finish_job(self, job: BgJob, ok: bool) -> None:
        if self.bg is job:
            self.bg = None
        try:
            # a job killed on purpose (FLUSHALL, SHUTDOWN, CONFIG SET appendonly...) is not a
            # failure: like a child killed with SIGUSR1 in Redis, no error status, no retry
            if not job.killed:
                job.on_done(ok, job)
        finally:
            if self.rdb_bgsave_scheduled and self.bg is None:
                self.rdb_bgsave_scheduled = False
                self.bgsave("scheduled")

    def _bgsave_done(self, ok: bool, job: BgJob) -> None:
        self.last_bgsave_time_sec = int(time.time() - job.start)
        self.last_cow_size = job.peak_cow
        if ok:
            log.notice("Background saving terminated with success")
            self._save_succeeded(job.dirty_at_start)
        else:
            log.warning("Background saving error")
            self.last_bgsave_status = "err"

    def kill_bg(self) -> None:
        job = self.bg
        if job is None:
            return
        if job.engine == "fork" and job.pid:
            from ember.persistence.bgsave.fork import kill_child

            kill_child(job.pid, job.tmp)
            self.bg = None
        elif job.snapshot is not None:
            # stop it synchronously: no more hook calls, the writer thread drained and its
            # temp file removed before anything else (a SAVE, a new BGSAVE) reuses the name
            job.killed = True
            if job.kind == "rdb":
                log.warning("Background saving terminated (killed)")
            job.snapshot.cancelled = True
            job.snapshot.uninstall()
            if job.sink is not None:
                job.sink.abort()
                job.sink.close()
            if job.task is not None:
                job.task.cancel()
            self.bg = None

    def after_flushall(self) -> None:
        """FLUSHALL: kill a running RDB save; with save points, save the empty dataset."""
        if self.bg is not None and self.bg.kind == "rdb":
            self.kill_bg()
            self.bg = None
        if self.server.config.values["save"]:
            self.save_sync()  # dirty becomes 0 as in Redis; FLUSHALL forces its propagation

    # ------------------------------------------------------------------ cron
    def cron(self) -> None:
        srv = self.server
        job = self.bg
        if job is not None and job.engine == "fork":
            from ember.persistence.bgsave.fork import poll_child

            done = poll_child(job)
            if done is not None:
                self.bg = None
                self._finish_job(job, done)
            return
        if job is not None:
            return
        if self.aof is not None:
            self.aof.cron()
            if self.bg is not None:
                return
        now = time.time()
        if self.rdb_bgsave_scheduled and (
            self.last_bgsave_status == "ok" or now - self.last_bgsave_try > BGSAVE_RETRY_DELAY
        ):
            # BGSAVE SCHEDULE / BGSAVE inside MULTI: start it once no child is active
            self.rdb_bgsave_scheduled = False
            self.bgsave("scheduled")
            return
        saveparams = srv.config.values["save"]
        if not saveparams or srv.loading:
            return
        for secs, changes in saveparams:
            if (
                srv.dirty >= changes
                and now - srv.lastsave > secs
                and (
                    self.last_bgsave_status == "ok"
                    or now - self.last_bgsave_try > BGSAVE_RETRY_DELAY
                )
            ):
                log.notice(f"{changes} changes in {secs} seconds. Saving...")
                self.bgsave()
                break

    # ------------------------------------------------------------------ shutdown
    def on_shutdown(self, save_mode: bool | None) -> bool:
        """prepareForShutdown: kill children, flush the AOF, save when configured."""
        srv = self.server
        if self.bg is not None:
            log.warning(
                "There is a child saving an .rdb. Killing it!"
                if self.bg.kind == "rdb"
                else "There is a child rewriting the AOF. Killing it!"
            )
            self.kill_bg()
            self.bg = None
        ok = True
        if self.aof is not None:
            ok = self.aof.on_shutdown()
        if save_mode is True or (save_mode is None and srv.config.values["save"]):
            log.notice("Saving the final RDB snapshot before exiting.")
            if not self.save_sync():
                log.warning("Error trying to save the DB, can't exit.")
                return False
        return ok

    # ------------------------------------------------------------------ startup
    async def startup(self) -> None:
        t0 = time.monotonic()
        if self.aof is not None and self.aof.should_load():
            await self._loading(lambda: self.aof.load())
            log.notice(f"DB loaded from append only file: {time.monotonic() - t0:.3f} seconds")
        elif os.path.exists(self.rdb_path):
            await self._loading(self.load_rdb_file)
            log.notice(f"DB loaded from disk: {time.monotonic() - t0:.3f} seconds")
        if self.aof is not None:
            self.aof.start_after_load()

    async def _loading(self, fn: Any) -> None:
        srv = self.server
        srv.loading = True
        self.loading_start = time.time()
        try:
            await fn()
        except RdbFormatError as e:
            log.warning(f"Fatal error loading the DB: {describe_error(e)}. Exiting.")
            os._exit(1)
        except SystemExit:
            raise
        except OSError as e:
            log.warning(f"Fatal error loading the DB: {e}. Exiting.")
            os._exit(1)
        finally:
            srv.loading = False

    async def load_rdb_file(
        self, path: str | None = None, sync: bool = False, merge: bool = False
    ) -> None:
        srv = self.server
        path = path or self.rdb_path
        with open(path, "rb") as f:
            data = f.read()
        self.loading_total = len(data)

        def progress(pos: int) -> None:
            self.loading_loaded = pos

        if len(data) >= 9:
            log.notice(f"Loading RDB produced by version {_aux_version(data)}")
        res = await load_rdb_into(srv, data, sync=sync, progress=progress, allow_duplicates=merge)
        self.loading_loaded = len(data)
        ctime = res.aux.get(b"ctime")
        if ctime is not None and ctime.isdigit():
            log.notice(f"RDB age {int(time.time()) - int(ctime)} seconds")
        used = res.aux.get(b"used-mem")
        if used is not None and used.isdigit():
            log.notice(f"RDB memory usage when created {int(used) / 1024 / 1024:.2f} Mb")
        self.last_load_keys_loaded = res.keys_loaded
        self.last_load_keys_expired = res.keys_expired
        log.notice(
            f"Done loading RDB, keys loaded: {res.keys_loaded}, keys expired: {res.keys_expired}."
        )
        srv.lastsave = int(time.time())

    # ------------------------------------------------------------------ INFO
    def info_persistence(self) -> list[tuple[str, Any]]:
        srv = self.server
        job = self.bg
        rdb_job = job if job is not None and job.kind == "rdb" else None
        cow, cow_age, processed, total, perc = 0, 0, 0, 0, 0.0
        if job is not None:
            total = job.keys_total
            if job.snapshot is not None:
                st = job.snapshot.stats
                cow = st.preserved_bytes
                cow_age = int(time.monotonic() - st.cow_since) if cow else 0
                processed = st.keys_processed
            else:
                from ember.persistence.bgsave.fork import child_cow_size

                cow = child_cow_size(job)
                processed = 0
            perc = processed * 100.0 / total if total else 0.0
        out: list[tuple[str, Any]] = [
            ("loading", 1 if srv.loading else 0),
            ("async_loading", 0),
            ("current_cow_peak", job.peak_cow if job else 0),
            ("current_cow_size", cow),
            ("current_cow_size_age", cow_age),
            ("current_fork_perc", f"{perc:.2f}"),
            ("current_save_keys_processed", processed),
            ("current_save_keys_total", total),
            ("rdb_changes_since_last_save", srv.dirty),
            ("rdb_bgsave_in_progress", 1 if rdb_job else 0),
            ("rdb_last_save_time", srv.lastsave),
            ("rdb_last_bgsave_status", self.last_bgsave_status),
            ("rdb_last_bgsave_time_sec", self.last_bgsave_time_sec),
            ("rdb_current_bgsave_time_sec", int(time.time() - rdb_job.start) if rdb_job else -1),
            ("rdb_saves", self.rdb_saves),
            ("rdb_last_cow_size", self.last_cow_size),
            ("rdb_last_load_keys_expired", self.last_load_keys_expired),
            ("rdb_last_load_keys_loaded", self.last_load_keys_loaded),
            ("rdb_bgsave_engine", srv.config.values["bgsave-engine"]),
        ]
        if self.aof is not None:
            out += self.aof.info_fields()
        else:
            out.append(("aof_enabled", 0))
        if srv.loading:
            elapsed = time.time() - self.loading_start
            perc_l = self.loading_loaded * 100.0 / self.loading_total if self.loading_total else 0.0
            eta = int(elapsed * (100 - perc_l) / perc_l) if perc_l > 0 else 1
            out += [
                ("loading_start_time", int(self.loading_start)),
                ("loading_total_bytes", self.loading_total),
                ("loading_rdb_used_mem", 0),
                ("loading_loaded_bytes", self.loading_loaded),
                ("loading_loaded_perc", f"{perc_l:.2f}"),
                ("loading_eta_seconds", eta),
            ]
        return out

    # CONFIG SET hooks (looked up on server.persistence by CONFIG SET)
    def on_appendonly(self, old: bool, new: bool) -> None:
        if self.aof is not None:
            self.aof.on_appendonly(old, new)

    def on_appendfsync(self, old: str, new: str) -> None:
        if self.aof is not None:
            self.aof.on_appendfsync(old, new)

    def on_dir(self, old: str, new: str) -> None:
        try:
            os.chdir(new)
        except OSError as e:
            raise ConfigError(e.strerror or str(e)) from None

    def on_dbfilename(self, old: str, new: str) -> None:
        if "/" in new:
            raise ConfigError("dbfilename can't be a path, just a filename")

    def reset_stats(self) -> None:
        self.last_cow_size = 0


def _aux_version(data: bytes) -> str:
    i = data.find(b"redis-ver")
    if i < 0:
        i = data.find(b"valkey-ver")
        if i < 0:
            return "unknown"
        i += len(b"valkey-ver")
    else:
        i += len(b"redis-ver")
    n = data[i] if i < len(data) else 0
    if n < 64:
        return data[i + 1 : i + 1 + n].decode(errors="replace")
    return "unknown"


def attach(server: Server) -> Persistence:
    p = Persistence(server)
    p.attach()
    return p
