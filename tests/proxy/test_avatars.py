"""Operator pictures (docs/protocol.md §5, issue 13 item 6) against the demo upstream: an operator's
message and join carry an ``avatar_url`` on the relay, served without a token, cacheable, opening
that one picture through that one conversation; tampered or borrowed URLs are 403."""
from __future__ import annotations

import pytest

from tests.conftest import Client


async def answered(client: Client) -> tuple[dict, dict]:
    conv = await client.create()
    status, body, _ = await client.call("POST", "/demo/api/reply", json={
        "conversation_id": conv["conversation_id"], "text": "Hello"})
    assert status == 200, body
    events = (await client.events(conv))["events"]
    return conv, events


async def test_an_operator_message_and_join_carry_a_relay_avatar_url(client):
    conv, events = await answered(client)
    joined = next(e for e in events if e["type"] == "member_joined")
    message = next(e for e in events if e["type"] == "message")
    url = message["message"]["author"]["avatar_url"]
    assert joined["member"]["avatar_url"] == url
    assert url.startswith(f"/v1/avatars/{conv['conversation_id']}/3?sig=")
    status, body, headers = await client.call("GET", url)            # no token: an <img> sends none
    assert status == 200
    assert headers["Content-Type"] == "image/svg+xml"
    assert body.startswith("<svg")
    assert "public, max-age=" in headers["Cache-Control"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"]
    # the visitor's own messages carry none
    await client.send(conv, "m1", "hi")
    mine = [e for e in (await client.events(conv))["events"]
            if e["type"] == "message" and e["message"]["author"]["kind"] == "visitor"]
    assert mine and "avatar_url" not in mine[0]["message"]["author"]


@pytest.mark.parametrize("mangle", [
    lambda u, other: u[:-2] + ("AA" if not u.endswith("AA") else "BB"),             # tampered
    lambda u, other: u.replace("/3?", "/4?"),                                       # another partner
    lambda u, other: u.replace(u.split("/")[3], other["conversation_id"]),          # another conversation
    lambda u, other: u.split("?")[0],                                               # no signature
    lambda u, other: u.split("?")[0] + "?sig=" + "%00" * 30,
])
async def test_a_tampered_or_borrowed_avatar_url_is_403(client, mangle):
    conv, events = await answered(client)
    other = await client.create()
    url = next(e for e in events if e["type"] == "message")["message"]["author"]["avatar_url"]
    status, body, _ = await client.call("GET", mangle(url, other))
    assert (status, body["error"]) == (403, "file_url_invalid"), body


async def test_a_picture_the_operator_side_does_not_have_is_404(client):
    # a correctly signed URL for a partner the upstream does not know (signed here with the
    # relay's own key would need the secret; a conversation no operator joined has none)
    conv = await client.create()
    status, body, _ = await client.call("GET", f"/v1/avatars/{conv['conversation_id']}/x?sig=" + "A" * 43)
    assert (status, body["error"]) == (403, "file_url_invalid")
