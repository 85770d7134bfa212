"""The visitor's rating (docs/protocol.md §5, issue 13 item 3) against the demo upstream: 5, 3 or 1
with an optional comment, once a person has had the conversation (also after it closed), stored as
a ``rating`` event; bad input and a conversation no person had get a clear 4xx and change nothing."""
from __future__ import annotations

import pytest



async def rate(client, conv, body):
    return await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/rating", conv["token"], json=body)


async def operator_joins(client, conv):
    status, answer, _ = await client.call("POST", "/demo/api/reply", json={
        "conversation_id": conv["conversation_id"], "text": "Hello, how can I help?"})
    assert status == 200, answer


async def test_a_rating_after_an_operator_answered_even_once_closed(client):
    conv = await client.create()
    await operator_joins(client, conv)
    status, body, _ = await rate(client, conv, {"rating": 5, "comment": "  Quick and kind  "})
    assert status == 204, body
    assert (await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/close", conv["token"]))[0] == 204
    status, body, _ = await rate(client, conv, {"rating": 3})          # changed after the end: replaces it
    assert status == 204, body
    ratings = [(e["rating"], e["comment"]) for e in (await client.events(conv))["events"] if e["type"] == "rating"]
    assert ratings == [(5, "Quick and kind"), (3, None)]


@pytest.mark.parametrize("body,code", [
    ({"rating": 4}, "invalid_rating"), ({"rating": "5"}, "invalid_rating"), ({"rating": True}, "invalid_rating"),
    ({}, "invalid_rating"), ({"rating": 5.0001}, "invalid_rating"),
    ({"rating": 5, "comment": "x" * 1001}, "invalid_comment"), ({"rating": 1, "comment": 7}, "invalid_comment"),
])
async def test_bad_ratings_are_400_and_change_nothing(client, body, code):
    conv = await client.create()
    await operator_joins(client, conv)
    before = client.db_counts()
    status, answer, _ = await rate(client, conv, body)
    assert (status, answer["error"]) == (400, code)
    assert client.db_counts() == before


async def test_no_rating_before_a_person_had_the_conversation(client):
    conv = await client.create()
    before = client.db_counts()
    status, answer, _ = await rate(client, conv, {"rating": 5})
    assert (status, answer["error"]) == (409, "no_operator_yet")
    assert client.db_counts() == before


async def test_another_conversations_token_rates_nothing(client):
    conv, other = await client.create(), await client.create()
    await operator_joins(client, conv)
    status, answer, _ = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/rating",
                                          other["token"], json={"rating": 1})
    assert (status, answer["error"]) == (401, "token_invalid")
