"""The visitor's seen mark (docs/protocol.md §5, issue 13 item 7) against the demo upstream: up
to the last operator-side message among the events seen, once; bad input is a 400."""
from __future__ import annotations

import pytest


async def seen(client, conv, body):
    return await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/seen", conv["token"], json=body)


async def test_seen_marks_the_last_odoo_message_up_to_that_seq(client):
    conv = await client.create()
    ids = []
    for text in ("first", "second"):
        status, answer, _ = await client.call("POST", "/demo/api/reply", json={
            "conversation_id": conv["conversation_id"], "text": text})
        assert status == 200, answer
    events = (await client.events(conv))["events"]
    replies = [e for e in events if e["type"] == "message"]
    ids = [int(e["message"]["id"].split(":")[1]) for e in replies]
    assert (await seen(client, conv, {"seq": replies[0]["seq"]}))[0] == 204
    assert client.upstream_of(conv["conversation_id"])["seen_odoo_id"] == ids[0]
    assert (await seen(client, conv, {"seq": events[-1]["seq"]}))[0] == 204
    assert client.upstream_of(conv["conversation_id"])["seen_odoo_id"] == ids[1]
    assert (await seen(client, conv, {"seq": replies[0]["seq"]}))[0] == 204      # older: nothing moves back
    assert client.upstream_of(conv["conversation_id"])["seen_odoo_id"] == ids[1]


@pytest.mark.parametrize("body", [{}, {"seq": 0}, {"seq": -1}, {"seq": "3"}, {"seq": True}, {"seq": 1.5}, {"seq": 999}])
async def test_bad_seen_marks_are_400(client, body):
    conv = await client.create()
    before = client.db_counts()
    status, answer, _ = await seen(client, conv, body)
    assert (status, answer["error"]) == (400, "invalid_seq")
    assert client.db_counts() == before and "seen_odoo_id" not in client.upstream_of(conv["conversation_id"])
