"""proxy.hub: Hub fan-out and the gap-free Cursor, with a real SQLiteStore.

The cursor must hand every stored event exactly once and in order, whatever the live path does:
replay then live, duplicates from the live path skipped, gaps filled from the store, a queue
overflow recovered from the store, typing (seq None) passed through, and ``next(timeout)``
answering [] when nothing comes.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from proxy.hub import QUEUE_LIMIT, Cursor, Hub, Subscription
from proxy.store.base import Conversation
from proxy.store.sqlite import SQLiteStore

CID = "c1"


@pytest.fixture
async def store(tmp_path):
    s = SQLiteStore(str(tmp_path / "hub.db"))
    await s.open()
    now = time.time()
    await s.create_conversation(Conversation(id=CID, created_at=now, last_activity=now))
    yield s
    await s.close()


@pytest.fixture
def hub():
    return Hub()


def ev(text: str) -> dict:
    return {"seq": None, "type": "message", "at": "2026-11-25T20:00:00.000Z", "message": {"text": text}}


def typing(on: bool = True) -> dict:
    return {"seq": None, "type": "typing", "at": "2026-11-25T20:00:00.000Z", "typing": on}


async def store_only(store, n: int, start: int = 0) -> list[dict]:
    """Append ``n`` events without publishing them (the live path lost them)."""
    return [(await store.append(CID, ev(f"m{start + i}"))).event for i in range(n)]


async def append_and_publish(store, hub, text: str) -> dict:
    event = (await store.append(CID, ev(text))).event
    hub.publish(CID, event)
    return event


def seqs(items) -> list:
    return [event["seq"] for event, *_ in items]


async def read_until(cursor: Cursor, last: int, timeout: float = 2.0) -> list:
    """Everything the cursor hands out until it reaches ``last``."""
    got: list = []
    deadline = time.monotonic() + timeout
    while not got or got[-1] != last:
        assert time.monotonic() < deadline, f"stuck at {got[-5:]}"
        got.extend(seqs(await cursor.next(timeout=0.2)))
    return got


# ---------------------------------------------------------------- hub


def test_publish_reaches_every_subscription_of_that_conversation_only(hub):
    a, b, other = hub.subscribe(CID), hub.subscribe(CID), hub.subscribe("c2")
    hub.publish(CID, {"seq": 1}, received_at=5.0)
    frame = '{"type":"event","event":{"seq":1}}'     # serialised once, shared by every subscription
    assert a.drain() == [({"seq": 1}, 5.0, frame)]
    assert b.drain() == [({"seq": 1}, 5.0, frame)]
    assert other.drain() == []
    hub.unsubscribe(a)
    hub.publish(CID, {"seq": 2})
    assert a.drain() == [] and len(b.drain()) == 1
    hub.unsubscribe(b)
    hub.unsubscribe(other)
    assert list(hub.subscriptions()) == []


def test_subscription_overflow_sets_flag_and_stays_bounded():
    sub = Subscription(CID, limit=4)
    for i in range(10):
        sub.push(({"seq": i}, 0.0, None))
        assert len(sub._items or []) <= 4
    assert sub.overflowed is True


# ---------------------------------------------------------------- cursor


async def test_replay_then_live(store, hub):
    await store_only(store, 3)
    cursor = Cursor(hub, store, CID, after=0)
    try:
        items = await cursor.next(timeout=1)
        assert seqs(items) == [1, 2, 3]
        assert [e["message"]["text"] for e, *_ in items] == ["m0", "m1", "m2"]
        await append_and_publish(store, hub, "live")
        items = await cursor.next(timeout=1)
        assert seqs(items) == [4] and items[0][0]["message"]["text"] == "live"
        assert cursor.last == 4 and cursor.last_seq == 4 and cursor.reset is False
    finally:
        cursor.close()


async def test_replay_starts_after(store, hub):
    await store_only(store, 5)
    cursor = Cursor(hub, store, CID, after=3)
    try:
        assert seqs(await cursor.next(timeout=1)) == [4, 5]
    finally:
        cursor.close()


async def test_live_event_wakes_a_waiting_reader(store, hub):
    cursor = Cursor(hub, store, CID, after=0)
    try:
        assert await cursor.next(timeout=0.05) == []
        reader = asyncio.create_task(cursor.next(timeout=5))
        await asyncio.sleep(0.05)
        assert not reader.done()
        await append_and_publish(store, hub, "hello")
        assert seqs(await asyncio.wait_for(reader, 2)) == [1]
    finally:
        cursor.close()


async def test_already_replayed_events_published_again_are_skipped(store, hub):
    cursor = Cursor(hub, store, CID, after=0)     # subscribed before the store read
    try:
        published = [await append_and_publish(store, hub, f"m{i}") for i in range(3)]
        assert seqs(await cursor.next(timeout=1)) == [1, 2, 3]    # from the store
        # the live path delivers them late (and twice): all already covered by the replay
        for event in published + published[1:2]:
            hub.publish(CID, event)
        assert await cursor.next(timeout=0.1) == []
        await append_and_publish(store, hub, "m3")
        assert seqs(await cursor.next(timeout=1)) == [4]
    finally:
        cursor.close()


async def test_gap_is_filled_from_the_store_in_order(store, hub):
    await store_only(store, 3)
    cursor = Cursor(hub, store, CID, after=0)
    try:
        assert seqs(await cursor.next(timeout=1)) == [1, 2, 3]
        await store_only(store, 1, start=3)                   # seq 4: stored, never published
        five = await append_and_publish(store, hub, "m4")      # seq 5: published
        assert five["seq"] == 5
        items = await cursor.next(timeout=1)
        assert seqs(items) == [4, 5]
        assert [e["message"]["text"] for e, *_ in items] == ["m3", "m4"]
        assert cursor.last == 5
        hub.publish(CID, five)                                 # and 5 again: skipped
        assert await cursor.next(timeout=0.1) == []
    finally:
        cursor.close()


async def test_gap_after_in_order_events_in_the_same_batch(store, hub):
    cursor = Cursor(hub, store, CID, after=0)
    try:
        assert await cursor.next(timeout=0.01) == []
        await append_and_publish(store, hub, "m0")            # 1 live
        await store_only(store, 2, start=1)                    # 2, 3 lost
        await append_and_publish(store, hub, "m3")             # 4 live
        assert await read_until(cursor, 4) == [1, 2, 3, 4]
    finally:
        cursor.close()


async def test_queue_overflow_recovered_from_the_store(store, hub):
    cursor = Cursor(hub, store, CID, after=0)
    try:
        assert await cursor.next(timeout=0.01) == []
        total = QUEUE_LIMIT * 2 + 600                          # overflow twice, and more than one store page
        for i in range(total):
            await append_and_publish(store, hub, f"m{i}")
        assert cursor.sub.overflowed is True
        assert len(cursor.sub._items) <= QUEUE_LIMIT
        got = await read_until(cursor, total, timeout=10)
        assert got == list(range(1, total + 1))                 # each exactly once, in order
        await append_and_publish(store, hub, "after")
        assert seqs(await cursor.next(timeout=1)) == [total + 1]
    finally:
        cursor.close()


async def test_typing_passes_through(store, hub):
    cursor = Cursor(hub, store, CID, after=0)
    try:
        assert await cursor.next(timeout=0.01) == []
        on = typing(True)
        hub.publish(CID, on, received_at=1.5)
        items = await cursor.next(timeout=1)
        assert [item[:2] for item in items] == [(on, 1.5)]
        await append_and_publish(store, hub, "m0")
        hub.publish(CID, typing(False))
        items = await cursor.next(timeout=1)
        assert [(e["type"], e["seq"]) for e, *_ in items] == [("message", 1), ("typing", None)]
        assert cursor.last == 1
        assert (await store.events_after(CID, 0)).last_seq == 1     # typing never stored
    finally:
        cursor.close()


async def test_next_times_out_with_empty_list(store, hub):
    cursor = Cursor(hub, store, CID, after=0)
    try:
        assert await cursor.next(timeout=0.01) == []
        start = time.monotonic()
        assert await cursor.next(timeout=0.3) == []
        elapsed = time.monotonic() - start
        assert 0.25 <= elapsed < 1.5
        hub.publish("c2", typing())            # another conversation does not wake us
        assert await cursor.next(timeout=0.05) == []
    finally:
        cursor.close()


async def test_after_beyond_last_seq_resets(store, hub):
    await store_only(store, 3)
    cursor = Cursor(hub, store, CID, after=10)
    try:
        assert seqs(await cursor.next(timeout=1)) == [1, 2, 3]
        assert cursor.reset is True and cursor.last == 3
        await append_and_publish(store, hub, "m3")
        assert seqs(await cursor.next(timeout=1)) == [4]
    finally:
        cursor.close()


async def test_after_beyond_last_seq_of_an_empty_conversation_still_gets_live_events(store, hub):
    cursor = Cursor(hub, store, CID, after=5)
    try:
        assert await cursor.next(timeout=0.05) == []
        assert cursor.reset is True
        await append_and_publish(store, hub, "first")
        assert seqs(await cursor.next(timeout=0.5)) == [1]
    finally:
        cursor.close()


async def test_close_unsubscribes(store, hub):
    cursor = Cursor(hub, store, CID, after=0)
    cursor.close()
    assert list(hub.subscriptions()) == []


async def test_direct_delivery_only_while_the_reader_is_parked(store, hub):
    cursor = Cursor(hub, store, CID, after=0)
    delivered: list = []

    def direct(item) -> bool:
        delivered.append(item[0]["seq"])
        return True

    cursor.write_directly(direct)
    try:
        await append_and_publish(store, hub, "m0")          # reader not parked: queued
        assert delivered == [] and seqs(await cursor.next(timeout=1)) == [1]
        waiting = asyncio.ensure_future(cursor.next(timeout=1))
        await asyncio.sleep(0.05)                             # now parked in wait()
        assert cursor.sub.parked
        await append_and_publish(store, hub, "m1")
        assert delivered == [2]                               # written at once, not queued
        assert (cursor.last, cursor.last_seq) == (2, 2)       # the cursor moved past it
        assert await waiting == []                            # the pump gets nothing twice
        ev3 = {"seq": 4, "type": "message"}                   # a gap: never delivered directly
        waiting = asyncio.ensure_future(cursor.next(timeout=0.5))
        await asyncio.sleep(0.05)
        hub.publish(CID, ev3)
        assert delivered == [2]
        await waiting
    finally:
        cursor.close()


async def test_a_direct_write_refused_leaves_the_event_to_the_queue(store, hub):
    """The fast path's writer may refuse (a slow or closing socket): the cursor does not move
    and ``next`` returns the event; a typing event (no seq) goes direct without moving it."""
    cursor = Cursor(hub, store, CID, after=0)
    offered: list = []

    def refuse(item) -> bool:
        offered.append(item[0].get("seq"))
        return False

    cursor.write_directly(refuse)
    try:
        waiting = asyncio.ensure_future(cursor.next(timeout=1))
        await asyncio.sleep(0.05)
        await append_and_publish(store, hub, "m0")
        assert offered == [1] and cursor.last == 0
        assert seqs(await waiting) == [1] and cursor.last == 1
        took: list = []
        cursor.write_directly(lambda item: took.append(item[0]["type"]) or True)
        waiting = asyncio.ensure_future(cursor.next(timeout=0.3))
        await asyncio.sleep(0.05)
        hub.publish(CID, typing())
        assert took == ["typing"] and cursor.last == 1
        assert await waiting == []
    finally:
        cursor.close()
    assert cursor.sub.direct is None                          # closed: nothing writes any more


async def test_take_reset_says_it_once(store, hub):
    await store_only(store, 2)
    cursor = Cursor(hub, store, CID, after=9)                 # ahead of the store
    try:
        await cursor.next(timeout=0)
        assert cursor.take_reset() is True and cursor.take_reset() is False
    finally:
        cursor.close()


# ---------------------------------------------------------------- several nodes


async def test_forward_gets_what_is_published_not_what_is_delivered(hub):
    forwarded = []
    hub.forward = lambda cid, event: forwarded.append((cid, event["message"]["text"]))
    hub.publish(CID, {**ev("here"), "seq": 1})
    hub.deliver(CID, {**ev("from another node"), "seq": 2})
    assert forwarded == [(CID, "here")]


async def test_resync_wakes_a_waiting_reader_which_reads_the_store(store, hub):
    """Messages between nodes were lost (the pub/sub link was down): resync makes every reader go
    back to the store, so a long poll waiting for nothing gets what another node stored."""
    cursor = Cursor(hub, store, CID, 0)
    try:
        assert await cursor.next(0) == []
        waiting = asyncio.ensure_future(cursor.next(5))
        await asyncio.sleep(0.05)
        await store_only(store, 2)                 # stored by another node; its message never came
        assert not waiting.done()
        hub.resync()
        assert seqs(await asyncio.wait_for(waiting, 1)) == [1, 2]
    finally:
        cursor.close()
    assert not hub.wanted(CID)
