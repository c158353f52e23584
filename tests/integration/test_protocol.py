"""The wire protocol over raw sockets, byte for byte against redis-server 7.0.15.

Every payload is sent on a fresh connection to both servers (all at once, so the whole
module stays fast); the bytes received and whether the server closed the connection
must be identical.
"""

from __future__ import annotations

import re
import selectors
import socket
import time
from collections.abc import Callable

import pytest
import redis
from tests.helpers.servers import ServerProcess

Result = tuple[bytes, bool]  # (bytes received, connection closed by the server)


def raw_many(
    port: int, payloads: list[list[bytes]], wait: float = 0.4, gap: float = 0.03
) -> list[Result]:
    """Send each payload (a list of chunks, ``gap`` seconds apart) on its own connection;
    collect what comes back until the server closes or ``wait`` seconds pass."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in payloads]
    out = [b""] * len(socks)
    closed = [False] * len(socks)
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)

    def pump(until: float) -> None:
        while time.monotonic() < until and not all(closed):
            for key, _ in sel.select(max(0.0, until - time.monotonic())):
                i = key.data
                try:
                    data = socks[i].recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                if data:
                    out[i] += data
                else:
                    closed[i] = True
                    sel.unregister(socks[i])

    nchunks = max(len(p) for p in payloads)
    for j in range(nchunks):
        for i, chunks in enumerate(payloads):
            if j < len(chunks) and not closed[i]:
                try:
                    socks[i].sendall(chunks[j])
                except (BrokenPipeError, ConnectionResetError, BlockingIOError):
                    pass
        pump(time.monotonic() + gap)
    pump(time.monotonic() + wait)
    for s in socks:
        s.close()
    return list(zip(out, closed, strict=True))


def both(
    ember: ServerProcess, real: ServerProcess, payloads: list[list[bytes]], **kw: float
) -> tuple[list[Result], list[Result]]:
    return raw_many(ember.port, payloads, **kw), raw_many(real.port, payloads, **kw)


def mb(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


MALFORMED = [
    b"*abc\r\n",
    b"*-10\r\nPING\r\n",
    b"*-1\r\nPING\r\n",
    b"*0\r\nPING\r\n",
    b"*1x\r\n",
    b"*\r\n",
    b"*2147483648\r\n",
    b"*1\r\n$abc\r\n",
    b"*1\r\n$-1\r\n",
    b"*1\r\n$04\r\nPING\r\n",
    b"*1\r\n$+4\r\nPING\r\n",
    b"*1\r\n$536870913\r\n",
    b"*3\r\n:1\r\n",
    b"*1\r\n+PING\r\n",
    b"*1\r\n*1\r\n$4\r\nPING\r\n",
    b"*2\r\n$4\r\nECHO\r\n+PINGxxxx\r\n",
    b"*1\r\n\r\n",
    b"*1\r\n\xff\r\n",
    b"~1\r\n$4\r\nPING\r\n",
    b'PING "a\r\n',
    b"ECHO 'a'b\r\n",
    b'ECHO "a"b\r\n',
    b"PING\r\n*abc\r\nPING\r\n",
    mb(b"SET", b"k", b"v") + b"*1\r\n$x\r\n" + mb(b"PING"),
    b"*1\r\n$2\r\nPING\r\n",
    b"*1\r\n$4\r\nPINGxx" + mb(b"PING"),
    b"x" * 70000,
    b"*" + b"1" * 70000,
    b"*1\r\n$" + b"1" * 70000,
]

VALID = [
    b"PING\r\n",
    b"PING\n",
    b"\r\n\r\n\n  \r\nPING\r\n",
    b'SET k "\\x41\\x42\\n"\r\nGET k\r\nSTRLEN k\r\n',
    b"ECHO 'it\\'s'\r\n",
    b'ECHO "a\x0bb" c\r\n',
    b"ECHO a\x0bb\r\n",
    b'ECHO ""\r\n',
    b"set a 1\r\nincr a\r\nget a\r\n",
    mb(b"ECHO", b"bin\r\n\x00data"),
    mb(b"PING") + b"PING\r\n" + mb(b"ECHO", b"x") + b"ECHO y\r\n",
    b"".join(mb(b"INCR", b"counter") for _ in range(200)) + mb(b"GET", b"counter"),
    mb(b"SET", b"big", b"z" * 100_000) + mb(b"STRLEN", b"big"),
    b"QUIT\r\nPING\r\n",
    mb(b"QUIT") + mb(b"PING"),
    b"NOSUCHCMD a b\r\n" + mb(b"NOSUCH", b"x" * 200, b"y"),
    b"GET\r\nSET k\r\nCONFIG\r\nCONFIG NOPE\r\n",
    mb(b"ECHO", b"a\r\nb") + b"BADCMD a\nb\r\n",
    b"ECHO a\x00b\nPING\r\n",
]


def test_malformed_requests_match_redis_bytes(
    ember: ServerProcess, real_redis: ServerProcess
) -> None:
    payloads = [[p] for p in MALFORMED]
    got, want = both(ember, real_redis, payloads)
    for p, g, w in zip(MALFORMED, got, want, strict=True):
        assert g == w, p[:80]


def test_valid_and_pipelined_requests_match_redis_bytes(
    ember: ServerProcess, real_redis: ServerProcess
) -> None:
    for c in (ember.client(), real_redis.client()):
        c.flushall()
    payloads = [[p] for p in VALID]
    got, want = both(ember, real_redis, payloads)
    for p, g, w in zip(VALID, got, want, strict=True):
        assert g == w, p[:80]


def test_requests_split_across_reads(ember: ServerProcess, real_redis: ServerProcess) -> None:
    streams = [
        mb(b"SET", b"s", b"hello world") + b"GET s\r\n" + mb(b"STRLEN", b"s"),
        b"*1\r\n$4\r\nPING\r\n*abc\r\n",
        b'ECHO "unterminated\r\n',
        b"*2\r\n$4\r\nECHO\r\n$" + b"5\r\nabcde\r\n",
    ]
    payloads: list[list[bytes]] = []
    for data in streams:
        for cut in (1, 3, len(data) // 2, len(data) - 1):
            payloads.append([data[:cut], data[cut:]])
        payloads.append([data[i : i + 7] for i in range(0, len(data), 7)])
    got, want = both(ember, real_redis, payloads, gap=0.01)
    assert got == want


def test_protocol_error_leaves_server_and_other_clients_alone(ember: ServerProcess) -> None:
    c = ember.client()
    c.set("alive", 1)
    before = c.info("stats")["total_error_replies"]
    raw_many(ember.port, [[b"*abc\r\n"], [b"*1\r\n$x\r\n"], [b"x" * 70000]], wait=0.2)
    assert c.get("alive") == b"1"
    assert c.info("stats")["total_error_replies"] - before == 3
    assert "errorstat_ERR" in c.info("errorstats")


def test_big_bulk_in_many_chunks(ember: ServerProcess, real_redis: ServerProcess) -> None:
    payload = mb(b"SET", b"bigchunk", b"q" * 300_000) + mb(b"STRLEN", b"bigchunk")
    chunks = [payload[i : i + 32768] for i in range(0, len(payload), 32768)]
    got, want = both(ember, real_redis, [chunks], gap=0.005)
    assert got == want == [(b"+OK\r\n:300000\r\n", False)]


@pytest.fixture
def small_limits(ember: ServerProcess, real_redis: ServerProcess) -> Callable[[], None]:
    clients = [ember.client(), real_redis.client()]
    for c in clients:
        c.config_set("proto-max-bulk-len", "1mb")
        c.config_set("client-query-buffer-limit", "1mb")

    def undo() -> None:
        for c in clients:
            c.config_set("proto-max-bulk-len", "512mb")
            c.config_set("client-query-buffer-limit", "1gb")

    return undo


def test_proto_max_bulk_len_and_query_buffer_limit(
    ember: ServerProcess, real_redis: ServerProcess, small_limits: Callable[[], None]
) -> None:
    try:
        limit = 1024 * 1024
        payloads = [
            [b"*1\r\n$%d\r\n" % (limit + 1)],
            [mb(b"SET", b"edge", b"e" * limit)],
            [mb(b"ECHO", b"ok") + b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % limit],
        ]
        got, want = both(ember, real_redis, payloads)
        assert got == want
        # an inline request growing past the limits: refused and closed, like Redis.
        # (A multibulk whose big argument straddles client-query-buffer-limit is not
        # compared: Redis reads big arguments straight into their buffer, so whether it
        # closes depends on how the kernel splits the reads.)
        inline = [b"x" * 500_000, b"x" * 500_000, b"x" * 500_000]
        got, want = both(ember, real_redis, [inline], gap=0.05)
        assert got[0] == want[0]
        # ember enforces the limit on the buffered request: closed, nothing executed
        # (a big argument is buffered whole: bulk + CRLF = limit + 2 bytes > the limit)
        head = b"*2\r\n$4\r\nECHO\r\n$%d\r\n" % limit
        filler = [head + b"a" * 400_000, b"a" * 400_000, b"a" * (limit - 800_000) + b"\r\n"]
        ((reply, closed),) = raw_many(ember.port, [filler], gap=0.05)
        assert closed and reply == b""
    finally:
        small_limits()


def start_with_password(s: ServerProcess, timeout: float = 30.0) -> ServerProcess:
    """Start a server that requires a password (its readiness answer is NOAUTH)."""
    s.start(wait=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", s.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(100).startswith(b"-NOAUTH"):
                    return s
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{s.kind} did not start:\n{s.log_text()}")


def test_unauthenticated_request_limits(
    ember_factory: Callable[..., ServerProcess], redis_factory: Callable[..., ServerProcess]
) -> None:
    e = start_with_password(ember_factory("--requirepass", "secret", start=False))
    r = start_with_password(redis_factory("--requirepass", "secret", start=False))
    payloads = [
        [mb(*[b"a"] * 10)],
        [mb(*[b"a"] * 11)],
        [mb(b"AUTH", b"x" * 16384)],
        [b"*2\r\n$4\r\nAUTH\r\n$16385\r\n"],
        [b"a b c d e f g h i j k l\r\n"],
        [mb(b"AUTH", b"secret") + mb(*[b"ECHO"] + [b"a"] * 10)],
        [mb(b"GET", b"k") + mb(b"HELLO", b"3")],
    ]
    got, want = both(e, r, payloads)
    assert got == want


def test_resp3_types(ember: ServerProcess, real_redis: ServerProcess) -> None:
    for c in (ember.client(), real_redis.client()):
        c.flushall()
    session = (
        mb(b"HELLO", b"3", b"SETNAME", b"x")  # reply checked separately (client ids differ)
    )
    cmds = [
        mb(b"GET", b"nokey"),
        mb(b"CONFIG", b"GET", b"maxmemory"),
        mb(b"ZADD", b"z", b"1.5", b"a"),
        mb(b"ZSCORE", b"z", b"a"),
        mb(b"ZINCRBY", b"z", b"1e300", b"a"),
        mb(b"SADD", b"s", b"m"),
        mb(b"SMEMBERS", b"s"),
        mb(b"HSET", b"h", b"f", b"v"),
        mb(b"HGETALL", b"h"),
        mb(b"COMMAND", b"INFO", b"get", b"client|list", b"nosuch"),
        mb(b"EXISTS", b"nokey"),
        mb(b"LPOP", b"nolist", b"2"),
        mb(b"HELLO", b"2"),
        mb(b"GET", b"nokey"),
        mb(b"CONFIG", b"GET", b"maxmemory"),
        mb(b"LPOP", b"nolist", b"2"),
    ]
    got, want = both(ember, real_redis, [[session], [session + b"".join(cmds)]])
    hello_e = got[0][0]
    assert hello_e.startswith(b"%7\r\n") and b"$5\r\nproto\r\n:3\r\n" in hello_e
    assert _no_ids(got[0][0]) == _no_ids(want[0][0])
    assert _no_ids(got[1][0]) == _no_ids(want[1][0])


def _no_ids(data: bytes) -> bytes:
    """HELLO replies carry the connection id, which differs between the servers."""
    return re.sub(rb"\$2\r\nid\r\n:\d+\r\n", b"$2\r\nid\r\n:ID\r\n", data)


def test_hello_errors_and_options(ember: ServerProcess, real_redis: ServerProcess) -> None:
    payloads = [
        [p]
        for p in [
            b"HELLO 4\r\n",
            b"HELLO 1\r\n",
            b"HELLO abc\r\n",
            b"HELLO 3 FOO\r\n",
            b"HELLO 3 AUTH\r\n",
            b"HELLO 3 AUTH default\r\n",
            b"HELLO 3 SETNAME\r\n",
            b'HELLO 3 SETNAME "a b"\r\n',
            b"HELLO 2 AUTH nouser pass\r\n",
            b"HELLO 3 AUTH default anything SETNAME n1\r\nCLIENT GETNAME\r\n",
        ]
    ]
    got, want = both(ember, real_redis, payloads)
    for g, w, p in zip(got, want, payloads, strict=True):
        assert (_no_ids(g[0]), g[1]) == (_no_ids(w[0]), w[1]), p


def test_many_clients_pipelining_concurrently(ember: ServerProcess) -> None:
    n = 50
    payloads = [[b"".join(mb(b"INCR", b"shared") for _ in range(100))] for _ in range(n)]
    results = raw_many(ember.port, payloads, wait=1.0)
    assert all(len(r[0].split(b"\r\n")) == 101 for r in results)
    assert redis.Redis(port=ember.port).get("shared") == str(n * 100).encode()
