"""Logging in Redis's format: ``PID:M 25 Nov 2026 12:00:00.123 * message``."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

LEVELS = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3, "nothing": 4}
MARKS = {0: ".", 1: "-", 2: "*", 3: "#"}

_state: dict[str, object] = {"level": 2, "file": None, "role": "M"}


def configure(level: str, logfile: str) -> None:
    _state["level"] = LEVELS.get(level, 2)
    old = _state.get("file")
    if isinstance(old, object) and old not in (None, sys.stdout) and hasattr(old, "close"):
        old.close()  # type: ignore[union-attr]
    _state["file"] = open(logfile, "a", buffering=1) if logfile else sys.stdout


def set_role(role: str) -> None:
    _state["role"] = role


def log(level: str, msg: str) -> None:
    lv = LEVELS.get(level, 2)
    if lv < int(_state["level"]):  # type: ignore[call-overload]
        return
    now = time.time()
    stamp = (
        time.strftime("%d %b %Y %H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
    )
    out: TextIO = _state["file"] or sys.stdout  # type: ignore[assignment]
    try:
        out.write(f"{os.getpid()}:{_state['role']} {stamp} {MARKS.get(lv, '*')} {msg}\n")
        out.flush()
    except (OSError, ValueError):
        pass


def debug(msg: str) -> None:
    log("debug", msg)


def verbose(msg: str) -> None:
    log("verbose", msg)


def notice(msg: str) -> None:
    log("notice", msg)


def warning(msg: str) -> None:
    log("warning", msg)
