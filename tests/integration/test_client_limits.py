"""Client output buffer limits (client-output-buffer-limit, pubsub and normal classes)
and the query buffer limit (client-query-buffer-limit), with real sockets against ember
and redis-server 7.0: the offending client is disconnected, everybody else is served.

Slow readers are raw sockets with a tiny receive buffer that never read; every loop is
bounded. (Redis 7.0 has no INFO counters for these disconnections; ember reports them in
INFO stats like Redis 7.2, which is checked on ember only.)
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis
from tests.conftest import Diff

OBUF_DEFAULT = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"


@pytest.fixture
def both(r: redis.Redis, rr: redis.Redis) -> Iterator[list[tuple[str, redis.Redis]]]:
    yield [("ember", r), ("redis", rr)]
    for c in (r, rr):
        c.config_set("client-output-buffer-limit", OBUF_DEFAULT)
        c.config_set("client-query-buffer-limit", "1gb")


def _slow_socket(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.settimeout(10)
    return s


def _is_closed(s: socket.socket, timeout: float = 10.0) -> bool:
    """Drain what the server sent; True once it closed the connection."""
    s.settimeout(0.2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not s.recv(1 << 20):
                return True
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def _port(c: redis.Redis) -> int:
    return int(c.connection_pool.connection_kwargs["port"])


def _subscribe_slow(c: redis.Redis, channel: str, subscribers: int = 1) -> socket.socket:
    s = _slow_socket(_port(c))
    s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(channel), channel.encode()))
    deadline = time.monotonic() + 10
    while dict(c.pubsub_numsub(channel)).get(channel.encode()) != subscribers:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return s


def _client_ids(c: redis.Redis) -> set[int]:
    out = c.execute_command("CLIENT", "LIST")
    text = out.decode() if isinstance(out, bytes) else str(out)
    return {int(line.split()[0].split("=")[1]) for line in text.splitlines() if line}


def _stat(c: redis.Redis, name: str) -> int:
    return int(c.info("stats")[name])


def test_config_get_set_forms(diff: Diff, both: list[tuple[str, redis.Redis]]) -> None:
    diff("CONFIG", "GET", "client-output-buffer-limit")
    diff("CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 512kb 10")
    diff("CONFIG", "GET", "client-output-buffer-limit")
    diff("CONFIG", "SET", "client-output-buffer-limit", "normal 1gb 2mb 0 pubsub 0 0 0")
    diff("CONFIG", "GET", "client-output-buffer-limit")
    diff("CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 512kb")
    diff("CONFIG", "SET", "client-output-buffer-limit", "nosuch 1 1 1")
    for bad in [
        "pubsub x 1 1",
        "pubsub -1 0 0",
        "pubsub 1 -1 0",
        "pubsub 1.5mb 0 0",
        "pubsub 1 1 1x",
        "master 1 1 1",
    ]:
        diff("CONFIG", "SET", "client-output-buffer-limit", bad)
    for good in [
        "pubsub 1 1 +5",
        "pubsub 1k 1K 0",
        "PUBSUB 1 1 1",
        "",
        "replica 1 2 3",
        "slave 4mb 2mb 5",
    ]:
        diff("CONFIG", "SET", "client-output-buffer-limit", good)
        diff("CONFIG", "GET", "client-output-buffer-limit")
    diff("CONFIG", "SET", "client-query-buffer-limit", "1mb")
    diff("CONFIG", "GET", "client-query-buffer-limit")
    diff("CONFIG", "SET", "client-query-buffer-limit", "1000")
    diff("CONFIG", "GET", "client-output-buffer-limit")


def test_slow_subscriber_hits_pubsub_hard_limit(both: list[tuple[str, redis.Redis]]) -> None:
    for kind, c in both:
        c.config_set("client-output-buffer-limit", "pubsub 1mb 0 0")
        before = _stat(c, "client_output_buffer_limit_disconnections") if kind == "ember" else 0
        fast_client = redis.Redis(port=_port(c))
        fast = fast_client.pubsub(ignore_subscribe_messages=True)
        seen: list[bytes] = []
        fast.subscribe(big=lambda m, seen=seen: seen.append(m["data"]))
        reader = fast.run_in_thread(sleep_time=0.001, daemon=True)  # a subscriber that keeps up
        try:
            deadline = time.monotonic() + 10
            while dict(c.pubsub_numsub("big")).get(b"big") != 1:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            slow = _subscribe_slow(c, "big", 2)
            msg = b"x" * 100_000
            receivers = []
            for _ in range(1000):  # at most 100 MB
                n = c.publish("big", msg)
                receivers.append(n)
                if n < 2:
                    break
            assert receivers[0] == 2 and receivers[-1] == 1, (kind, receivers)
            assert _is_closed(slow), kind
            slow.close()
            # the server keeps serving: the fast subscriber got everything
            assert c.ping() is True
            assert c.publish("big", "last") == 1
            deadline = time.monotonic() + 10
            while not seen or seen[-1] != b"last":
                assert time.monotonic() < deadline, (kind, len(seen))
                time.sleep(0.01)
            assert len(seen) == len(receivers) + 1, kind
            assert dict(c.pubsub_numsub("big"))[b"big"] == 1
            if kind == "ember":
                assert _stat(c, "client_output_buffer_limit_disconnections") == before + 1
        finally:
            reader.stop()
            reader.join(5)
            fast.close()
            fast_client.close()


def test_slow_subscriber_hits_pubsub_soft_limit(both: list[tuple[str, redis.Redis]]) -> None:
    for kind, c in both:
        c.config_set("client-output-buffer-limit", "pubsub 0 256kb 1")
        slow = _subscribe_slow(c, "soft")
        try:
            msg = b"y" * 20_000
            # a burst far above the soft limit is tolerated for up to 1 second
            start = time.monotonic()
            for _ in range(300):
                assert c.publish("soft", msg) == 1
            burst = time.monotonic() - start
            if burst < 0.5:
                assert dict(c.pubsub_numsub("soft"))[b"soft"] == 1, kind
            # staying above it for longer gets the client disconnected
            deadline = time.monotonic() + 20
            while c.publish("soft", msg) == 1:
                assert time.monotonic() < deadline, kind
                time.sleep(0.02)
            assert time.monotonic() - start > 1.0
            assert _is_closed(slow), kind
            assert c.ping() is True
        finally:
            slow.close()


def test_normal_client_hard_limit(both: list[tuple[str, redis.Redis]]) -> None:
    for kind, c in both:
        c.set("blob", b"z" * 500_000)
        c.config_set("client-output-buffer-limit", "normal 2mb 0 0")
        base = _client_ids(c)
        s = _slow_socket(_port(c))
        try:
            s.sendall(b"*2\r\n$3\r\nGET\r\n$4\r\nblob\r\n" * 60)  # 30 MB of replies, never read
            deadline = time.monotonic() + 10
            while not _client_ids(c) <= base:
                assert time.monotonic() < deadline, kind
                time.sleep(0.05)
            assert _is_closed(s), kind
            assert c.strlen("blob") == 500_000
        finally:
            s.close()


def test_query_buffer_limit(both: list[tuple[str, redis.Redis]]) -> None:
    for kind, c in both:
        c.config_set("client-query-buffer-limit", "1mb")
        before = _stat(c, "client_query_buffer_limit_disconnections") if kind == "ember" else 0
        s = socket.create_connection(("127.0.0.1", _port(c)), timeout=10)
        try:
            try:
                s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
                for _ in range(15):  # 1.5 MB of a 3 MB argument: never completed
                    s.sendall(b"x" * 100_000)
            except (BrokenPipeError, ConnectionResetError):
                pass
            assert _is_closed(s), kind
            assert c.ping() is True
            assert c.exists("k") == 0
            if kind == "ember":
                assert _stat(c, "client_query_buffer_limit_disconnections") == before + 1
        finally:
            s.close()


def test_query_buffer_below_limit_and_parsed_args(both: list[tuple[str, redis.Redis]]) -> None:
    for kind, c in both:
        c.config_set("client-query-buffer-limit", "1mb")
        # 900 KB pending of a big argument: under the limit, the command completes later
        s = socket.create_connection(("127.0.0.1", _port(c)), timeout=10)
        try:
            s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\n" + b"x" * 900_000)
            time.sleep(0.1)
            assert c.ping() is True
            s.sendall(b"x" * 100_000 + b"\r\n")
            assert s.recv(100) == b"+OK\r\n", kind
            assert c.strlen("k") == 1_000_000
            # many small arguments already parsed (2 MB in all) do not count as query buffer
            item = b"$100\r\n" + b"y" * 100 + b"\r\n"
            s.sendall(b"*20001\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n")
            for _ in range(19):
                s.sendall(item * 1000)
                time.sleep(0.005)
            s.sendall(item * 999)
            assert s.recv(100) == b":19999\r\n", kind
        finally:
            s.close()


def test_many_clients_served_while_one_is_slow(both: list[tuple[str, redis.Redis]]) -> None:
    for kind, c in both:
        c.config_set("client-output-buffer-limit", "pubsub 256kb 0 0")
        slow = _subscribe_slow(c, "chan")
        others = [redis.Redis(port=_port(c)) for _ in range(5)]
        try:
            for i in range(400):  # 8 MB: more than the socket buffers can absorb
                c.publish("chan", b"m" * 20_000)
                o = others[i % 5]
                assert o.incr("counter") == i + 1
            assert _is_closed(slow), kind
            assert int(c.get("counter") or 0) == 400
        finally:
            slow.close()
            for o in others:
                o.close()
