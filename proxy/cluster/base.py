"""What the rest of the relay needs from a cluster of relay nodes: leases and a fan-out.

Both have two implementations, chosen by the store (``Store.cluster``): in this process for one
node (``local.py``: SQLite), through Redis for several (``redis.py``). The code that takes a lease
or publishes an event is the same with either.

A lease is held by one node for ``ttl`` seconds unless renewed. ``acquire`` is atomic (two nodes
asking at once: one wins); a node that stops renewing (killed, cut off from Redis) loses its leases
when they expire, and another node's periodic scan takes them over. Holding a lease is a promise
that only one node *should* run the job; one job per name within a node is the caller's own
bookkeeping (a task per conversation), and the store's dedupe keys make a brief overlap harmless.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@runtime_checkable
class Leases(Protocol):
    ttl: float
    # other nodes take these leases too: a lease just acquired may have been held by another node
    # since this one last held it, and that node may have died with its job half done
    shared: bool

    async def acquire(self, name: str) -> bool:
        """Take the lease ``name`` unless another node holds it; True when this node holds it now."""

    async def renew(self, names: list[str]) -> list[str]:
        """Extend the leases this node still holds among ``names``; return those (the others were lost)."""

    async def release(self, name: str) -> None: ...


class Fanout(Protocol):
    """Events published on this node's hub, to the other nodes' hubs (and theirs to this one)."""
    node: str | None            # this node's id among several (the value of its leases); None alone
    connected: asyncio.Event    # events from the other nodes reach this one (for /healthz)

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    def forward(self, conversation_id: str, event: dict) -> None:
        """An event published on this node: to the other nodes (the hub calls it)."""


@dataclass
class Cluster:
    fanout: Fanout
    leases: Leases
