"""Loading the AOF at start: startup order, Redis <= 6 single files, truncated tails,
damaged files and manifests, and every AOF of the shared corpus.

* Truncation: every byte offset of a small AOF's incr file is loaded by ember's loader
  in-process and checked against a model (exactly the commands before the cut, an open
  MULTI dropped, the file cut where Redis cuts it); the offsets inside a multi-arg
  command and a MULTI block are also loaded by a real redis-server 7.0.15 and must give
  the same dataset and the same file; a sample of offsets goes through a started ember.
* Damaged files: the same broken directory is given to redis-server and to ember; both
  must refuse to start with the same fatal messages and leave the same bytes on disk.
* Corpus: every AOF in ``corpus/aof`` replays in a started ember to its expectation
  (``expected/aof__*.replay.json``); the expected load failures must fail. Files using
  commands ember does not have (Valkey 9 hash-field TTL commands, a module command) must
  be refused with Redis's ``Unknown command`` message, as Redis 7.0 refuses them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.servers import ServerProcess, free_port
from tests.interop import CORPUS, Raw, RespError, info

from ember.persistence.aof import manifest as mf
from ember.persistence.aof.format import encode_command
from ember.persistence.aof.parser import parse_aof
from ember.persistence.aof.replay import iter_aof_dir
from ember.persistence.rdb import RdbReader
from ember.tools.check_rdb import rdb_to_json, value_to_json

Factory = Callable[..., ServerProcess]
EXPECTED = CORPUS / "expected"
MANIFEST = "appendonly.aof.manifest"
BASE = "appendonly.aof.1.base.aof"
INCR = "appendonly.aof.1.incr.aof"
TWO_FILES = f"file {BASE} seq 1 type b\nfile {INCR} seq 1 type i\n".encode()


def ember_args(*extra: str) -> list[str]:
    args = ["--enable-debug-command", "yes", "--save", ""]
    if "--appendonly" not in extra:
        args += ["--appendonly", "yes"]
    return [*args, *extra]


def write_dir(d: Path, files: dict[str, bytes], sub: str = "appendonlydir") -> None:
    (d / sub).mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (d / sub / name).write_bytes(data)


def snapshot(d: Path) -> dict[str, bytes]:
    """Every file under ``d`` except the server logs."""
    return {
        str(p.relative_to(d)): p.read_bytes()
        for p in sorted(d.rglob("*"))
        if p.is_file() and not p.name.endswith(".log")
    }


_USED_PORTS: set[int] = set()


def new_port() -> int:
    """A free loopback port not handed to another server of this module (servers are
    started in batches: two free_port() calls may return the same number)."""
    for _ in range(1000):
        p = free_port()
        if p not in _USED_PORTS:
            _USED_PORTS.add(p)
            return p
    raise RuntimeError("no free port")


def _ready(s: ServerProcess) -> bool:
    """Serving (not -LOADING), and really this process on that port."""
    assert s.proc is not None
    try:
        with Raw(s.port, timeout=2) as r:
            if isinstance(r.any("PING"), RespError):
                return False
            return info(r, "server")["process_id"] == str(s.proc.pid)
    except (OSError, ConnectionError):
        return False


def launch(servers: Iterable[ServerProcess], timeout: float = 60.0) -> list[int | None]:
    """Start all at once; per server: None once it serves, or its exit code."""
    servers = list(servers)
    marks = []
    for s in servers:
        marks.append(len(s.log_text()))
        s.start(wait=False)
    out: list[int | None] = []
    for s, mark in zip(servers, marks, strict=True):
        deadline = time.monotonic() + timeout
        retries = 2
        while True:
            assert s.proc is not None
            rc = s.proc.poll()
            if rc is not None and retries and "Address already in use" in s.log_text()[mark:]:
                # another process took the port meanwhile (busy machine): new port
                retries -= 1
                mark = len(s.log_text())
                s.proc = None
                s.port = new_port()
                s.start(wait=False)
                continue
            if rc is not None:
                out.append(rc)
                break
            if _ready(s):
                out.append(None)
                break
            assert time.monotonic() < deadline, (
                f"{s.kind} neither started nor exited:\n{s.log_text()}"
            )
            time.sleep(0.03)
    return out


def start_all(servers: Iterable[ServerProcess]) -> None:
    servers = list(servers)
    codes = launch(servers)
    for s, rc in zip(servers, codes, strict=True):
        assert rc is None, f"{s.kind} exited with {rc}:\n{s.log_text()[-3000:]}"


def stop_all(servers: Iterable[ServerProcess]) -> None:
    servers = list(servers)
    for s in servers:
        if s.proc is not None and s.proc.poll() is None:
            s.proc.send_signal(signal.SIGTERM)
    for s in servers:
        s.stop()


_LOGLINE = re.compile(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [.\-*#] ?(.*)$")
_NOISE = (
    "oO0OoO0OoO0Oo",
    "Redis version=",
    "Configuration loaded",
    "Warning: no config file",
    "Server initialized",
    "WARNING Memory overcommit",
    "WARNING overcommit_memory",
    "Running mode=",
)


def messages(log: str, marks: str = "#") -> list[str]:
    """Texts of the log lines with the given level marks (and their continuation lines)."""
    out: list[str] = []
    keep = False
    for line in log.splitlines():
        m = _LOGLINE.match(line)
        if m:
            keep = line[len(line) - len(m[1]) - 2] in marks if m[1] else line.rstrip()[-1] in marks
            text = m[1]
        else:
            text = line  # continuation of a multi-line message
        text = text.strip()
        if keep and text and not any(n in text for n in _NOISE):
            out.append(text)
    return out


_RDB_INTERNAL = ("Internal error in RDB reading", "[offset ", "Short read or OOM loading DB")


def expire_all(port: int) -> None:
    """Delete logically expired keys (SCAN expires what it meets) so that DEBUG DIGEST,
    which hashes every stored key, compares datasets not expiry timing."""
    with Raw(port) as r:
        for db in range(16):
            r("SELECT", db)
            cursor = b"0"
            for _ in range(100_000):
                cursor, _keys = r("SCAN", cursor, "COUNT", 1000)
                if cursor == b"0":
                    break


def read_dataset(port: int) -> dict[int, dict[bytes, Any]]:
    """Strings and lists of every db (the truncation AOF only has those)."""
    out: dict[int, dict[bytes, Any]] = {}
    with Raw(port) as r:
        for db in range(16):
            r("SELECT", db)
            keys = r("KEYS", "*")
            if not keys:
                continue
            d = out[db] = {}
            for k in keys:
                t = r("TYPE", k)
                d[k] = r("GET", k) if t == b"string" else r("LRANGE", k, 0, -1)
    return out


# ------------------------------------------------------------------------ startup order


def test_startup_order_aof_first_then_rdb_like_redis(
    ember_factory: Factory, redis_factory: Factory
) -> None:
    """AOF on and present: the AOF wins over dump.rdb; AOF off: dump.rdb is loaded."""
    prep = ember_factory(*ember_args("--appendfsync", "always"), sub="prep", start=False)
    start_all([prep])
    with Raw(prep.port) as r:
        r("SET", "common", "1")
        r("SET", "rdb-only", "1")
        r("SAVE")
        r("DEL", "rdb-only")
        r("SET", "aof-only", "1")
    prep.stop()
    files = snapshot(prep.dir)
    assert "dump.rdb" in files and "appendonlydir/appendonly.aof.1.incr.aof" in files
    results = {}
    for appendonly in ("yes", "no"):
        servers = []
        for kind, factory in (("ember", ember_factory), ("redis", redis_factory)):
            s = factory(
                *ember_args("--appendonly", appendonly),
                sub=f"{kind}-{appendonly}",
                start=False,
                port=new_port(),
            )
            for name, data in files.items():
                (s.dir / name).parent.mkdir(parents=True, exist_ok=True)
                (s.dir / name).write_bytes(data)
            servers.append(s)
        start_all(servers)
        got = [read_dataset(s.port) for s in servers]
        assert got[0] == got[1], appendonly
        results[appendonly] = got[0]
    assert set(results["yes"][0]) == {b"common", b"aof-only"}
    assert set(results["no"][0]) == {b"common", b"rdb-only"}


def test_aof_enabled_but_absent_loads_the_rdb_then_writes_a_base(ember_factory: Factory) -> None:
    """ember's documented difference: Redis 7 would start empty and ignore dump.rdb."""
    s = ember_factory(*ember_args("--appendonly", "no"), start=False)
    start_all([s])
    with Raw(s.port) as r:
        r.pipeline([("SET", f"k{i}", i) for i in range(50)] + [("RPUSH", "l", "a", "b")])
        r("SAVE")
        want = r("DEBUG", "DIGEST")
    s.stop()
    assert not (s.dir / "appendonlydir").exists()
    s.args[s.args.index("--appendonly") + 1] = "yes"
    s.port = new_port()  # the old port may be taken meanwhile
    start_all([s])
    with Raw(s.port) as r:
        assert r("DEBUG", "DIGEST") == want
        assert info(r, "persistence")["aof_enabled"] == "1"
    assert (s.dir / "appendonlydir" / MANIFEST).read_bytes() == (
        b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    )
    base = (s.dir / "appendonlydir" / "appendonly.aof.1.base.rdb").read_bytes()
    assert base.startswith(b"REDIS") and b"aof-base" in base
    # the base alone carries the dataset now
    s.stop()
    (s.dir / "dump.rdb").unlink()
    s.port = new_port()  # the old port may be taken meanwhile
    start_all([s])
    with Raw(s.port) as r:
        assert r("DEBUG", "DIGEST") == want
    s.stop()
    # nothing at all: starts empty with an empty base and incr
    e = ember_factory(*ember_args("--aof-use-rdb-preamble", "no"), start=False)
    start_all([e])
    with Raw(e.port) as r:
        assert r("DBSIZE") == 0
    assert (e.dir / "appendonlydir" / BASE).read_bytes() == b""
    assert (e.dir / "appendonlydir" / MANIFEST).read_bytes() == TWO_FILES


# ------------------------------------------------------------------ Redis <= 6 single file


LEGACY = sorted((CORPUS / "aof" / "generated-redis-6.2.14").glob("*/*/appendonly.aof"))


@pytest.mark.interop
def test_legacy_single_aof_is_loaded_and_migrated_like_redis(
    ember_factory: Factory, redis_factory: Factory
) -> None:
    assert len(LEGACY) == 4  # plain / preamble, before / after a rewrite
    pairs = []
    for n, src in enumerate(LEGACY):
        pair = []
        for kind, factory in (("ember", ember_factory), ("redis", redis_factory)):
            s = factory(*ember_args(), sub=f"{kind}{n}", start=False, port=new_port())
            s.dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, s.dir / "appendonly.aof")
            pair.append(s)
        pairs.append(pair)
    start_all(s for p in pairs for s in p)
    for (e, rd), src in zip(pairs, LEGACY, strict=True):
        expire_all(e.port)
        expire_all(rd.port)
        with Raw(e.port) as a, Raw(rd.port) as b:
            assert a("DEBUG", "DIGEST") == b("DEBUG", "DIGEST"), src
            assert a("DBSIZE") == b("DBSIZE") > 0
        got, want = snapshot(e.dir), snapshot(rd.dir)
        # same files, same bytes; the incr file only holds the DELs of keys whose TTL
        # passed since the corpus was made, in expiry order (and ember wraps the DELs of
        # one SCAN in MULTI/EXEC, Redis does not): compared as a multiset
        incr = "appendonlydir/appendonly.aof.1.incr.aof"
        assert sorted(got) == sorted(want), src
        assert _unordered(got.pop(incr)) == _unordered(want.pop(incr)), src
        assert got == want, src
        assert got["appendonlydir/appendonly.aof.manifest"] == (
            b"file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        )
        assert got["appendonlydir/appendonly.aof"] == src.read_bytes()
        assert "appendonly.aof" not in got
        msg = "Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory (appendonlydir)."
        assert msg in messages(e.log_text(), "*"), e.log_text()
    # the migrated layout keeps working: append, restart
    e = pairs[0][0]
    with Raw(e.port) as r:
        r("SET", "after-migration", "1")
        want = r("DEBUG", "DIGEST")
    e.stop()
    e.port = new_port()  # the old port may be taken meanwhile
    start_all([e])
    with Raw(e.port) as r:
        assert r("DEBUG", "DIGEST") == want
        assert r("GET", "after-migration") == b"1"


def _unordered(aof: bytes) -> list[list[bytes]]:
    cmds = [c.argv for c in parse_aof(aof).commands]
    return sorted(c for c in cmds if c[0].upper() not in (b"MULTI", b"EXEC", b"SELECT"))


# --------------------------------------------------------------------------- truncation

T_CMDS: list[list[bytes]] = [
    [b"SELECT", b"0"],
    [b"SET", b"k1", b"v1"],
    [b"RPUSH", b"list", b"a", b"bb", b"ccc"],
    [b"MULTI"],
    [b"SET", b"m1", b"x"],
    [b"INCR", b"m2"],
    [b"EXEC"],
    [b"SET", b"last", b"z"],
]
T_DATA = b"".join(encode_command(c) for c in T_CMDS)
T_ENDS = list(itertools.accumulate(len(encode_command(c)) for c in T_CMDS))
T_MULTI = T_CMDS.index([b"MULTI"])
T_EXEC = T_CMDS.index([b"EXEC"])


def t_model(cut: int, redis: bool = False) -> tuple[dict[bytes, Any], int]:
    """(dataset, file size after loading) for the incr file cut at ``cut``."""
    done = [i for i, e in enumerate(T_ENDS) if e <= cut]
    n = len(done)
    boundary = cut == 0 or cut in T_ENDS
    in_multi = T_MULTI < n <= T_EXEC  # MULTI complete, EXEC not
    before_multi = T_ENDS[T_MULTI - 1]
    valid = T_ENDS[n - 1] if n else 0
    if boundary and not in_multi:
        size = cut
    elif in_multi and (boundary or not redis):
        size = before_multi  # Redis reverts an open MULTI at a clean EOF; ember always
    else:
        size = valid  # Redis keeps the commands of an open MULTI cut inside a record
    data: dict[bytes, Any] = {}
    for i in range(n if not in_multi else T_MULTI):
        argv = T_CMDS[i]
        if argv[0] == b"SET":
            data[argv[1]] = argv[2]
        elif argv[0] == b"RPUSH":
            data[argv[1]] = list(argv[2:])
        elif argv[0] == b"INCR":
            data[argv[1]] = str(int(data.get(argv[1], b"0")) + 1).encode()
    return data, size


def _inprocess_load(d: Path, load_truncated: bool = True) -> dict[bytes, Any] | int:
    """Load ``d`` with ember's loader in a fresh in-process server: dataset or exit code."""
    from ember.commands.registry import load_all
    from ember.config import Config
    from ember.persistence.aof.loader import load_aof_files
    from ember.server.server import Server

    load_all()
    srv = Server(Config())
    m = mf.parse_manifest((d / MANIFEST).read_bytes())
    try:
        asyncio.run(load_aof_files(srv, str(d), m, load_truncated))
    except SystemExit as e:
        return int(e.code or 0)
    out: dict[bytes, Any] = {}
    for key, value in srv.dbs[0].data.items():
        t, _, _ = value_to_json(value)
        assert t in ("string", "list"), (key, t)
        out[key] = bytes(value) if t == "string" else [bytes(v) for v in value]
    return out


def test_truncated_tail_every_offset_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "appendonlydir"
    write_dir(tmp_path, {MANIFEST: TWO_FILES, BASE: b""})
    for cut in range(len(T_DATA) + 1):
        (d / INCR).write_bytes(T_DATA[:cut])
        got = _inprocess_load(d)
        want, size = t_model(cut)
        assert got == want, cut
        assert (d / INCR).read_bytes() == T_DATA[:size], cut
        # what is left loads cleanly, to the same dataset, without touching the file
        assert _inprocess_load(d, load_truncated=False) == want, cut
        assert (d / INCR).stat().st_size == size
    # aof-load-truncated no refuses every cut inside a record and leaves the file alone
    for cut in range(1, len(T_DATA)):
        if cut in T_ENDS and not T_ENDS[T_MULTI] <= cut < T_ENDS[T_EXEC]:
            continue
        (d / INCR).write_bytes(T_DATA[:cut])
        assert _inprocess_load(d, load_truncated=False) == 1, cut
        assert (d / INCR).read_bytes() == T_DATA[:cut]
    out = capsys.readouterr().out
    assert "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof" in out


def _region() -> list[int]:
    """Every offset inside the RPUSH record and the MULTI ... EXEC block (+ next cut)."""
    return list(range(T_ENDS[1] + 1, T_ENDS[2] + 1)) + list(
        range(T_ENDS[T_MULTI - 1] + 1, T_ENDS[T_EXEC] + 2)
    )


@pytest.mark.interop
def test_truncated_tail_matches_redis_at_every_offset(
    redis_factory: Factory, tmp_path: Path
) -> None:
    """redis-server 7.0.15 loads each cut: same dataset as the model / ember's loader,
    same file left on disk (except where ember cuts an open MULTI, see loader.py)."""
    offsets = _region()
    assert len(offsets) > 60
    servers = []
    for cut in offsets:
        s = redis_factory(
            *ember_args("--appendfsync", "always"), sub=f"cut{cut}", start=False, port=new_port()
        )
        write_dir(s.dir, {MANIFEST: TWO_FILES, BASE: b"", INCR: T_DATA[:cut]})
        servers.append(s)
    for i in range(0, len(servers), 16):
        start_all(servers[i : i + 16])
    mine = tmp_path / "mine"
    write_dir(mine, {MANIFEST: TWO_FILES, BASE: b""})
    for cut, s in zip(offsets, servers, strict=True):
        got = read_dataset(s.port).get(0, {})
        want, size = t_model(cut, redis=True)
        assert got == want, cut
        assert (s.dir / "appendonlydir" / INCR).read_bytes() == T_DATA[:size], cut
        (mine / "appendonlydir" / INCR).write_bytes(T_DATA[:cut])
        assert _inprocess_load(mine / "appendonlydir") == got, cut
        ember_size = t_model(cut)[1]
        if ember_size != size:  # only an open MULTI cut inside a record
            assert T_MULTI < sum(e <= cut for e in T_ENDS) <= T_EXEC
            assert ember_size == T_ENDS[T_MULTI - 1] < size
    stop_all(servers)


SAMPLE = sorted(
    {
        T_ENDS[1] + 1,  # "*"
        T_ENDS[1] + 3,  # "*4\r"
        T_ENDS[1] + 6,  # inside "$5"
        T_ENDS[1] + 10,  # inside the payload "RPUSH"
        T_ENDS[1] + 14,  # between payload and CRLF
        T_ENDS[2] - 1,  # between CR and LF of the last argument
        T_ENDS[2],  # on a boundary
        T_ENDS[T_MULTI],  # just after MULTI (clean EOF in MULTI)
        T_ENDS[T_MULTI] + 9,  # inside SET m1 x
        T_ENDS[T_MULTI + 1],  # after SET m1 x (boundary in MULTI)
        T_ENDS[T_EXEC] - 3,  # inside EXEC
        T_ENDS[T_EXEC] + 5,  # after EXEC, inside SET last
        len(T_DATA),  # complete
    }
)


@pytest.mark.slow
def test_truncated_tail_in_a_started_ember(ember_factory: Factory) -> None:
    servers = []
    for cut in SAMPLE:
        s = ember_factory(
            *ember_args("--appendfsync", "always"), sub=f"cut{cut}", start=False, port=new_port()
        )
        write_dir(s.dir, {MANIFEST: TWO_FILES, BASE: b"", INCR: T_DATA[:cut]})
        servers.append(s)
    start_all(servers)
    for cut, s in zip(SAMPLE, servers, strict=True):
        want, size = t_model(cut)
        assert read_dataset(s.port).get(0, {}) == want, cut
        incr = (s.dir / "appendonlydir" / INCR).read_bytes()
        assert incr[:size] == T_DATA[:size], cut
        log = s.log_text()
        if size != cut:
            assert f"!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {size} !!!" in log
            assert (
                "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled"
                in log
            )
        # the server appends after the cut; the next start sees everything
        with Raw(s.port) as r:
            r("SET", "after", "restart")
    stop_all(servers)
    for s in servers:
        s.port = new_port()  # the old ports may be taken meanwhile
    start_all(servers)
    for cut, s in zip(SAMPLE, servers, strict=True):
        want, _ = t_model(cut)
        assert read_dataset(s.port).get(0, {}) == {**want, b"after": b"restart"}, cut


# ------------------------------------------------------------------------ damaged files


def _cmds(*cmds: list[bytes]) -> bytes:
    return b"".join(encode_command(c) for c in cmds)


GOOD = _cmds([b"SELECT", b"0"], [b"SET", b"a", b"1"], [b"RPUSH", b"l", b"x", b"y"])
GOOD2 = _cmds([b"SET", b"b", b"2"])


def _rdb_base() -> bytes:
    from ember.persistence.rdb.writer import RdbWriteOptions, save_rdb_bytes

    return save_rdb_bytes({0: {b"fromrdb": (b"value" * 10, None)}}, RdbWriteOptions(aof_base=True))


def _broken_cases() -> dict[str, tuple[dict[str, bytes], tuple[str, ...], bool]]:
    """name -> (files of appendonlydir, extra server args, loads?)."""
    rdb = _rdb_base()
    bad_rdb = rdb[:20] + bytes([rdb[20] ^ 0xFF]) + rdb[21:]
    two_incr = TWO_FILES + b"file appendonly.aof.2.incr.aof seq 2 type i\n"
    return {
        "garbage-in-the-middle": (
            {MANIFEST: TWO_FILES, BASE: b"", INCR: GOOD + b"garbage\r\n" + GOOD2},
            (),
            False,
        ),
        "argc-zero": ({MANIFEST: TWO_FILES, BASE: b"", INCR: GOOD + b"*0\r\n" + GOOD2}, (), False),
        "bulk-without-dollar": (
            {MANIFEST: TWO_FILES, BASE: b"", INCR: GOOD + b"*1\r\nSET\r\n" + GOOD2},
            (),
            False,
        ),
        "unknown-command": (
            {MANIFEST: TWO_FILES, BASE: b"", INCR: GOOD + _cmds([b"x", b"1"]) + GOOD2},
            (),
            False,
        ),
        "missing-incr": ({MANIFEST: two_incr, BASE: b"", INCR: GOOD}, (), False),
        "missing-base": ({MANIFEST: TWO_FILES, INCR: GOOD}, (), False),
        "truncated-not-last": ({MANIFEST: TWO_FILES, BASE: GOOD[:-3], INCR: GOOD2}, (), False),
        "truncated-load-truncated-no": (
            {MANIFEST: TWO_FILES, BASE: b"", INCR: GOOD + GOOD2[:-5]},
            ("--aof-load-truncated", "no"),
            False,
        ),
        "open-multi-load-truncated-no": (
            {MANIFEST: TWO_FILES, BASE: b"", INCR: GOOD + _cmds([b"MULTI"], [b"SET", b"m", b"1"])},
            ("--aof-load-truncated", "no"),
            False,
        ),
        "bad-rdb-base": (
            {
                MANIFEST: TWO_FILES.replace(b"base.aof", b"base.rdb"),
                "appendonly.aof.1.base.rdb": bad_rdb,
                INCR: GOOD,
            },
            (),
            False,
        ),
        "truncated-rdb-base": (
            {
                MANIFEST: TWO_FILES.replace(b"base.aof", b"base.rdb"),
                "appendonly.aof.1.base.rdb": rdb[:-12],
                INCR: GOOD,
            },
            (),
            False,
        ),
        "manifest-missing-type": (
            {MANIFEST: f"file {BASE} seq 1\n".encode(), BASE: GOOD},
            (),
            False,
        ),
        "manifest-unknown-type": (
            {MANIFEST: f"file {BASE} seq 1 type x\n".encode(), BASE: GOOD},
            (),
            False,
        ),
        "manifest-odd-args": ({MANIFEST: f"file {BASE} seq\n".encode(), BASE: GOOD}, (), False),
        "manifest-unterminated-quote": (
            {MANIFEST: f'file "{BASE} seq 1 type b\n'.encode(), BASE: GOOD},
            (),
            False,
        ),
        "manifest-two-bases": (
            {MANIFEST: TWO_FILES + f"file {BASE} seq 2 type b\n".encode(), BASE: b"", INCR: GOOD},
            (),
            False,
        ),
        "manifest-non-monotonic-incr": (
            {
                MANIFEST: f"file {INCR} seq 2 type i\nfile appendonly.aof.2.incr.aof seq 1 type i\n".encode(),
                INCR: GOOD,
                "appendonly.aof.2.incr.aof": GOOD2,
            },
            (),
            False,
        ),
        "manifest-line-too-long": (
            {MANIFEST: TWO_FILES + b"#" + b"x" * 1100 + b"\n", BASE: b"", INCR: GOOD},
            (),
            False,
        ),
        "manifest-empty": ({MANIFEST: b"", BASE: b"", INCR: GOOD}, (), False),
        "manifest-no-newline": (
            {MANIFEST: TWO_FILES.rstrip(b"\n"), BASE: b"", INCR: GOOD},
            (),
            False,
        ),
        # these load
        "manifest-comments-and-history": (
            {
                MANIFEST: b"# a comment\n" + b"file old.aof seq 7 type h\n" + TWO_FILES,
                BASE: GOOD,
                INCR: GOOD2,
            },
            (),
            True,
        ),
        "incr-only": (
            {MANIFEST: f"file {INCR} seq 1 type i\n".encode(), INCR: GOOD + GOOD2},
            (),
            True,
        ),
        "quoted-names": (
            {
                MANIFEST: b'file "my base.aof" seq 1 type b\nfile "my\\x01incr" seq 1 type i\n',
                "my base.aof": GOOD,
                "my\x01incr": GOOD2,
            },
            (),
            True,
        ),
    }


CASES = _broken_cases()


@pytest.mark.interop
@pytest.mark.slow
def test_damaged_aof_is_refused_like_redis(ember_factory: Factory, redis_factory: Factory) -> None:
    """Same broken dir to both: same outcome, Redis's fatal messages, same bytes left."""
    pairs = []
    for name, (files, extra, _) in CASES.items():
        pair = []
        for kind, factory in (("ember", ember_factory), ("redis", redis_factory)):
            s = factory(*ember_args(*extra), sub=f"{kind}-{name}", start=False, port=new_port())
            write_dir(s.dir, files)
            pair.append(s)
        pairs.append((name, pair))
    codes = launch([s for _, p in pairs for s in p if s.kind == "redis"])
    ember_codes = launch([s for _, p in pairs for s in p if s.kind == "ember"])
    problems = []
    for (name, (e, rd)), rc, ec in zip(pairs, codes, ember_codes, strict=True):
        loads = CASES[name][2]
        if loads:
            assert rc is None and ec is None, (
                name,
                rc,
                ec,
                e.log_text()[-1500:],
                rd.log_text()[-1500:],
            )
            with Raw(e.port) as a, Raw(rd.port) as b:
                assert a("DEBUG", "DIGEST") == b("DEBUG", "DIGEST"), name
                assert a("DBSIZE") > 0
            continue
        assert rc == 1, (name, rd.log_text()[-1500:])
        if ec != 1:
            problems.append(f"{name}: ember exit code {ec}")
            continue
        want = [m for m in messages(rd.log_text()) if not m.startswith(_RDB_INTERNAL)]
        got = messages(e.log_text())
        if name.endswith("rdb-base"):
            # Redis reports where in rdb.c it failed and runs redis-check-rdb: ember
            # names the file, the offset and what it was reading instead
            want.append(
                "Error reading the RDB base file appendonly.aof.1.base.rdb, AOF loading aborted"
            )
            got = [m.split(" (")[0] for m in got]
        missing = [m for m in want if m not in got]
        if missing:
            problems.append(f"{name}: ember lacks {missing}; ember said {got}")
        # both left the same bytes (untouched, or cut the same way)
        before = {f"appendonlydir/{k}": v for k, v in CASES[name][0].items()}
        after_e, after_r = snapshot(e.dir), snapshot(rd.dir)
        if after_e != after_r:
            problems.append(
                f"{name}: files differ from Redis's: {sorted(after_e)} vs {sorted(after_r)}"
            )
        if name != "truncated-not-last":  # Redis cuts that file before giving up
            assert after_r == before, name
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------- corpus


def _corpus_cases() -> list[tuple[str, Path]]:
    if not EXPECTED.is_dir():
        return []
    out = []
    for ef in sorted(EXPECTED.glob("aof__*.replay.json")):
        rel = ef.name[len("aof__") : -len(".replay.json")].replace("__", "/")
        out.append((rel, ef))
    return out


CORPUS_CASES = _corpus_cases()


def _aof_command_names(src: Path) -> set[str]:
    parts = list(iter_aof_dir(src)) if src.is_dir() else None
    blobs = [p.data for p in parts] if parts is not None else [src.read_bytes()]
    names: set[str] = set()
    for data in blobs:
        names |= {c.argv[0].decode(errors="replace") for c in parse_aof(data).commands}
    return names


def _comparable(doc: dict[str, Any], horizon_ms: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(keys that must be present, keys that may have expired meanwhile), by db."""
    must: dict[str, Any] = {}
    may: dict[str, Any] = {}
    for db, keys in doc.items():
        for k, rec in keys.items():
            exp = rec.get("expire_ms")
            target = may if exp is not None and exp <= horizon_ms else must
            target.setdefault(db, {})[k] = rec
    return must, may


def test_corpus_is_complete() -> None:
    assert len(CORPUS_CASES) >= 24
    for rel, _ in CORPUS_CASES:
        assert (CORPUS / "aof" / rel).exists(), rel


@pytest.mark.parametrize("rel,expected_file", CORPUS_CASES, ids=[c[0] for c in CORPUS_CASES])
def test_corpus_aof_replays_to_its_expectation(
    ember_factory: Factory, rel: str, expected_file: Path
) -> None:
    from ember.commands.registry import COMMANDS, load_all

    exp = json.loads(expected_file.read_text())
    meta = exp.pop("_meta")
    src = CORPUS / "aof" / rel
    # hashes with field TTLs (loaded from Valkey's RDB base) need a dialect that has them
    rdb_version = ("--rdb-version", "valkey80") if "valkey" in rel else ()
    s = ember_factory(*ember_args(*rdb_version), start=False, port=new_port())
    s.dir.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, s.dir / "appendonlydir")
    else:
        shutil.copyfile(src, s.dir / "appendonly.aof")
    for p in s.dir.rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    before = snapshot(s.dir)
    servers_failed = not meta["produced_by"]
    load_all()
    try:
        unknown = sorted(n for n in _aof_command_names(src) if n.lower() not in COMMANDS)
    except Exception:  # unparsable: only the expected failures are allowed to be
        assert servers_failed, rel
        unknown = []
    if servers_failed or unknown:
        (code,) = launch([s])
        assert code == 1, (rel, s.log_text()[-2000:])
        log = s.log_text()
        for text in meta.get("load_errors", {}).get("redis-7.0.15", "").splitlines():
            m = _LOGLINE.match(text)
            if m and " # " in text:
                assert m[1].strip() in log, (rel, m[1])
        if unknown:
            assert re.search(
                rf"Unknown command '{re.escape(unknown[0])}' reading the append only file \S+",
                log,
                re.I,
            ), log
        # every file is still there, unchanged (an old single file may have been moved
        # into the AOF directory first, as Redis does)
        after = {(Path(k).name, v) for k, v in snapshot(s.dir).items()}
        assert {(Path(k).name, v) for k, v in before.items()} <= after, rel
        return
    start_all([s])
    with Raw(s.port) as r:
        assert r("SAVE") == b"OK"
    got = rdb_to_json(RdbReader((s.dir / "dump.rdb").read_bytes(), skip_modules=True))
    got = {db: keys for db, keys in got.items() if keys}
    exp = {db: keys for db, keys in exp.items() if keys}
    horizon = int(time.time() * 1000) + 60_000
    got_must, got_may = _comparable(got, horizon)
    exp_must, exp_may = _comparable(exp, horizon)
    assert got_must == exp_must, rel
    for db, keys in got_may.items():
        for k, rec in keys.items():
            if k in exp_may.get(db, {}):
                assert rec == exp_may[db][k], (rel, db, k)
    assert len(got_must) or not exp, rel
