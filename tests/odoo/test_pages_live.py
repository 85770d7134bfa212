"""The visitor's page history on real Odoo (issue 15 item 5): the visitor's pages reach the relay
(``POST …/pages``), the operator runs Odoo's own ``/history`` command (``execute_command_history``
as the operator, what Discuss calls), and Odoo shows the operator those pages: the transient message
Odoo sends on the operator's bus after the visitor's side answered (``_send_history_message`` /
``_bus_send_history_message``). For each reply path that can see the request: the addon's webhook
(``livechat.history_requested``), the session's bus socket, its HTTP twin (poll mode's
peek_notifications) and the shared user socket."""
from __future__ import annotations

import asyncio
import json
import time
import uuid

import aiohttp
import pytest

from tests.conftest import Client
from tests.odoo.livechat import live_conversation
from tests.odoo.test_addon_live import relay_for_addon
from tests.odoo.test_shared_bus_live import relay_env, shared_user


def operator_bus(odoo) -> list[dict]:
    """What Odoo's bus holds for the logged-in operator (the last 50 s), as their web client reads it."""
    result = odoo.call("/websocket/peek_notifications", {"channels": [], "last": 0, "is_first_poll": True}, odoo.web)
    return result.get("notifications") or []


def history_shown(odoo, marker: str) -> str | None:
    """The body of the transient message that shows the operator pages with ``marker``, if any."""
    for note in operator_bus(odoo):
        message = note.get("message") or {}
        if "transient_message" in str(message.get("type")) and marker in json.dumps(message.get("payload")):
            return json.dumps(message["payload"])
    return None


async def ask_until_shown(odoo, channel_id: int, marker: str, timeout: float = 40) -> str:
    """The operator runs /history (again every 7 s: a bus socket may still be connecting) until Odoo
    shows the pages."""
    deadline, asked = time.monotonic() + timeout, 0.0
    while time.monotonic() < deadline:
        if time.monotonic() - asked > 7:
            odoo.execute("discuss.channel", "execute_command_history", [[channel_id]])
            asked = time.monotonic()
        await asyncio.sleep(1)
        if shown := history_shown(odoo, marker):
            return shown
    raise AssertionError(f"Odoo never showed the operator the visitor's pages ({marker})")


def the_operator_is_admin(odoo, channel_id: int) -> None:
    row = odoo.execute("discuss.channel", "read", [[channel_id], ["livechat_operator_id"]])[0]
    admin = odoo.execute("res.users", "read", [[odoo.uid], ["partner_id"]])[0]["partner_id"][0]
    if row["livechat_operator_id"][0] != admin:
        pytest.skip("another operator took the session: this test needs the logged-in user to be it")


async def visit(client: Client, conv: dict, marker: str) -> list[str]:
    pages = [f"https://shop.example/{marker}/", f"https://shop.example/{marker}/products/1?colour=red",
             f"https://shop.example/{marker}/cart#pay"]
    status, _, headers = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/pages", conv["token"],
                                           json={"pages": [{"url": pages[0], "title": "Shop"},
                                                           {"url": f"javascript:alert('{marker}-evil')"},
                                                           {"url": pages[1], "title": "Red"}]})
    assert status == 204 and headers["X-Pages-Kept"] == "2"
    status, _, _ = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/pages", conv["token"],
                                     json={"url": pages[2], "title": "Cart"})
    assert status == 204
    return pages


def assert_shows(shown: str, pages: list[str], marker: str) -> None:
    for page in pages:
        assert page in shown, (page, shown)
    assert f"{marker}-evil" not in shown
    order = [shown.index(p) for p in pages]
    assert order == sorted(order), shown


@pytest.mark.parametrize("mode", ["webhook", "bus", "poll"])
async def test_the_operators_history_command_shows_the_visitors_pages(odoo, tmp_path, mode):
    marker = "p" + uuid.uuid4().hex[:10]
    env = {"RELAY_ODOO_POLL_INTERVAL": "1"} if mode == "poll" else {}
    async with live_conversation(odoo, tmp_path, "Pages live " + mode, mode=mode, **env) as (client, conv, channel_id):
        the_operator_is_admin(odoo, channel_id)
        pages = await visit(client, conv, marker)
        assert_shows(await ask_until_shown(odoo, channel_id, marker), pages, marker)


async def test_the_history_command_through_the_shared_socket(odoo, tmp_path):
    shared_user(odoo)
    odoo.operator_online()
    marker = "s" + uuid.uuid4().hex[:10]
    with relay_for_addon(odoo, tmp_path, relay_env(odoo), enabled=False) as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create(visitor_name="Pages live shared bus")
            channel_id = await client.channel_of(conv["conversation_id"])
            the_operator_is_admin(odoo, channel_id)
            pages = await visit(client, conv, marker)
            assert_shows(await ask_until_shown(odoo, channel_id, marker), pages, marker)
