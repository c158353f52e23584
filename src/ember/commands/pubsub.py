"""Pub/Sub commands: SUBSCRIBE PSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB
SSUBSCRIBE SUNSUBSCRIBE SPUBLISH (standalone semantics of Redis 7.0).

Subscription confirmations are out-of-band messages (RESP3 push, RESP2 array) written
with ``Client.push`` — one per channel, never silenced by CLIENT REPLY OFF — so the
(un)subscribe handlers return ``NO_REPLY``. The counts in SUBSCRIBE/PSUBSCRIBE
confirmations are channels + patterns; shard confirmations count shard channels only.
"""

from __future__ import annotations

from typing import Any

from ember.commands.registry import Flag, command, container
from ember.errors import CommandError
from ember.protocol.resp import Status
from ember.server.client import NO_REPLY, Client
from ember.server.pubsub import (
    fast_glob,
    publish,
    spublish,
    subscribe,
    subscription_count,
    unsubscribe,
)

G = "pubsub"
SUB = Flag.PUBSUB | Flag.NOSCRIPT | Flag.LOADING | Flag.STALE
INFO = Flag.PUBSUB | Flag.LOADING | Flag.STALE


@command(
    "subscribe",
    -2,
    SUB | Flag.SENTINEL,
    group=G,
    since="2.0.0",
    summary="Listen for messages published to the given channels",
)
def subscribe_(c: Client, argv: list[bytes]) -> Any:
    table = c.server.pubsub_channels
    mine = c.channels
    for ch in argv[1:]:
        subscribe(c, table, mine, ch)
        c.push([b"subscribe", ch, subscription_count(c)])
    return NO_REPLY


@command(
    "psubscribe",
    -2,
    SUB | Flag.SENTINEL,
    group=G,
    since="2.0.0",
    summary="Listen for messages published to channels matching the given patterns",
)
def psubscribe(c: Client, argv: list[bytes]) -> Any:
    table = c.server.pubsub_patterns
    mine = c.patterns
    for pat in argv[1:]:
        subscribe(c, table, mine, pat)
        c.push([b"psubscribe", pat, subscription_count(c)])
    return NO_REPLY


@command(
    "ssubscribe",
    -2,
    SUB,
    keys=(1, -1, 1),
    group=G,
    since="7.0.0",
    summary="Listen for messages published to the given shard channels",
)
def ssubscribe(c: Client, argv: list[bytes]) -> Any:
    if c.in_exec:
        raise CommandError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    table = c.server.pubsub_shard_channels
    mine = c.shard_channels
    for ch in argv[1:]:
        subscribe(c, table, mine, ch)
        c.push([b"ssubscribe", ch, len(mine)])
    return NO_REPLY


def _unsubscribe(
    c: Client,
    argv: list[bytes],
    kind: bytes,
    table: dict[bytes, dict[Client, None]],
    mine: dict[bytes, None],
    shard: bool,
) -> Any:
    names = argv[1:] if len(argv) > 1 else list(mine)
    if not names:
        # subscribed to nothing: still one confirmation, with a null name
        c.push([kind, None, len(mine) if shard else subscription_count(c)])
        return NO_REPLY
    for name in names:
        unsubscribe(c, table, mine, name)
        c.push([kind, name, len(mine) if shard else subscription_count(c)])
    return NO_REPLY


@command(
    "unsubscribe",
    -1,
    SUB | Flag.SENTINEL,
    group=G,
    since="2.0.0",
    summary="Stop listening for messages posted to the given channels",
)
def unsubscribe_(c: Client, argv: list[bytes]) -> Any:
    return _unsubscribe(c, argv, b"unsubscribe", c.server.pubsub_channels, c.channels, False)


@command(
    "punsubscribe",
    -1,
    SUB | Flag.SENTINEL,
    group=G,
    since="2.0.0",
    summary="Stop listening for messages posted to channels matching the given patterns",
)
def punsubscribe(c: Client, argv: list[bytes]) -> Any:
    return _unsubscribe(c, argv, b"punsubscribe", c.server.pubsub_patterns, c.patterns, False)


@command(
    "sunsubscribe",
    -1,
    SUB,
    keys=(1, -1, 1),
    group=G,
    since="7.0.0",
    summary="Stop listening for messages posted to the given shard channels",
)
def sunsubscribe(c: Client, argv: list[bytes]) -> Any:
    return _unsubscribe(
        c, argv, b"sunsubscribe", c.server.pubsub_shard_channels, c.shard_channels, True
    )


@command(
    "publish",
    3,
    INFO | Flag.FAST | Flag.MAY_REPLICATE | Flag.SENTINEL,
    group=G,
    since="2.0.0",
    summary="Post a message to a channel",
)
def publish_(c: Client, argv: list[bytes]) -> Any:
    return publish(c.server, argv[1], argv[2])


@command(
    "spublish",
    3,
    INFO | Flag.FAST | Flag.MAY_REPLICATE,
    keys=(1, 1, 1),
    group=G,
    since="7.0.0",
    summary="Post a message to a shard channel",
)
def spublish_(c: Client, argv: list[bytes]) -> Any:
    return spublish(c.server, argv[1], argv[2])


# ------------------------------------------------------------------------------ PUBSUB

container("pubsub", G, "2.8.0", "A container for Pub/Sub commands")


def _syntax(argv: list[bytes]) -> CommandError:
    return CommandError(
        f"ERR unknown subcommand or wrong number of arguments for "
        f"'{argv[1].decode(errors='replace')[:128]}'. Try {argv[0].decode(errors='replace').upper()} HELP."
    )


def _channel_list(table: dict[bytes, Any], argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise _syntax(argv)
    if len(argv) == 2:
        return list(table)
    match = fast_glob(argv[2])
    return [ch for ch in table if match(ch)]


def _numsub(table: dict[bytes, dict[Client, None]], argv: list[bytes]) -> Any:
    out: list[Any] = []
    for ch in argv[2:]:
        subs = table.get(ch)
        out += [ch, len(subs) if subs else 0]
    return out


@command(
    "channels", -2, INFO, parent="pubsub", group=G, since="2.8.0", summary="List active channels"
)
def pubsub_channels(c: Client, argv: list[bytes]) -> Any:
    return _channel_list(c.server.pubsub_channels, argv)


@command(
    "shardchannels",
    -2,
    INFO,
    parent="pubsub",
    group=G,
    since="7.0.0",
    summary="List active shard channels",
)
def pubsub_shardchannels(c: Client, argv: list[bytes]) -> Any:
    return _channel_list(c.server.pubsub_shard_channels, argv)


@command(
    "numsub",
    -2,
    INFO,
    parent="pubsub",
    group=G,
    since="2.8.0",
    summary="Get the count of subscribers for channels",
)
def pubsub_numsub(c: Client, argv: list[bytes]) -> Any:
    return _numsub(c.server.pubsub_channels, argv)


@command(
    "shardnumsub",
    -2,
    INFO,
    parent="pubsub",
    group=G,
    since="7.0.0",
    summary="Get the count of subscribers for shard channels",
)
def pubsub_shardnumsub(c: Client, argv: list[bytes]) -> Any:
    return _numsub(c.server.pubsub_shard_channels, argv)


@command(
    "numpat",
    2,
    INFO,
    parent="pubsub",
    group=G,
    since="2.8.0",
    summary="Get the count of unique patterns pattern subscriptions",
)
def pubsub_numpat(c: Client, argv: list[bytes]) -> Any:
    return len(c.server.pubsub_patterns)


_HELP = [
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
]


@command(
    "help",
    2,
    Flag.LOADING | Flag.STALE,
    parent="pubsub",
    group=G,
    since="6.2.0",
    summary="Show helpful text about the different subcommands",
)
def pubsub_help(c: Client, argv: list[bytes]) -> Any:
    head = f"{argv[0].decode(errors='replace').upper()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    return [Status(head)] + [Status(line) for line in _HELP]
