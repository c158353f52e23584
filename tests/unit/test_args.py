"""Integer arguments: Redis's string2ll rules, on both trees (compiled, a digit loop)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ember.commands.args import LLONG_MAX, LLONG_MIN, parse_int
from ember.errors import CommandError

_CANONICAL = re.compile(rb"-?[1-9][0-9]*|0")


def _reference(b: bytes) -> int | None:
    """What Redis accepts: an optional '-', no leading zero, no '+', spaces or '_'."""
    if _CANONICAL.fullmatch(b) is None:
        return None
    v = int(b)
    return v if LLONG_MIN <= v <= LLONG_MAX else None


def _parse(b: bytes) -> int | None:
    try:
        return parse_int(b)
    except CommandError as e:
        assert str(e) == "ERR value is not an integer or out of range"
        return None


@pytest.mark.parametrize(
    "text",
    [
        b"0",
        b"7",
        b"10",
        b"123456789",  # the longest the compiled digit loop takes
        b"1234567890",
        b"9223372036854775807",
        b"9223372036854775808",
        b"-9223372036854775808",
        b"-9223372036854775809",
        b"-0",
        b"00",
        b"007",
        b"+1",
        b" 1",
        b"1 ",
        b"1_0",
        b"",
        b"-",
        b"12a",
        b"1/",  # '/' and ':' sit either side of the digits
        b"1:",
        b"\xd9\xa1",  # not a digit, though Unicode has one of that shape
    ],
)
def test_parse_int_follows_redis(text: bytes) -> None:
    assert _parse(text) == _reference(text)


@given(st.binary(max_size=22) | st.text(alphabet="0123456789-+ _/:a", max_size=22).map(str.encode))
def test_parse_int_matches_the_reference(text: bytes) -> None:
    assert _parse(text) == _reference(text)


@given(st.text(alphabet="0123456789", min_size=1, max_size=12).map(str.encode))
def test_scores_of_plain_digits_are_their_value(text: bytes) -> None:
    """ZADD's integer scores take a digit loop when compiled (no float()): same value."""
    from ember.commands.zset import parse_double

    assert parse_double(text) == float(text)
    assert parse_double(b"-" + text) == -float(text)


def test_plain_digits_only_takes_short_digit_runs() -> None:
    from ember import build_kind
    from ember.commands.args import plain_digits

    compiled = build_kind() == "compiled"
    for text, value in [(b"0", 0), (b"007", 7), (b"123456789", 123456789)]:
        assert plain_digits(text) == (value if compiled else -1)
    for text in [
        b"",
        b"1234567890",
        b"-1",
        b"+1",
        b"1.0",
        b"1e3",
        b" 1",
        b"1_0",
        "\u0661".encode(),
    ]:
        assert plain_digits(text) == -1
