"""The transcript download (docs/protocol.md §5, issue 13 item 4), built from the relay's events:
oldest first, times and names as the visitor saw them, edits as they ended up, deletions marked,
files by name; HTML inert; another conversation's token gets nothing."""
from __future__ import annotations

import pytest

import base64
import re

from tests.relayproc import operator_message, webhook_body

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


async def test_text_and_html_transcripts(client):
    conv = await client.create(visitor_name="Ada")
    assert (await client.send(conv, "c1", "Hello <script>alert(1)</script>"))[0] == 201
    channel = await client.channel_of(conv["conversation_id"])
    for message_id, text in ((501, "First answer"), (502, "Oops")):
        assert (await client.webhook(webhook_body("livechat.message.created", channel,
                                                  message=operator_message(message_id, text))))[0] == 200
    edited = operator_message(501, "First answer, corrected")
    assert (await client.webhook(webhook_body("livechat.message.updated", channel, message=edited)))[0] == 200
    assert (await client.webhook(webhook_body("livechat.message.deleted", channel, message={"id": 502})))[0] == 200
    status, answer, _ = await client.call("POST", "/demo/api/reply", json={
        "conversation_id": conv["conversation_id"], "text": "", "files": [
            {"name": "photo.png", "mimetype": "image/png", "data": base64.b64encode(PNG).decode()}]})
    assert status == 200, answer
    path = f"/v1/conversations/{conv['conversation_id']}/transcript"
    status, text, headers = await client.call("GET", path, conv["token"])
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert headers["Content-Disposition"].startswith('attachment; filename="conversation-')
    lines = [line for line in text.splitlines() if line.startswith("[")]
    assert re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d UTC\] Ada: Hello <script>alert\(1\)</script>", lines[0]), lines
    said = [line.split("] ", 1)[1] for line in lines]
    operator = operator_message(1, "x")["author"]["name"]
    assert f"{operator}: First answer, corrected" in said and f"{operator}: (deleted)" in said
    assert said.index(f"{operator}: First answer, corrected") < said.index(f"{operator}: (deleted)")
    assert "Demo operator: [file: photo.png]" in said
    assert "Oops" not in text
    status, page, headers = await client.call("GET", path + "?format=html", conv["token"])
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "default-src 'none'" in headers["Content-Security-Policy"]


async def test_a_transcript_is_for_its_own_conversation_only(client):
    conv, other = await client.create(), await client.create()
    path = f"/v1/conversations/{conv['conversation_id']}/transcript"
    status, body, _ = await client.call("GET", path, other["token"])
    assert (status, body["error"]) == (401, "token_invalid")
    status, body, _ = await client.call("GET", path)
    assert (status, body["error"]) == (401, "token_missing")
    status, body, _ = await client.call("GET", path + "?format=doc", conv["token"])
    assert (status, body["error"]) == (400, "invalid_query")
    status, body, _ = await client.call("GET", path + "?format=pdf", conv["token"])
    assert (status, body["error"]) == (409, "not_offered")        # Odoo's own PDF: 19 only


async def mailed(client) -> list[dict]:
    status, body, _ = await client.call("GET", "/demo/api/state")
    assert status == 200
    return body["mailed"]


async def test_the_transcript_by_email(client):
    conv = await client.create()
    path = f"/v1/conversations/{conv['conversation_id']}/transcript"
    status, body, _ = await client.call("POST", path, conv["token"], json={"email": "  ada@shop.example "})
    assert (status, body) == (202, {"status": "accepted"})
    assert await mailed(client) == [{"conversation_id": conv["conversation_id"], "email": "ada@shop.example"}]
    for _ in range(2):
        assert (await client.call("POST", path, conv["token"], json={"email": "ada@shop.example"}))[0] == 202
    status, body, _ = await client.call("POST", path, conv["token"], json={"email": "ada@shop.example"})
    assert (status, body["error"]) == (429, "rate_limited")       # a mail to any address: 3 at most
    assert len(await mailed(client)) == 3


@pytest.mark.parametrize("email", ["", "ada", "ada@", "@shop.example", "ada@shop", "a b@shop.example",
                                   "ada@shop..example", "<ada@shop.example>", "ada@shop.example\nBcc: x@y.z",
                                   "x" * 250 + "@a.io", 7, None, ["ada@shop.example"]])
async def test_a_bad_email_is_400_and_sends_nothing(client, email):
    conv = await client.create()
    before = client.db_counts()
    status, body, _ = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/transcript",
                                        conv["token"], json={"email": email})
    assert (status, body["error"]) == (400, "invalid_email"), body
    assert await mailed(client) == [] and client.db_counts() == before


async def test_a_transcript_email_needs_the_conversations_own_token(client):
    conv, other = await client.create(), await client.create()
    status, body, _ = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/transcript",
                                        other["token"], json={"email": "ada@shop.example"})
    assert (status, body["error"]) == (401, "token_invalid")
    assert await mailed(client) == []
