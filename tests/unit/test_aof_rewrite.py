"""AOF rewrite output vs what Redis 7.0 rewriteAppendOnlyFileRio writes."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from ember.keyspace.types import (
    Consumer,
    ConsumerGroup,
    FieldTTLHash,
    PendingEntry,
    Stream,
    ZSet,
)
from ember.persistence.aof.format import encode_command
from ember.persistence.aof.parser import Annotation, parse_aof
from ember.persistence.aof.rewrite import (
    format_score,
    rewrite_commands,
    rewrite_dataset,
    rewrite_key,
)
from tests.helpers.corpus import CORPUS

BASE_70 = (
    CORPUS
    / "aof/generated-redis-7.0.15/plain/2-after-rewrite/appendonlydir/appendonly.aof.2.base.aof"
)
BASE_70_TS = (
    CORPUS
    / "aof/generated-redis-7.0.15/plain-ts/2-after-rewrite/appendonlydir/appendonly.aof.2.base.aof"
)


def zset(*pairs: tuple[bytes, float]) -> ZSet:
    z = ZSet()
    for m, s in pairs:
        z.add(m, s)
    return z


def corpus_stream(delivery_time: int) -> Stream:
    st = Stream()
    st.entries[(1, 1)] = [b"a", b"1"]
    st.last_id = (1, 1)
    st.entries_added = 1
    g = ConsumerGroup(b"grp", last_id=(1, 1), entries_read=1)
    g.pel[(1, 1)] = PendingEntry(b"cons", delivery_time, 1)
    c = Consumer(b"cons")
    c.pel[(1, 1)] = None
    g.consumers[b"cons"] = c
    st.groups[b"grp"] = g
    return st


def corpus_dataset(
    exp: dict[bytes, int], delivery_time: int
) -> list[tuple[int, bytes, Any, int | None]]:
    """The dataset of generated-redis-7.0.15/*/2-after-rewrite, in the file's key order."""
    return [
        (0, b"h", {b"f": b"v", b"g": b"w"}, None),
        (0, b"k3", b"v3", exp[b"k3"]),
        (0, b"s", {b"b", b"a"}, None),
        (0, b"k1", b"v1", exp[b"k1"]),
        (0, b"k5", b"v5", None),
        (0, b"si", {b"3", b"1", b"2"}, None),
        (0, b"counter", b"2", None),
        (0, b"float", b"1.5", None),
        (0, b"biglist", deque(b"%d" % i for i in range(150)), None),
        (0, b"k2", b"v2", exp[b"k2"]),
        (0, b"z", zset((b"b", 2.0), (b"a", 1.0)), None),
        (0, b"st", corpus_stream(delivery_time), None),
        (0, b"fromlua", b"luaval", None),
        (0, b"l", deque([b"b", b"a"]), None),
        (3, b"db3key", b"x", None),
    ]


def per_key(data: bytes) -> dict[tuple[int, bytes], list[list[bytes]]]:
    """Group the rewrite's commands by (db, key); SADD members compared as sets."""
    out: dict[tuple[int, bytes], list[list[bytes]]] = {}
    db = 0
    parsed = parse_aof(data)
    assert parsed.end.ok
    for cmd in parsed.commands:
        argv = cmd.argv
        if argv[0] == b"SELECT":
            db = int(argv[1])
            continue
        key = argv[2] if argv[0] == b"XGROUP" else argv[1]
        if argv[0] == b"SADD":
            argv = argv[:2] + sorted(argv[2:])
        out.setdefault((db, key), []).append(argv)
    return out


@pytest.mark.skipif(not BASE_70.is_file(), reason="corpus not available")
def test_matches_redis_70_base_file() -> None:
    ref = BASE_70.read_bytes()
    exp = {b"k1": 1795599789824, b"k2": 1795599789824, b"k3": 1795599789825}
    items = corpus_dataset(exp, 1795499789831)
    out = rewrite_dataset(items)
    assert per_key(out) == per_key(ref)
    assert len(out) == len(ref)
    # fed in the file's key order, everything but the (unordered) 2-member set is identical
    s_cmd = encode_command([b"SADD", b"s", b"b", b"a"])
    assert out.replace(encode_command([b"SADD", b"s", b"a", b"b"]), s_cmd) == ref


@pytest.mark.skipif(not BASE_70_TS.is_file(), reason="corpus not available")
def test_matches_redis_70_base_file_with_timestamp() -> None:
    ref = BASE_70_TS.read_bytes()
    parsed = parse_aof(ref)
    ts = parsed.events[0]
    assert isinstance(ts, Annotation) and ts.timestamp is not None
    pexpire = {c.argv[1]: int(c.argv[2]) for c in parsed.commands if c.argv[0] == b"PEXPIREAT"}
    xclaim = next(c for c in parsed.commands if c.argv[0] == b"XCLAIM")
    items = corpus_dataset(pexpire, int(xclaim.argv[7]))
    order = {}
    for c in parsed.commands:
        if c.argv[0] not in (b"SELECT", b"XGROUP", b"XSETID", b"XCLAIM", b"PEXPIREAT"):
            order.setdefault(c.argv[1], len(order))
    items.sort(key=lambda it: (it[0], order[it[1]]))
    out = rewrite_dataset(items, timestamp=ts.timestamp)
    assert out.startswith(ts.line)
    assert per_key(out) == per_key(ref)
    assert len(out) == len(ref)


def test_batches_of_64() -> None:
    lst = deque(b"%d" % i for i in range(150))
    cmds = [c.argv for c in parse_aof(b"".join(rewrite_key(b"l", lst))).commands]
    assert [len(c) - 2 for c in cmds] == [64, 64, 22]
    assert all(c[:2] == [b"RPUSH", b"l"] for c in cmds)
    assert [a for c in cmds for a in c[2:]] == list(lst)
    h = {b"f%d" % i: b"v%d" % i for i in range(130)}
    cmds = [c.argv for c in parse_aof(b"".join(rewrite_key(b"h", h))).commands]
    assert [c[0] for c in cmds] == [b"HMSET"] * 3
    assert [len(c) - 2 for c in cmds] == [128, 128, 4]
    z = zset(*((b"m%d" % i, float(i)) for i in range(64)))
    cmds = [c.argv for c in parse_aof(b"".join(rewrite_key(b"z", z))).commands]
    assert len(cmds) == 1 and len(cmds[0]) == 130
    exact = deque([b"x"] * 64)
    assert len(parse_aof(b"".join(rewrite_key(b"l", exact))).commands) == 1


def test_string_and_expire() -> None:
    assert b"".join(rewrite_key(b"k", b"v", 1234)) == encode_command(
        [b"SET", b"k", b"v"]
    ) + encode_command([b"PEXPIREAT", b"k", b"1234"])
    assert b"".join(rewrite_key(b"k", bytearray(b"\x00\xff"))) == encode_command(
        [b"SET", b"k", b"\x00\xff"]
    )
    out = b"".join(rewrite_key(b"l", deque([b"a"]), 99))
    assert [c.argv for c in parse_aof(out).commands] == [
        [b"RPUSH", b"l", b"a"],
        [b"PEXPIREAT", b"l", b"99"],
    ]


def test_scores_like_redis_70() -> None:
    assert format_score(1.0) == b"1"
    assert format_score(0.1) == b"0.10000000000000001"
    assert format_score(-2.5) == b"-2.5"
    assert format_score(float("inf")) == b"inf"
    assert format_score(float("-inf")) == b"-inf"
    assert format_score(1e20) == b"1e+20"
    assert format_score(123456789012345678.0) == b"1.2345678901234568e+17"
    z = zset((b"b", 0.1), (b"a", float("-inf")), (b"c", 3.0))
    cmds = [c.argv for c in parse_aof(b"".join(rewrite_key(b"z", z))).commands]
    assert cmds == [[b"ZADD", b"z", b"-inf", b"a", b"0.10000000000000001", b"b", b"3", b"c"]]


def test_set_order() -> None:
    # intset candidates: numeric order (Redis intset encoding)
    s = {b"10", b"-5", b"2", b"9223372036854775807", b"-9223372036854775808"}
    cmd = parse_aof(b"".join(rewrite_key(b"s", s))).commands[0].argv
    assert cmd[2:] == [b"-9223372036854775808", b"-5", b"2", b"10", b"9223372036854775807"]
    # not intset-able: any order, but all members once
    for s in ({b"1", b"a"}, {b"01", b"2"}, {b"9223372036854775808"}, {b"+1"}, {b"-0"}):
        cmd = parse_aof(b"".join(rewrite_key(b"s", s))).commands[0].argv
        assert sorted(cmd[2:]) == sorted(s)
    big = {b"%d" % i for i in range(600)}  # over set-max-intset-entries: hashtable order
    cmds = parse_aof(b"".join(rewrite_key(b"s", big))).commands
    assert {m for c in cmds for m in c.argv[2:]} == big


def test_hash_with_field_ttls_like_redis_74() -> None:
    h = FieldTTLHash({b"f1": b"v1", b"f2": b"v2"})
    h.field_expires = {b"f1": 1795599815903}
    cmds = [c.argv for c in parse_aof(b"".join(rewrite_key(b"h", h))).commands]
    assert cmds == [
        [b"HMSET", b"h", b"f1", b"v1"],
        [b"HPEXPIREAT", b"h", b"1795599815903", b"FIELDS", b"1", b"f1"],
        [b"HMSET", b"h", b"f2", b"v2"],
    ]
    plain = FieldTTLHash({b"f": b"v"})  # no TTL left: a normal hash
    assert [c.argv for c in parse_aof(b"".join(rewrite_key(b"h", plain))).commands] == [
        [b"HMSET", b"h", b"f", b"v"]
    ]


def test_streams() -> None:
    empty = Stream()
    empty.last_id = (5, 0)
    empty.entries_added = 3
    empty.max_deleted_id = (4, 1)
    cmds = [c.argv for c in parse_aof(b"".join(rewrite_key(b"s", empty))).commands]
    assert cmds == [
        [b"XADD", b"s", b"MAXLEN", b"0", b"0-1", b"x", b"y"],
        [b"XSETID", b"s", b"5-0", b"ENTRIESADDED", b"3", b"MAXDELETEDID", b"4-1"],
    ]
    st = Stream()
    st.entries[(1, 0)] = [b"f", b"v", b"g", b"w"]
    st.entries[(2, 5)] = [b"f", b"x"]
    st.last_id = (2, 5)
    st.entries_added = 2
    g2 = ConsumerGroup(b"g2", last_id=(0, 0), entries_read=-1)
    g2.consumers[b"idle"] = Consumer(b"idle")
    g1 = ConsumerGroup(b"g1", last_id=(2, 5), entries_read=2)
    g1.pel[(1, 0)] = PendingEntry(b"bob", 1000, 2)
    g1.pel[(2, 5)] = PendingEntry(b"alice", 2000, 1)
    bob, alice = Consumer(b"bob"), Consumer(b"alice")
    bob.pel[(1, 0)] = None
    alice.pel[(2, 5)] = None
    g1.consumers[b"bob"] = bob
    g1.consumers[b"alice"] = alice
    st.groups[b"g2"] = g2
    st.groups[b"g1"] = g1
    cmds = [c.argv for c in parse_aof(b"".join(rewrite_key(b"s", st, 777))).commands]
    assert cmds == [
        [b"XADD", b"s", b"1-0", b"f", b"v", b"g", b"w"],
        [b"XADD", b"s", b"2-5", b"f", b"x"],
        [b"XSETID", b"s", b"2-5", b"ENTRIESADDED", b"2", b"MAXDELETEDID", b"0-0"],
        [b"XGROUP", b"CREATE", b"s", b"g1", b"2-5", b"ENTRIESREAD", b"2"],
        [
            b"XCLAIM",
            b"s",
            b"g1",
            b"alice",
            b"0",
            b"2-5",
            b"TIME",
            b"2000",
            b"RETRYCOUNT",
            b"1",
            b"JUSTID",
            b"FORCE",
        ],
        [
            b"XCLAIM",
            b"s",
            b"g1",
            b"bob",
            b"0",
            b"1-0",
            b"TIME",
            b"1000",
            b"RETRYCOUNT",
            b"2",
            b"JUSTID",
            b"FORCE",
        ],
        [b"XGROUP", b"CREATE", b"s", b"g2", b"0-0", b"ENTRIESREAD", b"-1"],
        [b"XGROUP", b"CREATECONSUMER", b"s", b"g2", b"idle"],
        [b"PEXPIREAT", b"s", b"777"],
    ]


def test_functions_timestamp_and_select() -> None:
    code = b"#!lua name=mylib\nredis.register_function('f', function() return 1 end)"
    items = [(0, b"a", b"1", None), (0, b"b", b"2", None), (2, b"c", b"3", None)]
    out = rewrite_dataset(items, [code], timestamp=1700000000)
    parsed = parse_aof(out)
    assert parsed.events[0] == Annotation(b"#TS:1700000000\r\n", 0, 16)
    assert [c.argv for c in parsed.commands] == [
        [b"FUNCTION", b"LOAD", code],
        [b"SELECT", b"0"],
        [b"SET", b"a", b"1"],
        [b"SET", b"b", b"2"],
        [b"SELECT", b"2"],
        [b"SET", b"c", b"3"],
    ]
    assert rewrite_dataset([]) == b""


def test_chunks_are_command_aligned_and_lazy() -> None:
    consumed: list[int] = []

    def items():  # noqa: ANN202
        for i in range(5):
            consumed.append(i)
            yield (0, b"k%d" % i, deque(b"%d" % j for j in range(200)), None)

    gen = rewrite_commands(items())
    first = next(gen)
    assert first == encode_command([b"SELECT", b"0"]) and consumed == [0]
    chunks = [first, *gen]
    assert consumed == [0, 1, 2, 3, 4]
    for chunk in chunks:
        assert parse_aof(chunk).end.ok  # every chunk ends on a command boundary
    assert len(chunks) == 1 + 5 * 4  # a big list is written one batch per chunk


def test_unknown_type() -> None:
    with pytest.raises(TypeError):
        list(rewrite_key(b"k", 42))
