"""ember-check-aof: behaviour, and byte-for-byte agreement with redis-check-aof 7.0.

The interop tests run the real ``redis-check-aof`` and ember's tool on separate copies of
the same damaged files and compare stdout, exit code and the resulting files.
"""

from __future__ import annotations

import io
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ember.persistence.aof.format import encode_command, encode_commands
from ember.tools.check_aof import main
from tests.helpers.corpus import CORPUS

AOF = CORPUS / "aof"
PLAIN_DIR = AOF / "generated-redis-7.0.15/plain/1-before-rewrite/appendonlydir"
TS_DIR = AOF / "generated-redis-7.0.15/plain-ts/1-before-rewrite/appendonlydir"
AFTER_DIR = AOF / "generated-redis-7.0.15/plain/2-after-rewrite/appendonlydir"
REDIS_CHECK_AOF = shutil.which("redis-check-aof")

needs_corpus = pytest.mark.skipif(not AOF.is_dir(), reason="corpus not available")
needs_redis = pytest.mark.interop  # make test installs redis-tools: a missing binary fails


def run(args: list[str], answer: str = "y\n", cwd: Path | None = None) -> tuple[int, str]:
    out = io.StringIO()
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        rc = main(args, stdout=out, stdin=io.StringIO(answer))
    finally:
        os.chdir(old)
    return rc, out.getvalue()


_LOG = re.compile(r"^\d+:C \d+ \w+ \d+ [\d:.]+ #", re.M)


def normalize(text: str) -> str:
    text = _LOG.sub("LOG #", text)
    return re.sub(r"^Usage: \S+ ", "Usage: TOOL ", text, flags=re.M)


def run_redis(args: list[str], cwd: Path, answer: str = "y\n") -> tuple[int, str]:
    assert REDIS_CHECK_AOF is not None
    p = subprocess.run(
        [REDIS_CHECK_AOF, *args],
        cwd=cwd,
        input=answer.encode(),
        capture_output=True,
        timeout=30,
    )
    return p.returncode, p.stdout.decode("utf-8", "surrogateescape")


def compare(tmp: Path, files: dict[str, bytes], args: list[str], answer: str = "y\n") -> str:
    """Run both tools on identical copies; assert same output, exit code and files."""
    a, b = tmp / "redis", tmp / "ember"
    for d in (a, b):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        for name, data in files.items():
            (d / name).write_bytes(data)
    rc_r, out_r = run_redis(args, a, answer)
    rc_e, out_e = run(args, answer, cwd=b)
    out_e = out_e.replace("[-y] ", "")
    assert (rc_e, normalize(out_e)) == (rc_r, normalize(out_r)), args
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    return out_e


def copy_dir(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# ------------------------------------------------------------------ behaviour


@needs_corpus
def test_valid_multi_part(tmp_path: Path) -> None:
    d = copy_dir(AFTER_DIR, tmp_path / "d")
    rc, out = run([str(d / "appendonly.aof.manifest")])
    assert rc == 0
    assert out == (
        "Start checking Multi Part AOF\n"
        "Start to check BASE AOF (RESP format).\n"
        "AOF analyzed: filename=appendonly.aof.2.base.aof, size=2327, ok_up_to=2327, "
        "ok_up_to_line=524, diff=0\n"
        "BASE AOF appendonly.aof.2.base.aof is valid\n"
        "Start to check INCR files.\n"
        "AOF analyzed: filename=appendonly.aof.2.incr.aof, size=101, ok_up_to=101, "
        "ok_up_to_line=543, diff=0\n"
        "INCR AOF appendonly.aof.2.incr.aof is valid\n"
        "All AOF files and manifest are valid\n"
    )


def test_truncated_old_style_and_fix(tmp_path: Path) -> None:
    good = encode_commands([[b"SET", b"a", b"1"], [b"SET", b"b", b"2"]])
    tail = b"*3\r\n$3\r\nSET\r"
    assert len(tail) == 12
    f = tmp_path / "appendonly.aof"
    f.write_bytes(good + tail)
    rc, out = run([str(f)])
    assert rc == 1
    assert out.splitlines()[-1] == f"AOF {f} is not valid. Use the --fix option to try fixing it."
    assert f"ok_up_to={len(good)}," in out
    # answer no: nothing changes
    rc, out = run(["--fix", str(f)], answer="n\n")
    assert rc == 1 and out.endswith("Continue? [y/N]: Aborting...\n")
    assert f.stat().st_size == len(good) + 12
    # answer yes
    rc, out = run(["--fix", str(f)], answer="y\n")
    assert rc == 0
    assert f"This will shrink the AOF {f} from {len(good) + 12} bytes, with 12 bytes, " in out
    assert out.endswith(f"Continue? [y/N]: Successfully truncated AOF {f}\n")
    assert f.read_bytes() == good
    rc, out = run([str(f)])
    assert rc == 0 and out.endswith(f"AOF {f} is valid\n")


def test_yes_flag_and_unterminated_multi(tmp_path: Path) -> None:
    pre = encode_command([b"SET", b"a", b"1"])
    f = tmp_path / "x.aof"
    f.write_bytes(pre + encode_commands([[b"MULTI"], [b"INCR", b"c"]]))
    rc, out = run(["--fix", "-y", str(f)], answer="")
    assert rc == 0
    assert "Reached EOF before reading EXEC for MULTI" in out
    assert f.read_bytes() == pre


def test_format_error_message(tmp_path: Path) -> None:
    f = tmp_path / "x.aof"
    f.write_bytes(encode_command([b"PING"]) + b"garbage")
    rc, out = run([str(f)])
    assert rc == 1
    assert out.splitlines()[1] == f"AOF {f} format error"


@needs_corpus
def test_only_last_file_can_be_fixed(tmp_path: Path) -> None:
    d = copy_dir(AFTER_DIR, tmp_path / "d")
    base = d / "appendonly.aof.2.base.aof"
    base.write_bytes(base.read_bytes()[:-5])
    rc, out = run(["--fix", str(d / "appendonly.aof.manifest")])
    assert rc == 1
    assert out.endswith(
        "Failed to truncate AOF appendonly.aof.2.base.aof because it is not the last file\n"
    )


@needs_corpus
def test_truncate_to_timestamp(tmp_path: Path) -> None:
    d = copy_dir(TS_DIR, tmp_path / "d")
    incr = d / "appendonly.aof.1.incr.aof"
    data = incr.read_bytes()
    rc, out = run(["--truncate-to-timestamp", "1795499801", str(d / "appendonly.aof.manifest")])
    assert rc == 0
    assert "Successfully truncated AOF appendonly.aof.1.incr.aof to timestamp 1795499801" in out
    assert incr.read_bytes() == data[: data.index(b"#TS:1795499803")]
    rc, out = run(["--truncate-to-timestamp", "1795499801", str(d / "appendonly.aof.manifest")])
    assert "Truncate nothing in AOF appendonly.aof.1.incr.aof to timestamp 1795499801" in out
    rc, out = run(["--truncate-to-timestamp", "12x", str(d / "appendonly.aof.manifest")])
    assert (rc, out) == (1, "Invalid timestamp, aborting...\n")


def test_usage_and_missing_file(tmp_path: Path) -> None:
    rc, out = run([])
    assert rc == 1 and out.startswith("Usage: ember-check-aof [--fix|--truncate-to-timestamp")
    assert run(["--fix", "--truncate-to-timestamp", "1", "x"])[0] == 1
    rc, out = run([str(tmp_path / "nope.aof")])
    assert rc == 1 and out.startswith(f"Cannot open file {tmp_path / 'nope.aof'}: ")


def test_bad_manifest_is_logged_like_redis(tmp_path: Path) -> None:
    m = tmp_path / "appendonly.aof.manifest"
    m.write_bytes(b"file a seq 1 type b\n\n")
    rc, out = run([str(m)])
    assert rc == 1
    assert normalize(out) == (
        "Start checking Multi Part AOF\n"
        "LOG # \n*** FATAL AOF MANIFEST FILE ERROR ***\n\n"
        "LOG # Reading the manifest file, at line 2\n\n"
        "LOG # >>> ''\n\n"
        "LOG # Invalid AOF manifest file format\n\n"
    )


def test_console_entry_point_runs(tmp_path: Path) -> None:
    exe = Path(os.sys.executable).with_name("ember-check-aof")  # type: ignore[attr-defined]
    if not exe.exists():
        pytest.skip("console script not installed")
    f = tmp_path / "x.aof"
    f.write_bytes(encode_command([b"PING"]))
    p = subprocess.run([str(exe), str(f)], capture_output=True, timeout=60)
    assert p.returncode == 0 and p.stdout.decode().endswith("is valid\n")


# ------------------------------------------------------------- interop (real binary)


@pytest.mark.interop
@needs_redis
@needs_corpus
def test_interop_every_cut_of_a_small_file(tmp_path: Path) -> None:
    data = (
        AOF
        / "generated-redis-7.0.15/plain-ts/2-after-rewrite/appendonlydir"
        / "appendonly.aof.2.incr.aof"
    ).read_bytes()
    for cut in range(len(data) + 1):
        compare(tmp_path, {"appendonly.aof": data[:cut]}, ["appendonly.aof"])


@pytest.mark.interop
@needs_redis
@needs_corpus
def test_interop_cuts_around_multi_with_fix(tmp_path: Path) -> None:
    data = (TS_DIR / "appendonly.aof.1.incr.aof").read_bytes()
    start = data.index(b"*1\r\n$5\r\nMULTI")
    end = data.index(b"EXEC\r\n") + 6
    for cut in range(start - 3, end + 3, 2):
        compare(tmp_path, {"a.aof": data[:cut]}, ["--fix", "a.aof"])


@pytest.mark.interop
@needs_redis
@needs_corpus
def test_interop_random_damage(tmp_path: Path) -> None:
    rng = random.Random(7)
    subs = [b"X", b"\n", b"\0", b"*", b"$", b"-", b"9", b"\r", b"#", b"\xff", b" ", b"0"]
    sources = [
        (TS_DIR / "appendonly.aof.1.incr.aof").read_bytes(),
        (AOF / "redis-replicator/appendonly5.aof").read_bytes(),
    ]
    for i in range(120):
        data = sources[i % 2]
        p = rng.randrange(len(data))
        s = rng.choice(subs)
        kind = rng.randrange(3)
        if kind == 0:
            bad = data[:p] + s + data[p + 1 :]
        elif kind == 1:
            bad = data[:p] + s + data[p:]
        else:
            bad = data[:p] + data[p + 1 :]
        args = ["--fix", "x.aof"] if i % 3 == 0 else ["x.aof"]
        compare(tmp_path, {"x.aof": bad}, args)


@pytest.mark.interop
@needs_redis
@needs_corpus
def test_interop_multi_part_scenarios(tmp_path: Path) -> None:
    base = (PLAIN_DIR / "appendonly.aof.1.base.aof").read_bytes()
    incr = (PLAIN_DIR / "appendonly.aof.1.incr.aof").read_bytes()
    ok_manifest = (PLAIN_DIR / "appendonly.aof.manifest").read_bytes()
    two_incr = ok_manifest + b"file second.aof seq 2 type i\n"
    scenarios: list[tuple[dict[str, bytes], list[str]]] = []
    files = {"appendonly.aof.1.base.aof": base, "appendonly.aof.1.incr.aof": incr}
    manifests = [
        ok_manifest,
        b"file appendonly.aof.1.base.aof seq 1 type b\n\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
        b"file appendonly.aof.1.base.aof seq 0 type b\n",
        b"file appendonly.aof.1.base.aof seq 1 type b",
        b"file ../x seq 1 type b\n",
        b"file a seq 1 type b\nfile b seq 2 type b\n",
        b"file appendonly.aof.1.incr.aof seq 2 type i\nfile b seq 2 type i\n",
        b"file a seq 1 type x\n",
        b"# only a comment\n",
        b'file "appendonly.aof.1.base.aof" SEQ 1 TYPE b extra 1\n# c\n'
        b"file   appendonly.aof.1.incr.aof seq 1 type incr\n",
        b"file appendonly.aof.1.base.aof seq 1 type b\nfile missing.aof seq 1 type i\n",
        b"file missing.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
        b"",
        b"file a seq 1 type b " + b"x" * 1100 + b"\n",
    ]
    for m in manifests:
        scenarios.append(({**files, "appendonly.aof.manifest": m}, ["appendonly.aof.manifest"]))
    # damaged incr as the last file / damaged base before it / two incrs
    cut_incr = {
        **files,
        "appendonly.aof.1.incr.aof": incr[:1000],
        "appendonly.aof.manifest": ok_manifest,
    }
    scenarios.append((cut_incr, ["--fix", "appendonly.aof.manifest"]))
    swapped = {
        **files,
        "appendonly.aof.1.incr.aof": incr[:1000],
        "appendonly.aof.manifest": b"file appendonly.aof.1.incr.aof seq 1 type b\n"
        b"file appendonly.aof.1.base.aof seq 3 type i\n",
    }
    scenarios.append((swapped, ["--fix", "appendonly.aof.manifest"]))
    scenarios.append(
        (
            {**files, "second.aof": incr[:-4], "appendonly.aof.manifest": two_incr},
            ["--fix", "appendonly.aof.manifest"],
        )
    )
    scenarios.append(
        (
            {**files, "second.aof": b"", "appendonly.aof.manifest": two_incr},
            ["appendonly.aof.manifest"],
        )
    )
    for files_, args in scenarios:
        compare(tmp_path, files_, args)


@pytest.mark.interop
@needs_redis
@needs_corpus
def test_interop_truncate_to_timestamp(tmp_path: Path) -> None:
    files = {p.name: p.read_bytes() for p in TS_DIR.iterdir()}
    for ts in ["1", "1795499799", "1795499800", "1795499801", "1795499803", "99999999999", "x"]:
        compare(tmp_path, files, ["--truncate-to-timestamp", ts, "appendonly.aof.manifest"])
    old = (AOF / "redis-replicator/appendonly-with-ts.aof").read_bytes()
    for ts in ["1", "1643689035", "1643689100", "1643689274"]:
        compare(tmp_path, {"a.aof": old}, ["--truncate-to-timestamp", ts, "a.aof"])
    bad_ts = encode_command([b"PING"]) + b"#TS:12x\r\n" + encode_command([b"PING"])
    compare(tmp_path, {"a.aof": bad_ts}, ["--truncate-to-timestamp", "5", "a.aof"])


@pytest.mark.interop
@needs_redis
def test_interop_answer_no_and_usage(tmp_path: Path) -> None:
    data = encode_command([b"SET", b"a", b"1"]) + b"*2\r\n$3"
    compare(tmp_path, {"a.aof": data}, ["--fix", "a.aof"], answer="n\n")
    compare(tmp_path, {"a.aof": data}, ["--fix", "a.aof"], answer="")
    compare(tmp_path, {"a.aof": data}, ["--bogus", "a.aof"])
    compare(tmp_path, {"a.aof": b""}, ["a.aof"])


_RDB_LINE = re.compile(r"^(\[offset \d+\]|\[info\]|\[additional info\]|--- RDB ERROR).*\n", re.M)


def compare_without_rdb_report(tmp: Path, name: str, data: bytes, args: list[str]) -> str:
    """Like :func:`compare`, but ignores the embedded redis-check-rdb report lines (they
    come from ember-check-rdb, tested on its own)."""
    a, b = tmp / "redis", tmp / "ember"
    for d in (a, b):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        (d / name).write_bytes(data)
    rc_r, out_r = run_redis(args, a)
    rc_e, out_e = run(args, cwd=b)
    assert (rc_e, _RDB_LINE.sub("", out_e)) == (rc_r, _RDB_LINE.sub("", out_r))
    assert (a / name).read_bytes() == (b / name).read_bytes()
    return out_e


@pytest.mark.interop
@needs_redis
@needs_corpus
def test_interop_rdb_preamble(tmp_path: Path) -> None:
    pytest.importorskip("ember.persistence.rdb.reader")
    data = (AOF / "redis/rdb-preamble.aof").read_bytes()
    for cut in (len(data), 160, 140, 117, 100, 30):
        out = compare_without_rdb_report(tmp_path, "p.aof", data[:cut], ["p.aof"])
        assert ("RDB preamble is OK" in out) == (cut >= 117)
    compare_without_rdb_report(tmp_path, "p.aof", data[:160], ["--fix", "p.aof"])
    six = (AOF / "generated-redis-6.2.14/preamble/2-after-rewrite/appendonly.aof").read_bytes()
    compare_without_rdb_report(tmp_path, "appendonly.aof", six, ["appendonly.aof"])
    d = AOF / "generated-redis-7.0.15/preamble/2-after-rewrite/appendonlydir"
    files = {p.name: p.read_bytes() for p in d.iterdir()}
    a, b = tmp_path / "mr", tmp_path / "me"
    for x in (a, b):
        x.mkdir()
        for name, content in files.items():
            (x / name).write_bytes(content)
    rc_r, out_r = run_redis(["appendonly.aof.manifest"], a)
    rc_e, out_e = run(["appendonly.aof.manifest"], cwd=b)
    assert (rc_e, _RDB_LINE.sub("", out_e)) == (rc_r, _RDB_LINE.sub("", out_r))
