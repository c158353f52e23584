"""Hostile clients: protocol garbage, huge lengths, deep nesting, half-sent commands,
thousands of idle connections up to ``maxclients``, slow readers of big replies
(``client-output-buffer-limit``) and a never-ending 2 GB bulk string
(``client-query-buffer-limit``). The server must answer like Redis where Redis answers,
never crash, keep its memory (RSS from /proc) bounded and keep serving other clients."""

from __future__ import annotations

import random
import re
import resource
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.faults.workload import connect
from tests.helpers.servers import ServerProcess

pytestmark = [pytest.mark.faults, pytest.mark.interop]


def rss_mb(s: ServerProcess) -> float:
    assert s.proc is not None
    with open(f"/proc/{s.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def alive(s: ServerProcess) -> bool:
    return s.proc is not None and s.proc.poll() is None


def exchange(port: int, payload: bytes, wait: float = 0.3) -> bytes:
    """Send ``payload`` on a new connection; everything received until EOF or ``wait``."""
    sk = socket.create_connection(("127.0.0.1", port), timeout=5)
    sk.sendall(payload)
    sk.settimeout(wait)
    out = b""
    try:
        while True:
            d = sk.recv(65536)
            if not d:
                out += b"<EOF>"
                break
            out += d
    except TimeoutError:
        pass
    except ConnectionResetError:
        out += b"<RST>"
    sk.close()
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    e = ServerProcess("ember", tmp_path_factory.mktemp("hostile-ember"), []).start()
    r = ServerProcess("redis", tmp_path_factory.mktemp("hostile-redis"), []).start()
    yield e, r
    e.stop()
    r.stop()


PAYLOADS = [
    b"*1\r\n$2147483648\r\n",  # 2 GB bulk, above proto-max-bulk-len
    b"*2147483648\r\n",  # absurd multibulk count
    b"*1\r\n$-5\r\n",
    b"*1\r\n" * 100_000,  # deep nesting
    b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$x\r\n",
    b"*1\r\n$3\r\nPINGX\r\n",  # bulk shorter than announced
    b'SET "a b\r\n',  # unbalanced quotes (inline)
    b"*-1\r\nPING\r\n",
    b"*0\r\nPING\r\n",
    b"*1\r\n$4\r\nPING\r\n\r\n\r\n",
    b"*1\r\n$600000000\r\n",
    b"*1\r\n$4\r\nPING\r\n*x\r\n",
    b"\r\n\r\nPING\r\n",
    b"PING\n",
    b"*2\r\n$3\r\nGET\r\n$1\r\nab\r\n",
    b"\x00\xff\xfe\r\n",
    b"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n",
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: repr(p[:24]))
def test_protocol_errors_like_redis(
    pair: tuple[ServerProcess, ServerProcess], payload: bytes
) -> None:
    e, r = pair
    with ThreadPoolExecutor(2) as pool:
        got, want = pool.map(lambda s: exchange(s.port, payload, 0.25), (e, r))
    assert got == want
    assert alive(e)


def test_random_garbage_never_crashes(pair: tuple[ServerProcess, ServerProcess]) -> None:
    e, _ = pair
    rng = random.Random(1234)
    base = rss_mb(e)
    valid = [
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nabc\r\n",
        b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        b"*4\r\n$5\r\nLPUSH\r\n$1\r\nl\r\n$1\r\na\r\n$1\r\nb\r\n",
        b"PING\r\n",
        b"*1\r\n$4\r\nINFO\r\n",
    ]
    monitor = connect(e.port)
    for batch in range(8):
        socks = []
        for _ in range(40):
            kind = rng.random()
            if kind < 0.3:
                data = rng.randbytes(rng.randint(1, 4096))
            elif kind < 0.6:  # a valid pipeline with bytes flipped
                data = bytearray(b"".join(rng.choice(valid) for _ in range(rng.randint(1, 20))))
                for _ in range(rng.randint(1, 5)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
                data = bytes(data)
            elif kind < 0.8:  # a valid pipeline cut anywhere
                data = b"".join(rng.choice(valid) for _ in range(rng.randint(1, 20)))
                data = data[: rng.randrange(len(data))]
            else:  # random headers
                data = b"".join(
                    rng.choice(
                        [
                            b"*%d\r\n" % rng.randint(-3, 1 << 31),
                            b"$%d\r\n" % rng.randint(-3, 1 << 40),
                            b"x" * rng.randint(0, 100),
                            b"\r\n",
                            b":1\r\n",
                            b"+OK\r\n",
                        ]
                    )
                    for _ in range(rng.randint(1, 30))
                )
            sk = socket.create_connection(("127.0.0.1", e.port), timeout=5)
            try:
                sk.sendall(data)
            except OSError:
                pass  # the server may already have closed it on a protocol error
            socks.append(sk)
        time.sleep(0.05)
        for sk in socks:
            if rng.random() < 0.5:
                sk.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )  # RST
            sk.close()
        assert monitor.ping() is True, f"batch {batch}"
    assert alive(e)
    assert rss_mb(e) < base + 50
    assert "Traceback" not in e.log_text()
    monitor.close()


def test_half_sent_command_does_not_block_others(pair: tuple[ServerProcess, ServerProcess]) -> None:
    e, _ = pair
    slow = socket.create_connection(("127.0.0.1", e.port), timeout=5)
    slow.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$5\r\nva")
    other = connect(e.port)
    for i in range(100):
        other.set(f"o{i}", i)
    assert other.get("o99") == b"99"
    assert other.exists("half") == 0
    slow.sendall(b"lue\r\n")
    slow.settimeout(5)
    assert slow.recv(100) == b"+OK\r\n"
    assert other.get("half") == b"value"
    # half a command then a disconnect: nothing happens
    gone = socket.create_connection(("127.0.0.1", e.port), timeout=5)
    gone.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\ngone\r\n$5\r\nva")
    gone.close()
    time.sleep(0.1)
    assert other.exists("gone") == 0
    slow.close()
    other.close()


def test_max_clients_error_like_redis(tmp_path: Path) -> None:
    got = {}
    for kind in ("ember", "redis"):
        s = ServerProcess(kind, tmp_path / kind, ["--maxclients", "5"]).start()
        try:
            socks = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(5)]
            time.sleep(0.2)
            got[kind] = exchange(s.port, b"", 1.0)
            socks[0].sendall(b"PING\r\n")
            assert socks[0].recv(100) == b"+PONG\r\n"
            for sk in socks:
                sk.close()
        finally:
            s.stop()
    assert got["ember"] == got["redis"] == b"-ERR max number of clients reached\r\n<EOF>"


def test_thousands_of_idle_connections(tmp_path: Path) -> None:
    """3000 idle clients (maxclients 3000): all accepted, the next one refused, memory
    bounded, a working client still served; ulimit -n must exceed maxclients + 32."""
    n = 3000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = n + 200
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"ulimit -n is {hard}: cannot open {need} sockets here")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    s = ServerProcess("ember", tmp_path / "d", ["--maxclients", str(n)]).start()
    socks: list[socket.socket] = []
    try:
        c = connect(s.port)
        base = rss_mb(s)
        for _ in range(n - 1):
            socks.append(socket.create_connection(("127.0.0.1", s.port), timeout=10))
        deadline = time.monotonic() + 20
        while int(c.info("clients")["connected_clients"]) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        assert int(c.info("clients")["connected_clients"]) == n
        assert exchange(s.port, b"", 1.0) == b"-ERR max number of clients reached\r\n<EOF>"
        assert int(c.info("stats")["rejected_connections"]) >= 1
        for i in range(50):
            c.set(f"k{i}", i)
        assert c.get("k49") == b"49"
        assert rss_mb(s) < base + 200  # well under 100 KB per idle client
        assert "Increased maximum number of open files" in s.log_text() or soft >= n + 32
    finally:
        for sk in socks:
            sk.close()
        s.stop()


def test_slow_reader_of_big_replies_is_disconnected(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    e, r = pair
    for s in (e, r):
        c = connect(s.port)
        c.config_set("client-output-buffer-limit", "normal 4mb 2mb 2")
        c.set("big", "x" * (1 << 20))
        base = rss_mb(s)
        sk = socket.socket()
        sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sk.connect(("127.0.0.1", s.port))
        sk.setblocking(False)
        req = b"GET big\r\n" * 300  # 300 MB of replies that are never read
        sent, peak = 0, base
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if sent < len(req):
                try:
                    sent += sk.send(req[sent:])
                except BlockingIOError:
                    pass
                except OSError:
                    break
            peak = max(peak, rss_mb(s))
            if int(c.info("clients")["connected_clients"]) == 1 and sent == len(req):
                break
            time.sleep(0.01)
        while int(c.info("clients")["connected_clients"]) != 1 and time.monotonic() < deadline + 5:
            time.sleep(0.02)
        assert int(c.info("clients")["connected_clients"]) == 1, s.kind  # the reader is gone
        assert "overcoming of output buffer limits" in s.log_text()
        assert peak < base + 100, (s.kind, base, peak)
        assert c.ping() is True
        c.config_set("client-output-buffer-limit", "normal 0 0 0")
        c.delete("big")
        sk.close()
        c.close()


def test_endless_bulk_is_cut_by_query_buffer_limit(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    """A 2 GB bulk header (allowed by proto-max-bulk-len 4gb) then data trickling in:
    the connection is closed once client-query-buffer-limit (16 MB) is reached."""
    for s in pair:
        c = connect(s.port)
        c.config_set("proto-max-bulk-len", "4gb")
        c.config_set("client-query-buffer-limit", "16mb")
        base = rss_mb(s)
        sk = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        sk.sendall(b"*3\r\n$3\r\nSET\r\n$7\r\nbulkkey\r\n$2000000000\r\n")
        chunk = b"x" * (1 << 20)
        sent, peak, closed = 0, base, False
        other = connect(s.port)
        for _ in range(64):
            try:
                sk.sendall(chunk)
            except OSError:
                closed = True
                break
            sent += 1
            peak = max(peak, rss_mb(s))
            assert other.ping() is True  # others are served meanwhile
            time.sleep(0.005)
        if not closed:
            sk.settimeout(2)
            try:
                closed = sk.recv(10) == b""
            except OSError:
                closed = True
        assert closed and sent < 40, (s.kind, sent)
        assert peak < base + 80, (s.kind, base, peak)
        assert c.exists("bulkkey") == 0
        c.config_set("client-query-buffer-limit", "1gb")
        c.config_set("proto-max-bulk-len", "512mb")
        sk.close()
        other.close()
        c.close()
        assert alive(s)


def test_huge_multibulk_count_does_not_preallocate(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    """``*1048576`` then nothing: no memory is reserved for a million arguments."""
    e, _ = pair
    base = rss_mb(e)
    socks = []
    for _ in range(50):
        sk = socket.create_connection(("127.0.0.1", e.port), timeout=5)
        sk.sendall(b"*1048576\r\n$1\r\na\r\n")
        socks.append(sk)
    time.sleep(0.3)
    assert rss_mb(e) < base + 30
    for sk in socks:
        sk.close()


def test_inline_hello_reply_shape(pair: tuple[ServerProcess, ServerProcess]) -> None:
    """An inline request that is not a command name ("$5") is answered like Redis; the
    following line is a HELLO (client ids differ between servers)."""
    e, r = pair
    norm = re.compile(rb"\$2\r\nid\r\n:\d+\r\n")
    got = norm.sub(b"ID", exchange(e.port, b"$5\r\nhello\r\n"))
    want = norm.sub(b"ID", exchange(r.port, b"$5\r\nhello\r\n"))
    assert got.split(b"\r\n")[0] == want.split(b"\r\n")[0]
