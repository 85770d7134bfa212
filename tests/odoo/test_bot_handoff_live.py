"""The bot in front of a real Odoo: no Odoo session while the bot answers; on handoff the relay
opens one and posts the bot part of the conversation into it, then the operator takes over."""
from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.botserver import BOT_SECRET, BotServer
from tests.conftest import Client
from tests.odoo.test_addon_live import relay_for_addon
from tests.odoo.test_relay_odoo_live import session_is_open, wait_texts

pytestmark = pytest.mark.odoo


@pytest.fixture
async def bot():
    server = await BotServer().start()
    yield server
    await server.stop()


@pytest.fixture(params=["webhook", "poll"])
def bot_odoo_relay(request, odoo, tmp_path, bot):
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": request.param,
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), "RELAY_ODOO_POLL_INTERVAL": "1",
           "RELAY_BOT_URL": bot.url, "RELAY_BOT_SECRET": BOT_SECRET}
    with relay_for_addon(odoo, tmp_path, env, enabled=request.param == "webhook") as relay:
        yield relay


def comments(odoo, channel_id: int) -> list[dict]:
    return odoo.execute("mail.message", "search_read", [[["model", "=", "discuss.channel"], ["res_id", "=", channel_id],
                                                          ["message_type", "=", "comment"]]],
                        {"fields": ["body", "author_guest_id", "author_id"], "order": "id"})


async def wait_comments(odoo, channel_id: int, count: int, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(found := comments(odoo, channel_id)) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
    await asyncio.sleep(1.0)                      # a duplicate would show up now
    return comments(odoo, channel_id)


async def events_until(client, conv, status: str, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        events = (await client.events(conv))["events"]
        if any(e.get("status") == status for e in events) or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.2)


async def test_handoff_by_the_bot_posts_the_transcript_into_the_odoo_session(odoo, bot_odoo_relay, bot):
    odoo.operator_online()
    async with aiohttp.ClientSession() as http:
        client = Client(bot_odoo_relay, http)
        conv = await client.create(visitor_name="Ada with the bot")
        assert await client.channel_of(conv["conversation_id"]) is None      # no Odoo session yet
        await client.send(conv, "c1", "where is my order <42>?")
        deadline = time.monotonic() + 10
        while len([e for e in (await client.events(conv))["events"] if e["type"] == "message"]) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        await client.send(conv, "c2", "I want a person")
        events = await events_until(client, conv, "waiting_operator")
        joined = [e for e in events if e.get("status") in ("operator_joined", "waiting_operator")]
        assert joined, [e.get("status") for e in events]
        channel_id = await client.channel_of(conv["conversation_id"])
        assert channel_id and session_is_open(odoo, channel_id)

        found = await wait_comments(odoo, channel_id, 1)
        assert len(found) == 1 and found[0]["author_guest_id"], found        # posted once, as the visitor
        body = found[0]["body"]
        for line in ("Conversation with the bot so far:", "Visitor: where is my order &lt;42&gt;?",
                     "Assistant (bot): bot: where is my order &lt;42&gt;?", "Visitor: I want a person",
                     "Assistant (bot): Let me find you a person."):
            assert line in body, body

        # then a normal Odoo conversation: the visitor's next message, the operator's reply
        await client.send(conv, "c3", "thanks for taking over")
        found = await wait_comments(odoo, channel_id, 2)
        assert [m["body"] for m in found][1:] == ["<p>thanks for taking over</p>"]
        odoo.operator_reply(channel_id, "<p>Hello Ada, I am a person</p>")
        assert await wait_texts(client, conv, ["Hello Ada, I am a person"]) == ["Hello Ada, I am a person"]
        assert len(bot.requests) == 2


async def test_handoff_by_the_visitor_with_nothing_said_posts_no_transcript(odoo, bot_odoo_relay, bot):
    odoo.operator_online()
    async with aiohttp.ClientSession() as http:
        client = Client(bot_odoo_relay, http)
        conv = await client.create(visitor_name="Straight to a person")
        status, body, _ = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/handoff", conv["token"])
        assert status == 200 and body == {"state": "operator"}
        channel_id = await client.channel_of(conv["conversation_id"])
        await client.send(conv, "c1", "hello")
        found = await wait_comments(odoo, channel_id, 1)
        assert [m["body"] for m in found] == ["<p>hello</p>"]
        assert bot.requests == []


async def test_a_transcript_posted_just_before_a_crash_is_not_posted_again(odoo, bot_odoo_relay, bot):
    """The relay dies after Odoo took the transcript but before the relay recorded it: on restart it
    finds the transcript in the session and does not post it twice; the conversation goes on."""
    import sqlite3
    odoo.operator_online()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        client = Client(bot_odoo_relay, http)
        conv = await client.create(visitor_name="Crash")
        await client.send(conv, "c1", "hello bot")
        deadline = time.monotonic() + 10
        while len([e for e in (await client.events(conv))["events"] if e["type"] == "message"]) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert (await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/handoff", conv["token"]))[1] == {"state": "operator"}
        channel_id = await client.channel_of(conv["conversation_id"])
        assert len(await wait_comments(odoo, channel_id, 1)) == 1
        bot_odoo_relay.kill()
        db = sqlite3.connect(bot_odoo_relay.db)          # as if the crash came before the relay recorded it
        with db:
            db.execute("UPDATE conversations SET upstream = json_remove(upstream, '$.posted_seq', '$.posted_odoo_id') "
                       "WHERE id = ?", (conv["conversation_id"],))
        db.close()
        bot_odoo_relay.start()
        await client.send(conv, "c2", "after the crash")
        found = await wait_comments(odoo, channel_id, 2)
        assert [m["body"] for m in found][1:] == ["<p>after the crash</p>"], found
        assert "Conversation with the bot so far:" in found[0]["body"]
