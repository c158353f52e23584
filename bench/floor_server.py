#!/usr/bin/env python3
"""The floor: the cheapest RESP server Python can run on ember's stack.

asyncio on uvloop, hiredis for the requests, one dict, one ``transport.write`` per read
and nothing else: no exactness checks on the protocol, no command table, no arity or
type checks, no stats, no timing, no expiry, no keyspace events, no propagation. It
answers only what ``redis-benchmark -t set,get,incr,mset`` sends (and the ``CONFIG GET``
it starts with). It is not a server anyone should run: ``bench/run.py --only floor``
starts it beside ember and redis-server to show how much of ember's CPU per request is
the interpreter and event loop themselves and how much is ember's own per-command work.

    .venv/bin/python bench/floor_server.py --port 7000
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import cast

import hiredis
import uvloop

DATA: dict[bytes, bytes] = {}


def _get(a: list[bytes]) -> bytes:
    v = DATA.get(a[1])
    return b"$-1\r\n" if v is None else b"$%d\r\n%b\r\n" % (len(v), v)


def _set(a: list[bytes]) -> bytes:
    DATA[a[1]] = a[2]
    return b"+OK\r\n"


def _incr(a: list[bytes]) -> bytes:
    v = int(DATA.get(a[1], b"0")) + 1
    DATA[a[1]] = b"%d" % v
    return b":%d\r\n" % v


def _mset(a: list[bytes]) -> bytes:
    it = iter(a)
    next(it)
    DATA.update(zip(it, it, strict=False))
    return b"+OK\r\n"


def _ping(a: list[bytes]) -> bytes:
    return b"+PONG\r\n"


def _config(a: list[bytes]) -> bytes:
    return b"*0\r\n"


def _unknown(a: list[bytes]) -> bytes:
    return b"-ERR unknown command\r\n"


HANDLERS: dict[bytes, Callable[[list[bytes]], bytes]] = {}
for _name, _fn in (
    (b"get", _get),
    (b"set", _set),
    (b"incr", _incr),
    (b"mset", _mset),
    (b"ping", _ping),
    (b"config", _config),
):
    HANDLERS[_name] = HANDLERS[_name.upper()] = _fn


class Floor(asyncio.Protocol):
    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.reader = hiredis.Reader()

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        out = []
        gets = reader.gets
        cmd = gets()
        while cmd is not False:
            out.append(HANDLERS.get(cmd[0], _unknown)(cmd))
            cmd = gets()
        self.transport.write(b"".join(out))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Floor, "127.0.0.1", port)
    await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    a, _ = ap.parse_known_args()  # the server options bench/run.py passes are ignored
    uvloop.run(serve(a.port))


if __name__ == "__main__":
    main()
