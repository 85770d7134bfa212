"""The store contract of proxy/store/base.py, run against every backend in ``BACKENDS``.

Each backend is a factory ``make(tmp_path) -> Store`` that always points at the same data for the
same ``tmp_path``, so a second store from the same factory sees what the first one wrote (the
restart test). SQLite, and Redis (the shared one on 6379, keys under a prefix of their own that is
deleted after the test; skipped without Redis, a failure in CI).

Checked: gapless per-conversation ``seq`` (also under 200 concurrent appends and across a
restart), webhook-id and dedupe-key idempotence, ``events_after`` ordering/filtering/``reset``,
purge, binding, closing, ``meta_setdefault``, and ``StoreError`` for an unknown
conversation with nothing half-written.
"""
from __future__ import annotations

import asyncio
import time
from typing import Callable

import pytest

from proxy.errors import StoreError
from proxy.store.base import Appended, Conversation, Store
from proxy.store.redis import RedisStore
from proxy.store.sqlite import SQLiteStore
from tests import redisproc


def sqlite_store(tmp_path) -> Store:
    return SQLiteStore(str(tmp_path / "s.db"))


def redis_store(tmp_path) -> Store:
    return RedisStore(redisproc.shared_url(_prefix(tmp_path)))


def _prefix(tmp_path) -> str:
    return "t" + format(abs(hash(str(tmp_path))), "x")[:12] + "store"


BACKENDS: list[Callable] = [sqlite_store, redis_store]


@pytest.fixture(params=BACKENDS, ids=lambda make: make.__name__)
def make_store(request, tmp_path):
    if request.param is redis_store:
        redisproc.shared_redis_or_skip()
        redisproc.delete_prefix(_prefix(tmp_path))
        request.addfinalizer(lambda: redisproc.delete_prefix(_prefix(tmp_path)))
    return lambda: request.param(tmp_path)


@pytest.fixture
async def store(make_store):
    s = make_store()
    await s.open()
    yield s
    await s.close()


def conv(cid: str, **kw) -> Conversation:
    now = time.time()
    return Conversation(id=cid, created_at=kw.pop("created_at", now), last_activity=kw.pop("last_activity", now), **kw)


def ev(n: int | str, type_: str = "message") -> dict:
    return {"seq": None, "type": type_, "at": "2026-11-25T20:00:00.000Z", "message": {"id": f"t:{n}", "text": str(n)}}


async def new_conv(store, cid: str = "c1", **kw) -> str:
    await store.create_conversation(conv(cid, **kw))
    return cid


def seqs(events: list[dict]) -> list[int]:
    return [e["seq"] for e in events]


def test_backend_implements_the_protocol(make_store):
    assert isinstance(make_store(), Store)


async def test_ping(store):
    await store.ping()


# ---------------------------------------------------------------- conversations


async def test_create_and_get_conversation(store):
    c = conv("c1", visitor_name="Ann", lang="fr_FR", page_url="https://shop.example/p", livechat_channel_id=2)
    await store.create_conversation(c)
    got = await store.get_conversation("c1")
    assert got == c
    assert got.last_seq == 0 and got.closed is False
    assert await store.get_conversation("nope") is None


async def test_duplicate_conversation_id_is_a_store_error(store):
    await new_conv(store, "c1")
    with pytest.raises(StoreError):
        await store.create_conversation(conv("c1"))


async def test_list_conversations_most_recent_first(store):
    now = time.time()
    for cid in ["old", "new", "mid"]:
        await new_conv(store, cid, last_activity=now + {"old": 0, "new": 2, "mid": 1}[cid])
    assert [c.id for c in await store.list_conversations()] == ["new", "mid", "old"]
    assert [c.id for c in await store.list_conversations(limit=1)] == ["new"]


async def test_bind_and_find_bound(store):
    await new_conv(store, "c1")
    await new_conv(store, "c2")
    assert await store.find_bound("prod", 42) is None
    await store.bind("c1", "prod", 42)
    await store.bind("c2", "prod", 43)
    assert await store.find_bound("prod", 42) == "c1"
    assert await store.find_bound("prod", 43) == "c2"
    assert await store.find_bound("other", 42) is None        # another database, same channel id
    got = await store.get_conversation("c1")
    assert (got.odoo_database, got.odoo_channel_id) == ("prod", 42)


async def test_append_with_closes_closes_the_conversation(store):
    await new_conv(store, "c1")
    await store.append("c1", ev(1))
    assert (await store.get_conversation("c1")).closed is False
    result = await store.append("c1", ev("closed", "closed"), closes=True)
    assert result.created and result.event["seq"] == 2
    assert (await store.get_conversation("c1")).closed is True
    await store.append("c1", ev(3))                      # a later event does not reopen it
    assert (await store.get_conversation("c1")).closed is True


async def test_meta_setdefault_keeps_the_first_value(store):
    assert await store.meta_setdefault("secret", "first") == "first"
    assert await store.meta_setdefault("secret", "second") == "first"
    assert await store.meta_setdefault("other", "x") == "x"


# ---------------------------------------------------------------- append and seq


async def test_append_assigns_gapless_seq(store):
    await new_conv(store, "c1")
    results = [await store.append("c1", ev(i)) for i in range(3)]
    assert all(isinstance(r, Appended) and r.created for r in results)
    assert [r.event["seq"] for r in results] == [1, 2, 3]
    assert results[1].event["message"] == ev(1)["message"]
    assert (await store.get_conversation("c1")).last_seq == 3


async def test_append_does_not_modify_the_callers_event(store):
    await new_conv(store, "c1")
    event = ev(1)
    result = await store.append("c1", event)
    assert event["seq"] is None and result.event["seq"] == 1


async def test_seq_is_per_conversation(store):
    await new_conv(store, "a")
    await new_conv(store, "b")
    got = []
    for cid in ["a", "a", "b", "a", "b", "b", "b"]:
        got.append((cid, (await store.append(cid, ev(cid))).event["seq"]))
    assert got == [("a", 1), ("a", 2), ("b", 1), ("a", 3), ("b", 2), ("b", 3), ("b", 4)]


async def test_append_updates_last_activity(store):
    await new_conv(store, "c1", last_activity=1.0)
    before = time.time()
    await store.append("c1", ev(1))
    assert (await store.get_conversation("c1")).last_activity >= before


async def test_200_concurrent_appends_get_1_to_200(store):
    await new_conv(store, "c1")
    results = await asyncio.gather(*(store.append("c1", ev(i)) for i in range(200)))
    assert sorted(r.event["seq"] for r in results) == list(range(1, 201))
    replay = await store.events_after("c1", 0, limit=1000)
    assert seqs(replay.events) == list(range(1, 201))
    assert replay.last_seq == 200
    # every event is stored under the seq it was answered with
    answered = {r.event["seq"]: r.event["message"]["id"] for r in results}
    assert {e["seq"]: e["message"]["id"] for e in replay.events} == answered


async def test_concurrent_appends_to_two_conversations(store):
    await new_conv(store, "a")
    await new_conv(store, "b")
    await asyncio.gather(*(store.append(cid, ev(i)) for i in range(50) for cid in ("a", "b")))
    for cid in ("a", "b"):
        assert seqs((await store.events_after(cid, 0)).events) == list(range(1, 51))


async def test_append_to_unknown_conversation_is_store_error(store):
    with pytest.raises(StoreError):
        await store.append("ghost", ev(1))


async def test_failed_append_writes_nothing(store):
    with pytest.raises(StoreError):
        await store.append("ghost", ev(1), webhook_id="wh-ghost", dedupe_key="msg:odoo:1")
    # the webhook id was not remembered: the sender's retry can still be stored
    await new_conv(store, "c1")
    assert (await store.append("c1", ev(1), webhook_id="wh-ghost")).created
    assert await store.get_conversation("ghost") is None


# ---------------------------------------------------------------- idempotence


async def test_repeated_webhook_id_stores_nothing(store):
    await new_conv(store, "c1")
    first = await store.append("c1", ev(1), webhook_id="wh-1")
    second = await store.append("c1", ev(2), webhook_id="wh-1")
    assert first.created and first.event["seq"] == 1
    assert second == Appended(None, False)
    replay = await store.events_after("c1", 0)
    assert seqs(replay.events) == [1] and replay.last_seq == 1


async def test_webhook_ids_are_global(store):
    await new_conv(store, "a")
    await new_conv(store, "b")
    await store.append("a", ev(1), webhook_id="wh-1")
    assert await store.append("b", ev(1), webhook_id="wh-1") == Appended(None, False)
    assert (await store.events_after("b", 0)).events == []


async def test_repeated_dedupe_key_returns_the_first_event(store):
    await new_conv(store, "c1")
    first = await store.append("c1", ev("first"), dedupe_key="msg:odoo:1")
    await store.append("c1", ev("between"))
    again = await store.append("c1", ev("second"), dedupe_key="msg:odoo:1", webhook_id="wh-new")
    assert again.created is False
    assert again.event == first.event
    assert again.event["message"]["text"] == "first"
    assert seqs((await store.events_after("c1", 0)).events) == [1, 2]
    assert await store.find_event("c1", "msg:odoo:1") == first.event
    assert await store.find_event("c1", "msg:odoo:2") is None


async def test_dedupe_key_is_per_conversation(store):
    await new_conv(store, "a")
    await new_conv(store, "b")
    await store.append("a", ev(1), dedupe_key="k")
    other = await store.append("b", ev(1), dedupe_key="k")
    assert other.created and other.event["seq"] == 1
    assert (await store.find_event("b", "k"))["seq"] == 1


async def test_concurrent_duplicates_store_once(store):
    await new_conv(store, "c1")
    results = await asyncio.gather(*(store.append("c1", ev(i), dedupe_key="same", webhook_id=f"w{i % 3}")
                                     for i in range(30)))
    assert sum(r.created for r in results) == 1
    assert seqs((await store.events_after("c1", 0)).events) == [1]


async def test_webhook_ids_are_shared_by_append_and_append_bound(store):
    await new_conv(store, "c1")
    await store.bind("c1", "prod", 7)
    assert (await store.append("c1", ev(1), webhook_id="wh-1")).created
    assert await store.append_bound("prod", 7, ev(2), webhook_id="wh-1") == ("c1", Appended(None, False))
    assert (await store.append_bound("prod", 7, ev(3), webhook_id="wh-2"))[1].created
    assert await store.append("c1", ev(4), webhook_id="wh-2") == Appended(None, False)
    assert seqs((await store.events_after("c1", 0)).events) == [1, 2]


# ---------------------------------------------------------------- events_after


async def test_events_after_order_and_filter(store):
    await new_conv(store, "c1")
    for i in range(5):
        await store.append("c1", ev(i))
    replay = await store.events_after("c1", 0)
    assert seqs(replay.events) == [1, 2, 3, 4, 5]
    assert [e["message"]["text"] for e in replay.events] == ["0", "1", "2", "3", "4"]
    assert (replay.last_seq, replay.reset) == (5, False)
    replay = await store.events_after("c1", 3)
    assert seqs(replay.events) == [4, 5] and replay.reset is False
    replay = await store.events_after("c1", 5)
    assert replay.events == [] and replay.last_seq == 5 and replay.reset is False


async def test_events_after_limit(store):
    await new_conv(store, "c1")
    for i in range(10):
        await store.append("c1", ev(i))
    replay = await store.events_after("c1", 2, limit=3)
    assert seqs(replay.events) == [3, 4, 5]
    assert replay.last_seq == 10 and replay.reset is False


async def test_events_after_of_empty_conversation(store):
    await new_conv(store, "c1")
    replay = await store.events_after("c1", 0)
    assert (replay.events, replay.last_seq, replay.reset) == ([], 0, False)


async def test_after_beyond_last_seq_is_reset_with_everything_kept(store):
    await new_conv(store, "c1")
    for i in range(3):
        await store.append("c1", ev(i))
    replay = await store.events_after("c1", 7)
    assert replay.reset is True
    assert seqs(replay.events) == [1, 2, 3] and replay.last_seq == 3


async def test_reset_after_purge_removed_early_events(store):
    await new_conv(store, "c1")
    for i in range(3):
        await store.append("c1", ev(i))
    await asyncio.sleep(0.02)
    cutoff = time.time()
    await asyncio.sleep(0.02)
    await store.append("c1", ev(3))            # keeps the conversation active past the cutoff
    counts = await store.purge(events_before=cutoff, webhooks_before=0)
    assert counts["events"] == 3 and counts["conversations"] == 0
    assert await store.get_conversation("c1") is not None

    replay = await store.events_after("c1", 0)
    assert replay.reset is True                # events 1..3 were asked for and are gone
    assert seqs(replay.events) == [4] and replay.last_seq == 4
    assert (await store.events_after("c1", 1)).reset is True
    replay = await store.events_after("c1", 3)
    assert replay.reset is False and seqs(replay.events) == [4]
    replay = await store.events_after("c1", 4)
    assert replay.reset is False and replay.events == []


async def test_seq_not_reused_after_purge(store):
    await new_conv(store, "c1")
    await store.append("c1", ev(1))
    await asyncio.sleep(0.02)
    cutoff = time.time()
    await asyncio.sleep(0.02)
    await store.append("c1", ev(2))
    await store.purge(events_before=cutoff, webhooks_before=0)
    assert (await store.append("c1", ev(3))).event["seq"] == 3


# ---------------------------------------------------------------- purge


async def test_purge_removes_idle_conversations_with_their_events(store):
    await new_conv(store, "idle")
    await store.append("idle", ev(1))
    await asyncio.sleep(0.02)
    cutoff = time.time()
    await asyncio.sleep(0.02)
    await new_conv(store, "active")
    await store.append("active", ev(1))

    counts = await store.purge(events_before=cutoff, webhooks_before=0)
    assert counts["conversations"] == 1
    assert await store.get_conversation("idle") is None
    assert (await store.events_after("idle", 0)).events == []
    assert await store.get_conversation("active") is not None
    assert seqs((await store.events_after("active", 0)).events) == [1]


async def test_purge_everything_older_than_the_future(store):
    await new_conv(store, "c1")
    await store.append("c1", ev(1), webhook_id="wh-1")
    counts = await store.purge(events_before=time.time() + 1, webhooks_before=0)
    assert counts["conversations"] == 1
    assert await store.get_conversation("c1") is None
    assert await store.list_conversations() == []
    await new_conv(store, "c2")                              # webhook ids have their own cutoff
    assert await store.append("c2", ev(2), webhook_id="wh-1") == Appended(None, False)


async def test_purge_forgets_old_webhook_ids(store):
    await new_conv(store, "c1")
    assert (await store.append("c1", ev(1), webhook_id="wh-old")).created
    await asyncio.sleep(0.02)
    cutoff = time.time()
    await asyncio.sleep(0.02)
    assert (await store.append("c1", ev(2), webhook_id="wh-new")).created
    counts = await store.purge(events_before=0, webhooks_before=cutoff)
    assert counts["webhook_ids"] == 1
    assert (await store.append("c1", ev(3), webhook_id="wh-old")).created                # forgotten
    assert await store.append("c1", ev(4), webhook_id="wh-new") == Appended(None, False)  # kept


async def test_purge_with_nothing_old_keeps_everything(store):
    await new_conv(store, "c1")
    await store.append("c1", ev(1), webhook_id="wh-1")
    assert await store.purge(events_before=0, webhooks_before=0) == {"conversations": 0, "events": 0, "webhook_ids": 0}
    assert seqs((await store.events_after("c1", 0)).events) == [1]


# ---------------------------------------------------------------- persistence


async def test_data_survives_a_restart(make_store):
    first = make_store()
    await first.open()
    await first.create_conversation(conv("c1", visitor_name="Ann"))
    await first.bind("c1", "prod", 42)
    for i in range(3):
        await first.append("c1", ev(i), webhook_id=f"wh-{i}", dedupe_key=f"k{i}")
    await first.meta_setdefault("secret", "kept")
    await first.close()

    second = make_store()
    await second.open()
    try:
        assert (await second.append("c1", ev(3))).event["seq"] == 4
        replay = await second.events_after("c1", 0)
        assert seqs(replay.events) == [1, 2, 3, 4] and replay.last_seq == 4
        assert await second.find_bound("prod", 42) == "c1"
        assert (await second.get_conversation("c1")).visitor_name == "Ann"
        assert await second.append("c1", ev(9), webhook_id="wh-0") == Appended(None, False)
        assert (await second.append("c1", ev(9), dedupe_key="k1")).event["seq"] == 2
        assert await second.meta_setdefault("secret", "new") == "kept"
    finally:
        await second.close()



async def test_append_bound_finds_the_conversation_in_the_same_transaction(store):
    await new_conv(store, "c1")
    await store.bind("c1", "prod", 42)
    cid, result = await store.append_bound("prod", 42, ev(1), dedupe_key="msg:odoo:1", webhook_id="w1")
    assert cid == "c1" and result.created and result.event["seq"] == 1
    again = await store.append_bound("prod", 42, ev(1), dedupe_key="msg:odoo:1", webhook_id="w2")
    assert again[0] == "c1" and not again[1].created and again[1].event["seq"] == 1
    nobody = await store.append_bound("prod", 43, ev(2), webhook_id="w3")
    assert nobody[0] is None and nobody[1].event is None and not nobody[1].created
    assert seqs((await store.events_after("c1", 0)).events) == [1]


async def test_concurrent_writes_fail_alone(store):
    """Writes that land in one group commit: a failing one changes nothing, the others are kept."""
    await new_conv(store, "c1")
    results = await asyncio.gather(
        store.append("c1", ev(1)), store.append("ghost", ev(2)), store.append("c1", ev(3)),
        return_exceptions=True)
    assert isinstance(results[1], StoreError)
    assert [r.event["seq"] for r in (results[0], results[2])] == [1, 2]
    assert seqs((await store.events_after("c1", 0)).events) == [1, 2]
    assert await store.get_conversation("ghost") is None


async def test_open_unbound_lists_open_conversations_not_yet_bound(store):
    await new_conv(store, "c1")
    await new_conv(store, "c2")
    await new_conv(store, "c3")
    await store.create_conversation(conv("c4", odoo_database="prod", odoo_channel_id=9))
    await store.bind("c2", "prod", 2)
    await store.append("c3", ev(1, "closed"), closes=True)
    assert [c.id for c in await store.open_unbound()] == ["c1"]
    await store.append("c1", ev(1, "closed"), closes=True)
    assert await store.open_unbound() == []


async def test_upstream_data_and_open_bound(store):
    await store.create_conversation(conv("c1", upstream={"guest_token": "1|abc"}))
    await new_conv(store, "c2")
    await new_conv(store, "c3")
    await store.bind("c1", "prod", 1)
    await store.bind("c2", "prod", 2)
    await store.append("c2", ev(1, "closed"), closes=True)
    assert (await store.get_conversation("c1")).upstream == {"guest_token": "1|abc"}
    await store.merge_upstream("c1", {"bus_last": 42})
    await store.merge_upstream("c1", {"sent": {"a": 7}, "posted_seq": 3})
    await asyncio.gather(store.merge_upstream("c1", {"poll_last": 9}), store.merge_upstream("c1", {"sent": {"b": 8}}))
    assert (await store.get_conversation("c1")).upstream == {
        "guest_token": "1|abc", "bus_last": 42, "poll_last": 9, "posted_seq": 3, "sent": {"a": 7, "b": 8}}
    await store.merge_upstream("c1", {"bus_last": None})          # None deletes
    assert "bus_last" not in (await store.get_conversation("c1")).upstream
    await store.merge_upstream("c3", {"bus_last": 1})              # a conversation with no upstream data yet
    assert (await store.get_conversation("c3")).upstream == {"bus_last": 1}
    assert [c.id for c in await store.open_bound()] == ["c1"]


async def test_a_value_the_backend_cannot_take_fails_alone(store):
    """A write with an out-of-range integer either works or is a StoreError; the store keeps working
    (found by the fuzz test: SQLite's writer was left inside a transaction)."""
    try:
        await store.create_conversation(conv("huge", livechat_channel_id=2 ** 70))
    except StoreError:
        pass
    await new_conv(store, "c1")
    assert (await store.append("c1", ev(1))).event["seq"] == 1


async def test_open_bound_and_unbound_most_recent_first_with_limit(store):
    for i, cid in enumerate(["u1", "u2", "u3"]):
        await store.create_conversation(conv(cid, last_activity=100.0 + i))
    for i, cid in enumerate(["b1", "b2", "b3"]):
        await store.create_conversation(conv(cid, last_activity=200.0 - i, odoo_database="prod", odoo_channel_id=i + 1))
    await store.create_conversation(conv("t2", last_activity=101.0))          # a tie with u2: by id
    await store.append("u1", ev(1))                                            # most recent now
    assert [c.id for c in await store.open_unbound()] == ["u1", "u3", "t2", "u2"]
    assert [c.id for c in await store.open_unbound(limit=2)] == ["u1", "u3"]
    assert [c.id for c in await store.open_bound()] == ["b1", "b2", "b3"]
    assert [c.id for c in await store.open_bound(limit=1)] == ["b1"]
