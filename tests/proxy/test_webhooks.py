"""PROTOCOL §1 against a real relay: signature, dedupe, status codes, what gets stored."""
from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from proxy import signing
from tests.conftest import Client
from tests.relayproc import SECRET, RelayProcess, new_webhook_id, operator_message, webhook_body

OTHER = "whsec_" + "b3RoZXItc2VjcmV0LW5vdC10aGUtcmVsYXlzLTE="


async def test_signed_webhook_is_stored_and_delivered(client):
    conv = await client.create()
    answer = await client.reply(conv, 501, "Hello from Odoo")
    assert answer == {"status": "stored"}
    body = await client.events(conv)
    messages = [e for e in body["events"] if e["type"] == "message"]
    assert len(messages) == 1
    msg = messages[0]["message"]
    assert msg["id"] == "odoo:501" and msg["text"] == "Hello from Odoo"
    assert {k: v for k, v in msg["author"].items() if k != "avatar_url"} == {
        "kind": "operator", "name": "Mitchell Admin", "partner_id": 7}
    assert msg["author"]["avatar_url"].startswith(f"/v1/avatars/{conv['conversation_id']}/7?sig=")
    assert messages[0]["seq"] == 2 and body["last_seq"] == 2


async def test_reference_library_signature_is_accepted(client):
    """A webhook signed by the standardwebhooks library itself (not by our helper)."""
    from datetime import datetime, timezone

    from standardwebhooks.webhooks import Webhook
    conv = await client.create()
    channel = await client.channel_of(conv["conversation_id"])
    raw = webhook_body("livechat.message.created", channel, message=operator_message(77, "lib"))
    msg_id, now = new_webhook_id(), datetime.now(timezone.utc)
    sig = Webhook(SECRET).sign(msg_id, now, raw.decode())
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": sig}
    async with client.http.post(client.relay.url + "/v1/webhooks/odoo", data=raw, headers=headers) as r:
        assert r.status == 200


async def _refused(client, raw: bytes, headers: dict) -> None:
    before = client.db_counts()
    async with client.http.post(client.relay.url + "/v1/webhooks/odoo", data=raw, headers=headers) as r:
        assert r.status == 401, await r.text()
        body = await r.json()
    assert body["error"] == "invalid_signature"
    assert client.db_counts() == before


async def test_bad_signatures_are_401_and_change_nothing(client):
    conv = await client.create()
    channel = await client.channel_of(conv["conversation_id"])
    raw = webhook_body("livechat.message.created", channel, message=operator_message(9, "x"))
    good = signing.headers_for([SECRET], new_webhook_id(), raw)

    await _refused(client, raw, signing.headers_for([OTHER], new_webhook_id(), raw))               # wrong key
    old = signing.headers_for([SECRET], new_webhook_id(), raw, timestamp=int(time.time()) - 301)
    await _refused(client, raw, old)                                                                # too old
    future = signing.headers_for([SECRET], new_webhook_id(), raw, timestamp=int(time.time()) + 301)
    await _refused(client, raw, future)                                                             # too new
    await _refused(client, raw.replace(b'"x"', b'"y"'), good)                                       # tampered body
    for missing in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        await _refused(client, raw, {k: v for k, v in good.items() if k != missing})
    for garbage in ("v1", "v1,!!!", "nonsense", "v2,abc", "v1,AAAA v1"):
        await _refused(client, raw, {**good, "webhook-signature": garbage})
    await _refused(client, raw, {**good, "webhook-timestamp": "yesterday"})
    assert not [e for e in (await client.events(conv))["events"] if e["type"] == "message"]


async def test_rotation_accepts_either_secret(tmp_path):
    relay = RelayProcess(tmp_path, env={"RELAY_WEBHOOK_SECRET": f"{OTHER} {SECRET}"}).start()
    try:
        async with aiohttp.ClientSession() as http:
            from tests.conftest import Client
            client = Client(relay, http)
            conv = await client.create()
            channel = await client.channel_of(conv["conversation_id"])
            for i, secrets in enumerate(([SECRET], [OTHER], [OTHER, SECRET])):
                raw = webhook_body("livechat.message.created", channel, message=operator_message(100 + i, f"m{i}"))
                status, _, _ = await client.webhook(raw, secrets=secrets)
                assert status == 200
            stranger = "whsec_" + "c29tZWJvZHktZWxzZXMtc2VjcmV0LXZhbHVlLTE="
            raw = webhook_body("livechat.message.created", channel, message=operator_message(200, "no"))
            assert (await client.webhook(raw, secrets=[stranger]))[0] == 401
            texts = [e["message"]["text"] for e in (await client.events(conv))["events"] if e["type"] == "message"]
            assert texts == ["m0", "m1", "m2"]
    finally:
        relay.stop()


async def test_repeated_webhook_id_is_200_and_stored_once(client):
    conv = await client.create()
    hook_id = new_webhook_id()
    first = await client.reply(conv, 600, "once", webhook_id=hook_id)
    again = await client.reply(conv, 600, "once", webhook_id=hook_id)
    assert first == {"status": "stored"} and again == {"status": "duplicate"}
    # the same Odoo message under another webhook id (a second delivery path) is also stored once
    third = await client.reply(conv, 600, "once")
    assert third == {"status": "duplicate"}
    messages = [e for e in (await client.events(conv))["events"] if e["type"] == "message"]
    assert len(messages) == 1


async def test_unbound_session_is_acknowledged_and_dropped(client):
    before = client.db_counts()
    raw = webhook_body("livechat.message.created", 987654321, message=operator_message(1, "nobody"))
    status, body, _ = await client.webhook(raw)
    assert status == 200 and json.loads(body) == {"status": "unbound"}
    assert client.db_counts()[:2] == before[:2]


async def test_webhook_test_event_is_acknowledged_and_not_stored(client):
    before = client.db_counts()
    raw = json.dumps({"type": "webhook.test", "timestamp": "2026-11-25T20:00:00Z", "data": {}}).encode()
    status, body, _ = await client.webhook(raw)
    assert status == 200 and json.loads(body) == {"status": "test"}
    assert client.db_counts()[:2] == before[:2]


async def test_malformed_and_off_schema_bodies_are_400(client):
    conv = await client.create()
    channel = await client.channel_of(conv["conversation_id"])
    before = client.db_counts()
    bad = [
        b"{not json",
        b"[1, 2]",
        json.dumps({"type": "livechat.unknown", "data": {}}).encode(),
        json.dumps({"type": "livechat.message.created", "data": {"database": "demo", "channel": {"id": "42"}}}).encode(),
        webhook_body("livechat.message.created", channel, message={"id": 5, "author": {"kind": "admin"}}),
        webhook_body("livechat.typing", channel, member={"kind": "operator", "name": "x"}, typing="yes"),
    ]
    for raw in bad:
        status, body, _ = await client.webhook(raw)
        assert status == 400, (raw, body)
        assert json.loads(body)["error"] in ("invalid_json", "invalid_body")
    headers = signing.headers_for([SECRET], new_webhook_id(), b"{}")
    async with client.http.post(client.relay.url + "/v1/webhooks/odoo", data=b"\xff\xfe{}", headers=headers) as r:
        assert r.status == 401   # not UTF-8: it cannot carry a valid signature
    assert client.db_counts()[:2] == before[:2]


async def test_oversized_webhook_is_413(client):
    conv = await client.create()
    channel = await client.channel_of(conv["conversation_id"])
    raw = webhook_body("livechat.message.created", channel, message=operator_message(1, "x" * (300 * 1024)))
    before = client.db_counts()
    status, body, _ = await client.webhook(raw)
    assert status == 413 and json.loads(body)["error"] == "body_too_large"
    assert client.db_counts() == before


async def test_typing_is_live_only_and_never_stored(client):
    conv = await client.create()
    channel = await client.channel_of(conv["conversation_id"])
    async with client.ws(conv, after=1) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        fresh = json.loads(webhook_body("livechat.typing", channel, member={"kind": "operator", "name": "Op"}, typing=True))
        fresh["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status, _, _ = await client.webhook(json.dumps(fresh).encode())
        assert status == 200
        frame = await ws.receive_json(timeout=5)
        assert frame["type"] == "event" and frame["event"]["type"] == "typing"
        assert frame["event"]["seq"] is None and frame["event"]["typing"] is True
        stale = webhook_body("livechat.typing", channel, member={"kind": "operator", "name": "Op"}, typing=False)
        assert (await client.webhook(stale))[0] == 200          # timestamp 2026-11-25T20:00Z: older than 10 s
        with_reply = await client.reply(conv, 42, "after typing")
        assert with_reply == {"status": "stored"}
        frame = await ws.receive_json(timeout=5)
        assert frame["event"]["type"] == "message"               # the stale typing was dropped
    body = await client.events(conv)
    assert [e["type"] for e in body["events"]] == ["status", "message"]


async def test_every_event_type_reaches_the_widget(client):
    conv = await client.create()
    channel = await client.channel_of(conv["conversation_id"])
    member = {"kind": "operator", "partner_id": 7, "name": "Mitchell Admin"}
    hooks = [
        webhook_body("livechat.member.joined", channel, member=member),
        webhook_body("livechat.message.created", channel, message=operator_message(1, "hi")),
        webhook_body("livechat.message.updated", channel, message=operator_message(1, "hi (edited)")),
        webhook_body("livechat.message.deleted", channel, message={"id": 1}),
        webhook_body("livechat.member.left", channel, member=member),
        webhook_body("livechat.session.closed", channel),
    ]
    for raw in hooks:
        assert (await client.webhook(raw))[0] == 200
    events = (await client.events(conv))["events"]
    assert [e["type"] for e in events] == ["status", "member_joined", "message", "message_updated",
                                           "message_deleted", "member_left", "closed"]
    assert [e["seq"] for e in events] == list(range(1, 8))
    assert events[3]["message"]["text"] == "hi (edited)" and events[4]["message"] == {"id": "odoo:1"}
    status, body, _ = await client.send(conv, "late", "anyone?")
    assert status == 409 and body["error"] == "conversation_closed"


async def test_operator_html_is_sanitized(client):
    conv = await client.create()
    channel = await client.channel_of(conv["conversation_id"])
    hostile = ('<p onclick="x()">Hi <script>alert(1)</script><img src=x onerror=alert(2)>'
               '<a href="javascript:alert(3)">link</a><svg onload=alert(4)></svg><b>bold</b></p>')
    raw = webhook_body("livechat.message.created", channel,
                       message={"id": 3, "author": {"kind": "operator", "name": "Op"}, "body_html": hostile})
    assert (await client.webhook(raw))[0] == 200
    msg = (await client.events(conv))["events"][-1]["message"]
    html = msg["html"].lower()
    for bad in ("<script", "onerror", "onclick", "javascript:", "<svg", "<img", "onload"):
        assert bad not in html, html
    assert "<b>bold</b>" in msg["html"] and "alert(1)" not in msg["text"]


async def test_webhook_load_shedding_answers_429_with_retry_after(tmp_path):
    """With one webhook slot, verified webhooks arriving together beyond it are shed with 429 +
    Retry-After (a slow unauthenticated sender takes no slot: tests/proxy/test_hardening.py)."""
    relay = RelayProcess(tmp_path, env={"RELAY_WEBHOOK_MAX_INFLIGHT": "1"}).start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            client = Client(relay, http)
            conv = await client.create()
            channel = await client.channel_of(conv["conversation_id"])
            ids = iter(range(1, 1000))

            async def post():     # a stored reply: the slot is held while the store writes it
                raw = webhook_body("livechat.message.created", channel, message=operator_message(next(ids), "hi"))
                async with http.post(relay.url + "/v1/webhooks/odoo", data=raw,
                                     headers=signing.headers_for([SECRET], new_webhook_id(), raw)) as r:
                    return r.status, r.headers.get("Retry-After"), await r.json()
            answers = await asyncio.gather(*(post() for _ in range(100)))
            shed = [a for a in answers if a[0] == 429]
            assert shed and all(int(a[1]) >= 1 and a[2]["error"] == "rate_limited" for a in shed)
            assert {a[0] for a in answers} <= {200, 429}
            assert (await post())[0] == 200   # the slot is free again
    finally:
        relay.stop()
