"""Continuity (docs/protocol.md §5, issue 13 item 5) against the demo upstream: a token lives 7 days
by default; a returning visitor's ``visitor`` value brings their previous operator (asked of Odoo
as ``previous_operator_id``) and their name to the next conversation; a forged, expired or
malformed value is no way in."""
from __future__ import annotations

import time

from tests.conftest import Client

DEMO_OPERATOR = 3      # proxy/api/demo.py OPERATOR["partner_id"]


async def visitor_names(client: Client, conv: dict) -> list[str]:
    return [e["message"]["author"]["name"] for e in (await client.events(conv))["events"]
            if e["type"] == "message" and e["message"]["author"]["kind"] == "visitor"]


async def test_a_token_lives_seven_days_by_default(client):
    conv = await client.create()
    assert abs(conv["expires_at"] - (time.time() + 7 * 86400)) < 60


async def test_a_returning_visitor_gets_their_operator_and_name_back(client):
    first = await client.create(visitor_name="Ann")
    status, body, _ = await client.call("POST", "/demo/api/reply", json={
        "conversation_id": first["conversation_id"], "text": "Hello Ann"})
    assert status == 200, body
    assert client.upstream_of(first["conversation_id"]).get("previous_operator_id") is None

    second = await client.create(visitor=first["visitor"])
    assert second["conversation_id"] != first["conversation_id"]
    assert client.upstream_of(second["conversation_id"])["previous_operator_id"] == DEMO_OPERATOR
    assert (await client.send(second, "m1", "me again"))[0] in (200, 201)
    assert await visitor_names(client, second) == ["Ann"]

    # a third one, from the second (no operator there yet): the operator carries over, and a name
    # the visitor gives now wins
    third = await client.create(visitor=second["visitor"], visitor_name="Ann B.")
    assert client.upstream_of(third["conversation_id"])["previous_operator_id"] == DEMO_OPERATOR
    assert (await client.send(third, "m1", "hi"))[0] in (200, 201)
    assert await visitor_names(client, third) == ["Ann B."]


async def test_without_a_previous_operator_nothing_is_carried(client):
    first = await client.create(visitor_name="Bo")
    second = await client.create(visitor=first["visitor"])
    assert client.upstream_of(second["conversation_id"]).get("previous_operator_id") is None
    assert (await client.send(second, "m1", "x"))[0] in (200, 201)
    assert await visitor_names(client, second) == ["Bo"]


async def test_a_forged_visitor_value_carries_nothing(client):
    first = await client.create(visitor_name="Cy")
    await client.call("POST", "/demo/api/reply", json={"conversation_id": first["conversation_id"], "text": "hi"})
    forged = first["visitor"][:-3] + ("AAA" if not first["visitor"].endswith("AAA") else "BBB")
    for value in (forged, "vis1.x.1.y", first["token"]):
        second = await client.create(visitor=value)
        assert client.upstream_of(second["conversation_id"]).get("previous_operator_id") is None
        assert (await client.send(second, "m1", "x"))[0] in (200, 201)
        assert await visitor_names(client, second) == ["Visitor"]


async def test_a_malformed_visitor_value_is_400_and_creates_nothing(client):
    before = client.db_counts()
    for value in (7, ["x"], "x" * 257, {"a": 1}):
        status, body, _ = await client.call("POST", "/v1/conversations", json={"visitor": value})
        assert (status, body["error"]) == (400, "invalid_body"), body
    assert client.db_counts() == before
