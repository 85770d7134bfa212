"""Leases for one relay node: the same interface as ``RedisLeases``, held in this process.

A name is held until released or until ``ttl`` passes unrenewed, as with Redis, so code that takes
a lease runs the same on one node and on many.
"""
from __future__ import annotations

import time


class LocalLeases:
    def __init__(self, ttl: float = 15.0):
        self.ttl = ttl
        self._held: dict[str, float] = {}   # name → expires (monotonic)

    async def acquire(self, name: str) -> bool:
        now = time.monotonic()
        if self._held.get(name, 0.0) > now:
            return False
        self._held[name] = now + self.ttl
        return True

    async def renew(self, names: list[str]) -> list[str]:
        now = time.monotonic()
        kept = [n for n in names if self._held.get(n, 0.0) > now]
        for name in kept:
            self._held[name] = now + self.ttl
        return kept

    async def release(self, name: str) -> None:
        self._held.pop(name, None)
