"""Server state: databases, clients, stats, cron, propagation and INFO.

The :class:`Server` owns everything global; connections (:mod:`ember.server.client`)
and command handlers reach it through ``client.server``. Persistence subsystems attach
themselves through the hooks declared here (``propagation_sinks``, ``before_write``,
``info_providers``, ``cron_jobs``, ``write_block_reason``) so that this module does not
import them.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ember import __version__
from ember.commands.registry import COMMANDS, CommandSpec
from ember.config import Config
from ember.keyspace import access
from ember.keyspace.db import Db
from ember.server import log

if TYPE_CHECKING:
    from ember.server.client import Client

REDIS_VERSION = "7.0.15"


@dataclass
class Stats:
    total_connections_received: int = 0
    total_commands_processed: int = 0
    rejected_connections: int = 0
    expired_keys: int = 0
    expired_stale_perc: float = 0.0
    expired_time_cap_reached_count: int = 0
    expire_cycle_cpu_milliseconds: int = 0
    evicted_keys: int = 0
    evicted_clients: int = 0
    keyspace_hits: int = 0
    keyspace_misses: int = 0
    pubsub_channels: int = 0
    total_net_input_bytes: int = 0
    total_net_output_bytes: int = 0
    total_error_replies: int = 0
    unexpected_error_replies: int = 0
    dump_payload_sanitizations: int = 0
    total_reads_processed: int = 0
    total_writes_processed: int = 0
    client_query_buffer_limit_disconnections: int = 0
    client_output_buffer_limit_disconnections: int = 0
    errorstats: dict[str, int] = field(default_factory=dict)


class Server:
    def __init__(self, config: Config) -> None:
        self.config = config
        # the option values themselves (Config.values, one dict for the server's life):
        # one attribute load less on the request path than config.values
        self.cfg: dict[str, Any] = config.values
        self.dbs: list[Db] = [Db(i, self) for i in range(config.databases)]
        self.clients: dict[int, Client] = {}
        self.next_client_id = 1
        self.stats = Stats()
        self.start_time = time.time()
        self.start_monotonic = time.monotonic()
        self.run_id = os.urandom(20).hex()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.servers: list[asyncio.base_events.Server] = []
        self.shutdown_event: asyncio.Event | None = None
        self.exit_code = 0
        # dataset change counter (Redis server.dirty) and save bookkeeping
        self.dirty = 0
        self.lastsave = int(time.time())
        self.loading = False
        self.loading_info: dict[str, Any] = {}
        self._now_ms = time.time_ns() // 1_000_000
        self.lru_since_ms = self._now_ms  # LRU tracking started (ember.keyspace.access)
        # keyspace hooks (installed by the background snapshot engine)
        self.before_write: Callable[[Db, bytes], None] | None = None
        self.before_flush: Callable[[Db], None] | None = None
        self.before_swap: Callable[[Db, Db], None] | None = None
        # blocking ops: keys that got data during the current command
        self.ready_keys: list[tuple[Db, bytes]] = []
        # propagation: ops of the current top-level call, flushed to sinks afterwards
        self.prop_ops: list[tuple[int, list[bytes]]] = []
        self.prevent_prop = False
        self.call_depth = 0
        # slowlog-log-slower-than, read per command (kept current by its config hook)
        self.slowlog_threshold: int = self.cfg["slowlog-log-slower-than"]
        self.propagation_sinks: list[Callable[[list[tuple[int, list[bytes]]]], None]] = []
        # pub/sub
        self.pubsub_channels: dict[bytes, dict[Client, None]] = {}
        self.pubsub_patterns: dict[bytes, dict[Client, None]] = {}
        self.pubsub_shard_channels: dict[bytes, dict[Client, None]] = {}
        self.monitors: list[Client] = []
        # slowlog / latency
        self.slowlog: deque[list[Any]] = deque()
        self.slowlog_next_id = 0
        self.latency_events: dict[str, deque[tuple[int, int]]] = {}
        # extension points for persistence modules
        self.info_providers: dict[str, Callable[[], list[tuple[str, Any]]]] = {}
        self.cron_jobs: list[Callable[[], None]] = []
        self.shutdown_hooks: list[Callable[[bool | None], bool]] = []
        self.write_block_reason: Callable[[], str | None] = lambda: None
        # True while write_block_reason() may say something (a failed save or AOF
        # write): the dispatcher asks it only then (kept by the persistence layer)
        self.write_errors = False
        # a command whose key lookups are reads is running (see CommandSpec.read_lookups)
        self.read_lookups: bool | None = False
        # appendfsync always: returns True when it keeps a reply until the AOF is fsynced
        self.reply_gate: Callable[[Client, bytes], bool] | None = None
        # clients with replies to send when this event-loop turn ends (flush_pending)
        self.pending_writes: list[Client] = []
        self.commands_by_name: dict[bytes, CommandSpec] = {}
        self.dispatch_names: dict[bytes, CommandSpec] = {}
        self.paused_until = 0.0
        self.pause_writes_only = False
        self.paused_clients: list[Client] = []
        self.cron_loops = 0
        self.active_expire_enabled = True  # DEBUG SET-ACTIVE-EXPIRE
        self.busy_script: Any = None
        self.persistence: Any = None  # set by ember.persistence.manager
        self.scripting: Any = None
        self.functions: Any = None  # set by ember.scripting.attach
        # set by other modules; declared here so that every attribute is known up front
        self.after_flushall: Callable[[], None] | None = None  # persistence: FLUSHALL
        self.keyspace_scans: dict[int, Any] | None = None  # SCAN (ember.keyspace.scan)
        self.scan_cursors: Any = None  # HSCAN/SSCAN/ZSCAN cursor table
        self.quicklist_packed_threshold = 1 << 30  # DEBUG QUICKLIST-PACKED-THRESHOLD
        self.tcp_servers: list[Any] = []  # the listeners (CONFIG SET port/bind)
        self.shutdown_save_mode: bool | None = None  # SHUTDOWN [NO]SAVE / signal
        self.signal_shutdown = False
        self._shutdown_asked = False  # a second SIGINT exits at once
        self.build_command_table()
        from ember.scripting import attach as _attach_scripting

        _attach_scripting(self)
        access.configure(self)  # LRU times / LFU counters under an eviction policy

    # ------------------------------------------------------------------ setup
    def build_command_table(self) -> None:
        table: dict[bytes, CommandSpec] = {}
        renamed = {k.lower(): v for k, v in self.config.renamed.items()}
        for name, spec in COMMANDS.items():
            if name in renamed:
                new = renamed[name]
                if new:
                    table[new.lower().encode()] = spec
                continue
            table[name.encode()] = spec
        self.commands_by_name = table
        # the fast path's lookup: names as clients send them, lower or upper case, so
        # that the common request needs no lower() (other spellings take the general path)
        self.dispatch_names = {**table, **{k.upper(): v for k, v in table.items()}}

    def db(self, index: int) -> Db:
        return self.dbs[index]

    def cached_now_ms(self) -> int:
        return self._now_ms

    def flush_pending(self) -> None:
        """Send the replies of every client served in this loop turn (call_soon'd once)."""
        pending = self.pending_writes
        self.pending_writes = []
        for c in pending:
            c.write_pending = False
            try:
                c.flush()
            except Exception as e:  # one broken transport must not keep the others' replies
                self.log("warning", f"Error writing to client id={c.id}: {e!r}")
                c.out.clear()

    def update_time(self) -> int:
        self._now_ms = t = time.time_ns() // 1_000_000
        return t

    def on_slowlog_threshold(self, old: int, new: int) -> None:
        self.slowlog_threshold = new

    def expire_paused(self) -> bool:
        return False

    # ------------------------------------------------------------------ propagation
    def also_propagate(self, dbid: int, argv: list[bytes]) -> None:
        """Add an op to the current call's propagation (AOF, replicas)."""
        self.prop_ops.append((dbid, argv))
        if self.call_depth == 0:
            self.flush_propagation()

    def propagate_deletion(self, dbid: int, key: bytes) -> None:
        cmd = b"UNLINK" if self.cfg["lazyfree-lazy-expire"] else b"DEL"
        self.also_propagate(dbid, [cmd, key])

    def flush_propagation(self, wrap: bool = True) -> None:
        ops = self.prop_ops
        if not ops:
            return
        self.prop_ops = []
        if wrap and len(ops) > 1 and not any(a[0].upper() == b"MULTI" for _, a in ops[:1]):
            dbid = ops[0][0]
            ops = [(dbid, [b"MULTI"]), *ops, (ops[-1][0], [b"EXEC"])]
        for sink in self.propagation_sinks:
            sink(ops)

    # ------------------------------------------------------------------ notifications
    def notify(self, kind: int, event: bytes, key: bytes, dbid: int) -> None:
        flags = self.cfg["notify-keyspace-events"]
        if not flags:
            return
        from ember.server.pubsub import notify_keyspace_event

        notify_keyspace_event(self, kind, event, key, dbid)

    # ------------------------------------------------------------------ latency
    def latency_add(self, event: str, ms: int) -> None:
        threshold = self.cfg["latency-monitor-threshold"]
        if threshold and ms >= threshold:
            q = self.latency_events.setdefault(event, deque(maxlen=160))
            q.append((int(time.time()), ms))

    # ------------------------------------------------------------------ cron
    def cron(self) -> None:
        """serverCron: runs ``hz`` times per second."""
        self.cron_loops += 1
        now = self.update_time()
        # active expiry: bounded work per tick (Redis ACTIVE_EXPIRE_CYCLE_SLOW budget)
        if not self.loading and self.active_expire_enabled:
            effort = self.cfg["active-expire-effort"]
            budget = 2000 * effort
            for db in self.dbs:
                if db.expires:
                    db.active_expire(budget, now)
            self.flush_propagation()
        # client timeouts
        timeout = self.cfg["timeout"]
        if timeout and self.cron_loops % max(1, self.cfg["hz"]) == 0:
            limit = time.monotonic() - timeout
            for c in list(self.clients.values()):
                if (
                    c.last_interaction < limit
                    and not c.is_blocked()
                    and not c.subscriptions_count()
                    and not c.monitor
                ):
                    c.close()
        if self.paused_until and time.monotonic() >= self.paused_until:
            self.unpause_clients()
        for job in self.cron_jobs:
            job()

    def unpause_clients(self) -> None:
        self.paused_until = 0.0
        waiting, self.paused_clients = self.paused_clients, []
        for c in waiting:
            c.resume_processing()

    def clients_paused(self, write: bool) -> bool:
        if not self.paused_until:
            return False
        if time.monotonic() >= self.paused_until:
            self.unpause_clients()
            return False
        return write or not self.pause_writes_only

    # ------------------------------------------------------------------ info
    def used_memory(self) -> int:
        try:
            import psutil

            return int(psutil.Process().memory_info().rss)
        except Exception:
            return 0

    def _info_section(self, name: str) -> list[tuple[str, Any]] | None:
        provider = self.info_providers.get(name)
        if provider is not None:
            return provider()
        fn = getattr(self, f"_info_{name}", None)
        if fn is None:
            return None
        result: list[tuple[str, Any]] = fn()
        return result

    def _info_server(self) -> list[tuple[str, Any]]:
        uptime = int(time.time() - self.start_time)
        un = os.uname()
        port = self.cfg["port"]
        return [
            ("redis_version", REDIS_VERSION),
            ("ember_version", __version__),
            ("redis_git_sha1", "00000000"),
            ("redis_git_dirty", 0),
            ("redis_build_id", "0"),
            ("redis_mode", "standalone"),
            ("os", f"{un.sysname} {un.release} {un.machine}"),
            ("arch_bits", 64),
            ("monotonic_clock", "POSIX clock_gettime"),
            ("multiplexing_api", "epoll"),
            ("atomicvar_api", "c11-builtin"),
            ("gcc_version", "0.0.0"),
            ("python_version", sys.version.split()[0]),
            ("process_id", os.getpid()),
            ("process_supervised", "no"),
            ("run_id", self.run_id),
            ("tcp_port", port),
            ("server_time_usec", time.time_ns() // 1000),
            ("uptime_in_seconds", uptime),
            ("uptime_in_days", uptime // 86400),
            ("hz", self.cfg["hz"]),
            ("configured_hz", self.cfg["hz"]),
            ("lru_clock", int(time.time()) & ((1 << 24) - 1)),
            ("executable", os.path.abspath(sys.argv[0])),
            (
                "config_file",
                os.path.abspath(self.config.config_file) if self.config.config_file else "",
            ),
            ("io_threads_active", 0),
        ]

    def _info_clients(self) -> list[tuple[str, Any]]:
        blocked = sum(1 for c in self.clients.values() if c.is_blocked())
        pubsub = sum(1 for c in self.clients.values() if c.subscriptions_count())
        return [
            ("connected_clients", len(self.clients)),
            ("cluster_connections", 0),
            ("maxclients", self.cfg["maxclients"]),
            ("client_recent_max_input_buffer", 0),
            ("client_recent_max_output_buffer", 0),
            ("blocked_clients", blocked),
            ("tracking_clients", 0),
            ("pubsub_clients", pubsub),
            ("clients_in_timeout_table", blocked),
        ]

    def _info_memory(self) -> list[tuple[str, Any]]:
        import psutil

        rss = psutil.Process().memory_info().rss
        total = psutil.virtual_memory().total
        maxmem = self.cfg["maxmemory"]
        return [
            ("used_memory", rss),
            ("used_memory_human", _human(rss)),
            ("used_memory_rss", rss),
            ("used_memory_rss_human", _human(rss)),
            ("used_memory_peak", max(rss, getattr(self, "_peak_rss", 0))),
            ("used_memory_peak_human", _human(max(rss, getattr(self, "_peak_rss", 0)))),
            ("used_memory_dataset", rss),
            ("total_system_memory", total),
            ("total_system_memory_human", _human(total)),
            ("maxmemory", maxmem),
            ("maxmemory_human", _human(maxmem)),
            ("maxmemory_policy", self.cfg["maxmemory-policy"]),
            ("mem_fragmentation_ratio", "1.00"),
            ("mem_allocator", "pymalloc"),
            ("lazyfree_pending_objects", 0),
        ]

    def _info_persistence(self) -> list[tuple[str, Any]]:
        return [
            ("loading", 1 if self.loading else 0),
            ("async_loading", 0),
            ("rdb_changes_since_last_save", self.dirty),
            ("rdb_bgsave_in_progress", 0),
            ("rdb_last_save_time", self.lastsave),
            ("aof_enabled", 1 if self.cfg["appendonly"] else 0),
        ]

    def _info_stats(self) -> list[tuple[str, Any]]:
        s = self.stats
        return [
            ("total_connections_received", s.total_connections_received),
            ("total_commands_processed", s.total_commands_processed),
            ("instantaneous_ops_per_sec", 0),
            ("total_net_input_bytes", s.total_net_input_bytes),
            ("total_net_output_bytes", s.total_net_output_bytes),
            ("rejected_connections", s.rejected_connections),
            ("sync_full", 0),
            ("sync_partial_ok", 0),
            ("sync_partial_err", 0),
            ("expired_keys", s.expired_keys),
            ("expired_stale_perc", "0.00"),
            ("expired_time_cap_reached_count", s.expired_time_cap_reached_count),
            ("evicted_keys", s.evicted_keys),
            ("evicted_clients", s.evicted_clients),
            ("keyspace_hits", s.keyspace_hits),
            ("keyspace_misses", s.keyspace_misses),
            ("pubsub_channels", len(self.pubsub_channels)),
            ("pubsub_patterns", len(self.pubsub_patterns)),
            ("latest_fork_usec", getattr(self.persistence, "latest_fork_usec", 0)),
            ("total_forks", getattr(self.persistence, "total_forks", 0)),
            (
                "client_query_buffer_limit_disconnections",
                s.client_query_buffer_limit_disconnections,
            ),
            (
                "client_output_buffer_limit_disconnections",
                s.client_output_buffer_limit_disconnections,
            ),
            ("total_error_replies", s.total_error_replies),
            ("dump_payload_sanitizations", s.dump_payload_sanitizations),
            ("total_reads_processed", s.total_reads_processed),
            ("total_writes_processed", s.total_writes_processed),
        ]

    def _info_replication(self) -> list[tuple[str, Any]]:
        return [
            ("role", "master"),
            ("connected_slaves", 0),
            ("master_failover_state", "no-failover"),
            ("master_replid", self.run_id),
            ("master_replid2", "0" * 40),
            ("master_repl_offset", 0),
            ("second_repl_offset", -1),
            ("repl_backlog_active", 0),
            ("repl_backlog_size", self.cfg["repl-backlog-size"]),
            ("repl_backlog_first_byte_offset", 0),
            ("repl_backlog_histlen", 0),
        ]

    def _info_cpu(self) -> list[tuple[str, Any]]:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        rc = resource.getrusage(resource.RUSAGE_CHILDREN)
        return [
            ("used_cpu_sys", f"{ru.ru_stime:.6f}"),
            ("used_cpu_user", f"{ru.ru_utime:.6f}"),
            ("used_cpu_sys_children", f"{rc.ru_stime:.6f}"),
            ("used_cpu_user_children", f"{rc.ru_utime:.6f}"),
            ("used_cpu_sys_main_thread", f"{ru.ru_stime:.6f}"),
            ("used_cpu_user_main_thread", f"{ru.ru_utime:.6f}"),
        ]

    def _info_modules(self) -> list[tuple[str, Any]]:
        return []

    def _info_cluster(self) -> list[tuple[str, Any]]:
        return [("cluster_enabled", 0)]

    def _info_errorstats(self) -> list[tuple[str, Any]]:
        return [(f"errorstat_{k}", f"count={v}") for k, v in sorted(self.stats.errorstats.items())]

    def _info_commandstats(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []

        def emit(spec: CommandSpec) -> None:
            if spec.calls or spec.rejected_calls or spec.failed_calls:
                per = spec.usec / spec.calls if spec.calls else 0
                out.append(
                    (
                        f"cmdstat_{spec.fullname}",
                        f"calls={spec.calls},usec={spec.usec},usec_per_call={per:.2f},"
                        f"rejected_calls={spec.rejected_calls},failed_calls={spec.failed_calls}",
                    )
                )

        for spec in COMMANDS.values():
            emit(spec)
            for sub in spec.subcommands.values():
                emit(sub)
        return out

    def _info_latencystats(self) -> list[tuple[str, Any]]:
        return []

    def _info_keyspace(self) -> list[tuple[str, Any]]:
        out = []
        for db in self.dbs:
            if len(db):
                out.append(
                    (f"db{db.id}", f"keys={len(db)},expires={len(db.expires)},avg_ttl={db.avg_ttl}")
                )
        return out

    # ------------------------------------------------------------------ misc
    def random_key(self, db: Db) -> bytes | None:
        if not len(db):
            return None
        for _ in range(100):
            key = db.sample_key()  # may be a tombstone during a forkless save
            if key is not None and db.exists(key):  # no keyspace hit (Redis)
                return key
            if not len(db):
                return None
        for key in list(db.iter_keys()):  # unlucky draws (e.g. mostly tombstones)
            if db.exists(key):
                return key
        return None

    def request_shutdown(self, code: int = 0) -> None:
        self.exit_code = code
        if self.shutdown_event is not None:
            self.shutdown_event.set()

    def log(self, level: str, msg: str) -> None:
        log.log(level, msg)


def _human(n: int) -> str:
    if n < 1024:
        return f"{n}B"
    x = n / 1024
    for unit in ("K", "M", "G"):
        if x < 1024:
            return f"{x:.2f}{unit}"
        x /= 1024
    return f"{x:.2f}T"
