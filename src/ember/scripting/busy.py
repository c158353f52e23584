"""Serving other clients while a script is busy (Redis ``processEventsWhileBlocked``).

The event loop is blocked inside the script, so the Lua hook calls :class:`BusyPump`
instead: it polls the other clients' sockets and the listening sockets with a zero
timeout, reads what arrived and feeds it to ``Client.data_received``. The dispatcher
answers ``-BUSY`` to everything but ``allow_busy`` commands (SCRIPT KILL, FUNCTION KILL,
FUNCTION STATS, SHUTDOWN, MULTI/DISCARD/WATCH...). Replies are written at once (the
transports write synchronously when their buffer is empty), and so are the replies other
clients were owed at the end of the loop turn the script blocks (``flush_pending``).

New connections accepted meanwhile get a small socket-backed transport; once the script
ends they are handed to the event loop (``connect_accepted_socket``) and go on as usual.
The script's caller is not read (Redis protects it), and the keys made ready by the
script are kept for after the script.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
from typing import TYPE_CHECKING, Any

from ember.server.client import Client

if TYPE_CHECKING:
    from ember.scripting.engine import RunCtx
    from ember.server.server import Server

_MAX_READ = 1 << 16


class _SockTransport:
    """Just enough of an asyncio transport for a client accepted during a busy script."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.closed = False

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.sock.sendall(data)
        except OSError:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    abort = close

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        try:
            if name == "socket":
                return self.sock
            if name == "peername":
                return self.sock.getpeername()
            if name == "sockname":
                return self.sock.getsockname()
        except OSError:
            return default
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


class BusyPump:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.adopted: list[tuple[socket.socket, Client]] = []
        self.eof: set[int] = set()

    def __call__(self, ctx: RunCtx) -> None:
        srv = self.server
        if srv.pending_writes:  # replies due at the end of the blocked loop turn: send now
            srv.flush_pending()
        saved_now = srv._now_ms
        saved_ready, srv.ready_keys = srv.ready_keys, []
        try:
            self._poll(ctx)
        finally:
            srv._now_ms = saved_now
            srv.ready_keys = saved_ready + srv.ready_keys

    def _poll(self, ctx: RunCtx) -> None:
        srv = self.server
        conns: dict[int, Client] = {}
        for cl in list(srv.clients.values()):
            if cl is ctx.caller or cl.closing or cl.transport is None:
                continue
            fd = _fileno(cl.transport)
            if fd is None or fd in self.eof:
                continue
            conns[fd] = cl
        listeners: dict[int, Any] = {}
        for s in srv.servers:
            for sk in s.sockets or ():
                try:
                    listeners[sk.fileno()] = sk
                except OSError:
                    pass
        if not conns and not listeners:
            return
        try:
            ready, _, _ = select.select(list(conns) + list(listeners), [], [], 0)
        except (OSError, ValueError):
            return
        for fd in ready:
            if fd in listeners:
                self._accept(fd)
                continue
            cl = conns[fd]
            try:
                data = os.read(fd, _MAX_READ)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                self.eof.add(fd)
                continue
            if not cl.closing:
                cl.data_received(data)

    def _accept(self, fd: int) -> None:
        srv = self.server
        try:
            lsock = socket.socket(fileno=os.dup(fd))
        except OSError:
            return
        try:
            for _ in range(16):
                try:
                    conn, _addr = lsock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                conn.settimeout(5.0)
                unix = conn.family == socket.AF_UNIX
                cl = Client(srv, unix=unix)
                cl.connection_made(_SockTransport(conn))  # type: ignore[arg-type]
                if cl.closing:
                    continue
                self.adopted.append((conn, cl))
        finally:
            _close_fd(lsock)  # closes our duplicate only

    def finish(self) -> None:
        """The script ended: hand the adopted connections to the event loop."""
        self.eof.clear()
        adopted, self.adopted = self.adopted, []
        loop = self.server.loop
        for conn, cl in adopted:
            tr = cl.transport
            if cl.closing or not isinstance(tr, _SockTransport) or tr.closed:
                continue
            if loop is None:
                cl.close()
                continue
            conn.setblocking(False)
            loop.create_task(_handover(loop, conn, cl))


async def _handover(loop: asyncio.AbstractEventLoop, conn: socket.socket, cl: Client) -> None:
    try:
        await loop.connect_accepted_socket(lambda: cl, sock=conn)
    except OSError:
        cl.close()


def _fileno(transport: Any) -> int | None:
    try:
        sock = transport.get_extra_info("socket")
        if sock is None:
            return None
        fd = sock.fileno()
        return fd if fd >= 0 else None
    except (OSError, AttributeError):
        return None


def _close_fd(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
