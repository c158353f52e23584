"""Raw-socket RESP clients for byte-exact differential tests.

* ``enc``: one command as a RESP2 multibulk.
* ``Raw``: one connection; send commands and read an exact number of replies as the
  bytes the server sent (RESP2 and RESP3 framing, push messages included).
* ``Pair``: the same connection on ember and on redis; ``call`` asserts identical bytes.
* ``pair_maker``: a context manager giving a ``Pair`` factory that closes what it made.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import hiredis


def enc(args: tuple[Any, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Incomplete(Exception):
    pass


def reply_end(buf: bytes, pos: int) -> int:
    """Offset just past the RESP2/RESP3 reply starting at ``pos`` (or Incomplete)."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0 or pos >= len(buf):
        raise Incomplete
    t, head, nxt = buf[pos], buf[pos + 1 : nl], nl + 2
    if t in b"$!=":
        n = int(head)
        if n < 0:
            return nxt
        if len(buf) < nxt + n + 2:
            raise Incomplete
        return nxt + n + 2
    if t in b"*~>%|":
        n = int(head)
        for _ in range(max(n, 0) * (2 if t in b"%|" else 1)):
            nxt = reply_end(buf, nxt)
        return nxt
    return nxt  # + - : _ , # (


class Raw:
    """A raw RESP connection: send commands, read an exact number of replies as bytes."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, *cmds: tuple[Any, ...]) -> None:
        self.sock.sendall(b"".join(enc(c) for c in cmds))

    def fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def read(self, n: int) -> bytes:
        for _ in range(100000):
            try:
                pos = 0
                for _ in range(n):
                    pos = reply_end(self.buf, pos)
            except Incomplete:
                self.fill()
                continue
            out, self.buf = self.buf[:pos], self.buf[pos:]
            return out
        raise AssertionError("reply too long")

    def read_parsed(self, n: int) -> list[Any]:
        reader = hiredis.Reader()
        reader.feed(self.read(n))
        return [reader.gets() for _ in range(n)]

    def call(self, *cmds: tuple[Any, ...], n: int | None = None) -> bytes:
        self.send(*cmds)
        return self.read(len(cmds) if n is None else n)

    def until(self, marker: bytes) -> list[bytes]:
        """Replies up to (not including) the first one equal to ``marker``."""
        out: list[bytes] = []
        for _ in range(10000):
            item = self.read(1)
            if item == marker:
                return out
            out.append(item)
        raise AssertionError(out)

    def close(self) -> None:
        self.sock.close()


class Pair:
    """The same connection on ember and on redis: ``call`` asserts identical bytes."""

    def __init__(self, ember_port: int, redis_port: int, resp3: bool = False) -> None:
        self.e = Raw(ember_port)
        self.r = Raw(redis_port)
        if resp3:
            self.e.call(("HELLO", "3"))
            self.r.call(("HELLO", "3"))

    def call(self, *cmds: tuple[Any, ...], n: int | None = None) -> bytes:
        got = self.e.call(*cmds, n=n)
        want = self.r.call(*cmds, n=n)
        assert got == want, f"{cmds!r}\nember={got!r}\nredis={want!r}"
        return got

    def call_unchecked(self, *cmds: tuple[Any, ...], n: int | None = None) -> None:
        self.e.call(*cmds, n=n)
        self.r.call(*cmds, n=n)

    def read(self, n: int) -> bytes:
        got, want = self.e.read(n), self.r.read(n)
        assert got == want, f"ember={got!r}\nredis={want!r}"
        return got

    def read_parsed(self, n: int) -> tuple[list[Any], list[Any]]:
        return self.e.read_parsed(n), self.r.read_parsed(n)

    def close(self) -> None:
        self.e.close()
        self.r.close()


@contextmanager
def pair_maker(ember_port: int, redis_port: int) -> Iterator[Callable[..., Pair]]:
    """``make(resp3=False)`` opens a ``Pair``; all of them are closed on exit."""
    made: list[Pair] = []

    def make(resp3: bool = False) -> Pair:
        p = Pair(ember_port, redis_port, resp3)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()
