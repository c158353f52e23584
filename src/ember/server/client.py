"""A client connection (asyncio Protocol) and the command dispatcher.

Theory of operation: ``data_received`` feeds the request parser and runs every complete
command in order, collecting replies in ``self.out``; the batch is written with one
``transport.write`` (pipelining = one write per read batch) when the event loop's turn
ends, together with every other client served in that turn (``Server.flush_pending``,
as Redis writes replies in ``beforeSleep``). A command that
blocks (BLPOP...) or a client pause stops the loop; the remaining parsed commands wait
in ``self.queue`` until the client is served, then processing resumes.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ember import errors
from ember.commands.registry import CommandSpec, Flag
from ember.errors import CommandError
from ember.protocol.resp import (
    NULL_ARRAY,
    QUEUED,
    Push,
    RequestParser,
    Status,
    encode,
    encode_int,
)

if TYPE_CHECKING:
    from ember.keyspace.db import Db
    from ember.server.server import Server


class _Blocked:
    __slots__ = ()


BLOCKED: Final = _Blocked()  # handler return value: the client is now blocked, no reply yet
NO_REPLY: Final = _Blocked()  # handler return value: nothing to write (e.g. QUIT after close)

# run at once inside MULTI
_TX_NAMES: Final = {"exec", "discard", "multi", "watch", "quit", "reset"}
_WRITE_OR_DENYOOM: Final = int(Flag.WRITE | Flag.DENYOOM)
_WRITE: Final = int(Flag.WRITE)
_TOUCHES_ARBITRARY_KEYS: Final = int(Flag.TOUCHES_ARBITRARY_KEYS)
_SKIP_SLOWLOG: Final = int(Flag.SKIP_SLOWLOG)
_perf_ns: Final = time.perf_counter_ns
_CommandError: Final = CommandError  # (compiled: a static, not a globals lookup per command)
_monotonic: Final = time.monotonic
_time_ns: Final = time.time_ns
_SUB_ALLOWED: Final = {
    b"subscribe",
    b"psubscribe",
    b"unsubscribe",
    b"punsubscribe",
    b"ssubscribe",
    b"sunsubscribe",
    b"ping",
    b"quit",
    b"reset",
}


class BlockState:
    __slots__ = ("keys", "db", "retry", "timeout_reply", "timer", "deadline", "argv", "ready_key")

    def __init__(
        self,
        db: Db,
        keys: list[bytes],
        retry: Callable[[], Any],
        timeout_reply: Any,
        deadline: float | None,
        argv: list[bytes],
    ) -> None:
        self.db = db
        self.keys = keys
        self.retry = retry
        self.timeout_reply = timeout_reply
        self.deadline = deadline
        self.timer: asyncio.TimerHandle | None = None
        self.argv = argv
        self.ready_key: bytes | None = None  # the key being served (set before retry())


class Client(asyncio.Protocol):
    def __init__(self, server: Server, unix: bool = False) -> None:
        self.server = server
        self.id = 0
        self.transport: asyncio.Transport | None = None
        self.parser = RequestParser(server.cfg["proto-max-bulk-len"])
        self.db: Db = server.dbs[0]
        self.resp3 = False
        self.name: bytes = b""
        self.lib_name = b""
        self.lib_ver = b""
        self.authenticated = not server.cfg["requirepass"]
        self.parser.auth_required = not self.authenticated
        self.unix = unix
        self.addr = ""
        self.laddr = ""
        self.out: list[bytes] = []
        self.queue: deque[list[bytes]] = deque()
        self.closing = False
        self.close_after_reply = False
        # transactions
        self.in_multi = False
        self.in_exec = False
        self.multi_queue: list[tuple[CommandSpec, list[bytes]]] = []
        self.multi_error = False
        self.dirty_cas = False
        self.watched: list[tuple[Db, bytes]] = []
        self.watched_stale: dict[tuple[Db, bytes], int] = {}  # WATCHed while expired
        # blocking
        self.blocked: BlockState | None = None
        self.paused = False
        # pub/sub
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}
        self.shard_channels: dict[bytes, None] = {}
        # misc
        self.reply_mode = 0  # 0 on, 1 off, 2 skip next
        self.no_evict = False
        self.created = time.monotonic()
        self.last_interaction = self.created
        self.last_cmd = b"NULL"
        self.prop_argv: list[bytes] | None = None
        self.flags = ""
        self.monitor = False
        self.reading_paused = False
        self.write_pending = False  # in server.pending_writes: out is sent at the loop turn's end
        self.clock = 0  # perf_counter_ns at the last command's end while a batch runs, else 0
        self.is_loader = False  # the fake client replaying the AOF

    # ------------------------------------------------------------------ asyncio hooks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.id and self.transport is not None:
            # a second transport for a registered client: one accepted while a busy
            # script held the event loop (scripting/busy.py) moves to the loop's
            self.transport = transport  # type: ignore[assignment]
            return
        srv = self.server
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        if self.unix:
            self.addr = f"{sock}:0"
            self.laddr = self.addr
        elif peer:
            self.addr = f"{peer[0]}:{peer[1]}"
            self.laddr = f"{sock[0]}:{sock[1]}" if sock else ""
        if len(srv.clients) >= srv.cfg["maxclients"]:
            srv.stats.rejected_connections += 1
            transport.write(b"-ERR max number of clients reached\r\n")  # type: ignore[attr-defined]
            graceful_close(transport, srv.loop)  # type: ignore[arg-type]
            self.closing = True
            return
        if protected_mode_denies(
            srv.config.values, peer[0] if peer and not self.unix else "", self.unix
        ):
            srv.stats.rejected_connections += 1
            transport.write(_PROTECTED_MSG)  # type: ignore[attr-defined]
            graceful_close(transport, srv.loop)  # type: ignore[arg-type]
            self.closing = True
            return
        srv.stats.total_connections_received += 1
        self.id = srv.next_client_id
        srv.next_client_id += 1
        srv.clients[self.id] = self
        try:
            import socket

            s = transport.get_extra_info("socket")
            if s is not None and not self.unix:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.cleanup()

    def pause_writing(self) -> None:
        # the peer is not reading: stop reading its requests (backpressure)
        if self.transport is not None and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()
        self.check_output_limits()

    def resume_writing(self) -> None:
        if self.transport is not None and self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        closing = self.closing  # (a local: see the note on ``queued`` below)
        if closing:
            return  # closed by the server: input is drained and dropped
        srv = self.server
        stats = srv.stats
        stats.total_net_input_bytes += len(data)
        stats.total_reads_processed += 1
        self.last_interaction = _monotonic()
        parser = self.parser
        parser.querybuf_limit = srv.cfg["client-query-buffer-limit"]
        cmds = parser.feed(data)  # a malformed request sets parser.error
        if parser.overflow:  # client-query-buffer-limit: run what came before, then close
            for argv in cmds:
                if not self.closing:
                    self.execute(argv)
            self.flush()
            srv.stats.client_query_buffer_limit_disconnections += 1
            srv.log(
                "warning",
                f"Closing client that reached max query buffer length: id={self.id} addr={self.addr}",
            )
            self.close()
            return
        if not cmds:
            if parser.error is not None and not self.queue and self.blocked is None:
                self.protocol_error(parser.error)
            return
        # (read into locals: a check on the attributes would make a type checker, and
        # so mypyc, take them for None / False after the commands below changed them)
        queued, blocked, paused = self.queue, self.blocked, self.paused
        if queued or blocked is not None or paused:
            queued.extend(cmds)
            if blocked is None and not paused:
                self.process_queue()
            return
        srv._now_ms = _time_ns() // 1_000_000  # update_time()
        out = self.out
        if len(cmds) == 1:
            self.execute(cmds[0])
        else:
            i = 0
            self.clock = _perf_ns()  # chained: one clock read per command (see execute)
            try:
                for argv in cmds:
                    i += 1
                    self.execute(argv)  # (a direct call: compiled, a bound local is slower)
                    closing = self.closing  # a local, so that the check below stays live
                    if self.blocked is not None or self.paused or closing or self.close_after_reply:
                        self.queue.extend(cmds[i:])
                        break
                    if len(out) >= 64 or (len(out) >= 4 and len(out[-1]) > 65536):
                        # many or big replies in one batch: send them and apply
                        # client-output-buffer-limit now (Redis checks after every reply)
                        self.flush()
                        self.check_output_limits()
                        if self.closing:
                            break
                        self.clock = _perf_ns()  # the write is no command's time
            finally:
                self.clock = 0
        if srv.ready_keys:
            handle_ready_keys(srv)
        if out:
            loop = srv.loop
            if (
                loop is not None
                and srv.reply_gate is None
                and srv.busy_script is None
                and not self.closing
                and not self.close_after_reply
            ):
                # the replies leave at the end of this event-loop turn, with every other
                # client's (Server.flush_pending, Redis's beforeSleep): one burst of writes
                # wakes a sleeping peer once, where a write per read woke it every time
                if not self.write_pending:
                    self.write_pending = True
                    pending = srv.pending_writes
                    pending.append(self)
                    if len(pending) == 1:
                        loop.call_soon(srv.flush_pending)
            else:
                self.flush()
        if (
            parser.error is not None
            and not self.queue
            and self.blocked is None
            and not self.closing
        ):
            self.protocol_error(parser.error)
        if parser.stopped_early and not self.closing and srv.loop is not None:
            srv.loop.call_soon(self.data_received, b"")  # unauthenticated: next command

    def flush(self) -> None:
        out = self.out
        if not out or self.transport is None:
            out.clear()
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        if self.closing and not self.close_after_reply:
            return
        srv = self.server
        gate = srv.reply_gate
        if gate is not None and gate(self, data):
            return  # held until the AOF bytes it depends on are fsynced
        stats = srv.stats
        stats.total_net_output_bytes += len(data)
        stats.total_writes_processed += 1
        self.transport.write(data)
        if self.close_after_reply:
            self.close()

    def process_queue(self) -> None:
        """Run queued commands (after an unblock / unpause)."""
        srv = self.server
        srv.update_time()
        while (
            self.queue
            and self.blocked is None
            and not self.paused
            and not self.closing
            and not self.close_after_reply
        ):
            self.execute(self.queue.popleft())
        if srv.ready_keys:
            handle_ready_keys(srv)
        self.flush()
        if (
            self.parser.error is not None
            and not self.queue
            and self.blocked is None
            and not self.closing
        ):
            self.protocol_error(self.parser.error)

    def resume_processing(self) -> None:
        self.paused = False
        if self.queue:
            self.process_queue()

    # ------------------------------------------------------------------ replies
    def reply(self, value: Any) -> None:
        if self.reply_mode:
            if self.reply_mode == 2:
                self.reply_mode = 0
            return
        # hot path: the common reply types inline, everything else through encode()
        t = type(value)
        if t is bytes:
            self.out.append(b"$%d\r\n%b\r\n" % (len(value), value))
        elif t is Status:
            self.out.append(value.encoded)
        elif t is int:
            self.out.append(encode_int(value))
        else:
            self.out.append(encode(value, self.resp3))

    def push(self, items: list[Any]) -> None:
        """Out-of-band message (pub/sub, monitor): RESP3 push, RESP2 array."""
        self.push_raw(encode(Push(items), self.resp3))

    def push_raw(self, data: bytes) -> None:
        """Queue pre-encoded out-of-band bytes (not silenced by CLIENT REPLY OFF)."""
        if self.transport is None or self.closing:
            return
        if self.out:
            self.out.append(data)
        else:
            self.server.stats.total_net_output_bytes += len(data)
            self.transport.write(data)
            self.check_output_limits()

    def check_output_limits(self) -> None:
        if self.transport is None or self.closing:
            return
        size = self.transport.get_write_buffer_size()
        if not size:  # everything written: the common case
            self._soft_since = 0.0
            return
        cls = "pubsub" if (self.channels or self.patterns or self.shard_channels) else "normal"
        hard, soft, secs = self.server.cfg["client-output-buffer-limit"].get(cls, (0, 0, 0))
        over = hard and size > hard
        if not over and soft and size > soft:
            now = time.monotonic()
            start = getattr(self, "_soft_since", 0.0)
            if not start:
                self._soft_since = now
            elif now - start > secs:
                over = True
        elif soft:
            self._soft_since = 0.0
        if over:
            self.server.stats.client_output_buffer_limit_disconnections += 1
            self.server.log(
                "warning",
                f"Client id={self.id} addr={self.addr} scheduled to be closed ASAP for overcoming of output buffer limits.",
            )
            self.transport.abort()
            self.closing = True
            self.cleanup()

    def protocol_error(self, msg: str) -> None:
        self.count_error(CommandError("ERR Protocol error"))
        if self.transport is not None:  # after any replies still waiting (close() sends them)
            self.out.append(f"-ERR Protocol error: {msg}\r\n".encode("latin-1", "replace"))
        self.server.log(
            "verbose", f"Protocol error ({msg}) from client: id={self.id} addr={self.addr}"
        )
        self.close()

    def close(self) -> None:
        if self.closing:  # already closed or closing (EOF sent)
            self.cleanup()
            return
        if self.transport is not None and not self.transport.is_closing():
            if self.out:
                data = b"".join(self.out)
                self.out.clear()
                self.transport.write(data)
            graceful_close(self.transport, self.server.loop)
        self.closing = True
        self.cleanup()

    def cleanup(self) -> None:
        srv = self.server
        if self.id and srv.clients.pop(self.id, None) is not None:
            self.unwatch_all()
            if self.blocked is not None:
                self.unblock(None)
            from ember.server.pubsub import unsubscribe_all

            unsubscribe_all(self)
            if self in srv.monitors:
                srv.monitors.remove(self)
            if self in srv.paused_clients:
                srv.paused_clients.remove(self)

    # ------------------------------------------------------------------ dispatch
    def execute(self, argv: list[bytes]) -> None:
        """processCommand: look up, check, queue or call; writes the reply.

        The common case (a known plain command, arity right, an authenticated client not
        in MULTI/MONITOR/RESP2-subscribe mode, no server-wide gate such as LOADING, a
        busy script, CLIENT PAUSE or MISCONF) runs inline here: same checks, stats,
        slowlog and propagation as :meth:`call`, without the extra calls. Everything else
        goes through :meth:`_execute_checked`.
        """
        srv = self.server
        spec = srv.dispatch_names.get(argv[0])
        if (
            spec is None
            or spec.subcommands
            or not self.authenticated
            or self.in_multi
            or self.monitor
            or srv.loading
            or srv.busy_script is not None
            or srv.paused_until
            or srv.monitors
            or srv.call_depth
            or ((self.channels or self.patterns or self.shard_channels) and not self.resp3)
        ):
            self._execute_checked(argv)
            return
        arity = spec.arity
        n = len(argv)
        if (n != arity) if arity > 0 else (n < -arity):
            self._reject(spec, errors.wrong_args(spec.fullname))
            return
        flags = spec.flags
        if spec.checks_write_block and srv.write_errors:
            reason = srv.write_block_reason()
            if reason is not None and _write_denied(reason, flags, spec, False):
                self._reject(spec, CommandError(reason))
                return
        self.last_cmd = spec.fullname_b
        # --- call() inlined (call_depth is 0 here)
        dirty = srv.dirty
        srv.call_depth = 1
        srv.read_lookups = spec.read_lookups
        # in a pipelined batch the previous command's end is this one's start (one clock
        # read per command instead of two; the time includes this command's dispatch)
        chained = self.clock
        start = chained if chained else _perf_ns()
        try:
            reply = spec.handler(self, argv)  # type: ignore[misc]
        except CommandError as e:
            reply = e
        except RecursionError:
            reply = CommandError("ERR recursion limit exceeded")
        finally:
            srv.call_depth = 0
            srv.read_lookups = False
        end = _perf_ns()
        if chained:
            self.clock = end
        elapsed = (end - start) // 1000
        spec.calls += 1
        spec.usec += elapsed
        srv.stats.total_commands_processed += 1
        if type(reply) is _CommandError:
            spec.failed_calls += 1
            self.count_error(reply)
        # a handler that propagates something else than its argv leaves it in prop_argv;
        # it is taken here (not reset before the call: a type checker would take it
        # for None after that, and mypyc checks what the checker believes)
        prop = self.prop_argv
        if prop is not None:
            self.prop_argv = None
        if srv.dirty != dirty and flags & _WRITE and not srv.prevent_prop and srv.propagation_sinks:
            srv.prop_ops.append((self.db.id, prop or argv))
        srv.prevent_prop = False
        if srv.prop_ops:
            srv.flush_propagation(not flags & _TOUCHES_ARBITRARY_KEYS)
        if elapsed >= srv.slowlog_threshold >= 0 and not flags & _SKIP_SLOWLOG:
            from ember.commands.server_admin import slowlog_add

            slowlog_add(self, argv, elapsed)
        if reply is not BLOCKED and reply is not NO_REPLY:
            self.reply(reply)

    def _execute_checked(self, argv: list[bytes]) -> None:
        """processCommand with every check (the general path of :meth:`execute`)."""
        srv = self.server
        name = argv[0].lower()
        spec = srv.commands_by_name.get(name)
        if spec is None:
            if name in (b"host:", b"post"):  # securityWarningCommand: an HTTP request
                srv.log(
                    "warning",
                    "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your Redis instance. Connection aborted.",
                )
                self.close()
                return
            self._reject(None, errors.unknown_command(argv))
            return
        if spec.subcommands and len(argv) > 1:  # alone, a container runs itself (COMMAND)
            sub = spec.subcommands.get(argv[1].lower().decode(errors="replace"))
            if sub is None:
                self._reject(spec, errors.unknown_subcommand(argv[1], spec.name))
                return
            spec = sub
        arity = spec.arity
        if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
            self._reject(spec, errors.wrong_args(spec.fullname))
            return
        flags = spec.flags
        if not self.authenticated and not flags & Flag.NO_AUTH:
            self._reject(spec, CommandError(errors.NOAUTH))
            return
        in_multi = self.in_multi
        if in_multi:
            if flags & Flag.NO_MULTI:
                self._reject(spec, CommandError("ERR Command not allowed inside a transaction"))
                return
            if spec.name == "exec" and spec.parent is None:
                # EXEC is checked with the flags of the commands it will run
                for qspec, _ in self.multi_queue:
                    qf = qspec.flags
                    flags |= qf & (Flag.WRITE | Flag.DENYOOM | Flag.READONLY | Flag.MAY_REPLICATE)
                    if not qf & Flag.LOADING:
                        flags &= ~Flag.LOADING
        if srv.write_errors and (flags & _WRITE_OR_DENYOOM or name == b"ping" or in_multi):
            reason = srv.write_block_reason()
            if reason is not None and _write_denied(reason, flags, spec, in_multi):
                self._reject(spec, CommandError(reason))
                return
        if (
            (self.channels or self.patterns or self.shard_channels)
            and not self.resp3
            and name not in _SUB_ALLOWED
        ):
            self._reject(
                spec,
                CommandError(
                    f"ERR Can't execute '{spec.fullname}': only (P|S)SUBSCRIBE / "
                    "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
                ),
            )
            return
        if srv.loading and not flags & Flag.LOADING and not self.is_loader:
            self._reject(spec, CommandError(errors.LOADING))
            return
        if srv.busy_script is not None and not flags & Flag.ALLOW_BUSY:
            self._reject(spec, CommandError(srv.busy_script.busy_error()))  # a script is busy
            return
        if self.monitor and flags & (Flag.READONLY | Flag.WRITE | Flag.MAY_REPLICATE):
            self._reject(spec, CommandError("ERR Replica can't interact with the keyspace"))
            return
        if srv.paused_until and srv.clients_paused(bool(flags & (Flag.WRITE | Flag.MAY_REPLICATE))):
            # CLIENT PAUSE: hold this command and everything after it
            self.queue.appendleft(argv)
            self.paused = True
            srv.paused_clients.append(self)
            return
        if in_multi and not (spec.parent is None and spec.name in _TX_NAMES):
            self.multi_queue.append((spec, argv))
            self.reply(QUEUED)
            return
        self.last_cmd = spec.fullname_b
        reply = self.call(spec, argv)
        if reply is not BLOCKED and reply is not NO_REPLY:
            self.reply(reply)
        if srv.monitors and not spec.flags & (Flag.ADMIN | Flag.SKIP_MONITOR):
            from ember.server.pubsub import feed_monitors

            feed_monitors(self, argv)

    def _reject(self, spec: CommandSpec | None, err: CommandError) -> None:
        if self.in_multi:
            self.multi_error = True
        if spec is not None and spec.name == "exec" and spec.parent is None:
            from ember.commands.transactions import exec_abort

            err = exec_abort(self, err)  # even outside MULTI, as Redis does
        if spec is not None:
            spec.rejected_calls += 1
        self.count_error(err)
        self.reply(err)

    def count_error(self, err: CommandError) -> None:
        stats = self.server.stats
        stats.total_error_replies += 1
        code = err.code
        stats.errorstats[code] = stats.errorstats.get(code, 0) + 1

    def call(self, spec: CommandSpec, argv: list[bytes]) -> Any:
        """Run a handler with stats, slowlog and propagation (Redis ``call()``)."""
        srv = self.server
        dirty = srv.dirty
        srv.call_depth += 1
        outer_reads = srv.read_lookups
        srv.read_lookups = spec.read_lookups
        start = _perf_ns()
        try:
            reply = spec.handler(self, argv)  # type: ignore[misc]
        except CommandError as e:
            reply = e
        except RecursionError:
            reply = CommandError("ERR recursion limit exceeded")
        finally:
            srv.call_depth -= 1
            srv.read_lookups = outer_reads
        end = _perf_ns()
        if self.clock:
            self.clock = end  # a pipelined batch's chain (execute) resumes after this call
        elapsed = (end - start) // 1000
        spec.calls += 1
        spec.usec += elapsed
        srv.stats.total_commands_processed += 1
        if type(reply) is CommandError:
            spec.failed_calls += 1
            self.count_error(reply)
        prop = self.prop_argv  # taken, not reset before the call: see execute()
        if prop is not None:
            self.prop_argv = None
        if (
            srv.dirty != dirty
            and spec.flags & Flag.WRITE
            and not srv.prevent_prop
            and srv.propagation_sinks
        ):
            srv.prop_ops.append((self.db.id, prop or argv))
        srv.prevent_prop = False
        if srv.call_depth == 0 and srv.prop_ops:
            # CMD_TOUCHES_ARBITRARY_KEYS (SCAN, RANDOMKEY): expired-key DELs are not wrapped
            srv.flush_propagation(not spec.flags & Flag.TOUCHES_ARBITRARY_KEYS)
        if elapsed >= srv.slowlog_threshold >= 0 and not spec.flags & Flag.SKIP_SLOWLOG:
            from ember.commands.server_admin import slowlog_add

            slowlog_add(self, argv, elapsed)
        return reply

    # ------------------------------------------------------------------ transactions
    def unwatch_all(self) -> None:
        for db, key in self.watched:
            lst = db.watched.get(key)
            if lst is not None:
                try:
                    lst.remove(self)
                except ValueError:
                    pass
                if not lst:
                    del db.watched[key]
        self.watched = []
        self.watched_stale.clear()
        self.dirty_cas = False

    # ------------------------------------------------------------------ blocking
    def is_blocked(self) -> bool:
        return self.blocked is not None

    def subscriptions_count(self) -> int:
        return len(self.channels) + len(self.patterns) + len(self.shard_channels)

    def block_on(
        self,
        keys: list[bytes],
        timeout_s: float,
        retry: Callable[[], Any],
        timeout_reply: Any = NULL_ARRAY,
        argv: list[bytes] | None = None,
    ) -> Any:
        """Block until one of ``keys`` is ready. ``retry()`` returns BLOCKED or a reply.

        Inside MULTI/EXEC or a script the command does not block: the timeout reply is
        returned at once, as Redis does. ``timeout_s`` 0 means forever.
        """
        if self.in_exec or self.server.busy_script is not None:
            return timeout_reply
        deadline = time.monotonic() + timeout_s if timeout_s > 0 else None
        st = BlockState(self.db, keys, retry, timeout_reply, deadline, argv or [])
        self.blocked = st
        for k in keys:
            self.db.blocking.setdefault(k, []).append(self)
        if deadline is not None and self.server.loop is not None:
            st.timer = self.server.loop.call_later(timeout_s, self._block_timeout)
        return BLOCKED

    def _block_timeout(self) -> None:
        if self.blocked is not None:
            self.unblock(self.blocked.timeout_reply)

    def unblock(self, reply: Any) -> None:
        st = self.blocked
        if st is None:
            return
        self.blocked = None
        if st.timer is not None:
            st.timer.cancel()
        for k in st.keys:
            lst = st.db.blocking.get(k)
            if lst is not None:
                try:
                    lst.remove(self)
                except ValueError:
                    pass
                if not lst:
                    del st.db.blocking[k]
        if reply is not None and reply is not BLOCKED and not self.closing:
            self.reply(reply)
            self.flush()
        if (self.queue or self.parser.error is not None) and not self.closing:
            loop = self.server.loop
            if loop is not None:
                loop.call_soon(self.process_queue)


def handle_ready_keys(srv: Server) -> None:
    """Serve clients blocked on keys that received data (handleClientsBlockedOnKeys).

    Clients are served in the order they blocked; each retry runs like a command call so
    that its writes are propagated (as the non-blocking form, e.g. BLPOP -> LPOP).
    """
    rounds = 0
    while srv.ready_keys and rounds < 1000:
        rounds += 1
        ready, srv.ready_keys = srv.ready_keys, []
        seen: set[tuple[int, bytes]] = set()
        for db, key in ready:
            if (db.id, key) in seen:
                continue
            seen.add((db.id, key))
            waiters = db.blocking.get(key)
            if not waiters:
                continue
            for c in list(waiters):
                st = c.blocked
                if st is None or st.db is not db:
                    continue
                keyed = getattr(
                    st.retry, "keyed", False
                )  # stream waiters: retry(key), even if gone
                if not keyed and db.lookup(key) is None:
                    continue
                dirty = srv.dirty
                srv.call_depth += 1
                st.ready_key = key
                try:
                    reply = st.retry(key) if keyed else st.retry()  # type: ignore[call-arg]
                except CommandError as e:
                    reply = e
                finally:
                    srv.call_depth -= 1
                prop = c.prop_argv  # taken, not reset before the call: see execute()
                if prop is not None:
                    c.prop_argv = None
                if reply is BLOCKED:
                    continue
                if srv.dirty != dirty and not srv.prevent_prop and prop:
                    srv.prop_ops.append((db.id, prop))
                srv.prevent_prop = False
                srv.flush_propagation()
                c.unblock(reply)


def _write_denied(reason: str, flags: int, spec: CommandSpec, in_multi: bool) -> bool:
    """Does ``write_block_reason()`` refuse this command? (processCommand's OOM/MISCONF rules)"""
    if reason.startswith("MISCONF"):
        return bool(flags & Flag.WRITE) or (spec.name == "ping" and spec.parent is None)
    if reason.startswith("OOM"):
        if flags & (Flag.WRITE | Flag.DENYOOM):
            return True
        # inside MULTI queueing itself uses memory: only EXEC/DISCARD/QUIT/RESET pass
        return in_multi and not (
            spec.parent is None and spec.name in ("exec", "discard", "quit", "reset")
        )
    return bool(flags & Flag.WRITE)


def graceful_close(t: asyncio.Transport, loop: asyncio.AbstractEventLoop | None) -> None:
    """Close like Redis after a final reply: stop reading, send what is buffered, then
    close (input the client sent meanwhile stays unread, so the peer may see a reset)."""
    try:
        t.pause_reading()
    except (OSError, RuntimeError, AttributeError):
        pass
    t.close()


def protected_mode_denies(cfg: dict[str, Any], peer_ip: str, unix: bool) -> bool:
    """Redis's protected mode: with ``protected-mode yes`` and no password, only local
    clients (unix socket, 127.0.0.1, ::1 — ``islocalClient``) are accepted."""
    if not cfg["protected-mode"] or cfg["requirepass"] or unix:
        return False
    return peer_ip not in ("127.0.0.1", "::1")


def _is_loopback(host: str) -> bool:
    return host.startswith("127.") or host in ("::1", "localhost") or host.startswith("::ffff:127.")


_PROTECTED_MSG: Final = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no "
    b"password is set for the default user. In this mode connections are only accepted from "
    b"the loopback interface. If you want to connect from external computers to Redis you may "
    b"adopt one of the following solutions: 1) Just disable protected mode sending the command "
    b"'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the "
    b"same host the server is running, however MAKE SURE Redis is not publicly accessible from "
    b"internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
    b"you can just disable the protected mode by editing the Redis configuration file, and "
    b"setting the protected mode option to 'no', and then restarting the server. 3) If you "
    b"started the server manually just for testing, restart it with the '--protected-mode no' "
    b"option. 4) Setup a an authentication password for the default user. NOTE: You only need "
    b"to do one of the above things in order for the server to start accepting connections "
    b"from the outside.\r\n"
)
