"""DUMP / RESTORE between ember and a real redis-server 7.0.15, every type, every option.

Values go both ways (Redis DUMP -> ember RESTORE and ember DUMP -> Redis RESTORE) and are
compared with ``DEBUG DIGEST-VALUE`` (Redis's value hash). RESTORE options and every error
(BUSYKEY, bad TTL, bad IDLETIME/FREQ, version/CRC errors, bad data with
``sanitize-dump-payload yes``) must give Redis's exact replies.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import pytest

from ember.persistence.rdb.crc64 import crc64
from tests.helpers.servers import ServerProcess
from tests.interop import FAR, Raw, build, dataset_commands, outcome

pytestmark = pytest.mark.interop


@pytest.fixture
def pair(ember: ServerProcess, real_redis: ServerProcess) -> Iterator[tuple[Raw, Raw]]:
    """(ember, redis) raw clients on flushed module servers."""
    e, r = Raw(ember.port), Raw(real_redis.port)
    for c in (e, r):
        c("FLUSHALL")
        c("CONFIG", "SET", "sanitize-dump-payload", "no")
    yield e, r
    for c in (e, r):
        c("SELECT", 0)
        c("CONFIG", "SET", "sanitize-dump-payload", "no")
        c.close()


def both(pair: tuple[Raw, Raw], *cmd: Any) -> Any:
    """Run on both; assert identical outcome (reply or exact error); return it."""
    e, r = pair
    got, want = outcome(e.any(*cmd)), outcome(r.any(*cmd))
    assert got == want, f"{cmd!r}: ember={got!r} redis={want!r}"
    return got


def with_footer(body: bytes, version: int = 10) -> bytes:
    head = body + struct.pack("<H", version)
    return head + struct.pack("<Q", crc64(head))


# ------------------------------------------------------------------------ every type, both ways


# compact encodings are serialized deterministically by both: DUMP bytes must be identical
BYTE_IDENTICAL = {
    "str:int",
    "str:neg",
    "str:i64",
    "str:big-not-int",
    "str:lead0",
    "str:float",
    "str:embstr",
    "str:raw",
    "str:lzf",
    "str:empty",
    "str:binary",
    "str:append",
    "str:setrange",
    "str:bits",
    "str:incr",
    "str:ttl",
    "str:ttl-lzf",
    "list:small",
    "list:ints",
    "list:ttl",
    "hash:small",
    "hash:ints",
    "hash:ttl",
    "set:int16",
    "set:int32",
    "set:int64",
    "set:ttl",
    "zset:small",
    "zset:ttl",
    "db1:str",
    "db1:list",
    "db15:hash",
    "db15:ttl",
}


def test_every_type_both_ways(pair: tuple[Raw, Raw]) -> None:
    e, r = pair
    build(_port(r), None)  # the interop dataset, built on redis by commands
    for db, key, _ in dataset_commands():
        for c in (e, r):
            c("SELECT", db)
        payload = r("DUMP", key)
        pexp = r("PEXPIRETIME", key)
        ttl, opts = (pexp, ["ABSTTL"]) if pexp > 0 else (0, [])
        # redis -> ember
        assert e("RESTORE", key, ttl, payload, *opts) == b"OK", key
        want = r("DEBUG", "DIGEST-VALUE", key)
        assert e("DEBUG", "DIGEST-VALUE", key) == want, key
        assert e("TYPE", key) == r("TYPE", key), key
        assert e("OBJECT", "ENCODING", key) == r("OBJECT", "ENCODING", key), key
        assert e("PEXPIRETIME", key) == pexp, key
        # ember -> redis (under another name)
        back = e("DUMP", key)
        assert r("RESTORE", key + b":back", ttl, back, *opts) == b"OK", key
        assert r("DEBUG", "DIGEST-VALUE", key + b":back") == want, key
        assert r("OBJECT", "ENCODING", key + b":back") == r("OBJECT", "ENCODING", key), key
        if key.decode() in BYTE_IDENTICAL:
            assert back == payload, key
        r("DEL", key + b":back")
    for c in (e, r):
        c("SELECT", 0)


def _port(r: Raw) -> int:
    return int(r.sock.getpeername()[1])


def test_dump_missing_key_and_arity(pair: tuple[Raw, Raw]) -> None:
    both(pair, "DUMP", "missing")
    both(pair, "DUMP")
    both(pair, "DUMP", "a", "b")
    both(pair, "RESTORE", "k", "0")
    both(pair, "RESTORE", "k")


# ------------------------------------------------------------------------------- options


def _payload(pair: tuple[Raw, Raw]) -> bytes:
    _, r = pair
    r("RPUSH", "src", "a", "b", "c")
    p: bytes = r("DUMP", "src")
    r("DEL", "src")
    return p


def test_restore_replace_and_busykey(pair: tuple[Raw, Raw]) -> None:
    p = _payload(pair)
    both(pair, "RESTORE", "k", 0, p)
    both(pair, "RESTORE", "k", 0, p)  # BUSYKEY
    both(pair, "SET", "str", "x")
    both(pair, "RESTORE", "str", 0, p)  # BUSYKEY whatever the type
    both(pair, "RESTORE", "str", 0, p, "REPLACE")
    both(pair, "TYPE", "str")
    both(pair, "LRANGE", "str", 0, -1)
    both(pair, "RESTORE", "k", -1, p)  # BUSYKEY comes before the TTL check
    both(pair, "RESTORE", "k", "abc", p)
    both(pair, "RESTORE", "k", 0, b"garbage")  # BUSYKEY before the payload check


def test_restore_ttl_and_absttl(pair: tuple[Raw, Raw]) -> None:
    e, r = pair
    p = _payload(pair)
    both(pair, "RESTORE", "ttl", 100_000, p)
    for c in (e, r):
        assert 95_000 < c("PTTL", "ttl") <= 100_000
    both(pair, "RESTORE", "abs", FAR, p, "ABSTTL")
    both(pair, "PEXPIRETIME", "abs")
    both(pair, "RESTORE", "past", 1000, p, "ABSTTL")  # already expired: not created
    both(pair, "EXISTS", "past")
    both(pair, "SET", "old", "v")
    both(pair, "RESTORE", "old", 1000, p, "ABSTTL", "REPLACE")  # deletes the old key
    both(pair, "EXISTS", "old")
    both(pair, "RESTORE", "zero", 0, p, "ABSTTL")
    both(pair, "PTTL", "zero")
    both(pair, "RESTORE", "neg", -5, p)
    both(pair, "RESTORE", "flt", "1.5", p)


def test_restore_idletime_freq_and_syntax(pair: tuple[Raw, Raw]) -> None:
    p = _payload(pair)
    both(pair, "RESTORE", "i", 0, p, "IDLETIME", 1000)
    both(pair, "RESTORE", "f", 0, p, "FREQ", 5)
    both(pair, "RESTORE", "x", 0, p, "IDLETIME", 1, "FREQ", 2)
    both(pair, "RESTORE", "x", 0, p, "FREQ", 2, "IDLETIME", 1)
    both(pair, "RESTORE", "x", 0, p, "IDLETIME", -1)
    both(pair, "RESTORE", "x", 0, p, "IDLETIME", "abc")
    both(pair, "RESTORE", "x", 0, p, "IDLETIME")
    both(pair, "RESTORE", "x", 0, p, "FREQ", 256)
    both(pair, "RESTORE", "x", 0, p, "FREQ", -1)
    both(pair, "RESTORE", "x", 0, p, "FREQ", "abc")
    both(pair, "RESTORE", "x", 0, p, "FREQ")
    both(pair, "RESTORE", "x", 0, p, "BOGUS")
    both(pair, "RESTORE", "x", 0, p, "REPLACE", "ABSTTL", "REPLACE")
    both(pair, "RESTORE", "i", 0, p, "IDLETIME", "abc")  # option errors before BUSYKEY
    both(pair, "EXISTS", "x")


# --------------------------------------------------------------------------- bad payloads


def test_bad_payloads(pair: tuple[Raw, Raw]) -> None:
    p = _payload(pair)
    body, version = p[:-10], struct.unpack("<H", p[-10:-8])[0]
    assert version == 10
    cases = [
        b"",
        b"x",
        b"\x00" * 9,
        p[:-1],  # truncated
        p[:-1] + bytes([p[-1] ^ 1]),  # CRC flipped
        with_footer(body, 11),  # newer than Redis 7.0 reads
        with_footer(body, 0xFFFF),
        body + struct.pack("<H", 10) + b"\0" * 8,  # CRC zero is not special in DUMP payloads
        with_footer(b"\x3e" + body[1:]),  # unknown type
        with_footer(b"\x00"),  # string without a length
        with_footer(body[:-3]),  # value cut, CRC recomputed
    ]
    for i, payload in enumerate(cases):
        got = both(pair, "RESTORE", f"bad{i}", 0, payload)
        assert got[0] == "err", (i, got)
    both(pair, "DBSIZE")
    # Known divergence: Redis reads a value through the end of the body into the 10-byte
    # footer (here a 5-byte string "ab" + 3 footer bytes); ember stops at the body.
    e, r = pair
    short = with_footer(b"\x00\x05ab")
    assert r("RESTORE", "short", 0, short) == b"OK" and len(r("GET", "short")) == 5
    assert outcome(e.any("RESTORE", "short", 0, short)) == ("err", "ERR Bad data format")


def _corrupt_hash_listpack(pair: tuple[Raw, Raw]) -> list[bytes]:
    """Payloads whose footer is valid but whose listpack is broken inside."""
    _, r = pair
    r("HSET", "h", "f1", "v1", "f2", "v2")
    p = r("DUMP", "h")
    r("DEL", "h")
    assert p[0] == 16  # RDB_TYPE_HASH_LISTPACK, blob stored raw (short)
    body = bytearray(p[:-10])
    blob_len = body[1]
    assert blob_len < 64
    lp = bytearray(body[2 : 2 + blob_len])
    out = []
    bad = bytearray(lp)
    bad[4:6] = struct.pack("<H", 6)  # element count says 6, there are 4
    out.append(bytes(body[:2] + bad))
    bad = bytearray(lp)
    bad[6] = 0xF6  # first entry: an encoding byte that does not exist
    out.append(bytes(body[:2] + bad))
    bad = bytearray(lp)
    bad[-2] ^= 0x7F  # a back-length byte
    out.append(bytes(body[:2] + bad))
    return [with_footer(b) for b in out]


def test_sanitize_dump_payload_rejects_corrupt_values(pair: tuple[Raw, Raw]) -> None:
    e, r = pair
    payloads = _corrupt_hash_listpack(pair)
    for c in (e, r):
        c("CONFIG", "SET", "sanitize-dump-payload", "yes")
    for i, payload in enumerate(payloads):
        got = both(pair, "RESTORE", f"c{i}", 0, payload)
        assert got == ("err", "ERR Bad data format"), i
    both(pair, "DBSIZE")
    # a good payload still restores with deep sanitization on
    r("HSET", "good", "a", "b")
    good = r("DUMP", "good")
    r("DEL", "good")
    both(pair, "RESTORE", "good", 0, good)
    both(pair, "HGETALL", "good")


def test_sanitize_mode_clients_applies_to_normal_clients(pair: tuple[Raw, Raw]) -> None:
    e, r = pair
    payloads = _corrupt_hash_listpack(pair)
    for c in (e, r):
        c("CONFIG", "SET", "sanitize-dump-payload", "clients")
    got = both(pair, "RESTORE", "c", 0, payloads[0])
    assert got == ("err", "ERR Bad data format")


# ---------------------------------------------------------------------- version dialects


def test_newer_rdb_version_payloads_are_refused_by_redis(
    ember_factory: Any, pair: tuple[Raw, Raw]
) -> None:
    """ember with rdb-version 11 DUMPs a v11 payload: Redis 7.0 (and ember with the default
    rdb-version 10) refuse it exactly like Redis; ember configured for v11 takes it."""
    e, r = pair
    s = ember_factory("--rdb-version", "11")
    with Raw(s.port) as v11:
        v11("SADD", "s", "a", "b")
        payload = v11("DUMP", "s")
        assert struct.unpack("<H", payload[-10:-8])[0] == 11
        refused = ("err", "ERR DUMP payload version or checksum are wrong")
        assert outcome(r.any("RESTORE", "s", 0, payload)) == refused
        assert outcome(e.any("RESTORE", "s", 0, payload)) == refused
        assert v11("RESTORE", "copy", 0, payload) == b"OK"
        assert sorted(v11("SMEMBERS", "copy")) == [b"a", b"b"]
