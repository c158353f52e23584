"""Drive a forkless snapshot by hand, a few keys at a time (in-process tests)."""

from __future__ import annotations

from typing import Any


class StepWalker:
    """Serializes the databases of a started ``ForklessSnapshot`` in steps of ``n`` keys,
    so a test can interleave client commands with the walk at chosen points."""

    def __init__(self, snap: Any, sliced: bool = False) -> None:
        """``sliced``: every step is one slice that has run out of time (one batch of
        ``snap.BATCH`` keys, or of held records at the end of a db), as on a busy loop."""
        self.snap = snap
        self.pending = list(snap.dbs)
        self.current: Any = None
        self.sliced = sliced
        snap.encoder.begin()

    def walk(self, n: int) -> None:
        snap = self.snap
        while n > 0 and (self.current is not None or self.pending):
            if self.current is None:
                self.current = cur = self.pending.pop(0)
                snap.encoder.begin_db(cur.dbid, cur.size, cur.expires_count)
            before = self.current.pos
            snap._walk(self.current, n, 0 if self.sliced else 1 << 62)
            n -= max(1, self.current.pos - before) if self.sliced else self.current.pos - before
            if snap._db_done(self.current):
                self.current = None

    def finish(self) -> None:
        """Walk what is left and end the file."""
        self.walk(1 << 30)
        self.snap.encoder.end()
