"""The bot in front of the operators (RELAY_BOT_URL), against a real relay process in demo mode and
a real bot server on loopback: replies, signed requests, the three causes of handoff, a bot that is
down, slow or talks garbage, no operator, and a restart during the bot phase."""
from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import aiohttp
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from tests.botserver import BOT_SECRET, BotServer, keywords
from tests.conftest import Client
from tests.relayproc import RelayProcess, free_port


def bot_relay(tmp_path, url: str, **env) -> RelayProcess:
    return RelayProcess(tmp_path, env={"RELAY_BOT_URL": url, "RELAY_BOT_SECRET": BOT_SECRET,
                                       "RELAY_BOT_TIMEOUT": "2", **env}).start()


@pytest.fixture
async def bot():
    server = await BotServer().start()
    yield server
    await server.stop()


@pytest.fixture
def relay_with_bot(tmp_path, bot):
    proc = bot_relay(tmp_path, bot.url)
    yield proc
    proc.stop()


@pytest.fixture
async def bclient(relay_with_bot):
    async with aiohttp.ClientSession() as session:
        yield Client(relay_with_bot, session)


async def wait_events(client: Client, conv: dict, check, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        events = (await client.events(conv))["events"]
        if check(events) or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.1)


def messages(events) -> list[tuple[str, str]]:
    return [(e["message"]["author"]["kind"], e["message"]["text"]) for e in events if e["type"] == "message"]


def statuses(events) -> list[str]:
    return [e["status"] for e in events if e["type"] == "status"]


def demo(relay: RelayProcess, action: str, **body) -> dict:
    req = urllib.request.Request(f"{relay.url}/demo/api/{action}", data=json.dumps(body).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


async def handoff(client: Client, conv: dict):
    return await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/handoff", conv["token"])


async def test_bot_replies_are_bot_messages_and_requests_are_signed(bclient, bot):
    conv = await bclient.create(visitor_name="Ada", lang="en", page_url="https://shop.example/p/1")
    first = (await bclient.events(conv))["events"]
    assert statuses(first) == ["bot"]                       # with the bot; no Odoo session yet
    assert await bclient.channel_of(conv["conversation_id"]) is None
    assert (await bclient.send(conv, "c1", "opening hours?"))[0] == 201
    events = await wait_events(bclient, conv, lambda es: len(messages(es)) >= 2)
    assert messages(events) == [("visitor", "opening hours?"), ("bot", "bot: opening hours?")]
    bot_event = [e for e in events if e["type"] == "message"][1]
    assert bot_event["message"]["author"]["kind"] == "bot" and bot_event["message"]["html"] == "<p>bot: opening hours?</p>"

    assert (await bclient.send(conv, "c2", "and delivery?"))[0] == 201
    await wait_events(bclient, conv, lambda es: len(messages(es)) >= 4)
    assert (await bclient.send(conv, "c2", "and delivery?"))[0] == 200    # a retry: the bot is not asked twice
    await asyncio.sleep(0.5)
    assert len(bot.requests) == 2

    for raw, headers in bot.requests:                       # the reference library accepts them
        Webhook(BOT_SECRET).verify(raw.decode(), headers)
        assert headers["webhook-id"].startswith("bot_" + conv["conversation_id"])
    body = bot.bodies()[1]
    assert body["type"] == "bot.message" and body["conversation_id"] == conv["conversation_id"]
    assert body["message"]["text"] == "and delivery?"
    assert body["history"] == [{"author": "visitor", "text": "opening hours?"},
                               {"author": "bot", "text": "bot: opening hours?"}]
    assert body["visitor"] == {"name": "Ada", "lang": "en", "page_url": "https://shop.example/p/1"}
    with pytest.raises(Exception):                          # and refuse them under another secret
        Webhook("whsec_" + "A" * 32).verify(bot.requests[0][0].decode(), bot.requests[0][1])


async def test_handoff_asked_by_the_bot(bclient, bot, relay_with_bot):
    conv = await bclient.create(visitor_name="Ada")
    await bclient.send(conv, "c1", "where is my order?")
    await bclient.send(conv, "c2", "I want a person please")
    events = await wait_events(bclient, conv, lambda es: "waiting_operator" in statuses(es))
    assert statuses(events) == ["bot", "handoff", "waiting_operator"]
    assert messages(events)[-1] == ("bot", "Let me find you a person.")
    assert await bclient.channel_of(conv["conversation_id"]) is not None
    assert bclient.upstream_of(conv["conversation_id"])["pending"]["handed_off"] == "bot"

    # from now on a person answers: the demo console (signed webhooks), and the bot hears nothing
    asked = len(bot.requests)
    assert (await bclient.send(conv, "c3", "hello person"))[0] == 201
    demo(relay_with_bot, "reply", conversation_id=conv["conversation_id"], text="Hi, I am a person")
    events = await wait_events(bclient, conv, lambda es: ("operator", "Hi, I am a person") in messages(es))
    assert ("operator", "Hi, I am a person") in messages(events)
    await asyncio.sleep(0.3)
    assert len(bot.requests) == asked


async def test_handoff_asked_by_the_visitor(bclient, bot):
    conv = await bclient.create()
    await bclient.send(conv, "c1", "hi")
    await wait_events(bclient, conv, lambda es: len(messages(es)) == 2)
    status, body, _ = await handoff(bclient, conv)
    assert status == 200 and body == {"state": "operator"}
    events = (await bclient.events(conv))["events"]
    assert statuses(events) == ["bot", "handoff", "waiting_operator"]
    assert (await handoff(bclient, conv))[1] == {"state": "operator"}     # again: nothing more happens
    assert statuses((await bclient.events(conv))["events"]) == ["bot", "handoff", "waiting_operator"]
    await bclient.send(conv, "c2", "now for the person")
    await asyncio.sleep(0.5)
    assert len(bot.requests) == 1
    other = await bclient.create()
    assert (await bclient.call("POST", f"/v1/conversations/{other['conversation_id']}/handoff", conv["token"]))[0] == 401


async def test_handoff_bad_requests_change_nothing(bclient, bot):
    conv = await bclient.create()
    path = f"/v1/conversations/{conv['conversation_id']}/handoff"
    before = (await bclient.events(conv))["events"]
    status, body, _ = await bclient.call("POST", path)                                   # no token
    assert status == 401 and body["error"] == "token_missing"
    status, body, _ = await bclient.call("POST", path, "v1.garbage")
    assert status == 401 and "Traceback" not in str(body)
    status, body, _ = await bclient.call("POST", "/v1/conversations/c_nope/handoff", conv["token"])
    assert status == 401                                                                # another conversation's token
    status, body, _ = await bclient.call("POST", path, conv["token"], data=b"\xff{not json",
                                         headers={"Content-Type": "application/json"})
    assert status == 400 and body["error"] == "invalid_json"                            # a body, if any, is JSON
    await asyncio.sleep(0.3)
    assert (await bclient.events(conv))["events"] == before                             # nothing changed
    assert bot.requests == []


async def test_handoff_without_a_bot_says_operator(client):
    conv = await client.create()
    status, body, _ = await handoff(client, conv)
    assert status == 200 and body == {"state": "operator"}
    assert statuses((await client.events(conv))["events"]) == ["waiting_operator"]


async def slow(body):
    await asyncio.sleep(4)
    return {"reply": "too late", "handoff": False}


@pytest.mark.parametrize("behave, why", [
    (lambda body: web.Response(status=500, text="boom"), "HTTP 500"),
    (lambda body: b"<html>not json</html>", "not JSON"),
    (lambda body: {"reply": 42}, "reply"),
    (lambda body: {}, "neither"),
    (lambda body: {"reply": "x", "handoff": "yes"}, "handoff"),
    (lambda body: b'"just a string"', "object"),
    (slow, "no answer within"),
], ids=["500", "not-json", "reply-not-text", "empty", "handoff-not-bool", "not-object", "slow"])
async def test_a_failing_bot_hands_the_visitor_to_a_person(tmp_path, behave, why):
    server = await BotServer(behave).start()
    relay = bot_relay(tmp_path, server.url)
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create()
            await client.send(conv, "c1", "hello?")
            events = await wait_events(client, conv, lambda es: "waiting_operator" in statuses(es))
            assert statuses(events) == ["bot", "handoff", "waiting_operator"]
            assert "cannot answer" in [e for e in events if e.get("status") == "handoff"][0]["text"]
            assert messages(events) == [("visitor", "hello?")]
            await asyncio.sleep(0.3)
            assert why in relay.logs()
            if behave is slow:                        # the late answer never shows
                await asyncio.sleep(3)
                assert messages((await client.events(conv))["events"]) == [("visitor", "hello?")]
    finally:
        relay.stop()
        await server.stop()


async def test_a_bot_that_is_down_hands_off(tmp_path):
    relay = bot_relay(tmp_path, f"http://127.0.0.1:{free_port()}/bot")   # nothing listens there
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create()
            await client.send(conv, "c1", "anyone?")
            events = await wait_events(client, conv, lambda es: "waiting_operator" in statuses(es))
            assert statuses(events) == ["bot", "handoff", "waiting_operator"]
            assert "unreachable" in relay.logs()
    finally:
        relay.stop()


async def test_bot_html_is_sanitized(tmp_path):
    html = '<p>Hi <b>there</b><script>alert(1)</script> <a href="javascript:alert(1)">x</a> <img src=x onerror=alert(1)></p>'
    server = await BotServer(lambda body: {"reply": "Hi there", "html": html}).start()
    relay = bot_relay(tmp_path, server.url)
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create()
            await client.send(conv, "c1", "hi")
            events = await wait_events(client, conv, lambda es: len(messages(es)) == 2)
            out = [e for e in events if e["type"] == "message"][1]["message"]
            assert out["text"] == "Hi there"
            assert "<b>there</b>" in out["html"]
            for bad in ("script", "javascript", "onerror", "<img"):
                assert bad not in out["html"]
    finally:
        relay.stop()
        await server.stop()


async def test_no_operator_the_bot_stays(bclient, relay_with_bot, bot):
    demo(relay_with_bot, "operator", online=False)
    conv = await bclient.create()                 # with a bot, a conversation starts without an operator
    await bclient.send(conv, "c1", "hi")
    await wait_events(bclient, conv, lambda es: len(messages(es)) == 2)
    status, body, _ = await handoff(bclient, conv)
    assert body == {"state": "bot"}
    events = (await bclient.events(conv))["events"]
    assert statuses(events) == ["bot", "handoff", "no_operator"]
    assert "No one is available" in events[-1]["text"]
    await bclient.send(conv, "c2", "still there?")
    events = await wait_events(bclient, conv, lambda es: len(messages(es)) == 4)
    assert messages(events)[-1] == ("bot", "bot: still there?")
    demo(relay_with_bot, "operator", online=True)       # a person is back: asking again works
    assert (await handoff(bclient, conv))[1] == {"state": "operator"}


async def test_no_operator_the_visitor_leaves_a_message(tmp_path, bot):
    relay = bot_relay(tmp_path, bot.url, RELAY_BOT_NO_OPERATOR="message")
    try:
        demo(relay, "operator", online=False)
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create()
            await client.send(conv, "c1", "I need a person")
            events = await wait_events(client, conv, lambda es: "leave_message" in statuses(es))
            assert statuses(events) == ["bot", "handoff", "leave_message"]
            await client.send(conv, "c2", "my order 42 is late, mail me at ada@example.com")
            await asyncio.sleep(0.5)
            assert len(bot.requests) == 1                    # the bot is out of it now
            assert await client.channel_of(conv["conversation_id"]) is None
            demo(relay, "operator", online=True)
            await client.send(conv, "c3", "hello?")          # the next message reaches the operator
            events = await wait_events(client, conv, lambda es: "waiting_operator" in statuses(es))
            assert statuses(events) == ["bot", "handoff", "leave_message", "waiting_operator"]
            assert await client.channel_of(conv["conversation_id"]) is not None
    finally:
        relay.stop()


async def test_a_restart_during_the_bot_phase_strands_no_one(tmp_path):
    calls = {"n": 0}

    async def first_slow(body):
        calls["n"] += 1
        if calls["n"] == 1:
            await asyncio.sleep(30)                  # the relay dies while it waits for this one
        return keywords(body)

    server = await BotServer(first_slow).start()
    relay = bot_relay(tmp_path, server.url, RELAY_BOT_TIMEOUT="60")
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            client = Client(relay, http)
            conv = await client.create()
            await client.send(conv, "c1", "are you there?")
            deadline = time.monotonic() + 5
            while not server.requests and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            relay.kill()
            relay.start()                            # asks the bot again about the unanswered message
            events = await wait_events(client, conv, lambda es: len(messages(es)) >= 2)
            assert messages(events) == [("visitor", "are you there?"), ("bot", "bot: are you there?")]
            ids = [headers["webhook-id"] for _, headers in server.requests]
            assert len(ids) == 2 and ids[0] == ids[1]          # the same request, for the bot's own dedupe
            await client.send(conv, "c2", "good")
            events = await wait_events(client, conv, lambda es: len(messages(es)) >= 4)
            assert messages(events)[2:] == [("visitor", "good"), ("bot", "bot: good")]
    finally:
        relay.stop()
        await server.stop()


async def test_closing_while_with_the_bot(bclient, bot):
    conv = await bclient.create()
    assert (await bclient.call("POST", f"/v1/conversations/{conv['conversation_id']}/close", conv["token"]))[0] == 204
    assert [e["type"] for e in (await bclient.events(conv))["events"]] == ["status", "closed"]
    assert (await handoff(bclient, conv))[0] == 409


async def test_conversations_left_with_a_bot_that_is_switched_off_go_to_a_person(tmp_path, bot):
    relay = bot_relay(tmp_path, bot.url)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            client = Client(relay, http)
            conv = await client.create()
            await client.send(conv, "c1", "hello bot")
            await wait_events(client, conv, lambda es: len(messages(es)) == 2)
            relay.stop()
            for name in ("RELAY_BOT_URL", "RELAY_BOT_SECRET", "RELAY_BOT_TIMEOUT"):
                relay.env.pop(name)
            relay.start()
            assert (await client.send(conv, "c2", "anyone?"))[0] == 201
            events = (await client.events(conv))["events"]
            assert statuses(events) == ["bot", "handoff", "waiting_operator"]
            assert await client.channel_of(conv["conversation_id"]) is not None
    finally:
        relay.stop()
