"""List commands (Redis 7.0): LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LINDEX LSET LINSERT
LRANGE LTRIM LREM LPOS LMOVE RPOPLPUSH LMPOP and the blocking BLPOP BRPOP BLMOVE
BRPOPLPUSH BLMPOP.

A list is a ``collections.deque`` of bytes. Empty lists are deleted. Blocking commands
try the non-blocking path first; otherwise they block (``Client.block_on``) and are
served FIFO when a key they wait on is signalled ready, popping from *that* key. They
are propagated as the non-blocking equivalent (BLPOP -> LPOP, BLMPOP -> LPOP key n,
BLMOVE -> LMOVE, BRPOPLPUSH -> RPOPLPUSH), exactly like Redis 7.0.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import islice
from typing import Any, Final

from ember import errors
from ember.commands.args import LLONG_MAX, LLONG_MIN, parse_int
from ember.commands.registry import Flag, command
from ember.errors import CommandError
from ember.keyspace.db import Db
from ember.protocol.resp import NULL_ARRAY, OK, Raw, encode_bulk_strings
from ember.server.client import BLOCKED, Client
from ember.server.pubsub import NOTIFY_GENERIC, NOTIFY_LIST

G = "list"
W = Flag.WRITE
WD = Flag.WRITE | Flag.DENYOOM
RO = Flag.READONLY
K1 = (1, 1, 1)

HEAD: Final = 0
TAIL: Final = 1
_POP_EVENT: Final = (b"lpop", b"rpop")
_PUSH_EVENT: Final = (b"lpush", b"rpush")
_POP_CMD: Final = (b"LPOP", b"RPOP")
_SIDE_NAME: Final = (b"left", b"right")

# (compiled: the classes read from statics, not looked up in the module per call)
_deque: Final = deque
_islice: Final = islice


def range_long(b: bytes, lo: int, hi: int, msg: str | None = None) -> int:
    """``getRangeLongFromObjectOrReply``: ``msg`` replaces every error when given."""
    v = parse_int(b, msg or errors.NOT_INTEGER)
    if v < lo or v > hi:
        raise CommandError(msg or f"ERR value is out of range, value must between {lo} and {hi}")
    return v


def positive_long(b: bytes, msg: str | None = None) -> int:
    """``getPositiveLongFromObjectOrReply``."""
    return range_long(b, 0, LLONG_MAX, msg or "ERR value is out of range, must be positive")


def block_timeout(b: bytes) -> float:
    """``getTimeoutFromObjectOrReply`` (seconds, Redis 7.0): a long double, rounded up to
    whole milliseconds; 0 blocks forever. Infinite or out-of-range values become a
    negative C long long in Redis, hence "timeout is negative"."""
    from ember.commands.hash import _Inf, _ld_round, ld_parse  # (hash imports this module)

    v = ld_parse(b, "ERR timeout is not a float or out of range")
    if isinstance(v, float):
        raise CommandError("ERR timeout is negative")
    try:
        ms = math.ceil(_ld_round(v * 1000))
    except _Inf:
        raise CommandError("ERR timeout is negative") from None
    if ms < 0 or ms > LLONG_MAX:
        raise CommandError("ERR timeout is negative")
    return min(ms / 1000, 1e8)


def numkeys_positions(numkeys_idx: int) -> Any:
    """``COMMAND GETKEYS`` for ``numkeys key [key ...]`` commands (LMPOP, ZUNION...)."""

    def keys_fn(argv: list[bytes]) -> list[int]:
        n = int(argv[numkeys_idx])
        first = numkeys_idx + 1
        if n < 1 or n > len(argv) - first:
            raise ValueError("bad numkeys")
        return list(range(first, first + n))

    return keys_fn


def bulk_array(items: list[bytes], head: bytes = b"*") -> Any:
    """Pre-encode an array of bulk strings (valid in RESP2 and RESP3; ``head`` may be
    ``~`` for a RESP3 set or ``%`` with an even-length ``items`` for a map). Small
    arrays and long items are left to the encoder (None for ``~``/``%``)."""
    n = len(items)
    data = (
        encode_bulk_strings(items, head + b"%d" % (n // 2 if head == b"%" else n))
        if n >= 8
        else None
    )
    if data is None:
        return items if head == b"*" else None
    return Raw(data)


def _get_list(db: Db, key: bytes) -> deque[bytes] | None:
    v = db.lookup(key)
    if v is None or type(v) is _deque:
        return v
    raise CommandError(errors.WRONGTYPE)


def _where(arg: bytes) -> int:
    a = arg.lower()
    if a == b"left":
        return HEAD
    if a == b"right":
        return TAIL
    raise CommandError(errors.SYNTAX)


def list_range(d: deque[bytes], start: int, end: int) -> list[bytes]:
    """Elements ``start..end`` (inclusive, Redis index rules, may be negative)."""
    n = len(d)
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return []
    if end >= n:
        end = n - 1
    if start == 0 and end == n - 1:
        return list(d)
    if start > n - 1 - end:  # nearer to the tail: walk from there
        out = list(_islice(reversed(d), n - 1 - end, n - start))
        out.reverse()
        return out
    return list(_islice(d, start, end + 1))


def _pop_n(d: deque[bytes], where: int, n: int) -> list[bytes]:
    """Pop ``n`` (<= len) elements from one end, in pop order."""
    if n >= len(d):
        out = list(d) if where == HEAD else list(reversed(d))
        d.clear()
        return out
    pop = d.popleft if where == HEAD else d.pop
    return [pop() for _ in range(n)]


def _removed(c: Client, db: Db, key: bytes, where: int, d: deque[bytes], n: int) -> None:
    """listElementsRemoved: notifications, delete when empty, dirty."""
    srv = c.server
    srv.notify(NOTIFY_LIST, _POP_EVENT[where], key, db.id)
    if not d:
        db.delete(key)
        srv.notify(NOTIFY_GENERIC, b"del", key, db.id)
    srv.dirty += n


# ------------------------------------------------------------------------------ push


def _push(c: Client, argv: list[bytes], where: int, xx: bool) -> Any:
    db = c.db
    key = argv[1]
    d = db.lookup(key)
    if d is None:
        if xx:
            return 0
        d = _deque(argv[2:])
        if where == HEAD:
            d.reverse()
        db.add(key, d)
    elif type(d) is _deque:
        db.will_write(key)
        if where == HEAD:
            d.extendleft(argv[2:])
        else:
            d.extend(argv[2:])
    else:
        raise CommandError(errors.WRONGTYPE)
    srv = c.server
    srv.dirty += len(argv) - 2
    srv.notify(NOTIFY_LIST, _PUSH_EVENT[where], key, db.id)
    return len(d)


@command(
    "lpush",
    -3,
    WD | Flag.FAST,
    keys=K1,
    group=G,
    summary="Prepends one or more elements to a list. Creates the key if it doesn't exist.",
)
def lpush(c: Client, argv: list[bytes]) -> Any:
    return _push(c, argv, HEAD, False)


@command(
    "rpush",
    -3,
    WD | Flag.FAST,
    keys=K1,
    group=G,
    summary="Appends one or more elements to a list. Creates the key if it doesn't exist.",
)
def rpush(c: Client, argv: list[bytes]) -> Any:
    return _push(c, argv, TAIL, False)


@command(
    "lpushx",
    -3,
    WD | Flag.FAST,
    keys=K1,
    group=G,
    since="2.2.0",
    summary="Prepends one or more elements to a list only when the list exists.",
)
def lpushx(c: Client, argv: list[bytes]) -> Any:
    return _push(c, argv, HEAD, True)


@command(
    "rpushx",
    -3,
    WD | Flag.FAST,
    keys=K1,
    group=G,
    since="2.2.0",
    summary="Appends an element to a list only when the list exists.",
)
def rpushx(c: Client, argv: list[bytes]) -> Any:
    return _push(c, argv, TAIL, True)


# ------------------------------------------------------------------------------ pop


def _pop(c: Client, argv: list[bytes], where: int) -> Any:
    n = len(argv)
    if n > 3:
        raise errors.wrong_args(argv[0].decode(errors="replace").lower())
    count = positive_long(argv[2]) if n == 3 else -1
    db = c.db
    key = argv[1]
    d = _get_list(db, key)
    if d is None:
        return NULL_ARRAY if n == 3 else None
    if count == 0:
        return []
    db.will_write(key)
    if count < 0:
        v = d.popleft() if where == HEAD else d.pop()
        _removed(c, db, key, where, d, 1)
        return v
    out = _pop_n(d, where, count)
    _removed(c, db, key, where, d, len(out))
    return out


@command(
    "lpop",
    -2,
    W | Flag.FAST,
    keys=K1,
    group=G,
    summary="Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
)
def lpop(c: Client, argv: list[bytes]) -> Any:
    return _pop(c, argv, HEAD)


@command(
    "rpop",
    -2,
    W | Flag.FAST,
    keys=K1,
    group=G,
    summary="Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
)
def rpop(c: Client, argv: list[bytes]) -> Any:
    return _pop(c, argv, TAIL)


# ------------------------------------------------------------------------------ reads


@command("llen", 2, RO | Flag.FAST, keys=K1, group=G, summary="Returns the length of a list.")
def llen(c: Client, argv: list[bytes]) -> Any:
    d = _get_list(c.db, argv[1])
    return 0 if d is None else len(d)


@command("lindex", 3, RO, keys=K1, group=G, summary="Returns an element from a list by its index.")
def lindex(c: Client, argv: list[bytes]) -> Any:
    d = _get_list(c.db, argv[1])
    if d is None:
        return None
    i = parse_int(argv[2])
    n = len(d)
    if i < 0:
        i += n
    if 0 <= i < n:
        return d[i]
    return None


@command("lrange", 4, RO, keys=K1, group=G, summary="Returns a range of elements from a list.")
def lrange(c: Client, argv: list[bytes]) -> Any:
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    d = _get_list(c.db, argv[1])
    if d is None:
        return []
    return bulk_array(list_range(d, start, end))


_RANK_ZERO = (
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)


@command(
    "lpos",
    -3,
    RO,
    keys=K1,
    group=G,
    since="6.0.6",
    summary="Returns the index of matching elements in a list.",
)
def lpos(c: Client, argv: list[bytes]) -> Any:
    ele = argv[2]
    rank = 1
    count = -1
    maxlen = 0
    i = 3
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        more = i + 1 < n
        if opt == b"rank" and more:
            rank = parse_int(argv[i + 1])
            if rank == 0:
                raise CommandError(_RANK_ZERO)
        elif opt == b"count" and more:
            count = positive_long(argv[i + 1], "ERR COUNT can't be negative")
        elif opt == b"maxlen" and more:
            maxlen = positive_long(argv[i + 1], "ERR MAXLEN can't be negative")
        else:
            raise CommandError(errors.SYNTAX)
        i += 2
    d = _get_list(c.db, argv[1])
    if d is None:
        return [] if count != -1 else None
    size = len(d)
    reverse = rank < 0
    if reverse:
        # Redis negates a C long: LLONG_MIN stays negative, i.e. "the first match"
        rank = 1 if rank == LLONG_MIN else -rank
    stop = size if maxlen == 0 or maxlen > size else maxlen
    if count == -1:
        # single match: scan in C (deque.index), copying only when searching from the tail
        seq: Any = list(_islice(reversed(d), stop)) if reverse else d
        pos = -1
        for _ in range(rank):
            try:
                pos = seq.index(ele, pos + 1, stop)
            except ValueError:
                return None
        return size - 1 - pos if reverse else pos
    seq = list(_islice(reversed(d), stop)) if reverse else list(_islice(d, stop))
    out: list[int] = []
    pos = -1
    matches = 0
    while True:
        try:
            pos = seq.index(ele, pos + 1)
        except ValueError:
            break
        matches += 1
        if matches >= rank:
            out.append(size - 1 - pos if reverse else pos)
            if count and len(out) >= count:
                break
    return out


# ------------------------------------------------------------------------------ edits


@command(
    "lset", 4, WD, keys=K1, group=G, summary="Sets the value of an element in a list by its index."
)
def lset(c: Client, argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    d = _get_list(db, key)
    if d is None:
        raise CommandError(errors.NO_SUCH_KEY)
    i = parse_int(argv[2])
    n = len(d)
    if i < 0:
        i += n
    if not 0 <= i < n:
        raise CommandError("ERR index out of range")
    db.will_write(key)
    d[i] = argv[3]
    srv = c.server
    srv.dirty += 1
    srv.notify(NOTIFY_LIST, b"lset", key, db.id)
    return OK


@command(
    "linsert",
    5,
    WD,
    keys=K1,
    group=G,
    since="2.2.0",
    summary="Inserts an element before or after another element in a list.",
)
def linsert(c: Client, argv: list[bytes]) -> Any:
    w = argv[2].lower()
    if w == b"after":
        after = True
    elif w == b"before":
        after = False
    else:
        raise CommandError(errors.SYNTAX)
    db = c.db
    key = argv[1]
    d = _get_list(db, key)
    if d is None:
        return 0
    try:
        i = d.index(argv[3])
    except ValueError:
        return -1
    db.will_write(key)
    d.insert(i + 1 if after else i, argv[4])
    srv = c.server
    srv.dirty += 1
    srv.notify(NOTIFY_LIST, b"linsert", key, db.id)
    return len(d)


@command(
    "lrem",
    4,
    W,
    keys=K1,
    group=G,
    summary="Removes elements from a list. Deletes the list if the last element was removed.",
)
def lrem(c: Client, argv: list[bytes]) -> Any:
    toremove = parse_int(argv[2])
    db = c.db
    key = argv[1]
    d = _get_list(db, key)
    if d is None:
        return 0
    ele = argv[3]
    total = d.count(ele)
    if not total:
        return 0
    limit = abs(toremove)
    db.will_write(key)
    if toremove == 0 or limit >= total:
        kept = list(filter(ele.__ne__, d))
        removed = total
        d.clear()
        d.extend(kept)
    elif limit <= 16:
        removed = limit
        if toremove > 0:
            for _ in range(limit):
                d.remove(ele)
        else:
            d.reverse()
            for _ in range(limit):
                d.remove(ele)
            d.reverse()
    else:
        seq = list(d) if toremove > 0 else list(reversed(d))
        pieces: list[bytes] = []
        pos = 0
        for _ in range(limit):
            j = seq.index(ele, pos)
            pieces.extend(seq[pos:j])
            pos = j + 1
        pieces.extend(seq[pos:])
        if toremove < 0:
            pieces.reverse()
        removed = limit
        d.clear()
        d.extend(pieces)
    srv = c.server
    srv.dirty += removed
    srv.notify(NOTIFY_LIST, b"lrem", key, db.id)
    if not d:
        db.delete(key)
        srv.notify(NOTIFY_GENERIC, b"del", key, db.id)
    return removed


@command(
    "ltrim",
    4,
    W,
    keys=K1,
    group=G,
    summary="Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
)
def ltrim(c: Client, argv: list[bytes]) -> Any:
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    db = c.db
    key = argv[1]
    d = _get_list(db, key)
    if d is None:
        return OK
    n = len(d)
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        ltrim_n, rtrim_n = n, 0
    else:
        if end >= n:
            end = n - 1
        ltrim_n, rtrim_n = start, n - end - 1
    db.will_write(key)
    kept = n - ltrim_n - rtrim_n
    if ltrim_n + rtrim_n > 64 and kept < ltrim_n + rtrim_n:
        keep = list(_islice(d, ltrim_n, n - rtrim_n)) if kept else []
        d.clear()
        d.extend(keep)
    else:
        for _ in range(ltrim_n):
            d.popleft()
        for _ in range(rtrim_n):
            d.pop()
    srv = c.server
    srv.notify(NOTIFY_LIST, b"ltrim", key, db.id)
    if not d:
        db.delete(key)
        srv.notify(NOTIFY_GENERIC, b"del", key, db.id)
    srv.dirty += ltrim_n + rtrim_n
    return OK


# ------------------------------------------------------------------------------ move


def _move(
    c: Client, db: Db, src: bytes, dst: bytes, d: deque[bytes], wfrom: int, wto: int
) -> bytes:
    """Pop from ``d`` (the list at ``src``) and push onto ``dst`` (already type-checked)."""
    srv = c.server
    db.will_write(src)
    v = d.popleft() if wfrom == HEAD else d.pop()
    dd: deque[bytes] | None
    if src == dst:
        dd = d
    else:
        dd = db.peek(dst)  # caller looked it up (lazy expiry done) and type-checked it
        if dd is not None:
            db.will_write(dst)
    if dd is None:
        dd = deque((v,))
        db.add(dst, dd)
    elif wto == HEAD:
        dd.appendleft(v)
    else:
        dd.append(v)
    srv.notify(NOTIFY_LIST, _PUSH_EVENT[wto], dst, db.id)
    srv.notify(NOTIFY_LIST, _POP_EVENT[wfrom], src, db.id)
    if not d:
        db.delete(src)
        srv.notify(NOTIFY_GENERIC, b"del", src, db.id)
    srv.dirty += 1
    return v


def _lmove(c: Client, src: bytes, dst: bytes, wfrom: int, wto: int) -> Any:
    db = c.db
    d = _get_list(db, src)
    if d is None:
        return None
    _get_list(db, dst)  # type check only
    return _move(c, db, src, dst, d, wfrom, wto)


@command(
    "lmove",
    5,
    WD,
    keys=(1, 2, 1),
    group=G,
    since="6.2.0",
    summary="Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
)
def lmove(c: Client, argv: list[bytes]) -> Any:
    wfrom = _where(argv[3])
    wto = _where(argv[4])
    return _lmove(c, argv[1], argv[2], wfrom, wto)


@command(
    "rpoplpush",
    3,
    WD,
    keys=(1, 2, 1),
    group=G,
    since="1.2.0",
    summary="Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
)
def rpoplpush(c: Client, argv: list[bytes]) -> Any:
    return _lmove(c, argv[1], argv[2], TAIL, HEAD)


# ------------------------------------------------------------------------------ LMPOP


def _parse_mpop(argv: list[bytes], numkeys_idx: int) -> tuple[list[bytes], int, int]:
    numkeys = range_long(argv[numkeys_idx], 1, LLONG_MAX, "ERR numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise CommandError(errors.SYNTAX)
    where = _where(argv[where_idx])
    count = -1
    j = where_idx + 1
    n = len(argv)
    while j < n:
        if count == -1 and argv[j].lower() == b"count" and j + 1 < n:
            count = range_long(argv[j + 1], 1, LLONG_MAX, "ERR count should be greater than 0")
            j += 2
        else:
            raise CommandError(errors.SYNTAX)
    if count == -1:
        count = 1
    return argv[numkeys_idx + 1 : where_idx], where, count


def _mpop_from(c: Client, db: Db, key: bytes, d: deque[bytes], where: int, count: int) -> list[Any]:
    db.will_write(key)
    out = _pop_n(d, where, count)
    _removed(c, db, key, where, d, len(out))
    c.prop_argv = [_POP_CMD[where], key, b"%d" % len(out)]
    return [key, out]


@command(
    "lmpop",
    -4,
    Flag.WRITE,
    keys=(0, 0, 0),
    keys_fn=numkeys_positions(1),
    group=G,
    since="7.0.0",
    summary="Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
)
def lmpop(c: Client, argv: list[bytes]) -> Any:
    keys, where, count = _parse_mpop(argv, 1)
    db = c.db
    for key in keys:
        d = _get_list(db, key)
        if d:
            return _mpop_from(c, db, key, d, where, count)
    return NULL_ARRAY


# ------------------------------------------------------------------------------ blocking


def _served_key(c: Client) -> bytes | None:
    st = c.blocked
    return st.ready_key if st is not None else None


def _bpop(
    c: Client, argv: list[bytes], keys: list[bytes], where: int, timeout: float, count: int
) -> Any:
    """BLPOP/BRPOP (count -1) and BLMPOP (count >= 1)."""
    db = c.db
    for key in keys:
        d = _get_list(db, key)
        if d:
            if count != -1:
                return _mpop_from(c, db, key, d, where, count)
            db.will_write(key)
            v = d.popleft() if where == HEAD else d.pop()
            _removed(c, db, key, where, d, 1)
            c.prop_argv = [_POP_CMD[where], key]
            return [key, v]

    def retry() -> Any:
        key = _served_key(c)
        if key is None:
            return BLOCKED
        d = db.lookup(key)
        if type(d) is not _deque or not d:
            return BLOCKED
        if count != -1:
            return _mpop_from(c, db, key, d, where, count)
        db.will_write(key)
        v = d.popleft() if where == HEAD else d.pop()
        _removed(c, db, key, where, d, 1)
        c.prop_argv = [_POP_CMD[where], key]
        return [key, v]

    return c.block_on(keys, timeout, retry, NULL_ARRAY, argv)


@command(
    "blpop",
    -3,
    W | Flag.NOSCRIPT | Flag.BLOCKING,
    keys=(1, -2, 1),
    group=G,
    since="2.0.0",
    summary="Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
)
def blpop(c: Client, argv: list[bytes]) -> Any:
    timeout = block_timeout(argv[-1])
    return _bpop(c, argv, argv[1:-1], HEAD, timeout, -1)


@command(
    "brpop",
    -3,
    W | Flag.NOSCRIPT | Flag.BLOCKING,
    keys=(1, -2, 1),
    group=G,
    since="2.0.0",
    summary="Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
)
def brpop(c: Client, argv: list[bytes]) -> Any:
    timeout = block_timeout(argv[-1])
    return _bpop(c, argv, argv[1:-1], TAIL, timeout, -1)


@command(
    "blmpop",
    -5,
    Flag.WRITE | Flag.BLOCKING,
    keys=(0, 0, 0),
    keys_fn=numkeys_positions(2),
    group=G,
    since="7.0.0",
    summary="Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
)
def blmpop(c: Client, argv: list[bytes]) -> Any:
    keys, where, count = _parse_mpop(argv, 2)
    timeout = block_timeout(argv[1])
    return _bpop(c, argv, keys, where, timeout, count)


def _blmove(
    c: Client, argv: list[bytes], wfrom: int, wto: int, timeout: float, rpoplpush: bool
) -> Any:
    db = c.db
    src, dst = argv[1], argv[2]
    d = _get_list(db, src)
    if d is not None:
        _get_list(db, dst)
        v = _move(c, db, src, dst, d, wfrom, wto)
        c.prop_argv = (
            [b"RPOPLPUSH", src, dst] if rpoplpush else [b"LMOVE", src, dst, argv[3], argv[4]]
        )
        return v

    def retry() -> Any:
        d = db.lookup(src)
        if type(d) is not _deque or not d:
            return BLOCKED
        _get_list(db, dst)  # WRONGTYPE is the reply, and the client is unblocked
        v = _move(c, db, src, dst, d, wfrom, wto)
        if rpoplpush:
            c.prop_argv = [b"RPOPLPUSH", src, dst]
        else:
            c.prop_argv = [b"LMOVE", src, dst, _SIDE_NAME[wfrom], _SIDE_NAME[wto]]
        return v

    # a None timeout reply would mean "no reply" to the core: send the null bulk raw
    null = Raw(b"_\r\n" if c.resp3 else b"$-1\r\n")
    return c.block_on([src], timeout, retry, null, argv)


@command(
    "blmove",
    6,
    WD | Flag.NOSCRIPT | Flag.BLOCKING,
    keys=(1, 2, 1),
    group=G,
    since="6.2.0",
    summary="Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
)
def blmove(c: Client, argv: list[bytes]) -> Any:
    wfrom = _where(argv[3])
    wto = _where(argv[4])
    timeout = block_timeout(argv[5])
    return _blmove(c, argv, wfrom, wto, timeout, False)


@command(
    "brpoplpush",
    4,
    WD | Flag.NOSCRIPT | Flag.BLOCKING,
    keys=(1, 2, 1),
    group=G,
    since="2.2.0",
    summary="Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
)
def brpoplpush(c: Client, argv: list[bytes]) -> Any:
    timeout = block_timeout(argv[3])
    return _blmove(c, argv, TAIL, HEAD, timeout, True)
