"""The visitor's rating on real Odoo (issue 13, item 3): through the relay, exactly what Odoo's own
feedback panel makes: one rating.rating on the session (value and comment, consumed, the operator
rated), updated when the visitor changes it, also after the conversation ended."""
from __future__ import annotations

import asyncio
import time

import pytest

from tests.odoo.livechat import answered, live_conversation

pytestmark = pytest.mark.odoo


def ratings(odoo, channel_id: int) -> list[dict]:
    return odoo.execute("rating.rating", "search_read", [[["res_model", "=", "discuss.channel"], ["res_id", "=", channel_id]]],
                        {"fields": ["rating", "feedback", "consumed", "rated_partner_id"]})


async def test_a_rating_lands_as_odoos_own_feedback_panel_makes_it(odoo, tmp_path):
    async with live_conversation(odoo, tmp_path, "Visitor who rates") as (client, conv, channel_id):
        path = f"/v1/conversations/{conv['conversation_id']}/rating"
        await answered(odoo, client, conv, channel_id, "<p>Hello, how can I help?</p>")
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
        # once the visitor has left the session, 19 takes no rating from them (the guest may not
        # read the session any more; Odoo's own widget asks before leaving): said plainly
        assert (await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/close", conv["token"]))[0] == 204
        await asyncio.sleep(1)
        status, body, _ = await client.call("POST", path, conv["token"], json={"rating": 3})
        if odoo.major >= 19:
            assert (status, body["error"]) == (409, "rating_closed"), body
        else:                                 # 17 and 18 still take it
            assert status == 204 and ratings(odoo, channel_id)[0]["rating"] == 3


async def test_a_session_the_operator_ended_can_still_be_rated(odoo, tmp_path):
    async with live_conversation(odoo, tmp_path, "Visitor rating after the end") as (client, conv, channel_id):
        await answered(odoo, client, conv, channel_id, "<p>Anything else?</p>")
        if odoo.major >= 19:
            odoo.operator_leave(channel_id)          # the last operator leaving ends a 19 session
        else:
            odoo.execute("discuss.channel", "write", [[channel_id], {"livechat_active": False}])
        deadline = time.monotonic() + 15
        while odoo.major >= 19 and time.monotonic() < deadline and not any(
                e["type"] == "closed" for e in (await client.events(conv))["events"]):
            await asyncio.sleep(0.3)
        status, body, _ = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/rating",
                                            conv["token"], json={"rating": 3, "comment": "ok"})
        assert status == 204, body
        (rating,) = ratings(odoo, channel_id)
        assert (rating["rating"], rating["feedback"]) == (3, "ok")
