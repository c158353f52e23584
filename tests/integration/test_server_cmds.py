"""Server commands: COMMAND *, INFO, TIME, SHUTDOWN, DEBUG, SLOWLOG, LATENCY, CONFIG
RESETSTAT — compared with redis-server 7.0.15."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from tests.conftest import Diff
from tests.helpers.servers import ServerProcess


def _raw_client(server: ServerProcess, **kw: Any) -> redis.Redis:
    """A client without redis-py's reply post-processing for COMMAND."""
    c = server.client(**kw)
    for name in list(c.response_callbacks):
        if str(name).upper().startswith(("COMMAND", "INFO", "CONFIG GET")):
            del c.response_callbacks[name]
    return c


def _table(c: redis.Redis) -> dict[bytes, list[Any]]:
    out: dict[bytes, list[Any]] = {}
    for item in c.execute_command("COMMAND"):
        out[item[0]] = item
        for sub in item[9]:
            out[sub[0]] = sub
    return out


def test_command_info_matches_redis_for_every_shared_command(
    ember: ServerProcess, real_redis: ServerProcess
) -> None:
    mine, theirs = _table(_raw_client(ember)), _table(_raw_client(real_redis))
    shared = sorted(set(mine) & set(theirs))
    assert len(shared) > 200
    bad = []
    for name in shared:
        a, b = list(mine[name]), list(theirs[name])
        a[9] = sorted(x[0] for x in a[9])
        b[9] = sorted(x[0] for x in b[9] if x[0] in mine)  # subcommands ember has
        if a != b:
            bad.append((name, a, b))
    assert not bad, bad[:3]


def test_command_count_list_info_structure(ember: ServerProcess, real_redis: ServerProcess) -> None:
    e, r = _raw_client(ember), _raw_client(real_redis)
    count = e.execute_command("COMMAND", "COUNT")
    assert count == len(e.execute_command("COMMAND"))
    names = e.execute_command("COMMAND", "LIST")
    assert b"get" in names and b"config|get" in names and len(names) > count
    assert set(e.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "xa*")) == set(
        r.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "xa*")
    )
    assert set(e.execute_command("COMMAND", "LIST", "FILTERBY", "ACLCAT", "string")) == set(
        r.execute_command("COMMAND", "LIST", "FILTERBY", "ACLCAT", "string")
    )
    d = Diff(e, r)
    d("COMMAND", "INFO", "get", "set", "config|get", "nosuch", "config|nosuch")
    d("COMMAND", "LIST", "FILTERBY", "MODULE", "x")
    d("COMMAND", "LIST", "FILTERBY", "foo", "bar")
    d("COMMAND", "LIST", "FILTERBY")
    d("COMMAND", "LIST", "x")
    d("COMMAND", "COUNT", "x")
    d("COMMAND", "FOO")
    d("COMMAND", "HELP")
    docs = _as_dict(e.execute_command("COMMAND", "DOCS", "get", "client", "nosuch"))
    assert set(docs) == {b"get", b"client"}
    get_doc = _as_dict(docs[b"get"])
    assert get_doc[b"group"] == b"string" and get_doc[b"since"] == b"1.0.0"
    assert b"subcommands" in _as_dict(docs[b"client"])


def _as_dict(x: Any) -> dict[Any, Any]:
    return x if isinstance(x, dict) else dict(zip(x[::2], x[1::2], strict=True))


def test_command_getkeys(ember: ServerProcess, real_redis: ServerProcess) -> None:
    diff = Diff(_raw_client(ember), _raw_client(real_redis))
    for args in [
        ("set", "k", "v"),
        ("get", "k"),
        ("mset", "a", "1", "b", "2"),
        ("lmove", "a", "b", "left", "right"),
        ("zunionstore", "d", "2", "a", "b"),
        ("zunionstore", "d", "x", "a", "b"),
        ("eval", "return 1", "2", "a", "b", "c"),
        ("eval", "return 1", "0"),
        ("sort", "k", "store", "dst"),
        ("xread", "streams", "a", "b", "0", "0"),
        ("georadius", "k", "0", "0", "1", "m", "store", "dst"),
        ("object", "encoding", "k"),
        ("lcs", "a", "b"),
        ("rename", "a", "b"),
        ("ping",),
        ("get",),
        ("get", "a", "b"),
        ("nosuch", "a"),
        ("object", "foo", "k"),
        ("config", "get", "x"),
    ]:
        diff("COMMAND", "GETKEYS", *args)
    diff("COMMAND", "GETKEYS", "get")
    diff("COMMAND", "GETKEYS")
    diff("COMMAND", "GETKEYSANDFLAGS", "lmove", "a", "b", "left", "right")
    diff("COMMAND", "GETKEYSANDFLAGS", "set", "k", "v")


def test_arity_errors_for_all_commands(ember: ServerProcess, real_redis: ServerProcess) -> None:
    """Calling any command with a wrong argument count gives Redis's exact error."""
    e, r = _raw_client(ember), _raw_client(real_redis)
    d = Diff(e, r)
    mine = _table(e)
    for name, info in sorted(mine.items()):
        arity = info[1]
        if b"|" in name or name in (
            b"shutdown",
            b"debug",
            b"monitor",
            b"quit",
            b"reset",
            b"multi",
            b"exec",
            b"subscribe",
            b"psubscribe",
            b"ssubscribe",
            b"sync",
            b"psync",
            b"waitaof",
        ):
            continue
        argc = arity + 1 if arity > 0 else 0
        if argc == 0 and -arity <= 1:
            continue
        if argc:
            d(name.decode(), *(["x"] * argc))
        else:
            d(name.decode(), *(["x"] * max(0, -arity - 2)))


def test_info_sections_order_and_fields(ember: ServerProcess, real_redis: ServerProcess) -> None:
    e, r = ember.client(), real_redis.client()

    def headers(c: redis.Redis, *sections: str) -> list[str]:
        raw = _raw_client(ember if c is e else real_redis)
        text = raw.execute_command("INFO", *sections).decode()
        return [line for line in text.split("\r\n") if line.startswith("#")]

    for sections in [
        (),
        ("all",),
        ("everything",),
        ("default",),
        ("server", "clients"),
        ("keyspace", "server"),
        ("commandstats",),
        ("foo",),
        ("SERVER",),
        ("modules",),
        ("latencystats",),
        ("errorstats", "cpu", "foo"),
    ]:
        assert headers(e, *sections) == headers(r, *sections), sections
    for section in [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "cluster",
    ]:
        ours, theirs = list(e.info(section)), list(r.info(section))
        missing = [f for f in theirs if f not in ours]
        assert not missing, (section, missing)
        assert [f for f in ours if f in theirs] == theirs, section  # same order
    assert _raw_client(ember).execute_command("INFO", "foo") == b""


def test_info_stats_and_keyspace_values(r: redis.Redis) -> None:
    r.config_resetstat()
    r.set("a", 1)
    r.get("a")
    r.get("nokey")
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCHCMD")
    with pytest.raises(redis.ResponseError):
        r.incr("nokey", "x")  # type: ignore[arg-type]
    stats = r.info("stats")
    assert stats["keyspace_hits"] == 1 and stats["keyspace_misses"] == 1
    assert stats["total_error_replies"] == 2
    err = r.info("errorstats")
    assert err["errorstat_ERR"] == {"count": 2}
    cmd = r.info("commandstats")
    assert cmd["cmdstat_get"]["calls"] == 2
    assert (
        cmd["cmdstat_incrby"]["failed_calls"] == 1 or cmd["cmdstat_incrby"]["rejected_calls"] == 1
    )
    r.set("b", 2, ex=100)
    r.execute_command("SELECT", "2")
    r.set("c", 3)
    ks = r.info("keyspace")
    assert ks["db0"]["keys"] == 2 and ks["db0"]["expires"] == 1 and ks["db2"]["keys"] == 1
    srv = r.info("server")
    assert srv["redis_version"] == "7.0.15" and srv["redis_mode"] == "standalone"
    assert r.info("clients")["connected_clients"] >= 1


def test_config_resetstat(r: redis.Redis) -> None:
    r.get("x")
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCH")
    assert r.config_resetstat()
    stats = r.info("stats")
    assert stats["total_error_replies"] == 0 and stats["keyspace_misses"] == 0
    assert r.info("errorstats") == {}
    assert "cmdstat_get" not in r.info("commandstats")


def test_time(r: redis.Redis) -> None:
    secs, usecs = r.time()
    assert abs(secs + usecs / 1e6 - time.time()) < 2
    with pytest.raises(redis.ResponseError, match="wrong number"):
        r.execute_command("TIME", "x")


def test_debug_subcommands(diff: Diff, ember: ServerProcess) -> None:
    diff.many(
        [
            ("DEBUG",),
            ("DEBUG", "FOO"),
            ("DEBUG", "SLEEP"),
            ("DEBUG", "SLEEP", "0", "1"),
            ("DEBUG", "SLEEP", "abc"),
            ("DEBUG", "SLEEP", "0"),
            ("DEBUG", "LOG"),
            ("DEBUG", "LOG", "a", "b"),
            ("DEBUG", "LOG", "hello-from-test"),
            ("DEBUG", "SET-ACTIVE-EXPIRE", "1"),
        ]
    )
    assert "DEBUG LOG: hello-from-test" in ember.log_text()
    c = ember.client()
    start = time.monotonic()
    c.execute_command("DEBUG", "SLEEP", "0.3")
    assert time.monotonic() - start >= 0.25
    help_lines = c.execute_command("DEBUG", "HELP")
    assert (
        help_lines[0].startswith(b"DEBUG <subcommand>")
        and help_lines[-1] == b"    Prints this help."
    )


@pytest.mark.parametrize("mode,allowed", [("no", False), ("local", True), ("yes", True)])
def test_enable_debug_command(
    mode: str,
    allowed: bool,
    ember_factory: Callable[..., ServerProcess],
    redis_factory: Callable[..., ServerProcess],
) -> None:
    e = ember_factory("--enable-debug-command", mode).client()
    r = redis_factory("--enable-debug-command", mode).client()
    d = Diff(e, r)
    d("DEBUG", "SLEEP", "0")
    d("DEBUG", "FOO")
    d("CONFIG", "SET", "enable-debug-command", "yes")
    reply = d("CONFIG", "GET", "enable-debug-command")
    assert reply == {b"enable-debug-command": mode.encode()}
    if not allowed:
        with pytest.raises(redis.ResponseError, match="DEBUG command not allowed"):
            e.execute_command("DEBUG", "SLEEP", "0")


def test_slowlog(diff: Diff, r: redis.Redis) -> None:
    diff.many(
        [
            ("SLOWLOG", "HELP"),
            ("SLOWLOG", "FOO"),
            ("SLOWLOG",),
            ("SLOWLOG", "GET", "abc"),
            ("SLOWLOG", "GET", "-2"),
            ("SLOWLOG", "GET", "1", "2"),
            ("SLOWLOG", "LEN", "x"),
            ("SLOWLOG", "RESET", "x"),
        ]
    )
    r.config_set("slowlog-log-slower-than", 0)
    try:
        r.slowlog_reset()
        r.set("slowkey", "v" * 200)
        r.execute_command("RPUSH", "slowlist", *[str(i) for i in range(40)])
        entries = r.slowlog_get(-1)
        assert r.slowlog_len() >= len(entries) >= 2
        push = next(e for e in entries if e["command"].startswith(b"RPUSH"))
        assert push["command"].endswith(b" 28 ... (11 more arguments)")
        setcmd = next(e for e in entries if e["command"].lower().startswith(b"set slowkey"))
        assert setcmd["command"].endswith(b"v" * 128 + b"... (72 more bytes)")
        assert isinstance(setcmd["id"], int) and setcmd["client_address"].startswith(b"127.0.0.1:")
        assert len(r.execute_command("SLOWLOG", "GET", "1")) == 1
        r.config_set("slowlog-max-len", 2)
        r.ping()
        r.ping()
        r.ping()
        assert r.slowlog_len() == 2
    finally:
        r.config_set("slowlog-log-slower-than", 10000)
        r.config_set("slowlog-max-len", 128)
        r.slowlog_reset()


def test_latency(diff: Diff) -> None:
    diff.many(
        [
            ("LATENCY", "HELP"),
            ("LATENCY", "LATEST"),
            ("LATENCY", "HISTORY", "foo"),
            ("LATENCY", "RESET"),
            ("LATENCY", "DOCTOR"),
            ("LATENCY", "GRAPH", "foo"),
            ("LATENCY", "FOO"),
            ("LATENCY",),
        ]
    )


def test_shutdown_variants(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> None:
    e = ember_factory("--save", "")
    r = redis_factory("--save", "")
    d = Diff(e.client(), r.client())
    d("SHUTDOWN", "FOO")
    d("SHUTDOWN", "ABORT")
    d("SHUTDOWN", "NOSAVE", "SAVE")
    d("SHUTDOWN", "ABORT", "NOW")
    d("MULTI")
    d("SHUTDOWN")
    d("EXEC")
    for s in (e, r):
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        sock.sendall(b"SHUTDOWN NOSAVE\r\n")
        assert sock.recv(100) == b""  # no reply: the server goes away
        sock.close()
        assert s.proc is not None and s.proc.wait(10) == 0
    assert "User requested shutdown..." in e.log_text()
    assert "ready to exit, bye bye" in e.log_text()


def test_shutdown_save_writes_the_dataset(ember_factory: Callable[..., ServerProcess]) -> None:
    s = ember_factory("--save", "", "--dbfilename", "final.rdb")
    s.client().set("persisted", "yes")
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    sock.sendall(b"SHUTDOWN SAVE\r\n")
    assert sock.recv(100) == b""
    assert s.proc is not None and s.proc.wait(10) == 0
    assert (s.dir / "final.rdb").exists()
    again = ember_factory("--save", "", "--dbfilename", "final.rdb", sub=s.dir.name)
    assert again.client().get("persisted") == b"yes"


def test_pipelined_commands_are_timed_each_on_its_own(ember: ServerProcess, r: redis.Redis) -> None:
    """In a pipelined batch ember reads the clock once per command (one command's end
    is the next one's start); a slow command's time must stay its own, on the inlined
    path (EVAL) and on the general one (EXEC, through Client.call)."""
    from tests.helpers.raw import Raw

    slow = (  # 30 ms by the server's clock, however fast the machine
        "EVAL",
        "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] "
        "while true do t = redis.call('TIME') "
        "if t[1] * 1000000 + t[2] - s >= 30000 then return 1 end end",
        "0",
    )
    r.config_set("slowlog-log-slower-than", 20000)
    r.config_resetstat()
    r.slowlog_reset()
    raw = Raw(ember.port)
    try:
        raw.send(
            ("SET", "a", "1"),
            slow,
            ("GET", "a"),
            ("MULTI",),
            slow,
            ("EXEC",),
            ("INCR", "n"),
            ("GET", "a"),
        )
        assert raw.read(8) == (
            b"+OK\r\n:1\r\n$1\r\n1\r\n+OK\r\n+QUEUED\r\n*1\r\n:1\r\n:1\r\n$1\r\n1\r\n"
        )
        logged = [e["command"].split()[0].upper() for e in r.slowlog_get(-1)]
        assert b"EVAL" in logged
        assert not {b"SET", b"GET", b"MULTI", b"INCR"} & set(logged), logged
        stats = r.info("commandstats")
        assert stats["cmdstat_eval"]["calls"] == 2 and stats["cmdstat_eval"]["usec"] >= 60000
        assert stats["cmdstat_exec"]["usec"] >= 30000
        assert stats["cmdstat_get"]["calls"] == 2 and stats["cmdstat_get"]["usec"] < 20000
        assert stats["cmdstat_incr"]["usec"] < 20000
    finally:
        raw.close()
        r.config_set("slowlog-log-slower-than", 10000)
        r.slowlog_reset()
