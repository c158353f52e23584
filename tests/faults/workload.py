"""Writers that record every acknowledged reply, and the checker that compares a
recovered dataset with what was acknowledged.

Each writer ``w`` owns its keys and issues one operation at a time (no pipelining), so
its operations reach the server, the AOF and the dataset in the order it sent them:

* ``incr``: ``INCR ctr:<w>`` (the reply is the number of INCRs applied so far);
* ``set``: ``SET k:<w>:<seq> <value>`` on a key never written before;
* ``reg``: ``SET reg:<w> <seq>:<payload>`` (one key overwritten again and again);
* ``tx``: ``MULTI; SET t:<w>:<seq>:a v; SET t:<w>:<seq>:b v; HSET th:<w> <seq> v;
  INCR tctr:<w>; EXEC`` (all four effects or none).

For every operation the writer records when it was sent and when (if ever) its reply
arrived (``time.monotonic()``: CLOCK_MONOTONIC, comparable across processes, which the
power-loss simulation uses to compare with the server's file-system operations).

:func:`check_round` decides, from the dataset that came back after a crash, which of
each writer's operations are present. Because a writer's operations are sequential, the
present ones must be a prefix of what it sent: a missing operation followed by a
present one is a lost write, as is any missing operation the caller says had to be
durable (e.g. acknowledged before a ``kill -9`` under any AOF policy). A value nobody
wrote, a key nobody created or a counter above the number of INCRs sent is a phantom; a
transaction with some but not all of its effects (or ``tctr`` disagreeing with the
complete transactions present) is torn.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

Value = bytes | dict[bytes, bytes]
State = dict[bytes, Value]

KIND_WEIGHTS = (("incr", 30), ("set", 30), ("reg", 15), ("tx", 25))


def connect(port: int, timeout: float = 10.0, **kw: Any) -> redis.Redis:
    """A client that never retries (a retried INCR would be applied twice)."""
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        socket_timeout=timeout,
        socket_connect_timeout=5,
        retry=Retry(NoBackoff(), 0),
        **kw,
    )


@dataclass
class Op:
    w: int
    seq: int
    kind: str
    value: bytes
    t_send: float
    t_ack: float | None = None
    err: str | None = None
    result: Any = None

    @property
    def acked(self) -> bool:
        return self.t_ack is not None and self.err is None


def new_value(rng: random.Random, w: int, seq: int, lo: int, hi: int) -> bytes:
    return b"%d:%d:" % (w, seq) + rng.randbytes(rng.randint(lo, hi) // 2).hex().encode()


class Gate:
    """Lets a controller pause all writers between two operations."""

    def __init__(self, writers: int) -> None:
        self.cond = threading.Condition()
        self.pause_req = False
        self.waiting = 0
        self.writers = writers
        self.alive = writers

    def checkpoint(self, stop: threading.Event) -> None:
        with self.cond:
            if not self.pause_req:
                return
            self.waiting += 1
            self.cond.notify_all()
            while self.pause_req and not stop.is_set():
                self.cond.wait(0.05)
            self.waiting -= 1

    def writer_done(self) -> None:
        with self.cond:
            self.alive -= 1
            self.cond.notify_all()

    def pause(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            self.pause_req = True
            while self.waiting < self.alive:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.05))
        return True

    def resume(self) -> None:
        with self.cond:
            self.pause_req = False
            self.cond.notify_all()


class Writer(threading.Thread):
    """One connection, one operation at a time, until ``stop`` or a connection error."""

    def __init__(
        self,
        w: int,
        port: int,
        start_seq: int,
        stop: threading.Event,
        gate: Gate | None = None,
        seed: int = 0,
        value_size: tuple[int, int] = (8, 300),
        kinds: Iterable[tuple[str, int]] = KIND_WEIGHTS,
        max_ops: int = 1_000_000,
        timeout: float = 15.0,
        on_error: str = "continue",
        pause: float = 0.0,
    ) -> None:
        super().__init__(name=f"writer-{w}", daemon=True)
        self.w = w
        self.port = port
        self.seq = start_seq
        self.stop = stop
        self.gate = gate
        self.rng = random.Random(seed * 1000 + w)
        self.value_size = value_size
        names, weights = zip(*kinds, strict=True)
        self.kind_names = list(names)
        self.kind_weights = list(weights)
        self.max_ops = max_ops
        self.timeout = timeout
        self.on_error = on_error  # continue | stop
        self.pause = pause  # seconds to sleep after each acknowledged operation
        self.ops: list[Op] = []
        self.fatal: BaseException | None = None

    def run(self) -> None:
        try:
            conn = connect(self.port, self.timeout)
            self._loop(conn)
            conn.close()
        except BaseException as e:  # recorded, the harness reports it
            self.fatal = e
        finally:
            if self.gate is not None:
                self.gate.writer_done()

    def _loop(self, conn: redis.Redis) -> None:
        rng = self.rng
        w = self.w
        for _ in range(self.max_ops):
            if self.stop.is_set():
                return
            if self.gate is not None:
                self.gate.checkpoint(self.stop)
                if self.stop.is_set():
                    return
            kind = rng.choices(self.kind_names, self.kind_weights)[0]
            seq = self.seq
            self.seq += 1
            value = b"" if kind == "incr" else new_value(rng, w, seq, *self.value_size)
            op = Op(w, seq, kind, value, time.monotonic())
            self.ops.append(op)
            try:
                op.result = execute(conn, op)
                op.t_ack = time.monotonic()
                if self.pause:
                    time.sleep(self.pause)
            except redis.ResponseError as e:
                op.t_ack = time.monotonic()
                op.err = str(e)
                if self.on_error == "stop":
                    return
                time.sleep(0.01)
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                return  # in flight when the server died: may or may not be applied


def execute(conn: redis.Redis, op: Op) -> Any:
    w, seq, v = op.w, op.seq, op.value
    if op.kind == "incr":
        return conn.incr(b"ctr:%d" % w)
    if op.kind == "set":
        return conn.set(b"k:%d:%d" % (w, seq), v)
    if op.kind == "reg":
        return conn.set(b"reg:%d" % w, v)
    pipe = conn.pipeline(transaction=True)
    pipe.set(b"t:%d:%d:a" % (w, seq), v)
    pipe.set(b"t:%d:%d:b" % (w, seq), v)
    pipe.hset(b"th:%d" % w, b"%d" % seq, v)
    pipe.incr(b"tctr:%d" % w)
    return pipe.execute()


def keys_of(op: Op) -> list[bytes]:
    w, seq = op.w, op.seq
    if op.kind == "incr":
        return [b"ctr:%d" % w]
    if op.kind == "set":
        return [b"k:%d:%d" % (w, seq)]
    if op.kind == "reg":
        return [b"reg:%d" % w]
    return [b"t:%d:%d:a" % (w, seq), b"t:%d:%d:b" % (w, seq), b"th:%d" % w, b"tctr:%d" % w]


def apply_op(state: State, op: Op) -> None:
    """The effect of one operation on the model dataset."""
    w, seq, v = op.w, op.seq, op.value
    if op.kind == "incr":
        k = b"ctr:%d" % w
        state[k] = b"%d" % (int(state.get(k, b"0")) + 1)  # type: ignore[arg-type]
    elif op.kind == "set":
        state[b"k:%d:%d" % (w, seq)] = v
    elif op.kind == "reg":
        state[b"reg:%d" % w] = v
    else:
        state[b"t:%d:%d:a" % (w, seq)] = v
        state[b"t:%d:%d:b" % (w, seq)] = v
        h = state.get(b"th:%d" % w)
        h = dict(h) if isinstance(h, dict) else {}
        h[b"%d" % seq] = v
        state[b"th:%d" % w] = h
        k = b"tctr:%d" % w
        state[k] = b"%d" % (int(state.get(k, b"0")) + 1)  # type: ignore[arg-type]


def copy_state(state: State) -> State:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in state.items()}


# ------------------------------------------------------------------------------ checking


@dataclass
class Verdict:
    acked: int = 0  # operations acknowledged in this round
    lost: int = 0
    phantom: int = 0
    torn: int = 0
    applied: int = 0  # operations found in the recovered dataset
    notes: list[str] = field(default_factory=list)
    present: set[tuple[int, int]] = field(default_factory=set)  # (writer, seq) found

    @property
    def ok(self) -> bool:
        return not (self.lost or self.phantom or self.torn)

    def note(self, msg: str) -> None:
        if len(self.notes) < 20:
            self.notes.append(msg)


def read_dataset(conn: redis.Redis, keys: Iterable[bytes]) -> State:
    """The values of ``keys`` (strings and hashes) as they are on the server."""
    out: State = {}
    keys = list(keys)
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        pipe = conn.pipeline(transaction=False)
        for k in chunk:
            pipe.type(k)
        types = pipe.execute()
        pipe = conn.pipeline(transaction=False)
        want = []
        for k, t in zip(chunk, types, strict=True):
            t = t.decode() if isinstance(t, bytes) else t
            if t == "string":
                pipe.get(k)
                want.append(k)
            elif t == "hash":
                pipe.hgetall(k)
                want.append(k)
            elif t != "none":
                out[k] = b"<type %s>" % t.encode()
        for k, v in zip(want, pipe.execute(), strict=True):
            out[k] = v
    return out


def read_dataset_local(dbs: Any, keys: Iterable[bytes]) -> State:
    """Same as :func:`read_dataset` on an in-process server's database 0."""
    data = dbs[0].data
    out: State = {}
    for k in keys:
        v = data.get(k)
        if v is None:
            continue
        if isinstance(v, dict):
            out[k] = {bytes(f): bytes(x) for f, x in v.items()}
        elif isinstance(v, (bytes, bytearray)):
            out[k] = bytes(v)
        else:
            out[k] = b"<type %s>" % type(v).__name__.encode()
    return out


def check_round(
    before: State,
    ops_by_writer: dict[int, list[Op]],
    got: State,
    got_count: int,
    extra_count: int = 0,
    must_have: Callable[[Op], bool] | None = None,
    cannot_have: Callable[[Op], bool] | None = None,
) -> tuple[Verdict, State]:
    """Compare the recovered dataset with the model.

    ``before``: the model dataset when the round started (verified earlier);
    ``ops_by_writer``: what each writer sent this round, in order; ``got``: the recovered
    values of every key in ``before`` or touched this round; ``got_count``: DBSIZE;
    ``extra_count``: keys outside the writers' namespaces (a preloaded dataset).
    ``must_have(op)``: the operation had to survive (default: it was acknowledged);
    ``cannot_have(op)``: it cannot be there (e.g. sent after the simulated power cut).
    Returns the verdict and the model dataset that was recovered (the next ``before``).
    """
    must_have = must_have or (lambda op: op.acked)
    v = Verdict()
    after = copy_state(before)
    for w, ops in ops_by_writer.items():
        ops = [op for op in ops if op.err is None]
        v.acked += sum(1 for op in ops if op.acked)
        present = _presence(before, ops, got, w, v)
        last_present = max((i for i, p in enumerate(present) if p), default=-1)
        for i, op in enumerate(ops):
            if present[i]:
                if cannot_have is not None and cannot_have(op):
                    v.phantom += 1
                    v.note(f"writer {w} op {op.seq} ({op.kind}) present but sent after the cut")
                apply_op(after, op)
                v.applied += 1
                v.present.add((op.w, op.seq))
            elif i < last_present or must_have(op):
                v.lost += 1
                v.note(
                    f"writer {w} op {op.seq} ({op.kind}, acked={op.acked}) missing"
                    + (" before a later present op" if i < last_present else "")
                )
    # the whole recovered namespace must now equal the model
    for k in set(after) | set(got):
        a, g = after.get(k), got.get(k)
        if a == g:
            continue
        if g is None:
            v.lost += 1
            v.note(f"key {k!r} missing")
        elif a is None:
            v.phantom += 1
            v.note(f"key {k!r} nobody wrote")
        elif not _explained(k, a, g, v):
            v.phantom += 1
            v.note(f"key {k!r}: got {_short(g)} expected {_short(a)}")
    expected_count = len(after) + extra_count
    if got_count > expected_count:
        v.phantom += got_count - expected_count
        v.note(f"DBSIZE {got_count} > expected {expected_count}")
    return v, after


def _explained(k: bytes, a: Value, g: Value, v: Verdict) -> bool:
    # a torn transaction already counted leaves tctr/th disagreeing: do not count twice
    return v.torn > 0 and (k.startswith(b"tctr:") or k.startswith(b"th:"))


def _short(x: Value | None) -> str:
    r = repr(x)
    return r if len(r) < 60 else r[:57] + "..."


def _presence(before: State, ops: list[Op], got: State, w: int, v: Verdict) -> list[bool]:
    def as_int(x: Value | None) -> int:
        if x is None:
            return 0
        try:
            return int(x)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return -1

    n_incr = as_int(got.get(b"ctr:%d" % w)) - as_int(before.get(b"ctr:%d" % w))
    n_tx = as_int(got.get(b"tctr:%d" % w)) - as_int(before.get(b"tctr:%d" % w))
    incr_sent = sum(1 for op in ops if op.kind == "incr")
    tx_sent = sum(1 for op in ops if op.kind == "tx")
    if n_incr < 0 or n_incr > incr_sent:
        v.phantom += 1
        v.note(f"ctr:{w} moved by {n_incr}, {incr_sent} INCRs sent")
    reg = got.get(b"reg:%d" % w)
    reg_seq = -1
    if reg is not None and reg != before.get(b"reg:%d" % w):
        try:
            reg_seq = int(bytes(reg).split(b":")[1])  # type: ignore[arg-type]
        except (ValueError, IndexError, TypeError):
            v.phantom += 1
            v.note(f"reg:{w} holds {_short(reg)}")
    th = got.get(b"th:%d" % w)
    th = th if isinstance(th, dict) else {}
    out: list[bool] = []
    i_incr = i_tx = 0
    tx_present = 0
    for op in ops:
        if op.kind == "incr":
            out.append(i_incr < n_incr)
            i_incr += 1
        elif op.kind == "set":
            g = got.get(b"k:%d:%d" % (w, op.seq))
            out.append(g is not None)
        elif op.kind == "reg":
            out.append(op.seq <= reg_seq)
        else:
            a = got.get(b"t:%d:%d:a" % (w, op.seq))
            b = got.get(b"t:%d:%d:b" % (w, op.seq))
            f = th.get(b"%d" % op.seq)
            parts = [a is not None, b is not None, f is not None]
            if all(parts):
                out.append(True)
                tx_present += 1
            elif any(parts):
                v.torn += 1
                v.note(f"transaction {w}:{op.seq} torn: a={parts[0]} b={parts[1]} field={parts[2]}")
                out.append(True)
                tx_present += 1
            else:
                out.append(False)
            i_tx += 1
    if tx_present != n_tx and 0 <= n_tx <= tx_sent:
        v.torn += 1
        v.note(f"tctr:{w} says {n_tx} transactions, {tx_present} found")
    elif n_tx < 0 or n_tx > tx_sent:
        v.phantom += 1
        v.note(f"tctr:{w} moved by {n_tx}, {tx_sent} transactions sent")
    return out
