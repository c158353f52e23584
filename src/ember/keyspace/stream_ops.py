"""Stream internals shared by the stream commands (Redis 7.0 ``t_stream.c`` semantics).

* Stream IDs: parsing with Redis's exact rules (``streamGenericParseIDOrReply`` /
  ``string2ull``), formatting, increment/decrement.
* The listpack-node model. Redis stores a stream as a radix tree of listpacks ("nodes")
  of at most ``stream-node-max-entries`` entries / ``stream-node-max-bytes`` bytes;
  entries removed by XDEL or by an exact trim stay in their node as tombstones. What
  clients can observe of that layout is approximate trimming (``MAXLEN ~`` / ``MINID
  ~`` only drop whole nodes), the propagated trim argument, and ``XINFO STREAM``'s
  ``radix-tree-keys``/``radix-tree-nodes``. ``Stream.nodes`` keeps one :class:`Node`
  per listpack (counters and byte size only: live entries stay in ``Stream.entries``).
  A stream without the model (loaded from RDB, restored) gets it rebuilt by appending
  its entries, the way the RDB writer lays them out.
* Consumer-group read counters and lag (``streamEstimateDistanceFromFirstEverEntry``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from ember.commands.args import is_canonical_int
from ember.errors import CommandError
from ember.keyspace.types import Stream, StreamID

MAX64 = (1 << 64) - 1
MAX_ID: StreamID = (MAX64, MAX64)
MIN_ID: StreamID = (0, 0)
LP_MAX_SIZE = 1 << 30  # STREAM_LISTPACK_MAX_SIZE

INVALID_ID = "ERR Invalid stream ID specified as stream command argument"

_WS = b" \t\n\r\x0b\x0c"


# ----------------------------------------------------------------------------- IDs


def _strtoull(s: bytes) -> int | None:
    """``string2ull``: strict integer first, else C ``strtoull`` (base 10) rules."""
    if not s:
        return None
    if is_canonical_int(s):
        v = int(s)
        return v if v >= 0 else None
    n = len(s)
    i = 0
    while i < n and s[i] in _WS:
        i += 1
    neg = False
    if i < n and s[i] in b"+-":
        neg = s[i] == 45
        i += 1
    j = i
    while j < n and 48 <= s[j] <= 57:
        j += 1
    if j == i or j != n:
        return None
    v = int(s[i:j])
    if v > MAX64:
        return None
    return (-v) & MAX64 if neg else v


def parse_id(
    b: bytes, missing_seq: int = 0, strict: bool = False, seq_star: bool = False
) -> tuple[int, int, bool]:
    """Parse ``<ms>[-<seq>]`` (and ``-``/``+`` unless strict; ``<ms>-*`` if seq_star).

    Returns ``(ms, seq, seq_given)``; raises the Redis error on invalid input.
    """
    if len(b) > 127:
        raise CommandError(INVALID_ID)
    if ord("\0") in b:
        b = b[: b.index(b"\0")]
    if b == b"-":
        if strict:
            raise CommandError(INVALID_ID)
        return 0, 0, True
    if b == b"+":
        if strict:
            raise CommandError(INVALID_ID)
        return MAX64, MAX64, True
    dot = b.find(b"-")
    if dot < 0:
        ms = _strtoull(b)
        if ms is None:
            raise CommandError(INVALID_ID)
        return ms, missing_seq, True
    ms = _strtoull(b[:dot])
    if ms is None:
        raise CommandError(INVALID_ID)
    rest = b[dot + 1 :]
    if seq_star and rest == b"*":
        return ms, 0, False
    seq = _strtoull(rest)
    if seq is None:
        raise CommandError(INVALID_ID)
    return ms, seq, True


def parse_strict(b: bytes) -> StreamID:
    ms, seq, _ = parse_id(b, 0, True)
    return ms, seq


def parse_interval(b: bytes, missing_seq: int) -> tuple[StreamID, bool]:
    """``streamParseIntervalIDOrReply``: ``(`` prefix = exclusive (strict ID after it)."""
    if len(b) > 1 and b[0] == 40:  # '('
        ms, seq, _ = parse_id(b[1:], missing_seq, True)
        return (ms, seq), True
    ms, seq, _ = parse_id(b, missing_seq)
    return (ms, seq), False


def fmt_id(i: StreamID) -> bytes:
    return b"%d-%d" % i


def incr_id(i: StreamID) -> tuple[StreamID, bool]:
    """Successor ID; ``(0-0, False)`` when ``i`` is the maximal ID (wraps like Redis)."""
    ms, seq = i
    if seq == MAX64:
        if ms == MAX64:
            return MIN_ID, False
        return (ms + 1, 0), True
    return (ms, seq + 1), True


def decr_id(i: StreamID) -> tuple[StreamID, bool]:
    ms, seq = i
    if seq == 0:
        if ms == 0:
            return MAX_ID, False
        return (ms - 1, MAX64), True
    return (ms, seq - 1), True


# ----------------------------------------------------------------------------- node model


class Node:
    """One listpack of the stream: master ID/fields, live and deleted counts, lpBytes."""

    __slots__ = ("master", "fields", "live", "deleted", "nbytes", "last")

    def __init__(self, master: StreamID, fields: list[bytes]) -> None:
        self.master = master
        self.fields = fields
        self.live = 0
        self.deleted = 0
        self.nbytes = 0
        self.last = master  # last ID in the listpack, tombstones included

    def __repr__(self) -> str:
        return f"Node({self.master}, live={self.live}, deleted={self.deleted}, bytes={self.nbytes})"


def _backlen(n: int) -> int:
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def _int_size(v: int) -> int:
    """Bytes of an integer listpack element (encoding + backlen)."""
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -8388608 <= v <= 8388607:
        return 5
    if -2147483648 <= v <= 2147483647:
        return 6
    return 10


def _el_size(x: bytes) -> int:
    """Bytes of a string element appended with ``lpAppend`` (integers are encoded as such)."""
    n = len(x)
    if n <= 20 and n and (x[0] == 45 or 48 <= x[0] <= 57) and is_canonical_int(x):
        return _int_size(int(x))
    if n < 64:
        enc = 1 + n
    elif n < 4096:
        enc = 2 + n
    else:
        enc = 5 + n
    return enc + _backlen(enc)


def _i64(v: int) -> int:
    v &= MAX64
    return v - (1 << 64) if v >= 1 << 63 else v


def _counter_delta(old: int, new: int) -> int:
    return _int_size(new) - _int_size(old)


def nodes_of(s: Stream, cfg: dict[str, Any]) -> list[Node]:
    nodes = s.nodes
    if nodes is None:
        nodes = s.nodes = []
        for eid, flat in s.entries.items():
            _append(nodes, eid, flat, cfg)
    return nodes


# counter values after which the listpack integer encoding grows
_GROW = frozenset((127, 4095, 32767, 8388607, 2147483647))


def _append(nodes: list[Node], eid: StreamID, flat: list[bytes], cfg: dict[str, Any]) -> None:
    tot = sum(map(len, flat))
    node = nodes[-1] if nodes else None
    if node is not None:
        max_bytes = cfg["stream-node-max-bytes"]
        if max_bytes <= 0 or max_bytes > LP_MAX_SIZE:
            max_bytes = LP_MAX_SIZE
        max_entries = cfg["stream-node-max-entries"]
        if node.nbytes + tot >= max_bytes or (
            max_entries and node.live + node.deleted >= max_entries
        ):
            node = None
    fields = flat[0::2]
    nf = len(fields)
    if node is None:
        node = Node(eid, fields)
        # header(6) + end(1) + count(1) + deleted(0) + numfields + fields + terminator(0)
        size = 7 + 2 + 2 + _int_size(nf) + 2
        for f in fields:
            size += _el_size(f)
        node.nbytes = size
        nodes.append(node)
        same = True
    else:
        if node.live in _GROW:
            node.nbytes += _counter_delta(node.live, node.live + 1)
        same = fields == node.fields
    d = eid[0] - node.master[0]
    size = 4 if 0 <= d <= 127 else 2 + _int_size(_i64(d))
    d = eid[1] - node.master[1]
    size += 2 if 0 <= d <= 127 else _int_size(_i64(d))
    if same:
        for v in flat[1::2]:
            size += _el_size(v)
        size += _int_size(nf + 3)
    else:
        size += _int_size(nf)
        for x in flat:
            size += _el_size(x)
        size += _int_size(2 * nf + 4)
    node.nbytes += size
    node.live += 1
    node.last = eid


def append_entry(s: Stream, eid: StreamID, flat: list[bytes], cfg: dict[str, Any]) -> None:
    """``streamAppendItem`` once the ID is validated."""
    _append(nodes_of(s, cfg), eid, flat, cfg)
    s.entries[eid] = flat
    s.entries_added += 1
    s.last_id = eid
    if len(s.entries) == 1:
        s.first_id = eid


def delete_entry(s: Stream, eid: StreamID, cfg: dict[str, Any]) -> bool:
    """Remove one entry (XDEL): a tombstone in its node, or the whole node if last."""
    entries = s.entries
    if eid not in entries:
        return False
    nodes = nodes_of(s, cfg)
    del entries[eid]
    i = bisect_right(nodes, eid, key=_master) - 1
    if i >= 0:
        node = nodes[i]
        if node.live <= 1:
            del nodes[i]
        else:
            node.nbytes += _counter_delta(node.live, node.live - 1)
            node.nbytes += _counter_delta(node.deleted, node.deleted + 1)
            node.live -= 1
            node.deleted += 1
    return True


def _master(n: Node) -> StreamID:
    return n.master


def first_edge(s: Stream, cfg: dict[str, Any]) -> StreamID:
    """``streamGetEdgeID(s,1,0)``: first ID including tombstones; MAX_ID when empty."""
    nodes = nodes_of(s, cfg)
    return nodes[0].master if nodes else MAX_ID


def trim(
    s: Stream,
    cfg: dict[str, Any],
    maxlen: int | None,
    minid: StreamID,
    approx: bool,
    limit: int,
    before: Callable[[], None],
) -> int:
    """``streamTrim``: by length (``maxlen`` not None) or by minimal ID. Returns deleted."""
    entries = s.entries
    nodes = nodes_of(s, cfg)
    deleted = 0
    announced = False
    while nodes:
        if maxlen is not None and len(entries) <= maxlen:
            break
        node = nodes[0]
        n = node.live
        if limit and deleted + n > limit:
            break
        if maxlen is not None:
            remove = len(entries) - n >= maxlen
        else:
            remove = node.last < minid
        if remove:
            if not announced:
                before()
                announced = True
            keys = entries.keys()
            k = 0
            while k < n and keys and keys[0] <= node.last:
                entries.popitem(0)
                k += 1
            del nodes[0]
            deleted += k
            continue
        if approx:
            break
        keys = list(entries.irange(node.master, node.last))
        k = 0
        for eid in keys:
            if maxlen is not None:
                if len(entries) <= maxlen:
                    break
            elif eid >= minid:
                break
            if not announced:
                before()
                announced = True
            del entries[eid]
            k += 1
        if k:
            node.nbytes += _counter_delta(node.live, node.live - k)
            node.nbytes += _counter_delta(node.deleted, node.deleted + k)
            node.live -= k
            node.deleted += k
            deleted += k
        break
    if not entries:
        s.first_id = MIN_ID
    elif deleted:
        s.first_id = entries.keys()[0]
    return deleted


def rax_nodes(nodes: list[Node]) -> int:
    """``rax->numnodes`` of the radix tree holding the node keys (128-bit big endian)."""
    keys = [n.master[0].to_bytes(8, "big") + n.master[1].to_bytes(8, "big") for n in nodes]
    if not keys:
        return 1
    return _rax_count(keys, 0)


def _rax_count(keys: list[bytes], depth: int) -> int:
    # keys: sorted, distinct, same length (16); count the nodes of the subtree at
    # prefix keys[0][:depth]
    total = 0
    stack = [(keys, depth)]
    while stack:
        ks, d = stack.pop()
        total += 1
        if len(ks) == 1:
            if d < len(ks[0]):
                total += 1  # compressed node holding the rest, then the leaf
            continue
        # common extension (compressed node)
        first, last = ks[0], ks[-1]
        e = d
        while first[e] == last[e]:
            e += 1
        if e > d:
            total += 1  # the compressed node at d leads to the branching node at e
        # branching node at e: children by next byte
        groups: dict[int, list[bytes]] = {}
        for k in ks:
            groups.setdefault(k[e], []).append(k)
        for sub in groups.values():
            stack.append((sub, e + 1))
    return total


# ----------------------------------------------------------------------------- groups


def has_tombstones(s: Stream, start: StreamID | None, end: StreamID | None) -> bool:
    """``streamRangeHasTombstones``."""
    mdel = s.max_deleted_id
    if not s.entries or mdel == MIN_ID:
        return False
    if s.first_id > mdel:
        return False
    lo = start if start is not None else MIN_ID
    hi = end if end is not None else MAX_ID
    return lo <= mdel <= hi


def estimate_distance(s: Stream, eid: StreamID) -> int:
    """``streamEstimateDistanceFromFirstEverEntry``; -1 when unknown."""
    if not s.entries_added:
        return 0
    if not s.entries and eid <= s.last_id:
        return s.entries_added
    if eid == s.last_id:
        return s.entries_added
    if eid > s.last_id:
        return -1
    mdel = s.max_deleted_id
    if mdel == MIN_ID or mdel < s.first_id:
        if eid < s.first_id:
            return s.entries_added - len(s.entries)
        if eid == s.first_id:
            return s.entries_added - len(s.entries) + 1
    return -1


def group_lag(s: Stream, g: Any) -> int | None:
    """``streamReplyWithCGLag``: entries not yet delivered to the group, or None."""
    if not s.entries_added:
        return 0
    if g.entries_read != -1 and not has_tombstones(s, g.last_id, None):
        return s.entries_added - g.entries_read
    er = estimate_distance(s, g.last_id)
    if er != -1:
        return s.entries_added - er
    return None
