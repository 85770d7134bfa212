"""Leaving a message while nobody is online, on a real Odoo (docs/protocol.md §6): a livechat
channel of its own with no operator; the visitor leaves a message with a way to reach them; nothing
is opened in Odoo until an operator joins the channel; then the relay opens the session by itself,
posts what was left (once, as the visitor, headed by the contact), and the conversation goes on."""
from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp
import pytest

from tests.conftest import Client
from tests.odoo.livechat import answered
from tests.odoo.test_addon_live import relay_for_addon
from tests.odoo.test_bot_handoff_live import comments, events_until, wait_comments
from tests.odoo.test_relay_odoo_live import session_is_open

pytestmark = pytest.mark.odoo


@pytest.fixture
def empty_channel(odoo):
    """A livechat channel nobody operates (others' tests keep theirs)."""
    channel = odoo.execute("im_livechat.channel", "create", [{"name": f"Relay leave-message {uuid.uuid4().hex[:6]}", "user_ids": [(6, 0, [])]}])
    channel = channel[0] if isinstance(channel, list) else channel
    yield channel
    odoo.execute("im_livechat.channel", "write", [[channel], {"user_ids": [(5, 0, 0)]}])


def sessions_of(odoo, livechat_channel: int) -> list[int]:
    return odoo.execute("discuss.channel", "search", [[["livechat_channel_id", "=", livechat_channel]]])


@pytest.mark.parametrize("mode", ["bus", "webhook"])
async def test_a_left_message_reaches_odoo_once_an_operator_joins(odoo, tmp_path, empty_channel, mode):
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": mode,
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(empty_channel), "RELAY_HANDOFF_RETRY": "1"}
    with relay_for_addon(odoo, tmp_path, env, enabled=mode == "webhook") as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            status, body, _ = await client.call("POST", "/v1/conversations", json={})
            assert status == 503 and body["error"] == "no_operator_available"
            status, conv, _ = await client.call("POST", "/v1/conversations", json={
                "leave_message": True, "contact": "ada@example.com", "visitor_name": "Ada left a message"})
            assert status == 201, conv
            assert await client.channel_of(conv["conversation_id"]) is None
            assert (await client.send(conv, "c1", "my order <42> is late"))[0] == 201
            assert (await client.send(conv, "c2", "call me after 5pm"))[0] == 201
            await asyncio.sleep(2.5)                        # two retries: nobody there, nothing opened
            assert sessions_of(odoo, empty_channel) == []
            assert await client.channel_of(conv["conversation_id"]) is None

            odoo.execute("im_livechat.channel", "action_join", [[empty_channel]])
            odoo.operator_online()                          # present (and in the tests' own channel too)
            events = await events_until(client, conv, "waiting_operator", timeout=30)
            assert any(e.get("status") in ("waiting_operator", "operator_joined") for e in events), events
            channel_id = await client.channel_of(conv["conversation_id"])
            assert channel_id and session_is_open(odoo, channel_id)
            assert sessions_of(odoo, empty_channel) == [channel_id]

            found = await wait_comments(odoo, channel_id, 1)
            assert len(found) == 1 and found[0]["author_guest_id"], found   # once, as the visitor
            for line in ("Left while no one was online (contact: ada@example.com):",
                         "Visitor: my order &lt;42&gt; is late", "Visitor: call me after 5pm"):
                assert line in found[0]["body"], found[0]["body"]

            # and on as any other conversation: the next message, then the operator's answer
            assert (await client.send(conv, "c3", "thanks for getting back"))[0] == 201
            deadline = time.monotonic() + 20
            while len(comments(odoo, channel_id)) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.3)
            assert "thanks for getting back" in comments(odoo, channel_id)[1]["body"]
            [(_, reply)] = await answered(odoo, client, conv, channel_id, "Hello Ada, sorry for the wait")
            assert reply["message"]["text"] == "Hello Ada, sorry for the wait"
