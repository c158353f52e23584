"""The sans-IO AOF parser: whole, byte by byte, cut at every offset, damaged, MULTI, #TS,
RDB preamble.  (Byte-exact agreement of check mode with redis-check-aof is in
test_aof_check_tool.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ember.persistence.aof.format import encode_command, encode_commands
from ember.persistence.aof.parser import (
    Annotation,
    AofParser,
    Command,
    End,
    EndStatus,
    Preamble,
    find_resp_start,
    iter_commands,
    parse_aof,
    parse_timestamp,
)
from tests.helpers.corpus import CORPUS

AOF = CORPUS / "aof"
TS_INCR = (
    AOF / "generated-redis-7.0.15/plain-ts/1-before-rewrite/appendonlydir/appendonly.aof.1.incr.aof"
)
PLAIN_INCR = (
    AOF / "generated-redis-7.0.15/plain/1-before-rewrite/appendonlydir/appendonly.aof.1.incr.aof"
)
PREAMBLE_AOF = AOF / "redis/rdb-preamble.aof"

needs_corpus = pytest.mark.skipif(not AOF.is_dir(), reason="corpus not available")


def rdb_reader_available() -> bool:
    try:
        import ember.persistence.rdb.reader  # noqa: F401
    except ImportError:
        return False
    return True


needs_rdb = pytest.mark.skipif(not rdb_reader_available(), reason="RDB reader not available")


def resp_corpus_files() -> list[Path]:
    out = []
    for p in sorted(AOF.glob("**/*.aof")):
        head = p.read_bytes()[:6]
        if not head.startswith(b"REDIS") and not head.startswith(b"VALKEY"):
            out.append(p)
    return out


def feed_in_chunks(data: bytes, sizes: list[int], mode: str = "loader", **kw: object) -> list:
    p = AofParser(mode, **kw)  # type: ignore[arg-type]
    events: list = []
    pos = 0
    i = 0
    while pos < len(data):
        n = sizes[i % len(sizes)] if sizes else len(data)
        events += p.feed(data[pos : pos + n])
        pos += n
        i += 1
    events += p.close()
    assert p.close() == [] and p.feed(b"more") == []
    return events


# --------------------------------------------------------------------- whole files


@needs_corpus
def test_every_resp_corpus_file_parses_cleanly() -> None:
    files = resp_corpus_files()
    assert len(files) > 20
    for path in files:
        data = path.read_bytes()
        r = parse_aof(data)
        if "redisshake" in str(path):
            # LF line endings (mangled by git): not an AOF Redis can load
            assert r.end.status is EndStatus.FORMAT_ERROR
            continue
        assert r.end.ok, path
        assert r.end.offset == r.end.size == len(data)
        assert r.end.valid_up_to == (r.commands[-1].end if r.commands else 0)
        c = parse_aof(data, "check")
        assert c.end.ok and c.end.offset == len(data)
        assert [e.argv for e in c.commands] == [e.argv for e in r.commands]
        # commands tile the file together with the annotations
        pos = 0
        for ev in r.events:
            assert ev.start == pos
            pos = ev.end
        assert pos == len(data)
        # re-encoding reproduces each record exactly
        for cmd in r.commands:
            assert encode_command(cmd.argv) == data[cmd.start : cmd.end]


@needs_corpus
def test_first_commands_of_an_incr_file() -> None:
    r = parse_aof(PLAIN_INCR.read_bytes())
    first = r.commands[:3]
    assert first[0] == Command([b"SELECT", b"0"], 0, 23)
    assert first[1].argv == [b"SET", b"k1", b"v1"]
    assert first[2].argv == [b"SET", b"k2", b"v2", b"PXAT", b"1795599789824"]


@needs_corpus
def test_byte_by_byte_and_odd_chunks_equal_whole() -> None:
    for path in (TS_INCR, PLAIN_INCR, AOF / "redis-replicator/appendonly5.aof"):
        data = path.read_bytes()
        for mode in ("loader", "check"):
            whole = feed_in_chunks(data, [], mode)
            assert whole[-1].ok
            assert feed_in_chunks(data, [1], mode) == whole
            assert feed_in_chunks(data, [3, 7, 1, 1000, 2], mode) == whole


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 64), min_size=1, max_size=10), st.booleans())
def test_random_chunking_equals_whole(sizes: list[int], hold: bool) -> None:
    data = (
        encode_command([b"SELECT", b"0"])
        + b"#TS:1700000000\r\n"
        + encode_commands([[b"MULTI"], [b"SET", b"k", b"v" * 200], [b"EXEC"]])
        + encode_command([b"RPUSH", b"l", *[b"%d" % i for i in range(70)]])
        + encode_command([b"MULTI"])
        + encode_command([b"INCR", b"x"])
    )
    whole = feed_in_chunks(data, [], hold_transactions=hold)
    assert feed_in_chunks(data, sizes, hold_transactions=hold) == whole
    assert whole[-1].status is EndStatus.UNTERMINATED_MULTI
    cw = feed_in_chunks(data, [], "check")
    assert feed_in_chunks(data, sizes, "check") == cw


def test_large_payload_fed_in_small_pieces_is_linear() -> None:
    payload = b"z" * 2_000_000
    data = encode_command([b"SET", b"k", payload])
    p = AofParser()
    events: list = []
    for i in range(0, len(data), 100):  # 20k feeds; quadratic joins would take minutes
        events += p.feed(data[i : i + 100])
    events += p.close()
    assert events[0].argv[2] == payload and events[-1].ok


def test_memoryview_and_bytearray_input() -> None:
    data = encode_command([b"SET", b"a", b"b"])
    p = AofParser()
    ev = p.feed(memoryview(data)[:5]) + p.feed(bytearray(data[5:])) + p.close()
    assert ev[0].argv == [b"SET", b"a", b"b"] and ev[-1].ok


# ------------------------------------------------------------- cut at every offset


def expected_for_cut(events: list, cut: int) -> tuple[EndStatus, int]:
    """What Redis's loader does with the first ``cut`` bytes (independent model)."""
    complete = [e for e in events if e.end <= cut]
    partial = [e for e in events if e.start < cut < e.end]
    last_cmd_end = 0
    in_multi = False
    before_multi = 0
    for e in complete:
        if isinstance(e, Command):
            name = e.argv[0].lower()
            if name == b"multi":
                before_multi = last_cmd_end
                in_multi = True
            elif name == b"exec":
                in_multi = False
            last_cmd_end = e.end
    if partial and isinstance(partial[0], Command):
        return EndStatus.TRUNCATED, last_cmd_end
    # a cut annotation is a (short) annotation line: skipped like any other
    if in_multi:
        return EndStatus.UNTERMINATED_MULTI, before_multi
    return EndStatus.OK, cut


@needs_corpus
@pytest.mark.parametrize("path", [TS_INCR, PLAIN_INCR], ids=["plain-ts", "plain"])
def test_cut_at_every_offset_loader(path: Path) -> None:
    data = path.read_bytes()
    events = parse_aof(data).events
    assert any(isinstance(e, Command) and e.argv[0] == b"MULTI" for e in events)
    for cut in range(len(data) + 1):
        end = parse_aof(data[:cut]).end
        status, offset = expected_for_cut(events, cut)
        assert (end.status, end.offset) == (status, offset), cut
        assert end.size == cut
        if status is EndStatus.UNTERMINATED_MULTI:
            assert end.before_multi == offset


@needs_corpus
def test_cut_at_every_offset_check() -> None:
    data = TS_INCR.read_bytes()
    events = parse_aof(data, "check").events
    for cut in range(len(data) + 1):
        end = parse_aof(data[:cut], "check").end
        partial = [e for e in events if e.start < cut < e.end and isinstance(e, Command)]
        open_multi = None
        for e in events:
            if e.end > cut or not isinstance(e, Command):
                continue
            if e.argv[0] == b"MULTI":
                open_multi = e.start
            elif e.argv[0] == b"EXEC":
                open_multi = None
        if partial:
            if partial[0].argv[0] == b"MULTI":
                open_multi = partial[0].start
            assert end.status is EndStatus.TRUNCATED, cut
            assert end.offset == (open_multi if open_multi is not None else partial[0].start)
            # (no error text when the cut falls on a line boundary: fgets() hit EOF)
        elif open_multi is not None:
            assert end.status is EndStatus.UNTERMINATED_MULTI
            assert end.offset == open_multi
            assert end.error is not None and "Reached EOF before reading EXEC" in end.error
        else:
            assert end.ok and end.offset == cut


def test_truncation_offsets_small() -> None:
    a = encode_command([b"SET", b"a", b"1"])
    b = encode_command([b"SET", b"b", b"2"])
    for cut in range(1, len(b)):
        end = parse_aof(a + b[:cut]).end
        assert end.status is EndStatus.TRUNCATED
        assert end.offset == end.valid_up_to == len(a)
        assert end.truncated and not end.ok
    assert parse_aof(a + b"*").end.offset == len(a)  # '*' alone at EOF: readerr -> EOF
    assert parse_aof(b"").end.ok


# ------------------------------------------------------------------ damaged files


def test_corrupt_middle_detected() -> None:
    a = encode_command([b"SET", b"a", b"1"])
    b = encode_command([b"SET", b"b", b"2"])
    bad = a + b.replace(b"$1\r\nb", b"?1\r\nb") + a
    where = bad.index(b"?1")
    end = parse_aof(bad).end
    assert end.status is EndStatus.FORMAT_ERROR
    assert end.reason == "Bad file format reading the append only file"
    assert end.offset == where
    c = parse_aof(bad, "check").end
    assert c.status is EndStatus.FORMAT_ERROR
    assert c.offset == len(a)  # ok_up_to: the start of the bad record
    assert c.error == f"0x{where:16x}: Expected prefix '$', got: '?'"


def test_garbage_between_records() -> None:
    a = encode_command([b"SET", b"a", b"1"])
    end = parse_aof(a + b"hello\r\n" + a).end
    assert (end.status, end.offset) == (EndStatus.FORMAT_ERROR, len(a))
    c = parse_aof(a + b"hello\r\n" + a, "check").end
    assert (c.status, c.reason, c.error, c.offset) == (
        EndStatus.FORMAT_ERROR,
        "format error",
        None,
        len(a),
    )


def test_loader_ignores_bytes_after_payload_check_does_not() -> None:
    good = encode_command([b"SET", b"k", b"v"])
    bad = good[:-2] + b"XY" + good
    r = parse_aof(bad)
    assert r.end.ok and [c.argv for c in r.commands] == [[b"SET", b"k", b"v"]] * 2
    c = parse_aof(bad, "check").end
    assert c.status is EndStatus.FORMAT_ERROR and c.offset == 0
    assert c.error == f"0x{len(good) - 3:16x}: Expected \\r\\n, got: 5859"


def test_loader_number_parsing_is_c_like() -> None:
    # atoi/strtol leniency: blanks, '+', trailing garbage
    data = b"*3 junk\r\n$ +3xx\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
    r = parse_aof(data)
    assert r.end.ok and r.commands[0].argv == [b"SET", b"k", b"v"]
    # the checker is strict about the CRLF right after the digits
    assert parse_aof(data, "check").end.error == "0x               0: Expected \\r\\n, got: 206a"
    for bad in (b"*0\r\n", b"*-1\r\n", b"*x\r\n", b"*\r\n"):
        assert parse_aof(bad).end.status is EndStatus.FORMAT_ERROR
    # redis-check-aof accepts an empty (or negative) array
    assert parse_aof(b"*0\r\n", "check").end.ok
    # negative bulk length: Redis crashes allocating; ember refuses
    assert parse_aof(b"*1\r\n$-1\r\n").end.status is EndStatus.FORMAT_ERROR
    assert "not in the suitable range" in (parse_aof(b"*1\r\n$-1\r\n", "check").end.error or "")


def test_lines_longer_than_fgets_buffer() -> None:
    # a header line longer than 1023 bytes continues as the next "line" for the loader
    data = b"*1" + b" " * 2000 + b"\r\n$1\r\nx\r\n"
    assert parse_aof(data).end.status is EndStatus.FORMAT_ERROR
    ann = b"#" + b"a" * 1500 + b"\r\n" + encode_command([b"PING"])
    r = parse_aof(ann)
    assert r.end.status is EndStatus.FORMAT_ERROR  # the annotation's tail is not a record


def test_lf_only_file_rejected() -> None:
    data = b"*2\n$6\nSELECT\n$1\n0\n"
    assert parse_aof(data).end.status is EndStatus.FORMAT_ERROR
    assert parse_aof(data, "check").end.error == "0x               0: Expected \\r\\n, got: 0a00"


# ------------------------------------------------------------------------ MULTI


def test_multi_exec_and_revert() -> None:
    pre = encode_command([b"SET", b"a", b"1"])
    multi = encode_commands([[b"multi"], [b"INCR", b"c"]])
    r = parse_aof(pre + multi)
    assert r.end.status is EndStatus.UNTERMINATED_MULTI
    assert r.end.offset == r.end.before_multi == len(pre)
    assert r.end.reason == "Revert incomplete MULTI/EXEC transaction in AOF file"
    assert [c.argv[0] for c in r.commands] == [b"SET", b"multi", b"INCR"]
    closed = parse_aof(pre + multi + encode_command([b"EXEC"]))
    assert closed.end.ok and closed.end.before_multi is None
    # EOF inside a record inside MULTI: truncate at the last complete command
    cut = parse_aof(pre + multi + b"*1\r\n$4\r\nEX").end
    assert cut.status is EndStatus.TRUNCATED
    assert cut.offset == len(pre + multi) and cut.before_multi == len(pre)


def test_revert_point_skips_annotations_like_redis() -> None:
    pre = encode_command([b"SET", b"a", b"1"])
    data = pre + b"#TS:5\r\n" + encode_command([b"MULTI"])
    assert parse_aof(data).end.offset == len(pre)


def test_hold_transactions() -> None:
    pre = encode_command([b"SET", b"a", b"1"])
    tx = encode_commands([[b"MULTI"], [b"INCR", b"c"], [b"EXEC"]])
    p = AofParser(hold_transactions=True)
    ev = p.feed(pre + tx[:-5])
    assert [e.argv[0] for e in ev] == [b"SET"]
    ev = p.feed(tx[-5:]) + p.close()
    assert [e.argv[0] for e in ev if isinstance(e, Command)] == [b"MULTI", b"INCR", b"EXEC"]
    r = parse_aof(pre + tx[:-14], hold_transactions=True)
    assert [c.argv[0] for c in r.commands] == [b"SET"]
    assert r.end.status is EndStatus.UNTERMINATED_MULTI and r.end.dropped == 2


def test_exec_without_multi_and_nested_multi() -> None:
    exec_only = encode_command([b"SET", b"a", b"1"]) + encode_command([b"EXEC"])
    assert parse_aof(exec_only).end.ok  # the server just replies an error
    c = parse_aof(exec_only, "check", name="f.aof").end
    assert c.status is EndStatus.FORMAT_ERROR and c.error is not None
    assert c.error.endswith("Unexpected EXEC in AOF f.aof")
    assert c.offset == len(encode_command([b"SET", b"a", b"1"]))
    nested = encode_commands([[b"MULTI"], [b"SET", b"a", b"1"], [b"MULTI"], [b"EXEC"]])
    c = parse_aof(nested, "check", name="f.aof").end
    assert c.error is not None and c.error.endswith("Unexpected MULTI in AOF f.aof")
    assert c.offset == 0
    # loader: a nested MULTI moves the revert point (valid_before_multi) like Redis
    r = parse_aof(nested[: -len(encode_command([b"EXEC"]))]).end
    assert r.status is EndStatus.UNTERMINATED_MULTI
    assert r.offset == len(encode_commands([[b"MULTI"], [b"SET", b"a", b"1"]]))


# ------------------------------------------------------------------- annotations


@needs_corpus
def test_timestamps_in_corpus() -> None:
    data = TS_INCR.read_bytes()
    anns = [e for e in parse_aof(data).events if isinstance(e, Annotation)]
    assert [a.timestamp for a in anns] == [1795499800, 1795499801, 1795499803]
    assert anns[0] == Annotation(b"#TS:1795499800\r\n", 0, 16)
    for a in anns:
        assert data[a.start : a.end] == a.line


def test_parse_timestamp() -> None:
    assert parse_timestamp(b"#TS:123\r\n") == 123
    assert parse_timestamp(b"#TS:\r\n") == 0  # strtol with no digits, then '\r'
    assert parse_timestamp(b"#TS:12x\r\n") is None
    assert parse_timestamp(b"#TS:123\n") is None
    assert parse_timestamp(b"#TS:99999999999999999999\r\n") is None  # ERANGE
    assert parse_timestamp(b"#XX:1\r\n") is None


def test_annotation_cut_at_eof_is_skipped() -> None:
    a = encode_command([b"SET", b"a", b"1"])
    r = parse_aof(a + b"#TS:17")
    assert r.end.ok and r.events[-1] == Annotation(b"#TS:17", len(a), len(a) + 6)


# ------------------------------------------------------------------- RDB preamble


def test_preamble_detection_without_reader() -> None:
    calls: list[int] = []

    class FakeRdb:
        end_offset = 9

    def loader(data: bytes) -> FakeRdb:
        calls.append(len(data))
        return FakeRdb()

    data = b"REDIS0011" + encode_command([b"SET", b"k", b"v"])
    r = parse_aof(data, rdb_loader=loader)
    assert calls == [len(data)]
    assert isinstance(r.events[0], Preamble) and r.preamble is not None
    assert (r.preamble.start, r.preamble.end) == (0, 9)
    assert r.commands == [Command([b"SET", b"k", b"v"], 9, len(data))]
    assert r.end.ok and r.end.resp_start == 9
    # fed byte by byte: same events
    assert feed_in_chunks(data, [1], rdb_loader=loader)[1:] == r.events[1:] + [r.end]
    # a file not starting with the magic never calls the loader
    calls.clear()
    assert parse_aof(encode_command([b"PING"]), rdb_loader=loader).end.ok and not calls
    assert parse_aof(b"REDI", rdb_loader=loader).end.status is EndStatus.FORMAT_ERROR
    assert find_resp_start(data, loader) == 9 and find_resp_start(b"*1\r\n") == 0


def test_truncated_tail_after_preamble_keeps_the_rdb() -> None:
    class FakeRdb:
        end_offset = 9

    data = b"VALKEY080" + encode_command([b"SET", b"k", b"v"])[:-3]
    end = parse_aof(data, rdb_loader=lambda d: FakeRdb()).end
    # Redis 7.0 would truncate to 0 here (valid_up_to starts at 0): ember keeps the RDB
    assert (end.status, end.offset) == (EndStatus.TRUNCATED, 9)


@needs_corpus
@needs_rdb
def test_preamble_corpus_files() -> None:
    data = PREAMBLE_AOF.read_bytes()
    for mode in ("loader", "check"):
        r = parse_aof(data, mode)
        assert r.preamble is not None and r.preamble.end == 117
        assert r.end.ok and r.end.resp_start == 117
        assert [c.argv for c in r.commands] == [[b"SELECT", b"0"], [b"set", b"k3", b"v3"]]
        assert feed_in_chunks(data, [1], mode)[-1] == r.end
    keys = set(r.preamble.rdb.dbs[0])
    assert keys == {b"k1", b"k2"}
    assert find_resp_start(data) == 117
    six = (AOF / "generated-redis-6.2.14/preamble/2-after-rewrite/appendonly.aof").read_bytes()
    r = parse_aof(six)
    assert r.end.ok and [c.argv for c in r.commands] == [
        [b"SELECT", b"0"],
        [b"SET", b"after-rewrite", b"1"],
        [b"RPUSH", b"biglist", b"tail"],
    ]
    base = AOF / "generated-valkey-9.1.2/preamble/2-after-rewrite/appendonlydir"
    r = parse_aof((base / "appendonly.aof.2.base.rdb").read_bytes())
    assert r.end.ok and r.preamble is not None and r.commands == []


@needs_corpus
@needs_rdb
def test_damaged_preamble() -> None:
    data = PREAMBLE_AOF.read_bytes()
    end = parse_aof(data[:100]).end
    assert end.status is EndStatus.PREAMBLE_ERROR
    assert end.reason.startswith("Error reading the RDB preamble of the AOF file")
    # truncated RESP tail after a good preamble: cut after the RDB, never inside it
    end = parse_aof(data[:-3]).end
    assert end.status is EndStatus.TRUNCATED and end.offset >= 117


def test_iter_commands() -> None:
    data = encode_commands([[b"SET", b"a", b"1"], [b"DEL", b"a"]])
    assert [c.argv for c in iter_commands(data)] == [[b"SET", b"a", b"1"], [b"DEL", b"a"]]
    with pytest.raises(ValueError):
        iter_commands(data[:-1])


def test_end_is_last_and_only_once() -> None:
    p = AofParser()
    events = p.feed(b"garbage") + p.close()
    assert isinstance(events[-1], End) and p.end is events[-1]
    assert p.feed(b"*1\r\n$4\r\nPING\r\n") == [] and p.close() == []


def test_offset_parameter() -> None:
    data = encode_command([b"PING"])
    r = parse_aof(data, offset=1000)
    assert r.commands[0].start == 1000 and r.end.offset == 1000 + len(data)
