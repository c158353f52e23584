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
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ember.persistence.rdb.dump import restore_payload

CORPUS = Path(
    os.environ.get("EMBER_CORPUS", Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus")
).resolve()


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


def wait_until(pred: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> Any:
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
            (_as_dict(c)[b"name"], _as_dict(c)[b"pending"]) for c in r("XINFO", "CONSUMERS", key, name)
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


def dump_dataset(port: int, dbs: Iterable[int] = range(16)) -> dict[int, dict[bytes, tuple[Any, int | None]]]:
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
