"""Crash harness: kill -9 a real ember-server under concurrent writers, restart it on the
same directory, and check what each persistence setting kept.

``python -m tests.faults.harness [--rounds N] [--quick] [--scenario NAME ...] [--seed S]
[--no-powerloss | --only-powerloss] [--keep]`` runs every scenario, then the power-loss
simulation of :mod:`tests.faults.powerloss` (``make faults``); the pytest tests in
``tests/faults/test_crash.py`` run each scenario for two rounds (``make test``).

A round: start ember on the scenario's directory (left by the previous round), verify the
recovered dataset against the model (see :mod:`tests.faults.workload`), run 4 writer
threads, SIGKILL the server at a random moment -- at random, during a BGSAVE made slow
with ``rdb-key-save-delay``, during an AOF rewrite, or while it loads a large dataset at
startup -- and go on to the next round.

What is checked after each restart:

* AOF (``always``, ``everysec``, ``no``): no acknowledged write is lost. For ``everysec``
  and ``no`` this holds because the process died but the OS did not: the bytes were
  written to the kernel before the reply was sent, so they are in the page cache;
  only a power loss can lose them (see :mod:`tests.faults.powerloss`).
* RDB only: the dataset equals exactly the last save that completed (or a later one
  whose rename reached the disk just before the kill): writers are paused while
  ``BGSAVE`` is sent, so the model at that moment is exactly what the save must hold
  (compared key by key, plus DBSIZE); writes after it are the expected loss ("unsaved").
* always: no phantom value, no torn MULTI/EXEC, and ember starts (a truncated AOF tail is
  repaired by ``aof-load-truncated yes``; anything else counts as "refused to start").

The summary table lists per scenario: rounds, acknowledged writes, lost, phantom, torn,
refused to start, kills that landed inside the save/rewrite/load, "unsaved" (the loss the
setting allows: for RDB the acknowledged writes after the save that was loaded; for the
power-loss rows the most acknowledged writes a single cut lost, whose "rounds" are the
rebuilt directories) and AOF tails cut off at load; the last line is
``N passed, M failed`` and the exit code is 1 when any scenario failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.faults.workload import (
    Gate,
    Op,
    State,
    Verdict,
    Writer,
    apply_op,
    check_round,
    connect,
    copy_state,
    keys_of,
    read_dataset,
)
from tests.helpers.servers import ServerProcess

WRITERS = 4


@dataclass
class Scenario:
    name: str
    args: list[str]
    mode: str  # "aof": nothing acknowledged may be lost | "rdb": equals the last save
    event: str = "random"  # random | bgsave | rewrite | loading
    preload: int = 0  # keys loaded with DEBUG POPULATE before the first round
    writers: int = WRITERS
    about: str = ""


AOF_BASE = ["--save", "", "--appendonly", "yes"]

SCENARIOS: list[Scenario] = [
    Scenario(
        "aof-always",
        [*AOF_BASE, "--appendfsync", "always"],
        "aof",
        about="kill -9 at a random moment",
    ),
    Scenario(
        "aof-everysec",
        [*AOF_BASE, "--appendfsync", "everysec"],
        "aof",
        about="kill -9 at a random moment",
    ),
    Scenario(
        "aof-no", [*AOF_BASE, "--appendfsync", "no"], "aof", about="kill -9 at a random moment"
    ),
    Scenario(
        "aof-always-rewrite",
        [*AOF_BASE, "--appendfsync", "always"],
        "aof",
        "rewrite",
        about="kill -9 during BGREWRITEAOF (forkless)",
    ),
    Scenario(
        "aof-everysec-rewrite-fork",
        [*AOF_BASE, "--appendfsync", "everysec", "--bgsave-engine", "fork"],
        "aof",
        "rewrite",
        about="kill -9 during BGREWRITEAOF (fork engine)",
    ),
    Scenario(
        "rdb+aof-everysec-bgsave",
        ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"],
        "aof",
        "bgsave",
        about="kill -9 during BGSAVE with the AOF on",
    ),
    Scenario(
        "rdb-bgsave",
        ["--save", "", "--appendonly", "no"],
        "rdb",
        "bgsave",
        about="kill -9 during or after BGSAVE (forkless)",
    ),
    Scenario(
        "rdb-bgsave-fork",
        ["--save", "", "--appendonly", "no", "--bgsave-engine", "fork"],
        "rdb",
        "bgsave",
        about="kill -9 during or after BGSAVE (fork engine)",
    ),
    Scenario(
        "aof-load",
        [*AOF_BASE, "--appendfsync", "everysec"],
        "aof",
        "loading",
        preload=300_000,
        about="kill -9 while loading a 300k-key AOF at startup",
    ),
    Scenario(
        "rdb-load",
        ["--save", "", "--appendonly", "no"],
        "rdb",
        "loading",
        preload=300_000,
        about="kill -9 while loading a 300k-key RDB at startup",
    ),
]


@dataclass
class Stats:
    name: str
    rounds: int = 0
    acked: int = 0
    lost: int = 0
    phantom: int = 0
    torn: int = 0
    refused: int = 0
    killed_in_event: int = 0  # kills that hit a save / rewrite / load in progress
    unsaved: int = 0  # RDB: acknowledged writes after the last completed save (allowed loss)
    tails_repaired: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.phantom or self.torn or self.refused or self.errors)


@dataclass
class SaveRecord:
    state: State  # the writers' keys when BGSAVE was sent (writers paused)
    completed: bool = False


class Run:
    """One scenario: a directory, a server, the model, and the rounds."""

    def __init__(
        self,
        sc: Scenario,
        workdir: Path,
        rng: random.Random,
        run_time: tuple[float, float],
        log: Callable[[str], None],
    ) -> None:
        self.sc = sc
        self.rng = rng
        self.run_time = run_time
        self.log = log
        self.srv = ServerProcess("ember", workdir, ["--enable-debug-command", "yes", *sc.args])
        self.stats = Stats(sc.name)
        self.state: State = {}  # the verified model dataset (writers' namespace)
        self.next_seq: dict[int, int] = dict.fromkeys(range(sc.writers), 0)
        self.pending: dict[int, list[Op]] = {}  # ops of the last round, not verified yet
        self.saves: list[SaveRecord] = []  # RDB: saves started since the last verification
        self.log_pos = 0
        self.covered: dict[int, int] = {}  # RDB: save index -> operations it contains

    # --------------------------------------------------------------------- server
    def start(self, allow_loading_kill: bool) -> bool:
        """Start (maybe killing it once during loading); False if it refused to start."""
        sc = self.sc
        self.srv.start(wait=False)
        if allow_loading_kill and sc.event == "loading" and self.rng.random() < 0.8:
            if self._wait_loading():
                # loading takes ~2.5 us per key here (from start): aim inside what is left
                time.sleep(self.rng.uniform(0.0, sc.preload * 1e-6))
                if self._still_loading():
                    self.stats.killed_in_event += 1
                self.srv.kill()
                self.srv.start(wait=False)
        ok = self._wait_ready()
        if not ok:
            self.stats.refused += 1
            self.stats.errors.append(f"refused to start:\n{self._log_tail()}")
        text = self._new_log()
        self.stats.tails_repaired += text.count("Truncating the AOF")
        return ok

    def _wait_loading(self) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.srv.proc is None or self.srv.proc.poll() is not None:
                return False
            try:
                c = connect(self.srv.port, 2)
                info = c.info("persistence")
                c.close()
                return bool(int(info.get("loading", 0)))
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                time.sleep(0.01)
            except redis.ResponseError:
                return True
        return False

    def _still_loading(self) -> bool:
        try:
            c = connect(self.srv.port, 1)
            info = c.info("persistence")
            c.close()
            return bool(int(info.get("loading", 0)))
        except (redis.RedisError, OSError):
            return False

    def _wait_ready(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.srv.proc is None or self.srv.proc.poll() is not None:
                return False
            try:
                c = connect(self.srv.port, 5)
                c.ping()
                c.close()
                return True
            except (redis.BusyLoadingError, redis.ConnectionError, redis.TimeoutError, OSError):
                time.sleep(0.02)
        return False

    def _new_log(self) -> str:
        text = self.srv.log_text()
        new, self.log_pos = text[self.log_pos :], len(text)
        return new

    def _log_tail(self) -> str:
        return "\n".join(self.srv.log_text().splitlines()[-15:])

    def kill(self) -> None:
        self.srv.kill()

    # --------------------------------------------------------------------- preload
    def preload(self) -> None:
        sc = self.sc
        c = connect(self.srv.port, 120)
        c.execute_command("DEBUG", "POPULATE", str(sc.preload), "pre", "24")
        if sc.mode == "aof":
            c.bgrewriteaof()
            _wait_info(c, "aof_rewrite_in_progress", 0)
        else:
            c.save()
        c.close()

    # --------------------------------------------------------------------- verify
    def verify(self) -> None:
        sc = self.sc
        c = connect(self.srv.port, 60)
        if sc.mode == "aof":
            keys = set(self.state)
            for ops in self.pending.values():
                for op in ops:
                    keys.update(keys_of(op))
            got = read_dataset(c, keys)
            v, after = check_round(
                self.state, self.pending, got, c.dbsize(), extra_count=self.sc.preload
            )
            self._account(v)
            self.state = after
        else:
            self._verify_rdb(c)
        if sc.preload:
            self._verify_preload(c)
        c.close()
        for ops in self.pending.values():
            for op in ops:
                self.next_seq[op.w] = max(self.next_seq[op.w], op.seq + 1)
        self.pending = {}

    def _verify_rdb(self, c: redis.Redis) -> None:
        """The dataset must be exactly one save: the newest one known complete, or a later
        one (its rename may have reached the disk just before the kill)."""
        cands = [SaveRecord(copy_state(self.state), completed=True), *self.saves]
        first_ok = max(i for i, sv in enumerate(cands) if sv.completed)
        acked_total = sum(1 for ops in self.pending.values() for op in ops if op.acked)
        self.stats.acked += acked_total
        keys: set[bytes] = set()
        for sv in cands:
            keys.update(sv.state)
        for ops in self.pending.values():
            for op in ops:
                keys.update(keys_of(op))
        got = read_dataset(c, keys)
        count = c.dbsize() - self.sc.preload
        match = next(
            (
                i
                for i in range(len(cands) - 1, first_ok - 1, -1)
                if cands[i].state == got and len(got) == count
            ),
            None,
        )
        self.saves = []
        if match is not None:
            covered = self.covered.get(match - 1, 0) if match > 0 else 0
            self.stats.unsaved += acked_total - covered
            self.state = cands[match].state
            self.covered = {}
            return
        # no match: count what differs from the newest completed save
        ref = cands[first_ok]
        v = Verdict()
        for k in set(ref.state) | set(got):
            a, g = ref.state.get(k), got.get(k)
            if a != g:
                if g is None:
                    v.lost += 1
                else:
                    v.phantom += 1
                v.note(f"{k!r}: got {g!r:.60} expected {a!r:.60}")
        if count > len(got):
            v.phantom += count - len(got)
            v.note(f"{count - len(got)} keys nobody wrote")
        self.stats.errors.append("RDB dataset matches no completed save: " + "; ".join(v.notes[:5]))
        self.stats.lost += v.lost
        self.stats.phantom += v.phantom
        self.state = got
        self.covered = {}

    def _verify_preload(self, c: redis.Redis) -> None:
        sample = self.rng.sample(range(self.sc.preload), 50)
        vals = c.mget([b"pre:%d" % i for i in sample])
        for i, val in zip(sample, vals, strict=True):
            want = (b"value:%d" % i).ljust(24, b"\0")[:24]
            if val != want:
                self.stats.lost += 1
                self.stats.errors.append(f"preloaded key pre:{i} = {val!r}")
                break

    def _account(self, v: Verdict) -> None:
        st = self.stats
        st.acked += v.acked
        st.lost += v.lost
        st.phantom += v.phantom
        st.torn += v.torn
        if not v.ok:
            st.errors.append(f"round {st.rounds}: " + "; ".join(v.notes[:6]))

    # --------------------------------------------------------------------- one round
    def round(self) -> None:
        sc, rng = self.sc, self.rng
        stop = threading.Event()
        gate = Gate(sc.writers)
        seed = rng.randrange(1 << 30)
        writers = [
            Writer(w, self.srv.port, self.next_seq[w], stop, gate, seed=seed)
            for w in range(sc.writers)
        ]
        for w in writers:
            w.start()
        lo, hi = self.run_time
        try:
            if sc.mode == "rdb" and sc.event != "loading":
                self._rdb_saves(writers, gate, rng.uniform(lo, hi))
            elif sc.event == "rewrite":
                self._during(writers, "rewrite", rng.uniform(lo, hi) / 2)
            elif sc.event == "bgsave":
                self._during(writers, "bgsave", rng.uniform(lo, hi) / 2)
            else:
                time.sleep(rng.uniform(lo, hi))
            if sc.mode == "rdb" and sc.event == "loading":
                # RDB load scenario: save what the writers did, so the next start loads it
                self._pause_and_save(writers, gate, wait=True)
        finally:
            gate.resume()
            self.kill()
            stop.set()
            for w in writers:
                w.join(30)
        for w in writers:
            if w.fatal is not None:
                self.stats.errors.append(f"writer {w.w}: {w.fatal!r}")
        self.pending = {w.w: w.ops for w in writers}
        self.stats.rounds += 1

    def _during(self, writers: list[Writer], what: str, before: float) -> None:
        """Run writers, start a slow rewrite/save, kill at a random moment within it."""
        time.sleep(before)
        c = connect(self.srv.port, 30)
        n = max(1, c.dbsize())
        duration = self.rng.uniform(0.5, 1.5)
        c.config_set("rdb-key-save-delay", str(max(1, int(duration * 1e6 / n))))
        try:
            if what == "rewrite":
                c.bgrewriteaof()
            else:
                c.bgsave()
        except redis.ResponseError as e:
            self.stats.errors.append(f"{what}: {e}")
        time.sleep(self.rng.uniform(0.0, duration * 1.3))
        info = c.info("persistence")
        key = "aof_rewrite_in_progress" if what == "rewrite" else "rdb_bgsave_in_progress"
        if int(info.get(key, 0)):
            self.stats.killed_in_event += 1
        c.close()

    def _rdb_saves(self, writers: list[Writer], gate: Gate, total: float) -> None:
        """RDB only: 1-3 saves of a known dataset, the last one maybe killed mid-way."""
        rng = self.rng
        n = rng.randint(1, 3)
        for i in range(n):
            time.sleep(total / (n + 1))
            last = i == n - 1
            wait = not last or rng.random() < 0.4
            self._pause_and_save(writers, gate, wait=wait, slow=last)
        if self.saves and not self.saves[-1].completed:
            c = connect(self.srv.port, 30)
            if int(c.info("persistence").get("rdb_bgsave_in_progress", 0)):
                # kill somewhere inside the save (it was made to last ~0.5-1.5 s)
                time.sleep(rng.uniform(0.0, 1.2))
                if int(c.info("persistence").get("rdb_bgsave_in_progress", 0)):
                    self.stats.killed_in_event += 1
            c.close()
        else:
            time.sleep(rng.uniform(0.0, total / (n + 1)))

    def _pause_and_save(
        self, writers: list[Writer], gate: Gate, wait: bool, slow: bool = False
    ) -> None:
        if not gate.pause():
            self.stats.errors.append("writers did not pause")
            return
        c = connect(self.srv.port, 60)
        try:
            state = copy_state(self.state)
            covered = 0
            for w in writers:
                for op in w.ops:
                    if op.err is None:
                        if not op.acked:
                            self.stats.errors.append(
                                f"op {op.w}:{op.seq} not acknowledged while paused"
                            )
                        apply_op(state, op)
                        covered += 1
            if slow:
                n = max(1, c.dbsize())
                c.config_set(
                    "rdb-key-save-delay", str(max(1, int(self.rng.uniform(0.5, 1.5) * 1e6 / n)))
                )
            else:
                c.config_set("rdb-key-save-delay", "0")
            saves0 = int(c.info("persistence")["rdb_saves"])
            c.bgsave()
            rec = SaveRecord(state)
            self.saves.append(rec)
            self.covered[len(self.saves) - 1] = covered
        finally:
            gate.resume()
        if wait:
            info = _wait_info(c, "rdb_bgsave_in_progress", 0)
            rec.completed = (
                info.get("rdb_last_bgsave_status") == "ok" and int(info["rdb_saves"]) > saves0
            )
            if not rec.completed:
                self.stats.errors.append(f"BGSAVE failed: {info.get('rdb_last_bgsave_status')}")
        c.close()

    # --------------------------------------------------------------------- driver
    def run(self, rounds: int) -> Stats:
        try:
            self._run(rounds)
        except (redis.RedisError, OSError, TimeoutError) as e:
            self.stats.errors.append(f"harness: {e!r}")
        finally:
            if self.srv.proc is not None:
                self.kill()
        return self.stats

    def _run(self, rounds: int) -> None:
        sc = self.sc
        if not self.start(allow_loading_kill=False):
            return
        if sc.preload:
            self.preload()
        for r in range(rounds):
            if r:
                if not self.start(allow_loading_kill=True):
                    return
                try:
                    self.verify()
                except (redis.RedisError, OSError) as e:
                    self.stats.errors.append(f"verify: {e!r}")
                    return
            self.round()
            self.log(f"  {sc.name} round {r + 1}: acked so far {self.stats.acked}")
        if self.start(allow_loading_kill=True):
            try:
                self.verify()
            except (redis.RedisError, OSError) as e:
                self.stats.errors.append(f"verify: {e!r}")
            self.srv.stop()


def _wait_info(c: redis.Redis, key: str, want: int, timeout: float = 120.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = c.info("persistence")
        if int(info.get(key, 0)) == want:
            return info
        time.sleep(0.02)
    raise TimeoutError(f"{key} stayed != {want}")


def run_scenario(
    sc: Scenario,
    rounds: int,
    workdir: Path,
    seed: int = 0,
    quick: bool = False,
    log: Callable[[str], None] = lambda s: None,
) -> Stats:
    """Run one scenario from an empty directory. ``quick``: short rounds, a preloaded
    dataset of 60k keys instead of 300k (the pytest version)."""
    rng = random.Random(f"{seed}:{sc.name}")
    if workdir.exists():
        shutil.rmtree(workdir)
    if quick and sc.preload:
        sc = dataclasses.replace(sc, preload=100_000)
    run_time = (0.3, 0.8) if quick else (0.5, 3.0)
    return Run(sc, workdir, rng, run_time, log).run(rounds)


# ------------------------------------------------------------------------------ report

COLUMNS = (
    "scenario",
    "rounds",
    "acked writes",
    "lost",
    "phantom",
    "torn",
    "refused to start",
    "kills in event",
    "unsaved (allowed loss)",
    "tails repaired",
)


def table(rows: list[Stats]) -> str:
    data = [
        (
            s.name,
            s.rounds,
            s.acked,
            s.lost,
            s.phantom,
            s.torn,
            s.refused,
            s.killed_in_event,
            s.unsaved,
            s.tails_repaired,
        )
        for s in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(COLUMNS, *data, strict=True)]
    line = "| " + " | ".join(f"{c:<{w}}" for c, w in zip(COLUMNS, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(f"{str(x):<{w}}" for x, w in zip(r, widths, strict=True)) + " |"
        for r in data
    ]
    return "\n".join([line, sep, *body])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.faults.harness", description=__doc__.split("\n")[0]
    )
    ap.add_argument(
        "--rounds", type=int, default=None, help="rounds per scenario (default 20, --quick 3)"
    )
    ap.add_argument("--quick", action="store_true", help="few rounds, short runs")
    ap.add_argument("--scenario", action="append", default=[], help="run only these (repeatable)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--no-powerloss", action="store_true", help="skip the power-loss simulation")
    ap.add_argument(
        "--only-powerloss", action="store_true", help="run only the power-loss simulation"
    )
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 20)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    chosen = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    if args.only_powerloss:
        chosen = []
    base = Path(tempfile.mkdtemp(prefix="ember-faults-"))
    print(
        f"ember crash harness: {len(chosen)} scenarios x {rounds} rounds, seed {seed}, dir {base}",
        flush=True,
    )
    results: list[Stats] = []
    try:
        for sc in chosen:
            t0 = time.monotonic()
            st = run_scenario(
                sc, rounds, base / sc.name, seed, args.quick, log=lambda s: print(s, flush=True)
            )
            results.append(st)
            status = "ok" if st.ok else "FAILED"
            print(f"{sc.name}: {status} ({time.monotonic() - t0:.1f} s) - {sc.about}", flush=True)
            for e in st.errors[:5]:
                print("   " + e.replace("\n", "\n   "), flush=True)
        pl_rows: list[Stats] = []
        if not args.no_powerloss and not args.scenario:
            from tests.faults import powerloss

            pl_rows = powerloss.run_all(
                base / "powerloss", quick=args.quick, seed=seed, log=lambda s: print(s, flush=True)
            )
            results += pl_rows
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print()
    print(table(results))
    passed = sum(1 for s in results if s.ok)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
