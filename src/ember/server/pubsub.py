"""Pub/Sub delivery, keyspace notifications and MONITOR feeds.

The commands live in :mod:`ember.commands.pubsub`; this module holds the state changes
and message fan-out they and the keyspace use.

Subscriptions are kept twice, as Redis does: per client (``c.channels``,
``c.patterns``, ``c.shard_channels``: insertion-ordered dicts used as ordered sets) and
per server (``srv.pubsub_channels`` etc.: name -> ordered dict of subscribed clients,
so messages reach subscribers in subscription order). A message is encoded once per
protocol and the same bytes are queued to every receiver.
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from ember.protocol.resp import Push, encode

if TYPE_CHECKING:
    from ember.server.client import Client
    from ember.server.server import Server

# notify-keyspace-events class bits (Redis NOTIFY_*)
NOTIFY_KEYSPACE: Final = 1  # 1 << 0: K
NOTIFY_KEYEVENT: Final = 2  # 1 << 1: E
NOTIFY_GENERIC: Final = 4  # 1 << 2: g
NOTIFY_STRING: Final = 8  # 1 << 3: $
NOTIFY_LIST: Final = 16  # 1 << 4: l
NOTIFY_SET: Final = 32  # 1 << 5: s
NOTIFY_HASH: Final = 64  # 1 << 6: h
NOTIFY_ZSET: Final = 128  # 1 << 7: z
NOTIFY_EXPIRED: Final = 256  # 1 << 8: x
NOTIFY_EVICTED: Final = 512  # 1 << 9: e
NOTIFY_STREAM: Final = 1024  # 1 << 10: t
NOTIFY_KEY_MISS: Final = 2048  # 1 << 11: m
NOTIFY_LOADED: Final = 4096  # 1 << 12
NOTIFY_MODULE: Final = 8192  # 1 << 13: d
NOTIFY_NEW: Final = 16384  # 1 << 14: n
NOTIFY_ALL = (
    NOTIFY_GENERIC
    | NOTIFY_STRING
    | NOTIFY_LIST
    | NOTIFY_SET
    | NOTIFY_HASH
    | NOTIFY_ZSET
    | NOTIFY_EXPIRED
    | NOTIFY_EVICTED
    | NOTIFY_STREAM
    | NOTIFY_MODULE
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

_flags_cache: dict[str, int] = {}


def flags_from_string(s: str) -> int:
    """``keyspaceEventsStringToFlags`` (unknown characters are rejected by the config)."""
    bits = _flags_cache.get(s)
    if bits is None:
        bits = 0
        for ch in s:
            bits |= _CHAR_BITS.get(ch, 0)
        if len(_flags_cache) > 256:
            _flags_cache.clear()
        _flags_cache[s] = bits
    return bits


def notify_enabled(srv: Server, kind: int) -> bool:
    """Would an event of class ``kind`` be published with the current configuration?"""
    flags = flags_from_string(srv.config.values["notify-keyspace-events"])
    return bool(flags & kind) and bool(flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT))


def notify_keyspace_event(srv: Server, kind: int, event: bytes, key: bytes, dbid: int) -> None:
    """notifyKeyspaceEvent: ``kind`` is a NOTIFY_* class bit."""
    # Db.expire_key used to pass 0x20: map it to NOTIFY_EXPIRED
    if kind == 0x20 and event == b"expired":
        kind = NOTIFY_EXPIRED
    flags = flags_from_string(srv.config.values["notify-keyspace-events"])
    if not flags & kind:
        return
    if flags & NOTIFY_KEYSPACE:
        publish(srv, b"__keyspace@%d__:%s" % (dbid, key), event)
    if flags & NOTIFY_KEYEVENT:
        publish(srv, b"__keyevent@%d__:%s" % (dbid, event), key)


# ---------------------------------------------------------------------------- delivery


def _deliver(srv: Server, clients: dict[Client, None], items: list[bytes]) -> int:
    """Queue one message to every client in ``clients``; encode once per protocol."""
    r2: bytes | None = None
    r3: bytes | None = None
    n = 0
    written = 0
    # (Client.push_raw inlined: this loop is the fan-out hot path)
    for c in list(clients):  # a copy: a client over its output limit unsubscribes on the way
        n += 1
        if c.resp3:
            if r3 is None:
                r3 = encode(Push(items), True)
            data = r3
        else:
            if r2 is None:
                r2 = encode(Push(items), False)
            data = r2
        out = c.out
        if out:
            out.append(data)  # the client is mid-batch: keep ordering with its replies
            continue
        tr = c.transport
        if tr is None or c.closing:
            continue
        tr.write(data)
        written += len(data)
        if tr.get_write_buffer_size():
            c.check_output_limits()
    srv.stats.total_net_output_bytes += written
    return n


def publish(srv: Server, channel: bytes, message: bytes) -> int:
    """pubsubPublishMessage: deliver to channel subscribers, then to matching patterns."""
    receivers = 0
    subs = srv.pubsub_channels.get(channel)
    if subs:
        receivers = _deliver(srv, subs, [b"message", channel, message])
    if srv.pubsub_patterns:
        for pattern, clients in list(srv.pubsub_patterns.items()):
            if pattern_matcher(pattern)(channel):
                receivers += _deliver(srv, clients, [b"pmessage", pattern, channel, message])
    return receivers


def spublish(srv: Server, channel: bytes, message: bytes) -> int:
    """Sharded publish: shard channel subscribers only (patterns are ignored)."""
    subs = srv.pubsub_shard_channels.get(channel)
    if not subs:
        return 0
    return _deliver(srv, subs, [b"smessage", channel, message])


# ---------------------------------------------------------------------------- glob matching


def glob_match(pattern: bytes, subject: bytes, nocase: bool = False) -> bool:
    """Redis ``stringmatchlen`` semantics (glob with [] classes and \\ escapes).

    As in Redis, an empty subject only matches an empty pattern (not even ``*``).
    """
    if not subject:
        return not pattern
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


def fast_glob(pattern: bytes) -> Callable[[bytes], bool]:
    """Compile a glob into a predicate on bytes (a regex when the pattern allows it).

    Same results as :func:`glob_match` (callers shortcut ``*`` themselves where Redis
    does, e.g. KEYS and SCAN).
    """
    if ord("[") in pattern or ord("\\") in pattern:
        return lambda s: glob_match(pattern, s)
    if ord("*") not in pattern and ord("?") not in pattern:
        return pattern.__eq__
    rx = re.compile(fnmatch.translate(pattern.decode("latin-1")).encode("latin-1"), re.DOTALL)
    match = rx.match
    return lambda s: match(s) is not None if s else False


_matchers: dict[bytes, Callable[[bytes], bool]] = {}


def pattern_matcher(pattern: bytes) -> Callable[[bytes], bool]:
    """Cached :func:`fast_glob` for subscribed patterns."""
    m = _matchers.get(pattern)
    if m is None:
        if len(_matchers) > 4096:
            _matchers.clear()
        m = _matchers[pattern] = fast_glob(pattern)
    return m


# ---------------------------------------------------------------------------- subscriptions


def subscription_count(c: Client) -> int:
    """clientSubscriptionsCount: channels + patterns (shard channels are counted apart)."""
    return len(c.channels) + len(c.patterns)


def subscribe(
    c: Client, table: dict[bytes, dict[Client, None]], mine: dict[bytes, None], name: bytes
) -> bool:
    """Add ``name`` to the client's and the server's tables; False if already there."""
    if name in mine:
        return False
    mine[name] = None
    subs = table.get(name)
    if subs is None:
        subs = table[name] = {}
    subs[c] = None
    return True


def unsubscribe(
    c: Client, table: dict[bytes, dict[Client, None]], mine: dict[bytes, None], name: bytes
) -> bool:
    if name not in mine:
        return False
    del mine[name]
    _drop(table, name, c)
    return True


def unsubscribe_all(client: Client) -> None:
    """Drop every subscription silently (disconnect, RESET)."""
    srv = client.server
    for ch in client.channels:
        _drop(srv.pubsub_channels, ch, client)
    for pat in client.patterns:
        _drop(srv.pubsub_patterns, pat, client)
    for ch in client.shard_channels:
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


# ---------------------------------------------------------------------------- MONITOR


def _redacted(argv: list[bytes]) -> set[int]:
    name = argv[0].lower()
    if name == b"auth":
        return set(range(1, len(argv)))
    out: set[int] = set()
    if name == b"hello":
        i = 2
        while i < len(argv):
            opt = argv[i].lower()
            if opt == b"auth" and i + 2 < len(argv):
                out.update((i + 1, i + 2))
                i += 3
            elif opt == b"setname":
                i += 2
            else:
                i += 1
    elif name == b"migrate":
        for i in range(6, len(argv)):
            opt = argv[i].lower()
            if opt == b"auth" and i + 1 < len(argv):
                out.add(i + 1)
                break
            if opt == b"auth2" and i + 2 < len(argv):
                out.update((i + 1, i + 2))
                break
            if opt == b"keys":
                break
    return out


def feed_monitors(client: Client, argv: list[bytes], dbid: int | None = None) -> None:
    """replicationFeedMonitors: one ``+<time> [<db> <addr>] "arg" ...`` line to each monitor."""
    srv = client.server
    if srv.loading or not srv.monitors:
        return
    ns = time.time_ns()
    if client.unix:
        where = "unix:" + str(srv.config.values.get("unixsocket", ""))
    else:
        where = client.addr
    hidden = _redacted(argv) if argv and argv[0].lower() in _REDACTING else ()
    parts = []
    for i, a in enumerate(argv):
        parts.append(b'"(redacted)"' if i in hidden else b'"' + repr_arg(a) + b'"')
    secs, usec = ns // 1_000_000_000, (ns // 1000) % 1_000_000
    head = f"+{secs}.{usec:06d} [{client.db.id if dbid is None else dbid} {where}] "
    line = head.encode() + b" ".join(parts) + b"\r\n"
    for m in list(srv.monitors):
        if m.transport is not None and not m.closing:
            m.push_raw(line)


_REDACTING = {b"auth", b"hello", b"migrate"}

_REPR = {0x22: b'\\"', 0x5C: b"\\\\", 10: b"\\n", 13: b"\\r", 9: b"\\t", 7: b"\\a", 8: b"\\b"}
_REPR_TABLE = [_REPR.get(i, bytes([i]) if 32 <= i < 127 else b"\\x%02x" % i) for i in range(256)]
_PLAIN = re.compile(rb'[^\x20-\x7e]|["\\]')


def repr_arg(b: bytes) -> bytes:
    """``sdscatrepr`` without the surrounding quotes."""
    if _PLAIN.search(b) is None:
        return bytes(b)
    t = _REPR_TABLE
    return b"".join([t[ch] for ch in b])
