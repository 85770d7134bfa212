"""What the Odoo followers need from a cluster: leases.

A lease is held by one node for ``ttl`` seconds unless renewed. ``acquire`` is atomic (two nodes
asking at once: one wins); a node that stops renewing (killed, cut off from Redis) loses its leases
when they expire, and another node's periodic scan takes them over. Holding a lease is a promise
that only one follower *should* run; the store's dedupe keys make a brief overlap harmless.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Leases(Protocol):
    ttl: float

    async def acquire(self, name: str) -> bool:
        """Take the lease ``name`` unless another node holds it; True when this node holds it now."""

    async def renew(self, names: list[str]) -> list[str]:
        """Extend the leases this node still holds among ``names``; return those (the others were lost)."""

    async def release(self, name: str) -> None: ...
