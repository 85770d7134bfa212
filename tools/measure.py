"""Measurement helpers shared by the benchmarks and the tools: nearest-rank percentiles, a latency
summary, the machine's description, and an open-loop send schedule.

Open loop: item ``i`` is started at ``start + i / rate`` whether or not earlier items have
finished, so a slow answer delays nothing else and the rate asked is the rate attempted.
"""
from __future__ import annotations

import asyncio
import math
import os
import platform
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0..100) of ``values``, sorted or not; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def latency_summary_ms(seconds: list[float]) -> dict:
    """p50, p95, p99, max and mean in milliseconds (rounded to 0.01), None for an empty list."""
    out: dict = {}
    for p in (50, 95, 99):
        v = pct(seconds, p)
        out[f"p{p}_ms"] = None if v is None else round(v * 1000, 2)
    out["max_ms"] = round(max(seconds) * 1000, 2) if seconds else None
    out["mean_ms"] = round(sum(seconds) / len(seconds) * 1000, 2) if seconds else None
    return out


def machine() -> dict:
    """CPU model, cores, memory, Python, aiohttp, kernel and load average of this machine."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"cpu_model": model, "cores": os.cpu_count(), "usable_cores": usable, "mem_gib": mem,
            "python": platform.python_version(), "implementation": platform.python_implementation(),
            "aiohttp": aiohttp.__version__, "kernel": platform.release(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


async def open_loop(n: int, rate: float, one: Callable[[int, float], Coroutine[Any, Any, None]]) -> float:
    """Start ``one(i, due)`` at ``due = start + i / rate`` for ``i`` in ``range(n)``, then wait for
    all of them; return ``start`` (``time.perf_counter()`` clock). If this is cancelled, the items
    already started are cancelled too."""
    start = time.perf_counter() + 0.02
    tasks: list[asyncio.Task] = []
    try:
        for i in range(n):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return start
