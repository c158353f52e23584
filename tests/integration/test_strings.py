"""String commands, differential against redis-server 7.0.15 (replies and error texts)."""

from __future__ import annotations

import time

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import Diff

SET_OPTIONS = [
    ("SET", "k", "v"),
    ("SET", "k", "v2", "GET"),
    ("SET", "k", "v", "NX"),
    ("SET", "k", "v", "XX"),
    ("SET", "nx", "v", "XX"),
    ("SET", "k", "v", "NX", "XX"),
    ("SET", "k", "v", "XX", "NX"),
    ("SET", "k", "v", "nx", "nx"),
    ("SET", "k", "v", "GET", "GET"),
    ("SET", "k", "v", "EX", "100"),
    ("TTL", "k"),
    ("SET", "k", "v", "PX", "100000"),
    ("SET", "k", "v", "EX", "10", "EX", "100"),
    ("TTL", "k"),
    ("SET", "k", "v", "EX", "10", "PX", "100"),
    ("SET", "k", "v", "EX", "10", "KEEPTTL"),
    ("SET", "k", "v", "KEEPTTL", "EX", "10"),
    ("SET", "k", "v", "KEEPTTL", "KEEPTTL"),
    ("SET", "k", "v2", "KEEPTTL"),
    ("TTL", "k"),
    ("SET", "k", "v", "EXAT", "99999999999"),
    ("EXPIRETIME", "k"),
    ("SET", "k", "v", "PXAT", "99999999999000"),
    ("PEXPIRETIME", "k"),
    ("SET", "k", "v", "EXAT", "99999999999", "PXAT", "1"),
    ("SET", "k", "v", "EX", "0"),
    ("SET", "k", "v", "EX", "-5"),
    ("SET", "k", "v", "PX", "0"),
    ("SET", "k", "v", "EX", "abc"),
    ("SET", "k", "v", "EX", "1.5"),
    ("SET", "k", "v", "EX", "9223372036854775807"),
    ("SET", "k", "v", "EX", "9223372036854775"),
    ("SET", "k", "v", "PX", "9223372036854775807"),
    ("SET", "k", "v", "EXAT", "9223372036854775807"),
    ("SET", "k", "v", "EX"),
    ("SET", "k", "v", "FOO"),
    ("SET", "k", "v", "PXAT", "1"),
    ("EXISTS", "k"),
    ("SET", "k", "v", "EXAT", "1", "GET"),
    ("SET", "k", "v", "NX", "GET"),
    ("SET", "k", "v3", "NX", "GET"),
    ("SET", "k", "v4", "XX", "GET"),
    ("SET", "missing", "v", "XX", "GET"),
    ("SET", "missing", "v", "NX", "GET"),
    ("LPUSH", "list", "a"),
    ("SET", "list", "v", "GET"),
    ("SET", "list", "v", "NX", "GET"),
    ("SET", "list", "v", "XX"),
    ("TYPE", "list"),
    ("SET",),
    ("SET", "k"),
]


def test_set_options_and_conflicts(diff: Diff) -> None:
    diff.many(SET_OPTIONS)


def test_getex(diff: Diff) -> None:
    diff.many(
        [
            ("SET", "k", "v"),
            ("GETEX", "k"),
            ("GETEX", "k", "EX", "100"),
            ("TTL", "k"),
            ("GETEX", "k", "PERSIST"),
            ("TTL", "k"),
            ("GETEX", "k", "PX", "100000"),
            ("GETEX", "k", "PX", "100", "PX", "100000"),
            ("GETEX", "k", "EXAT", "99999999999"),
            ("EXPIRETIME", "k"),
            ("GETEX", "k", "PXAT", "99999999999001"),
            ("PEXPIRETIME", "k"),
            ("GETEX", "k", "PERSIST", "PERSIST"),
            ("GETEX", "k", "PERSIST", "EX", "10"),
            ("GETEX", "k", "EX", "10", "PERSIST"),
            ("GETEX", "k", "EX", "0"),
            ("GETEX", "k", "EX", "-1"),
            ("GETEX", "k", "EX", "abc"),
            ("GETEX", "k", "EX"),
            ("GETEX", "k", "NX"),
            ("GETEX", "k", "KEEPTTL"),
            ("GETEX", "k", "FOO"),
            ("GETEX", "missing", "EX", "abc"),
            ("GETEX", "missing", "FOO"),
            ("LPUSH", "list", "a"),
            ("GETEX", "list"),
            ("GETEX", "list", "EX", "abc"),
            ("GETEX", "k", "EXAT", "1"),
            ("EXISTS", "k"),
            ("GETEX",),
        ]
    )


def test_get_getdel_getset_mget_mset(diff: Diff) -> None:
    diff.many(
        [
            ("GET", "k"),
            ("SET", "k", "v"),
            ("GET", "k"),
            ("GETDEL", "k"),
            ("GETDEL", "k"),
            ("GETSET", "k", "a"),
            ("GETSET", "k", "b"),
            ("SET", "k", "v", "EX", "100"),
            ("GETSET", "k", "c"),
            ("TTL", "k"),
            ("LPUSH", "list", "x"),
            ("GET", "list"),
            ("GETDEL", "list"),
            ("GETSET", "list", "v"),
            ("MSET", "a", "1", "b", "2", "c", "3"),
            ("MSET", "a", "1", "b"),
            ("MGET", "a", "b", "c", "list", "nokey"),
            ("MSETNX", "c", "1", "d", "2"),
            ("MSETNX", "d", "1", "e", "2"),
            ("MSETNX", "d", "1", "e"),
            ("MGET", "d", "e"),
            ("SETNX", "d", "x"),
            ("SETNX", "f", "x"),
            ("SETEX", "g", "100", "v"),
            ("TTL", "g"),
            ("SETEX", "g", "0", "v"),
            ("SETEX", "g", "-1", "v"),
            ("SETEX", "g", "abc", "v"),
            ("PSETEX", "g", "100000", "v"),
            ("TTL", "g"),
            ("PSETEX", "g", "0", "v"),
            ("GET",),
            ("MGET",),
            ("MSET", "a"),
            ("GETDEL", "a", "b"),
        ]
    )


def test_append_strlen_setrange_getrange(diff: Diff) -> None:
    diff.many(
        [
            ("APPEND", "s", "hello"),
            ("APPEND", "s", " world"),
            ("GET", "s"),
            ("STRLEN", "s"),
            ("STRLEN", "nokey"),
            ("SET", "n", "12345"),
            ("APPEND", "n", "6"),
            ("OBJECT", "ENCODING", "n"),
            ("GET", "n"),
            ("GETRANGE", "s", "0", "4"),
            ("GETRANGE", "s", "-5", "-1"),
            ("GETRANGE", "s", "5", "3"),
            ("GETRANGE", "s", "-100", "100"),
            ("GETRANGE", "s", "100", "200"),
            ("GETRANGE", "s", "-1", "-5"),
            ("GETRANGE", "s", "0", "-100"),
            ("GETRANGE", "s", "-3", "2"),
            ("GETRANGE", "s", "0", "9223372036854775807"),
            ("GETRANGE", "s", "-9223372036854775808", "2"),
            ("GETRANGE", "nokey", "0", "10"),
            ("GETRANGE", "s", "x", "1"),
            ("GETRANGE", "nokey", "x", "1"),
            ("SUBSTR", "s", "1", "3"),
            ("SETRANGE", "s", "6", "WORLD"),
            ("GET", "s"),
            ("SETRANGE", "s", "20", "X"),
            ("GET", "s"),
            ("SETRANGE", "s", "-1", "X"),
            ("SETRANGE", "s", "abc", "X"),
            ("SETRANGE", "new", "0", ""),
            ("EXISTS", "new"),
            ("SETRANGE", "new", "5", ""),
            ("SETRANGE", "new", "3", "abc"),
            ("GET", "new"),
            ("SETRANGE", "s", "0", ""),
            ("SETRANGE", "new", "536870911", "x"),
            ("SETRANGE", "new", "536870912", "x"),
            ("SETRANGE", "big", "536870912", ""),
            ("LPUSH", "list", "x"),
            ("APPEND", "list", "x"),
            ("STRLEN", "list"),
            ("GETRANGE", "list", "0", "1"),
            ("SETRANGE", "list", "0", "x"),
            ("SETRANGE", "list", "0", ""),
            ("SET", "e", ""),
            ("GETRANGE", "e", "0", "-1"),
            ("GETRANGE", "e", "-1", "0"),
        ]
    )


def test_setrange_keeps_ttl_and_append_big(diff: Diff, r: redis.Redis) -> None:
    diff.many(
        [
            ("SET", "k", "abc", "EX", "100"),
            ("SETRANGE", "k", "1", "X"),
            ("TTL", "k"),
            ("APPEND", "k", "Y"),
            ("TTL", "k"),
        ]
    )
    for _ in range(200):
        r.append("grow", b"x" * 1000)
    assert r.strlen("grow") == 200_000


def test_incr_family(diff: Diff) -> None:
    diff.many(
        [
            ("INCR", "n"),
            ("INCRBY", "n", "10"),
            ("INCRBY", "n", "-20"),
            ("DECR", "n"),
            ("DECRBY", "n", "5"),
            ("DECRBY", "n", "-5"),
            ("INCRBY", "n", "abc"),
            ("INCRBY", "n", "1.5"),
            ("INCRBY", "n", " 1"),
            ("INCRBY", "n", "9223372036854775808"),
            ("SET", "n", "9223372036854775807"),
            ("INCR", "n"),
            ("INCRBY", "n", "0"),
            ("SET", "n", "-9223372036854775808"),
            ("DECR", "n"),
            ("DECRBY", "n", "-9223372036854775808"),
            ("DECRBY", "x", "-9223372036854775808"),
            ("INCRBY", "x", "-9223372036854775808"),
            ("SET", "n", " 1"),
            ("INCR", "n"),
            ("SET", "n", "01"),
            ("INCR", "n"),
            ("SET", "n", "1.0"),
            ("INCR", "n"),
            ("SET", "n", "+1"),
            ("INCR", "n"),
            ("SET", "n", "99999999999999999999"),
            ("INCR", "n"),
            ("SET", "n", "10", "EX", "100"),
            ("INCR", "n"),
            ("TTL", "n"),
            ("LPUSH", "list", "x"),
            ("INCR", "list"),
            ("INCRBY", "list", "abc"),
            ("DECRBY", "list", "1"),
            ("INCR",),
            ("INCRBY", "n"),
        ]
    )


INCRBYFLOAT_CASES = [
    ("SET", "f", "10.50"),
    ("INCRBYFLOAT", "f", "0.1"),
    ("INCRBYFLOAT", "f", "-5.0e3"),
    ("INCRBYFLOAT", "f", "1e300"),
    ("INCRBYFLOAT", "f", "1e308"),
    ("INCRBYFLOAT", "f", "inf"),
    ("INCRBYFLOAT", "f", "-inf"),
    ("INCRBYFLOAT", "f", "nan"),
    ("INCRBYFLOAT", "f", "abc"),
    ("INCRBYFLOAT", "f", " 1"),
    ("INCRBYFLOAT", "f", "1 "),
    ("INCRBYFLOAT", "f", ""),
    ("INCRBYFLOAT", "f", "1_0"),
    ("SET", "f", "0.1"),
    ("INCRBYFLOAT", "f", "0.2"),
    ("SET", "f", "1e20"),
    ("INCRBYFLOAT", "f", "0.1"),
    ("INCRBYFLOAT", "f", "1.5e-7"),
    ("INCRBYFLOAT", "f", "1e4000"),
    ("INCRBYFLOAT", "f", "-1e4000"),
    ("INCRBYFLOAT", "f", "1e5000"),
    ("INCRBYFLOAT", "f", "1e-5000"),
    ("INCRBYFLOAT", "f", "0x1p-16445"),
    ("INCRBYFLOAT", "f", "0X1.8P3"),
    ("INCRBYFLOAT", "f", "0x"),
    ("INCRBYFLOAT", "f", "1e"),
    ("INCRBYFLOAT", "f", ".5"),
    ("INCRBYFLOAT", "f", "5."),
    ("INCRBYFLOAT", "f", "+5"),
    ("INCRBYFLOAT", "f", "infinity"),
    ("SET", "f", "-0.00000000000000000001"),
    ("INCRBYFLOAT", "f", "0"),
    ("SET", "f", "3.0e3"),
    ("INCRBYFLOAT", "f", "1"),
    ("SET", "f", "5.0000000000000001"),
    ("INCRBYFLOAT", "f", "0"),
    ("INCRBYFLOAT", "g", "3.14159265358979323846"),
    ("INCRBYFLOAT", "h", "1e-20"),
    ("INCRBYFLOAT", "i", "-0"),
    ("INCRBYFLOAT", "j", "1.7976931348623157e308"),
    ("INCRBYFLOAT", "j", "1.7976931348623157e308"),
    ("SET", "f", "abc"),
    ("INCRBYFLOAT", "f", "1"),
    ("SET", "f", "1", "EX", "100"),
    ("INCRBYFLOAT", "f", "1.5"),
    ("TTL", "f"),
    ("LPUSH", "list", "x"),
    ("INCRBYFLOAT", "list", "1"),
    ("INCRBYFLOAT", "list", "abc"),
    ("INCRBYFLOAT", "f"),
]


def test_incrbyfloat_formatting_and_errors(diff: Diff) -> None:
    diff.many(INCRBYFLOAT_CASES)


_float_text = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.builds(
        lambda i, f: f"{i}.{f}",
        st.integers(-(10**6), 10**6),
        st.text(alphabet="0123456789", min_size=1, max_size=25),
    ),
    st.integers(-(10**30), 10**30).map(str),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-999, 999), st.integers(-40, 40)),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_float_text, min_size=1, max_size=6))
def test_incrbyfloat_random_sums(rr: redis.Redis, r: redis.Redis, steps: list[str]) -> None:
    d = Diff(r, rr)
    d("DEL", "f")
    for x in steps:
        d("INCRBYFLOAT", "f", x)


LCS_CASES = [
    ("SET", "a", "ohmytext"),
    ("SET", "b", "mynewtext"),
    ("LCS", "a", "b"),
    ("LCS", "a", "b", "LEN"),
    ("LCS", "a", "b", "IDX"),
    ("LCS", "a", "b", "IDX", "MINMATCHLEN", "4"),
    ("LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"),
    ("LCS", "a", "b", "IDX", "WITHMATCHLEN"),
    ("LCS", "a", "b", "WITHMATCHLEN"),
    ("LCS", "a", "b", "MINMATCHLEN", "3"),
    ("LCS", "a", "b", "LEN", "IDX"),
    ("LCS", "a", "b", "MINMATCHLEN"),
    ("LCS", "a", "b", "MINMATCHLEN", "-1", "IDX"),
    ("LCS", "a", "b", "MINMATCHLEN", "x"),
    ("LCS", "a", "b", "FOO"),
    ("LCS", "a", "nokey"),
    ("LCS", "nokey", "nokey2", "IDX"),
    ("LCS", "nokey", "nokey2", "LEN"),
    ("LPUSH", "list", "x"),
    ("LCS", "a", "list"),
    ("LCS", "list", "a", "FOO"),
    ("LCS", "a"),
    ("SET", "c", "a quick brown fox jumped over the lazy dog"),
    ("SET", "d", "the quick red fox jumps over lazy dogs"),
    ("LCS", "c", "d", "IDX", "WITHMATCHLEN"),
    ("LCS", "d", "c", "IDX", "MINMATCHLEN", "3"),
    ("LCS", "c", "d"),
    ("LCS", "c", "c", "IDX"),
]


def test_lcs(diff: Diff) -> None:
    diff.many(LCS_CASES)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(alphabet="abcd", max_size=40), st.text(alphabet="abcd", max_size=40), st.integers(0, 4)
)
def test_lcs_random(rr: redis.Redis, r: redis.Redis, a: str, b: str, minlen: int) -> None:
    d = Diff(r, rr)
    d("MSET", "a", a, "b", b)
    d("LCS", "a", "b")
    d("LCS", "a", "b", "LEN")
    d("LCS", "a", "b", "IDX", "MINMATCHLEN", minlen, "WITHMATCHLEN")


def test_lcs_large_inputs_are_fast(r: redis.Redis) -> None:
    a = ("abcdefghij" * 300).encode()
    b = ("jihgfedcba" * 300).encode()
    r.mset({"a": a, "b": b})
    start = time.monotonic()
    n = r.execute_command("LCS", "a", "b", "LEN")
    r.execute_command("LCS", "a", "b", "IDX")
    assert n > 0 and time.monotonic() - start < 10


def test_lcs_memory_limit_error(diff: Diff, r: redis.Redis, rr: redis.Redis) -> None:
    for c in (r, rr):
        c.config_set("proto-max-bulk-len", 1024 * 1024)
    try:
        diff("SET", "a", "x" * 1000)
        diff("SET", "b", "y" * 1000)
        diff("LCS", "a", "b")
    finally:
        for c in (r, rr):
            c.config_set("proto-max-bulk-len", 512 * 1024 * 1024)


def test_wrong_arity_strings(diff: Diff) -> None:
    for cmd in [
        "GET",
        "SET",
        "GETEX",
        "GETDEL",
        "GETSET",
        "MGET",
        "MSET",
        "MSETNX",
        "SETNX",
        "SETEX",
        "PSETEX",
        "APPEND",
        "STRLEN",
        "GETRANGE",
        "SUBSTR",
        "SETRANGE",
        "INCR",
        "DECR",
        "INCRBY",
        "DECRBY",
        "INCRBYFLOAT",
        "LCS",
    ]:
        diff(cmd)
        diff(cmd, "a", "b", "c", "d", "e") if cmd not in (
            "SET",
            "MGET",
            "MSET",
            "MSETNX",
            "GETEX",
            "LCS",
        ) else None


@pytest.mark.parametrize(
    "value", [b"", b"0", b"-1", b"12345678901234567890", b"x" * 44, b"x" * 45, b"\x00\xff"]
)
def test_binary_safe_values(diff: Diff, value: bytes) -> None:
    diff("SET", "k", value)
    diff("GET", "k")
    diff("STRLEN", "k")
    diff("OBJECT", "ENCODING", "k")
    diff("APPEND", "k", value)
    diff("GET", "k")
