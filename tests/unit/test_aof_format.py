"""AOF record encoding (catAppendOnlyGenericCommand) and #TS annotations."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ember.persistence.aof.format import (
    TimestampAnnotator,
    encode_bulk,
    encode_command,
    encode_commands,
    encode_select,
    timestamp_annotation,
)
from ember.persistence.aof.parser import parse_aof


def test_encode_command_exact_bytes() -> None:
    assert encode_command([b"SET", b"k1", b"v1"]) == b"*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$2\r\nv1\r\n"
    assert encode_command([b"SET", b"k", b""]) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
    assert encode_command([b"PING"]) == b"*1\r\n$4\r\nPING\r\n"
    big = b"x" * 5000
    assert (
        encode_command([b"SET", b"k", big])
        == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000\r\n" + big + b"\r\n"
    )


def test_encode_accepts_bytes_like() -> None:
    assert encode_command((bytearray(b"SET"), memoryview(b"k"), b"v")) == encode_command(
        [b"SET", b"k", b"v"]
    )


def test_encode_many_args() -> None:
    argv = [b"RPUSH", b"k"] + [b"%d" % i for i in range(200)]
    data = encode_command(argv)
    assert data.startswith(b"*202\r\n$5\r\nRPUSH\r\n")
    assert parse_aof(data).commands[0].argv == argv


def test_encode_commands_and_helpers() -> None:
    cmds = [[b"MULTI"], [b"INCR", b"c"], [b"EXEC"]]
    assert encode_commands(cmds) == b"".join(encode_command(c) for c in cmds)
    assert encode_bulk(b"abc") == b"$3\r\nabc\r\n"
    assert encode_select(0) == b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
    assert encode_select(123) == encode_command([b"SELECT", b"123"])


def test_select_matches_corpus_first_record() -> None:
    # every Redis-written incr file starts with SELECT 0
    assert encode_select(0) == b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"


def test_timestamps() -> None:
    assert timestamp_annotation(1795499800) == b"#TS:1795499800\r\n"
    ts = TimestampAnnotator()
    assert ts.annotation(100) == b"#TS:100\r\n"
    assert ts.annotation(100) == b""
    assert ts.annotation(99) == b""
    assert ts.annotation(101) == b"#TS:101\r\n"
    assert ts.annotation(101, force=True) == b"#TS:101\r\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.binary(max_size=300), min_size=1, max_size=20), max_size=10))
def test_round_trip_through_parser(cmds: list[list[bytes]]) -> None:
    # (MULTI/EXEC nesting is checked by redis-check-aof: tested in test_aof_parser.py)
    assume(all(c[0].split(b"\0")[0].lower() not in (b"multi", b"exec") for c in cmds))
    data = encode_commands(cmds)
    for mode in ("loader", "check"):
        parsed = parse_aof(data, mode, preamble=False)
        assert parsed.end.ok
        assert [c.argv for c in parsed.commands] == cmds
