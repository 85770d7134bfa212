"""PROTOCOL §2 widget REST calls against a real relay: every row, its status codes, and bad input
answered with a clear 4xx that changes nothing."""
from __future__ import annotations

import asyncio
import time

import aiohttp

from proxy import tokens
from tests.relayproc import TOKEN_SECRET, RelayProcess


def path(conv: dict, action: str) -> str:
    return f"/v1/conversations/{conv['conversation_id']}/{action}"


async def test_create_conversation(client):
    status, body, _ = await client.call("POST", "/v1/conversations",
                                        json={"visitor_name": "Ada", "lang": "fr_BE", "page_url": "https://shop.example/cart"})
    assert status == 201
    assert set(body) == {"conversation_id", "token", "expires_at", "last_seq", "visitor"}
    assert body["last_seq"] == 1 and body["expires_at"] > time.time() + 3600
    events = (await client.events(body))["events"]
    assert events[0]["type"] == "status" and events[0]["status"] == "waiting_operator"
    status, empty, _ = await client.call("POST", "/v1/conversations")   # no body at all is fine too
    assert status == 201 and empty["conversation_id"] != body["conversation_id"]


async def test_no_operator_available_is_503_and_creates_nothing(client):
    status, _, _ = await client.call("POST", "/demo/api/operator", json={"online": False})
    assert status == 200
    before = client.db_counts()
    status, body, _ = await client.call("POST", "/v1/conversations", json={})
    assert status == 503 and body["error"] == "no_operator_available"
    assert client.db_counts() == before
    await client.call("POST", "/demo/api/operator", json={"online": True})
    assert (await client.call("POST", "/v1/conversations", json={}))[0] == 201


async def test_short_poll_answers_at_once(client):
    conv = await client.create()
    start = time.monotonic()
    body = await client.events(conv, after=1, wait=0)
    assert body == {"events": [], "last_seq": 1}
    assert time.monotonic() - start < 1


async def test_long_poll_answers_as_soon_as_an_event_exists(client):
    conv = await client.create()
    poll = asyncio.create_task(client.events(conv, after=1, wait=10))
    await asyncio.sleep(0.5)
    assert not poll.done()
    start = time.monotonic()
    await client.reply(conv, 11, "wake up")
    body = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - start < 2
    assert [e["message"]["text"] for e in body["events"]] == ["wake up"] and body["last_seq"] == 2


async def test_long_poll_times_out_empty(client):
    conv = await client.create()
    start = time.monotonic()
    body = await client.events(conv, after=1, wait=1)
    assert body == {"events": [], "last_seq": 1}
    assert 0.9 <= time.monotonic() - start < 3


async def test_after_beyond_last_seq_answers_reset(client):
    conv = await client.create()
    body = await client.events(conv, after=50)
    assert body["reset"] is True and [e["seq"] for e in body["events"]] == [1]


async def test_send_is_idempotent_by_client_id(client):
    conv = await client.create()
    status, first, _ = await client.send(conv, "c-1", "hello")
    assert status == 201 and first["seq"] == 2
    ev = first["event"]
    assert ev["type"] == "message" and ev["message"]["author"]["kind"] == "visitor"
    assert ev["message"]["client_id"] == "c-1" and ev["message"]["text"] == "hello"
    status, again, _ = await client.send(conv, "c-1", "hello")
    assert status == 200 and again == first
    status, body, _ = await client.send(conv, "c-1", "something else")
    assert status == 409 and body["error"] == "client_id_conflict"
    events = (await client.events(conv))["events"]
    assert [e["seq"] for e in events] == [1, 2]


async def test_text_limits(client):
    conv = await client.create()
    assert (await client.send(conv, "ok-4000", "x" * 4000))[0] == 201
    before = client.db_counts()
    for text in ("x" * 4001, "", "   ", None, 42):
        status, body, _ = await client.send(conv, "bad", text)
        assert status == 400 and body["error"] in ("text_too_long", "invalid_text"), (text, body)
    for cid in ("", "has space", "x" * 65, None, 7):
        status, body, _ = await client.send(conv, cid, "fine")
        assert status == 400 and body["error"] == "invalid_client_id"
    assert client.db_counts() == before


async def test_typing_and_close(client):
    conv = await client.create()
    status, _, _ = await client.call("POST", path(conv, "typing"), conv["token"], json={"typing": True})
    assert status == 204
    status, body, _ = await client.call("POST", path(conv, "typing"), conv["token"], json={"typing": "yes"})
    assert status == 400
    assert (await client.call("POST", path(conv, "close"), conv["token"]))[0] == 204
    assert (await client.call("POST", path(conv, "close"), conv["token"]))[0] == 204   # idempotent
    events = (await client.events(conv))["events"]
    assert [e["type"] for e in events] == ["status", "closed"] and events[1]["by"] == "visitor"
    status, body, _ = await client.send(conv, "after-close", "hello?")
    assert status == 409 and body["error"] == "conversation_closed"


async def test_tokens_are_scoped_and_expire(client):
    a, b = await client.create(), await client.create()
    before = client.db_counts()
    expired, _ = tokens.issue(TOKEN_SECRET.encode(), a["conversation_id"], ttl=-5)
    forged, _ = tokens.issue(b"not the relay's key", a["conversation_id"], ttl=600)
    cases = [(None, "token_missing"), ("garbage", "token_invalid"), (b["token"], "token_invalid"),
             (expired, "token_expired"), (forged, "token_invalid")]
    for token, code in cases:
        for method, action, kw in (("GET", "events", {}), ("POST", "messages", {"json": {"client_id": "z", "text": "t"}}),
                                   ("POST", "typing", {"json": {"typing": True}}), ("POST", "close", {})):
            status, body, _ = await client.call(method, path(a, action), token, **kw)
            assert status == 401 and body["error"] == code, (token, action, body)
    assert client.db_counts() == before


async def test_unknown_conversation_is_404(client):
    ghost = "c_doesnotexist0000000"
    token, _ = tokens.issue(TOKEN_SECRET.encode(), ghost, ttl=600)
    before = client.db_counts()
    for method, action, kw in (("GET", "events", {}), ("POST", "messages", {"json": {"client_id": "z", "text": "t"}}),
                               ("POST", "close", {})):
        status, body, _ = await client.call(method, f"/v1/conversations/{ghost}/{action}", token, **kw)
        assert status == 404 and body["error"] == "unknown_conversation"
    assert client.db_counts() == before


async def test_bad_input_changes_nothing(client):
    conv = await client.create()
    before = client.db_counts()
    msgs = path(conv, "messages")
    cases = [
        ("POST", msgs, {"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "invalid_json"),
        ("POST", msgs, {"json": ["a", "list"]}, 400, "invalid_body"),
        ("POST", msgs, {"json": {"client_id": "x", "text": "y" * 300 * 1024}}, 413, "body_too_large"),
        ("POST", "/v1/conversations", {"json": {"visitor_name": 5}}, 400, "invalid_body"),
        ("POST", "/v1/conversations", {"json": {"visitor_name": "x" * 65}}, 400, "invalid_body"),
        ("POST", "/v1/conversations", {"json": {"lang": "<script>"}}, 400, "invalid_body"),
        ("POST", "/v1/conversations", {"json": {"page_url": "javascript:alert(1)"}}, 400, "invalid_body"),
        ("POST", "/v1/conversations", {"json": {"livechat_channel_id": "1"}}, 400, "invalid_body"),
        ("GET", path(conv, "events") + "?after=-1", {}, 400, "invalid_query"),
        ("GET", path(conv, "events") + "?after=abc", {}, 400, "invalid_query"),
        ("GET", path(conv, "events") + "?after=%C2%B2", {}, 400, "invalid_query"),   # "²": a Unicode digit
        ("GET", path(conv, "events") + "?wait=26", {}, 400, "invalid_query"),
        ("GET", path(conv, "events") + "?wait=nan", {}, 400, "invalid_query"),
        ("POST", path(conv, "typing"), {"json": {}}, 400, "invalid_typing"),
    ]
    for method, url, kw, want_status, want_code in cases:
        status, body, _ = await client.call(method, url, conv["token"], **kw)
        assert status == want_status and body["error"] == want_code, (url, kw.get("json"), status, body)
        assert "Traceback" not in str(body)
    assert client.db_counts() == before
    status, body, _ = await client.call("GET", "/v1/nope")
    assert status == 404 and body["error"] == "not_found"
    status, body, _ = await client.call("DELETE", "/v1/conversations")
    assert status == 405 and body["error"] == "method_not_allowed"


async def test_origin_allow_list_and_cors(tmp_path):
    relay = RelayProcess(tmp_path, env={"RELAY_ALLOWED_ORIGINS": "https://shop.example https://www.shop.example"}).start()
    try:
        async with aiohttp.ClientSession() as http:
            url = relay.url + "/v1/conversations"
            async with http.post(url, json={}, headers={"Origin": "https://evil.example"}) as r:
                assert r.status == 403 and (await r.json())["error"] == "origin_not_allowed"
            async with http.options(url, headers={"Origin": "https://evil.example",
                                                  "Access-Control-Request-Method": "POST"}) as r:
                assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers
            async with http.options(url, headers={"Origin": "https://shop.example",
                                                  "Access-Control-Request-Method": "POST"}) as r:
                assert r.status == 204
                assert r.headers["Access-Control-Allow-Origin"] == "https://shop.example"
                assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
            async with http.post(url, json={}, headers={"Origin": "https://www.shop.example"}) as r:
                assert r.status == 201
                assert r.headers["Access-Control-Allow-Origin"] == "https://www.shop.example"
                conv = await r.json()
            ws_url = f"{relay.ws_url}/v1/conversations/{conv['conversation_id']}/ws?token={conv['token']}"
            try:
                await http.ws_connect(ws_url, headers={"Origin": "https://evil.example"})
                raise AssertionError("a WebSocket from a foreign origin was accepted")
            except aiohttp.WSServerHandshakeError as exc:
                assert exc.status == 403
            async with http.ws_connect(ws_url, headers={"Origin": "https://shop.example"}) as ws:
                assert (await ws.receive_json(timeout=5))["type"] == "hello"
    finally:
        relay.stop()


async def test_default_origin_is_the_relays_own(client):
    url = client.relay.url + "/v1/conversations"
    async with client.http.post(url, json={}, headers={"Origin": "https://elsewhere.example"}) as r:
        assert r.status == 403
    async with client.http.post(url, json={}, headers={"Origin": client.relay.url}) as r:
        assert r.status == 201


async def test_rate_limits_engage_with_retry_after_and_recover(tmp_path):
    relay = RelayProcess(tmp_path, env={"RELAY_RATE_LIMIT_CREATE": "3/2", "RELAY_RATE_LIMIT_MESSAGES": "4/2"}).start()
    try:
        async with aiohttp.ClientSession() as http:
            from tests.conftest import Client
            client = Client(relay, http)
            convs = [await client.create() for _ in range(3)]
            status, body, headers = await client.call("POST", "/v1/conversations", json={})
            assert status == 429 and body["error"] == "rate_limited" and int(headers["Retry-After"]) >= 1
            conv = convs[0]
            for i in range(4):
                assert (await client.send(conv, f"m{i}", "hi"))[0] == 201
            status, body, headers = await client.send(conv, "m4", "hi")
            assert status == 429 and int(headers["Retry-After"]) >= 1
            assert (await client.send(convs[1], "other", "hi"))[0] == 201    # per conversation
            await asyncio.sleep(1.2)
            assert (await client.send(conv, "m4", "hi"))[0] == 201          # recovered
            assert (await client.call("POST", "/v1/conversations", json={}))[0] == 201
    finally:
        relay.stop()
