"""Unit tests of the RESP request parser and reply encoder (no sockets).

The parser must give the same commands whether a stream arrives whole, byte by byte or
split at any offset, and the same protocol errors as Redis 7.0 (``processMultibulkBuffer``
/ ``processInlineBuffer``). The hiredis fast path must agree with the exact parser.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ember.errors import CommandError
from ember.protocol.resp import (
    NULL_ARRAY,
    OK,
    BigNumber,
    Push,
    Raw,
    RequestParser,
    Status,
    Verbatim,
    encode,
    format_double,
    split_args,
    string2ll,
)


class ExactParser:
    """The parser without the hiredis fast path (reference for equivalence tests).

    A wrapper, not a subclass: in the compiled build (scripts/compile.py) RequestParser
    is a native class, and interpreted classes cannot derive from those."""

    def __init__(self, **kw: object) -> None:
        self.p = RequestParser(**kw)  # type: ignore[arg-type]

    def feed(self, data: bytes) -> list[list[bytes]]:
        if self.p.error is not None or self.p.overflow:
            return []
        return self.p._feed_exact(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self.p, name)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "p":
            object.__setattr__(self, name, value)
        else:
            setattr(self.p, name, value)


def mb(*args: bytes) -> bytes:
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def feed_all(
    data: bytes,
    parts: list[bytes],
    cls: type[RequestParser] | type[ExactParser] = RequestParser,
    **kw: object,
) -> tuple[list[list[bytes]], str | None, int]:
    p = cls(**kw)  # type: ignore[arg-type]
    out: list[list[bytes]] = []
    for part in parts:
        out += p.feed(part)
    return out, p.error, p.pending


def splits(data: bytes) -> list[list[bytes]]:
    """Whole, byte by byte, and split in two at every offset."""
    ways = [[data], [data[i : i + 1] for i in range(len(data))]]
    ways += [[data[:i], data[i:]] for i in range(1, len(data))]
    return ways


def check_everywhere(
    data: bytes, want: list[list[bytes]], error: str | None = None, **kw: object
) -> None:
    for parts in splits(data):
        for cls in (RequestParser, ExactParser):
            got, err, _ = feed_all(data, parts, cls, **kw)
            assert (got, err) == (want, error), (cls.__name__, parts)


# ------------------------------------------------------------------------ string2ll


@pytest.mark.parametrize(
    "text,value",
    [
        (b"0", 0),
        (b"1", 1),
        (b"-1", -1),
        (b"4095", 4095),
        (b"123456789", 123456789),
        (b"9223372036854775807", (1 << 63) - 1),
        (b"-9223372036854775808", -(1 << 63)),
        (b"9223372036854775808", None),
        (b"-9223372036854775809", None),
        (b"", None),
        (b"-", None),
        (b"-0", None),
        (b"01", None),
        (b"+1", None),
        (b" 1", None),
        (b"1 ", None),
        (b"1_0", None),
        (b"1a", None),
        (b"0x10", None),
        (b"1" * 21, None),
    ],
)
def test_string2ll(text: bytes, value: int | None) -> None:
    assert string2ll(text) == value


# ------------------------------------------------------------------------ split_args


@pytest.mark.parametrize(
    "line,args",
    [
        (b"", []),
        (b"   ", []),
        (b"set a b", [b"set", b"a", b"b"]),
        (b"  set\ta   b  ", [b"set", b"a", b"b"]),
        (b'set "a b" c', [b"set", b"a b", b"c"]),
        (b'"\\x41\\x4a" "\\x4" "\\xZZ"', [b"AJ", b"x4", b"xZZ"]),
        (b'"a\\nb\\rc\\td\\be\\af\\"g\\\\"', [b'a\nb\rc\td\be\af"g\\']),
        (b"'a b' 'it\\'s' '\\n'", [b"a b", b"it's", b"\\n"]),
        (b'ab"c d"e', None),
        (b'ab"c d" e', [b"abc d", b"e"]),
        (b"x'y z' w", [b"xy z", b"w"]),
        (b'"unterminated', None),
        (b"'unterminated", None),
        (b'"a"b', None),
        (b"'a'b", None),
        (b'"a"\x0bb', [b"a", b"b"]),  # isspace() after a closing quote
        (b"a\x0bb c", [b"a\x0bb", b"c"]),  # but \v does not end a plain token
        (b"\x0b\x0ca", [b"a"]),
        (b"a\x00b c", [b"a"]),  # C string: ends at NUL
        (b'""', [b""]),
        (b"''", [b""]),
        (b'"" x', [b"", b"x"]),
    ],
)
def test_split_args(line: bytes, args: list[bytes] | None) -> None:
    assert split_args(line) == args


# ------------------------------------------------------------------------ parsing OK


VALID_STREAMS = [
    (mb(b"PING"), [[b"PING"]]),
    (mb(b"SET", b"k", b"v") + mb(b"GET", b"k"), [[b"SET", b"k", b"v"], [b"GET", b"k"]]),
    (mb(b"SET", b"k", b""), [[b"SET", b"k", b""]]),
    (mb(b"ECHO", b"a\r\nb\x00c"), [[b"ECHO", b"a\r\nb\x00c"]]),
    (b"PING\r\n", [[b"PING"]]),
    (b"PING\n", [[b"PING"]]),
    (b"set k 'a b'\r\nget k\n", [[b"set", b"k", b"a b"], [b"get", b"k"]]),
    (b"\r\n\r\n\n  \r\nPING\r\n", [[b"PING"]]),
    (b"*0\r\n*-1\r\n*-100\r\n" + mb(b"PING"), [[b"PING"]]),
    (
        b"PING\r\n" + mb(b"ECHO", b"x") + b"ECHO y\r\n",
        [[b"PING"], [b"ECHO", b"x"], [b"ECHO", b"y"]],
    ),
    # the two bytes after a bulk payload are skipped without being checked (like Redis)
    (b"*1\r\n$2\r\nPIxx*1\r\n$4\r\nPING\r\n", [[b"PI"], [b"PING"]]),
    # a length line ends at \r; the byte after it is not checked
    (b"*1\rX$4\rXPING\r\n", [[b"PING"]]),
    # \r inside an inline line is part of the line (only the last one is stripped)
    (b"ECHO a\rb\r\n", [[b"ECHO", b"a", b"b"]]),
]


@pytest.mark.parametrize("data,want", VALID_STREAMS)
def test_valid_streams_any_split(data: bytes, want: list[list[bytes]]) -> None:
    check_everywhere(data, want)


def test_pipelined_many_commands_in_order() -> None:
    cmds = [[b"SET", b"key:%d" % i, b"v" * (i % 50)] for i in range(500)]
    data = b"".join(mb(*c) for c in cmds)
    p = RequestParser()
    assert p.feed(data) == cmds
    assert p.pending == 0 and p.error is None
    out: list[list[bytes]] = []
    for i in range(0, len(data), 7):
        out += p.feed(data[i : i + 7])
    assert out == cmds


def test_partial_request_pending_bytes() -> None:
    p = RequestParser()
    assert p.feed(b"*2\r\n$3\r\nGET\r\n$5\r\nab") == []
    assert p.pending == 2  # the completed argument is no longer in the buffer
    assert p.feed(b"cde\r\n") == [[b"GET", b"abcde"]]
    assert p.pending == 0
    assert p.feed(b"PIN") == [] and p.pending == 3
    assert p.feed(b"G\r\n") == [[b"PING"]]


def test_big_bulk_in_chunks() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    data = mb(b"SET", b"big", payload) + mb(b"GET", b"big")
    p = RequestParser()
    out: list[list[bytes]] = []
    pendings = []
    for i in range(0, len(data), 16384):
        out += p.feed(data[i : i + 16384])
        pendings.append(p.pending)
    assert out == [[b"SET", b"big", payload], [b"GET", b"big"]]
    assert max(pendings) > 500_000 and p.pending == 0


def test_bulk_exactly_max_len_is_accepted() -> None:
    data = mb(b"SET", b"k", b"x" * 1024)
    assert RequestParser(max_bulk=1024).feed(data) == [[b"SET", b"k", b"x" * 1024]]
    p = RequestParser(max_bulk=1023)
    assert p.feed(data) == [] and p.error == "invalid bulk length"


# ------------------------------------------------------------------------ parse errors

ERROR_STREAMS = [
    (b"*abc\r\n", [], "invalid multibulk length"),
    (b"*1x\r\n", [], "invalid multibulk length"),
    (b"*+1\r\n", [], "invalid multibulk length"),
    (b"*01\r\n", [], "invalid multibulk length"),
    (b"*-0\r\n", [], "invalid multibulk length"),
    (b"*\r\n", [], "invalid multibulk length"),
    (b"*2147483648\r\n", [], "invalid multibulk length"),
    (b"*99999999999999999999999\r\n", [], "invalid multibulk length"),
    (b"*1\r\n$abc\r\n", [], "invalid bulk length"),
    (b"*1\r\n$-1\r\n", [], "invalid bulk length"),
    (b"*1\r\n$-5\r\n", [], "invalid bulk length"),
    (b"*1\r\n$04\r\n", [], "invalid bulk length"),
    (b"*1\r\n$\r\n", [], "invalid bulk length"),
    (b"*1\r\n$536870913\r\n", [], "invalid bulk length"),  # > proto-max-bulk-len
    (b"*3\r\n:1\r\n", [], "expected '$', got ':'"),
    (b"*1\r\n+PING\r\n", [], "expected '$', got '+'"),
    (b"*1\r\n*1\r\n$4\r\nPING\r\n", [], "expected '$', got '*'"),
    (b"*2\r\n$4\r\nECHO\r\n:1\r\n", [], "expected '$', got ':'"),
    (b"*1\r\n\r\n", [], "expected '$', got ' '"),
    (b'PING "a\r\n', [], "unbalanced quotes in request"),
    (b"ECHO 'a'b\r\n", [], "unbalanced quotes in request"),
    (b"PING\r\n*abc\r\nPING\r\n", [[b"PING"]], "invalid multibulk length"),
    (mb(b"PING") + b"*1\r\n$x\r\n", [[b"PING"]], "invalid bulk length"),
    # "PI" then the inline remainder "NG" is not a command; "\r\n" is an empty line
    (b"*1\r\n$2\r\nPING\r\n*x\r\n", [[b"PI"]], "invalid multibulk length"),
]


@pytest.mark.parametrize("data,want,error", ERROR_STREAMS)
def test_protocol_errors_any_split(data: bytes, want: list[list[bytes]], error: str) -> None:
    check_everywhere(data, want, error)


def test_error_stops_parser() -> None:
    p = RequestParser()
    assert p.feed(b"*x\r\n" + mb(b"PING")) == []
    assert p.error == "invalid multibulk length"
    assert p.feed(mb(b"PING")) == []


@pytest.mark.parametrize(
    "data,error",
    [
        (b"x" * 65537, "too big inline request"),
        (b"x" * 70000 + b"\r\n", "too big inline request"),
        (b"*" + b"1" * 65537, "too big mbulk count string"),
        (b"*1\r\n$" + b"1" * 65537, "too big bulk count string"),
    ],
)
def test_too_big_lines(data: bytes, error: str) -> None:
    for cls in (RequestParser, ExactParser):
        _, err, _ = feed_all(data, [data], cls)
        assert err == error
        _, err, _ = feed_all(data, [data[i : i + 4096] for i in range(0, len(data), 4096)], cls)
        assert err == error


def test_inline_line_just_under_limit() -> None:
    line = b"ECHO " + b"x" * 65000 + b"\r\n"
    assert RequestParser().feed(line) == [[b"ECHO", b"x" * 65000]]


def test_nul_byte_hides_the_line_end_like_strchr() -> None:
    # Redis searches lines with strchr(): a NUL before the newline means "no line yet"
    for cls in (RequestParser, ExactParser):
        p = cls()
        assert p.feed(b"ECHO a\x00b\r\nPING\r\n") == []
        assert p.error is None and p.pending == 16
        p = cls()
        assert p.feed(b"*1\x00\r\n") == [] and p.error is None
        p = cls()
        assert p.feed(b"*1\r\n\x00\r\n") == [] and p.error is None
        p = cls()
        assert p.feed(b"*1\r\n$1\x00\r\n") == [] and p.error is None


def test_unauthenticated_limits() -> None:
    for cls in (RequestParser, ExactParser):
        p = cls()
        p.auth_required = True
        assert p.feed(mb(*[b"a"] * 10)) == [[b"a"] * 10]
        assert p.feed(mb(*[b"a"] * 11)) == []
        assert p.error == "unauthenticated multibulk length"
        p = cls()
        p.auth_required = True
        assert p.feed(mb(b"AUTH", b"x" * 16384)) == [[b"AUTH", b"x" * 16384]]
        assert p.feed(mb(b"AUTH", b"x" * 16385)) == []
        assert p.error == "unauthenticated bulk length"
        # inline requests have no such limit
        p = cls()
        p.auth_required = True
        assert p.feed(b"a b c d e f g h i j k l\r\n") == [b"a b c d e f g h i j k l".split()]


def test_fast_path_rejects_other_resp_types() -> None:
    # hiredis would accept these as arrays of strings; Redis does not
    cases = [
        (b"~1\r\n$4\r\nPING\r\n", [[b"~1"], [b"$4"], [b"PING"]], None),
        (b"*2\r\n$4\r\nECHO\r\n+PINGxxxx\r\n", [], "expected '$', got '+'"),
        (b"*2\r\n$4\r\nECHO\r\n(12345\r\n", [], "expected '$', got '('"),
        (b"*2\r\n$4\r\nECHO\r\n=8\r\ntxt:abcd\r\n", [], "expected '$', got '='"),
        (b"*2\r\n$4\r\nECHO\r\n_\r\n", [], "expected '$', got '_'"),
        (b"*2\r\n$4\r\nECHO\r\n$-1\r\n", [], "invalid bulk length"),
        (b"*1\r\n$4\r\nPING\r\nPING\r\n", [[b"PING"], [b"PING"]], None),
    ]
    for data, want, error in cases:
        check_everywhere(data, want, error)


# ------------------------------------------------------------------------ randomized

_arg = st.binary(max_size=40)
_inline_arg = st.binary(min_size=1, max_size=12).filter(
    lambda b: not any(c in b for c in b" \t\r\n\x00\x0b\x0c\"'")
)
_request = st.one_of(
    st.lists(_arg, min_size=1, max_size=6).map(lambda a: ("mb", a)),
    # an inline request must not start with '*' (that makes it a multibulk request)
    st.lists(_inline_arg, min_size=1, max_size=5)
    .filter(lambda a: not a[0].startswith(b"*"))
    .map(lambda a: ("inline", a)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_request, min_size=1, max_size=8), st.lists(st.integers(0, 400), max_size=6))
def test_random_streams_any_split(reqs: list[tuple[str, list[bytes]]], cuts: list[int]) -> None:
    data = b""
    for kind, args in reqs:
        data += mb(*args) if kind == "mb" else b" ".join(args) + b"\r\n"
    want = [args for _, args in reqs]
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    parts = [data[a:b] for a, b in zip(points, points[1:], strict=False)]
    for cls in (RequestParser, ExactParser):
        got, err, pending = feed_all(data, parts, cls)
        assert (got, err, pending) == (want, None, 0)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60), st.integers(1, 8))
def test_garbage_fast_and_exact_agree(data: bytes, step: int) -> None:
    whole = feed_all(data, [data], RequestParser)
    exact = feed_all(data, [data], ExactParser)
    chunked = feed_all(data, [data[i : i + step] for i in range(0, len(data), step)], ExactParser)
    assert whole == exact
    assert chunked[:2] == exact[:2]


# ------------------------------------------------------------------------ encoding


def test_encode_resp2_and_resp3() -> None:
    cases: list[tuple[object, bytes, bytes]] = [
        (b"abc", b"$3\r\nabc\r\n", b"$3\r\nabc\r\n"),
        (bytearray(b"ab"), b"$2\r\nab\r\n", b"$2\r\nab\r\n"),
        (b"x" * 2000, b"$2000\r\n" + b"x" * 2000 + b"\r\n", b"$2000\r\n" + b"x" * 2000 + b"\r\n"),
        (0, b":0\r\n", b":0\r\n"),
        (-1, b":-1\r\n", b":-1\r\n"),
        (-2, b":-2\r\n", b":-2\r\n"),
        (1 << 62, b":%d\r\n" % (1 << 62), b":%d\r\n" % (1 << 62)),
        (None, b"$-1\r\n", b"_\r\n"),
        (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
        ([], b"*0\r\n", b"*0\r\n"),
        ([b"a", 1, None], b"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", b"*3\r\n$1\r\na\r\n:1\r\n_\r\n"),
        (OK, b"+OK\r\n", b"+OK\r\n"),
        (Status("PONG"), b"+PONG\r\n", b"+PONG\r\n"),
        (CommandError("ERR bad"), b"-ERR bad\r\n", b"-ERR bad\r\n"),
        (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
        (float("inf"), b"$3\r\ninf\r\n", b",inf\r\n"),
        (float("-inf"), b"$4\r\n-inf\r\n", b",-inf\r\n"),
        (0.1, b"$19\r\n0.10000000000000001\r\n", b",0.10000000000000001\r\n"),
        (True, b":1\r\n", b"#t\r\n"),
        (False, b":0\r\n", b"#f\r\n"),
        ({b"a": 1}, b"*2\r\n$1\r\na\r\n:1\r\n", b"%1\r\n$1\r\na\r\n:1\r\n"),
        ({b"x"}, b"*1\r\n$1\r\nx\r\n", b"~1\r\n$1\r\nx\r\n"),
        (Verbatim(b"hi"), b"$2\r\nhi\r\n", b"=6\r\ntxt:hi\r\n"),
        (
            Push([b"message", b"c"]),
            b"*2\r\n$7\r\nmessage\r\n$1\r\nc\r\n",
            b">2\r\n$7\r\nmessage\r\n$1\r\nc\r\n",
        ),
        (BigNumber(10**30), b"$31\r\n1" + b"0" * 30 + b"\r\n", b"(1" + b"0" * 30 + b"\r\n"),
        (Raw(b"+RAW\r\n"), b"+RAW\r\n", b"+RAW\r\n"),
    ]
    for value, resp2, resp3 in cases:
        assert encode(value, False) == resp2, value
        assert encode(value, True) == resp3, value
    with pytest.raises(TypeError):
        encode(object(), False)


def test_format_double_like_printf() -> None:
    assert format_double(1.0) == b"1"
    assert format_double(-0.0) == b"-0"
    assert format_double(1e100) == b"1e+100"
    assert format_double(3.0000000000000004) == b"3.0000000000000004"
    assert format_double(123456789012345678.0) == b"1.2345678901234568e+17"


def test_hiredis_path_refuses_what_only_adds_up() -> None:
    # A +simple string is 3 bytes shorter than the bulk string hiredis turns it into and
    # this nested array 3 bytes longer than a bulk of its length: the sizes add up to
    # exactly the bytes received, so only the type check on every argument sends the
    # batch to the exact parser, which refuses it like Redis.
    data = b"*2\r\n+xy\r\n*1\r\n:123\r\n"
    assert len(data) == len(b"*2\r\n") + len(b"$2\r\nxy\r\n") + len(b"$1\r\nx\r\n")
    for cls in (RequestParser, ExactParser):
        p = cls()
        assert p.feed(mb(b"PING") + data) == [[b"PING"]]
        assert p.error == "expected '$', got '+'"
