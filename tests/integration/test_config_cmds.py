"""CONFIG GET / SET / REWRITE / RESETSTAT against redis-server 7.0.15, and loading a
real (Debian) redis.conf."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.conftest import Diff
from tests.helpers.servers import ServerProcess

DEBIAN_CONF = Path("/etc/redis/redis.conf")
# options whose values legitimately differ (ports, paths, ember-only or allocator facts)
VOLATILE = {
    "port",
    "dir",
    "pidfile",
    "logfile",
    "bind",
    "save",
    "appendonly",
    "enable-debug-command",
    "set-max-listpack-entries",
    "set-max-listpack-value",
    "rdb-version",
    "bgsave-engine",
    "rdb-verify-after-save",
    "unixsocket",
}


def test_config_get_everything_matches(r: redis.Redis, rr: redis.Redis) -> None:
    mine, theirs = r.config_get("*"), rr.config_get("*")
    assert not set(theirs) - set(mine)
    diffs = {k: (mine[k], v) for k, v in theirs.items() if k not in VOLATILE and mine[k] != v}
    assert not diffs


def test_config_get_patterns_aliases_several(diff: Diff) -> None:
    for args in [
        ("maxmemory",),
        ("MAXMEMORY",),
        ("maxmemory", "MAXMEMORY"),
        ("hash-max-ziplist-*",),
        ("hash-max-*",),
        ("zset-max-*",),
        ("slave*",),
        ("lua-time-limit", "busy-reply-threshold"),
        ("nosuch",),
        ("nosuch*",),
        ("rdb-key-save-delay",),
        ("rdb-key*",),
        ("maxmemory", "hz", "timeout", "nosuch"),
        ("client-output-buffer-limit",),
        ("notify-keyspace-events",),
        ("latency-tracking-info-percentiles",),
        ("[h]z",),
        ("h?",),
    ]:
        diff("CONFIG", "GET", *args)
    diff("CONFIG", "GET")


CONFIG_SET_CASES: list[tuple[Any, ...]] = [
    ("CONFIG", "SET", "maxmemory", "10mb", "maxmemory", "20mb"),
    ("CONFIG", "SET", "maxmemory", "10mb", "MAXMEMORY", "20mb"),
    ("CONFIG", "SET", "hash-max-ziplist-entries", "1", "hash-max-listpack-entries", "2"),
    ("CONFIG", "SET", "foo", "bar", "maxmemory", "1"),
    ("CONFIG", "SET", "daemonize", "no", "foo", "bar"),
    ("CONFIG", "SET", "foo", "bar", "daemonize", "no"),
    ("CONFIG", "SET", "a", "b", "c"),
    ("CONFIG", "SET", "maxmemory"),
    ("CONFIG", "SET", "maxmemory", "abc"),
    ("CONFIG", "SET", "maxmemory", "-1"),
    ("CONFIG", "SET", "hz", "abc"),
    ("CONFIG", "SET", "hz", "-1"),
    ("CONFIG", "SET", "HASH-MAX-ZIPLIST-ENTRIES", "abc"),
    ("CONFIG", "SET", "maxclients", "0"),
    ("CONFIG", "SET", "loglevel", "foo"),
    ("CONFIG", "SET", "maxmemory-policy", "foo"),
    ("CONFIG", "SET", "appendfsync", "foo"),
    ("CONFIG", "SET", "save", "abc"),
    ("CONFIG", "SET", "save", "100"),
    ("CONFIG", "SET", "save", "0 1"),
    ("CONFIG", "SET", "client-output-buffer-limit", "normal 1 2"),
    ("CONFIG", "SET", "client-output-buffer-limit", "foo 1 2 3"),
    ("CONFIG", "SET", "client-output-buffer-limit", "master 1 2 3"),
    ("CONFIG", "SET", "client-output-buffer-limit", "normal 1x 2 3"),
    ("CONFIG", "SET", "notify-keyspace-events", "KEAz!"),
    ("CONFIG", "SET", "dir", "/nonexistent"),
    ("CONFIG", "SET", "dbfilename", "x"),
    ("CONFIG", "SET", "unixsocketperm", "777"),
    ("CONFIG", "SET", "proto-max-bulk-len", "1000"),
    ("CONFIG", "SET", "oom-score-adj-values", "1 2"),
    ("CONFIG", "SET", "oom-score-adj-values", "1 2 5000"),
    ("CONFIG", "SET", "latency-tracking-info-percentiles", "50 101"),
    ("CONFIG", "SET", "latency-tracking-info-percentiles", "50 abc"),
    ("CONFIG", "SET", "maxmemory-clients", "200%"),
    ("CONFIG", "SET", "shutdown-on-sigint", "save nosave"),
    ("CONFIG", "SET", "slowlog-max-len", "-1"),
    ("CONFIG", "SET", "slowlog-log-slower-than", "-2"),
    ("CONFIG", "SET", "list-max-ziplist-size", "-2147483649"),
    ("CONFIG", "SET", "port", "99999"),
    ("CONFIG", "SET", "io-threads", "2"),
    ("CONFIG", "SET", "appendonly", "maybe"),
    ("CONFIG", "SET", "timeout", "1.5"),
    ("CONFIG", "SET", "set-proc-title", "no"),
    ("CONFIG", "SET", "repl-backlog-size", "0"),
    ("CONFIG", "SET", "replicaof", "no one"),
]


def test_config_set_errors(diff: Diff) -> None:
    diff.many(CONFIG_SET_CASES)
    diff("CONFIG", "GET", "maxmemory", "hash-max-listpack-entries")


ROUND_TRIPS: list[tuple[str, str]] = [
    ("maxmemory", "1kb"),
    ("maxmemory", "1K"),
    ("maxmemory", "3gb"),
    ("maxmemory-clients", "5%"),
    ("maxmemory-clients", "10mb"),
    ("shutdown-on-sigint", "save now"),
    ("shutdown-on-sigint", "default"),
    ("oom-score-adj", "relative"),
    ("oom-score-adj", "no"),
    ("notify-keyspace-events", "KEA"),
    ("notify-keyspace-events", "gxKE$"),
    ("notify-keyspace-events", ""),
    ("client-output-buffer-limit", "pubsub 64mb 16mb 90 slave 1gb 10mb 7"),
    ("client-output-buffer-limit", "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60"),
    ("save", "100 10 200 20"),
    ("save", ""),
    ("hz", "0"),
    ("hz", "100000"),
    ("hz", "10"),
    ("latency-tracking-info-percentiles", "50 99.99 0"),
    ("latency-tracking-info-percentiles", "50 99 99.9"),
    ("requirepass", ""),
    ("loglevel", "VERBOSE"),
    ("loglevel", "notice"),
    ("stream-node-max-bytes", "8k"),
    ("stream-node-max-bytes", "4096"),
    ("list-max-ziplist-size", "-3"),
    ("list-max-listpack-size", "-2"),
]


@pytest.mark.parametrize("name,value", ROUND_TRIPS)
def test_config_set_then_get(diff: Diff, name: str, value: str) -> None:
    diff("CONFIG", "SET", name, value)
    diff("CONFIG", "GET", name)


def test_config_set_is_atomic(diff: Diff) -> None:
    diff("CONFIG", "SET", "maxmemory", "1mb", "hz", "20")
    diff("CONFIG", "SET", "maxmemory", "5mb", "hz", "abc")
    diff("CONFIG", "SET", "hz", "30", "maxmemory", "nope")
    diff("CONFIG", "GET", "maxmemory")
    diff("CONFIG", "GET", "hz")
    diff("CONFIG", "SET", "maxmemory", "0", "hz", "10")


def test_config_set_takes_effect(r: redis.Redis, ember: ServerProcess) -> None:
    r.config_set("proto-max-bulk-len", "2mb")
    try:
        r.set("big", b"x" * (1024 * 1024 + 1))  # an existing connection sees the new limit
        assert r.strlen("big") == 1024 * 1024 + 1
    finally:
        r.config_set("proto-max-bulk-len", "512mb")
    r.config_set("maxclients", 50)
    assert r.info("clients")["maxclients"] == 50
    r.config_set("maxclients", 10000)


def test_config_rewrite_without_file(diff: Diff) -> None:
    diff("CONFIG", "REWRITE")
    diff("CONFIG", "REWRITE", "x")
    diff("CONFIG", "RESETSTAT", "x")


def _start_with_conf(
    factory: Callable[..., ServerProcess], conf: Path, *args: str
) -> ServerProcess:
    s = factory(*args, start=False)
    s.conf_file = conf
    return s.start()


def _split_generated(text: str) -> tuple[list[str], set[str]]:
    head, _, tail = text.partition("# Generated by CONFIG REWRITE\n")
    return head.split("\n"), set(tail.split("\n")) - {""}


def test_config_rewrite_matches_redis_on_debian_conf(
    tmp_path: Path,
    ember_factory: Callable[..., ServerProcess],
    redis_factory: Callable[..., ServerProcess],
) -> None:
    if not DEBIAN_CONF.exists():
        pytest.fail("the Debian redis.conf (redis-server package) is required")
    results = []
    for kind, factory in (("ember", ember_factory), ("redis", redis_factory)):
        d = tmp_path / kind
        d.mkdir()
        conf = d / "redis.conf"
        shutil.copy(DEBIAN_CONF, conf)
        s = _start_with_conf(
            factory,
            conf,
            "--daemonize",
            "no",
            "--pidfile",
            str(d / "x.pid"),
            "--logfile",
            "",
            "--dir",
            str(d),
            "--save",
            "",
        )
        c = s.client()
        assert c.config_set("maxmemory", "100mb")
        assert c.config_set("hz", 20)
        c.execute_command("CONFIG", "SET", "save", "100 10 200 20", "appendfsync", "always")
        c.execute_command("CONFIG", "SET", "notify-keyspace-events", "KEA", "slowlog-max-len", "64")
        c.execute_command("CONFIG", "SET", "client-output-buffer-limit", "pubsub 64mb 16mb 90")
        c.execute_command(
            "CONFIG", "SET", "stream-node-max-bytes", "4096", "hash-max-ziplist-entries", "100"
        )
        assert c.execute_command("CONFIG", "REWRITE") == b"OK"
        text = conf.read_text().replace(str(d), "DIR").replace(str(s.port), "PORT")
        results.append(text)
        # the rewritten file loads again, with the same settings
        s.stop()
        s2 = _start_with_conf(factory, conf, "--daemonize", "no")
        c2 = s2.client()
        assert c2.config_get("maxmemory") == {"maxmemory": str(100 * 1024 * 1024)}
        assert c2.config_get("save") == {"save": "100 10 200 20"}
        s2.stop()
    mine, theirs = results
    mine_head, mine_tail = _split_generated(mine)
    their_head, their_tail = _split_generated(theirs)
    assert mine_head == their_head
    assert mine_tail == their_tail


def test_rename_command_in_config_file(
    tmp_path: Path,
    ember_factory: Callable[..., ServerProcess],
    redis_factory: Callable[..., ServerProcess],
) -> None:
    clients = []
    for kind, factory in (("e", ember_factory), ("r", redis_factory)):
        conf = tmp_path / f"{kind}.conf"
        conf.write_text('rename-command CONFIG myconfig\nrename-command FLUSHALL ""\n')
        clients.append(_start_with_conf(factory, conf).client())
    d = Diff(*clients)
    d("CONFIG", "GET", "hz")
    d("MYCONFIG", "GET", "hz")
    d("FLUSHALL")
    d("myconfig", "get", "maxmemory")
