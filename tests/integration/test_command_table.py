"""ember's command table against the real redis-server 7.0.15.

The table declared with ``@command(...)`` (``ember.commands.registry``) drives dispatch
(arity, flags) and ``COMMAND``. These tests fetch ``COMMAND INFO`` / ``COMMAND DOCS``
from both servers and require, for every command ember implements: the same arity,
flags, legacy first/last/step key positions, ACL categories, tips, key specs and
subcommand set; ``COMMAND GETKEYS`` / ``GETKEYSANDFLAGS`` give the same answer for a
representative invocation of every keyed command; and the dispatcher rejects a wrong
argument count or an unknown subcommand with Redis's exact error.

Every known or intended difference is listed below (and in docs/compatibility.md); any
other difference fails.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.helpers.servers import ServerProcess

from ember.commands.registry import COMMANDS, CommandSpec, Flag, load_all

load_all()

ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------- allow-list
#
# Redis 7.0 commands ember does not implement (cluster, replication, ACL users,
# modules, ...). Sending one gives "ERR unknown command". Must match reality exactly
# and each name must appear in docs/compatibility.md.
NOT_IMPLEMENTED = frozenset(
    """
    acl acl|cat acl|deluser acl|dryrun acl|genpass acl|getuser acl|help acl|list acl|load
    acl|log acl|save acl|setuser acl|users acl|whoami
    asking readonly readwrite
    cluster cluster|addslots cluster|addslotsrange cluster|bumpepoch
    cluster|count-failure-reports cluster|countkeysinslot cluster|delslots
    cluster|delslotsrange cluster|failover cluster|flushslots cluster|forget
    cluster|getkeysinslot cluster|help cluster|info cluster|keyslot cluster|links
    cluster|meet cluster|myid cluster|nodes cluster|replicas cluster|replicate
    cluster|reset cluster|saveconfig cluster|set-config-epoch cluster|setslot
    cluster|shards cluster|slaves cluster|slots
    failover psync replconf replicaof slaveof sync wait role
    migrate restore-asking
    memory memory|doctor memory|help memory|malloc-stats memory|purge memory|stats
    memory|usage
    module module|help module|list module|load module|loadex module|unload
    client|caching client|tracking
    latency|histogram
    script|debug
    lolwut
    """.split()
)

# ember commands Redis 7.0 does not have.
EXTENSIONS = frozenset({"waitaof"})  # Redis 7.2 command (fsync acknowledgement of the AOF)

# Hidden flags (not shown by COMMAND INFO) from Redis 7.0.15's command table, for the
# commands ember implements. SENTINEL / ONLY_SENTINEL are ignored: ember has no sentinel
# mode. PROTECTED (DEBUG) is enforced by enable-debug-command, not by a flag.
HIDDEN_FLAGS = {
    Flag.MAY_REPLICATE: {"eval", "evalsha", "fcall", "pfcount", "publish", "spublish"},
    Flag.TOUCHES_ARBITRARY_KEYS: {"randomkey", "scan"},
}

# COMMAND DOCS "summary": ember uses the current redis.io wording, Redis 7.0 the older
# one; ember's DOCS also omits complexity/arguments/history. Only since and group are
# compared.


# --------------------------------------------------------------------- helpers


def _raw(server: ServerProcess) -> redis.Redis:
    """A client that returns replies as parsed RESP, without redis-py's callbacks."""
    c = server.client(protocol=3)
    c.response_callbacks.clear()
    return c


@pytest.fixture(scope="module")
def raw_ember(ember: ServerProcess) -> Iterator[redis.Redis]:
    c = _raw(ember)
    yield c
    c.close()


@pytest.fixture(scope="module")
def raw_redis(real_redis: ServerProcess) -> Iterator[redis.Redis]:
    c = _raw(real_redis)
    yield c
    c.close()


def _norm(x: Any) -> Any:
    """Comparable form: sets (flags, ACL categories) become sorted lists."""
    if isinstance(x, bytes):
        return x.decode()
    if isinstance(x, dict):
        return {_norm(k): _norm(v) for k, v in x.items()}
    if isinstance(x, (set, frozenset)):
        return sorted((_norm(i) for i in x), key=repr)
    if isinstance(x, (list, tuple)):
        return [_norm(i) for i in x]
    return x


def _index(info: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for entry in info:
        e = _norm(entry)
        out[e[0]] = e
        for sub in e[9] or []:
            out[sub[0]] = sub
    return out


def _flatten_docs(docs: dict[Any, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, doc in _norm(docs).items():
        out[name] = doc
        out.update(doc.get("subcommands") or {})
    return out


@pytest.fixture(scope="module")
def infos(raw_ember: redis.Redis, raw_redis: redis.Redis) -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        _index(raw_ember.execute_command("COMMAND", "INFO")),
        _index(raw_redis.execute_command("COMMAND", "INFO")),
    )


def _call(c: redis.Redis, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", _norm(c.execute_command(*args))
    except redis.ResponseError as e:
        return "err", str(e)


def _specs() -> Iterator[CommandSpec]:
    for spec in COMMANDS.values():
        yield spec
        yield from spec.subcommands.values()


EMBER_NAMES = sorted(s.fullname for s in _specs())
REDIS_NAMES = sorted(s for s in EMBER_NAMES if s not in EXTENSIONS)


# --------------------------------------------------------------------- the command set


def test_command_set_matches_redis(infos: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ember, real = infos
    assert set(ember) == set(EMBER_NAMES), "COMMAND INFO must list the registry"
    assert set(ember) - set(real) == EXTENSIONS
    assert set(real) - set(ember) == NOT_IMPLEMENTED


def test_command_count(raw_ember: redis.Redis, raw_redis: redis.Redis) -> None:
    top = {n for n in NOT_IMPLEMENTED if "|" not in n}
    assert raw_ember.execute_command("COMMAND", "COUNT") == (
        raw_redis.execute_command("COMMAND", "COUNT") - len(top) + len(EXTENSIONS)
    )


def test_not_implemented_are_documented() -> None:
    text = (ROOT / "docs" / "compatibility.md").read_text().lower()
    for name in sorted(NOT_IMPLEMENTED | EXTENSIONS):
        for word in name.split("|"):  # a container, then its subcommand
            assert re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text), (
                f"{name} not in docs/compatibility.md"
            )


def test_not_implemented_are_unknown(raw_ember: redis.Redis) -> None:
    for name in sorted(n for n in NOT_IMPLEMENTED if "|" not in n):
        got = _call(raw_ember, name.upper())
        assert got[0] == "err" and got[1].startswith("unknown command"), (name, got)


# --------------------------------------------------------------------- per command


@pytest.mark.parametrize("name", REDIS_NAMES)
def test_command_info_matches(name: str, infos: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ember, real = infos
    e, r = ember[name], real[name]
    assert e[1] == r[1], f"{name}: arity"
    assert sorted(e[2]) == sorted(r[2]), f"{name}: flags"
    assert e[3:6] == r[3:6], f"{name}: first/last/step keys"
    assert sorted(e[6]) == sorted(r[6]), f"{name}: ACL categories"
    assert sorted(e[7] or []) == sorted(r[7] or []), f"{name}: tips"
    assert sorted(e[8] or [], key=repr) == sorted(r[8] or [], key=repr), f"{name}: key specs"
    e_subs = {s[0] for s in e[9] or []}
    r_subs = {s[0] for s in r[9] or []} - NOT_IMPLEMENTED
    assert e_subs == r_subs, f"{name}: subcommands"


def test_command_docs_since_and_group(raw_ember: redis.Redis, raw_redis: redis.Redis) -> None:
    ember = _flatten_docs(raw_ember.execute_command("COMMAND", "DOCS"))
    real = _flatten_docs(raw_redis.execute_command("COMMAND", "DOCS"))
    bad = [
        (n, f, ember[n].get(f), real[n].get(f))
        for n in REDIS_NAMES
        for f in ("since", "group")
        if ember[n].get(f) != real[n].get(f)
    ]
    assert not bad


def test_hidden_flags() -> None:
    """Flags COMMAND INFO hides but the dispatcher uses (CLIENT PAUSE WRITE, MONITOR,
    propagation without MULTI/EXEC for lazily expired keys)."""
    for flag, names in HIDDEN_FLAGS.items():
        have = {s.fullname for s in _specs() if s.flags & flag}
        assert have == names, flag


def test_registry_is_consistent() -> None:
    for spec in _specs():
        if spec.parent is not None:
            assert spec.arity >= 2 or spec.arity <= -2, spec.fullname
        if spec.flags & Flag.WRITE:
            assert not spec.flags & Flag.READONLY, spec.fullname
        if spec.first_key > 0:
            assert spec.step > 0, spec.fullname
            assert spec.last_key < 0 or spec.last_key >= spec.first_key, spec.fullname


# --------------------------------------------------------------------- dispatch


def _argv_of(name: str) -> list[str]:
    return [p.upper() for p in name.split("|")]


def _wrong_arities(spec: CommandSpec) -> list[int]:
    a = spec.arity
    if a > 0:
        return [a + 1] + ([a - 1] if a - 1 >= len(_argv_of(spec.fullname)) else [])
    if -a - 1 >= len(_argv_of(spec.fullname)):
        return [-a - 1]
    return []


ARITY_CASES = [
    (s.fullname, n)
    for s in _specs()
    if s.fullname in REDIS_NAMES and s.handler is not None
    for n in _wrong_arities(s)
]


@pytest.mark.parametrize(("name", "argc"), ARITY_CASES)
def test_wrong_arity_error(
    name: str, argc: int, raw_ember: redis.Redis, raw_redis: redis.Redis
) -> None:
    base = _argv_of(name)
    argv = base + ["x"] * (argc - len(base))
    got, want = _call(raw_ember, *argv), _call(raw_redis, *argv)
    assert want[0] == "err", argv
    assert got == want, argv


def test_unknown_subcommand_error(raw_ember: redis.Redis, raw_redis: redis.Redis) -> None:
    for spec in COMMANDS.values():
        if not spec.subcommands:
            continue
        for sub in ("nosuchsub", "a|b"):
            argv = (spec.name.upper(), sub)
            got, want = _call(raw_ember, *argv), _call(raw_redis, *argv)
            assert got == want, argv


def test_command_list_filters(raw_ember: redis.Redis, raw_redis: redis.Redis) -> None:
    cats = _norm(raw_redis.execute_command("ACL", "CAT"))
    for args in [(), *(("FILTERBY", "ACLCAT", c) for c in cats), ("FILTERBY", "PATTERN", "z*")]:
        got = set(_norm(raw_ember.execute_command("COMMAND", "LIST", *args)))
        want = set(_norm(raw_redis.execute_command("COMMAND", "LIST", *args)))
        assert got - want <= EXTENSIONS, args
        assert want - got <= NOT_IMPLEMENTED, args


# --------------------------------------------------------------------- COMMAND GETKEYS
#
# One or more representative invocations of every keyed command (the argument values
# only need the right shape: GETKEYS does not run the command).

GETKEYS_CASES: list[tuple[str, ...]] = [
    ("APPEND", "k", "v"),
    ("BITCOUNT", "k", "0", "1"),
    ("BITFIELD", "k", "GET", "u8", "0"),
    ("BITFIELD_RO", "k", "GET", "u8", "0"),
    ("BITOP", "AND", "dst", "k1", "k2", "k3"),
    ("BITPOS", "k", "1"),
    ("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"),
    ("BLMPOP", "0", "2", "k1", "k2", "LEFT"),
    ("BLMPOP", "0", "1", "k1", "RIGHT", "COUNT", "3"),
    ("BLMPOP", "0", "3", "k1", "LEFT"),
    ("BLMPOP", "0", "0", "k1", "LEFT"),
    ("BLMPOP", "0", "x", "k1", "LEFT"),
    ("BLPOP", "k1", "k2", "k3", "0"),
    ("BRPOP", "k1", "0"),
    ("BRPOPLPUSH", "src", "dst", "0"),
    ("BZMPOP", "0", "2", "k1", "k2", "MIN"),
    ("BZPOPMAX", "k1", "k2", "0"),
    ("BZPOPMIN", "k1", "0"),
    ("COPY", "src", "dst", "DB", "1", "REPLACE"),
    ("DECR", "k"),
    ("DECRBY", "k", "2"),
    ("DEL", "k1", "k2", "k3"),
    ("DUMP", "k"),
    ("EVAL", "return 1", "2", "k1", "k2", "a1"),
    ("EVAL", "return 1", "0"),
    ("EVAL", "return 1", "0", "a1"),
    ("EVAL", "return 1", "3", "k1"),
    ("EVAL", "return 1", "-1", "k1"),
    ("EVAL", "return 1", "x", "k1"),
    ("EVAL_RO", "return 1", "1", "k1", "a1"),
    ("EVALSHA", "a" * 40, "2", "k1", "k2"),
    ("EVALSHA_RO", "a" * 40, "1", "k1"),
    ("EXISTS", "k1", "k2"),
    ("EXPIRE", "k", "10", "NX"),
    ("EXPIREAT", "k", "10"),
    ("EXPIRETIME", "k"),
    ("FCALL", "f", "2", "k1", "k2", "a"),
    ("FCALL", "f", "0"),
    ("FCALL_RO", "f", "1", "k1"),
    ("GEOADD", "k", "1", "2", "m"),
    ("GEODIST", "k", "a", "b"),
    ("GEOHASH", "k", "a", "b"),
    ("GEOPOS", "k", "a"),
    ("GEORADIUS", "k", "1", "2", "3", "km"),
    ("GEORADIUS", "k", "1", "2", "3", "km", "STORE", "dst"),
    ("GEORADIUS", "k", "1", "2", "3", "km", "STOREDIST", "dst"),
    ("GEORADIUS", "k", "1", "2", "3", "km", "STORE", "d1", "STOREDIST", "d2"),
    ("GEORADIUS", "k", "1", "2", "3", "km", "WITHDIST", "store", "d1"),
    ("GEORADIUS", "k", "1", "2", "3", "km", "STORE"),
    ("GEORADIUS_RO", "k", "1", "2", "3", "km"),
    ("GEORADIUSBYMEMBER", "k", "m", "3", "km", "STORE", "dst"),
    ("GEORADIUSBYMEMBER", "k", "m", "3", "km"),
    ("GEORADIUSBYMEMBER_RO", "k", "m", "3", "km"),
    ("GEOSEARCH", "k", "FROMMEMBER", "m", "BYRADIUS", "1", "km"),
    ("GEOSEARCHSTORE", "dst", "src", "FROMMEMBER", "m", "BYRADIUS", "1", "km"),
    ("GET", "k"),
    ("GETBIT", "k", "1"),
    ("GETDEL", "k"),
    ("GETEX", "k", "PERSIST"),
    ("GETRANGE", "k", "0", "1"),
    ("GETSET", "k", "v"),
    ("HDEL", "k", "f1", "f2"),
    ("HEXISTS", "k", "f"),
    ("HGET", "k", "f"),
    ("HGETALL", "k"),
    ("HINCRBY", "k", "f", "1"),
    ("HINCRBYFLOAT", "k", "f", "1.5"),
    ("HKEYS", "k"),
    ("HLEN", "k"),
    ("HMGET", "k", "f1", "f2"),
    ("HMSET", "k", "f", "v"),
    ("HRANDFIELD", "k", "2"),
    ("HSCAN", "k", "0"),
    ("HSET", "k", "f", "v", "f2", "v2"),
    ("HSETNX", "k", "f", "v"),
    ("HSTRLEN", "k", "f"),
    ("HVALS", "k"),
    ("INCR", "k"),
    ("INCRBY", "k", "1"),
    ("INCRBYFLOAT", "k", "1.5"),
    ("LCS", "k1", "k2", "LEN"),
    ("LINDEX", "k", "0"),
    ("LINSERT", "k", "BEFORE", "p", "e"),
    ("LLEN", "k"),
    ("LMOVE", "src", "dst", "LEFT", "LEFT"),
    ("LMPOP", "2", "k1", "k2", "LEFT"),
    ("LMPOP", "1", "k1", "LEFT", "COUNT", "2"),
    ("LMPOP", "5", "k1", "LEFT"),
    ("LPOP", "k", "2"),
    ("LPOS", "k", "e"),
    ("LPUSH", "k", "a", "b"),
    ("LPUSHX", "k", "a"),
    ("LRANGE", "k", "0", "-1"),
    ("LREM", "k", "0", "e"),
    ("LSET", "k", "0", "e"),
    ("LTRIM", "k", "0", "1"),
    ("MGET", "k1", "k2", "k3"),
    ("MOVE", "k", "1"),
    ("MSET", "k1", "v1", "k2", "v2"),
    ("MSET", "k1", "v1", "k2"),
    ("MSETNX", "k1", "v1", "k2", "v2"),
    ("OBJECT", "ENCODING", "k"),
    ("OBJECT", "FREQ", "k"),
    ("OBJECT", "IDLETIME", "k"),
    ("OBJECT", "REFCOUNT", "k"),
    ("PERSIST", "k"),
    ("PEXPIRE", "k", "100"),
    ("PEXPIREAT", "k", "100"),
    ("PEXPIRETIME", "k"),
    ("PFADD", "k", "a", "b"),
    ("PFCOUNT", "k1", "k2"),
    ("PFDEBUG", "GETREG", "k"),
    ("PFMERGE", "dst", "s1", "s2"),
    ("PSETEX", "k", "100", "v"),
    ("PTTL", "k"),
    ("RENAME", "src", "dst"),
    ("RENAMENX", "src", "dst"),
    ("RESTORE", "k", "0", "payload", "REPLACE"),
    ("RPOP", "k"),
    ("RPOPLPUSH", "src", "dst"),
    ("RPUSH", "k", "a"),
    ("RPUSHX", "k", "a", "b"),
    ("SADD", "k", "m"),
    ("SCARD", "k"),
    ("SDIFF", "k1", "k2"),
    ("SDIFFSTORE", "dst", "k1", "k2"),
    ("SET", "k", "v"),
    ("SET", "k", "v", "GET", "EX", "10"),
    ("SETBIT", "k", "1", "1"),
    ("SETEX", "k", "10", "v"),
    ("SETNX", "k", "v"),
    ("SETRANGE", "k", "0", "v"),
    ("SINTER", "k1", "k2"),
    ("SINTERCARD", "2", "k1", "k2", "LIMIT", "1"),
    ("SINTERCARD", "3", "k1", "k2"),
    ("SINTERSTORE", "dst", "k1", "k2"),
    ("SISMEMBER", "k", "m"),
    ("SMEMBERS", "k"),
    ("SMISMEMBER", "k", "a", "b"),
    ("SMOVE", "src", "dst", "m"),
    ("SORT", "k"),
    ("SORT", "k", "STORE", "dst"),
    ("SORT", "k", "BY", "w_*", "GET", "o_*", "LIMIT", "0", "1", "STORE", "dst"),
    ("SORT", "k", "store", "d1", "STORE", "d2"),
    ("SORT", "k", "STORE"),
    ("SORT", "k", "GET", "STORE", "ALPHA"),
    ("SORT_RO", "k", "BY", "w_*"),
    ("SPOP", "k"),
    ("SPUBLISH", "ch", "msg"),
    ("SRANDMEMBER", "k", "2"),
    ("SREM", "k", "a"),
    ("SSCAN", "k", "0", "COUNT", "10"),
    ("SSUBSCRIBE", "ch1", "ch2"),
    ("STRLEN", "k"),
    ("SUBSTR", "k", "0", "1"),
    ("SUNION", "k1", "k2"),
    ("SUNIONSTORE", "dst", "k1"),
    ("SUNSUBSCRIBE", "ch1"),
    ("TOUCH", "k1", "k2"),
    ("TTL", "k"),
    ("TYPE", "k"),
    ("UNLINK", "k1", "k2"),
    ("WATCH", "k1", "k2"),
    ("XACK", "k", "g", "1-1", "2-2"),
    ("XADD", "k", "*", "f", "v"),
    ("XAUTOCLAIM", "k", "g", "c", "0", "0"),
    ("XCLAIM", "k", "g", "c", "0", "1-1"),
    ("XDEL", "k", "1-1"),
    ("XGROUP", "CREATE", "k", "g", "$", "MKSTREAM"),
    ("XGROUP", "CREATECONSUMER", "k", "g", "c"),
    ("XGROUP", "DELCONSUMER", "k", "g", "c"),
    ("XGROUP", "DESTROY", "k", "g"),
    ("XGROUP", "SETID", "k", "g", "$"),
    ("XINFO", "CONSUMERS", "k", "g"),
    ("XINFO", "GROUPS", "k"),
    ("XINFO", "STREAM", "k", "FULL"),
    ("XLEN", "k"),
    ("XPENDING", "k", "g"),
    ("XRANGE", "k", "-", "+"),
    ("XREAD", "STREAMS", "k", "0"),
    ("XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "k1", "k2", "0", "0"),
    ("XREAD", "STREAMS", "k1", "k2", "0"),
    ("XREAD", "COUNT", "1", "k1", "0"),
    ("XREAD", "streams", "streams", "0"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k1", "k2", ">", ">"),
    ("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "NOACK", "STREAMS", "k", ">"),
    ("XREVRANGE", "k", "+", "-"),
    ("XSETID", "k", "1-1"),
    ("XTRIM", "k", "MAXLEN", "1"),
    ("ZADD", "k", "1", "m"),
    ("ZCARD", "k"),
    ("ZCOUNT", "k", "0", "1"),
    ("ZDIFF", "2", "k1", "k2", "WITHSCORES"),
    ("ZDIFFSTORE", "dst", "2", "k1", "k2"),
    ("ZINCRBY", "k", "1", "m"),
    ("ZINTER", "2", "k1", "k2", "WEIGHTS", "1", "2"),
    ("ZINTERCARD", "2", "k1", "k2"),
    ("ZINTERSTORE", "dst", "2", "k1", "k2", "AGGREGATE", "MAX"),
    ("ZINTERSTORE", "dst", "0", "k1"),
    ("ZINTERSTORE", "dst", "3", "k1"),
    ("ZLEXCOUNT", "k", "-", "+"),
    ("ZMPOP", "2", "k1", "k2", "MIN"),
    ("ZMSCORE", "k", "a", "b"),
    ("ZPOPMAX", "k"),
    ("ZPOPMIN", "k", "2"),
    ("ZRANDMEMBER", "k"),
    ("ZRANGE", "k", "0", "-1"),
    ("ZRANGEBYLEX", "k", "-", "+"),
    ("ZRANGEBYSCORE", "k", "0", "1"),
    ("ZRANGESTORE", "dst", "src", "0", "-1"),
    ("ZRANK", "k", "m"),
    ("ZREM", "k", "m"),
    ("ZREMRANGEBYLEX", "k", "-", "+"),
    ("ZREMRANGEBYRANK", "k", "0", "1"),
    ("ZREMRANGEBYSCORE", "k", "0", "1"),
    ("ZREVRANGE", "k", "0", "-1"),
    ("ZREVRANGEBYLEX", "k", "+", "-"),
    ("ZREVRANGEBYSCORE", "k", "1", "0"),
    ("ZREVRANK", "k", "m"),
    ("ZSCAN", "k", "0"),
    ("ZSCORE", "k", "m"),
    ("ZUNION", "3", "k1", "k2", "k3"),
    ("ZUNIONSTORE", "dst", "2", "k1", "k2", "WEIGHTS", "1", "2"),
    ("ZUNIONSTORE", "dst", "-1", "k1"),
    # odd shapes: lower case, keywords as values, numkeys past the end
    ("BITFIELD", "k", "SET", "u8", "0", "1"),
    ("BITFIELD", "k", "GET", "u8"),
    ("BITFIELD", "k", "OVERFLOW", "SAT", "GET", "u8", "0"),
    ("BITFIELD", "k"),
    ("SET", "k", "get"),
    ("SET", "k", "v", "KEEPTTL", "get"),
    ("GEORADIUSBYMEMBER", "k", "m", "3", "km", "STOREDIST", "d"),
    ("SORT", "k", "GET", "STORE", "d"),
    ("SORT_RO", "k", "STORE", "x"),
    ("xread", "streams", "a", "b", "1", "2"),
    ("XREAD", "STREAMS"),
    ("LMPOP", "1", "k"),
    ("EVAL", "s", "2", "a"),
    ("SINTERCARD", "0", "a"),
    # commands without keys, wrong arity, unknown commands and subcommands
    ("CONFIG", "NOSUCH"),
    ("OBJECT", "HELP"),
    ("PING",),
    ("GET",),
    ("GET", "a", "b"),
    ("NOSUCHCOMMAND", "k"),
    ("CONFIG", "GET", "maxmemory"),
    ("PUBLISH", "ch", "m"),
    ("XINFO", "NOSUCH", "k"),
]


def _keyed_names(infos: tuple[dict[str, Any], dict[str, Any]]) -> set[str]:
    _, real = infos
    return {n for n in REDIS_NAMES if real[n][8]}


def test_getkeys_cases_cover_every_keyed_command(
    infos: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    covered = set()
    for case in GETKEYS_CASES:
        name = case[0].lower()
        spec = COMMANDS.get(name)
        if spec is not None and spec.subcommands and len(case) > 1:
            name = f"{name}|{case[1].lower()}"
        covered.add(name)
    assert _keyed_names(infos) - covered == set()


# Known differences, in server_admin._getkeys (strict xfail: remove an entry once fixed).
GETKEYS_KNOWN_DIFFS: dict[tuple[str, ...], str] = {}


def _getkeys_params() -> list[Any]:
    out = []
    for case in GETKEYS_CASES:
        reason = GETKEYS_KNOWN_DIFFS.get(case)
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        out.append(pytest.param(case, marks=marks, id=" ".join(case)[:60]))
    return out


def test_getkeys_known_diffs_are_cases() -> None:
    assert set(GETKEYS_KNOWN_DIFFS) <= set(GETKEYS_CASES)


@pytest.mark.parametrize("case", _getkeys_params())
def test_getkeys_matches(
    case: tuple[str, ...], raw_ember: redis.Redis, raw_redis: redis.Redis
) -> None:
    for sub in ("GETKEYS", "GETKEYSANDFLAGS"):
        got = _call(raw_ember, "COMMAND", sub, *case)
        want = _call(raw_redis, "COMMAND", sub, *case)
        assert got == want, (sub, case)


# --------------------------------------------------------------------- extensions


def test_waitaof_info_is_redis_72s(raw_ember: redis.Redis) -> None:
    """WAITAOF is Redis 7.2's; its COMMAND INFO is 7.2's (src/commands/waitaof.json)."""
    (info,) = _norm(raw_ember.execute_command("COMMAND", "INFO", "waitaof"))
    assert info[:6] == ["waitaof", 4, ["noscript"], 0, 0, 0]
    assert sorted(info[6]) == ["@connection", "@slow"]
    assert sorted(info[7]) == ["request_policy:all_shards", "response_policy:agg_min"]
    assert info[8] == [] and info[9] == []


# --------------------------------------------------------------------- hidden flags at work


def _paused_seconds(server: ServerProcess, *cmd: Any) -> float:
    """How long ``cmd`` waits under CLIENT PAUSE 600 WRITE (then the pause is lifted)."""
    a, b = server.client(), server.client()
    try:
        a.execute_command("CLIENT", "PAUSE", 600, "WRITE")
        t = time.monotonic()
        b.execute_command(*cmd)
        return time.monotonic() - t
    finally:
        a.execute_command("CLIENT", "UNPAUSE")
        a.close()
        b.close()


def test_may_replicate_commands_wait_for_write_pause(
    ember: ServerProcess, real_redis: ServerProcess
) -> None:
    lib = "#!lua name=cmdtable\nredis.register_function('cmdtable_f', function() return 1 end)"
    cases = [
        ("EVAL", "return redis.call('set', 'cmdtable:k', '1')", "0"),
        ("EVAL", "return 1", "0"),
        ("FCALL", "cmdtable_f", "0"),
        ("PUBLISH", "ch", "m"),
        ("PFCOUNT", "cmdtable:h"),
    ]
    for server in (ember, real_redis):
        c = server.client()
        c.execute_command("FUNCTION", "LOAD", "REPLACE", lib)
        try:
            for cmd in cases:
                assert _paused_seconds(server, *cmd) >= 0.3, (server.kind, cmd)
            # readonly commands are not held
            assert _paused_seconds(server, "GET", "cmdtable:k") < 0.3, server.kind
        finally:
            c.execute_command("FUNCTION", "DELETE", "cmdtable")
            c.delete("cmdtable:k")
            c.close()


def _aof_text(server: ServerProcess, must_contain: bytes) -> bytes:
    data = b""
    for _ in range(100):  # bounded: the AOF is written right after the reply
        data = b"".join(p.read_bytes() for p in sorted(server.dir.glob("appendonlydir/*.incr.aof")))
        if must_contain in data:
            break
        time.sleep(0.05)
    return data


def test_scan_expired_keys_propagate_without_multi(ember_factory: Any, redis_factory: Any) -> None:
    """SCAN and RANDOMKEY are touches_arbitrary_keys: the DELs of the keys they find
    expired go to the AOF one by one, not wrapped in MULTI/EXEC."""
    args = ("--appendonly", "yes", "--enable-debug-command", "yes")
    for server in (ember_factory(*args), redis_factory(*args)):
        c = server.client()
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
        for i in range(4):
            c.set(f"exp{i}", "v", px=50)
        time.sleep(0.3)
        assert c.scan(0, count=100) == (0, [])
        data = _aof_text(server, b"exp3\r\n*2")
        text = data[data.index(b"exp3") :]
        assert text.count(b"$3\r\nDEL\r\n") == 4, (server.kind, data)
        assert b"MULTI" not in data, (server.kind, data)
        c.close()
