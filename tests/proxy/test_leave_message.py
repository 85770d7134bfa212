"""Leaving a message while nobody is online, without a bot (docs/protocol.md §6): a real relay
process in demo mode, on SQLite and on Redis. The conversation waits with the visitor's messages,
survives a kill -9, and is opened with an operator as soon as one is available, once."""
from __future__ import annotations

import sqlite3

import aiohttp
import pytest

from tests.conftest import Client
from tests.proxy.test_bot import demo, messages, statuses, wait_events
from tests.redisproc import relay_on

FAST = {"RELAY_HANDOFF_RETRY": "1"}


async def _create(client: Client, **body):
    return await client.call("POST", "/v1/conversations", json=body)


@pytest.mark.parametrize("store", ["sqlite", "redis"])
async def test_a_left_message_waits_survives_a_kill_and_reaches_the_first_operator(tmp_path, store):
    with relay_on(store, tmp_path, FAST) as relay:
        demo(relay, "operator", online=False)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            client = Client(relay, http)
            status, _, _ = await _create(client)
            assert status == 503                            # without leave_message: as before
            status, conv, _ = await _create(client, leave_message=True, contact="ada@example.com", visitor_name="Ada")
            assert status == 201, conv
            events = (await client.events(conv))["events"]
            assert statuses(events) == ["leave_message"]
            assert "ada@example.com" in events[0]["text"]
            assert (await client.send(conv, "c1", "my order 42 is late"))[0] == 201
            assert (await client.send(conv, "c1", "my order 42 is late"))[0] == 200   # acknowledged once
            state = (await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/handoff", conv["token"]))[1]
            assert state == {"state": "message"}            # asking for a person changes nothing yet
            relay.kill()                                    # nothing is lost across a crash
            relay.start()
            demo(relay, "operator", online=False)           # the demo's operator starts online
            assert (await client.send(conv, "c2", "please call me back"))[0] == 201
            events = (await client.events(conv))["events"]
            assert statuses(events) == ["leave_message"]
            assert messages(events) == [("visitor", "my order 42 is late"), ("visitor", "please call me back")]
            demo(relay, "operator", online=True)            # the retry finds the operator, no visitor action
            events = await wait_events(client, conv, lambda es: "waiting_operator" in statuses(es))
            assert statuses(events) == ["leave_message", "waiting_operator"]
            status, body, _ = await client.call("GET", f"/v1/conversations/{conv['conversation_id']}/events?after=0",
                                                conv["token"])
            assert [e["seq"] for e in body["events"]] == list(range(1, len(body["events"]) + 1))
            # the conversation goes on as any other: an operator's reply reaches the visitor
            status, body, _ = await client.call("POST", f"/demo/api/reply", json={
                "conversation_id": conv["conversation_id"], "text": "Hello Ada, sorry for the wait"})
            assert status in (200, 201), body
            events = await wait_events(client, conv, lambda es: any(m[0] == "operator" for m in messages(es)))
            assert messages(events)[-1] == ("operator", "Hello Ada, sorry for the wait")


async def test_bad_leave_message_requests_are_refused_and_create_nothing(tmp_path):
    with relay_on("sqlite", tmp_path, FAST) as relay:
        demo(relay, "operator", online=False)
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            for body in ({"leave_message": True},                                   # no way to reach them
                         {"leave_message": True, "contact": ""},
                         {"leave_message": True, "contact": "not an address"},
                         {"leave_message": True, "contact": "<script>@x.y"},
                         {"leave_message": True, "contact": "javascript:alert(1)"},
                         {"leave_message": True, "contact": "12345"},                # too short for a phone
                         {"leave_message": True, "contact": "a" * 250 + "@example.com"},
                         {"leave_message": True, "contact": 42},
                         {"leave_message": "yes", "contact": "ada@example.com"}):
                status, answer, _ = await _create(client, **body)
                assert status == 400, (body, answer)
                assert answer["error"] in ("invalid_contact", "invalid_body"), answer
            for good in ("ada@example.com", "+33 6 12 34 56 78", "(555) 123-4567"):
                status, conv, _ = await _create(client, leave_message=True, contact=good)
                assert status == 201, (good, conv)
            db = sqlite3.connect(relay.db)
            assert db.execute("SELECT count(*) FROM conversations").fetchone()[0] == 3
            db.close()
            # a left message over the size limit: 400, nothing stored
            status, conv, _ = await _create(client, leave_message=True, contact="ada@example.com")
            status, answer, _ = await client.send(conv, "c1", "x" * 4001)
            assert status == 400 and answer["error"] == "text_too_long"
            assert (await client.send(conv, "c2", "x" * 20000))[0] == 413
            assert messages((await client.events(conv))["events"]) == []


async def test_with_an_operator_online_leave_message_is_an_ordinary_conversation(tmp_path):
    with relay_on("sqlite", tmp_path, FAST) as relay:
        demo(relay, "operator", online=True)
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            status, conv, _ = await _create(client, leave_message=True, contact="ada@example.com")
            assert status == 201
            assert statuses((await client.events(conv))["events"]) == ["waiting_operator"]
            assert await client.channel_of(conv["conversation_id"]) is not None


async def test_the_config_says_whether_a_bot_answers_first(tmp_path):
    """The widget offers the leave-a-message form only where no bot answers first (the relay's own
    or the Odoo chatbot script it starts every session with: tests/widget/test_widget_odoo_chatbot_live)."""
    from tests.botserver import BOT_SECRET
    (tmp_path / "plain").mkdir()
    (tmp_path / "bot").mkdir()
    with relay_on("sqlite", tmp_path / "plain", FAST) as plain, \
            relay_on("sqlite", tmp_path / "bot", {**FAST, "RELAY_BOT_URL": "http://127.0.0.1:9/", "RELAY_BOT_SECRET": BOT_SECRET}) as with_bot:
        async with aiohttp.ClientSession() as http:
            for relay, expected in ((plain, False), (with_bot, True)):
                status, body, _ = await Client(relay, http).call("GET", "/v1/config")
                assert status == 200 and body["bot"] is expected, body
