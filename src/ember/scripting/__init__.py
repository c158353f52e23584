"""Lua scripting (EVAL, SCRIPT) and functions (FUNCTION, FCALL), Redis 7.0 semantics.

``attach(server)`` installs the engine: ``server.scripting`` (:class:`ScriptingEngine`)
and ``server.functions`` (:class:`LibraryStore`, the interface the RDB/AOF code uses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ember.scripting.busy import BusyPump
from ember.scripting.engine import ScriptingEngine
from ember.scripting.functions import LibraryStore

if TYPE_CHECKING:
    from ember.server.server import Server

__all__ = ["attach", "ScriptingEngine", "LibraryStore"]


def attach(server: Server) -> ScriptingEngine:
    engine = ScriptingEngine(server)
    store = LibraryStore(engine)
    engine.functions = store
    pump = BusyPump(server)
    engine.busy_pump = pump
    engine.after_busy = pump.finish  # type: ignore[attr-defined]
    server.scripting = engine
    server.functions = store
    return engine
