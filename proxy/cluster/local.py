"""One relay node: leases and a fan-out with the same interfaces as ``redis.py``'s, in this process.

A lease is held by this node (the only one) until released or until ``ttl`` passes unrenewed, as
with Redis: ``acquire`` is True when this node holds the name now, so code that takes a lease runs
the same on one node and on many. The fan-out has no other node to reach: the hub delivers to this
node's readers itself, and ``forward`` has nothing to do.
"""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy.hub import Hub


class LocalLeases:
    shared = False    # no other node: a lease this node takes was nobody else's

    def __init__(self, ttl: float = 15.0):
        self.ttl = ttl
        self._held: dict[str, float] = {}   # name → expires (monotonic)

    async def acquire(self, name: str) -> bool:
        # as RedisLeases: free, or already this node's (which it is here), and then not extended
        now = time.monotonic()
        if self._held.get(name, 0.0) <= now:
            self._held[name] = now + self.ttl
        return True

    async def renew(self, names: list[str]) -> list[str]:
        now = time.monotonic()
        for name in [n for n, expires in self._held.items() if expires <= now]:
            del self._held[name]          # expired, as the Redis key would be: not renewed
        kept = [n for n in names if n in self._held]
        for name in kept:
            self._held[name] = now + self.ttl
        return kept

    async def release(self, name: str) -> None:
        self._held.pop(name, None)


class LocalFanout:
    node: str | None = None

    def __init__(self, hub: Hub):
        self.hub = hub
        self.connected = asyncio.Event()
        self.connected.set()              # nothing to subscribe to: always up

    async def start(self) -> None:
        self.hub.forward = self.forward

    async def stop(self) -> None:
        self.hub.forward = None

    def forward(self, conversation_id: str, event: dict) -> None:
        """No other node to tell; this node's readers have it from the hub."""
