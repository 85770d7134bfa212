"""The one poster of visitor messages (odoo/posting.py), on in-process leases (one node) and on
shared ones, without Odoo: a stand-in upstream records what it is asked to post, a stand-in store
keeps ``posted_seq`` as the real ones do. The end-to-end paths (restart, kill -9, two nodes) are in
test_odoo_bus_faults.py, test_multinode_odoo.py and test_restart.py."""
from __future__ import annotations

import asyncio
import time

from proxy.cluster.local import LocalLeases
from proxy.odoo.posting import Poster
from proxy.store.base import Conversation


class Store:
    def __init__(self) -> None:
        self.convs: dict[str, Conversation] = {}
        self.visitor: dict[str, list[int]] = {}     # conversation → seqs of its visitor messages

    def add(self, cid: str) -> Conversation:
        conv = self.convs[cid] = Conversation(cid, time.time(), time.time(), odoo_channel_id=1,
                                              upstream={"guest_token": "g"})
        self.visitor[cid] = []
        return conv

    def store(self, cid: str) -> dict:
        seq = len(self.visitor[cid]) + 1
        self.visitor[cid].append(seq)
        return {"seq": seq}

    async def get_conversation(self, cid: str) -> Conversation | None:
        conv = self.convs.get(cid)
        return None if conv is None else Conversation(**{**conv.__dict__, "upstream": dict(conv.upstream or {})})

    async def merge_upstream(self, cid: str, changes: dict) -> None:
        assert self.convs[cid].upstream is not None
        self.convs[cid].upstream.update(changes)   # type: ignore[union-attr]

    async def open_bound(self) -> list[Conversation]:
        return [c for c in self.convs.values() if not c.closed]


class Upstream:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.posted: list[tuple[str, int, bool]] = []    # (conversation, seq, verified first)
        self.forgotten: list[str] = []
        self.gate: asyncio.Event | None = None            # set: posting waits for it
        self.fail_once = False

    async def unposted(self, conv: Conversation) -> list[dict]:
        done = int((conv.upstream or {}).get("posted_seq", 0))
        return [{"seq": s} for s in self.store.visitor[conv.id] if s > done]

    async def post(self, conv: Conversation, event: dict, verify: bool) -> bool:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_once:
            self.fail_once = False
            raise RuntimeError("the store failed after the post reached Odoo")
        self.posted.append((conv.id, event["seq"], verify))
        await self.store.merge_upstream(conv.id, {"posted_seq": event["seq"]})
        return False

    async def after_post(self, conv: Conversation, event: dict) -> None:
        pass

    def forget(self, conversation_id: str) -> None:
        self.forgotten.append(conversation_id)


class SharedLeases(LocalLeases):
    shared = True     # as RedisLeases: another node may have held them


async def settled(poster: Poster) -> None:
    for _ in range(200):
        if not poster.workers:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the poster did not finish")


def setup(leases: LocalLeases | None = None) -> tuple[Store, Upstream, Poster]:
    store = Store()
    upstream = Upstream(store)
    return store, upstream, Poster(upstream, store, leases or LocalLeases(ttl=5))  # type: ignore[arg-type]


async def test_one_node_posts_in_order_once_each_without_looking_first_and_forgets():
    store, upstream, poster = setup()
    conv = store.add("c1")
    for _ in range(3):
        await poster.message_stored(conv, store.store("c1"))
    await settled(poster)
    assert upstream.posted == [("c1", 1, False), ("c1", 2, False), ("c1", 3, False)]
    assert store.convs["c1"].upstream["visitor_seq"] == 3          # noted for the scan
    assert poster.workers == {} and upstream.forgotten == ["c1"]   # nothing kept per conversation


async def test_a_message_stored_while_the_worker_finishes_is_posted_by_it():
    store, upstream, poster = setup()
    conv = store.add("c1")
    upstream.gate = asyncio.Event()
    await poster.message_stored(conv, store.store("c1"))
    await asyncio.sleep(0.05)              # the worker is posting seq 1
    worker = poster.workers["c1"]
    upstream.gate.set()
    while upstream.posted == []:
        await asyncio.sleep(0)
    # the worker has read the store and posted what it found; now seq 2 comes while it finishes
    await poster.message_stored(conv, store.store("c1"))
    assert poster.workers.get("c1") is worker
    await settled(poster)
    assert [seq for _, seq, _ in upstream.posted] == [1, 2]


async def test_shared_leases_look_in_odoo_first_at_each_run():
    store, upstream, poster = setup(SharedLeases(ttl=5))
    conv = store.add("c1")
    await poster.message_stored(conv, store.store("c1"))
    await settled(poster)
    await poster.message_stored(conv, store.store("c1"))
    await settled(poster)
    assert upstream.posted == [("c1", 1, True), ("c1", 2, True)]


async def test_resume_looks_first_then_posts_the_rest_as_they_come():
    store, upstream, poster = setup()
    store.add("c1")
    store.store("c1"), store.store("c1")
    store.add("c2")                        # nothing to post
    assert await poster.resume() == 2
    await settled(poster)
    assert upstream.posted == [("c1", 1, True), ("c1", 2, False)]


async def test_a_run_that_stopped_half_way_looks_first_next_time():
    store, upstream, poster = setup()
    conv = store.add("c1")
    upstream.fail_once = True
    await poster.message_stored(conv, store.store("c1"))
    await settled(poster)                   # retried after the failure, looking first
    assert upstream.posted == [("c1", 1, True)]
    await poster.message_stored(conv, store.store("c1"))
    await settled(poster)
    assert upstream.posted[-1] == ("c1", 2, False)


async def test_a_lease_another_node_holds_is_waited_for():
    leases = SharedLeases(ttl=5)
    store, upstream, poster = setup(leases)
    conv = store.add("c1")
    refused = asyncio.Event()

    async def held_elsewhere(name: str) -> bool:
        refused.set()
        return False
    leases.acquire = held_elsewhere         # type: ignore[method-assign]
    await poster.message_stored(conv, store.store("c1"))
    await refused.wait()
    assert upstream.posted == [] and "c1" in poster.workers   # waiting, nothing posted twice
    store.convs["c1"].upstream["posted_seq"] = 1              # the holder posted it
    await asyncio.sleep(1.1)
    assert poster.workers == {} and upstream.posted == []
    await poster.stop()
