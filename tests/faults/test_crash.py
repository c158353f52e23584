"""Crash harness, fast version: every scenario of :mod:`tests.faults.harness` for two
kill -9 rounds (``make faults`` runs 20 rounds each), plus checks that the checker
itself notices a lost write, and a regression test for a bug the harness found."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from tests.faults.harness import SCENARIOS, Scenario, run_scenario
from tests.faults.workload import connect
from tests.helpers.servers import ServerProcess

pytestmark = [pytest.mark.faults]

SEED = int(os.environ.get("FAULTS_SEED", random.randrange(1 << 30)))


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_crash_scenario(name: str, tmp_path: Path) -> None:
    sc = next(s for s in SCENARIOS if s.name == name)
    st = run_scenario(sc, 2, tmp_path / "data", seed=SEED, quick=True)
    detail = "\n".join(st.errors[:5])
    assert st.ok, (
        f"{name} (FAULTS_SEED={SEED}): lost={st.lost} phantom={st.phantom} torn={st.torn} "
        f"refused={st.refused}\n{detail}"
    )
    assert st.rounds == 2
    assert st.acked > 0


def test_checker_sees_lost_writes(tmp_path: Path) -> None:
    """A server with no persistence at all must fail the 'nothing acknowledged lost'
    check: the harness is not vacuous."""
    sc = Scenario("mutant-no-persistence", ["--save", "", "--appendonly", "no"], "aof")
    st = run_scenario(sc, 1, tmp_path / "data", seed=SEED, quick=True)
    assert st.acked > 0
    assert st.lost > 0


def test_checker_sees_phantoms(tmp_path: Path) -> None:
    """A value nobody wrote shows up as a phantom."""
    from tests.faults.workload import Op, check_round

    ops = {0: [Op(0, 0, "set", b"0:0:aa", 0.0, 1.0), Op(0, 1, "incr", b"", 1.0, 2.0)]}
    got = {b"k:0:0": b"0:0:zz", b"ctr:0": b"1"}
    v, _ = check_round({}, ops, got, 2)
    assert v.phantom == 1 and v.lost == 0
    got = {b"k:0:0": b"0:0:aa", b"ctr:0": b"1", b"other": b"x"}
    v, _ = check_round({}, ops, got, 3)
    assert v.phantom == 2  # the key nobody wrote and the DBSIZE excess
    tx = {0: [Op(0, 0, "tx", b"v", 0.0, 1.0)]}
    v, _ = check_round({}, tx, {b"t:0:0:a": b"v", b"tctr:0": b"1"}, 2)
    assert v.torn >= 1


def test_bgsave_keeps_big_value_written_during_save(tmp_path: Path) -> None:
    """Regression (found by the rdb-load scenario): a value >= 64 KB modified while a
    forkless BGSAVE runs was preserved as empty bytes, so the key vanished from the file."""
    s = ServerProcess(
        "ember",
        tmp_path / "d",
        ["--save", "", "--appendonly", "no", "--enable-debug-command", "yes"],
    )
    s.start()
    try:
        c = connect(s.port)
        for i in range(200):
            c.set(f"pad:{i}", "x")
        c.hset("bighash", mapping={str(i): "y" * 100 for i in range(2000)})
        c.set("bigstr", "z" * 200_000)
        c.config_set("rdb-key-save-delay", "5000")
        digest = c.execute_command("DEBUG", "DIGEST")
        c.bgsave()
        time.sleep(0.05)
        assert int(c.info("persistence")["rdb_bgsave_in_progress"]) == 1
        c.hset("bighash", "new", "v")
        c.append("bigstr", "more")
        deadline = time.monotonic() + 30
        while int(c.info("persistence")["rdb_bgsave_in_progress"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        c.close()
        s.kill()
        s.start()
        c = connect(s.port)
        assert c.execute_command("DEBUG", "DIGEST") == digest
        assert c.hlen("bighash") == 2000 and c.strlen("bigstr") == 200_000
        c.close()
    finally:
        s.stop()
