"""In-process fan-out of events to the connections of one conversation, and the gap-free cursor.

The hub is fire-and-forget: it hands each published event to every subscription of that
conversation, in a bounded queue. Correctness does not rest on it. ``Cursor`` reads the store
first, then the queue, and goes back to the store whenever it sees a gap (a ``seq`` more than one
ahead) or its queue overflowed; so a reader gets every stored event once, in order, however the
live path behaves, and a slow reader costs bounded memory.

With several relay nodes, ``forward`` (set by app.py) carries each published event to the other
nodes, which hand it to their own subscriptions with ``deliver``; ``resync`` makes every local
reader go back to the store (after the link between nodes was down and messages may be lost).

Events published before their commit (``publish_early``, store/base.py): the live path can then
be one event ahead of the store, and the cursor keeps that in mind. Live items are never dropped
for a store read (the store may not have the newest yet); a subscription made while such an
event is out gets it at once; a reader at exactly that seq is not "ahead of the store" (no
reset); and when its commit fails (``settle(…, False)``) every reader of the conversation goes
back to the store, where one that had passed it on gets ``reset``.
"""
from __future__ import annotations

import asyncio
import collections
import json
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

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

    __slots__ = ("conversation_id", "_items", "_limit", "_waiter", "overflowed", "direct", "retracted")

    def __init__(self, conversation_id: str, limit: int = QUEUE_LIMIT):
        self.conversation_id = conversation_id
        self._items: list[Item] | None = None
        self._limit = limit
        self._waiter: asyncio.Future | None = None
        self.overflowed = False
        self.retracted = False       # an event handed out before its commit was not kept
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
            self._items = [item]     # the reader will catch up from the store; the newest item is
            self.overflowed = True   # kept, the store may not have it yet (published before its commit)
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
        except TimeoutError:
            return False
        finally:
            self._waiter = None


class Hub:
    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = collections.defaultdict(set)
        # other nodes: called with every event published here (not with those delivered from there)
        self.forward: Callable[[str, dict], None] | None = None
        self._early: dict[str, Item] = {}   # per conversation, the event out before its commit
        self._settling: dict[str, asyncio.Event] = {}   # set when that event is settled

    def subscribe(self, conversation_id: str) -> Subscription:
        sub = Subscription(conversation_id)
        self._subs[conversation_id].add(sub)
        early = self._early.get(conversation_id)
        if early is not None:        # the store may not have it yet when this reader reads it
            sub.push(early)
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

    def publish_early(self, conversation_id: str, event: dict, received_at: float | None = None) -> None:
        """An event with its seq, not yet durable: out now; ``settle`` follows."""
        item = self.deliver(conversation_id, event, received_at, always=True)
        assert item is not None   # always: an item even with no reader here
        self._early[conversation_id] = item
        if self.forward is not None:
            self.forward(conversation_id, event)

    def settle(self, conversation_id: str, durable: bool) -> None:
        """The commit of the event ``publish_early`` handed out is done (or failed: ``durable`` false)."""
        self._early.pop(conversation_id, None)
        waiting = self._settling.pop(conversation_id, None)
        if waiting is not None:
            waiting.set()
        if not durable:
            for sub in self._subs.get(conversation_id, ()):
                sub.retracted = True
                sub.stale()

    async def settled(self, conversation_id: str, timeout: float = 5.0) -> None:
        """Returns once no event of this conversation is out before its commit (at most ``timeout``
        s): a decision read from the store then sees every event a reader may have been shown (a
        visitor who saw the operator's reply can rate at once)."""
        if conversation_id not in self._early:
            return
        waiting = self._settling.setdefault(conversation_id, asyncio.Event())
        try:
            await asyncio.wait_for(waiting.wait(), timeout)
        except TimeoutError:
            pass

    def early_seq(self, conversation_id: str) -> int | None:
        item = self._early.get(conversation_id)
        return None if item is None else item[0]["seq"]

    def wanted(self, conversation_id: str) -> bool:
        """Someone on this node reads that conversation."""
        return conversation_id in self._subs

    def resync(self) -> None:
        """Every local reader checks the store again (live messages may have been lost)."""
        for sub in list(self.subscriptions()):
            sub.stale()

    def deliver(self, conversation_id: str, event: dict, received_at: float | None = None,
                always: bool = False) -> Item | None:
        subs = self._subs.get(conversation_id)
        if not subs and not always:
            return None
        item = (event, time.monotonic() if received_at is None else received_at, event_frame(event))
        for sub in subs or ():
            sub.push(item)
        return item

    def subscriptions(self) -> Iterator[Subscription]:
        for subs in self._subs.values():
            yield from subs


class Cursor:
    """Reads one conversation from ``after`` on: store replay, then live, no gap, no duplicate.

    Subscribe before the first store read, so that nothing published in between is missed; events
    already covered by the read are recognised by their ``seq`` and skipped.
    """

    __slots__ = ("hub", "store", "conversation_id", "last", "sub", "_need_store", "reset", "last_seq", "durable",
                 "_write")

    def __init__(self, hub: Hub, store: Store, conversation_id: str, after: int):
        self.hub, self.store, self.conversation_id = hub, store, conversation_id
        self._write: Callable[[Item], bool] | None = None   # the fast path's writer (``write_directly``)
        self.last = after
        self.sub = hub.subscribe(conversation_id)
        self._need_store = True
        self.reset = False
        self.last_seq = after
        self.durable = after     # what the store is known to have; live events past it may not be yet

    def close(self) -> None:
        self.hub.unsubscribe(self.sub)
        self.sub.direct = self._write = None

    def take_reset(self) -> bool:
        """Whether the reader must start over (the store has not what it was handed); said once."""
        reset, self.reset = self.reset, False
        return reset

    def write_directly(self, write: Callable[[Item], bool]) -> None:
        """Fast path (api/ws.py): while this reader is parked in ``next`` with nothing queued, a
        live event that comes next in order (or a typing event) goes to ``write`` at once instead
        of the queue; ``write`` answers False when it cannot take it now (the event is then queued
        as usual). The cursor moves past what ``write`` took: ``next`` never returns it again."""
        self._write = write
        self.sub.direct = self._direct

    def _direct(self, item: Item) -> bool:
        seq = item[0].get("seq")
        if seq is not None and seq != self.last + 1:   # a gap or a duplicate: the queue and the store
            return False
        write = self._write
        if write is None or not write(item):
            return False
        if seq is not None:
            self.last = seq
            if seq > self.last_seq:
                self.last_seq = seq
        return True

    async def _from_store(self) -> list[Item]:
        after = min(self.last, self.durable)    # live events past ``durable`` may not be stored yet
        early = self.hub.early_seq(self.conversation_id)   # before the read: it may commit meanwhile
        replay: Replay = await self.store.events_after(self.conversation_id, after)
        more = False
        if replay.reset and after == early == replay.last_seq + 1 and not self.sub.retracted:
            events = []         # exactly at the event out before its commit: not ahead of the store
        elif replay.reset:
            self.reset = True
            events = replay.events
            self.last = events[-1]["seq"] if events else replay.last_seq   # beyond what exists: the real end
            more = bool(events) and self.last < replay.last_seq
        else:
            more = bool(replay.events) and replay.events[-1]["seq"] < replay.last_seq
            events = [e for e in replay.events if e["seq"] > self.last]   # not those passed on live
            if events:
                self.last = events[-1]["seq"]
        self.durable = replay.last_seq
        self.last_seq = max(replay.last_seq, self.last)
        self._need_store = more   # more than one page behind: read again next time instead of waiting
        return [(e, 0.0, None) for e in events]

    def _in_order(self, items: list[Item]) -> tuple[list[Item], list[Item]]:
        """Live items that come next (typing included), and those from a gap on."""
        out: list[Item] = []
        for i, item in enumerate(items):
            seq = item[0].get("seq")
            if seq is None:
                out.append(item)
            elif seq <= self.last:
                continue
            elif seq == self.last + 1:
                self.last = seq
                self.last_seq = max(self.last_seq, seq)
                out.append(item)
            else:
                return out, items[i:]
        return out, []

    async def next(self, timeout: float | None) -> list[Item]:
        """Next events (typing included), waiting up to ``timeout`` seconds; [] on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.sub.retracted and self.last > self.durable:
                self.durable = self.last  # we passed on an event that was not kept: the store says reset
            if self._need_store or self.sub.overflowed:
                self.sub.overflowed = False
                items = await self._from_store()   # live items stay queued (the newest may not be stored yet)
                self.sub.retracted = False
                if items:
                    return items
            out, rest = self._in_order(self.sub.drain())
            if rest:   # a gap: the live path is ahead of us, fill it from the store
                out.extend(await self._from_store())
                out.extend(self._in_order(rest)[0])   # what the store did not have yet
            if out:
                return out
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return []
            if not await self.sub.wait(remaining):
                return []
