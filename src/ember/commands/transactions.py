"""Transactions: MULTI EXEC DISCARD WATCH UNWATCH, and the WATCH bookkeeping the keyspace
calls into (:func:`touch_watched_key`, :func:`touch_all_watched_keys`).

Queueing happens in the dispatcher (``Client.execute``): while ``c.in_multi`` every
command that passes the pre-execution checks is appended to ``c.multi_queue``; a command
rejected there sets ``c.multi_error`` and EXEC then answers ``EXECABORT``.

WATCH follows Redis 7.0: a key is watched in a database (``db.watched[key]`` lists the
clients, ``c.watched`` lists ``(db, key)``). Any write to it flags the watchers
(``c.dirty_cas``) and EXEC then returns a null array. A key that already was logically
expired when WATCHed is remembered in ``c.watched_stale``: deleting it (lazy/active
expiry, FLUSHDB, SWAPDB with an absent or stale key) is "no logical change". A watched
key that expires between WATCH and EXEC makes EXEC fail even if nobody touched it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ember import errors
from ember.commands.registry import Flag, command
from ember.errors import CommandError
from ember.protocol.resp import NULL_ARRAY, OK, encode
from ember.server.client import BLOCKED, NO_REPLY, Client
from ember.server.pubsub import feed_monitors

if TYPE_CHECKING:
    from ember.keyspace.db import Db

G = "transactions"
TX = Flag.NOSCRIPT | Flag.LOADING | Flag.STALE | Flag.FAST | Flag.ALLOW_BUSY

_STALE = 1  # the key was logically expired when WATCHed
_STALE_TOUCHED = 2  # ... and was then written while still expired (deleted, maybe rewritten)


# ------------------------------------------------------------------------------ WATCH state


def _key_is_expired(db: Db, key: bytes) -> bool:
    """keyIsExpired: has a TTL that is already past (the key may still be stored)."""
    when = db.expires.get(key)
    if when is None:
        return False
    srv = db.server
    if srv.loading:
        return False
    return when <= srv.cached_now_ms()


def touch_watched_key(db: Db, key: bytes) -> None:
    """touchWatchedKey: ``key`` of ``db`` is about to change; flag the clients watching it.

    Called by ``Db.will_write`` *before* the change. A client that WATCHed the key while
    it was already expired is not flagged if the key is still expired now: the change is
    its deletion (no logical change). If the same write also stores a new value (a plain
    overwrite of the expired key), EXEC sees the key present and fails then.
    """
    clients = db.watched.get(key)
    if not clients:
        return
    for c in clients:
        stale = c.watched_stale
        if stale:
            state = stale.get((db, key))
            if state is not None:
                if state == _STALE and db.has(key) and _key_is_expired(db, key):
                    stale[(db, key)] = _STALE_TOUCHED
                    continue
                del stale[(db, key)]
        c.dirty_cas = True


def touch_all_watched_keys(emptied: Db, replaced_with: Db | None) -> None:
    """touchAllWatchedKeysInDb: FLUSHDB/FLUSHALL (``replaced_with`` None) or SWAPDB.

    Called before ``emptied``'s keys are dropped or swapped. Only keys that exist in
    either database touch their watchers, with Redis's rules for stale (expired) keys.
    """
    if not emptied.watched:
        return
    for key, clients in list(emptied.watched.items()):
        in_emptied = emptied.has(key)
        in_other = replaced_with is not None and replaced_with.has(key)
        if not (in_emptied or in_other):
            continue
        wk = (emptied, key)
        for c in clients:
            stale = c.watched_stale
            state = stale.get(wk) if stale else None
            if state == _STALE_TOUCHED:
                # deleted while expired (no change), or overwritten (a change)
                del stale[wk]
                if in_emptied:
                    c.dirty_cas = True
                    continue
                state = None
            if state is not None:
                if not in_other:
                    del stale[wk]  # the expired key is deleted: no logical change
                    continue
                assert replaced_with is not None
                if _key_is_expired(replaced_with, key):
                    continue  # an expired key stays an expired key
                del stale[wk]
            elif (
                not in_emptied and replaced_with is not None and _key_is_expired(replaced_with, key)
            ):
                stale[wk] = _STALE  # an absent key replaced with an expired one
                continue
            c.dirty_cas = True


def _watched_key_expired(c: Client) -> bool:
    """isWatchedKeyExpired (plus the overwrite case of :func:`touch_watched_key`)."""
    stale = c.watched_stale
    for db, key in c.watched:
        state = stale.get((db, key)) if stale else None
        if state is None:
            if db.expires and _key_is_expired(db, key):
                return True
        elif state == _STALE_TOUCHED and db.has(key) and not _key_is_expired(db, key):
            return True
    return False


def discard_transaction(c: Client) -> None:
    c.multi_queue = []
    c.in_multi = False
    c.multi_error = False
    c.unwatch_all()  # also clears dirty_cas


def exec_abort(c: Client, err: CommandError) -> CommandError:
    """execCommandAbort: EXEC refused by a pre-execution check (arity, OOM, MISCONF...).

    Redis builds the checks' own messages without the ``ERR`` code (``wrong number of
    arguments...``) while shared errors keep theirs (``OOM ...``, ``NOAUTH ...``).
    """
    discard_transaction(c)
    if c.server.monitors:
        feed_monitors(c, [b"EXEC"])  # MONITOR saw MULTI: show that the transaction ended
    msg = err.message
    if msg.startswith("ERR "):
        msg = msg[4:]
    return CommandError("EXECABORT Transaction discarded because of: " + msg)


# ------------------------------------------------------------------------------ commands


@command("multi", 1, TX, group=G, since="1.2.0", summary="Mark the start of a transaction block")
def multi(c: Client, argv: list[bytes]) -> Any:
    if c.in_multi:
        raise CommandError("ERR MULTI calls can not be nested")
    c.in_multi = True
    c.multi_queue = []
    c.multi_error = False
    return OK


@command(
    "discard", 1, TX, group=G, since="2.0.0", summary="Discard all commands issued after MULTI"
)
def discard(c: Client, argv: list[bytes]) -> Any:
    if not c.in_multi:
        raise CommandError("ERR DISCARD without MULTI")
    discard_transaction(c)
    return OK


@command(
    "exec",
    1,
    Flag.NOSCRIPT | Flag.LOADING | Flag.STALE | Flag.SKIP_SLOWLOG,
    group=G,
    since="1.2.0",
    summary="Execute all commands issued after MULTI",
)
def exec_(c: Client, argv: list[bytes]) -> Any:
    if not c.in_multi:
        raise CommandError("ERR EXEC without MULTI")
    if not c.dirty_cas and c.watched and _watched_key_expired(c):
        c.dirty_cas = True
    if c.multi_error:
        discard_transaction(c)
        raise CommandError(errors.EXECABORT)
    if c.dirty_cas:
        discard_transaction(c)
        return NULL_ARRAY
    queue = c.multi_queue
    discard_transaction(c)  # leaves MULTI state and unwatches before running
    srv = c.server
    silenced = c.reply_mode != 0  # CLIENT REPLY OFF/SKIP: the EXEC reply is one reply
    replies: list[Any] = []
    out = c.out
    if not silenced:
        # Stream the array: header first, then each reply as its command completes, so
        # that out-of-band pushes produced meanwhile (self-notifications, SUBSCRIBE)
        # are interleaved exactly as Redis writes them.
        out.append(b"*%d\r\n" % len(queue))
    c.in_exec = True
    try:
        for spec, args in queue:
            r = c.call(spec, args)
            if r is not NO_REPLY and r is not BLOCKED:
                if silenced:
                    replies.append(r)
                else:
                    out.append(encode(r, c.resp3))
            if srv.monitors and not spec.flags & (Flag.ADMIN | Flag.SKIP_MONITOR):
                feed_monitors(c, args)
    finally:
        c.in_exec = False
    return replies if silenced else NO_REPLY


@command(
    "watch",
    -2,
    TX,
    keys=(1, -1, 1),
    group=G,
    since="2.2.0",
    summary="Watch the given keys to determine execution of the MULTI/EXEC block",
)
def watch(c: Client, argv: list[bytes]) -> Any:
    if c.in_multi:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    if c.dirty_cas:
        return OK  # no point in watching: EXEC will fail anyway
    db = c.db
    watched = c.watched
    for key in argv[1:]:
        wk = (db, key)
        watchers = db.watched.setdefault(key, [])
        if c in watchers:
            continue  # already watched (the key's watcher list is shorter than ours)
        watchers.append(c)
        watched.append(wk)
        if key in db.expires and _key_is_expired(db, key):
            c.watched_stale[wk] = _STALE
    return OK


@command("unwatch", 1, TX, group=G, since="2.2.0", summary="Forget about all watched keys")
def unwatch(c: Client, argv: list[bytes]) -> Any:
    c.unwatch_all()
    return OK
