"""Start real server processes for tests: ember-server and redis-server, on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ember_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("ember-server")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "ember.server.main"]


class ServerProcess:
    """A server subprocess (ember or redis) bound to 127.0.0.1:port with its own dir."""

    def __init__(
        self,
        kind: str,
        workdir: Path,
        args: list[str] | None = None,
        port: int | None = None,
        conf_file: Path | None = None,
    ) -> None:
        self.kind = kind
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.args = list(args or [])
        self.conf_file = conf_file
        self.proc: subprocess.Popen[bytes] | None = None
        self.logfile = self.dir / f"{kind}-{self.port}.log"

    def command_line(self) -> list[str]:
        base = (
            ember_cmd()
            if self.kind == "ember"
            else [shutil.which("redis-server") or "redis-server"]
        )
        conf = [str(self.conf_file)] if self.conf_file else []
        return (
            [
                *base,
                *conf,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "no",
                *self.args,
            ]
            if not self._overrides_persistence()
            else [
                *base,
                *conf,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                *self.args,
            ]
        )

    def _overrides_persistence(self) -> bool:
        return any(a in ("--save", "--appendonly") for a in self.args) or self.conf_file is not None

    def start(self, wait: bool = True, timeout: float = 30.0) -> ServerProcess:
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(
            self.command_line(), cwd=self.dir, stdout=log, stderr=subprocess.STDOUT
        )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} exited with {self.proc.returncode}:\n{self.log_text()}"
                )
            try:
                c = redis.Redis(port=self.port, socket_timeout=2)
                c.ping()
                c.close()
                return
            except redis.exceptions.BusyLoadingError:
                time.sleep(0.05)
            except (redis.exceptions.ConnectionError, OSError):
                time.sleep(0.05)
        raise RuntimeError(f"{self.kind} did not start on {self.port}:\n{self.log_text()}")

    def client(self, **kw: Any) -> redis.Redis:
        kw.setdefault("socket_timeout", 30)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def log_text(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __enter__(self) -> ServerProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn(kind: str, tmp: Path, *args: str) -> Iterator[ServerProcess]:
    s = ServerProcess(kind, tmp / kind, list(args)).start()
    try:
        yield s
    finally:
        s.stop()


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


__all__ = ["ServerProcess", "free_port", "spawn", "redis_available", "os"]
