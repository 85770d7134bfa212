"""In-process fan-out of events to the connections of one conversation, and the gap-free cursor.

The hub is fire-and-forget: it hands each published event to every subscription of that
conversation, in a bounded queue. Correctness does not rest on it. ``Cursor`` reads the store
first, then the queue, and goes back to the store whenever it sees a gap (a ``seq`` more than one
ahead) or its queue overflowed; so a reader gets every stored event once, in order, however the
live path behaves, and a slow reader costs bounded memory.

With several relay nodes, ``forward`` (set by app.py) carries each published event to the other
nodes, which hand it to their own subscriptions with ``deliver``; ``resync`` makes every local
reader go back to the store (after the link between nodes was down and messages may be lost).
"""
from __future__ import annotations

import asyncio
import collections
import json
import time
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    from proxy.store.base import Replay, Store

QUEUE_LIMIT = 256
# (event, monotonic time the relay received it or 0.0, its WebSocket frame serialised once or None)
Item = tuple[dict, float, "str | None"]


def event_frame(event: dict) -> str:
    return json.dumps({"type": "event", "event": event}, separators=(",", ":"), ensure_ascii=False)


class Subscription:
    """One reader's queue. Kept small: an idle WebSocket holds one of these, so the list and the
    wake-up future exist only while there is something to hold or someone waiting."""

    __slots__ = ("conversation_id", "_items", "_limit", "_waiter", "overflowed", "direct")

    def __init__(self, conversation_id: str, limit: int = QUEUE_LIMIT):
        self.conversation_id = conversation_id
        self._items: list[Item] | None = None
        self._limit = limit
        self._waiter: asyncio.Future | None = None
        self.overflowed = False
        # Fast path: while the reader is parked in wait() with nothing queued, ``direct(item)`` may
        # deliver the item at once (and answer True); otherwise the item is queued as usual.
        self.direct: Callable[[Item], bool] | None = None

    @property
    def parked(self) -> bool:
        """The reader is waiting on this queue and has nothing pending: it holds no events."""
        return self._waiter is not None and not self._waiter.done() and not self._items and not self.overflowed

    def push(self, item: Item) -> None:
        if self.direct is not None and self.parked and self.direct(item):
            return
        if self._items is None:
            self._items = [item]
        elif len(self._items) >= self._limit:
            self._items = None       # the reader will catch up from the store
            self.overflowed = True
        else:
            self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def stale(self) -> None:
        """Drop what is queued and make the reader read the store again."""
        self._items = None
        self.overflowed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def drain(self) -> list[Item]:
        items, self._items = self._items or [], None
        return items

    async def wait(self, timeout: float | None) -> bool:
        if self._items or self.overflowed:
            return True
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self._waiter, timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            self._waiter = None


class Hub:
    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = collections.defaultdict(set)
        # other nodes: called with every event published here (not with those delivered from there)
        self.forward: Callable[[str, dict], None] | None = None

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
        """An event stored (or a typing event received) on this node: local readers, then other nodes."""
        self.deliver(conversation_id, event, received_at)
        if self.forward is not None:
            self.forward(conversation_id, event)

    def wanted(self, conversation_id: str) -> bool:
        """Someone on this node reads that conversation."""
        return conversation_id in self._subs

    def resync(self) -> None:
        """Every local reader checks the store again (live messages may have been lost)."""
        for sub in list(self.subscriptions()):
            sub.stale()

    def deliver(self, conversation_id: str, event: dict, received_at: float | None = None) -> None:
        subs = self._subs.get(conversation_id)
        if not subs:
            return
        item = (event, time.monotonic() if received_at is None else received_at, event_frame(event))
        for sub in subs:
            sub.push(item)

    def subscriptions(self) -> Iterator[Subscription]:
        for subs in self._subs.values():
            yield from subs


class Cursor:
    """Reads one conversation from ``after`` on: store replay, then live, no gap, no duplicate.

    Subscribe before the first store read, so that nothing published in between is missed; events
    already covered by the read are recognised by their ``seq`` and skipped.
    """

    __slots__ = ("hub", "store", "conversation_id", "last", "sub", "_need_store", "reset", "last_seq", "outbox")

    def __init__(self, hub: Hub, store: "Store", conversation_id: str, after: int):
        self.hub, self.store, self.conversation_id = hub, store, conversation_id
        self.outbox: list[bytes] | None = None   # frames written by a fast path, waiting for their turn
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
        return [(e, 0.0, None) for e in events]

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
            for item in self.sub.drain():
                seq = item[0].get("seq")
                if seq is None:
                    out.append(item)
                elif seq <= self.last:
                    continue
                elif seq == self.last + 1:
                    self.last = seq
                    self.last_seq = max(self.last_seq, seq)
                    out.append(item)
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
