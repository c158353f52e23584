"""Pub/Sub delivery, keyspace notifications and MONITOR feeds.

The commands live in :mod:`ember.commands.pubsub`; this module holds the state changes
and message fan-out they and the keyspace use.
"""

from __future__ import annotations

import fnmatch
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ember.server.client import Client
    from ember.server.server import Server

# notify-keyspace-events class bits (Redis NOTIFY_*)
NOTIFY_KEYSPACE = 1 << 0  # K
NOTIFY_KEYEVENT = 1 << 1  # E
NOTIFY_GENERIC = 1 << 2  # g
NOTIFY_STRING = 1 << 3  # $
NOTIFY_LIST = 1 << 4  # l
NOTIFY_SET = 1 << 5  # s
NOTIFY_HASH = 1 << 6  # h
NOTIFY_ZSET = 1 << 7  # z
NOTIFY_EXPIRED = 1 << 8  # x
NOTIFY_EVICTED = 1 << 9  # e
NOTIFY_STREAM = 1 << 10  # t
NOTIFY_KEY_MISS = 1 << 11  # m
NOTIFY_LOADED = 1 << 12
NOTIFY_MODULE = 1 << 13  # d
NOTIFY_NEW = 1 << 14  # n
NOTIFY_ALL = (
    NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET
    | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE
)

_CHAR_BITS = {
    "g": NOTIFY_GENERIC,
    "$": NOTIFY_STRING,
    "l": NOTIFY_LIST,
    "s": NOTIFY_SET,
    "h": NOTIFY_HASH,
    "z": NOTIFY_ZSET,
    "x": NOTIFY_EXPIRED,
    "e": NOTIFY_EVICTED,
    "K": NOTIFY_KEYSPACE,
    "E": NOTIFY_KEYEVENT,
    "t": NOTIFY_STREAM,
    "m": NOTIFY_KEY_MISS,
    "d": NOTIFY_MODULE,
    "n": NOTIFY_NEW,
    "A": NOTIFY_ALL,
}


def flags_from_string(s: str) -> int:
    bits = 0
    for ch in s:
        bits |= _CHAR_BITS.get(ch, 0)
    return bits


def notify_keyspace_event(srv: Server, kind: int, event: bytes, key: bytes, dbid: int) -> None:
    """notifyKeyspaceEvent: ``kind`` is a NOTIFY_* class bit."""
    # Db.expire_key passes 0x20 historically: map it to NOTIFY_EXPIRED
    if kind == 0x20 and event == b"expired":
        kind = NOTIFY_EXPIRED
    flags = flags_from_string(srv.config.values["notify-keyspace-events"])
    if not flags & kind:
        return
    if flags & NOTIFY_KEYSPACE:
        publish(srv, b"__keyspace@%d__:" % dbid + key, event)
    if flags & NOTIFY_KEYEVENT:
        publish(srv, b"__keyevent@%d__:" % dbid + event, key)


def publish(srv: Server, channel: bytes, message: bytes) -> int:
    receivers = 0
    subs = srv.pubsub_channels.get(channel)
    if subs:
        for c in list(subs):
            c.push([b"message", channel, message])
            receivers += 1
    if srv.pubsub_patterns:
        for pattern, clients in list(srv.pubsub_patterns.items()):
            if glob_match(pattern, channel):
                for c in list(clients):
                    c.push([b"pmessage", pattern, channel, message])
                    receivers += 1
    return receivers


def glob_match(pattern: bytes, subject: bytes, nocase: bool = False) -> bool:
    """Redis ``stringmatchlen`` semantics (glob with [] classes and \\ escapes)."""
    return _match(pattern, 0, subject, 0, nocase, 0)


def _match(p: bytes, pi: int, s: bytes, si: int, nocase: bool, depth: int) -> bool:
    if depth > 1000:
        return False
    plen, slen = len(p), len(s)
    while pi < plen:
        c = p[pi]
        if c == 0x2A:  # *
            while pi + 1 < plen and p[pi + 1] == 0x2A:
                pi += 1
            if pi + 1 == plen:
                return True
            for k in range(si, slen + 1):
                if _match(p, pi + 1, s, k, nocase, depth + 1):
                    return True
            return False
        if si >= slen:
            return False
        if c == 0x3F:  # ?
            si += 1
        elif c == 0x5B:  # [
            pi += 1
            negate = pi < plen and p[pi] == 0x5E
            if negate:
                pi += 1
            matched = False
            ch = s[si]
            while pi < plen and p[pi] != 0x5D:
                if p[pi] == 0x5C and pi + 1 < plen:
                    pi += 1
                    if p[pi] == ch:
                        matched = True
                elif pi + 2 < plen and p[pi + 1] == 0x2D:
                    lo, hi = p[pi], p[pi + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    cc = ch
                    if nocase:
                        lo, hi, cc = _lower(lo), _lower(hi), _lower(ch)
                    if lo <= cc <= hi:
                        matched = True
                    pi += 2
                else:
                    if (_lower(p[pi]) == _lower(ch)) if nocase else p[pi] == ch:
                        matched = True
                pi += 1
            if pi >= plen:
                pi -= 1  # unterminated class: treat end as ']'
            if negate:
                matched = not matched
            if not matched:
                return False
            si += 1
        else:
            if c == 0x5C and pi + 1 < plen:
                pi += 1
                c = p[pi]
            if (_lower(c) != _lower(s[si])) if nocase else c != s[si]:
                return False
            si += 1
        pi += 1
    return si == slen


def _lower(c: int) -> int:
    return c + 32 if 65 <= c <= 90 else c


def fast_glob(pattern: bytes) -> object:
    """Compile a glob into a predicate; uses fnmatch when the pattern is simple."""
    if b"[" in pattern or b"\\" in pattern:
        return lambda s: glob_match(pattern, s)
    regex = fnmatch.translate(pattern.decode("latin-1"))
    import re

    rx = re.compile(regex, re.DOTALL)
    return lambda s: rx.match(s.decode("latin-1")) is not None


def unsubscribe_all(client: Client) -> None:
    srv = client.server
    for ch in list(client.channels):
        _drop(srv.pubsub_channels, ch, client)
    for pat in list(client.patterns):
        _drop(srv.pubsub_patterns, pat, client)
    for ch in list(client.shard_channels):
        _drop(srv.pubsub_shard_channels, ch, client)
    client.channels.clear()
    client.patterns.clear()
    client.shard_channels.clear()


def _drop(table: dict[bytes, dict[Client, None]], name: bytes, client: Client) -> None:
    subs = table.get(name)
    if subs is not None:
        subs.pop(client, None)
        if not subs:
            del table[name]


def feed_monitors(client: Client, argv: list[bytes]) -> None:
    srv = client.server
    now = time.time()
    args = " ".join('"' + _repr(a) + '"' for a in argv)
    where = "unix:" + client.addr if client.unix else client.addr
    line = f"+{now:.6f} [{client.db.id} {where}] {args}\r\n".encode()
    from ember.protocol.resp import Raw

    for m in list(srv.monitors):
        if m is client or m.transport is None:
            continue
        m.push_raw(line) if hasattr(m, "push_raw") else m.transport.write(Raw(line).data)


def _repr(b: bytes) -> str:
    out = []
    for ch in b:
        if ch == 0x22:
            out.append('\\"')
        elif ch == 0x5C:
            out.append("\\\\")
        elif ch == 10:
            out.append("\\n")
        elif ch == 13:
            out.append("\\r")
        elif ch == 9:
            out.append("\\t")
        elif 32 <= ch < 127:
            out.append(chr(ch))
        else:
            out.append(f"\\x{ch:02x}")
    return "".join(out)
