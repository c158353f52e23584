"""Power-loss simulation: record every durability syscall of a real workload, then rebuild
the directory as a power cut at many points would have left it, and load it with ember.

Recording
---------
``python -m tests.faults.powerloss serve RECORD -- <ember-server args>`` runs the real
``ember.server.main.main()`` in-process with the persistence file layer
(:mod:`ember.persistence.fs`) replaced by :class:`TimedRecordingFS`, a ``RecordingFS``
that also stamps each operation with ``time.monotonic()`` (start and completion; the
completion stamp is taken under the lock that appends it, so the list is in completion
order), the file descriptor, and for ``fsync`` the file size when the call started (the
bytes the fsync is guaranteed to cover). On exit it pickles the list to ``RECORD``.
Writer threads in the test process drive the server over TCP and stamp every request
with the same clock (CLOCK_MONOTONIC is system-wide), so "acknowledged before the cut"
is a plain comparison. Only the forkless engine is recorded (a forked child's writes
would happen in another process).

Replay model (:class:`SimFS`)
----------------------------
A file is an inode with its current bytes and its *synced* bytes (as of the last
``fsync``: the first ``size_at_start`` bytes). A directory has its current entries and
its *durable* entries (as of its last ``fsync`` of the directory). A cut after operation
``c`` produces, per variant:

* ``synced``: durable entries, each file with its synced bytes (everything not fsynced
  is dropped);
* ``torn``: like ``synced`` but every file whose unsynced change is an append keeps a
  random prefix of the unsynced bytes (a write torn at any byte);
* ``meta``: the directory entries as of a random point between the last directory
  fsync and the cut (a journaled file system commits metadata in order; a rename may be
  durable before its directory fsync), files synced or torn;
* ``process``: current entries and all bytes (the process died, the kernel did not:
  what ``kill -9`` leaves), to check that replies are sent only after ``write()``.

Assumptions (what is NOT covered): rename and directory-entry updates are atomic and
ordered (POSIX rename, ext4 ``data=ordered`` journal); ``fsync`` makes exactly the bytes
written before it durable; directories created with ``mkdir`` exist; a torn write keeps
a prefix (no reordering of pages inside a file, no zero-filled or garbage tails, no
bit-rot, no lying disk caches); the file layer is the only writer (the fork engine is not
recorded).

Checks
------
Each rebuilt directory is loaded the way ember starts (AOF when ``appendonly yes`` and a
manifest names files, else ``dump.rdb``, else empty) with ember's own loaders
(:mod:`ember.persistence.aof.loader`, :func:`ember.persistence.rdbfile.load_rdb_into`)
into an in-process ``Server``; a few cuts are also started with a real ``ember-server``
and their ``DEBUG DIGEST`` compared. Then, per policy:

* ``always``: every write acknowledged before the cut is present;
* ``everysec``: every write acknowledged before the start of the last completed fsync
  is present (loss bounded by what was not fsynced); the gap between fsyncs is reported;
* ``no``: nothing is promised for a power loss, only the structural checks below;
* every variant, every policy: the directory loads (a torn tail is repaired by
  ``aof-load-truncated``), no phantom (nothing sent after the cut, no unknown value), no
  torn MULTI/EXEC, each writer's surviving operations are a prefix of what it sent; the
  ``process`` variant must keep every acknowledged write under every policy;
* RDB: ``dump.rdb`` is absent (before the first save), or loads and equals exactly the
  dataset of the last save whose rename was made durable, or of a later save whose
  rename reached the directory (``meta``/``process``); never a broken file.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import io
import os
import pickle
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ember.persistence import fs as fsmod
from tests.faults.workload import (
    Gate,
    Op,
    Verdict,
    Writer,
    check_round,
    connect,
    keys_of,
)
from tests.helpers.servers import ROOT, ServerProcess, ember_cmd

# ------------------------------------------------------------------------------ recording


@dataclass
class TOp(fsmod.Op):
    t0: float = 0.0  # monotonic time when the call started
    t1: float = 0.0  # ... and when it completed (list order)
    fd: int = -1
    size0: int = 0  # fsync: file size when the call started


@dataclass
class TimedRecordingFS(fsmod.RecordingFS):
    """A RecordingFS with timestamps, fds and fsync coverage (see module docstring)."""

    def _add(self, op: TOp) -> None:
        with self.lock:
            op.t1 = time.monotonic()
            self.ops.append(op)

    def open_write(self, path: str, append: bool = False) -> int:
        t0 = time.monotonic()
        fd = fsmod.FileSystem.open_write(self, path, append)
        self._add(TOp("open", os.path.abspath(path), arg="a" if append else "w", t0=t0, fd=fd))
        return fd

    def write(self, fd: int, data: bytes | memoryview, path: str = "") -> None:
        t0 = time.monotonic()
        fsmod.FileSystem.write(self, fd, data, path)
        self._add(TOp("write", path, bytes(data), t0=t0, fd=fd))

    def fsync(self, fd: int, path: str = "") -> None:
        t0 = time.monotonic()
        size0 = os.fstat(fd).st_size
        fsmod.FileSystem.fsync(self, fd, path)
        self._add(TOp("fsync", path, t0=t0, fd=fd, size0=size0))

    def truncate(self, fd: int, size: int, path: str = "") -> None:
        t0 = time.monotonic()
        fsmod.FileSystem.truncate(self, fd, size, path)
        self._add(TOp("truncate", path, arg=size, t0=t0, fd=fd))

    def close(self, fd: int, path: str = "") -> None:
        # recorded before the call: once closed, the fd number can be reused by an open
        # on another thread, which must come after this record
        self._add(TOp("close", path, t0=time.monotonic(), fd=fd))
        fsmod.FileSystem.close(self, fd, path)

    def rename(self, src: str, dst: str) -> None:
        t0 = time.monotonic()
        fsmod.FileSystem.rename(self, src, dst)
        self._add(TOp("rename", os.path.abspath(src), arg=os.path.abspath(dst), t0=t0))

    def unlink(self, path: str) -> None:
        t0 = time.monotonic()
        fsmod.FileSystem.unlink(self, path)
        self._add(TOp("unlink", os.path.abspath(path), t0=t0))

    def fsync_dir(self, path: str) -> None:
        t0 = time.monotonic()
        fsmod.FileSystem.fsync_dir(self, path)
        self._add(TOp("fsync_dir", os.path.abspath(path or "."), t0=t0))


MUTATIONS = ("reply-before-write", "manifest-before-file")


def _mutate(name: str) -> None:
    """Reintroduce a known durability bug, to prove the checks catch it."""
    from ember.persistence.aof.manager import AofManager

    if name == "reply-before-write":  # replies leave before the AOF write() (everysec/no)
        orig = AofManager.hold_output

        def hold_output(self: Any, client: Any, data: bytes) -> bool:
            return orig(self, client, data) if self.cfg["appendfsync"] == "always" else False

        AofManager.hold_output = hold_output  # type: ignore[method-assign]
    elif name == "manifest-before-file":  # the manifest names an incr file not created yet
        AofManager._create_file = lambda self, info: None  # type: ignore[method-assign]


def serve_main(record: str, args: list[str]) -> int:
    rec = TimedRecordingFS()
    fsmod.set_fs(rec)
    mutation = os.environ.get("EMBER_FAULTS_MUTATION", "")
    if mutation:
        _mutate(mutation)
    from ember.server.main import main

    try:
        return main(args)
    finally:
        with open(record, "wb") as f:
            pickle.dump(rec.ops, f)


class RecordingServer(ServerProcess):
    """ember-server run through :func:`serve_main` (same arguments as ServerProcess)."""

    def __init__(self, workdir: Path, args: list[str], record: Path, mutation: str = "") -> None:
        super().__init__("ember", workdir, args)
        self.record = record
        self.mutation = mutation

    def command_line(self) -> list[str]:
        cmd = super().command_line()
        return [
            sys.executable,
            "-m",
            "tests.faults.powerloss",
            "serve",
            str(self.record),
            "--",
            *cmd[len(ember_cmd()) :],
        ]

    def start(self, wait: bool = True, timeout: float = 30.0) -> RecordingServer:
        log = open(self.logfile, "ab")
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            EMBER_FAULTS_MUTATION=self.mutation,
        )
        self.proc = subprocess.Popen(
            self.command_line(), cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        if wait:
            self.wait_ready(timeout)
        return self


# ------------------------------------------------------------------------------ replay


@dataclass
class Inode:
    data: bytearray = field(default_factory=bytearray)
    synced_len: int = 0
    synced_explicit: bytes | None = None  # durable bytes when they are not a prefix of data

    def synced(self) -> bytes:
        if self.synced_explicit is not None:
            return self.synced_explicit
        return bytes(self.data[: self.synced_len])

    def unsynced_append(self) -> bytes:
        """The bytes after the synced ones when the change since the fsync is an append."""
        if self.synced_explicit is not None:
            return b""
        return bytes(self.data[self.synced_len :])

    def cut(self, keep: int) -> None:
        if keep < self.synced_len and self.synced_explicit is None:
            self.synced_explicit = bytes(self.data[: self.synced_len])
        del self.data[keep:]


class SimFS:
    """Applies recorded operations to an in-memory model of files and directories."""

    def __init__(self) -> None:
        self.inodes: list[Inode] = []
        self.names: dict[str, int] = {}
        self.durable: dict[str, int] = {}
        self.fds: dict[int, int] = {}
        # metadata states since the last directory fsync (for the ``meta`` variant)
        self.meta_history: list[dict[str, int]] = []

    def apply(self, op: TOp) -> None:
        k = op.kind
        if k == "open":
            ino = self.names.get(op.path)
            if ino is None:
                ino = len(self.inodes)
                self.inodes.append(Inode())
                self.names[op.path] = ino
                self._meta()
            elif op.arg == "w":
                self.inodes[ino].cut(0)
            self.fds[op.fd] = ino
        elif k == "write":
            self.inodes[self.fds[op.fd]].data += op.data
        elif k == "fsync":
            node = self.inodes[self.fds[op.fd]]
            node.synced_len = min(op.size0, len(node.data))
            node.synced_explicit = None
        elif k == "truncate":
            self.inodes[self.fds[op.fd]].cut(int(op.arg))
        elif k == "close":
            self.fds.pop(op.fd, None)
        elif k == "rename":
            ino = self.names.pop(op.path)
            self.names[str(op.arg)] = ino
            self._meta()
        elif k == "unlink":
            if self.names.pop(op.path, None) is not None:
                self._meta()
        elif k == "fsync_dir":
            d = op.path
            for name in [n for n in self.durable if os.path.dirname(n) == d]:
                del self.durable[name]
            for name, ino in self.names.items():
                if os.path.dirname(name) == d:
                    self.durable[name] = ino
            self.meta_history = []

    def _meta(self) -> None:
        self.meta_history.append(dict(self.names))

    def materialize(self, root: str, dest: Path, variant: str, rng: random.Random) -> None:
        if variant == "process":
            entries = self.names
        elif variant == "meta" and self.meta_history:
            entries = rng.choice([self.durable, *self.meta_history])
        else:
            entries = self.durable
        for path, ino in entries.items():
            rel = os.path.relpath(path, root)
            if rel.startswith(".."):
                continue
            node = self.inodes[ino]
            if variant == "process":
                data = bytes(node.data)
            else:
                data = node.synced()
                extra = node.unsynced_append()
                if extra and variant in ("torn", "meta"):
                    data += extra[: rng.randint(0, len(extra))]
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)


# ------------------------------------------------------------------------------ loading


@contextlib.contextmanager
def captured_log() -> Iterator[io.StringIO]:
    from ember.server import log

    buf = io.StringIO()
    old = log._state["file"]
    log._state["file"] = buf
    try:
        yield buf
    finally:
        log._state["file"] = old


@dataclass
class Loaded:
    ok: bool
    source: str  # aof | rdb | empty
    server: Any = None
    log: str = ""


def load_dir(d: Path, appendonly: bool) -> Loaded:
    """Load ``d`` the way ember's startup does, in-process (see module docstring)."""
    from ember.commands.registry import load_all
    from ember.config import Config
    from ember.persistence.aof import manifest as mf
    from ember.persistence.aof.loader import load_aof_files
    from ember.persistence.rdb.errors import RdbFormatError
    from ember.persistence.rdbfile import load_rdb_into
    from ember.server.server import Server

    load_all()
    srv = Server(Config())
    with captured_log() as buf:
        try:
            man = d / "appendonlydir" / "appendonly.aof.manifest"
            m = mf.parse_manifest(man.read_bytes()) if appendonly and man.exists() else None
            if m is not None and not m.is_empty:
                asyncio.run(load_aof_files(srv, str(d / "appendonlydir"), m, True))
                return Loaded(True, "aof", srv, buf.getvalue())
            rdb = d / "dump.rdb"
            if rdb.exists():
                asyncio.run(load_rdb_into(srv, rdb.read_bytes()))
                return Loaded(True, "rdb", srv, buf.getvalue())
            return Loaded(True, "empty", srv, buf.getvalue())
        except (SystemExit, RdbFormatError, mf.ManifestError, OSError, ValueError) as e:
            return Loaded(False, "", None, buf.getvalue() + f"\n{e!r}")


def digest_of(srv: Any) -> str:
    from ember.persistence.digest import dataset_digest

    d = dataset_digest(srv.dbs)
    return d.decode() if isinstance(d, bytes) else str(d)


# ------------------------------------------------------------------------------ workloads


@dataclass
class SaveMark:
    digest: str
    t_call: float  # BGSAVE/SAVE sent


@dataclass
class Recording:
    policy: str  # always | everysec | no | rdb
    root: str
    ops: list[TOp]
    writes: dict[int, list[Op]]
    saves: list[SaveMark] = field(default_factory=list)
    real_digest: str = ""  # DEBUG DIGEST at the end
    log: str = ""


def record_workload(
    policy: str, workdir: Path, seed: int, quick: bool, mutation: str = ""
) -> Recording:
    """Run writers against a recording server; returns what happened on both sides."""
    rng = random.Random(f"{seed}:record:{policy}")
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    args = ["--enable-debug-command", "yes", "--bgsave-engine", "forkless", "--save", ""]
    if policy == "rdb":
        args += ["--appendonly", "no"]
    else:
        args += ["--appendonly", "yes", "--appendfsync", policy]
    record = workdir / "ops.pickle"
    (workdir / "data").mkdir()
    srv = RecordingServer(Path(os.path.realpath(workdir / "data")), args, record, mutation).start()
    nwriters = 2 if quick else 4
    duration = 1.5 if quick else 3.0
    stop = threading.Event()
    gate = Gate(nwriters)
    writers = [
        Writer(
            w,
            srv.port,
            0,
            stop,
            gate,
            seed=rng.randrange(1 << 30),
            value_size=(8, 200),
            pause=0.002 if quick else 0.0,
        )
        for w in range(nwriters)
    ]
    saves: list[SaveMark] = []
    try:
        c = connect(srv.port, 60)
        _drive(c, policy, writers, gate, stop, saves, duration)
        real = c.execute_command("DEBUG", "DIGEST")
        c.close()
    finally:
        srv.stop()  # SIGTERM: graceful, the wrapper pickles the operations
    with open(record, "rb") as f:
        ops = pickle.load(f)
    return Recording(
        policy,
        os.path.realpath(workdir / "data"),
        ops,
        {w.w: w.ops for w in writers},
        saves,
        real.decode() if isinstance(real, bytes) else real,
        srv.log_text(),
    )


def _drive(
    c: Any,
    policy: str,
    writers: list[Writer],
    gate: Gate,
    stop: threading.Event,
    saves: list[SaveMark],
    duration: float,
) -> None:
    """The workload: writers plus three known saves (RDB) or one rewrite (AOF)."""
    try:
        for w in writers:
            w.start()
        if policy == "rdb":
            for i in range(3):
                time.sleep(duration / 4)
                if not gate.pause():
                    raise RuntimeError("writers did not pause")
                d = c.execute_command("DEBUG", "DIGEST")
                t = time.monotonic()
                saves.append(SaveMark(d.decode() if isinstance(d, bytes) else d, t))
                if i == 1:
                    c.save()
                else:
                    c.config_set("rdb-key-save-delay", str(max(1, int(0.3e6 / max(1, c.dbsize())))))
                    c.bgsave()
                gate.resume()
                _wait_persist(c, "rdb_bgsave_in_progress")
            time.sleep(duration / 4)
        else:
            time.sleep(duration / 2)
            c.config_set("rdb-key-save-delay", str(max(1, int(0.3e6 / max(1, c.dbsize())))))
            c.bgrewriteaof()
            time.sleep(duration / 2)
            _wait_persist(c, "aof_rewrite_in_progress")
            time.sleep(0.2)
    finally:
        gate.resume()
        stop.set()
        for w in writers:
            w.join(30)


def _wait_persist(c: Any, key: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not int(c.info("persistence").get(key, 0)):
            return
        time.sleep(0.02)
    raise TimeoutError(key)


# ------------------------------------------------------------------------------ checking


@dataclass
class PLStats:
    """One row of the summary table (same columns as the crash harness)."""

    name: str
    rounds: int = 0  # rebuilt directories checked
    acked: int = 0
    lost: int = 0
    phantom: int = 0
    torn: int = 0
    refused: int = 0
    killed_in_event: int = 0  # cuts inside a save/rewrite (between temp open and rename)
    unsaved: int = 0  # most acknowledged writes one cut legitimately lost (not yet fsynced)
    tails_repaired: int = 0
    errors: list[str] = field(default_factory=list)
    max_fsync_gap: float = 0.0
    max_loss_window: float = 0.0  # seconds between the oldest lost acknowledgement and the cut
    real_starts: int = 0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.phantom or self.torn or self.refused or self.errors)


def cut_points(ops: list[TOp], rng: random.Random, limit: int) -> list[int]:
    """Cuts at every durability boundary (before/after fsync, rename, dir fsync) and at
    random points between, sampled down to ``limit``."""
    edges: set[int] = {0, len(ops)}
    meta: set[int] = set()
    for i, op in enumerate(ops):
        if op.kind in ("fsync", "fsync_dir", "rename", "unlink"):
            edges.update((i, i + 1))
        if op.kind in ("rename", "fsync_dir"):
            meta.update((i, i + 1))
    for _ in range(max(10, len(ops) // 20)):
        edges.add(rng.randrange(len(ops) + 1))
    chosen = sorted(edges)
    if len(chosen) > limit:
        keep = sorted(meta | {0, len(ops)})
        rest = [c for c in chosen if c not in meta]
        chosen = sorted(set(keep + rng.sample(rest, max(0, limit - len(keep)))))
    return chosen


def check_recording(
    rec: Recording,
    scratch: Path,
    seed: int,
    limit: int,
    real_checks: int,
    log: Callable[[str], None] = lambda s: None,
) -> PLStats:
    rng = random.Random(f"{seed}:replay:{rec.policy}")
    st = PLStats(f"powerloss-{rec.policy}")
    ops = rec.ops
    appendonly = rec.policy != "rdb"
    all_ops = [op for ops_ in rec.writes.values() for op in ops_]
    st.acked = sum(1 for op in all_ops if op.acked)
    # the invariant behind "kill -9 loses nothing": a reply leaves after its write()
    cuts = cut_points(ops, rng, limit)
    variants = ["synced", "torn", "meta", "process"]
    sim = SimFS()
    applied = 0
    last_fsync_t0 = 0.0  # everysec: start of the last completed fsync of an AOF file
    renames_dump: list[int] = []  # op index of each rename onto dump.rdb
    durable_saves = 0  # saves whose rename was followed by a fsync of the directory
    pending_save_renames = 0
    fsync_times: list[float] = []
    dump = os.path.join(rec.root, "dump.rdb")
    real_left = real_checks
    in_event = False
    for cut in cuts:
        while applied < cut:
            op = ops[applied]
            sim.apply(op)
            if op.kind == "fsync" and op.path.endswith(".incr.aof"):
                last_fsync_t0 = max(last_fsync_t0, op.t0)
                fsync_times.append(op.t1)
            if op.kind == "rename" and op.arg == dump:
                renames_dump.append(applied)
                pending_save_renames += 1
            if op.kind == "fsync_dir" and op.path == rec.root and pending_save_renames:
                durable_saves += pending_save_renames
                pending_save_renames = 0
            if op.kind == "open" and os.path.basename(op.path).startswith("temp-"):
                in_event = True
            if op.kind == "rename" and os.path.basename(op.path).startswith("temp-"):
                in_event = False
            applied += 1
        t_cut = ops[cut].t1 if cut < len(ops) else float("inf")
        if in_event:
            st.killed_in_event += 1
        for variant in variants:
            dest = scratch / f"cut{cut}-{variant}"
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            sim.materialize(rec.root, dest, variant, rng)
            loaded = load_dir(dest, appendonly)
            st.rounds += 1
            where = f"cut {cut}/{len(ops)} ({variant})"
            if not loaded.ok:
                st.refused += 1
                st.errors.append(
                    f"{where}: refused to load: {loaded.log.strip().splitlines()[-3:]}"
                )
                continue
            st.tails_repaired += loaded.log.count("Truncating the AOF")
            if appendonly:
                _check_aof_cut(rec, st, loaded, all_ops, variant, t_cut, last_fsync_t0, where)
            else:
                _check_rdb_cut(
                    rec, st, loaded, variant, t_cut, durable_saves, len(renames_dump), where
                )
            if (
                real_left
                and variant in ("torn", "meta")
                and cut not in (0, len(ops))
                and rng.random() < 0.3
            ):
                real_left -= 1
                _check_real_start(dest, appendonly, digest_of(loaded.server), st, where)
            shutil.rmtree(dest, ignore_errors=True)
    if fsync_times and rec.policy == "everysec":
        gaps = [b - a for a, b in zip(fsync_times, fsync_times[1:], strict=False)]
        st.max_fsync_gap = max(gaps, default=0.0)
    log(f"  {st.name}: {len(ops)} file operations, {len(cuts)} cuts x {len(variants)} variants")
    return st


def _check_aof_cut(
    rec: Recording,
    st: PLStats,
    loaded: Loaded,
    all_ops: list[Op],
    variant: str,
    t_cut: float,
    last_fsync_t0: float,
    where: str,
) -> None:
    from tests.faults.workload import read_dataset_local

    got = read_dataset_local(loaded.server.dbs, _keys_cache(all_ops))
    count = len(loaded.server.dbs[0].data)
    if variant == "process" or rec.policy == "always":
        limit = t_cut
    elif rec.policy == "everysec":
        limit = last_fsync_t0
    else:
        limit = float("-inf")

    def must(op: Op) -> bool:
        return op.acked and op.t_ack is not None and op.t_ack < limit

    def cannot(op: Op) -> bool:
        return op.t_send > t_cut

    v: Verdict
    v, _ = check_round({}, rec.writes, got, count, must_have=must, cannot_have=cannot)
    st.lost += v.lost
    st.phantom += v.phantom
    st.torn += v.torn
    gone = [
        op.t_ack
        for op in all_ops
        if op.acked
        and op.t_ack is not None
        and op.t_ack < t_cut
        and (op.w, op.seq) not in v.present
    ]
    st.unsaved = max(st.unsaved, len(gone))  # the worst single cut
    if gone and t_cut != float("inf"):
        # how far back the loss reaches: the oldest acknowledged write the cut lost
        st.max_loss_window = max(st.max_loss_window, t_cut - min(gone))
    if not v.ok:
        st.errors.append(f"{where}: " + "; ".join(v.notes[:4]))


_KEYS: dict[int, set[bytes]] = {}


def _keys_cache(all_ops: list[Op]) -> set[bytes]:
    k = id(all_ops)
    if k not in _KEYS:
        _KEYS.clear()
        keys: set[bytes] = set()
        for op in all_ops:
            keys.update(keys_of(op))
        _KEYS[k] = keys
    return _KEYS[k]


def _check_rdb_cut(
    rec: Recording,
    st: PLStats,
    loaded: Loaded,
    variant: str,
    t_cut: float,
    durable_saves: int,
    renamed_saves: int,
    where: str,
) -> None:
    if loaded.source == "empty":
        if (durable_saves if variant != "process" else renamed_saves) > 0:
            st.lost += 1
            st.errors.append(f"{where}: dump.rdb missing after {durable_saves} durable saves")
        return
    d = digest_of(loaded.server)
    digests = [s.digest for s in rec.saves]
    # the n-th rename onto dump.rdb installs the n-th save; which ones may be visible:
    if variant == "process":
        allowed = [renamed_saves - 1]
    elif variant == "meta":
        allowed = list(range(durable_saves - 1, renamed_saves))
    else:
        allowed = [durable_saves - 1]
    if not any(0 <= i < len(digests) and digests[i] == d for i in allowed):
        st.phantom += 1
        st.errors.append(
            f"{where}: dump.rdb digest {d[:12]} is not save(s) {[i + 1 for i in allowed]} "
            f"of {[x[:12] for x in digests]}"
        )


def _check_real_start(dest: Path, appendonly: bool, want: str, st: PLStats, where: str) -> None:
    args = [
        "--enable-debug-command",
        "yes",
        "--save",
        "",
        "--appendonly",
        "yes" if appendonly else "no",
    ]
    srv = ServerProcess("ember", dest, args)
    try:
        srv.start(timeout=60)
        c = srv.client()
        got = c.execute_command("DEBUG", "DIGEST")
        got = got.decode() if isinstance(got, bytes) else got
        c.close()
        st.real_starts += 1
        if got != want:
            st.errors.append(
                f"{where}: real ember-server digest {got[:12]} != in-process {want[:12]}"
            )
    except RuntimeError as e:
        st.refused += 1
        st.errors.append(f"{where}: real ember-server refused to start: {str(e)[-300:]}")
    finally:
        srv.stop()


def write_before_reply_violations(rec: Recording) -> tuple[int, int]:
    """(checked, violations): acknowledged operations whose AOF ``write()`` had not
    completed when the reply arrived.

    Under every policy the bytes of a write must be handed to the kernel before the
    reply leaves: that is why ``kill -9`` loses nothing with ``everysec``/``no``. Each
    SET/register/transaction carries a unique value, found in the stream of writes to the
    incr files; the write holding it must have completed before the acknowledgement."""
    writes = [
        op
        for op in rec.ops
        if op.kind == "write"
        and "appendonlydir" in op.path
        and not os.path.basename(op.path).startswith("temp-")
    ]
    stream = bytearray()
    starts: list[int] = []
    for op in writes:
        starts.append(len(stream))
        stream += op.data
    checked = bad = 0
    for ops in rec.writes.values():
        for op in ops:
            if not op.acked or op.t_ack is None or op.kind == "incr":
                continue
            checked += 1
            pos = stream.find(op.value)
            if pos < 0:
                bad += 1
                continue
            i = bisect.bisect_right(starts, pos) - 1
            if writes[i].t1 > op.t_ack:
                bad += 1
    return checked, bad


POLICIES = ("always", "everysec", "no", "rdb")


def run_policy(
    policy: str,
    workdir: Path,
    seed: int = 0,
    quick: bool = True,
    log: Callable[[str], None] = lambda s: None,
    mutation: str = "",
) -> PLStats:
    rec = record_workload(policy, workdir / "record", seed, quick, mutation)
    st = check_recording(
        rec,
        workdir / "cuts",
        seed,
        limit=20 if quick else 200,
        real_checks=1 if quick else 4,
        log=log,
    )
    if policy != "rdb":
        checked, bad = write_before_reply_violations(rec)
        if bad:
            st.lost += bad
            st.errors.append(
                f"{bad} of {checked} replies left before the write() of their AOF bytes "
                "(a kill -9 at that moment loses them)"
            )
    return st


def run_all(
    workdir: Path, quick: bool = False, seed: int = 0, log: Callable[[str], None] = lambda s: None
) -> list[Any]:
    out = []
    for p in POLICIES:
        t0 = time.monotonic()
        st = run_policy(p, workdir / p, seed, quick, log)
        out.append(st)
        extra = (
            f", oldest lost acknowledgement {st.max_loss_window:.2f} s before the cut"
            if p != "rdb"
            else ""
        )
        if p == "everysec":
            extra += f", max gap between fsyncs {st.max_fsync_gap:.2f} s"
        log(f"{st.name}: {'ok' if st.ok else 'FAILED'} ({time.monotonic() - t0:.1f} s{extra})")
        for e in st.errors[:5]:
            log("   " + e)
    return out


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "serve":
        rest = argv[2:]
        if rest and rest[0] == "--":
            rest = rest[1:]
        return serve_main(argv[1], rest)
    print(
        "usage: python -m tests.faults.powerloss serve RECORD -- <ember-server args>",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    # run through the importable module so pickled classes are tests.faults.powerloss.*
    from tests.faults import powerloss as _module

    sys.exit(_module.main(sys.argv[1:]))
