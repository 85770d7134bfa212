"""Operator files through the relay (docs/protocol.md §5, issue 13 item 2), against the demo
upstream: every attachment gets a relay URL signed for that one file of that one conversation; the
bytes come through the relay; nothing of the source's URL or tokens reaches the widget; a
tampered, expired or borrowed URL opens nothing."""
from __future__ import annotations

import base64
import json
import time

import pytest

from proxy import files
from tests.relayproc import TOKEN_SECRET, operator_message, webhook_body

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
KEY = files.derive_key(TOKEN_SECRET.encode())


async def demo_reply(client, conv, text, attachments):
    body = {"conversation_id": conv["conversation_id"], "text": text,
            "files": [{"name": n, "mimetype": m, "data": base64.b64encode(d).decode()} for n, m, d in attachments]}
    status, answer, _ = await client.call("POST", "/demo/api/reply", json=body)
    assert status == 200, answer


async def operator_files(client, conv) -> list[dict]:
    events = (await client.events(conv))["events"]
    return [a for e in events if e["type"] == "message" for a in e["message"]["attachments"]]


async def get(client, url: str):
    async with client.http.get(client.relay.url + url, allow_redirects=False) as r:
        return r.status, await r.read(), r.headers


async def test_operator_files_come_through_the_relay_with_their_own_url(client):
    conv = await client.create()
    await demo_reply(client, conv, "here you go", [("photo.png", "image/png", PNG),
                                                   ("invoice.pdf", "application/pdf", PDF)])
    image, pdf = await operator_files(client, conv)
    assert (image["name"], image["mimetype"], image["size"]) == ("photo.png", "image/png", len(PNG))
    assert (pdf["name"], pdf["mimetype"], pdf["size"]) == ("invoice.pdf", "application/pdf", len(PDF))
    for att in (image, pdf):
        assert att["url"].startswith(f"/v1/files/{conv['conversation_id']}/{att['id']}?exp=")
        assert conv["token"] not in att["url"]
    assert image["thumbnail_url"] == image["url"] + "&thumb=1" and "thumbnail_url" not in pdf
    status, data, headers = await get(client, image["url"])
    assert (status, data) == (200, PNG)
    assert headers["Content-Type"] == "image/png" and headers["Content-Disposition"].startswith("inline")
    assert headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in headers["Content-Security-Policy"]
    status, data, headers = await get(client, pdf["url"])
    assert (status, data) == (200, PDF)
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == 'attachment; filename="invoice.pdf"'


async def test_the_source_url_and_its_token_never_reach_the_widget(client):
    """The addon sends Odoo's /web/content URL with an access token: the relay drops it."""
    conv = await client.create()
    channel = await client.channel_of(conv["conversation_id"])
    message = operator_message(7001, "a file")
    message["attachments"] = [{"id": 555, "name": "secret.pdf", "mimetype": "application/pdf", "size": 10,
                               "url": "https://odoo.example/web/content/555?access_token=SECRET-ODOO-TOKEN"}]
    status, body, _ = await client.webhook(webhook_body("livechat.message.created", channel, message=message))
    assert status == 200, body
    async with client.ws(conv, after=0) as ws:
        frames = [await ws.receive_json(timeout=5) for _ in range(2)]
    received = json.dumps([frames, await client.events(conv)])
    assert "SECRET-ODOO-TOKEN" not in received and "odoo.example" not in received
    (att,) = await operator_files(client, conv)
    assert att["url"].startswith(f"/v1/files/{conv['conversation_id']}/555?")
    status, data, _ = await get(client, att["url"])      # signed, but the demo upstream has no such file
    assert status == 404 and json.loads(data)["error"] == "file_not_found"


@pytest.mark.parametrize("case", ["tampered", "other_file", "other_conversation", "expired", "no_signature",
                                  "garbage", "invalid_unicode", "huge_numbers", "unknown_conversation"])
async def test_a_url_opens_that_one_file_until_it_expires_and_nothing_else(client, case):
    conv = await client.create()
    other = await client.create()
    await demo_reply(client, conv, "one", [("a.png", "image/png", PNG), ("b.pdf", "application/pdf", PDF)])
    await demo_reply(client, other, "two", [("c.pdf", "application/pdf", PDF)])
    (a, b), (c,) = await operator_files(client, conv), await operator_files(client, other)
    cid, oid = conv["conversation_id"], other["conversation_id"]
    query = a["url"].split("?", 1)[1]
    url, expected = {
        "tampered": (a["url"][:-2] + ("AA" if not a["url"].endswith("AA") else "BB"), (403, "file_url_invalid")),
        "other_file": (f"/v1/files/{cid}/{b['id']}?{query}", (403, "file_url_invalid")),
        "other_conversation": (f"/v1/files/{oid}/{a['id']}?{query}", (403, "file_url_invalid")),
        "expired": (files.url(KEY, cid, a["id"], ttl=60, now=time.time() - 120), (403, "file_url_expired")),
        "no_signature": (f"/v1/files/{cid}/{a['id']}", (403, "file_url_invalid")),
        "garbage": (f"/v1/files/{cid}/{a['id']}?exp=%F0%9F%92%A9&sig=<script>", (403, "file_url_invalid")),
        "invalid_unicode": (f"/v1/files/%ED%A0%80{cid}/{a['id']}?{query}", (403, "file_url_invalid")),
        "huge_numbers": (f"/v1/files/{cid}/{'9' * 40}?exp={'9' * 40}&sig={'A' * 43}", (403, "file_url_invalid")),
        "unknown_conversation": (files.url(KEY, "nosuchconversation", a["id"], ttl=60), (404, "unknown_conversation")),
    }[case]
    status, data, headers = await get(client, url)
    assert (status, json.loads(data)["error"]) == expected
    assert "Traceback" not in data.decode()
    # a file of the other conversation, signed for this one (a forged pairing): not found here
    status, _, _ = await get(client, files.url(KEY, cid, c["id"], ttl=60))
    assert status == 404
    # the real links still work
    assert (await get(client, a["url"]))[:2] == (200, PNG)
    assert (await get(client, c["url"]))[:2] == (200, PDF)


async def test_hostile_file_names_are_served_inert(client):
    conv = await client.create()
    hostile = '../../etc/passwd"\r\nSet-Cookie: x=1<img src=x onerror=alert(1)>\u202egpj.exe'
    await demo_reply(client, conv, "names", [(hostile, "text/html", b"<script>alert(1)</script>"),
                                             ("evil.svg", "image/svg+xml", b"<svg onload=alert(1)/>")])
    html, svg = await operator_files(client, conv)
    assert html["name"] == hostile                    # shown as text by the widget, never as HTML
    status, data, headers = await get(client, html["url"])
    assert status == 200 and data == b"<script>alert(1)</script>"
    assert headers["Content-Type"] == "application/octet-stream"          # never text/html
    disposition = headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "\r" not in disposition and "\n" not in disposition
    assert "/" not in disposition.split("filename", 1)[1] and "\u202e" not in disposition
    assert "Set-Cookie" not in headers
    status, _, headers = await get(client, svg["url"])
    assert status == 200 and headers["Content-Type"] == "application/octet-stream"   # an SVG can script
    assert headers["Content-Disposition"].startswith("attachment;") and "thumbnail_url" not in svg
