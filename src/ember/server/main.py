"""``ember-server [redis.conf] [--name value ...]``: process start-up and shutdown."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import socket
import sys
from typing import Any

from ember import __version__
from ember.commands.registry import load_all
from ember.config import Config, ConfigError, load_conf_text, parse_command_line
from ember.server import log
from ember.server.client import Client
from ember.server.server import REDIS_VERSION, Server

MIN_RESERVED_FDS = 32


def build_config(argv: list[str]) -> Config:
    config = Config()
    conf_file, extra = parse_command_line(argv)
    text = ""
    if conf_file is not None:
        if conf_file == "-":
            text = sys.stdin.read()
        else:
            try:
                with open(conf_file) as f:
                    text = f.read()
            except OSError as e:
                raise ConfigError(f"Fatal error, can't open config file '{conf_file}': {e.strerror}") from None
            config.config_file = os.path.abspath(conf_file)
    load_conf_text(text + "\n" + extra, config)
    return config


def adjust_open_files_limit(config: Config) -> None:
    """Raise RLIMIT_NOFILE to maxclients + 32 like Redis (adjustOpenFilesLimit)."""
    maxclients = config.values["maxclients"]
    want = maxclients + MIN_RESERVED_FDS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as e:
        target = soft
        log.warning(
            f"Server can't set maximum open files to {want} because of OS error: {e}."
        )
    if target < want:
        reduced = max(1, target - MIN_RESERVED_FDS)
        log.warning(
            f"You requested maxclients of {maxclients} requiring at least {want} max file "
            "descriptors."
        )
        log.warning(
            f"Current maximum open files is {target}. maxclients has been reduced to {reduced} "
            "to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
        )
        config.values["maxclients"] = reduced
    else:
        log.notice(f"Increased maximum number of open files to {target} (it was originally set to {soft}).")


async def start_listeners(srv: Server) -> None:
    loop = asyncio.get_running_loop()
    cfg = srv.config.values
    port = cfg["port"]
    backlog = cfg["tcp-backlog"]
    if port:
        addrs = cfg["bind"].split()
        bound = 0
        for addr in addrs:
            optional = addr.startswith("-")
            host = addr.lstrip("-")
            if host == "*":
                host = "0.0.0.0"
            elif host == "::*":
                host = "::"
            try:
                s = await loop.create_server(
                    lambda: Client(srv), host, port, backlog=backlog, reuse_address=True
                )
                srv.servers.append(s)
                bound += 1
            except OSError as e:
                if optional or (host == "::" and e.errno in (97, 99)):
                    continue
                log.warning(f"Warning: Could not create server TCP listening socket {addr}:{port}: {e.strerror}")
                raise SystemExit(1) from None
        if not bound:
            log.warning("Failed listening on port %d (tcp), aborting." % port)
            raise SystemExit(1)
    if cfg["unixsocket"]:
        path = cfg["unixsocket"]
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        s = await loop.create_unix_server(lambda: Client(srv, unix=True), path, backlog=backlog)
        if cfg["unixsocketperm"]:
            os.chmod(path, cfg["unixsocketperm"])
        srv.servers.append(s)


async def serve(srv: Server) -> int:
    loop = asyncio.get_running_loop()
    srv.loop = loop
    srv.shutdown_event = asyncio.Event()
    await start_listeners(srv)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, srv, sig)
    log.notice("Server initialized")
    if srv.persistence is not None:
        await srv.persistence.startup()
    log.notice("Ready to accept connections tcp")
    cron_task = asyncio.ensure_future(_cron_loop(srv))
    await srv.shutdown_event.wait()
    cron_task.cancel()
    return await finish_shutdown(srv)


def _on_signal(srv: Server, sig: int) -> None:
    name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
    if getattr(srv, "_shutdown_asked", False):
        log.warning(f"You insist... exiting now.")
        os._exit(1)
    srv._shutdown_asked = True  # type: ignore[attr-defined]
    log.warning(f"Received {name} scheduling shutdown...")
    srv.signal_shutdown = True  # type: ignore[attr-defined]
    srv.request_shutdown(0)


async def _cron_loop(srv: Server) -> None:
    while True:
        await asyncio.sleep(1.0 / srv.config.values["hz"])
        try:
            srv.cron()
        except Exception as e:  # the cron must never die
            log.warning(f"cron error: {e!r}")


async def finish_shutdown(srv: Server) -> int:
    """prepareForShutdown: stop listening, flush replies, run persistence hooks."""
    log.warning("User requested shutdown...")
    for s in srv.servers:
        s.close()
    ok = True
    save_mode = getattr(srv, "shutdown_save_mode", None)
    for hook in srv.shutdown_hooks:
        try:
            if not hook(save_mode):
                ok = False
        except Exception as e:
            log.warning(f"Error during shutdown: {e!r}")
            ok = False
    if not ok and not getattr(srv, "signal_shutdown", False) and save_mode is not False:
        # SHUTDOWN command failure is reported to the caller by the command itself
        pass
    for c in list(srv.clients.values()):
        if c.transport is not None:
            if c.out:
                c.flush()
            c.transport.close()
    await asyncio.sleep(0)
    pidfile = srv.config.values["pidfile"]
    if pidfile:
        try:
            os.unlink(pidfile)
        except OSError:
            pass
    if srv.config.values["unixsocket"]:
        try:
            os.unlink(srv.config.values["unixsocket"])
        except OSError:
            pass
    log.warning("Redis is now ready to exit, bye bye...")
    return srv.exit_code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-v", "--version"):
        print(f"Redis server v={REDIS_VERSION} sha=00000000:0 malloc=pymalloc bits=64 build=ember-{__version__}")
        return 0
    if args and args[0] in ("-h", "--help"):
        print("Usage: ./ember-server [/path/to/redis.conf] [options] [-]\n"
              "       ./ember-server - (read config from stdin)\n"
              "       ./ember-server -v or --version\n"
              "       ./ember-server -h or --help\n\n"
              "Examples:\n"
              "       ./ember-server (run the server with default conf)\n"
              "       ./ember-server /etc/redis/6379.conf\n"
              "       ./ember-server --port 7777\n"
              "       ./ember-server /etc/myredis.conf --loglevel verbose -")
        return 0
    try:
        config = build_config(args)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 1
    log.configure(config.values["loglevel"], config.values["logfile"])
    log.notice("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo")
    log.notice(
        f"Redis version={REDIS_VERSION}, bits=64, commit=00000000, modified=0, pid={os.getpid()}, "
        f"just started (ember {__version__})"
    )
    if config.config_file:
        log.notice("Configuration loaded")
    else:
        log.warning(
            "Warning: no config file specified, using the default config. In order to specify "
            "a config file use ember-server /path/to/redis.conf"
        )
    d = config.values["dir"]
    try:
        os.makedirs(d, exist_ok=True)
        os.chdir(d)
    except OSError as e:
        log.warning(f"Can't chdir to '{d}': {e.strerror}")
        return 1
    adjust_open_files_limit(config)
    if config.values["pidfile"]:
        try:
            with open(config.values["pidfile"], "w") as f:
                f.write(f"{os.getpid()}\n")
        except OSError as e:
            log.warning(f"Failed to write PID file: {e.strerror}")
    load_all()
    srv = Server(config)
    try:
        from ember.persistence import manager

        manager.attach(srv)
    except ImportError:
        pass
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
