"""FUNCTION / FCALL: differential tests against redis-server 7.0, DUMP/RESTORE across
servers, persistence through RDB and AOF, propagation, FUNCTION KILL/STATS."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from tests.conftest import Diff
from tests.helpers.servers import ServerProcess

FUNCTION_SEQUENCE = [
    ("FUNCTION", "FLUSH"),
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return {keys, args} end)",
    ),
    ("FCALL", "f1", "2", "a", "b", "c", "d"),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return x end)",
    ),
    ("FCALL", "f1", "0"),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=lib1\nredis.register_function('f1', function(keys, args) error('boom') end)",
    ),
    ("FCALL", "f1", "0"),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return redis.call('lpush', keys[1], 'x') end)",
    ),
    ("SET", "strk", "v"),
    ("FCALL", "f1", "1", "strk"),
    ("FUNCTION", "LOAD", "REPLACE", "#!lua name=lib1\nx = 1"),
    ("FUNCTION", "LOAD", "REPLACE", "#!lua name=lib1\nlocal x = 1"),
    ("FUNCTION", "LOAD", "REPLACE", "#!lua name=lib1\nredis.call('ping')"),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=lib1\nredis.register_function('f1', function() return 1 end)\nredis.register_function('f1', function() return 1 end)",
    ),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=lib1\nredis.register_function('f 1', function() return 1 end)",
    ),
    ("FUNCTION", "LOAD", "REPLACE", "#!lua name=lib1\nredis.register_function('f1', 1)"),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=lib1\nredis.register_function{function_name='f1', callback=function() return 1 end, flags={'no-writes'}, description='desc'}",
    ),
    ("FUNCTION", "LIST"),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=lib1\nredis.register_function{function_name='f1', callback=function() return 1 end, flags={'bad-flag'}}",
    ),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=lib1\nredis.register_function{function_name='f1', callback=function() return 1 end, foo=1}",
    ),
    ("FUNCTION", "LOAD", "REPLACE", "#!lua name=lib1\nredis.register_function{function_name='f1'}"),
    ("FUNCTION", "LOAD", "REPLACE", "#!lua name=lib1\nredis.register_function()"),
    ("FUNCTION", "LOAD", "REPLACE", "#!lua name=lib1\nredis.register_function('a','b','c')"),
    ("FUNCTION", "LOAD", "REPLACE", "#!lua name=lib1\nerror('at load')"),
    ("FUNCTION", "LOAD", "REPLACE", "#!lua name=lib1\nlocal function bad("),
    ("FUNCTION", "LOAD", "#!lua\nredis.register_function('f1', function() return 1 end)"),
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=bad-name!\nredis.register_function('f1', function() return 1 end)",
    ),
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=lib1 foo=bar\nredis.register_function('f1', function() return 1 end)",
    ),
    ("FUNCTION", "LOAD", "#!python name=lib1"),
    ("FUNCTION", "LOAD", "no shebang"),
    ("FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function('f1', function() return 1 end)"),
    ("FUNCTION", "LOAD", "#!lua name=lib2\nredis.register_function('g1', function() return 1 end)"),
    ("FUNCTION", "LOAD", "#!lua name=lib3\nreturn redis.setresp"),
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=lib3\nredis.log(redis.LOG_WARNING, 'hi'); redis.register_function('h', function() return 1 end)",
    ),
    ("FUNCTION", "LOAD", "#!lua name=lib4\nlocal t = {}; for k,v in pairs(redis) do t[#t+1]=k end"),
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=lib6\nredis.register_function('rnames', function() local t = {}; for k,v in pairs(redis) do t[#t+1]=k end; table.sort(t); return t end)",
    ),
    ("FCALL", "rnames", "0"),
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=lib7\nredis.register_function('gn', function() local t = {}; for k,v in pairs(_G) do t[#t+1]=k end; table.sort(t); return t end)",
    ),
    ("FCALL", "gn", "0"),
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=lib8\nredis.register_function('kk', function(keys, args) return {type(KEYS), type(ARGV)} end)",
    ),
    ("FCALL", "kk", "0"),
    ("FCALL", "nosuch", "0"),
    ("FCALL", "f1", "-1"),
    ("FCALL", "f1", "5", "a"),
    ("FCALL", "f1", "x"),
    ("FCALL_RO", "g1", "0"),
    ("FCALL", "G1", "0"),
    ("FUNCTION", "DELETE", "nosuch"),
    ("FUNCTION", "STATS"),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=zz\nredis.register_function({}, function() return 1 end)",
    ),
    ("FUNCTION", "LOAD", "REPLACE", "#!lua name=zz\nredis.register_function('x')"),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=zz\nredis.register_function({function_name='a', callback=1})",
    ),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=zz\nredis.register_function({function_name='a', callback=function() end, flags='no-writes'})",
    ),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=zz\nredis.register_function({function_name='a', callback=function() end, description={}})",
    ),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=zz\nredis.register_function({callback=function() end})",
    ),
    ("FUNCTION", "LOAD", "REPLACE", "#!lua name=zz\nredis.register_function({'a'})"),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=zz\nredis.register_function({function_name='a', callback=function() end, flags={1}})",
    ),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=zz\nredis.register_function({function_name='a', callback=function() end, flags={'no-writes', 'allow-oom','allow-stale','no-cluster','allow-cross-slot-keys'}})",
    ),
    ("FUNCTION", "LIST", "LIBRARYNAME", "zz"),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=zz\nredis.register_function{function_name='a', callback=function(k, a) return redis.call('set', 'x', 'y') end, flags={'no-writes'}}",
    ),
    ("FCALL", "a", "0"),
    ("FCALL_RO", "a", "0"),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=zz\nredis.register_function{function_name='a', callback=function(k, a) return redis.call('get', 'x') end}",
    ),
    ("FCALL_RO", "a", "0"),
    ("FUNCTION", "LOAD", "#!LUA name=up\nredis.register_function('up1', function() return 1 end)"),
    ("FUNCTION", "LOAD", "#!lua NAME=up2\nredis.register_function('up2', function() return 1 end)"),
    (
        "FUNCTION",
        "LOAD",
        "#!lua name=up3 name=x\nredis.register_function('up3', function() return 1 end)",
    ),
    ("FUNCTION", "LOAD", "#!lua name=up\nredis.register_function('up1', function() return 1 end)"),
    ("FUNCTION", "LOAD", "#!js name=up9\nredis.register_function('up1', function() return 1 end)"),
    ("FUNCTION", "LOAD", "#!lua name=\nredis.register_function('up1', function() return 1 end)"),
    ("FUNCTION", "LOAD", "#!lua name=zq\nredis.register_function('up1', function() return 1 end)"),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=zz\nlocal r = redis\nredis.register_function('p', function() return r.call('ping') end)",
    ),
    ("FCALL", "p", "0"),
    (
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=zz\nredis.register_function('p2', function() redis.register_function('x', function() end) end)",
    ),
    ("FCALL", "p2", "0"),
    ("FUNCTION", "FLUSH", "foo"),
    ("FUNCTION", "FLUSH", "a", "b"),
    ("FUNCTION", "LIST", "foo"),
    ("FUNCTION", "LIST", "LIBRARYNAME"),
    ("FUNCTION", "LIST", "WITHCODE", "WITHCODE"),
    ("FUNCTION", "RESTORE", "abc"),
    ("FUNCTION", "RESTORE", "abc", "foo"),
    ("FUNCTION", "DUMP", "x"),
    ("FUNCTION", "LOAD"),
    ("FUNCTION", "LOAD", "foo", "bar"),
    ("FUNCTION", "FLUSH"),
    ("FUNCTION", "LOAD", "#!lua name=d1\nredis.register_function('d1', function() return 1 end)"),
    ("FUNCTION", "DUMP"),
]

LIB = "#!lua name=mylib\nredis.register_function('myset', function(keys, args) return redis.call('set', keys[1], args[1]) end)\nredis.register_function{function_name='myget', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='read'}"


def _norm(reply: Any) -> Any:
    """FUNCTION LIST with libraries and their functions in name order (Redis: dict order)."""
    out = []
    for lib in reply:
        lib = dict(lib)
        lib[b"functions"] = sorted(lib[b"functions"], key=lambda f: f[b"name"])
        out.append(lib)
    return sorted(out, key=lambda lib: lib[b"library_name"])


def _list(diff: Diff, *args: Any) -> None:
    got = _norm(diff.ember.execute_command("FUNCTION", "LIST", *args))
    want = _norm(diff.redis.execute_command("FUNCTION", "LIST", *args))
    assert got == want


def _flush_functions(diff: Diff) -> None:
    diff("FUNCTION", "FLUSH")


def test_function_sequence(diff: Diff) -> None:
    _flush_functions(diff)
    for cmd in FUNCTION_SEQUENCE:
        diff(*cmd)
    _flush_functions(diff)


def test_function_list_and_stats(diff: Diff) -> None:
    _flush_functions(diff)
    diff("FUNCTION", "LOAD", LIB)
    diff(
        "FUNCTION",
        "LOAD",
        "#!lua name=other\nredis.register_function('o1', function() return 1 end)",
    )
    _list(diff)
    _list(diff, "WITHCODE")
    _list(diff, "LIBRARYNAME", "my*")
    _list(diff, "LIBRARYNAME", "MY*", "WITHCODE")
    _list(diff, "LIBRARYNAME", "nomatch")
    diff("FUNCTION", "STATS")
    diff("FCALL", "myset", "1", "k", "v")
    diff("FCALL_RO", "myget", "1", "k")
    diff("FCALL_RO", "myset", "1", "k", "v")
    diff("FCALL", "MYGET", "1", "k")
    diff("FUNCTION", "DELETE", "other")
    diff("FUNCTION", "DELETE", "other")
    diff("FCALL", "o1", "0")
    diff("FUNCTION", "HELP")
    diff("FUNCTION", "LOAD", "REPLACE", "foo", LIB)
    diff("FUNCTION", "RESTORE", "x", "y", "z")
    _flush_functions(diff)


def test_dump_restore_across_servers(r: redis.Redis, rr: redis.Redis, diff: Diff) -> None:
    _flush_functions(diff)
    diff("FUNCTION", "LOAD", LIB)
    payload_ember = r.execute_command("FUNCTION", "DUMP")
    payload_redis = rr.execute_command("FUNCTION", "DUMP")
    assert payload_ember == payload_redis
    diff("FUNCTION", "RESTORE", payload_ember)  # APPEND: collision
    diff("FUNCTION", "RESTORE", payload_ember, "APPEND")
    diff("FUNCTION", "RESTORE", payload_ember, "REPLACE")
    diff("FUNCTION", "FLUSH")
    # each server restores the other's payload
    assert r.execute_command("FUNCTION", "RESTORE", payload_redis) == b"OK"
    assert rr.execute_command("FUNCTION", "RESTORE", payload_ember) == b"OK"
    _list(diff, "WITHCODE")
    diff("FCALL", "myset", "1", "k", "v2")
    diff("GET", "k")
    diff("FUNCTION", "RESTORE", payload_ember, "FLUSH")
    diff("FUNCTION", "RESTORE", payload_ember[:-1] + b"x")
    diff("FUNCTION", "RESTORE", b"")
    # a library whose function collides with another library's function
    diff("FUNCTION", "FLUSH")
    diff(
        "FUNCTION",
        "LOAD",
        "#!lua name=clash\nredis.register_function('myset', function() return 1 end)",
    )
    diff("FUNCTION", "RESTORE", payload_ember, "REPLACE")
    _list(diff)
    _flush_functions(diff)


def test_functions_survive_restart_rdb(ember_factory: Callable[..., ServerProcess]) -> None:
    s = ember_factory(sub="rdb")
    c = s.client()
    c.execute_command("FUNCTION", "LOAD", LIB)
    c.save()
    c.close()
    s.stop()
    s2 = ember_factory(sub="rdb")
    c2 = s2.client()
    assert c2.execute_command("FCALL", "myset", "1", "k", "v") == b"OK"
    assert c2.execute_command("FCALL_RO", "myget", "1", "k") == b"v"
    libs = c2.execute_command("FUNCTION", "LIST", "WITHCODE")
    assert libs[0][b"library_code"] == LIB.encode()
    c2.close()


def test_rdb_with_functions_loads_in_real_redis(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> None:
    s = ember_factory(sub="x")
    c = s.client()
    c.execute_command("FUNCTION", "LOAD", LIB)
    c.save()
    c.close()
    s.stop()
    rs = redis_factory(sub="x", start=False)
    (rs.dir / "dump.rdb").write_bytes((s.dir / "dump.rdb").read_bytes())
    rs.start()
    rc = rs.client()
    assert rc.execute_command("FCALL", "myset", "1", "k", "v") == b"OK"
    rc.close()


def test_functions_survive_restart_aof(ember_factory: Callable[..., ServerProcess]) -> None:
    s = ember_factory("--appendonly", "yes", "--appendfsync", "always", sub="aof")
    c = s.client()
    c.execute_command("FUNCTION", "LOAD", LIB)
    c.execute_command(
        "FUNCTION", "LOAD", "#!lua name=gone\nredis.register_function('g', function() return 1 end)"
    )
    c.execute_command("FUNCTION", "DELETE", "gone")
    c.execute_command("FCALL", "myset", "1", "k", "v")
    data = b"".join(f.read_bytes() for f in sorted((s.dir / "appendonlydir").glob("*.incr.aof")))
    assert b"FCALL" not in data.upper()
    assert b"$8\r\nfunction\r\n$4\r\nload\r\n" in data.lower()
    assert b"*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n" in data
    c.close()
    s.stop()
    s2 = ember_factory("--appendonly", "yes", sub="aof")
    c2 = s2.client()
    assert c2.get("k") == b"v"
    assert c2.execute_command("FCALL_RO", "myget", "1", "k") == b"v"
    with pytest.raises(redis.ResponseError, match="Function not found"):
        c2.execute_command("FCALL", "g", "0")
    c2.close()


def _cl(s: ServerProcess, timeout: float = 10.0) -> redis.Redis:
    return s.client(socket_timeout=timeout, lib_name=None, lib_version=None)


@pytest.mark.parametrize("kind", ["ember", "redis"])
def test_function_kill_and_stats(
    kind: str,
    ember_factory: Callable[..., ServerProcess],
    redis_factory: Callable[..., ServerProcess],
) -> None:
    factory = ember_factory if kind == "ember" else redis_factory
    s = factory("--busy-reply-threshold", "100")
    setup = _cl(s)
    setup.execute_command(
        "FUNCTION",
        "LOAD",
        "#!lua name=busy\nredis.register_function('spin', function() while true do end end)",
    )
    runner = _cl(s, 30)
    out: list[Any] = []

    def target() -> None:
        try:
            out.append(("ok", runner.execute_command("FCALL", "spin", "0")))
        except redis.ResponseError as e:
            out.append(("err", str(e)))

    t = threading.Thread(target=target, daemon=True)
    t.start()
    end = time.monotonic() + 10
    busy = None
    while time.monotonic() < end:
        try:
            setup.ping()
        except redis.ResponseError as e:
            busy = str(e)
            break
        time.sleep(0.05)
    assert (
        busy
        == "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    )
    stats = setup.execute_command("FUNCTION", "STATS")
    running = stats[b"running_script"]
    assert running[b"name"] == b"spin"
    assert running[b"command"] == [b"FCALL", b"spin", b"0"]
    assert running[b"duration_ms"] >= 100
    with pytest.raises(redis.ResponseError, match="You can only call FUNCTION KILL"):
        setup.execute_command("SCRIPT", "KILL")
    assert setup.execute_command("FUNCTION", "KILL") == b"OK"
    t.join(10)
    assert out and out[0][0] == "err"
    assert (
        out[0][1] == "Script killed by user with SCRIPT KILL... script: spin, on @user_function:2."
    )
    assert setup.execute_command("FUNCTION", "STATS")[b"running_script"] is None
    with pytest.raises(redis.ResponseError, match="NOTBUSY"):
        setup.execute_command("FUNCTION", "KILL")
    setup.close()
    runner.close()


def test_function_load_timeout(diff: Diff) -> None:
    _flush_functions(diff)
    diff("FUNCTION", "LOAD", "#!lua name=slow\nwhile true do end")
    diff("FUNCTION", "LIST")
