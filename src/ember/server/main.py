"""``ember-server [redis.conf] [--name value ...] [-]``: process start-up and shutdown.

Start-up follows ``redis-server``'s ``main()``: the command line is turned into config
lines appended to the file (``--port 7000`` -> ``port 7000``), a bad option stops the
start with Redis's ``*** FATAL CONFIG FILE ERROR`` text on stderr and exit code 1, the
open files limit is raised to ``maxclients + 32`` (or maxclients is reduced, with
Redis's warnings), listeners are bound, the pidfile written, and the log says
``Ready to accept connections``. SIGTERM / SIGINT schedule a graceful shutdown (a second
SIGINT exits at once).
"""

from __future__ import annotations

import asyncio
import errno
import os
import resource
import signal
import socket
import sys
from typing import Any

from ember import __version__, build_kind
from ember.commands.registry import load_all
from ember.config import Config, ConfigError, load_conf_text, parse_command_line, read_conf_file
from ember.server import log
from ember.server.client import Client
from ember.server.server import REDIS_VERSION, Server

MIN_RESERVED_FDS = 32  # CONFIG_MIN_RESERVED_FDS


def build_config(argv: list[str]) -> Config:
    """The configuration from the command line (and the file / stdin it names)."""
    load_all()  # rename-command checks command names
    config = Config()
    conf_file, options = parse_command_line(argv)
    stdin = bool(argv) and (argv[0] == "-" or argv[-1] == "-")
    text = ""
    if conf_file is not None and conf_file != "-":
        text = read_conf_file(conf_file)
        config.config_file = os.path.abspath(conf_file)
    if stdin:
        log.warning("Reading config from stdin")
        text += sys.stdin.read()
    if options:
        text += "\n" + options
    load_conf_text(text, config)
    return config


def adjust_open_files_limit(config: Config, at_runtime: bool = False) -> None:
    """``adjustOpenFilesLimit``: raise RLIMIT_NOFILE to maxclients + 32, or reduce
    maxclients to what the OS allows (with Redis's warnings)."""
    maxclients = config.values["maxclients"]
    maxfiles = maxclients + MIN_RESERVED_FDS
    try:
        oldlimit, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError) as e:
        log.warning(
            f"Unable to obtain the current NOFILE limit ({e}), assuming 1024 and setting the "
            "max clients configuration accordingly."
        )
        config.values["maxclients"] = 1024 - MIN_RESERVED_FDS
        return
    if oldlimit == resource.RLIM_INFINITY or oldlimit >= maxfiles:
        return
    best = maxfiles
    err = 0
    # Redis steps down 16 fds at a time until setrlimit() works: jump close to that step
    # (the kernel's nr_open for a privileged process, else the hard limit)
    for cap in (_max_settable(_hard), _hard):
        if best > cap and cap != resource.RLIM_INFINITY:
            candidate = maxfiles - 16 * -(-(maxfiles - cap) // 16)
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (candidate, candidate))
            except (OSError, ValueError) as e:
                err = getattr(e, "errno", None) or errno.EPERM
                continue
            resource.setrlimit(resource.RLIMIT_NOFILE, (oldlimit, _hard))
            best = candidate
            break
    while best > oldlimit:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (best, best))
            break
        except (OSError, ValueError) as e:
            err = getattr(e, "errno", None) or errno.EPERM
        if best < 16:
            best = oldlimit
            break
        best -= 16
    if best < maxfiles and not err:
        err = errno.EPERM
    best = max(best, oldlimit)
    if best < maxfiles:
        if best <= MIN_RESERVED_FDS:
            log.warning(
                f"Your current 'ulimit -n' of {oldlimit} is not enough for the server to start. "
                f"Please increase your open file limit to at least {maxfiles}. Exiting."
            )
            if not at_runtime:
                raise SystemExit(1)
            return
        config.values["maxclients"] = best - MIN_RESERVED_FDS
        log.warning(
            f"You requested maxclients of {maxclients} requiring at least {maxfiles} max file descriptors."
        )
        log.warning(
            f"Server can't set maximum open files to {maxfiles} because of OS error: {os.strerror(err)}."
        )
        log.warning(
            f"Current maximum open files is {best}. maxclients has been reduced to "
            f"{best - MIN_RESERVED_FDS} to compensate for low ulimit. If you need higher "
            "maxclients increase 'ulimit -n'."
        )
    else:
        log.notice(
            f"Increased maximum number of open files to {maxfiles} (it was originally set to {oldlimit})."
        )


def _max_settable(hard: int) -> int:
    """The highest RLIMIT_NOFILE this process may set: the hard limit, or for a
    privileged process the kernel's ``nr_open``."""
    if os.geteuid() != 0:
        return hard if hard != resource.RLIM_INFINITY else 1 << 62
    try:
        with open("/proc/sys/fs/nr_open") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1 << 20


# ---------------------------------------------------------------------- listeners


def _tcp_sockets(cfg: dict[str, Any]) -> list[socket.socket] | None:
    """``listenToPort``: one listening socket per ``bind`` address (``-addr`` is
    optional); None if a mandatory address cannot be bound."""
    port = cfg["port"]
    socks: list[socket.socket] = []
    if not port:
        return socks
    for addr in cfg["bind"].split():
        optional = addr.startswith("-")
        host = addr[1:] if optional else addr
        v6 = ":" in host
        if host in ("*", "::*"):
            host = "::" if v6 else "0.0.0.0"
        sock = None
        try:
            infos = socket.getaddrinfo(
                host,
                port,
                socket.AF_INET6 if v6 else socket.AF_INET,
                socket.SOCK_STREAM,
                0,
                socket.AI_PASSIVE,
            )
            family, _, _, _, sockaddr = infos[0]
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if v6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(sockaddr)
            sock.listen(cfg["tcp-backlog"])
            sock.setblocking(False)
            socks.append(sock)
        except (OSError, UnicodeError) as e:
            if sock is not None:
                sock.close()
            code = getattr(e, "errno", None)
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            log.warning(
                f"Warning: Could not create server TCP listening socket {host}:{port}: {reason}"
            )
            if code == errno.EADDRNOTAVAIL and optional:
                continue
            if code in (
                errno.ENOPROTOOPT,
                errno.EPROTONOSUPPORT,
                errno.ESOCKTNOSUPPORT,
                errno.EPFNOSUPPORT,
                errno.EAFNOSUPPORT,
            ):
                continue
            if isinstance(e, socket.gaierror) and optional:
                continue
            for s in socks:
                s.close()
            return None
    return socks


async def start_listeners(srv: Server) -> None:
    loop = asyncio.get_running_loop()
    cfg = srv.config.values
    socks = _tcp_sockets(cfg)
    if socks is None or (cfg["port"] and cfg["bind"].split() and not socks):
        log.warning(f"Failed listening on port {cfg['port']} (TCP), aborting.")
        raise SystemExit(1)
    if not cfg["port"] and not cfg["unixsocket"]:
        log.warning("Configured to not listen anywhere, exiting.")
        raise SystemExit(1)
    for sock in socks:
        # backlog again: create_server re-listens with its own default (100) otherwise
        srv.servers.append(
            await loop.create_server(lambda: Client(srv), sock=sock, backlog=cfg["tcp-backlog"])
        )
    srv.tcp_servers = list(srv.servers)
    if cfg["unixsocket"]:
        path = cfg["unixsocket"]
        try:
            os.unlink(path)
        except OSError:
            pass
        try:
            old_umask = os.umask(0o777 & ~cfg["unixsocketperm"]) if cfg["unixsocketperm"] else None
            try:
                s = await loop.create_unix_server(
                    lambda: Client(srv, unix=True), path, backlog=cfg["tcp-backlog"]
                )
            finally:
                if old_umask is not None:
                    os.umask(old_umask)
            if cfg["unixsocketperm"]:
                os.chmod(path, cfg["unixsocketperm"])
        except OSError as e:
            log.warning(f"Failed opening Unix socket: {e.strerror}")
            raise SystemExit(1) from None
        srv.servers.append(s)


def rebind_listeners(srv: Server) -> bool:
    """``changeListener`` for CONFIG SET port / bind: bind the new sockets first (so a
    failure keeps the old ones), then close the old listeners."""
    loop = srv.loop
    socks = _tcp_sockets(srv.config.values)
    if socks is None or loop is None:
        return False
    old = getattr(srv, "tcp_servers", [])
    for s in old:
        s.close()
        if s in srv.servers:
            srv.servers.remove(s)
    srv.tcp_servers = []

    async def serve_on(sock: socket.socket) -> None:
        server = await loop.create_server(
            lambda: Client(srv), sock=sock, backlog=srv.config.values["tcp-backlog"]
        )
        srv.servers.append(server)
        srv.tcp_servers.append(server)

    for sock in socks:
        asyncio.ensure_future(serve_on(sock))
    return True


# ---------------------------------------------------------------------- run / shutdown


async def serve(srv: Server) -> int:
    loop = asyncio.get_running_loop()
    srv.loop = loop
    srv.shutdown_event = asyncio.Event()
    await start_listeners(srv)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, srv, sig)
    log.warning("Server initialized")
    if srv.persistence is not None:
        await srv.persistence.startup()
    if srv.config.values["port"] and srv.config.values["bind"].split():
        log.notice("Ready to accept connections")
    if srv.config.values["unixsocket"]:
        log.notice(
            f"The server is now ready to accept connections at {srv.config.values['unixsocket']}"
        )
    cron_task = asyncio.ensure_future(_cron_loop(srv))
    await srv.shutdown_event.wait()
    cron_task.cancel()
    return await finish_shutdown(srv)


def _on_signal(srv: Server, sig: int) -> None:
    if getattr(srv, "_shutdown_asked", False) and sig == signal.SIGINT:
        log.warning("You insist... exiting now.")
        os._exit(1)
    if srv.loading:
        log.warning("Received shutdown signal during loading, scheduling shutdown.")
    else:
        log.warning(
            f"Received {'SIGINT' if sig == signal.SIGINT else 'SIGTERM'} scheduling shutdown..."
        )
    srv._shutdown_asked = True
    srv.signal_shutdown = True
    flags = srv.config.values[
        "shutdown-on-sigint" if sig == signal.SIGINT else "shutdown-on-sigterm"
    ].split()
    if "nosave" in flags:
        srv.shutdown_save_mode = False
    elif "save" in flags:
        srv.shutdown_save_mode = True
    srv.request_shutdown(0)


async def _cron_loop(srv: Server) -> None:
    while True:
        await asyncio.sleep(1.0 / max(1, srv.config.values["hz"]))
        try:
            srv.cron()
        except Exception as e:  # the cron must never die
            log.warning(f"cron error: {e!r}")


async def finish_shutdown(srv: Server) -> int:
    """prepareForShutdown: stop listening, run persistence hooks, flush replies, exit."""
    log.warning("User requested shutdown...")
    for s in srv.servers:
        s.close()
    save_mode = getattr(srv, "shutdown_save_mode", None)
    for hook in srv.shutdown_hooks:
        try:
            hook(save_mode)
        except Exception as e:
            log.warning(f"Error during shutdown: {e!r}")
    for c in list(srv.clients.values()):
        if c.transport is not None:
            if c.out:
                c.flush()
            c.transport.close()
    await asyncio.sleep(0)
    pidfile = srv.config.values["pidfile"]
    if pidfile:
        log.notice("Removing the pid file.")
        try:
            os.unlink(pidfile)
        except OSError:
            pass
    if srv.config.values["unixsocket"]:
        log.notice("Removing the unix socket file.")
        try:
            os.unlink(srv.config.values["unixsocket"])
        except OSError:
            pass
    log.warning("Redis is now ready to exit, bye bye...")
    return srv.exit_code


USAGE = """Usage: ./ember-server [/path/to/redis.conf] [options] [-]
       ./ember-server - (read config from stdin)
       ./ember-server -v or --version
       ./ember-server -h or --help

Examples:
       ./ember-server (run the server with default conf)
       echo 'maxmemory 128mb' | ./ember-server -
       ./ember-server /etc/redis/6379.conf
       ./ember-server --port 7777
       ./ember-server /etc/myredis.conf --loglevel verbose -
       ./ember-server /etc/myredis.conf --loglevel verbose
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-v", "--version"):
        print(
            f"Redis server v={REDIS_VERSION} sha=00000000:0 malloc=pymalloc bits=64 build=ember-{__version__}"
        )
        return 0
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    log.set_role("C")
    try:
        config = build_config(args)
    except ConfigError as e:
        msg = str(e)
        if msg.startswith("\n***"):
            print(msg, file=sys.stderr)
        else:
            log.warning(msg)
        return 1
    try:
        log.configure(config.values["loglevel"], config.values["logfile"])
    except OSError as e:
        print(f"Can't open the log file: {e.strerror}", file=sys.stderr)
        return 1
    log.warning("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo")
    log.warning(
        f"Redis version={REDIS_VERSION}, bits=64, commit=00000000, modified=0, pid={os.getpid()}, "
        f"just started (ember {__version__}, {build_kind()} build)"
    )
    if not args:
        log.warning(
            "Warning: no config file specified, using the default config. In order to specify "
            "a config file use ember-server /path/to/redis.conf"
        )
    else:
        log.warning("Configuration loaded")
    log.set_role("M")
    d = config.values["dir"]
    try:
        os.chdir(d)
    except OSError as e:
        log.warning(f"Can't chdir to '{d}': {e.strerror}")
        return 1
    try:
        adjust_open_files_limit(config)
    except SystemExit as e:
        return int(e.code or 1)
    srv = Server(config)
    try:
        from ember.persistence import manager

        manager.attach(srv)
    except ImportError:
        pass
    if config.values["pidfile"]:
        try:
            with open(config.values["pidfile"], "w") as f:
                f.write(f"{os.getpid()}\n")
        except OSError as e:
            log.warning(f"Failed to write PID file: {e.strerror}")
    log.notice(f"Running mode=standalone, port={config.values['port']}.")
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    try:
        return int(runner(serve(srv)))
    except SystemExit as e:
        return int(e.code or 0)


def _free_port() -> int:  # used by tests
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
