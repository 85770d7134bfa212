"""Odoo bus followers with several relay nodes: one follower per conversation, on the node holding
its lease in Redis; after that node is killed with SIGKILL another node takes the lease and the
operator's replies keep arriving. Odoo is the loopback stand-in of test_odoo_bus_faults.py (fault
injection: here, a dying relay node)."""
from __future__ import annotations

import asyncio

import pytest
import redis

from tests import redisproc
from tests.redisproc import prefix  # noqa: F401  (fixture)
from tests.conftest import Client
from tests.proxy.test_odoo_bus_faults import POLL_INTERVAL, FakeOdoo, message_ids, wait_for_message
from tests.proxy.test_odoo_bus_faults import http, odoo  # noqa: F401  (fixtures)
from tests.relayproc import RelayProcess

pytestmark = pytest.mark.slow
LEASE_TTL = 2.0


def lease_holder_pid(prefix: str, conversation_id: str) -> int | None:
    r = redis.Redis(port=redisproc.SHARED_PORT, decode_responses=True)
    try:
        value = r.get(f"{prefix}:lease:{conversation_id}")
    finally:
        r.close()
    return int(value.split(":")[1]) if value else None


async def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.05)


async def test_follower_moves_to_a_live_node_after_kill_9(tmp_path, odoo: FakeOdoo, http, prefix):
    odoo.poll_shows_operator = False                  # replies come by the bus only
    nodes = [RelayProcess(tmp_path / f"n{i}", env={
        "RELAY_STORE": redisproc.shared_url(prefix), "RELAY_ODOO_URL": odoo.url,
        "RELAY_ODOO_LIVECHAT_CHANNEL_ID": "1", "RELAY_ODOO_REPLIES": "bus",
        "RELAY_ODOO_POLL_INTERVAL": str(POLL_INTERVAL), "RELAY_LEASE_TTL": str(LEASE_TTL),
        "RELAY_LOG_LEVEL": "info"}) for i in range(2)]
    for node in nodes:
        node.workdir.mkdir()
        await asyncio.to_thread(node.start)
    a, b = nodes
    try:
        conv = await Client(a, http).create()
        cid = conv["conversation_id"]
        await wait_until(lambda: len(odoo.subscribes) == 1, 5, "node A never subscribed to the bus")
        assert lease_holder_pid(prefix, cid) == a.proc.pid
        await asyncio.sleep(LEASE_TTL * 2)           # several renewals and scans: B stays out
        assert len(odoo.subscribes) == 1 and len(odoo.live) == 1, "two followers for one conversation"
        first = await odoo.operator_reply("while A follows")
        await wait_for_message(Client(b, http), conv, odoo, first, timeout=5)

        await asyncio.to_thread(a.kill)
        await wait_until(lambda: len(odoo.subscribes) == 2, LEASE_TTL * 4, "no node took the follower over")
        assert lease_holder_pid(prefix, cid) == b.proc.pid
        await asyncio.sleep(0.3)
        second = await odoo.operator_reply("after A died")
        events = await wait_for_message(Client(b, http), conv, odoo, second, timeout=5)
        assert message_ids(events) == [f"odoo:{first}", f"odoo:{second}"]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    finally:
        for node in nodes:
            await asyncio.to_thread(node.stop)


def odoo_nodes(tmp_path, odoo: FakeOdoo, prefix: str, count: int) -> list[RelayProcess]:
    return [RelayProcess(tmp_path / f"n{i}", env={
        "RELAY_STORE": redisproc.shared_url(prefix), "RELAY_ODOO_URL": odoo.url,
        "RELAY_ODOO_LIVECHAT_CHANNEL_ID": "1", "RELAY_ODOO_REPLIES": "poll",
        "RELAY_ODOO_POLL_INTERVAL": str(POLL_INTERVAL), "RELAY_LEASE_TTL": str(LEASE_TTL),
        "RELAY_LOG_LEVEL": "info"}) for i in range(count)]


async def test_visitor_messages_sent_through_two_nodes_reach_odoo_once_in_order(tmp_path, odoo: FakeOdoo, http,
                                                                               prefix):
    """Odoo down while the visitor writes through node A, then B, then A; A is killed; Odoo comes
    back: B posts all three, in order, once (A's lease on the conversation's posting expires)."""
    nodes = odoo_nodes(tmp_path, odoo, prefix, 2)
    for node in nodes:
        node.workdir.mkdir()
        await asyncio.to_thread(node.start)
    a, b = nodes
    try:
        conv = await Client(a, http).create()
        for i in range(4):                               # Odoo up: alternating nodes, in order, once
            status, body, _ = await Client(nodes[i % 2], http).send(conv, f"up{i}", f"up {i}")
            assert status == 201, body
        await wait_until(lambda: len(odoo.visitor_texts()) == 4, 10, f"posted: {odoo.visitor_texts()}")
        odoo.post_down = True
        for i, node in enumerate((a, b, a)):
            status, body, _ = await Client(node, http).send(conv, f"m{i}", f"m {i}")
            assert status == 201, body
        await asyncio.sleep(1.0)
        await asyncio.to_thread(a.kill)
        odoo.post_down = False
        want = [f"<p>up {i}</p>" for i in range(4)] + [f"<p>m {i}</p>" for i in range(3)]
        await wait_until(lambda: len(odoo.visitor_texts()) >= 7, LEASE_TTL * 6,
                         f"posted: {odoo.visitor_texts()}\n{b.logs()[-3000:]}")
        await asyncio.sleep(LEASE_TTL)                   # nothing more comes (no second post)
        assert odoo.visitor_texts() == want
    finally:
        for node in nodes:
            await asyncio.to_thread(node.stop)


async def test_a_bot_transcript_handed_off_through_another_node_is_posted_once(tmp_path, odoo: FakeOdoo, http,
                                                                               prefix):
    """Two nodes with a bot: the visitor talks to the bot through A, asks for a person through B; the
    bot part reaches Odoo once, as one guest message, before the visitor's next words."""
    from tests.botserver import BOT_SECRET, BotServer
    bot = await BotServer().start()
    nodes = odoo_nodes(tmp_path, odoo, prefix, 2)
    for node in nodes:
        node.env.update(RELAY_BOT_URL=bot.url, RELAY_BOT_SECRET=BOT_SECRET)
        node.workdir.mkdir()
        await asyncio.to_thread(node.start)
    a, b = nodes
    try:
        conv = await Client(a, http).create()
        assert (await Client(a, http).send(conv, "c1", "where is my order?"))[0] == 201
        await wait_until(lambda: len(bot.requests) == 1, 10, "the bot was not asked")
        assert (await Client(b, http).send(conv, "c2", "I want a person"))[0] == 201
        await wait_until(lambda: odoo.sessions == 1 and odoo.visitor_texts(), 15,
                         f"no transcript in Odoo\n{a.logs()[-2000:]}\n{b.logs()[-2000:]}")
        assert (await Client(a, http).send(conv, "c3", "hello person"))[0] == 201
        await wait_until(lambda: len(odoo.visitor_texts()) >= 2, 15, f"posted: {odoo.visitor_texts()}")
        await asyncio.sleep(LEASE_TTL)                   # nothing more comes (no second post)
        texts = odoo.visitor_texts()
        assert len(texts) == 2 and texts[0].startswith("<p>Conversation with the bot so far:")
        assert "where is my order?" in texts[0] and texts[1] == "<p>hello person</p>"
    finally:
        for node in nodes:
            await asyncio.to_thread(node.stop)
        await bot.stop()
