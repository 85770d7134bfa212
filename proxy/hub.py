"""In-process fan-out of events to the connections of one conversation, and the gap-free cursor.

The hub is fire-and-forget: it hands each published event to every subscription of that
conversation, in a bounded queue. Correctness does not rest on it. ``Cursor`` reads the store
first, then the queue, and goes back to the store whenever it sees a gap (a ``seq`` more than one
ahead) or its queue overflowed; so a reader gets every stored event once, in order, however the
live path behaves, and a slow reader costs bounded memory.
"""
from __future__ import annotations

import asyncio
import collections
import time
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from proxy.store.base import Replay, Store

QUEUE_LIMIT = 256
Item = tuple[dict, float]   # (event, monotonic time the relay received it)


class Subscription:
    def __init__(self, conversation_id: str, limit: int = QUEUE_LIMIT):
        self.conversation_id = conversation_id
        self._items: collections.deque[Item] = collections.deque()
        self._limit = limit
        self._wake = asyncio.Event()
        self.overflowed = False

    def push(self, item: Item) -> None:
        if len(self._items) >= self._limit:
            self._items.clear()      # the reader will catch up from the store
            self.overflowed = True
        else:
            self._items.append(item)
        self._wake.set()

    def drain(self) -> list[Item]:
        items = list(self._items)
        self._items.clear()
        self._wake.clear()
        return items

    async def wait(self, timeout: float | None) -> bool:
        if self._items or self.overflowed:
            return True
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False


class Hub:
    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = collections.defaultdict(set)

    def subscribe(self, conversation_id: str) -> Subscription:
        sub = Subscription(conversation_id)
        self._subs[conversation_id].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.conversation_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.conversation_id]

    def publish(self, conversation_id: str, event: dict, received_at: float | None = None) -> None:
        item = (event, time.monotonic() if received_at is None else received_at)
        for sub in self._subs.get(conversation_id, ()):
            sub.push(item)

    def subscriptions(self) -> Iterator[Subscription]:
        for subs in self._subs.values():
            yield from subs


class Cursor:
    """Reads one conversation from ``after`` on: store replay, then live, no gap, no duplicate.

    Subscribe before the first store read, so that nothing published in between is missed; events
    already covered by the read are recognised by their ``seq`` and skipped.
    """

    def __init__(self, hub: Hub, store: "Store", conversation_id: str, after: int):
        self.hub, self.store, self.conversation_id = hub, store, conversation_id
        self.last = after
        self.sub = hub.subscribe(conversation_id)
        self._need_store = True
        self.reset = False
        self.last_seq = after

    def close(self) -> None:
        self.hub.unsubscribe(self.sub)

    async def _from_store(self) -> list[Item]:
        replay: Replay = await self.store.events_after(self.conversation_id, self.last)
        self.last_seq = replay.last_seq
        if replay.reset:
            self.reset = True
        events = replay.events
        if events:
            self.last = events[-1]["seq"]
        elif replay.reset:      # asked beyond what exists: follow from the real end
            self.last = replay.last_seq
        # more than one page behind: read again next time instead of waiting
        self._need_store = bool(events) and self.last < replay.last_seq
        return [(e, 0.0) for e in events]

    async def next(self, timeout: float | None) -> list[Item]:
        """Next events (typing included), waiting up to ``timeout`` seconds; [] on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._need_store or self.sub.overflowed:
                self.sub.overflowed = False
                self.sub.drain()
                items = await self._from_store()
                if items:
                    return items
            out: list[Item] = []
            gap = False
            for event, t0 in self.sub.drain():
                seq = event.get("seq")
                if seq is None:
                    out.append((event, t0))
                elif seq <= self.last:
                    continue
                elif seq == self.last + 1:
                    self.last = seq
                    self.last_seq = max(self.last_seq, seq)
                    out.append((event, t0))
                else:   # a gap: the live path is ahead of us, fill it from the store
                    gap = True
                    break
            if gap:
                out.extend(await self._from_store())
            if out:
                return out
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return []
            if not await self.sub.wait(remaining):
                return []
