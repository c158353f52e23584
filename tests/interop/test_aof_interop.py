"""AOF directories between ember and a real redis-server 7.0.15, both ways, and the two
checkers (``redis-check-aof`` 7.0.15 and ``ember-check-aof``) on the same files.

* ember writes ``appendonlydir/`` for the interop dataset (every type and encoding, TTLs,
  several dbs; ``tests.interop.dataset_commands``) with ``aof-use-rdb-preamble yes``,
  ``no`` and ``no`` + ``aof-timestamp-enabled``, before and after a BGREWRITEAOF: Redis
  loads each copy to the same ``DEBUG DIGEST`` (Redis's order-independent dataset hash,
  implemented by ember); ``redis-check-aof`` accepts each one and ``ember-check-aof``
  prints the same report with the same exit code.
* Redis writes the same dataset the same ways: ember loads each copy to Redis's digest.
* Damaged copies of ember's files (cut tails, garbage, a cut in a MULTI): both checkers
  give the same report and exit code, and ``--fix`` leaves the same bytes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ember.persistence.aof.manifest import parse_manifest
from ember.persistence.aof.parser import Annotation, parse_aof
from tests.helpers.servers import ServerProcess, free_port
from tests.interop import Raw, dataset_commands, info, scan_keys, wait_until

pytestmark = pytest.mark.interop

VARIANTS = {
    "preamble": ("--aof-use-rdb-preamble", "yes"),
    "resp": ("--aof-use-rdb-preamble", "no"),
    "resp-ts": ("--aof-use-rdb-preamble", "no", "--aof-timestamp-enabled", "yes"),
}
STAGES = ("before-rewrite", "after-rewrite")
CASES = [(v, st) for v in VARIANTS for st in STAGES]
IDS = [f"{v}-{st}" for v, st in CASES]


def server(kind: str, d: Path, *args: str) -> ServerProcess:
    return ServerProcess(
        kind,
        d,
        ["--enable-debug-command", "yes", "--save", "", "--appendonly", "yes", *args],
        port=_port(),
    )


_PORTS: set[int] = set()


def _port() -> int:
    for _ in range(1000):
        p = free_port()
        if p not in _PORTS:
            _PORTS.add(p)
            return p
    raise RuntimeError("no free port")


def start_all(servers: list[ServerProcess]) -> None:
    """Start at once; a server that lost its port to another process (busy machine,
    parallel tests) is started again on a fresh one."""
    for s in servers:
        s.start(wait=False)
    for s in servers:
        for attempt in range(3):
            mark = len(s.log_text())
            try:
                s.wait_ready(60)
                break
            except RuntimeError:
                if attempt == 2 or "Address already in use" not in s.log_text()[mark:]:
                    raise
                s.proc = None
                s.port = _port()
                s.start(wait=False)


def wait_rewrite_done(r: Raw) -> None:
    def done() -> bool:
        i = info(r, "persistence")
        return i["aof_rewrite_in_progress"] == "0" and i["aof_rewrite_scheduled"] == "0"

    wait_until(done, 30, 0.02, "the AOF rewrite")


def settled(d: Path) -> None:
    """Wait until the AOF dir holds exactly the manifest's files (history removed)."""

    def ok() -> bool:
        m = parse_manifest((d / "appendonly.aof.manifest").read_bytes())
        want = sorted(["appendonly.aof.manifest", *(i.name for i in m.all_files())])
        return sorted(p.name for p in d.iterdir()) == want

    wait_until(ok, 10, 0.02, "the AOF dir to settle")


def key_digests(r: Raw) -> dict[tuple[int, bytes], tuple[bytes, int]]:
    """(db, key) -> (DEBUG DIGEST-VALUE, PEXPIRETIME) of every key."""
    out = {}
    for db in range(16):
        r("SELECT", db)
        keys = scan_keys(r)
        if keys:
            values = r("DEBUG", "DIGEST-VALUE", *keys)
            ttls = r.pipeline([("PEXPIRETIME", k) for k in keys])
            out.update({(db, k): (v, t) for k, v, t in zip(keys, values, ttls, strict=True)})
    r("SELECT", 0)
    return out


def _write_dataset(s: ServerProcess, snaps: Path) -> dict[str, tuple[bytes, Any]]:
    """The interop dataset, a copy of the dir before and after a rewrite; the digests."""
    digests: dict[str, tuple[bytes, Any]] = {}
    with Raw(s.port) as r:
        for db, key, cmds in dataset_commands():
            r("SELECT", db)
            for reply in r.pipeline(cmds):
                assert not isinstance(reply, Exception), (key, reply)
        r("SELECT", 0)
        if "--aof-timestamp-enabled" in s.args:
            time.sleep(1.1)  # a second #TS annotation
        r("SET", "before-rewrite", "1")
        digests["before-rewrite"] = (r("DEBUG", "DIGEST"), key_digests(r))
        shutil.copytree(s.dir / "appendonlydir", snaps / "before-rewrite")
        assert r("BGREWRITEAOF") == b"Background append only file rewriting started"
        wait_rewrite_done(r)
        settled(s.dir / "appendonlydir")
        r.pipeline(
            [
                ("SET", "after-rewrite", "1"),
                ("RPUSH", "list:big", "tail"),
                ("SELECT", 9),
                ("HSET", "db9:hash", "f", "v"),
                ("SELECT", 0),
                ("DEL", "str:raw"),
            ]
        )
        digests["after-rewrite"] = (r("DEBUG", "DIGEST"), key_digests(r))
        shutil.copytree(s.dir / "appendonlydir", snaps / "after-rewrite")
    return digests


def _written_by(kind: str, base: Path) -> dict[tuple[str, str], tuple[Path, bytes, Any]]:
    servers = {
        v: server(kind, base / f"{kind}-{v}", "--appendfsync", "always", *a)
        for v, a in VARIANTS.items()
    }
    start_all(list(servers.values()))
    out = {}
    try:
        for v, s in servers.items():
            snaps = base / f"{kind}-{v}-snaps"
            digests = _write_dataset(s, snaps)
            for st in STAGES:
                out[(v, st)] = (snaps / st, *digests[st])
    finally:
        for s in servers.values():
            s.stop()
    return out


@pytest.fixture(scope="module")
def ember_files(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str], tuple[Path, bytes, Any]]:
    return _written_by("ember", tmp_path_factory.mktemp("aof-ember"))


@pytest.fixture(scope="module")
def redis_files(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str], tuple[Path, bytes, Any]]:
    return _written_by("redis", tmp_path_factory.mktemp("aof-redis"))


def test_the_snapshots_have_the_expected_shape(ember_files: Any) -> None:
    for (v, st), (d, *_) in ember_files.items():
        m = parse_manifest((d / "appendonly.aof.manifest").read_bytes())
        assert m.base is not None
        seq = 1 if st == "before-rewrite" else 2
        ext = "rdb" if v == "preamble" else "aof"
        assert m.base.name == f"appendonly.aof.{seq}.base.{ext}", (v, st)
        assert [i.name for i in m.incrs] == [f"appendonly.aof.{seq}.incr.aof"], (v, st)
        incr = (d / m.incrs[0].name).read_bytes()
        assert (b"#TS:" in incr) == (v == "resp-ts"), (v, st)
        if v == "resp-ts" and st == "after-rewrite":
            assert (d / m.base.name).read_bytes().startswith(b"#TS:")
        assert parse_aof(incr).end.ok


# ---------------------------------------------------------------- ember -> redis-server


@pytest.fixture(scope="module")
def redis_loaded_ember(
    ember_files: dict[tuple[str, str], tuple[Path, bytes, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[tuple[str, str], ServerProcess]]:
    base = tmp_path_factory.mktemp("redis-loads-ember")
    servers = {}
    for (v, st), (src, *_) in ember_files.items():
        s = server("redis", base / f"{v}-{st}", *VARIANTS[v])
        shutil.copytree(src, s.dir / "appendonlydir")
        servers[(v, st)] = s
    start_all(list(servers.values()))
    yield servers
    for s in servers.values():
        s.stop()


NEGZERO_BUG = (
    "KNOWN BUG (aof/rewrite.py): the RESP rewrite writes zset members in score order, so a "
    "-0 score of a big (skiplist) zset lands in the first ZADD batch, which creates a "
    "listpack zset that stores it as 0 (zset:big 'negzero' of the interop dataset). Fix: "
    "write negative-zero scores last."
)


@pytest.mark.parametrize("variant,stage", CASES, ids=IDS)
def test_redis_loads_embers_aof(
    ember_files: Any, redis_loaded_ember: Any, variant: str, stage: str
) -> None:
    s = redis_loaded_ember[(variant, stage)]
    want = ember_files[(variant, stage)][2]
    with Raw(s.port) as r:
        assert r("DBSIZE") > 40
        got = key_digests(r)
        bad = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
        assert bad == []
        assert r("DEBUG", "DIGEST") == ember_files[(variant, stage)][1]
        assert info(r, "persistence")["aof_last_write_status"] == "ok"
    log = s.log_text()
    assert "DB loaded from append only file" in log
    assert "Truncat" not in log and "Bad file format" not in log


# ember-check-aof runs ember's RDB checker on an RDB preamble, which also reports the RDB
# version, subexpires, functions and keys per type (newer redis-check-rdb lines that
# 7.0.15 does not print): ignored here
_EXTRA = re.compile(
    r"^(\[offset \d+\] RDB version \d+.*|\[info\] \d+ (subexpires|functions|keys of type \S+))$"
)


def _check(tool: str, path: Path, *args: str, stdin: str = "") -> tuple[int, str]:
    if tool == "redis":
        cmd = [shutil.which("redis-check-aof") or "redis-check-aof"]
    else:
        exe = Path(sys.executable).with_name("ember-check-aof")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ember.tools.check_aof"]
    p = subprocess.run(
        [*cmd, *args, str(path)], input=stdin, capture_output=True, text=True, timeout=60
    )
    lines = (p.stdout + p.stderr).splitlines(keepends=True)
    return p.returncode, "".join(x for x in lines if not _EXTRA.match(x.rstrip("\n")))


@pytest.mark.parametrize("variant,stage", CASES, ids=IDS)
def test_check_aof_tools_accept_and_agree_on_embers_files(
    ember_files: Any, variant: str, stage: str
) -> None:
    d = ember_files[(variant, stage)][0]
    manifest = d / "appendonly.aof.manifest"
    want = _check("redis", manifest)
    got = _check("ember", manifest)
    assert want[0] == 0, want[1]
    assert "All AOF files and manifest are valid" in want[1]
    assert got == want
    # each file alone too (base RDB preamble / RESP, incr)
    m = parse_manifest(manifest.read_bytes())
    for info_ in m.load_order():
        want = _check("redis", d / info_.name)
        assert want[0] == 0, (info_.name, want[1])
        assert _check("ember", d / info_.name) == want, info_.name


@pytest.mark.parametrize("variant,stage", CASES, ids=IDS)
def test_check_aof_tools_agree_on_redis_files(redis_files: Any, variant: str, stage: str) -> None:
    manifest = redis_files[(variant, stage)][0] / "appendonly.aof.manifest"
    want = _check("redis", manifest)
    assert want[0] == 0, want[1]
    assert _check("ember", manifest) == want


def _damaged(incr: bytes) -> dict[str, bytes]:
    cmds = parse_aof(incr).commands
    mid = cmds[len(cmds) // 2]
    multi = (
        next(c for c in cmds if c.argv[0].upper() == b"MULTI")
        if any(c.argv[0].upper() == b"MULTI" for c in cmds)
        else None
    )
    out = {
        "cut-in-last-command": incr[:-3],
        "cut-after-star": incr + b"*",
        "cut-in-bulk-length": incr + b"*3\r\n$3\r\nSET\r\n$1",
        "garbage-in-the-middle": incr[: mid.end] + b"garbage\r\n" + incr[mid.end :],
        "bad-bulk-crlf": incr[: mid.end] + b"*1\r\n$4\r\nPINGxx" + incr[mid.end :],
        "open-multi": incr + b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n",
        "nested-multi": incr + b"*1\r\n$5\r\nMULTI\r\n*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nEXEC\r\n",
        "exec-without-multi": incr + b"*1\r\n$4\r\nEXEC\r\n",
    }
    if multi is not None:
        out["cut-inside-multi"] = incr[: multi.end + 5]
    return out


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_check_aof_tools_agree_on_damaged_ember_files(
    ember_files: Any, variant: str, tmp_path: Path
) -> None:
    src = ember_files[(variant, "before-rewrite")][0]
    m = parse_manifest((src / "appendonly.aof.manifest").read_bytes())
    incr_name = m.incrs[-1].name
    for name, data in _damaged((src / incr_name).read_bytes()).items():
        results = {}
        d = tmp_path / name  # same path for both: the reports name the file
        for tool in ("redis", "ember"):
            shutil.rmtree(d, ignore_errors=True)
            shutil.copytree(src, d)
            (d / incr_name).write_bytes(data)
            manifest = d / "appendonly.aof.manifest"
            check = _check(tool, manifest)
            fix = _check(tool, manifest, "--fix", stdin="y\n")
            results[tool] = (check, fix, (d / incr_name).read_bytes(), _check(tool, manifest))
        assert results["ember"] == results["redis"], name
        assert results["redis"][0][0] == 1, (name, results["redis"][0][1])


# ---------------------------------------------------------------- redis-server -> ember


@pytest.fixture(scope="module")
def ember_loaded_redis(
    redis_files: dict[tuple[str, str], tuple[Path, bytes, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[tuple[str, str], tuple[ServerProcess, ServerProcess]]]:
    base = tmp_path_factory.mktemp("ember-loads-redis")
    servers: dict[tuple[str, str], tuple[ServerProcess, ServerProcess]] = {}
    for (v, st), (src, *_) in redis_files.items():
        pair = (
            server("ember", base / f"ember-{v}-{st}", *VARIANTS[v]),
            server("redis", base / f"redis-{v}-{st}", *VARIANTS[v]),
        )
        for s in pair:
            shutil.copytree(src, s.dir / "appendonlydir")
        servers[(v, st)] = pair
    start_all([s for pair in servers.values() for s in pair])
    yield servers
    for pair in servers.values():
        for s in pair:
            s.stop()


@pytest.mark.parametrize("variant,stage", CASES, ids=IDS)
def test_ember_loads_redis_aof(
    redis_files: Any, ember_loaded_redis: Any, variant: str, stage: str
) -> None:
    """Same dataset as redis-server loading the same copy (Redis's own RESP rewrite may
    lose a -0 zset score, depending on its dict order: the bug noted above)."""
    s, rd = ember_loaded_redis[(variant, stage)]
    with Raw(s.port) as r, Raw(rd.port) as b:
        want = b("DEBUG", "DIGEST")
        if variant == "preamble" or stage == "before-rewrite":
            assert want == redis_files[(variant, stage)][1]
        assert r("DEBUG", "DIGEST") == want
        r("SET", "written-by-ember", "1")
        want = r("DEBUG", "DIGEST")
    # ember appends to Redis's incr file; the result still loads (in ember)
    s.stop()
    s.port = _port()
    start_all([s])
    with Raw(s.port) as r:
        assert r("DEBUG", "DIGEST") == want


def test_redis_loads_what_ember_appended_to_a_redis_aof(redis_files: Any, tmp_path: Path) -> None:
    """Round trip: Redis's dir, ember appends (and rewrites), Redis loads it again."""
    src = redis_files[("preamble", "after-rewrite")][0]
    e = server("ember", tmp_path / "ember")
    shutil.copytree(src, e.dir / "appendonlydir")
    e.port = _port()
    start_all([e])
    with Raw(e.port) as r:
        r("SET", "from-ember", "1")
        r("RPUSH", "list:big", "ember-tail")
        first = r("DEBUG", "DIGEST")
    e.stop()
    rd = server("redis", tmp_path / "redis")
    shutil.copytree(e.dir / "appendonlydir", rd.dir / "appendonlydir")
    rd.port = _port()
    start_all([rd])
    with Raw(rd.port) as r:
        assert r("DEBUG", "DIGEST") == first
    rd.stop()
    e.port = _port()
    start_all([e])
    with Raw(e.port) as r:
        assert r("BGREWRITEAOF") == b"Background append only file rewriting started"
        wait_rewrite_done(r)
        r("DEL", "from-ember")
        second = r("DEBUG", "DIGEST")
    e.stop()
    shutil.rmtree(rd.dir / "appendonlydir")
    shutil.copytree(e.dir / "appendonlydir", rd.dir / "appendonlydir")
    rd.port = _port()
    start_all([rd])
    with Raw(rd.port) as r:
        assert r("DEBUG", "DIGEST") == second
    rd.stop()


def test_truncate_to_timestamp_agrees_on_embers_files(ember_files: Any, tmp_path: Path) -> None:
    src = ember_files[("resp-ts", "before-rewrite")][0]
    m = parse_manifest((src / "appendonly.aof.manifest").read_bytes())
    incr_name = m.incrs[-1].name
    stamps = [
        e.timestamp
        for e in parse_aof((src / incr_name).read_bytes()).events
        if isinstance(e, Annotation) and e.timestamp is not None
    ]
    assert len(stamps) >= 2
    sizes = []
    for ts in (stamps[0] - 1, stamps[0], stamps[-1] + 100):
        results = {}
        d = tmp_path / str(ts)
        for tool in ("redis", "ember"):
            shutil.rmtree(d, ignore_errors=True)
            shutil.copytree(src, d)
            out = _check(
                tool, d / "appendonly.aof.manifest", "--truncate-to-timestamp", str(ts), stdin="y\n"
            )
            results[tool] = (out, (d / incr_name).read_bytes())
        assert results["ember"] == results["redis"], ts
        sizes.append((results["redis"][0][0], len(results["redis"][1])))
    full = (src / incr_name).stat().st_size
    # nothing before the first annotation: refused, untouched; then cut; then nothing to cut
    assert sizes[0] == (1, full)
    assert sizes[1][0] == 0 and sizes[1][1] < full
    assert sizes[2] == (0, full)
