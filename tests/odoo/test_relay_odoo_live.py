"""The relay in Odoo mode against a real Odoo: it opens the session as the visitor, posts the
visitor's messages, and gets operator replies back through the addon's webhooks."""
from __future__ import annotations

import asyncio
import os
import time
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.conftest import Client
from tests.faultline import FaultLine
from tests.odoo.test_addon_live import next_event, relay_for_addon

pytestmark = pytest.mark.odoo


@pytest.fixture(params=["webhook", "bus", "poll"])
def odoo_relay(request, odoo, tmp_path):
    """A relay in Odoo mode; with bus or poll the addon's webhooks are switched off, so the replies
    can only come the way under test."""
    mode = request.param
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": mode,
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), "RELAY_ODOO_POLL_INTERVAL": "1"}
    with relay_for_addon(odoo, tmp_path, env, enabled=mode == "webhook") as relay:
        yield relay


def session_is_open(odoo, channel_id: int) -> bool:
    field = "livechat_end_dt" if odoo.major >= 19 else "livechat_active"
    row = odoo.execute("discuss.channel", "read", [[channel_id], [field]])[0]
    return not row[field] if odoo.major >= 19 else bool(row[field])


async def test_a_whole_conversation_through_the_relay(odoo, odoo_relay):
    odoo.operator_online()
    async with aiohttp.ClientSession() as http:
        client = Client(odoo_relay, http)
        conv = await client.create(visitor_name="Ada through the relay")
        assert "guest_token" not in str(conv)                          # never sent to the widget
        channel_id = await client.channel_of(conv["conversation_id"])
        assert session_is_open(odoo, channel_id)
        async with client.ws(conv, after=0) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            for text in ("first question", "second question"):
                status, body, _ = await client.send(conv, "c-" + text.split()[0], text)
                assert status == 201
            status, _, _ = await client.send(conv, "c-first", "first question")   # a retry: not twice
            assert status == 200
            deadline = time.monotonic() + 15
            while True:
                msgs = odoo.execute("mail.message", "search_read",
                                    [[["model", "=", "discuss.channel"], ["res_id", "=", channel_id],
                                      ["message_type", "=", "comment"]]], {"fields": ["body", "author_guest_id"], "order": "id"})
                if len(msgs) >= 2 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.3)
            assert [m["body"] for m in msgs] == ["<p>first question</p>", "<p>second question</p>"], msgs
            assert all(m["author_guest_id"] for m in msgs)

            odoo.operator_reply(channel_id, "<p>Hello Ada</p>")
            reply = await next_event(ws, {"message"}, timeout=15)
            while reply["message"]["author"]["kind"] == "visitor":
                reply = await next_event(ws, {"message"}, timeout=15)
            assert reply["message"]["text"] == "Hello Ada" and reply["message"]["author"]["kind"] == "operator"

        # the frame may reach the socket just before its commit (publish before durability): the
        # store has it a moment later
        deadline = time.monotonic() + 5
        while True:
            events = (await client.events(conv))["events"]
            texts = [(e["message"]["author"]["kind"], e["message"]["text"]) for e in events if e["type"] == "message"]
            if len(texts) >= 3 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert texts == [("visitor", "first question"), ("visitor", "second question"), ("operator", "Hello Ada")]

        assert (await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/close", conv["token"]))[0] == 204
        deadline = time.monotonic() + 10
        while session_is_open(odoo, channel_id) and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
        assert not session_is_open(odoo, channel_id)
        await asyncio.sleep(2)                         # Odoo's own word on the closing (webhook, or bus on 19)
        closed = [e for e in (await client.events(conv))["events"] if e["type"] == "closed"]
        assert len(closed) == 1


async def test_replies_committed_while_the_relay_was_down_are_not_missed(odoo, odoo_relay):
    odoo.operator_online()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        client = Client(odoo_relay, http)
        conv = await client.create(visitor_name="Restart")
        channel_id = await client.channel_of(conv["conversation_id"])
        odoo.operator_reply(channel_id, "<p>before the restart</p>")
        await wait_texts(client, conv, ["before the restart"])
        odoo_relay.stop()
        odoo.operator_reply(channel_id, "<p>while the relay was down</p>")
        odoo_relay.start()
        odoo.operator_reply(channel_id, "<p>after the restart</p>")
        texts = await wait_texts(client, conv, ["before the restart", "while the relay was down", "after the restart"])
        assert texts == ["before the restart", "while the relay was down", "after the restart"]   # none twice


async def wait_texts(client, conv, expected, timeout: float = 25) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        events = (await client.events(conv))["events"]
        texts = [e["message"]["text"] for e in events if e["type"] == "message" and e["message"]["author"]["kind"] == "operator"]
        if len(texts) >= len(expected) or time.monotonic() > deadline:
            return texts
        await asyncio.sleep(0.3)


async def test_no_operator_available_creates_nothing(odoo, odoo_relay):
    odoo.operator_online()
    away = {"inactivity_period": 2 * 3600 * 1000}
    if odoo.major < 19:
        away["im_status_ids_by_model"] = {}
    odoo.call("/websocket/update_bus_presence", away, odoo.web)
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(odoo_relay, http)
            before = client.db_counts()
            status, body, _ = await client.call("POST", "/v1/conversations", json={})
            if odoo.major < 18 and status == 201:
                pytest.skip("17.0 keeps an operator online for 65 s after the last presence update")
            assert status == 503 and body["error"] == "no_operator_available"
            assert client.db_counts() == before
    finally:
        odoo.operator_online()


def visitor_bodies(odoo, channel_id: int) -> list[str]:
    msgs = odoo.execute("mail.message", "search_read", [[["model", "=", "discuss.channel"], ["res_id", "=", channel_id],
                                                          ["message_type", "=", "comment"], ["author_guest_id", "!=", False]]],
                        {"fields": ["body"], "order": "id"})
    return [m["body"] for m in msgs]


async def wait_bodies(odoo, channel_id: int, count: int, timeout: float = 40) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(bodies := visitor_bodies(odoo, channel_id)) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
    await asyncio.sleep(1.5)                 # a duplicate would show up now
    return visitor_bodies(odoo, channel_id)


@pytest.fixture
def relay_behind_faultline(odoo, tmp_path):
    """A relay (poll mode, the addon switched off) that reaches the real Odoo through a FaultLine."""
    parts = urlsplit(odoo.url)
    line = FaultLine(parts.hostname, parts.port or 80).start()
    env = {"RELAY_ODOO_URL": line.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "poll",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), "RELAY_ODOO_POLL_INTERVAL": "1"}
    with relay_for_addon(odoo, tmp_path, env, enabled=False) as relay:
        yield relay, line
    line.stop()


async def test_visitor_messages_survive_a_relay_killed_while_odoo_is_unreachable(odoo, relay_behind_faultline):
    relay, line = relay_behind_faultline
    odoo.operator_online()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        client = Client(relay, http)
        conv = await client.create(visitor_name="Outage")
        channel_id = await client.channel_of(conv["conversation_id"])
        assert (await client.send(conv, "c0", "before the outage"))[0] == 201
        assert await wait_bodies(odoo, channel_id, 1) == ["<p>before the outage</p>"]
        line.set("refuse")
        for n in (1, 2):
            assert (await client.send(conv, f"c{n}", f"pending {n}"))[0] == 201
        await asyncio.sleep(1.0)
        relay.kill()                                             # kill -9 while they wait
        relay.start()
        await asyncio.sleep(1.0)
        line.set("open")
        assert await wait_bodies(odoo, channel_id, 3) == [
            "<p>before the outage</p>", "<p>pending 1</p>", "<p>pending 2</p>"]
        sent = client.upstream_of(conv["conversation_id"])["sent"]
        assert sorted(sent) == ["c0", "c1", "c2"] and len(set(sent.values())) == 3


async def test_a_post_whose_answer_is_lost_reaches_odoo_once(odoo, relay_behind_faultline):
    relay, line = relay_behind_faultline
    odoo.operator_online()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        client = Client(relay, http)
        conv = await client.create(visitor_name="Lost answers")
        channel_id = await client.channel_of(conv["conversation_id"])
        line.set("swallow")                   # Odoo commits each post; the relay never hears back
        assert (await client.send(conv, "c1", "answer lost"))[0] == 201
        deadline = time.monotonic() + 15
        while not visitor_bodies(odoo, channel_id) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert "odoo post failed" in relay.logs()   # it never heard Odoo's answer
        relay.kill()                          # and the relay dies before it knows
        line.set("open")
        relay.start()
        assert (await client.send(conv, "c2", "after the restart"))[0] == 201
        assert await wait_bodies(odoo, channel_id, 2) == ["<p>answer lost</p>", "<p>after the restart</p>"]


@pytest.mark.parametrize("mode", ["bus", "poll"])
async def test_edits_deletions_and_the_operator_leaving_without_the_addon(odoo, tmp_path, mode):
    """Without the addon, the bus (or, polling, its HTTP twin) carries edits, deletions and the
    operator leaving; 19 also closes the session when the last operator leaves."""
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": mode,
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), "RELAY_ODOO_POLL_INTERVAL": "1"}
    odoo.operator_online()
    with relay_for_addon(odoo, tmp_path, env, enabled=False) as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create(visitor_name=f"Edits by {mode}")
            channel_id = await client.channel_of(conv["conversation_id"])
            async with client.ws(conv, after=0) as ws:
                assert (await ws.receive_json(timeout=5))["type"] == "hello"
                await asyncio.sleep(1.5 if mode == "bus" else 0)        # subscribed
                first = odoo.operator_reply(channel_id, "<p>first version</p>")
                assert (await next_event(ws, {"message"}))["message"]["id"] == f"odoo:{first}"
                odoo.operator_edit(first, "<p>second version</p>")
                edited = await next_event(ws, {"message_updated"})
                assert edited["message"]["id"] == f"odoo:{first}" and edited["message"]["text"] == "second version"
                gone = odoo.operator_reply(channel_id, "<p>oops</p>")
                assert (await next_event(ws, {"message"}))["message"]["id"] == f"odoo:{gone}"
                odoo.operator_delete(gone)
                deleted = await next_event(ws, {"message_deleted"})
                assert deleted["message"]["id"] == f"odoo:{gone}"
                odoo.operator_leave(channel_id)
                left = await next_event(ws, {"member_left"})
                assert left["member"]["kind"] == "operator"
                if odoo.major >= 19:
                    assert (await next_event(ws, {"closed"}))["by"] == "odoo"
            events = (await client.events(conv))["events"]
        kinds = [e["type"] for e in events if e["type"] in ("message", "message_updated", "message_deleted")]
        assert kinds == ["message", "message_updated", "message", "message_deleted"]    # each once


@pytest.mark.parametrize("credentials", ["password", "api_key"])
async def test_batch_poll_with_credentials_serves_every_session_with_two_queries(odoo, tmp_path, credentials):
    """Poll mode with a login and password (or an API key: JSON-2 on 19): one mail.message and one
    discuss.channel query per interval for all open sessions; replies, an edit, a deletion and the
    session ending."""
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "poll",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), "RELAY_ODOO_POLL_INTERVAL": "0.5"}
    if credentials == "password":
        env.update(RELAY_ODOO_LOGIN=odoo.login, RELAY_ODOO_PASSWORD=odoo.password)
    else:
        key = os.environ.get("ODOO_API_KEY")
        if not key:
            pytest.skip("ODOO_API_KEY not set: the API key path of the batch poll is not checked")
        env["RELAY_ODOO_API_KEY"] = key
        if odoo.major < 19:
            env["RELAY_ODOO_LOGIN"] = odoo.login      # JSON-RPC takes the key as the password
    odoo.operator_online()
    with relay_for_addon(odoo, tmp_path, env, enabled=False) as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            convs = [await client.create(visitor_name=f"Batch {n}") for n in range(3)]
            channels = [await client.channel_of(c["conversation_id"]) for c in convs]
            health = await (await http.get(relay.url + "/healthz")).json()
            assert health["odoo"]["following"] == {"batch": 3}
            replies = [odoo.operator_reply(ch, f"<p>answer {n}</p>") for n, ch in enumerate(channels)]
            for n, conv in enumerate(convs):
                texts = await wait_texts(client, conv, [f"answer {n}"], timeout=10)
                assert texts == [f"answer {n}"]
            before = (await (await http.get(relay.url + "/healthz")).json())["odoo"]["batch_queries"]
            await asyncio.sleep(2.0)
            after = (await (await http.get(relay.url + "/healthz")).json())["odoo"]["batch_queries"]
            assert 4 <= after - before <= 12        # 2 per 0.5 s tick for the 3 sessions, not 2 × 3
            odoo.operator_edit(replies[0], "<p>answer 0, edited</p>")
            odoo.operator_delete(replies[1])
            if odoo.major >= 19:
                odoo.operator_leave(channels[2])          # the last operator leaving ends a 19 session
            else:
                odoo.execute("discuss.channel", "write", [[channels[2]], {"livechat_active": False}])
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                kinds = [[e["type"] for e in (await client.events(c))["events"]] for c in convs]
                if "message_updated" in kinds[0] and "message_deleted" in kinds[1] and "closed" in kinds[2]:
                    break
                await asyncio.sleep(0.3)
            events0 = (await client.events(convs[0]))["events"]
            updated = [e for e in events0 if e["type"] == "message_updated"]
            assert len(updated) == 1 and updated[0]["message"]["text"] == "answer 0, edited"
            assert [e["message"]["id"] for e in (await client.events(convs[1]))["events"]
                    if e["type"] == "message_deleted"] == [f"odoo:{replies[1]}"]
            assert [e["by"] for e in (await client.events(convs[2]))["events"] if e["type"] == "closed"] == ["odoo"]
            await asyncio.sleep(1.5)                      # rescans of the overlap window add nothing
            assert [e["type"] for e in (await client.events(convs[0]))["events"]].count("message_updated") == 1
            health = await (await http.get(relay.url + "/healthz")).json()
            assert health["odoo"]["following"] == {"batch": 2}
        assert odoo.password not in relay.logs()


async def test_auto_mode_follows_the_addon_being_switched_off_and_on(odoo, tmp_path):
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "auto",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), "RELAY_ODOO_AUTO_RECHECK": "0.5",
           "RELAY_ODOO_POLL_INTERVAL": "1"}
    odoo.operator_online()
    with relay_for_addon(odoo, tmp_path, env, enabled=True) as relay:
        async with aiohttp.ClientSession() as http:
            async def odoo_health() -> dict:
                return (await (await http.get(relay.url + "/healthz")).json())["odoo"]

            async def switch(enabled: bool, expected: str, following: dict | None = None) -> dict:
                eid = odoo.execute("livechat.webhook.endpoint", "search", [[]], {"limit": 1})[0]
                odoo.execute("livechat.webhook.endpoint", "write", [[eid], {"enabled": enabled}])
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    health = await odoo_health()
                    if health["replies"] == expected and (following is None or health["following"] == following):
                        break
                    await asyncio.sleep(0.2)
                return health

            client = Client(relay, http)
            # the relay started before the addon was pointed at it: the next look finds it sending
            assert (await switch(True, "webhook"))["replies"] == "webhook"
            conv = await client.create(visitor_name="Auto")
            channel_id = await client.channel_of(conv["conversation_id"])
            odoo.operator_reply(channel_id, "<p>by webhook</p>")
            assert await wait_texts(client, conv, ["by webhook"]) == ["by webhook"]
            health = await switch(False, "bus", {"bus": 1})
            assert (health["replies"], health["following"], health["bus_max"]) == ("bus", {"bus": 1}, 200)
            await asyncio.sleep(1.5)                                      # subscribed
            odoo.operator_reply(channel_id, "<p>by the bus</p>")
            assert await wait_texts(client, conv, ["by webhook", "by the bus"]) == ["by webhook", "by the bus"]
            health = await switch(True, "webhook", {})
            assert (health["replies"], health["following"]) == ("webhook", {})
            odoo.operator_reply(channel_id, "<p>by webhook again</p>")
            texts = await wait_texts(client, conv, ["by webhook", "by the bus", "by webhook again"])
            await asyncio.sleep(1.0)
            assert (await wait_texts(client, conv, texts)) == ["by webhook", "by the bus", "by webhook again"]
