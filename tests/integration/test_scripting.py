"""EVAL / EVALSHA / SCRIPT: differential tests against redis-server 7.0, propagation of
script effects to the AOF, busy scripts and SCRIPT KILL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from tests.conftest import Diff
from tests.helpers.servers import ServerProcess

# Scripts whose reply (or error text) must be identical on both servers.
SCRIPTS = [
    # conversions Lua -> reply
    "return 1",
    "return 3.99",
    "return -3.99",
    "return 1e20",
    "return 0/0",
    "return 'str'",
    "return true",
    "return false",
    "return nil",
    "return {1,2,nil,4}",
    "return {1,2,3,x=4}",
    "return {1,{2,{3,'x'}},true,false}",
    "return {ok='fine'}",
    "return {err='bad'}",
    "return {err='-bad'}",
    "return {err='bad\\r\\nx'}",
    "return {ok='x', err='y'}",
    "return {ok={}}",
    "return {err=1}",
    "return {double=1.5}",
    "return {double=0.1}",
    "return {double='abc'}",
    "return redis.status_reply('x\\ny')",
    "return redis.error_reply('X bad')",
    "return redis.error_reply('bad')",
    "return redis.error_reply('-bad')",
    "return redis.status_reply()",
    "return redis.error_reply(1)",
    # conversions reply -> Lua
    "return redis.call('ping')",
    "return redis.call('ping')['ok']",
    "return type(redis.call('get', 'nosuchkey'))",
    "redis.call('rpush', 'l', 'a', 'b'); return redis.call('lrange', 'l', 0, -1)",
    "redis.call('hset', 'h', 'f', 'v'); return redis.call('hgetall', 'h')",
    "return redis.call('set', 'k', 'v')",
    "return redis.call('incr', 'cnt')",
    "redis.call('set','k', 0.1); return redis.call('get','k')",
    "redis.call('set','k', 1/3); return redis.call('get','k')",
    "redis.call('set','k', 2^53); return redis.call('get','k')",
    "redis.call('set','k', 1e20); return redis.call('get','k')",
    "redis.call('set','k', 123456789012); return redis.call('get','k')",
    # errors from redis.call
    "return redis.call('foo')",
    "return redis.call('set')",
    "return redis.call('multi')",
    "return redis.call('eval','return 1', 0)",
    "return redis.call()",
    "return redis.call(1)",
    "return redis.call('get', {})",
    "return redis.call('get', nil)",
    "return redis.call('get', true)",
    "redis.call('set','k','v'); return redis.call('lpush','k','a')",
    "redis.call('set','k','v'); return redis.pcall('lpush','k','a')",
    "return redis.pcall('foo')",
    "return redis.pcall('set')",
    "local ok, e = pcall(redis.call, 'nosuch'); return {type(e), e}",
    "local ok, e = pcall(redis.call, 'nosuch'); error(e)",
    "local t = redis.pcall('nosuch'); return {type(t), t.err}",
    "local ok, e = pcall(function() error({err='X y'}) end); return {type(e), e.err}",
    "local ok, e = pcall(function() local x = nil; return x.y end); return {type(e), e}",
    # script errors
    "return 1 +",
    "error('boom')",
    "error({err='MYERR boom'})",
    "error(nil)",
    "error(5)",
    "error('x', 0)",
    "local t = setmetatable({}, {__index=function() error('idx') end}); return t.x",
    # globals protection / sandbox
    "x = 1",
    "return y",
    "redis.call=nil; return 1",
    "redis.foo=1; return 1",
    "string.foo=1; return 1",
    "cjson.foo=1; return 1",
    "rawset(_G,'zz',1); return zz",
    "setmetatable(_G, nil); return 1",
    "return type(getmetatable(_G))",
    "local t = {}; t.x=1; return t.x",
    "return type(debug)",
    "return type(print)",
    "return type(os)",
    "return type(loadstring)",
    "local t={}; for k,v in pairs(_G) do t[#t+1]=k end; table.sort(t); return t",
    "local t = {}; for k,v in pairs(redis) do t[#t+1]=k end; table.sort(t); return t",
    "local t = {}; for k,v in pairs(math) do t[#t+1]=k end; table.sort(t); return t",
    "local t = {}; for k,v in pairs(bit) do t[#t+1]=k end; table.sort(t); return t",
    "local f = loadstring('return 1+1'); return f()",
    "local f = loadstring('x=1'); return f()",
    "return loadstring(string.dump(function() return 1 end))",
    "local f,e = loadstring(string.char(27)..'Lua'); return e",
    "return coroutine.wrap(function() return 5 end)()",
    # the redis table
    "return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM, redis.REPL_ALL, redis.REPL_NONE}",
    "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
    "return redis.replicate_commands()",
    "return redis.set_repl(redis.REPL_ALL)",
    "return redis.set_repl(99)",
    "return redis.set_repl()",
    "return redis.sha1hex('')",
    "return redis.sha1hex()",
    "return redis.sha1hex(1)",
    "return redis.log(redis.LOG_DEBUG, 'hello', 1, 2)",
    "return redis.log(99, 'hello')",
    "return redis.log('x')",
    "return redis.setresp(4)",
    "return redis.setresp()",
    "return redis.acl_check_cmd('get','x')",
    "return redis.acl_check_cmd('nosuch')",
    "math.randomseed(42); return {math.random(100), math.random(5,10), tostring(math.random())}",
    # bundled libraries
    "return cjson.encode({1,2,3,{a=1}})",
    "return cjson.encode({a='x/y', b={}})",
    "return cjson.encode('a\\1b\\127')",
    "return cjson.encode(1/3)",
    "return cjson.encode({[1]=1,[3]=3})",
    "return cjson.encode({[1]=1,[20]=3})",
    "return cjson.decode('[1,2,{\"a\":null}]')[3].a == cjson.null",
    'return cjson.decode(\'{"a":[1,2.5,"x"]}\').a[2]',
    "return cjson.decode('nope')",
    "return struct.pack('>I2', 258)",
    "return {struct.unpack('>I2', struct.pack('>I2', 258))}",
    "return struct.size('>iH')",
    "return cmsgpack.pack({1,2,3})",
    "return {cmsgpack.unpack(cmsgpack.pack({1,2,3}, 'x', 5))}",
    "return cmsgpack.pack(1.5, -1, 300, 'abc', true)",
    "return bit.tohex(65535)",
    "return {bit.band(0xff, 0x0f), bit.bnot(0), bit.lshift(1, 31), bit.tobit(2^32+5)}",
    "return bit.tohex(-1, -4)",
    "return bit.band('x')",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_eval_differential(diff: Diff, script: str) -> None:
    diff("EVAL", script, "0")


SHEBANGS = [
    ("EVAL", "#!lua\nreturn x"),
    ("EVAL", "#!lua"),
    ("EVAL", "#!python\nreturn 1"),
    ("EVAL", "#!lua foo=bar\nreturn 1"),
    ("EVAL", "#!lua flags=no-writes,bad\nreturn 1"),
    ("EVAL", "#!lua flags=\nreturn 1"),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('set','a','b')"),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('publish','a','b')"),
    ("EVAL", "#!lua\nreturn redis.call('set','a','b')"),
    ("EVAL", '#!lua "flags=no-writes"\nreturn 1'),
    ("EVAL", "#!lua  flags=no-writes,,allow-oom\nreturn 1"),
    ("EVAL", '#!"lua\nreturn 1'),
    ("EVAL", "#! lua\nreturn 1"),
    ("EVAL_RO", "#!lua\nreturn 1"),
    ("EVAL_RO", "#!lua flags=no-writes\nreturn 1"),
    ("EVAL_RO", "return redis.call('set','a','b')"),
    ("EVAL_RO", "return redis.call('publish','a','b')"),
    ("EVAL_RO", "return redis.call('get','a')"),
]


@pytest.mark.parametrize(("cmd", "script"), SHEBANGS)
def test_shebang_and_read_only(diff: Diff, cmd: str, script: str) -> None:
    diff(cmd, script, "0")
    diff("EXISTS", "a")


def test_keys_argv_and_numkeys(diff: Diff) -> None:
    diff("EVAL", "return {KEYS, ARGV}", "2", "k1", "k2", "a1", "a2", "a3")
    diff("EVAL", "KEYS[1]='x'; return KEYS[1]", "1", "a")
    diff("EVAL", "return #ARGV", "0", "a", "b")
    diff("EVAL", "return 1", "x")
    diff("EVAL", "return 1", "-1")
    diff("EVAL", "return 1", "2", "a")
    diff("EVAL", "return 1")


def test_select_inside_script_keeps_caller_db(diff: Diff) -> None:
    diff("EVAL", "redis.call('select', 1); return redis.call('set', 'dbk', 'x')", "0")
    diff("EXISTS", "dbk")
    diff("SELECT", "1")
    diff("EXISTS", "dbk")
    diff("DEL", "dbk")
    diff("SELECT", "0")


def test_script_cache_commands(diff: Diff) -> None:
    diff("SCRIPT", "FLUSH")
    sha = diff("SCRIPT", "LOAD", "return 'cached'")
    diff("SCRIPT", "EXISTS", sha, sha.upper(), "abc")
    diff("EVALSHA", sha, "0")
    diff("EVALSHA", sha.upper(), "0")
    diff("EVALSHA_RO", sha, "0")
    diff("EVALSHA", "abc", "0")
    diff("EVALSHA", "0123456789012345678901234567890123456789", "0")
    diff("SCRIPT", "LOAD", "return 1 +")
    diff("SCRIPT", "LOAD", "#!lua flags=bad\nreturn 1")
    diff("SCRIPT", "FLUSH", "foo")
    diff("SCRIPT", "FLUSH", "sync", "async")
    diff("SCRIPT", "FLUSH", "ASYNC")
    diff("SCRIPT", "EXISTS", sha)
    diff("EVALSHA", sha, "0")
    diff("SCRIPT", "KILL")
    diff("SCRIPT", "HELP")
    diff("SCRIPT", "foo")
    diff("SCRIPT", "EXISTS")
    # EVAL caches the script too
    diff("EVAL", "return 'via eval'", "0")
    diff("SCRIPT", "EXISTS", "3ffba9c3e0ab7a5b6b4fb8226e8e5d2b9f0e1d3c")


def _pair(request: pytest.FixtureRequest, protocol: int) -> tuple[redis.Redis, redis.Redis]:
    ember: ServerProcess = request.getfixturevalue("ember")
    real: ServerProcess = request.getfixturevalue("real_redis")
    a, b = ember.client(protocol=protocol), real.client(protocol=protocol)
    a.flushall()
    b.flushall()
    return a, b


def _both(a: redis.Redis, b: redis.Redis, *args: Any) -> Any:
    def one(c: redis.Redis) -> Any:
        try:
            return ("ok", c.execute_command(*args))
        except redis.ResponseError as e:
            return ("err", str(e))

    got, want = one(a), one(b)
    assert got == want, f"{args!r}: ember={got!r} redis={want!r}"
    return got


RESP_SCRIPTS = [
    "return true",
    "return false",
    "return nil",
    "return {1, false, 'x'}",
    "return {double=3.5}",
    "return {map={a=1}}",
    "return {set={a=true}}",
    "redis.setresp(3); return true",
    "redis.setresp(3); return false",
    "redis.setresp(3); return redis.call('get', 'nokey') == nil",
    "redis.setresp(3); redis.call('hset', 'h', 'f', 'v'); local r = redis.call('hgetall', 'h'); return {type(r.map), r.map.f}",
    "redis.setresp(3); redis.call('sadd', 's', 'm'); local r = redis.call('smembers', 's'); return {type(r.set), tostring(r.set.m)}",
    "redis.setresp(3); redis.call('hset', 'h', 'f', 'v'); return redis.call('hgetall', 'h')",
    "redis.setresp(2); redis.call('hset', 'h', 'f', 'v'); return redis.call('hgetall', 'h')",
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_resp_versions(request: pytest.FixtureRequest, protocol: int) -> None:
    a, b = _pair(request, protocol)
    try:
        for script in RESP_SCRIPTS:
            _both(a, b, "EVAL", script, "0")
    finally:
        a.close()
        b.close()


# ---------------------------------------------------------------------- propagation
def _aof_incr(s: ServerProcess) -> bytes:
    d = s.dir / "appendonlydir"
    files = sorted(d.glob("*.incr.aof"))
    return b"".join(f.read_bytes() for f in files)


def test_effects_are_propagated_not_eval(ember_factory: Callable[..., ServerProcess]) -> None:
    s = ember_factory("--appendonly", "yes", "--appendfsync", "always")
    c = s.client()
    c.execute_command(
        "EVAL",
        "redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', KEYS[2])",
        "2",
        "k",
        "n",
        "v",
    )
    c.execute_command("EVAL", "return redis.call('get', 'k')", "0")  # read only: nothing
    c.execute_command("EVAL", "redis.call('rpush', 'l', 'a')", "0")  # one write: no MULTI
    c.execute_command(
        "EVAL", "redis.set_repl(redis.REPL_NONE); redis.call('set', 'hidden', '1')", "0"
    )
    c.execute_command("EVAL", "redis.call('set', 'shown', '1')", "0")
    data = _aof_incr(s)
    assert b"EVAL" not in data.upper().replace(b"$4\r\nEXEC", b"")
    assert (
        b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$4\r\nincr\r\n$1\r\nn\r\n*1\r\n$4\r\nEXEC\r\n"
        in data
    )
    assert b"*3\r\n$5\r\nrpush\r\n$1\r\nl\r\n$1\r\na\r\n" in data
    assert b"hidden" not in data
    assert b"shown" in data
    # replaying the AOF gives the same dataset
    c.close()
    s.stop()
    s2 = ember_factory("--appendonly", "yes", sub=s.dir.name)
    c2 = s2.client()
    assert c2.get("k") == b"v"
    assert c2.get("n") == b"1"
    assert c2.lrange("l", 0, -1) == [b"a"]
    assert c2.get("hidden") is None
    c2.close()


# ---------------------------------------------------------------------- busy scripts
def _cl(s: ServerProcess, timeout: float = 10.0) -> redis.Redis:
    # no CLIENT SETINFO on connect: redis-py ignores its (BUSY) error replies and then
    # reads the next reply out of step
    return s.client(socket_timeout=timeout, lib_name=None, lib_version=None)


def _run_in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def target() -> None:
        try:
            out.append(("ok", fn()))
        except Exception as e:  # noqa: BLE001 - the error is the result
            out.append(("err", str(e)))

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, out


def _wait_busy(c: redis.Redis, deadline_s: float = 10.0) -> str:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            c.ping()
        except redis.exceptions.BusyLoadingError as e:
            return str(e)
        except redis.ResponseError as e:
            return str(e)
        time.sleep(0.05)
    raise AssertionError("the server never became busy")


@pytest.mark.parametrize("kind", ["ember", "redis"])
def test_busy_script_and_script_kill(
    kind: str,
    ember_factory: Callable[..., ServerProcess],
    redis_factory: Callable[..., ServerProcess],
) -> None:
    factory = ember_factory if kind == "ember" else redis_factory
    s = factory("--busy-reply-threshold", "100")
    runner = _cl(s, 30)
    t, out = _run_in_thread(
        lambda: runner.execute_command("EVAL", "local i = 0 while true do i = i + 1 end", "0")
    )
    other = _cl(s)
    busy = _wait_busy(other)
    assert (
        busy
        == "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    )
    # a fresh connection is served too
    fresh = _cl(s)
    with pytest.raises(redis.ResponseError, match="BUSY|busy"):
        fresh.get("x")
    with pytest.raises(redis.ResponseError, match="You can only call SCRIPT KILL"):
        fresh.execute_command("FUNCTION", "KILL")
    assert fresh.execute_command("SCRIPT", "KILL") == b"OK"
    t.join(10)
    assert out and out[0][0] == "err"
    assert out[0][1].startswith("Script killed by user with SCRIPT KILL... script: ")
    assert other.ping() is True
    with pytest.raises(redis.ResponseError, match="NOTBUSY No scripts in execution right now."):
        other.execute_command("SCRIPT", "KILL")
    for c in (runner, other, fresh):
        c.close()


@pytest.mark.parametrize("kind", ["ember", "redis"])
def test_busy_script_that_wrote_is_unkillable(
    kind: str,
    ember_factory: Callable[..., ServerProcess],
    redis_factory: Callable[..., ServerProcess],
) -> None:
    factory = ember_factory if kind == "ember" else redis_factory
    s = factory("--busy-reply-threshold", "50")
    runner = _cl(s, 30)
    # busy for 2-3 s: on a loaded machine the other client's first PING can take over 1 s
    script = "redis.call('set', 'w', '1') local t = redis.call('time') local s = tonumber(t[1]) while true do local n = redis.call('time') if tonumber(n[1]) > s + 2 then break end end return 'done'"
    t, out = _run_in_thread(lambda: runner.execute_command("EVAL", script, "0"))
    other = _cl(s)
    _wait_busy(other)
    with pytest.raises(
        redis.ResponseError, match="UNKILLABLE Sorry the script already executed write commands"
    ):
        other.execute_command("SCRIPT", "KILL")
    t.join(15)
    assert out == [("ok", b"done")]
    assert other.get("w") == b"1"
    runner.close()
    other.close()


def test_killed_script_cannot_be_caught_by_pcall(
    ember_factory: Callable[..., ServerProcess],
) -> None:
    s = ember_factory("--busy-reply-threshold", "50")
    runner = _cl(s, 30)
    script = "while true do pcall(function() while true do end end) end"
    t, out = _run_in_thread(lambda: runner.execute_command("EVAL", script, "0"))
    other = _cl(s)
    _wait_busy(other)
    assert other.execute_command("SCRIPT", "KILL") == b"OK"
    t.join(10)
    assert out and out[0][0] == "err" and "Script killed by user" in out[0][1]
    assert runner.execute_command("EVAL", "return 'alive'", "0") == b"alive"
    runner.close()
    other.close()
