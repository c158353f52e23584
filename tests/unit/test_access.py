"""LFU counter arithmetic (Redis evict.c): decay by elapsed minutes, logarithmic
increments, the 16-bit minute clock wrapping, and the LfuDict access protocol."""

from __future__ import annotations

import random

import pytest

from ember.keyspace.access import (
    LFU_INIT_VAL,
    LfuDict,
    lfu_decayed,
    lfu_log_incr,
    lfu_minutes,
)

MIN = 60_000  # ms


def test_decay_one_per_period_and_floor_at_zero() -> None:
    packed = (100 << 8) | 20
    assert lfu_decayed(packed, 100, 1) == 20
    assert lfu_decayed(packed, 103, 1) == 17
    assert lfu_decayed(packed, 110, 5) == 18  # 10 minutes / 5
    assert lfu_decayed(packed, 200, 1) == 0
    assert lfu_decayed(packed, 10_000, 0) == 20  # lfu-decay-time 0: never


def test_decay_across_the_16_bit_minute_wrap() -> None:
    packed = (65530 << 8) | 30
    assert lfu_decayed(packed, 4, 1) == 30 - (65535 - 65530 + 4)


def test_log_incr_probability() -> None:
    assert lfu_log_incr(LFU_INIT_VAL, 10) == LFU_INIT_VAL + 1  # p = 1 up to the init value
    assert lfu_log_incr(2, 10) == 3
    assert lfu_log_incr(255, 0) == 255
    assert lfu_log_incr(100, 0) == 101  # factor 0: every access counts
    random.seed(1)
    # at counter 15 with factor 10, p = 1 / 101
    hits = sum(lfu_log_incr(15, 10) == 16 for _ in range(20_000))
    assert 120 < hits < 280


def test_lfudict_access_protocol() -> None:
    cfg = {"lfu-log-factor": 0, "lfu-decay-time": 1}
    now = 1_000 * MIN
    d = LfuDict(cfg, now)
    assert d.counter(b"untracked", now) == LFU_INIT_VAL
    d.created(b"k", now)
    assert d.counter(b"k", now) == LFU_INIT_VAL
    d[b"k"] = now  # an access
    d[b"k"] = now
    assert d.counter(b"k", now) == LFU_INIT_VAL + 2
    assert d[b"k"] == (lfu_minutes(now) << 8) | (LFU_INIT_VAL + 2)
    later = now + 3 * MIN
    assert d.counter(b"k", later) == LFU_INIT_VAL - 1  # read-only: decayed, not stored
    d[b"k"] = later  # decay first, then the increment
    assert d.counter(b"k", later) == LFU_INIT_VAL
    fresh = d.fresh(later)
    assert type(fresh) is LfuDict and not fresh and fresh.cfg is cfg


@pytest.mark.parametrize("counter", [0, 5, 255])
def test_restored_counter_is_kept(counter: int) -> None:
    d = LfuDict({"lfu-log-factor": 10, "lfu-decay-time": 1}, 0)
    d.created(b"k", 5 * MIN, counter)
    assert d.counter(b"k", 5 * MIN) == counter
