"""Demo mode: the page at /, the operator console at /demo whose replies travel as signed
webhooks through /v1/webhooks/odoo; /healthz, /metrics and the logs."""
from __future__ import annotations

import asyncio
import re


def metric(text: str, name: str, **labels) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" ([0-9.e+-]+)"
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


async def test_pages_say_it_is_a_demo(client):
    for path in ("/", "/demo"):
        async with client.http.get(client.relay.url + path) as r:
            assert r.status == 200 and r.content_type == "text/html"
            assert "demo" in (await r.text()).lower()


async def test_console_reply_goes_through_the_signed_webhook_path(client):
    conv = await client.create(visitor_name="Grace")
    await client.send(conv, "v-1", "Is anyone there?")
    _, state, _ = await client.call("GET", "/demo/api/state")
    mine = next(c for c in state["conversations"] if c["id"] == conv["conversation_id"])
    assert mine["visitor_name"] == "Grace" and mine["events"][-1]["message"]["text"] == "Is anyone there?"
    # the Odoo session the conversation is bound to (tools.compare_modes signs its webhooks for it)
    assert (mine["odoo_database"], mine["odoo_channel_id"]) == ("demo", await client.channel_of(conv["conversation_id"]))

    before = (await client.call("GET", "/metrics"))[1]
    async with client.ws(conv, after=2) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        status, body, _ = await client.call("POST", "/demo/api/reply",
                                            json={"conversation_id": conv["conversation_id"], "text": "Yes, hello!"})
        assert status == 200 and body["webhook_status"] == 200
        joined = await ws.receive_json(timeout=5)
        reply = await ws.receive_json(timeout=5)
        assert joined["event"]["type"] == "member_joined"
        assert reply["event"]["message"]["text"] == "Yes, hello!"
        assert reply["event"]["message"]["author"]["kind"] == "operator"
        await client.call("POST", "/demo/api/typing", json={"conversation_id": conv["conversation_id"], "typing": True})
        typing = await ws.receive_json(timeout=5)
        assert typing["event"]["type"] == "typing" and typing["event"]["seq"] is None
        await client.call("POST", "/demo/api/close", json={"conversation_id": conv["conversation_id"]})
        closed = await ws.receive_json(timeout=5)
        assert closed["event"]["type"] == "closed" and closed["event"]["by"] == "odoo"
    after = (await client.call("GET", "/metrics"))[1]
    assert metric(after, "relay_webhooks_total", result="stored") - metric(before, "relay_webhooks_total", result="stored") == 3
    assert metric(after, "relay_webhooks_total", result="typing") >= 1


async def test_console_bad_input(client):
    conv = await client.create()
    before = client.db_counts()
    cases = [
        ("/demo/api/reply", {"conversation_id": conv["conversation_id"], "text": ""}, 400),
        ("/demo/api/reply", {"conversation_id": conv["conversation_id"], "text": "x" * 4001}, 400),
        ("/demo/api/reply", {"conversation_id": "c_nope", "text": "hi"}, 404),
        ("/demo/api/reply", {"conversation_id": 5, "text": "hi"}, 400),
        ("/demo/api/operator", {"online": "yes"}, 400),
        ("/demo/api/typing", {"conversation_id": conv["conversation_id"], "typing": 1}, 400),
    ]
    for path, body, want in cases:
        status, answer, _ = await client.call("POST", path, json=body)
        assert status == want, (path, body, answer)
    status, _, _ = await client.call("POST", "/demo/api/reply", headers={"Origin": "https://evil.example"},
                                     json={"conversation_id": conv["conversation_id"], "text": "hi"})
    assert status == 403
    assert client.db_counts() == before


async def test_healthz_and_metrics(client):
    status, body, _ = await client.call("GET", "/healthz")
    assert status == 200 and body["status"] == "ok" and body["mode"] == "demo" and body["store"] == "sqlite"
    conv = await client.create()
    async with client.ws(conv, after=1) as ws:
        await ws.receive_json(timeout=5)
        _, health, _ = await client.call("GET", "/healthz")
        assert health["connections"]["ws"] == 1
        _, text, headers = await client.call("GET", "/metrics")
        assert headers["Content-Type"].startswith("text/plain")
        assert metric(text, "relay_connections", transport="ws") == 1
        await client.reply(conv, 5, "measured")
        await ws.receive_json(timeout=5)
    for _ in range(50):   # the relay notices the close a moment after the client
        _, text, _ = await client.call("GET", "/metrics")
        if metric(text, "relay_connections", transport="ws") == 0:
            break
        await asyncio.sleep(0.05)
    assert metric(text, "relay_connections", transport="ws") == 0
    assert metric(text, "relay_delivery_seconds_count", transport="ws") >= 1
    assert metric(text, "relay_events_out_total", transport="ws") == 1
    assert metric(text, "relay_events_in_total", source="webhook", type="message") == 1


async def test_logs_are_json_lines_without_secrets(tmp_path):
    import json

    import aiohttp

    from tests.conftest import Client
    from tests.relayproc import SECRET, TOKEN_SECRET, RelayProcess
    relay = RelayProcess(tmp_path, env={"RELAY_LOG_LEVEL": "info"}).start()
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create()
            await client.send(conv, "l-1", "hello")
            await client.reply(conv, 8, "hi")
            await client.events(conv)
            async with client.ws(conv, after=3) as ws:
                await ws.receive_json(timeout=5)
            bad = dict(conv, token=conv["token"] + "x")
            await client.call("GET", f"/v1/conversations/{conv['conversation_id']}/events", bad["token"])
    finally:
        relay.stop()
    lines = [line for line in relay.logs().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]          # every line is JSON
    assert any(r["msg"] == "webhook" and r["result"] == "stored" for r in records)
    assert any(r["msg"] == "request" and r["path"].endswith("/ws") for r in records)
    text = relay.logs()
    for secret in (conv["token"], SECRET, SECRET[len("whsec_"):], TOKEN_SECRET, "token="):
        assert secret not in text
