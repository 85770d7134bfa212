"""Odoo's own chatbot scripts through the relay (RELAY_ODOO_CHATBOT_SCRIPT_ID) on a real Odoo: the
session starts with the script, its questions come with answer buttons (a ``choices`` status),
and an answer moves the script on. The test makes its own livechat channel and script (by RPC),
so the shared channel 1 is left alone."""
from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.conftest import Client
from tests.odoo.test_addon_live import relay_for_addon

pytestmark = pytest.mark.odoo
TITLE = "Relay test chatbot (colours)"
CHANNEL = "Relay chatbot tests"


def script_and_channel(odoo) -> tuple[int, int]:
    """A script: Q1 "Do you like colours?" [Yes, No]; Yes → Q2 "Which one?" [Red, Blue] → "Thanks!"."""
    found = odoo.execute("chatbot.script", "search", [[["title", "=", TITLE]]])
    if found:
        sid = found[0]
    else:
        sid = odoo.execute("chatbot.script", "create", [{"title": TITLE, "script_step_ids": [
            (0, 0, {"step_type": "text", "message": "Hello, I am the colour bot.", "sequence": 1}),
            (0, 0, {"step_type": "question_selection", "message": "Do you like colours?", "sequence": 2,
                    "answer_ids": [(0, 0, {"name": "Yes"}), (0, 0, {"name": "No"})]})]}])
        q1 = [s for s in odoo.execute("chatbot.script.step", "search_read", [[["chatbot_script_id", "=", sid]]],
                                      {"fields": ["answer_ids"]}) if s["answer_ids"]][0]
        yes = [a["id"] for a in odoo.execute("chatbot.script.answer", "read", [q1["answer_ids"], ["name"]]) if a["name"] == "Yes"][0]
        odoo.execute("chatbot.script", "write", [[sid], {"script_step_ids": [
            (0, 0, {"step_type": "question_selection", "message": "Which one?", "sequence": 3,
                    "triggering_answer_ids": [(6, 0, [yes])],
                    "answer_ids": [(0, 0, {"name": "Red"}), (0, 0, {"name": "Blue"})]}),
            (0, 0, {"step_type": "text", "message": "Thanks!", "sequence": 4})]}])
    channels = odoo.execute("im_livechat.channel", "search", [[["name", "=", CHANNEL]]])
    channel = channels[0] if channels else odoo.execute("im_livechat.channel", "create", [{"name": CHANNEL}])
    rules = odoo.execute("im_livechat.channel.rule", "search", [[["channel_id", "=", channel], ["chatbot_script_id", "=", sid]]])
    if not rules:
        odoo.execute("im_livechat.channel.rule", "create", [{"channel_id": channel, "chatbot_script_id": sid,
                                                            "action": "display_button", "regex_url": "/relay-tests"}])
    return sid, channel


@pytest.fixture(params=["webhook", "poll"])
def chatbot_relay(request, odoo, tmp_path):
    sid, channel = script_and_channel(odoo)
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": request.param,
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(channel), "RELAY_ODOO_POLL_INTERVAL": "1",
           "RELAY_ODOO_CHATBOT_SCRIPT_ID": str(sid)}
    with relay_for_addon(odoo, tmp_path, env, enabled=request.param == "webhook") as relay:
        yield relay


async def wait_for(client, conv, check, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        events = (await client.events(conv))["events"]
        if check(events) or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.3)


def bot_texts(events) -> list[str]:
    return [e["message"]["text"] for e in events if e["type"] == "message" and e["message"]["author"]["kind"] != "visitor"]


def choices(events) -> list[list[str]]:
    return [[c["label"] for c in e["choices"]] for e in events if e.get("status") == "choices"]


async def test_a_chatbot_script_with_answer_buttons(odoo, chatbot_relay):
    async with aiohttp.ClientSession() as http:
        client = Client(chatbot_relay, http)
        conv = await client.create(visitor_name="Chatbot visitor")
        events = (await client.events(conv))["events"]
        assert [e["status"] for e in events if e["type"] == "status"] == ["chatbot", "choices"]
        assert choices(events) == [["Yes", "No"]]
        events = await wait_for(client, conv, lambda es: len(bot_texts(es)) >= 2)
        assert bot_texts(events) == ["Hello, I am the colour bot.", "Do you like colours?"]
        assert {e["message"]["author"]["kind"] for e in events if e["type"] == "message"} == {"bot"}

        assert (await client.send(conv, "c1", "Yes"))[0] == 201
        events = await wait_for(client, conv, lambda es: len(bot_texts(es)) >= 3)
        assert bot_texts(events)[2] == "Which one?"                  # the answer was saved: the Yes branch
        # (19 sends that step to the guest's bus only: the relay reads it there, answers included)
        events = await wait_for(client, conv, lambda es: len(choices(es)) >= 2)
        assert choices(events) == [["Yes", "No"], ["Red", "Blue"]]
        assert (await client.send(conv, "c2", "Red"))[0] == 201             # the second question's answer
        events = await wait_for(client, conv, lambda es: len(bot_texts(es)) >= 4)
        assert bot_texts(events)[3] == "Thanks!"
