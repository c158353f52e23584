"""Replies leave at the end of the event loop's turn, every served client's together.

Redis writes replies in beforeSleep, after it has read and run the requests of every
client that was ready; ember does the same (Server.flush_pending). These tests drive a
Server in this process with fake transports and a real asyncio loop, and check what was
written, when, and in which order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from ember.commands.registry import load_all
from ember.config import Config
from ember.server.client import Client
from ember.server.server import Server
from tests.helpers.transport import FakeTransport


class _Transport(FakeTransport):
    """Records each write as (tag, bytes) in a log shared by several clients."""

    def __init__(self, log: list[tuple[int, bytes]], tag: int) -> None:
        super().__init__(40000 + tag)
        self.log = log
        self.tag = tag
        self.broken = False

    def write(self, data: bytes) -> None:
        if self.broken:
            raise RuntimeError("unable to perform operation on a closed transport")
        self.log.append((self.tag, bytes(data)))


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


def _server(loop: asyncio.AbstractEventLoop) -> Server:
    load_all()
    srv = Server(Config())
    srv.loop = loop
    return srv


def _client(srv: Server, log: list[tuple[int, bytes]], tag: int) -> tuple[Client, _Transport]:
    c = Client(srv)
    t = _Transport(log, tag)
    c.connection_made(t)  # type: ignore[arg-type]
    return c, t


def _turn(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def test_replies_wait_for_the_end_of_the_turn_then_leave_one_write_per_client(
    loop: asyncio.AbstractEventLoop,
) -> None:
    srv = _server(loop)
    log: list[tuple[int, bytes]] = []
    a, _ = _client(srv, log, 1)
    b, _ = _client(srv, log, 2)
    writes0 = srv.stats.total_writes_processed
    a.data_received(b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
    b.data_received(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
    # both batches ran (b already sees a's SET) but nothing is on the wire yet
    assert log == []
    assert srv.pending_writes == [a, b]
    _turn(loop)
    assert log == [(1, b"+PONG\r\n+OK\r\n"), (2, b"$1\r\nv\r\n")]
    assert srv.pending_writes == [] and not a.write_pending and not b.write_pending
    assert srv.stats.total_writes_processed - writes0 == 2
    # a second read from the same client in the same turn joins its pending write
    a.data_received(b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n")
    a.data_received(b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n")
    assert srv.pending_writes == [a]
    _turn(loop)
    assert log[2:] == [(1, b":1\r\n:2\r\n")]


def test_a_pubsub_message_queues_behind_the_replies_its_subscriber_is_owed(
    loop: asyncio.AbstractEventLoop,
) -> None:
    srv = _server(loop)
    log: list[tuple[int, bytes]] = []
    sub, _ = _client(srv, log, 1)
    pub, _ = _client(srv, log, 2)
    sub.data_received(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
    sub.data_received(b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n")
    _turn(loop)
    log.clear()
    sub.data_received(b"*2\r\n$4\r\nECHO\r\n$5\r\nfirst\r\n")  # owed, not yet written
    pub.data_received(b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$3\r\nmsg\r\n")
    assert log == []
    _turn(loop)
    assert log == [
        (1, b"$5\r\nfirst\r\n>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nmsg\r\n"),
        (2, b":1\r\n"),
    ]


def test_a_protocol_error_follows_the_replies_before_it_then_closes(
    loop: asyncio.AbstractEventLoop,
) -> None:
    srv = _server(loop)
    log: list[tuple[int, bytes]] = []
    c, t = _client(srv, log, 1)
    c.data_received(b"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n")
    assert log == [(1, b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n")]
    assert t.closed and c.closing
    _turn(loop)  # the turn's end has nothing left to send for it
    assert len(log) == 1


def test_quit_and_a_closed_client_are_not_left_waiting(loop: asyncio.AbstractEventLoop) -> None:
    srv = _server(loop)
    log: list[tuple[int, bytes]] = []
    q, tq = _client(srv, log, 1)
    gone, _ = _client(srv, log, 2)
    q.data_received(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n")
    assert log == [(1, b"+PONG\r\n+OK\r\n")] and tq.closed  # QUIT's reply goes out at once
    gone.data_received(b"*1\r\n$4\r\nPING\r\n")
    gone.connection_lost(None)  # the peer went away before the turn ended
    _turn(loop)
    assert log == [(1, b"+PONG\r\n+OK\r\n")]


def test_one_failing_transport_does_not_keep_the_other_replies(
    loop: asyncio.AbstractEventLoop,
) -> None:
    srv = _server(loop)
    log: list[tuple[int, bytes]] = []
    a, ta = _client(srv, log, 1)
    b, _ = _client(srv, log, 2)
    a.data_received(b"*1\r\n$4\r\nPING\r\n")
    b.data_received(b"*1\r\n$4\r\nPING\r\n")
    ta.broken = True
    _turn(loop)
    assert log == [(2, b"+PONG\r\n")]
    assert a.out == [] and not a.write_pending


def test_a_busy_script_sends_the_replies_its_loop_turn_owed(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """A script that runs long blocks the loop before the turn's end; its busy pump
    (Redis processEventsWhileBlocked) writes what other clients were owed first."""
    from types import SimpleNamespace

    from ember.scripting.busy import BusyPump

    srv = _server(loop)
    log: list[tuple[int, bytes]] = []
    a, _ = _client(srv, log, 1)
    caller, _ = _client(srv, log, 2)
    a.data_received(b"*1\r\n$4\r\nPING\r\n")
    assert log == []
    BusyPump(srv)(SimpleNamespace(caller=caller))  # type: ignore[arg-type]
    assert log == [(1, b"+PONG\r\n")]
    _turn(loop)
    assert log == [(1, b"+PONG\r\n")]
