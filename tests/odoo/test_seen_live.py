"""The visitor's seen mark on real Odoo (issue 13, item 7): the guest's member of the session is
marked read up to the operator's message the visitor saw, as Odoo's own widget marks it (the
operator sees "seen" in Discuss)."""
from __future__ import annotations

import asyncio
import time

import pytest

from tests.odoo.livechat import answered, live_conversation

pytestmark = pytest.mark.odoo


def guest_seen(odoo, channel_id: int) -> int:
    members = odoo.execute("discuss.channel.member", "search_read", [[["channel_id", "=", channel_id],
                                                                       ["guest_id", "!=", False]]],
                           {"fields": ["seen_message_id"]})
    seen = members[0]["seen_message_id"]
    return seen[0] if seen else 0


async def test_the_operator_sees_what_the_visitor_has_seen(odoo, tmp_path):
    async with live_conversation(odoo, tmp_path, "Visitor who reads") as (client, conv, channel_id):
        (first, one), (second, two) = await answered(odoo, client, conv, channel_id, "<p>One</p>", "<p>Two</p>")
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
