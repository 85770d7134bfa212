"""tools.measure: nearest-rank percentiles, the latency summary, the open-loop schedule."""
from __future__ import annotations

import asyncio
import time

import pytest

from tools.measure import latency_summary_ms, open_loop, pct


def test_nearest_rank_percentiles():
    values = [7, 1, 10, 3, 2, 9, 4, 8, 6, 5]      # unsorted on purpose
    assert [pct(values, p) for p in (0, 10, 50, 51, 95, 99, 100)] == [1, 1, 5, 6, 10, 10, 10]
    assert pct([], 50) is None and pct([3.5], 99) == 3.5


def test_latency_summary_in_ms():
    assert latency_summary_ms([0.001, 0.002, 0.003, 0.004]) == {
        "p50_ms": 2.0, "p95_ms": 4.0, "p99_ms": 4.0, "max_ms": 4.0, "mean_ms": 2.5}
    assert set(latency_summary_ms([]).values()) == {None}


async def test_open_loop_starts_each_item_on_time_without_waiting_for_the_slow_ones():
    started: dict[int, float] = {}

    async def one(i: int, due: float) -> None:
        started[i] = time.perf_counter()
        assert started[i] >= due - 0.001
        await asyncio.sleep(0.2 if i == 0 else 0)      # a slow first item holds nothing back

    start = await open_loop(5, 50, one)
    assert sorted(started) == [0, 1, 2, 3, 4]
    for i in range(5):
        assert start + i / 50 - 0.001 <= started[i] < start + i / 50 + 0.1
    assert started[4] - started[0] < 0.2


async def test_open_loop_cancelled_cancels_what_it_started():
    finished: list[int] = []

    async def one(i: int, due: float) -> None:
        await asyncio.sleep(5)
        finished.append(i)

    task = asyncio.create_task(open_loop(100, 100, one))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert finished == []
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
