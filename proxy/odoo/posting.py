"""Visitor messages to Odoo: one poster per conversation, under a lease, on one node or many.

A conversation's messages may arrive on different nodes (two tabs, a reconnect), and two nodes
posting at once would break Odoo's order and could post one message twice. So the store is the
queue: the node that stores a message asks for the conversation's ``post:`` lease; the holder
posts every stored visitor message above ``posted_seq``, in order, re-reading the store until none
is left; a node that does not get the lease retries every second until its message is posted (by
the holder, or by itself once the lease is free). The holder renews the lease while it posts (Odoo
may be down for a long time) and stops if it loses it. On one node the leases are in-process
(``cluster/local.py``) and always this node's: the same loop, one task per conversation.

The first message of a run is looked for in Odoo before it is posted (``verify``) when it may have
reached Odoo without the relay recording it: another node may have held the lease since (shared
leases), this node's last run for the conversation stopped half way, or the relay restarted
(``resume``). A periodic scan (every lease ttl) picks up conversations whose messages were stranded
by a dead node.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from proxy import state as st

if TYPE_CHECKING:
    from proxy.cluster.base import Leases
    from proxy.store.base import Conversation, Store

log = logging.getLogger("relay.odoo.posting")


class Posts(Protocol):
    """What the poster needs from the upstream (odoo/upstream.py)."""

    async def unposted(self, conv: Conversation) -> list[dict]: ...

    async def post(self, conv: Conversation, event: dict, verify: bool) -> bool:
        """Post ``event`` exactly once; whether the next one must be verified."""

    async def after_post(self, conv: Conversation, event: dict) -> None: ...

    def forget(self, conversation_id: str) -> None:
        """Nothing is being posted for this conversation now: drop what is kept in memory for it."""


class Poster:
    def __init__(self, upstream: Posts, store: Store, leases: Leases):
        self.upstream, self.store, self.leases = upstream, store, leases
        self.workers: dict[str, asyncio.Task] = {}
        self._again: set[str] = set()    # kicked while its worker was finishing: run once more
        self._unsure: set[str] = set()   # the last post may be in Odoo unrecorded: verify first
        self._scanner: asyncio.Task | None = None

    def start(self) -> None:
        if self._scanner is None:
            self._scanner = asyncio.create_task(self._scan(), name="odoo-posting-scan")

    async def stop(self) -> None:
        tasks = [t for t in (self._scanner, *self.workers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def message_stored(self, conv: Conversation, event: dict) -> None:
        """A visitor message was stored on this node: make sure it is posted, and note it for the
        scan (which finds it should this node die before it is posted)."""
        self.kick(conv.id)
        try:
            await self.store.merge_upstream(conv.id, st.PostingCursor.patch(visitor_seq=event["seq"]))
        except Exception as exc:   # the worker posts it all the same; only the scan would miss it
            log.warning("visitor messages: not noted for the scan", extra={"conversation": conv.id,
                                                                           "reason": repr(exc)[:200]})

    async def resume(self) -> int:
        """After a restart: post every stored visitor message not yet known to be in Odoo, the
        first looked for there first (it may have reached Odoo just before the relay stopped)."""
        queued = 0
        for conv in await self.store.open_bound():
            pending = len(await self.upstream.unposted(conv))
            if pending:
                self._unsure.add(conv.id)
                self.kick(conv.id)
                queued += pending
        if queued:
            log.info("visitor messages resumed", extra={"messages": queued})
        return queued

    def kick(self, conversation_id: str) -> None:
        task = self.workers.get(conversation_id)
        if task is None or task.done():
            self.workers[conversation_id] = asyncio.create_task(self._run(conversation_id),
                                                                name=f"odoo-post-{conversation_id}")
        else:
            self._again.add(conversation_id)

    async def _run(self, conversation_id: str) -> None:
        name, failures = "post:" + conversation_id, 0
        try:
            while True:
                self._again.discard(conversation_id)   # what is stored from now on, this run reads
                try:
                    if await self.leases.acquire(name):
                        try:
                            await self._drain(conversation_id, name)
                        finally:
                            await asyncio.shield(self._release(name))
                        if conversation_id in self._again:
                            continue
                        return
                    conv = await self.store.get_conversation(conversation_id)
                    if conv is None or not await self.upstream.unposted(conv):
                        return                      # the holder posted ours
                    failures = 0
                except asyncio.CancelledError:
                    self._unsure.add(conversation_id)
                    raise
                except Exception as exc:           # the store or Redis away: try again, backing off
                    self._unsure.add(conversation_id)
                    failures += 1
                    log.warning("visitor messages: lease or store unavailable",
                                extra={"conversation": conversation_id, "reason": repr(exc)[:200]})
                await asyncio.sleep(min(5.0, 0.5 * 2 ** failures) if failures else 1.0)
        finally:
            if self.workers.get(conversation_id) is asyncio.current_task():
                del self.workers[conversation_id]
                self.upstream.forget(conversation_id)

    async def _release(self, name: str) -> None:
        try:
            await self.leases.release(name)
        except Exception:   # it expires on its own
            pass

    async def _drain(self, conversation_id: str, name: str) -> None:
        current = asyncio.current_task()
        assert current is not None   # called from the drain task
        renewer = asyncio.create_task(self._renew(name, current))
        try:
            verify = self.leases.shared or conversation_id in self._unsure
            while True:
                conv = await self.store.get_conversation(conversation_id)
                if conv is None or not st.has_state(conv):
                    return
                pending = await self.upstream.unposted(conv)
                if not pending:            # each one posted and recorded
                    self._unsure.discard(conversation_id)
                    return
                for event in pending:
                    self._unsure.add(conversation_id)      # until it is recorded
                    verify = await self.upstream.post(conv, event, verify)
                    self._unsure.discard(conversation_id)
                    await self.upstream.after_post(conv, event)
        finally:
            renewer.cancel()

    async def _renew(self, name: str, poster: asyncio.Task) -> None:
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while True:
            await asyncio.sleep(self.leases.ttl / 3)
            try:
                kept = await self.leases.renew([name])
                renewed = loop.time()
            except Exception:
                kept = [name] if loop.time() - renewed < self.leases.ttl else []
            if not kept:   # another node may be posting now: stop before posting anything twice
                log.warning("visitor messages: lease lost, stopping", extra={"lease": name})
                poster.cancel()
                return

    async def _scan(self) -> None:
        while True:
            await asyncio.sleep(self.leases.ttl)
            try:
                for conv in await self.store.open_bound():
                    cursor = st.posting_of(conv)
                    if cursor.visitor_seq > cursor.posted_seq:
                        self.kick(conv.id)
            except Exception as exc:
                log.warning("visitor messages: scan failed", extra={"reason": repr(exc)[:200]})
