"""The visitor's rating on real Odoo (issue 13, item 3): through the relay, exactly what Odoo's own
feedback panel makes: one rating.rating on the session (value and comment, consumed, the operator
rated), updated when the visitor changes it, also after the conversation ended."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.conftest import Client
from tests.odoo.test_addon_live import next_event, relay_for_addon

pytestmark = pytest.mark.odoo


def ratings(odoo, channel_id: int) -> list[dict]:
    return odoo.execute("rating.rating", "search_read", [[["res_model", "=", "discuss.channel"], ["res_id", "=", channel_id]]],
                        {"fields": ["rating", "feedback", "consumed", "rated_partner_id"]})


async def test_a_rating_lands_as_odoos_own_feedback_panel_makes_it(odoo, tmp_path):
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "webhook",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel)}
    odoo.operator_online()
    with relay_for_addon(odoo, tmp_path, env) as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create(visitor_name="Visitor who rates")
            channel_id = await client.channel_of(conv["conversation_id"])
            path = f"/v1/conversations/{conv['conversation_id']}/rating"
            async with client.ws(conv, after=0) as ws:
                assert (await ws.receive_json(timeout=5))["type"] == "hello"
                odoo.operator_reply(channel_id, "<p>Hello, how can I help?</p>")
                await next_event(ws, {"message"}, timeout=15)
            status, body, _ = await client.call("POST", path, conv["token"], json={"rating": 5, "comment": "Very helpful"})
            assert status == 204, body
            (rating,) = ratings(odoo, channel_id)
            operator = odoo.execute("res.users", "read", [[odoo.uid], ["partner_id"]])[0]["partner_id"][0]
            assert (rating["rating"], rating["feedback"], rating["consumed"]) == (5, "Very helpful", True)
            assert rating["rated_partner_id"][0] == operator
            status, body, _ = await client.call("POST", path, conv["token"], json={"rating": 1, "comment": "Changed my mind"})
            events = [e for e in (await client.events(conv))["events"] if e["type"] == "rating"]
            if odoo.major >= 19:
                # 19's feedback route reads the session's rating without sudo when there is one
                # already: a guest rates once (its own widget asks once); said plainly, nothing changed
                assert (status, body["error"]) == (409, "rating_closed"), body
                assert ratings(odoo, channel_id) == [rating]
                assert [(e["rating"], e["comment"]) for e in events] == [(5, "Very helpful")]
            else:
                assert status == 204, body
                (again,) = ratings(odoo, channel_id)                 # one per session, as Odoo keeps it
                assert (again["id"], again["rating"], again["feedback"]) == (rating["id"], 1, "Changed my mind")
                assert [(e["rating"], e["comment"]) for e in events] == [(5, "Very helpful"), (1, "Changed my mind")]
            # once the visitor has left the session, Odoo takes no rating from them (19: the guest may
            # not read the session any more; Odoo's own widget asks before leaving): said plainly
            assert (await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/close", conv["token"]))[0] == 204
            await asyncio.sleep(1)
            status, body, _ = await client.call("POST", path, conv["token"], json={"rating": 3})
            if odoo.major >= 19:
                assert (status, body["error"]) == (409, "rating_closed"), body
            else:                                 # 17 and 18 still take it
                assert status == 204 and ratings(odoo, channel_id)[0]["rating"] == 3


async def test_a_session_the_operator_ended_can_still_be_rated(odoo, tmp_path):
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "webhook",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel)}
    odoo.operator_online()
    with relay_for_addon(odoo, tmp_path, env) as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create(visitor_name="Visitor rating after the end")
            channel_id = await client.channel_of(conv["conversation_id"])
            async with client.ws(conv, after=0) as ws:
                assert (await ws.receive_json(timeout=5))["type"] == "hello"
                odoo.operator_reply(channel_id, "<p>Anything else?</p>")
                await next_event(ws, {"message"}, timeout=15)
                if odoo.major >= 19:
                    odoo.operator_leave(channel_id)          # the last operator leaving ends a 19 session
                else:
                    odoo.execute("discuss.channel", "write", [[channel_id], {"livechat_active": False}])
                if odoo.major >= 19:
                    await next_event(ws, {"closed"}, timeout=15)
            status, body, _ = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/rating",
                                                conv["token"], json={"rating": 3, "comment": "ok"})
            assert status == 204, body
            (rating,) = ratings(odoo, channel_id)
            assert (rating["rating"], rating["feedback"]) == (3, "ok")
