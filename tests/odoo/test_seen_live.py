"""The visitor's seen mark on real Odoo (issue 13, item 7): the guest's member of the session is
marked read up to the operator's message the visitor saw, as Odoo's own widget marks it (the
operator sees "seen" in Discuss)."""
from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.conftest import Client
from tests.odoo.test_addon_live import next_event, relay_for_addon

pytestmark = pytest.mark.odoo


def guest_seen(odoo, channel_id: int) -> int:
    members = odoo.execute("discuss.channel.member", "search_read", [[["channel_id", "=", channel_id],
                                                                       ["guest_id", "!=", False]]],
                           {"fields": ["seen_message_id"]})
    seen = members[0]["seen_message_id"]
    return seen[0] if seen else 0


async def test_the_operator_sees_what_the_visitor_has_seen(odoo, tmp_path):
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "webhook",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel)}
    odoo.operator_online()
    with relay_for_addon(odoo, tmp_path, env) as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create(visitor_name="Visitor who reads")
            channel_id = await client.channel_of(conv["conversation_id"])
            async with client.ws(conv, after=0) as ws:
                assert (await ws.receive_json(timeout=5))["type"] == "hello"
                first = odoo.operator_reply(channel_id, "<p>One</p>")
                one = await next_event(ws, {"message"}, timeout=15)
                second = odoo.operator_reply(channel_id, "<p>Two</p>")
                two = await next_event(ws, {"message"}, timeout=15)
            before = guest_seen(odoo, channel_id)
            assert before < first
            path = f"/v1/conversations/{conv['conversation_id']}/seen"
            assert (await client.call("POST", path, conv["token"], json={"seq": one["seq"]}))[0] == 204
            assert guest_seen(odoo, channel_id) == first
            assert (await client.call("POST", path, conv["token"], json={"seq": two["seq"]}))[0] == 204
            deadline = time.monotonic() + 5
            while guest_seen(odoo, channel_id) != second and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert guest_seen(odoo, channel_id) == second
