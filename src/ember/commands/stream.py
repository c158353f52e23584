"""Stream commands (Redis 7.0): XADD XRANGE XREVRANGE XLEN XDEL XTRIM XREAD XREADGROUP
XGROUP XACK XPENDING XCLAIM XAUTOCLAIM XINFO XSETID.

Propagation follows ``t_stream.c``: XADD is propagated with the ID it generated and an
approximate trim (``~``) rewritten to its exact effect (``MAXLEN = <len>`` / ``MINID =
<first id>``); XREADGROUP, XCLAIM and XAUTOCLAIM are never propagated verbatim: each
PEL change becomes ``XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID
LASTID last`` and group-offset changes ``XGROUP SETID key group id ENTRIESREAD n``.

Blocking XREAD/XREADGROUP wait on their keys; XADD signals the key, as do XGROUP
DESTROY and the deletion/overwrite of a stream (blocked XREADGROUP clients then get
``-NOGROUP``/``-UNBLOCKED`` like Redis 7.0).
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from ember import errors
from ember.commands.args import parse_int
from ember.commands.registry import Flag, command, container
from ember.errors import CommandError
from ember.keyspace.db import Db, now_ms
from ember.keyspace.stream_ops import (
    MAX64,
    MAX_ID,
    MIN_ID,
    append_entry,
    decr_id,
    delete_entry,
    estimate_distance,
    first_edge,
    fmt_id,
    group_lag,
    has_tombstones,
    incr_id,
    nodes_of,
    parse_id,
    parse_interval,
    parse_strict,
    rax_nodes,
    trim,
)
from ember.keyspace.types import Consumer, ConsumerGroup, PendingEntry, Stream, StreamID
from ember.protocol.resp import NULL_ARRAY, OK, Raw, Status, encode
from ember.server.client import BLOCKED, Client
from ember.server.pubsub import NOTIFY_STREAM

G = "stream"
K1 = (1, 1, 1)
K2 = (2, 2, 1)
RO = Flag.READONLY

XADD_TOP = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
NOT_STREAM_KEY = (
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may "
    "want to use the MKSTREAM option to create an empty stream automatically."
)


def _s(b: bytes) -> str:
    """User text inside an error (C ``%s``: stops at NUL; newlines become spaces)."""
    if ord("\0") in b:
        b = b[: b.index(b"\0")]
    return b.decode(errors="replace").replace("\r", " ").replace("\n", " ")


def _stream(db: Db, key: bytes) -> Stream | None:
    v = db.lookup(key)
    if v is not None and type(v) is not Stream:
        raise CommandError(errors.WRONGTYPE)
    return v


def _subcmd_error(argv: list[bytes]) -> CommandError:
    return CommandError(
        f"ERR unknown subcommand or wrong number of arguments for '{_s(argv[1])[:128]}'. "
        f"Try {_s(argv[0]).upper()} HELP."
    )


def _nogroup(key: bytes, group: bytes) -> CommandError:
    return CommandError(f"NOGROUP No such key '{_s(key)}' or consumer group '{_s(group)}'")


def _before_change(db: Db, key: bytes) -> None:
    """An in-place change Redis does not signal (consumer-group state, XSETID): the
    snapshot hook must see it, but WATCH is not invalidated (no signalModifiedKey)."""
    hook = db.server.before_write
    if hook is not None:
        hook(db, key)


def _notify(c: Client, event: bytes, key: bytes) -> None:
    if c.server.config.values["notify-keyspace-events"]:
        c.server.notify(NOTIFY_STREAM, event, key, c.db.id)


# ----------------------------------------------------------------------------- XADD / XTRIM


class _TrimArgs:
    __slots__ = (
        "strategy",  # 0 none, 1 maxlen, 2 minid
        "approx",
        "limit",
        "maxlen",
        "minid",
        "arg_idx",
        "idpos",
        "id",
        "id_given",
        "seq_given",
        "nomkstream",
    )

    def __init__(self) -> None:
        self.strategy = 0
        self.approx = False
        self.limit = 0
        self.maxlen = 0
        self.minid: StreamID = MIN_ID
        self.arg_idx = 0
        self.idpos = 0
        self.id: StreamID = MIN_ID
        self.id_given = False
        self.seq_given = True
        self.nomkstream = False


_AUTO_ID = _TrimArgs()  # XADD key * ... (read-only)
_AUTO_ID.idpos = 2
_AUTO_ID.seq_given = False


def _trim_operator(a: _TrimArgs, argv: list[bytes], i: int, more: int) -> int:
    """MAXLEN / MINID at ``argv[i]``: the conflict check and the optional ``~`` / ``=``;
    returns the index just before the threshold argument."""
    if a.strategy:
        raise CommandError(
            "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
        )
    a.approx = False
    nxt = argv[i + 1]
    if more >= 2 and nxt == b"~":
        a.approx = True
        i += 1
    elif more >= 2 and nxt == b"=":
        i += 1
    return i


def _parse_trim_args(c: Client, argv: list[bytes], xadd: bool) -> _TrimArgs:
    """``streamParseAddOrTrimArgsOrReply``."""
    a = _TrimArgs()
    n = len(argv)
    i = 2
    limit_given = False
    while i < n:
        more = n - 1 - i
        opt = argv[i]
        if xadd and opt == b"*":
            break
        lo = opt.lower()
        if lo == b"maxlen" and more:
            i = _trim_operator(a, argv, i, more)
            a.maxlen = parse_int(argv[i + 1])
            if a.maxlen < 0:
                raise CommandError("ERR The MAXLEN argument must be >= 0.")
            i += 1
            a.strategy = 1
            a.arg_idx = i
        elif lo == b"minid" and more:
            i = _trim_operator(a, argv, i, more)
            a.minid = parse_strict(argv[i + 1])
            i += 1
            a.strategy = 2
            a.arg_idx = i
        elif lo == b"limit" and more:
            a.limit = parse_int(argv[i + 1])
            if a.limit < 0:
                raise CommandError("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and lo == b"nomkstream":
            a.nomkstream = True
        elif xadd:
            ms, seq, a.seq_given = parse_id(opt, 0, True, True)
            a.id = (ms, seq)
            a.id_given = True
            break
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    a.idpos = i
    if a.limit and not a.strategy:
        raise CommandError(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
        )
    if not xadd and not a.strategy:
        raise CommandError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if getattr(c, "is_loader", False) or getattr(c, "is_master", False):
        a.limit = 0  # mustObeyClient: the argument was rewritten to be exact
    elif limit_given:
        if not a.approx:
            raise CommandError(
                "ERR syntax error, LIMIT cannot be used without the special ~ option"
            )
    elif a.approx:
        lim = 100 * c.server.config.values["stream-node-max-entries"]
        if lim <= 0:
            lim = 10000
        a.limit = min(lim, 1000000)
    else:
        a.limit = 0
    return a


def _do_trim(c: Client, s: Stream, key: bytes, a: _TrimArgs) -> int:
    db = c.db
    return trim(
        s,
        c.server.config.values,
        a.maxlen if a.strategy == 1 else None,
        a.minid,
        a.approx,
        a.limit,
        lambda: db.will_write(key),
    )


def _rewrite_trim(c: Client, s: Stream, a: _TrimArgs, argv: list[bytes]) -> None:
    """``streamRewriteApproxSpecifier`` + ``streamRewriteTrimArgument``."""
    argv[a.arg_idx - 1] = b"="
    if a.strategy == 1:
        argv[a.arg_idx] = b"%d" % len(s.entries)
    else:
        argv[a.arg_idx] = fmt_id(first_edge(s, c.server.config.values))


@command(
    "xadd",
    -5,
    Flag.WRITE | Flag.DENYOOM | Flag.FAST,
    keys=K1,
    group=G,
    since="5.0.0",
    summary="Appends a new message to a stream. Creates the key if it doesn't exist.",
)
def xadd(c: Client, argv: list[bytes]) -> Any:
    a = _AUTO_ID if argv[2] == b"*" else _parse_trim_args(c, argv, True)
    field_pos = a.idpos + 1
    nvals = len(argv) - field_pos
    if nvals < 2 or nvals % 2:
        raise errors.wrong_args("xadd")
    if a.id_given and a.seq_given and a.id == MIN_ID:
        raise CommandError("ERR The ID specified in XADD must be greater than 0-0")
    key = argv[1]
    db = c.db
    s = db.lookup(key)
    created = False
    if s is None:
        if a.nomkstream:
            return None
        s = Stream()
        created = True
    elif type(s) is not Stream:
        raise CommandError(errors.WRONGTYPE)
    last = s.last_id
    if last == MAX_ID:
        raise CommandError(
            "ERR The stream has exhausted the last possible ID, unable to add more items"
        )
    if a.id_given:
        if a.seq_given:
            nid = a.id
        elif last[0] == a.id[0]:
            if last[1] == MAX64:
                # streamAppendItem fails without setting errno: Redis reports this
                raise CommandError("ERR Elements are too large to be stored")
            nid = (last[0], last[1] + 1)
        else:
            nid = a.id
    else:
        ms = now_ms()
        nid = (ms, 0) if ms > last[0] else incr_id(last)[0]
    if nid <= last:
        raise CommandError(XADD_TOP)
    flat = argv[field_pos:]
    if sum(map(len, flat)) > 1 << 30:
        raise CommandError("ERR Elements are too large to be stored")
    cfg = c.server.config.values
    if not created:
        db.will_write(key)
    append_entry(s, nid, flat, cfg)
    if created:
        db.add(key, s)
    else:
        db.signal_ready(key)
    reply = fmt_id(nid)
    srv = c.server
    srv.dirty += 1
    notify = srv.config.values["notify-keyspace-events"]
    if notify:
        srv.notify(NOTIFY_STREAM, b"xadd", key, db.id)
    prop: list[bytes] | None = None
    if a.strategy:
        if _do_trim(c, s, key, a) and notify:
            srv.notify(NOTIFY_STREAM, b"xtrim", key, db.id)
        if a.approx:
            prop = list(argv)
            _rewrite_trim(c, s, a, prop)
    if not a.id_given or not a.seq_given:
        if prop is None:
            prop = argv[:]
        prop[a.idpos] = reply
    if prop is not None:
        c.prop_argv = prop
    return reply


@command(
    "xtrim",
    -4,
    Flag.WRITE,
    keys=K1,
    group=G,
    since="5.0.0",
    summary="Deletes messages from the beginning of a stream.",
)
def xtrim(c: Client, argv: list[bytes]) -> Any:
    a = _parse_trim_args(c, argv, False)
    key = argv[1]
    s = _stream(c.db, key)
    if s is None:
        return 0
    deleted = _do_trim(c, s, key, a)
    if deleted:
        _notify(c, b"xtrim", key)
        if a.approx:
            prop = list(argv)
            _rewrite_trim(c, s, a, prop)
            c.prop_argv = prop
        c.server.dirty += deleted
    return deleted


# ----------------------------------------------------------------------------- reads


def _range(s: Stream, start: StreamID, end: StreamID, count: int, rev: bool) -> list[Any]:
    if start > end:
        return []
    ent = s.entries
    keys: Any = ent.irange(start, end, reverse=rev)
    if count:
        keys = islice(keys, count)
    return [[b"%d-%d" % k, ent[k]] for k in keys]


def _xrange(c: Client, argv: list[bytes], rev: bool) -> Any:
    sarg, earg = (argv[3], argv[2]) if rev else (argv[2], argv[3])
    start, sex = parse_interval(sarg, 0)
    if sex:
        start, ok = incr_id(start)
        if not ok:
            raise CommandError("ERR invalid start ID for the interval")
    end, eex = parse_interval(earg, MAX64)
    if eex:
        end, ok = decr_id(end)
        if not ok:
            raise CommandError("ERR invalid end ID for the interval")
    count = -1
    n = len(argv)
    j = 4
    while j < n:
        if argv[j].lower() == b"count" and n - j - 1 >= 1:
            count = parse_int(argv[j + 1])
            if count < 0:
                count = 0
            j += 2
        else:
            raise CommandError(errors.SYNTAX)
    s = _stream(c.db, argv[1])
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    return _range(s, start, end, 0 if count == -1 else count, rev)


@command(
    "xrange",
    -4,
    RO,
    keys=K1,
    group=G,
    since="5.0.0",
    summary="Returns the messages from a stream within a range of IDs.",
)
def xrange(c: Client, argv: list[bytes]) -> Any:
    return _xrange(c, argv, False)


@command(
    "xrevrange",
    -4,
    RO,
    keys=K1,
    group=G,
    since="5.0.0",
    summary="Returns the messages from a stream within a range of IDs in reverse order.",
)
def xrevrange(c: Client, argv: list[bytes]) -> Any:
    return _xrange(c, argv, True)


@command(
    "xlen",
    2,
    RO | Flag.FAST,
    keys=K1,
    group=G,
    since="5.0.0",
    summary="Return the number of messages in a stream.",
)
def xlen(c: Client, argv: list[bytes]) -> Any:
    s = _stream(c.db, argv[1])
    return 0 if s is None else len(s.entries)


@command(
    "xdel",
    -3,
    Flag.WRITE | Flag.FAST,
    keys=K1,
    group=G,
    since="5.0.0",
    summary="Returns the number of messages after removing them from a stream.",
)
def xdel(c: Client, argv: list[bytes]) -> Any:
    key = argv[1]
    db = c.db
    s = _stream(db, key)
    if s is None:
        return 0
    ids = [parse_strict(x) for x in argv[2:]]
    cfg = c.server.config.values
    entries = s.entries
    deleted = 0
    first_entry = False
    for eid in ids:
        if eid not in entries:
            continue
        if not deleted:
            db.will_write(key)
        delete_entry(s, eid, cfg)
        if eid == s.first_id:
            first_entry = True
        if eid > s.max_deleted_id:
            s.max_deleted_id = eid
        deleted += 1
    if deleted:
        if not entries:
            s.first_id = MIN_ID
        elif first_entry:
            s.first_id = entries.keys()[0]
        _notify(c, b"xdel", key)
        c.server.dirty += deleted
    return deleted


# ----------------------------------------------------------------------------- XREAD / XREADGROUP


def _propagate_xclaim(
    c: Client,
    dbid: int,
    key: bytes,
    g: ConsumerGroup,
    gname: bytes,
    idarg: bytes,
    nack: PendingEntry,
) -> None:
    """``streamPropagateXCLAIM``."""
    c.server.also_propagate(
        dbid,
        [
            b"XCLAIM",
            key,
            gname,
            nack.consumer,
            b"0",
            idarg,
            b"TIME",
            b"%d" % nack.delivery_time,
            b"RETRYCOUNT",
            b"%d" % nack.delivery_count,
            b"FORCE",
            b"JUSTID",
            b"LASTID",
            fmt_id(g.last_id),
        ],
    )


def _propagate_setid(c: Client, dbid: int, key: bytes, g: ConsumerGroup, gname: bytes) -> None:
    """``streamPropagateGroupID``."""
    c.server.also_propagate(
        dbid,
        [
            b"XGROUP",
            b"SETID",
            key,
            gname,
            fmt_id(g.last_id),
            b"ENTRIESREAD",
            b"%d" % g.entries_read,
        ],
    )


def _create_consumer(c: Client, db: Db, key: bytes, g: ConsumerGroup, name: bytes) -> Consumer:
    cons = Consumer(name=name, seen_time=now_ms())
    g.consumers[name] = cons
    c.server.dirty += 1
    if c.server.config.values["notify-keyspace-events"]:
        c.server.notify(NOTIFY_STREAM, b"xgroup-createconsumer", key, db.id)
    return cons


def _lookup_consumer(g: ConsumerGroup, name: bytes, refresh: bool = True) -> Consumer | None:
    cons = g.consumers.get(name)
    if cons is not None and refresh:
        cons.seen_time = now_ms()
    return cons


def _consumer(
    c: Client,
    db: Db,
    key: bytes,
    g: ConsumerGroup,
    name: bytes,
    propagate_group: bytes | None = None,
) -> Consumer:
    """The consumer ``name`` (seen now), created when missing; with ``propagate_group``
    the creation is also propagated as XGROUP CREATECONSUMER (XREADGROUP ... NOACK)."""
    cons = _lookup_consumer(g, name)
    if cons is None:
        cons = _create_consumer(c, db, key, g, name)
        if propagate_group is not None:
            c.server.also_propagate(
                db.id, [b"XGROUP", b"CREATECONSUMER", key, propagate_group, name]
            )
    return cons


def _serve_group(
    c: Client,
    db: Db,
    key: bytes,
    s: Stream,
    g: ConsumerGroup,
    gname: bytes,
    cons: Consumer,
    start: StreamID,
    count: int,
    noack: bool,
) -> list[Any]:
    """``streamReplyWithRange`` with a group (new entries after ``start``)."""
    ent = s.entries
    keys: Any = ent.irange(minimum=start)
    if count:
        keys = islice(keys, count)
    out: list[Any] = []
    now = now_ms()
    dbid = db.id
    propagate_last = False
    gpel = g.pel
    cpel = cons.pel
    cname = cons.name
    for eid in list(keys):
        if eid > g.last_id:
            if g.entries_read != -1 and not has_tombstones(s, eid, None):
                g.entries_read += 1
            elif s.entries_added:
                g.entries_read = estimate_distance(s, eid)
            g.last_id = eid
            if noack:
                propagate_last = True
        out.append([fmt_id(eid), ent[eid]])
        if not noack:
            nack = gpel.get(eid)
            if nack is None:
                nack = PendingEntry(cname, now, 1)
                gpel[eid] = nack
                cpel[eid] = None
            else:
                old = g.consumers.get(nack.consumer)
                if old is not None:
                    old.pel.pop(eid, None)
                nack.consumer = cname
                nack.delivery_time = now
                nack.delivery_count = 1
                cpel[eid] = None
            _propagate_xclaim(c, dbid, key, g, gname, fmt_id(eid), nack)
    if propagate_last:
        _propagate_setid(c, dbid, key, g, gname)
    return out


def _serve_history(
    s: Stream, g: ConsumerGroup, cons: Consumer, start: StreamID, count: int
) -> list[Any]:
    """``streamReplyWithRangeFromConsumerPEL``."""
    keys: Any = cons.pel.irange(minimum=start)
    if count:
        keys = islice(keys, count)
    out: list[Any] = []
    ent = s.entries
    now = now_ms()
    for eid in list(keys):
        flat = ent.get(eid)
        if flat is None:
            out.append([fmt_id(eid), NULL_ARRAY])
        else:
            out.append([fmt_id(eid), flat])
            nack = g.pel.get(eid)
            if nack is not None:
                nack.delivery_time = now
                nack.delivery_count += 1
    return out


def _keyed_reply(c: Client, pairs: list[tuple[bytes, list[Any]]]) -> Any:
    if not c.resp3:
        return [[k, v] for k, v in pairs]
    d = dict(pairs)
    if len(d) == len(pairs):
        return d
    # duplicate keys (XREAD STREAMS k k ...): a RESP3 map with repeated keys
    body = b"".join(encode(k, True) + encode(v, True) for k, v in pairs)
    return Raw(b"%%%d\r\n" % len(pairs) + body)


def _xread(c: Client, argv: list[bytes], xreadgroup: bool) -> Any:
    timeout = -1
    count = 0
    streams_arg = 0
    nstreams = 0
    noack = False
    gname: bytes | None = None
    cname = b""
    n = len(argv)
    i = 1
    while i < n:
        more = n - i - 1
        o = argv[i].lower()
        if o == b"block" and more:
            if c.server.busy_script is not None:
                raise CommandError(
                    f"ERR {_s(argv[0])} command is not allowed with BLOCK option from scripts"
                )
            i += 1
            try:
                timeout = parse_int(argv[i])
            except CommandError:
                raise CommandError("ERR timeout is not an integer or out of range") from None
            if timeout < 0:
                raise CommandError("ERR timeout is negative")
        elif o == b"count" and more:
            i += 1
            count = parse_int(argv[i])
            if count < 0:
                count = 0
        elif o == b"streams" and more:
            streams_arg = i + 1
            nstreams = n - streams_arg
            if nstreams % 2:
                raise CommandError(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' "
                    "must be specified."
                )
            nstreams //= 2
            break
        elif o == b"group" and more >= 2:
            if not xreadgroup:
                raise CommandError(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."
                )
            gname = argv[i + 1]
            cname = argv[i + 2]
            i += 2
        elif o == b"noack":
            if not xreadgroup:
                raise CommandError(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."
                )
            noack = True
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if not streams_arg:
        raise CommandError(errors.SYNTAX)
    if xreadgroup and gname is None:
        raise CommandError("ERR Missing GROUP option for XREADGROUP")
    db = c.db
    keys = argv[streams_arg : streams_arg + nstreams]
    ids: list[StreamID] = []
    groups: list[ConsumerGroup] = []
    for k in range(nstreams):
        key = keys[k]
        idarg = argv[streams_arg + nstreams + k]
        sv = _stream(db, key)
        if gname is not None:
            g = sv.groups.get(gname) if sv is not None else None
            if g is None:
                raise CommandError(
                    f"NOGROUP No such key '{_s(key)}' or consumer group '{_s(gname)}' in "
                    "XREADGROUP with GROUP option"
                )
            groups.append(g)
        if idarg == b"$":
            if xreadgroup:
                raise CommandError(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to "
                    "read the history of this consumer by specifying a proper ID, or use the "
                    "> ID to get new messages. The $ ID would just return an empty result set."
                )
            ids.append(sv.last_id if sv is not None else MIN_ID)
        elif idarg == b">":
            if not xreadgroup:
                raise CommandError(
                    "ERR The > ID can be specified only when calling XREADGROUP using the "
                    "GROUP <group> <consumer> option."
                )
            ids.append(MAX_ID)
        else:
            ids.append(parse_strict(idarg))

    if xreadgroup:
        # the effects are propagated as XCLAIM / XGROUP SETID (preventCommandPropagation)
        c.server.prevent_prop = True
    pairs: list[tuple[bytes, list[Any]]] = []
    for k in range(nstreams):
        key = keys[k]
        s = db.lookup(key)
        if s is None:
            continue
        gt = ids[k]
        serve = history = False
        if groups:
            if gt != MAX_ID:
                serve = history = True
            elif s.entries:
                glast = groups[k].last_id
                if s.entries.keys()[-1] > glast:
                    serve = True
                    gt = glast
        elif s.entries and s.entries.keys()[-1] > gt:
            serve = True
        if not serve:
            continue
        start = incr_id(gt)[0]
        if groups:
            g = groups[k]
            assert gname is not None
            _before_change(db, key)
            cons = _consumer(c, db, key, g, cname, gname if noack else None)
            if history:
                items = _serve_history(s, g, cons, start, count)
            else:
                items = _serve_group(c, db, key, s, g, gname, cons, start, count, noack)
            c.server.dirty += 1
        else:
            items = _range(s, start, MAX_ID, count, False)
        pairs.append((key, items))
    if pairs:
        return _keyed_reply(c, pairs)
    if timeout == -1:
        return NULL_ARRAY
    # block: remember the ID each key waits past (the first one when a key repeats)
    waits: dict[bytes, StreamID] = {}
    for k in range(nstreams):
        waits.setdefault(keys[k], ids[k])
    bcount = count or 1000

    def retry(key: bytes | None = None) -> Any:
        if key is None or key not in waits:
            return BLOCKED
        s = db.lookup(key)
        if type(s) is not Stream:
            if gname is not None:
                return CommandError("UNBLOCKED the stream key no longer exists")
            return BLOCKED
        gt = waits[key]
        g = None
        if gname is not None:
            g = s.groups.get(gname)
            if g is None:
                return CommandError(
                    "NOGROUP the consumer group this client was blocked on no longer exists"
                )
            gt = waits[key] = g.last_id
        if not s.last_id > gt:
            return BLOCKED
        start = incr_id(gt)[0]
        if g is not None:
            assert gname is not None
            _before_change(db, key)
            cons = _consumer(c, db, key, g, cname, gname if noack else None)
            items = _serve_group(c, db, key, s, g, gname, cons, start, bcount, noack)
            c.server.prevent_prop = True
        else:
            items = _range(s, start, MAX_ID, bcount, False)
        return _keyed_reply(c, [(key, items)])

    retry.keyed = True  # type: ignore[attr-defined]
    return c.block_on(list(waits), timeout / 1000.0, retry, NULL_ARRAY, argv)


def _xread_keys(argv: list[bytes]) -> list[int]:
    n = len(argv)
    for i in range(1, n):
        if argv[i].lower() == b"streams":
            num = (n - i - 1) // 2
            return list(range(i + 1, i + 1 + num))
    return []


@command(
    "xread",
    -4,
    RO | Flag.BLOCKING,
    group=G,
    since="5.0.0",
    keys_fn=_xread_keys,
    summary="Returns messages from multiple streams with IDs greater than the ones "
    "requested. Blocks until a message is available otherwise.",
)
def xread(c: Client, argv: list[bytes]) -> Any:
    return _xread(c, argv, False)


@command(
    "xreadgroup",
    -7,
    Flag.WRITE | Flag.BLOCKING,
    group=G,
    since="5.0.0",
    keys_fn=_xread_keys,
    summary="Returns new or historical messages from a stream for a consumer in a group. "
    "Blocks until a message is available otherwise.",
    read_lookups=True,
)
def xreadgroup(c: Client, argv: list[bytes]) -> Any:
    return _xread(c, argv, True)


# ----------------------------------------------------------------------------- XGROUP

container("xgroup", G, "5.0.0", "A container for consumer groups commands.")


def _xgroup_prepare(
    c: Client, argv: list[bytes], create: bool, setid: bool
) -> tuple[Stream | None, ConsumerGroup | None, bool, int]:
    """The common part of ``xgroupCommand``: options, key and group checks."""
    mkstream = False
    entries_read = -1
    n = len(argv)
    i = 5
    while i < n:
        o = argv[i].lower()
        if create and o == b"mkstream":
            mkstream = True
            i += 1
        elif (create or setid) and o == b"entriesread" and i + 1 < n:
            entries_read = parse_int(argv[i + 1])
            if entries_read < 0 and entries_read != -1:
                raise CommandError("ERR value for ENTRIESREAD must be positive or -1")
            i += 2
        else:
            raise _subcmd_error(argv)
    s = _stream(c.db, argv[2])
    g = None
    if not mkstream:
        if s is None:
            raise CommandError(NOT_STREAM_KEY)
        g = s.groups.get(argv[3])
        if g is None and argv[1].lower() in (b"setid", b"createconsumer", b"delconsumer"):
            raise CommandError(
                f"NOGROUP No such consumer group '{_s(argv[3])}' for key name '{_s(argv[2])}'"
            )
    elif s is not None:
        g = s.groups.get(argv[3])
    return s, g, mkstream, entries_read


@command(
    "create",
    -5,
    Flag.WRITE | Flag.DENYOOM,
    keys=K2,
    parent="xgroup",
    group=G,
    since="5.0.0",
    summary="Creates a consumer group.",
)
def xgroup_create(c: Client, argv: list[bytes]) -> Any:
    s, g, mkstream, entries_read = _xgroup_prepare(c, argv, True, False)
    if not 5 <= len(argv) <= 8:
        raise _subcmd_error(argv)
    key, gname = argv[2], argv[3]
    if argv[4] == b"$":
        gid = s.last_id if s is not None else MIN_ID
    else:
        gid = parse_strict(argv[4])
    db = c.db
    if s is None:
        s = Stream()
        db.add(key, s)
    if gname in s.groups:
        raise CommandError("BUSYGROUP Consumer Group name already exists")
    _before_change(db, key)
    s.groups[gname] = ConsumerGroup(name=gname, last_id=gid, entries_read=entries_read)
    c.server.dirty += 1
    _notify(c, b"xgroup-create", key)
    return OK


@command(
    "setid",
    -5,
    Flag.WRITE,
    keys=K2,
    parent="xgroup",
    group=G,
    since="5.0.0",
    summary="Sets the last-delivered ID of a consumer group.",
)
def xgroup_setid(c: Client, argv: list[bytes]) -> Any:
    s, g, _, entries_read = _xgroup_prepare(c, argv, False, True)
    if len(argv) not in (5, 7):
        raise _subcmd_error(argv)
    assert s is not None and g is not None
    if argv[4] == b"$":
        gid = s.last_id
    else:
        ms, seq, _ = parse_id(argv[4])
        gid = (ms, seq)
    _before_change(c.db, argv[2])
    g.last_id = gid
    g.entries_read = entries_read
    c.server.dirty += 1
    _notify(c, b"xgroup-setid", argv[2])
    return OK


@command(
    "destroy",
    4,
    Flag.WRITE,
    keys=K2,
    parent="xgroup",
    group=G,
    since="5.0.0",
    summary="Destroys a consumer group.",
)
def xgroup_destroy(c: Client, argv: list[bytes]) -> Any:
    s, g, _, _ = _xgroup_prepare(c, argv, False, False)
    if g is None:
        return 0
    assert s is not None
    key = argv[2]
    db = c.db
    _before_change(db, key)
    del s.groups[argv[3]]
    c.server.dirty += 1
    _notify(c, b"xgroup-destroy", key)
    db.signal_ready(key)  # blocked XREADGROUP consumers get -NOGROUP
    return 1


@command(
    "createconsumer",
    5,
    Flag.WRITE | Flag.DENYOOM,
    keys=K2,
    parent="xgroup",
    group=G,
    since="6.2.0",
    summary="Creates a consumer in a consumer group.",
)
def xgroup_createconsumer(c: Client, argv: list[bytes]) -> Any:
    _, g, _, _ = _xgroup_prepare(c, argv, False, False)
    assert g is not None
    name = argv[4]
    if name in g.consumers:
        return 0
    _before_change(c.db, argv[2])
    _create_consumer(c, c.db, argv[2], g, name)
    return 1


@command(
    "delconsumer",
    5,
    Flag.WRITE,
    keys=K2,
    parent="xgroup",
    group=G,
    since="5.0.0",
    summary="Deletes a consumer from a consumer group.",
)
def xgroup_delconsumer(c: Client, argv: list[bytes]) -> Any:
    _, g, _, _ = _xgroup_prepare(c, argv, False, False)
    assert g is not None
    cons = g.consumers.get(argv[4])
    if cons is None:
        return 0
    _before_change(c.db, argv[2])
    pending = len(cons.pel)
    for eid in cons.pel:
        g.pel.pop(eid, None)
    del g.consumers[argv[4]]
    c.server.dirty += 1
    _notify(c, b"xgroup-delconsumer", argv[2])
    return pending


def _help(name: str, lines: list[str]) -> list[Status]:
    out = [Status(f"{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")]
    out += [Status(x) for x in lines]
    out += [Status("HELP"), Status("    Prints this help.")]
    return out


def _help_subcommand(parent: str, lines: list[str]) -> Any:
    """Register ``<parent> HELP``: the subcommand list ``lines`` and the HELP line."""

    @command(
        "help",
        2,
        Flag.LOADING | Flag.STALE,
        parent=parent,
        group=G,
        since="5.0.0",
        summary="Returns helpful text about the different subcommands.",
    )
    def help_(c: Client, argv: list[bytes]) -> Any:
        return _help(parent.upper(), lines)

    return help_


xgroup_help = _help_subcommand(
    "xgroup",
    [
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
    ],
)


# ----------------------------------------------------------------------------- XSETID


@command(
    "xsetid",
    -3,
    Flag.WRITE | Flag.DENYOOM | Flag.FAST,
    keys=K1,
    group=G,
    since="5.0.0",
    summary="An internal command for replicating stream values.",
)
def xsetid(c: Client, argv: list[bytes]) -> Any:
    sid = parse_strict(argv[2])
    entries_added = -1
    max_xdel = MIN_ID
    n = len(argv)
    i = 3
    while i < n:
        more = n - 1 - i
        o = argv[i].lower()
        if o == b"entriesadded" and more:
            entries_added = parse_int(argv[i + 1])
            if entries_added < 0:
                raise CommandError("ERR entries_added must be positive")
            i += 2
        elif o == b"maxdeletedid" and more:
            max_xdel = parse_strict(argv[i + 1])
            if sid < max_xdel:
                raise CommandError(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
                )
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    key = argv[1]
    s = _stream(c.db, key)
    if s is None:
        raise CommandError(errors.NO_SUCH_KEY)
    if s.entries:
        if sid < s.entries.keys()[-1]:
            raise CommandError(
                "ERR The ID specified in XSETID is smaller than the target stream top item"
            )
        if entries_added != -1 and len(s.entries) > entries_added:
            raise CommandError(
                "ERR The entries_added specified in XSETID is smaller than the target stream length"
            )
    _before_change(c.db, key)
    s.last_id = sid
    if entries_added != -1:
        s.entries_added = entries_added
    if max_xdel != MIN_ID:
        s.max_deleted_id = max_xdel
    c.server.dirty += 1
    _notify(c, b"xsetid", key)
    return OK


# ----------------------------------------------------------------------------- XACK / XPENDING


@command(
    "xack",
    -4,
    Flag.WRITE | Flag.FAST,
    keys=K1,
    group=G,
    since="5.0.0",
    summary="Returns the number of messages that were successfully acknowledged by the "
    "consumer group member of a stream.",
    read_lookups=True,
)
def xack(c: Client, argv: list[bytes]) -> Any:
    key = argv[1]
    s = _stream(c.db, key)
    g = s.groups.get(argv[2]) if s is not None else None
    if g is None:
        return 0
    ids = [parse_strict(x) for x in argv[3:]]
    acked = 0
    pel = g.pel
    for eid in ids:
        nack = pel.get(eid)
        if nack is None:
            continue
        if not acked:
            _before_change(c.db, key)
        del pel[eid]
        cons = g.consumers.get(nack.consumer)
        if cons is not None:
            cons.pel.pop(eid, None)
        acked += 1
    c.server.dirty += acked
    return acked


@command(
    "xpending",
    -3,
    RO,
    keys=K1,
    group=G,
    since="5.0.0",
    summary="Returns the information and entries from a stream consumer group's pending "
    "entries list.",
)
def xpending(c: Client, argv: list[bytes]) -> Any:
    n = len(argv)
    if n != 3 and (n < 6 or n > 9):
        raise CommandError(errors.SYNTAX)
    key, gname = argv[1], argv[2]
    cname: bytes | None = None
    count = 0
    minidle = 0
    start = end = MIN_ID
    if n >= 6:
        sidx = 3
        if argv[3].lower() == b"idle":
            minidle = parse_int(argv[4])
            if n < 8:
                raise CommandError(errors.SYNTAX)
            sidx += 2
        count = parse_int(argv[sidx + 2])
        if count < 0:
            count = 0
        start, sex = parse_interval(argv[sidx], 0)
        if sex:
            start, ok = incr_id(start)
            if not ok:
                raise CommandError("ERR invalid start ID for the interval")
        end, eex = parse_interval(argv[sidx + 1], MAX64)
        if eex:
            end, ok = decr_id(end)
            if not ok:
                raise CommandError("ERR invalid end ID for the interval")
        if sidx + 3 < n:
            cname = argv[sidx + 3]
    s = _stream(c.db, key)
    g = s.groups.get(gname) if s is not None else None
    if g is None:
        raise _nogroup(key, gname)
    if n == 3:
        if not g.pel:
            return [0, None, None, NULL_ARRAY]
        pkeys = g.pel.keys()
        owners = [
            [name, b"%d" % len(g.consumers[name].pel)]
            for name in sorted(g.consumers)
            if g.consumers[name].pel
        ]
        return [len(g.pel), fmt_id(pkeys[0]), fmt_id(pkeys[-1]), owners]
    if cname is not None:
        cons = g.consumers.get(cname)
        if cons is None:
            return []
        src: Any = cons.pel
    else:
        src = g.pel
    now = now_ms()
    out: list[Any] = []
    if not count or start > end:
        return out
    gpel = g.pel
    for eid in src.irange(start, end):
        nack = gpel[eid]
        if minidle and now - nack.delivery_time < minidle:
            continue
        out.append(
            [fmt_id(eid), nack.consumer, max(0, now - nack.delivery_time), nack.delivery_count]
        )
        count -= 1
        if not count:
            break
    return out


# ----------------------------------------------------------------------------- XCLAIM / XAUTOCLAIM


def _claim_to(g: ConsumerGroup, eid: StreamID, nack: PendingEntry, cons: Consumer) -> None:
    if nack.consumer != cons.name:
        old = g.consumers.get(nack.consumer)
        if old is not None:
            old.pel.pop(eid, None)
        nack.consumer = cons.name
    cons.pel[eid] = None


@command(
    "xclaim",
    -6,
    Flag.WRITE | Flag.FAST,
    keys=K1,
    group=G,
    since="5.0.0",
    summary="Changes, or acquires, ownership of a message in a consumer group, as if the "
    "message was delivered a consumer group member.",
    read_lookups=True,
)
def xclaim(c: Client, argv: list[bytes]) -> Any:
    key, gname, cname = argv[1], argv[2], argv[3]
    db = c.db
    s = _stream(db, key)
    g = s.groups.get(gname) if s is not None else None
    if g is None or s is None:
        raise _nogroup(key, gname)
    minidle = parse_int(argv[4], "ERR Invalid min-idle-time argument for XCLAIM")
    if minidle < 0:
        minidle = 0
    n = len(argv)
    ids: list[StreamID] = []
    j = 5
    while j < n:
        try:
            ids.append(parse_strict(argv[j]))
        except CommandError:
            break
        j += 1
    last_id_arg = j
    now = now_ms()
    retrycount = -1
    deliverytime = -1
    force = justid = False
    last_id = MIN_ID
    while j < n:
        more = n - 1 - j
        opt = argv[j]
        lo = opt.lower()
        if lo == b"force":
            force = True
        elif lo == b"justid":
            justid = True
        elif lo == b"idle" and more:
            j += 1
            deliverytime = now - parse_int(argv[j], "ERR Invalid IDLE option argument for XCLAIM")
        elif lo == b"time" and more:
            j += 1
            deliverytime = parse_int(argv[j], "ERR Invalid TIME option argument for XCLAIM")
        elif lo == b"retrycount" and more:
            j += 1
            retrycount = parse_int(argv[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")
        elif lo == b"lastid" and more:
            j += 1
            last_id = parse_strict(argv[j])
        else:
            raise CommandError(f"ERR Unrecognized XCLAIM option '{_s(opt)}'")
        j += 1
    srv = c.server
    srv.prevent_prop = True
    touched = False
    propagate_last = False
    if last_id > g.last_id:
        _before_change(db, key)
        touched = True
        g.last_id = last_id
        propagate_last = True
    if deliverytime != -1:
        if deliverytime < 0 or deliverytime > now:
            deliverytime = now
    else:
        deliverytime = now
    cons: Consumer | None = None
    out: list[Any] = []
    ent = s.entries
    gpel = g.pel
    dbid = db.id
    for k in range(last_id_arg - 5):
        eid = ids[k]
        nack = gpel.get(eid)
        if eid not in ent:
            if nack is not None:
                if not touched:
                    _before_change(db, key)
                    touched = True
                _propagate_xclaim(c, dbid, key, g, gname, argv[5 + k], nack)
                propagate_last = False
                srv.dirty += 1
                del gpel[eid]
                old = g.consumers.get(nack.consumer)
                if old is not None:
                    old.pel.pop(eid, None)
            continue
        fresh = False
        if force and nack is None:
            nack = PendingEntry(b"", now, 1)
            fresh = True
        if nack is None:
            continue
        if not fresh and minidle and now - nack.delivery_time < minidle:
            continue
        if not touched:
            _before_change(db, key)
            touched = True
        if cons is None:
            cons = _consumer(c, db, key, g, cname)
        if fresh:
            gpel[eid] = nack
            nack.consumer = cons.name
            cons.pel[eid] = None
        else:
            _claim_to(g, eid, nack, cons)
        nack.delivery_time = deliverytime
        if retrycount >= 0:
            nack.delivery_count = retrycount
        elif not justid:
            nack.delivery_count += 1
        out.append(fmt_id(eid) if justid else [fmt_id(eid), ent[eid]])
        _propagate_xclaim(c, dbid, key, g, gname, argv[5 + k], nack)
        propagate_last = False
        srv.dirty += 1
    if propagate_last:
        _propagate_setid(c, dbid, key, g, gname)
        srv.dirty += 1
    return out


@command(
    "xautoclaim",
    -6,
    Flag.WRITE | Flag.FAST,
    keys=K1,
    group=G,
    since="6.2.0",
    summary="Changes, or acquires, ownership of messages in a consumer group, as if the "
    "messages were delivered to as consumer group member.",
    read_lookups=True,
)
def xautoclaim(c: Client, argv: list[bytes]) -> Any:
    key, gname, cname = argv[1], argv[2], argv[3]
    minidle = parse_int(argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM")
    if minidle < 0:
        minidle = 0
    start, sex = parse_interval(argv[5], 0)
    if sex:
        start, ok = incr_id(start)
        if not ok:
            raise CommandError("ERR invalid start ID for the interval")
    count = 100
    justid = False
    n = len(argv)
    j = 6
    max_count = ((1 << 63) - 1) // 16
    while j < n:
        more = n - 1 - j
        o = argv[j].lower()
        if o == b"count" and more:
            count = parse_int(argv[j + 1], "ERR COUNT must be > 0")
            if count < 1 or count > max_count:
                raise CommandError("ERR COUNT must be > 0")
            j += 1
        elif o == b"justid":
            justid = True
        else:
            raise CommandError(errors.SYNTAX)
        j += 1
    db = c.db
    s = _stream(db, key)
    g = s.groups.get(gname) if s is not None else None
    if g is None or s is None:
        raise _nogroup(key, gname)
    srv = c.server
    srv.prevent_prop = True
    attempts = count * 10
    gpel = g.pel
    pkeys = list(islice(gpel.irange(minimum=start), attempts + 1))
    now = now_ms()
    ent = s.entries
    dbid = db.id
    cons: Consumer | None = None
    claimed: list[Any] = []
    deleted: list[bytes] = []
    touched = False
    idx = 0
    np = len(pkeys)
    while attempts and count and idx < np:
        attempts -= 1
        eid = pkeys[idx]
        idx += 1
        nack = gpel[eid]
        if eid not in ent:
            if not touched:
                _before_change(db, key)
                touched = True
            sid = fmt_id(eid)
            _propagate_xclaim(c, dbid, key, g, gname, sid, nack)
            srv.dirty += 1
            del gpel[eid]
            old = g.consumers.get(nack.consumer)
            if old is not None:
                old.pel.pop(eid, None)
            deleted.append(sid)
            count -= 1
            continue
        if minidle and now - nack.delivery_time < minidle:
            continue
        if not touched:
            _before_change(db, key)
            touched = True
        if cons is None:
            cons = _consumer(c, db, key, g, cname)
        _claim_to(g, eid, nack, cons)
        nack.delivery_time = now
        if not justid:
            nack.delivery_count += 1
        sid = fmt_id(eid)
        claimed.append(sid if justid else [sid, ent[eid]])
        count -= 1
        _propagate_xclaim(c, dbid, key, g, gname, sid, nack)
        srv.dirty += 1
    cursor = fmt_id(pkeys[idx]) if idx < np else b"0-0"
    return [cursor, claimed, deleted]


# ----------------------------------------------------------------------------- XINFO

container("xinfo", G, "5.0.0", "A container for stream introspection commands.")


def _xinfo_stream_lookup(c: Client, key: bytes) -> Stream:
    s = _stream(c.db, key)
    if s is None:
        raise CommandError(errors.NO_SUCH_KEY)
    return s


@command(
    "stream",
    -3,
    RO,
    keys=K2,
    parent="xinfo",
    group=G,
    since="5.0.0",
    summary="Returns information about a stream.",
)
def xinfo_stream(c: Client, argv: list[bytes]) -> Any:
    s = _xinfo_stream_lookup(c, argv[2])
    opts = argv[3:]
    full = bool(opts)
    count = 10
    if opts:
        if len(opts) not in (1, 3) or opts[0].lower() != b"full":
            raise _subcmd_error(argv)
        if len(opts) == 3:
            if opts[1].lower() != b"count":
                raise _subcmd_error(argv)
            count = parse_int(opts[2])
            if count < 0:
                count = 10
    nodes = nodes_of(s, c.server.config.values)
    info: dict[bytes, Any] = {
        b"length": len(s.entries),
        b"radix-tree-keys": len(nodes),
        b"radix-tree-nodes": rax_nodes(nodes),
        b"last-generated-id": fmt_id(s.last_id),
        b"max-deleted-entry-id": fmt_id(s.max_deleted_id),
        b"entries-added": s.entries_added,
        b"recorded-first-entry-id": fmt_id(s.first_id),
    }
    if not full:
        info[b"groups"] = len(s.groups)
        ent = s.entries
        if ent:
            k0 = ent.keys()[0]
            k1 = ent.keys()[-1]
            info[b"first-entry"] = [fmt_id(k0), ent[k0]]
            info[b"last-entry"] = [fmt_id(k1), ent[k1]]
        else:
            info[b"first-entry"] = None
            info[b"last-entry"] = None
        return info
    info[b"entries"] = _range(s, MIN_ID, MAX_ID, count, False)
    groups = []
    for gname in sorted(s.groups):
        g = s.groups[gname]
        pel = [
            [fmt_id(eid), nack.consumer, nack.delivery_time, nack.delivery_count]
            for eid, nack in (islice(g.pel.items(), count) if count else g.pel.items())
        ]
        consumers = []
        for cname in sorted(g.consumers):
            cons = g.consumers[cname]
            cpel_ids = islice(cons.pel, count) if count else cons.pel
            cpel = []
            for eid in cpel_ids:
                nack = g.pel[eid]
                cpel.append([fmt_id(eid), nack.delivery_time, nack.delivery_count])
            consumers.append(
                {
                    b"name": cname,
                    b"seen-time": cons.seen_time,
                    b"pel-count": len(cons.pel),
                    b"pending": cpel,
                }
            )
        groups.append(
            {
                b"name": gname,
                b"last-delivered-id": fmt_id(g.last_id),
                b"entries-read": g.entries_read if g.entries_read != -1 else None,
                b"lag": group_lag(s, g),
                b"pel-count": len(g.pel),
                b"pending": pel,
                b"consumers": consumers,
            }
        )
    info[b"groups"] = groups
    return info


@command(
    "groups",
    3,
    RO,
    keys=K2,
    parent="xinfo",
    group=G,
    since="5.0.0",
    summary="Returns a list of the consumer groups of a stream.",
)
def xinfo_groups(c: Client, argv: list[bytes]) -> Any:
    s = _xinfo_stream_lookup(c, argv[2])
    out = []
    for gname in sorted(s.groups):
        g = s.groups[gname]
        out.append(
            {
                b"name": gname,
                b"consumers": len(g.consumers),
                b"pending": len(g.pel),
                b"last-delivered-id": fmt_id(g.last_id),
                b"entries-read": g.entries_read if g.entries_read != -1 else None,
                b"lag": group_lag(s, g),
            }
        )
    return out


@command(
    "consumers",
    4,
    RO,
    keys=K2,
    parent="xinfo",
    group=G,
    since="5.0.0",
    summary="Returns a list of the consumers in a consumer group.",
)
def xinfo_consumers(c: Client, argv: list[bytes]) -> Any:
    key, gname = argv[2], argv[3]
    s = _xinfo_stream_lookup(c, key)
    g = s.groups.get(gname)
    if g is None:
        raise CommandError(f"NOGROUP No such consumer group '{_s(gname)}' for key name '{_s(key)}'")
    now = now_ms()
    return [
        {
            b"name": name,
            b"pending": len(g.consumers[name].pel),
            b"idle": max(0, now - g.consumers[name].seen_time),
        }
        for name in sorted(g.consumers)
    ]


xinfo_help = _help_subcommand(
    "xinfo",
    [
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
    ],
)
