"""Helpers shared by the persistence tests (RDB server, faults, interop).

* :class:`Raw`: a minimal RESP2 client. Replies come back exactly as the server sent
  them (no redis-py response callbacks reshaping XINFO, ZRANGE WITHSCORES, ...), so
  ember and redis-server replies can be compared byte for byte.
* :func:`read_dataset`: every key of every db read back over the protocol with the
  type-specific read commands (GET, LRANGE, HGETALL, SMEMBERS, ZRANGE, XRANGE/XINFO).
* :func:`dump_dataset`: every key as the value its DUMP payload decodes to (type
  agnostic: works for types whose read commands ember does not have yet).
* small waiting helpers (bounded loops only).
"""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ember.persistence.rdb.dump import restore_payload
from tests.helpers.corpus import CORPUS as CORPUS


class RespError(Exception):
    """An error reply (``-ERR ...``); ``str(e)`` is the text without the dash."""


class Raw:
    """Blocking RESP2 client on 127.0.0.1 for exact reply comparisons."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.sock.makefile("rb")

    def close(self) -> None:
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def encode(args: Iterable[Any]) -> bytes:
        parts: list[bytes] = []
        n = 0
        for a in args:
            if isinstance(a, str):
                b = a.encode()
            elif isinstance(a, int):
                b = b"%d" % a
            elif isinstance(a, float):
                b = repr(a).encode()
            else:
                b = bytes(a)
            parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
            n += 1
        return b"*%d\r\n" % n + b"".join(parts)

    def send(self, *args: Any) -> None:
        self.sock.sendall(self.encode(args))

    def read(self) -> Any:
        line = self.f.readline()
        if not line:
            raise ConnectionError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self.read() for _ in range(n)]
        raise ValueError(f"unexpected reply line {line!r}")

    def any(self, *args: Any) -> Any:
        """Send one command and return its reply; an error reply is returned, not raised."""
        self.send(*args)
        return self.read()

    def __call__(self, *args: Any) -> Any:
        """Send one command; raise :class:`RespError` on an error reply."""
        reply = self.any(*args)
        if isinstance(reply, RespError):
            raise reply
        return reply

    def pipeline(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send all, then read all (errors returned in place)."""
        self.sock.sendall(b"".join(self.encode(c) for c in commands))
        return [self.read() for _ in commands]


def outcome(reply: Any) -> tuple[str, Any]:
    """Normalise a reply for comparisons: ("err", text) or ("ok", value)."""
    if isinstance(reply, RespError):
        return ("err", str(reply))
    return ("ok", reply)


def info(r: Raw, section: str = "") -> dict[str, str]:
    text = r("INFO", section) if section else r("INFO")
    out: dict[str, str] = {}
    for line in text.decode().splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def wait_until(
    pred: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> Any:
    """Poll ``pred`` until it returns a truthy value (bounded); return that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or pred}")
        time.sleep(interval)


def wait_bgsave_done(r: Raw, timeout: float = 30.0) -> dict[str, str]:
    """Wait until no RDB background save runs; return INFO persistence."""

    def done() -> dict[str, str] | None:
        i = info(r, "persistence")
        return i if i["rdb_bgsave_in_progress"] == "0" else None

    return wait_until(done, timeout, 0.02, "the background save to finish")  # type: ignore[no-any-return]


def scan_keys(r: Raw) -> list[bytes]:
    """All keys of the selected db (SCAN, bounded)."""
    keys: list[bytes] = []
    cursor = b"0"
    for _ in range(1_000_000):
        cursor, batch = r("SCAN", cursor, "COUNT", 1000)
        keys.extend(batch)
        if cursor == b"0":
            break
    return sorted(set(keys))


def _pairs(flat: list[Any]) -> list[tuple[Any, Any]]:
    return list(zip(flat[0::2], flat[1::2], strict=True))


def _as_dict(flat: list[Any]) -> dict[bytes, Any]:
    return dict(_pairs(flat))


def read_stream(r: Raw, key: bytes) -> dict[str, Any]:
    """A stream's observable state: entries, metadata, groups, PELs, consumers."""
    st = _as_dict(r("XINFO", "STREAM", key))
    out: dict[str, Any] = {
        "entries": [(eid, tuple(fields)) for eid, fields in r("XRANGE", key, "-", "+")],
        "length": st[b"length"],
        "last-generated-id": st[b"last-generated-id"],
        "max-deleted-entry-id": st.get(b"max-deleted-entry-id"),
        "entries-added": st.get(b"entries-added"),
        "recorded-first-entry-id": st.get(b"recorded-first-entry-id"),
        "groups": [],
    }
    for g in r("XINFO", "GROUPS", key):
        gd = _as_dict(g)
        name = gd[b"name"]
        pel = [(e[0], e[1], e[3]) for e in r("XPENDING", key, name, "-", "+", 1_000_000)]
        consumers = sorted(
            (_as_dict(c)[b"name"], _as_dict(c)[b"pending"])
            for c in r("XINFO", "CONSUMERS", key, name)
        )
        out["groups"].append(
            {
                "name": name,
                "last-delivered-id": gd[b"last-delivered-id"],
                "entries-read": gd.get(b"entries-read"),
                "pending": gd[b"pending"],
                "pel": pel,
                "consumers": consumers,
            }
        )
    return out


def read_value(r: Raw, key: bytes) -> tuple[str, Any]:
    """(type, contents) of ``key`` read with the type's own commands."""
    t = r("TYPE", key).decode()
    if t == "string":
        return t, r("GET", key)
    if t == "list":
        return t, r("LRANGE", key, 0, -1)
    if t == "hash":
        return t, _as_dict(r("HGETALL", key))
    if t == "set":
        return t, sorted(r("SMEMBERS", key))
    if t == "zset":
        return t, _pairs(r("ZRANGE", key, 0, -1, "WITHSCORES"))
    if t == "stream":
        return t, read_stream(r, key)
    return t, None


Dataset = dict[int, dict[bytes, tuple[str, Any, int]]]


def read_dataset(port: int, dbs: Iterable[int] = range(16)) -> Dataset:
    """{db: {key: (type, contents, pexpiretime)}} for every non-empty db."""
    out: Dataset = {}
    with Raw(port) as r:
        for dbid in dbs:
            r("SELECT", dbid)
            keys = scan_keys(r)
            if not keys:
                continue
            d = out[dbid] = {}
            for k in keys:
                t, v = read_value(r, k)
                d[k] = (t, v, r("PEXPIRETIME", k))
        r("SELECT", 0)
    return out


def dump_dataset(
    port: int, dbs: Iterable[int] = range(16)
) -> dict[int, dict[bytes, tuple[Any, int | None]]]:
    """{db: {key: (decoded DUMP value, expire ms or None)}}: type agnostic."""
    out: dict[int, dict[bytes, tuple[Any, int | None]]] = {}
    with Raw(port) as r:
        for dbid in dbs:
            r("SELECT", dbid)
            keys = scan_keys(r)
            if not keys:
                continue
            replies = r.pipeline([c for k in keys for c in (("DUMP", k), ("PEXPIRETIME", k))])
            d = out[dbid] = {}
            for i, k in enumerate(keys):
                payload, exp = replies[2 * i], replies[2 * i + 1]
                assert not isinstance(payload, RespError), (k, payload)
                d[k] = (restore_payload(payload), None if exp < 0 else exp)
        r("SELECT", 0)
    return out


def digest(port: int) -> bytes:
    with Raw(port) as r:
        return r("DEBUG", "DIGEST")  # type: ignore[no-any-return]


def children_of(pid: int) -> list[int]:
    """Child pids of a process (Linux /proc)."""
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
            except OSError:
                continue
            out.extend(int(x) for x in text.split())
    except OSError:
        pass
    return out


def server_pid(r: Raw) -> int:
    return int(info(r, "server")["process_id"])


# ------------------------------------------------------------------ the interop dataset

FAR = 4102444800000  # 2100-01-01 in ms: TTLs that never expire during a test


def _rand_text(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def dataset_commands() -> list[tuple[int, bytes, list[tuple[Any, ...]]]]:
    """(db, key, commands) covering every type/encoding ember has, big and small."""
    out: list[tuple[int, bytes, list[tuple[Any, ...]]]] = []

    def add(key: str, *cmds: tuple[Any, ...], db: int = 0) -> None:
        out.append((db, key.encode(), list(cmds)))

    # strings: int / embstr / raw / LZF-able / binary / built by APPEND, SETRANGE, SETBIT
    add("str:int", ("SET", "str:int", "12345"))
    add("str:neg", ("SET", "str:neg", "-30000"))
    add("str:i64", ("SET", "str:i64", "9223372036854775807"))
    add("str:big-not-int", ("SET", "str:big-not-int", "92233720368547758070"))
    add("str:lead0", ("SET", "str:lead0", "007"))
    add("str:float", ("SET", "str:float", "3.14"))
    add("str:embstr", ("SET", "str:embstr", "hello world"))
    add("str:raw", ("SET", "str:raw", _rand_text(100, 1)))
    add("str:lzf", ("SET", "str:lzf", "a" * 500 + "b" * 100))
    add("str:empty", ("SET", "str:empty", ""))
    add("str:binary", ("SET", "str:binary", bytes(range(256))))
    add("str:append", ("SET", "str:append", "x" * 30), ("APPEND", "str:append", "y" * 30))
    add("str:setrange", ("SETRANGE", "str:setrange", 50, "tail"))
    add("str:bits", ("SETBIT", "str:bits", 1000, 1), ("SETBIT", "str:bits", 7, 1))
    add("str:incr", ("INCRBY", "str:incr", 7), ("INCRBYFLOAT", "str:incr", "0.5"))
    add("str:ttl", ("SET", "str:ttl", "expiring", "PXAT", FAR))
    add("str:ttl-lzf", ("SET", "str:ttl-lzf", "z" * 300), ("PEXPIREAT", "str:ttl-lzf", FAR + 1))
    # lists: small listpack node, many nodes, a huge element, integers of every width
    add("list:small", ("RPUSH", "list:small", "a", "1", "-100", "12345678901", "x" * 70))
    add(
        "list:big",
        *[
            ("RPUSH", "list:big", *[f"item-{i}" for i in range(j, j + 500)])
            for j in range(0, 5000, 500)
        ],
    )
    add(
        "list:huge-element",
        ("RPUSH", "list:huge-element", "small", "h" * 20000, _rand_text(9000, 2), "end"),
    )
    add(
        "list:ints",
        (
            "RPUSH",
            "list:ints",
            0,
            63,
            127,
            -1,
            4095,
            -4096,
            32767,
            -32768,
            8388607,
            2147483647,
            -2147483648,
            2**62,
            -(2**63),
        ),
    )
    add("list:ttl", ("LPUSH", "list:ttl", "c", "b", "a"), ("PEXPIREAT", "list:ttl", FAR + 2))
    # hashes: listpack, hashtable by count, hashtable by value size, ints
    add("hash:small", ("HSET", "hash:small", "f1", "v1", "f2", "2", "f3", ""))
    add(
        "hash:big",
        ("HSET", "hash:big", *[x for i in range(600) for x in (f"field{i}", f"value{i}")]),
    )
    add("hash:bigvalue", ("HSET", "hash:bigvalue", "f", "v" * 100, "g", "1"))
    add("hash:ints", ("HSET", "hash:ints", "1", "100", "-5", "123456789012", "x", "-1"))
    add("hash:ttl", ("HSET", "hash:ttl", "a", "b"), ("PEXPIREAT", "hash:ttl", FAR + 3))
    # sets: intset 16/32/64, small strings, big strings, big ints (hashtable)
    add("set:int16", ("SADD", "set:int16", "1", "2", "3", "-5", "100"))
    add("set:int32", ("SADD", "set:int32", "1", "70000"))
    add("set:int64", ("SADD", "set:int64", "1", "5000000000", "-9223372036854775808"))
    add("set:strings", ("SADD", "set:strings", "a", "b", "c"))
    add("set:big", ("SADD", "set:big", *[f"m{i}" for i in range(600)]))
    add("set:bigints", ("SADD", "set:bigints", *range(600)))
    add("set:ttl", ("SADD", "set:ttl", "x"), ("PEXPIREAT", "set:ttl", FAR + 4))
    # zsets: listpack with +-inf and tricky doubles, skiplist by count and by member size
    add(
        "zset:small",
        (
            "ZADD",
            "zset:small",
            "1",
            "a",
            "2.5",
            "b",
            "-3",
            "c",
            "inf",
            "d",
            "-inf",
            "e",
            "0.1",
            "f",
            "1e300",
            "g",
            "0",
            "h",
        ),
    )
    add(
        "zset:big",
        (
            "ZADD",
            "zset:big",
            *[x for i in range(200) for x in (str(i / 2), f"zm{i}")],
            "-0",
            "negzero",
        ),
    )
    add("zset:longmember", ("ZADD", "zset:longmember", "1", "m" * 100, "2", "short"))
    add("zset:ttl", ("ZADD", "zset:ttl", "1", "one"), ("PEXPIREAT", "zset:ttl", FAR + 5))
    # streams: entries, deletions, consumer groups with PELs, many nodes, empty ones
    add(
        "stream",
        ("XADD", "stream", "1-1", "a", "1"),
        ("XADD", "stream", "1-2", "b", "2", "c", "3"),
        ("XADD", "stream", "2-0", "c", "d"),
        ("XDEL", "stream", "1-2"),
        ("XGROUP", "CREATE", "stream", "g1", "0"),
        ("XREADGROUP", "GROUP", "g1", "c1", "COUNT", "2", "STREAMS", "stream", ">"),
        ("XGROUP", "CREATE", "stream", "g2", "$"),
        ("XGROUP", "CREATECONSUMER", "stream", "g2", "c2"),
        ("XGROUP", "CREATE", "stream", "g3", "1-1"),
        ("XREADGROUP", "GROUP", "g3", "c3", "STREAMS", "stream", ">"),
        ("XACK", "stream", "g3", "2-0"),
    )
    add(
        "stream:big",
        *[
            ("XADD", "stream:big", "MAXLEN", "300", f"{i}-0", "field", f"value-{i}", "n", i)
            for i in range(1, 501)
        ],
        ("XGROUP", "CREATE", "stream:big", "g", "100-0"),
        ("XREADGROUP", "GROUP", "g", "c", "COUNT", "50", "STREAMS", "stream:big", ">"),
    )
    add("stream:empty", ("XGROUP", "CREATE", "stream:empty", "g", "$", "MKSTREAM"))
    add(
        "stream:all-deleted",
        ("XADD", "stream:all-deleted", "5-5", "f", "v"),
        ("XDEL", "stream:all-deleted", "5-5"),
    )
    add("stream:ttl", ("XADD", "stream:ttl", "1-1", "f", "v"), ("PEXPIREAT", "stream:ttl", FAR + 6))
    # other dbs
    add("db1:str", ("SET", "db1:str", "in-db-1"), db=1)
    add("db1:list", ("RPUSH", "db1:list", "a", "b"), db=1)
    add("db15:hash", ("HSET", "db15:hash", "k", "v"), db=15)
    add("db15:ttl", ("SET", "db15:ttl", "v", "PXAT", FAR + 7), db=15)
    return out


def build(redis_port: int, ember_port: int | None) -> list[bytes]:
    """Run the dataset commands; returns keys copied to ember with DUMP/RESTORE."""
    copied: list[bytes] = []
    with Raw(redis_port) as rr:
        e = Raw(ember_port) if ember_port else None
        try:
            for db, key, cmds in dataset_commands():
                rr("SELECT", db)
                for reply in rr.pipeline(cmds):
                    assert not isinstance(reply, RespError), (key, reply)
                if e is None:
                    continue
                e("SELECT", db)
                replies = e.pipeline(cmds)
                if any(isinstance(x, RespError) for x in replies):
                    # a command ember lacks (or rejects): copy the value instead
                    copied.append(key)
                    payload, pexp = rr("DUMP", key), rr("PEXPIRETIME", key)
                    ttl = [pexp, "ABSTTL"] if pexp > 0 else [0]
                    e("RESTORE", key, ttl[0], payload, "REPLACE", *ttl[1:])
        finally:
            if e is not None:
                e.close()
    return copied
