"""Connection handling: AUTH/requirepass, HELLO, RESET, CLIENT subcommands, CLIENT PAUSE,
maxclients, timeout, unix sockets, protected mode. Differential where replies are
deterministic."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from tests.conftest import Diff
from tests.helpers.servers import ServerProcess
from tests.integration.test_protocol import mb, raw_many, start_with_password

from ember.server.client import protected_mode_denies


def test_ping_echo_quit(diff: Diff, ember: ServerProcess, real_redis: ServerProcess) -> None:
    diff.many(
        [
            ("PING",),
            ("PING", "hello"),
            ("PING", "a", "b"),
            ("ECHO", "x"),
            ("ECHO",),
            ("ECHO", "a", "b"),
            ("QUIT", "extra"),
        ]
    )
    payloads = [[b"QUIT\r\n"], [b"PING\r\nQUIT\r\nPING\r\n"], [mb(b"QUIT", b"x")]]
    assert raw_many(ember.port, payloads) == raw_many(real_redis.port, payloads)


def test_unknown_command_and_subcommand_texts(diff: Diff) -> None:
    diff("FOO", "a", "b")
    diff("FOO")
    diff("FOO", "x" * 200, "y")
    diff("FOO", *[f"arg{i}" for i in range(40)])
    diff("FOO", "a\r\nb")
    diff("CONFIG", "NOPE")
    diff("CONFIG", "nope\r\nx")
    diff("CLIENT", "x" * 200)
    diff("OBJECT", "foo", "bar")
    diff("CONFIG")
    diff("CLIENT")


@pytest.fixture
def auth_pair(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> tuple[ServerProcess, ServerProcess]:
    return (
        start_with_password(ember_factory("--requirepass", "s3cret", start=False)),
        start_with_password(redis_factory("--requirepass", "s3cret", start=False)),
    )


AUTH_SESSION = [
    b"GET k",
    b"PING",
    b"CONFIG GET x",
    b"FOO",
    b"SET k",
    b"AUTH",
    b"AUTH wrong",
    b"AUTH default wrong",
    b"AUTH nouser s3cret",
    b"AUTH a b c",
    b"HELLO 3",
    b"HELLO 2 AUTH default wrong",
    b"GET k",
    b"AUTH s3cret",
    b"SET k v",
    b"AUTH wrong",
    b"GET k",
    b"RESET",
    b"GET k",
    b"AUTH default s3cret",
    b"GET k",
    b'CONFIG SET requirepass ""',
    b"GET k",
    b"AUTH x",
    b"CONFIG SET requirepass other",
    b"GET k",
]


def test_requirepass_auth_and_noauth(auth_pair: tuple[ServerProcess, ServerProcess]) -> None:
    e, r = auth_pair
    # one connection, commands sent one by one (each waits for its reply)
    for server_replies in _one_by_one(e, r, AUTH_SESSION):
        assert server_replies[0] == server_replies[1]
    # a new connection needs the new password; QUIT and HELLO AUTH work unauthenticated
    payloads = [
        [b"GET k\r\nHELLO 2 AUTH default other\r\nGET k\r\n"],
        [b"QUIT\r\n"],
        [b"AUTH other\r\nCLIENT SETNAME x\r\nCLIENT GETNAME\r\n"],
    ]
    got, want = raw_many(e.port, payloads), raw_many(r.port, payloads)
    assert [(g[0].split(b"id\r\n")[0], g[1]) for g in got] == [
        (w[0].split(b"id\r\n")[0], w[1]) for w in want
    ]


def _one_by_one(
    e: ServerProcess, r: ServerProcess, lines: list[bytes]
) -> list[tuple[bytes, bytes]]:
    socks = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for s in (e, r)]
    out = []
    for line in lines:
        replies = []
        for sock in socks:
            sock.sendall(line + b"\r\n")
            replies.append(_read_reply(sock))
        out.append((replies[0], replies[1]))
    for sock in socks:
        sock.close()
    return out


def _read_reply(sock: socket.socket) -> bytes:
    """One RESP2 reply (status, error, integer, bulk or a flat array of those)."""
    data = b""
    while True:
        data += sock.recv(65536)
        if _complete(data):
            return data


def _complete(data: bytes) -> bool:
    def item(pos: int) -> int:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return -1
        t = data[pos : pos + 1]
        if t == b"$":
            n = int(data[pos + 1 : end])
            return end + 2 if n < 0 else (end + 4 + n if len(data) >= end + 4 + n else -1)
        if t == b"*":
            n = int(data[pos + 1 : end])
            p = end + 2
            for _ in range(max(n, 0)):
                p = item(p)
                if p < 0:
                    return -1
            return p
        return end + 2

    return item(0) == len(data)


def test_hello_setname_and_protocol_switch(diff: Diff, r: redis.Redis) -> None:
    diff("HELLO", "4")
    diff("HELLO", "abc")
    diff("HELLO", "3", "SETNAME", "a b")
    diff("HELLO", "2", "FOO")
    diff("HELLO", "3", "AUTH", "default")
    r.execute_command("HELLO", "2", "AUTH", "default", "anything", "SETNAME", "n1")
    diff("CLIENT", "SETNAME", "n1")
    diff("CLIENT", "GETNAME")
    reply = r.execute_command("HELLO")
    if isinstance(reply, list):
        reply = dict(zip(reply[::2], reply[1::2], strict=True))
    assert reply[b"proto"] == 2 and reply[b"server"] == b"redis" and reply[b"version"] == b"7.0.15"


def test_reset_restores_connection_state(r: redis.Redis) -> None:
    r.execute_command("SELECT", "3")
    r.client_setname("named")
    r.execute_command("CLIENT", "NO-EVICT", "on")
    assert r.execute_command("RESET") in ("RESET", b"RESET")
    info = r.client_info()
    assert str(info["db"]) == "0" and info["name"] == "" and "e" not in info["flags"]
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'reset'"):
        r.execute_command("RESET", "x")


def test_client_setname_getname_id_info_list(diff: Diff, r: redis.Redis) -> None:
    diff.many(
        [
            ("CLIENT", "GETNAME"),
            ("CLIENT", "SETNAME", "my-name"),
            ("CLIENT", "GETNAME"),
            ("CLIENT", "SETNAME", ""),
            ("CLIENT", "GETNAME"),
            ("CLIENT", "SETNAME", "a b"),
            ("CLIENT", "SETNAME", "a\nb"),
            ("CLIENT", "SETNAME", "a", "b"),
            ("CLIENT", "ID", "x"),
            ("CLIENT", "INFO", "x"),
            ("CLIENT", "LIST", "TYPE", "foo"),
            ("CLIENT", "LIST", "TYPE", "master"),
            ("CLIENT", "LIST", "TYPE", "replica"),
            ("CLIENT", "LIST", "ID", "abc"),
            ("CLIENT", "LIST", "ID", "0"),
            ("CLIENT", "LIST", "ID", "999999"),
            ("CLIENT", "LIST", "FOO"),
            ("CLIENT", "LIST", "ID"),
            ("CLIENT", "HELP"),
            ("CLIENT", "GETREDIR"),
            ("CLIENT", "NO-EVICT", "maybe"),
            ("CLIENT", "NO-EVICT", "on"),
            ("CLIENT", "NO-EVICT", "off"),
            ("CLIENT", "REPLY", "maybe"),
            ("CLIENT", "SETINFO", "lib-name", "x"),
        ]
    )
    r.client_setname("me")
    info = r.client_info()
    fields = [
        "id",
        "addr",
        "laddr",
        "fd",
        "name",
        "age",
        "idle",
        "flags",
        "db",
        "sub",
        "psub",
        "ssub",
        "multi",
        "qbuf",
        "qbuf-free",
        "argv-mem",
        "multi-mem",
        "rbs",
        "rbp",
        "obl",
        "oll",
        "omem",
        "tot-mem",
        "events",
        "cmd",
        "user",
        "redir",
        "resp",
    ]
    assert list(info) == fields
    assert info["name"] == "me" and info["cmd"] == "client|info" and info["flags"] == "N"
    assert int(info["id"]) == r.client_id()
    line = r.execute_command("CLIENT", "LIST", "ID", r.client_id())
    assert line.startswith(f"id={r.client_id()} ".encode())
    assert b"name=me" in r.execute_command("CLIENT", "LIST", "TYPE", "normal")


def test_client_kill(diff: Diff, ember: ServerProcess) -> None:
    diff.many(
        [
            ("CLIENT", "KILL"),
            ("CLIENT", "KILL", "1.2.3.4:5"),
            ("CLIENT", "KILL", "ID", "abc"),
            ("CLIENT", "KILL", "ID", "0"),
            ("CLIENT", "KILL", "ID", "-1"),
            ("CLIENT", "KILL", "ID", "999999"),
            ("CLIENT", "KILL", "TYPE", "foo"),
            ("CLIENT", "KILL", "TYPE", "master"),
            ("CLIENT", "KILL", "SKIPME", "maybe"),
            ("CLIENT", "KILL", "FOO", "bar"),
            ("CLIENT", "KILL", "ID"),
            ("CLIENT", "KILL", "MAXAGE", "1"),
            ("CLIENT", "KILL", "USER", "nobody"),
            ("CLIENT", "KILL", "USER", "default", "ID", "999999"),
            ("CLIENT", "KILL", "LADDR", "1.1.1.1:1"),
        ]
    )
    victim = socket.create_connection(("127.0.0.1", ember.port), timeout=5)
    victim.sendall(b"CLIENT ID\r\n")
    vid = int(victim.recv(100)[1:-2])
    killer = ember.client()
    assert killer.execute_command("CLIENT", "KILL", "ID", vid) == 1
    assert victim.recv(100) == b""  # closed by the server
    other = socket.create_connection(("127.0.0.1", ember.port), timeout=5)
    other.sendall(b"CLIENT INFO\r\n")
    addr = other.recv(1000).split(b"addr=")[1].split(b" ")[0]
    assert killer.execute_command("CLIENT", "KILL", addr) == b"OK"
    assert other.recv(100) == b""
    # killing yourself with SKIPME no: the reply arrives, then the connection closes
    sock = socket.create_connection(("127.0.0.1", ember.port))
    sock.sendall(b"CLIENT ID\r\n")
    cid = int(sock.recv(100)[1:-2])
    sock.sendall(b"CLIENT KILL ID %d SKIPME no\r\nPING\r\n" % cid)
    data = b""
    while True:
        chunk = sock.recv(100)
        if not chunk:
            break
        data += chunk
    assert data == b":1\r\n"


def test_client_reply_off_skip_on(ember: ServerProcess, real_redis: ServerProcess) -> None:
    payloads = [
        [b"CLIENT REPLY OFF\r\nPING\r\nSET k v\r\nCLIENT REPLY ON\r\nPING\r\n"],
        [b"CLIENT REPLY SKIP\r\nPING\r\nPING\r\n"],
        [b"CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING\r\nCLIENT REPLY ON\r\nECHO x\r\n"],
        [b"CLIENT REPLY SKIP\r\nFOO\r\nECHO y\r\n"],
    ]
    assert raw_many(ember.port, payloads) == raw_many(real_redis.port, payloads)


def test_client_pause_parsing(diff: Diff) -> None:
    diff.many(
        [
            ("CLIENT", "PAUSE"),
            ("CLIENT", "PAUSE", "abc"),
            ("CLIENT", "PAUSE", "-1"),
            ("CLIENT", "PAUSE", "10", "FOO"),
            ("CLIENT", "PAUSE", "abc", "FOO"),
            ("CLIENT", "PAUSE", "10", "ALL", "extra"),
            ("CLIENT", "PAUSE", "9223372036854775807"),
            ("CLIENT", "PAUSE", "0"),
            ("CLIENT", "UNPAUSE"),
            ("CLIENT", "UNPAUSE", "x"),
            ("CLIENT", "UNBLOCK"),
            ("CLIENT", "UNBLOCK", "abc"),
            ("CLIENT", "UNBLOCK", "999999"),
            ("CLIENT", "UNBLOCK", "999999", "FOO"),
            ("CLIENT", "UNBLOCK", "999999", "ERROR"),
            ("CLIENT", "UNBLOCK", "999999", "TIMEOUT", "x"),
        ]
    )


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    t = time.monotonic()
    res = fn()
    return res, time.monotonic() - t


def test_client_pause_all_holds_other_clients(ember: ServerProcess) -> None:
    a, b = ember.client(), ember.client()
    b.ping()
    a.execute_command("CLIENT", "PAUSE", "400")
    res, took = _timed(lambda: b.get("x"))
    assert res is None and took >= 0.3
    res, took = _timed(lambda: b.ping())
    assert took < 0.2


def test_client_pause_write_holds_only_writes_and_unpause(ember: ServerProcess) -> None:
    a, b = ember.client(), ember.client()
    b.ping()
    a.execute_command("CLIENT", "PAUSE", "5000", "WRITE")
    try:
        res, took = _timed(lambda: b.get("x"))
        assert took < 0.2
        results: list[object] = []
        t = threading.Thread(target=lambda: results.append(_timed(lambda: b.set("x", "1"))))
        t.start()
        time.sleep(0.3)
        assert not results  # the write is held
        c = ember.client()
        assert c.get("x") is None
        assert c.execute_command("CLIENT", "UNPAUSE") == b"OK"
        t.join(5)
        assert results and results[0][0] is True and 0.25 < results[0][1] < 4  # type: ignore[index]
        assert c.get("x") == b"1"
    finally:
        a.execute_command("CLIENT", "UNPAUSE")


def test_client_pause_keeps_order_of_queued_commands(ember: ServerProcess) -> None:
    a = ember.client()
    a.execute_command("CLIENT", "PAUSE", "300", "WRITE")
    sock = socket.create_connection(("127.0.0.1", ember.port))
    sock.sendall(b"SET k 1\r\nINCR k\r\nGET k\r\nPING\r\n")
    time.sleep(0.05)
    assert a.get("k") is None
    data = b""
    deadline = time.monotonic() + 5
    while data.count(b"\r\n") < 4 and time.monotonic() < deadline:
        data += sock.recv(100)
    assert data == b"+OK\r\n:2\r\n$1\r\n2\r\n+PONG\r\n"
    sock.close()


def test_maxclients(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> None:
    for factory in (ember_factory, redis_factory):
        s = factory("--maxclients", "3")
        keep = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(3)]
        for k in keep:
            k.sendall(b"PING\r\n")
            assert k.recv(10) == b"+PONG\r\n"
        got = raw_many(s.port, [[b"PING\r\n"]])
        assert got == [(b"-ERR max number of clients reached\r\n", True)], s.kind
        keep.pop().close()
        time.sleep(0.1)
        assert raw_many(s.port, [[b"PING\r\n"]]) == [(b"+PONG\r\n", False)]
        c = redis.Redis(port=s.port)
        assert c.info("stats")["rejected_connections"] == 1
        for k in keep:
            k.close()


def test_idle_timeout_closes_clients(ember_factory: Callable[..., ServerProcess]) -> None:
    s = ember_factory("--timeout", "1")
    idle = socket.create_connection(("127.0.0.1", s.port))
    idle.sendall(b"PING\r\n")
    assert idle.recv(10) == b"+PONG\r\n"
    sub = redis.Redis(port=s.port).pubsub()
    sub.subscribe("ch")
    busy = redis.Redis(port=s.port)
    idle.settimeout(5)
    start = time.monotonic()
    while time.monotonic() - start < 4:
        busy.ping()
        time.sleep(0.2)
        try:
            idle.setblocking(False)
            if idle.recv(10) == b"":
                break
        except BlockingIOError:
            pass
    assert 0.9 < time.monotonic() - start < 4  # closed by the server after ~1-2 s
    assert busy.ping()
    assert sub.get_message(timeout=1)["type"] == "subscribe"  # pub/sub clients are exempt
    assert busy.publish("ch", "x") == 1


def test_unixsocket_and_perm(ember_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    path = tmp_path / "e.sock"
    s = ember_factory("--unixsocket", str(path), "--unixsocketperm", "700")
    assert oct(path.stat().st_mode & 0o777) == "0o700"
    c = redis.Redis(unix_socket_path=str(path))
    assert c.ping()
    info = c.client_info()
    assert info["addr"] == f"{path}:0" and "U" in info["flags"]
    assert c.config_get("unixsocket") == {"unixsocket": str(path)}
    assert c.config_get("unixsocketperm") == {"unixsocketperm": "700"}
    assert "Ready to accept connections" in s.log_text()
    assert f"The server is now ready to accept connections at {path}" in s.log_text()
    s.stop()
    assert not path.exists()


def test_bind_and_port_at_runtime(ember_factory: Callable[..., ServerProcess]) -> None:
    from tests.helpers.servers import free_port

    s = ember_factory()
    c = s.client()
    new_port = free_port()
    assert c.config_set("port", new_port)
    c2 = redis.Redis(port=new_port)
    assert c2.ping()
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=s.port, socket_connect_timeout=1).ping()
    assert c2.config_get("port") == {"port": str(new_port)}
    with pytest.raises(redis.ResponseError, match="CONFIG SET failed"):
        c2.config_set("bind", "192.0.2.55")  # not a local address
    assert c2.ping() and c2.config_get("bind") == {"bind": "127.0.0.1"}
    s.port = new_port


@pytest.mark.parametrize(
    "cfg,ip,unix,denied",
    [
        ({"protected-mode": True, "requirepass": ""}, "127.0.0.1", False, False),
        ({"protected-mode": True, "requirepass": ""}, "::1", False, False),
        ({"protected-mode": True, "requirepass": ""}, "10.1.2.3", False, True),
        ({"protected-mode": True, "requirepass": ""}, "127.0.0.2", False, True),
        ({"protected-mode": True, "requirepass": ""}, "::ffff:10.0.0.1", False, True),
        ({"protected-mode": True, "requirepass": ""}, "", True, False),
        ({"protected-mode": True, "requirepass": "x"}, "10.1.2.3", False, False),
        ({"protected-mode": False, "requirepass": ""}, "10.1.2.3", False, False),
    ],
)
def test_protected_mode_decision(cfg: dict[str, object], ip: str, unix: bool, denied: bool) -> None:
    assert protected_mode_denies(cfg, ip, unix) is denied


def test_protected_mode_allows_loopback(ember_factory: Callable[..., ServerProcess]) -> None:
    s = ember_factory("--protected-mode", "yes")
    assert s.client().ping()


def test_monitor_feed(ember: ServerProcess) -> None:
    sock = socket.create_connection(("127.0.0.1", ember.port))
    sock.sendall(b"MONITOR\r\n")
    assert sock.recv(100) == b"+OK\r\n"
    c = ember.client()
    c.set("mkey", "a b")
    sock.settimeout(5)
    data = b""
    while b"mkey" not in data:
        data += sock.recv(1000)
    assert b'"set" "mkey" "a b"' in data.lower() and data.startswith(b"+")
    sock.close()


def test_clearing_requirepass_lets_waiting_clients_in(
    auth_pair: tuple[ServerProcess, ServerProcess],
) -> None:
    for s in auth_pair:
        waiting = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        waiting.sendall(b"GET k\r\n")
        assert waiting.recv(100).startswith(b"-NOAUTH")
        admin = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        admin.sendall(b"AUTH s3cret\r\n")
        assert _read_reply(admin) == b"+OK\r\n"
        admin.sendall(b'CONFIG SET requirepass ""\r\n')
        assert _read_reply(admin) == b"+OK\r\n"
        waiting.sendall(b"GET k\r\n")
        assert waiting.recv(100) == b"$-1\r\n", s.kind
        waiting.close()
        admin.close()
