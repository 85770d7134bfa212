"""An operator with a livechat username (an alias) is shown to visitors by that name only, on
every reply path (the addon's webhooks, the bus, polling as the guest, polling with credentials):
the real name must appear nowhere in what the widget receives (issue 13, item 6)."""
from __future__ import annotations

import asyncio
import json
import os
import time

import aiohttp
import pytest

from tests.conftest import Client
from tests.odoo.test_addon_live import next_event, relay_for_addon

pytestmark = pytest.mark.odoo
ALIAS = "Sam from Support"


@pytest.fixture
def alias(odoo):
    """The logged-in operator gets an alias; put back afterwards."""
    before = odoo.execute("res.users", "read", [[odoo.uid], ["name", "livechat_username"]])[0]
    odoo.execute("res.users", "write", [[odoo.uid], {"livechat_username": ALIAS}])
    try:
        yield before["name"]
    finally:
        odoo.execute("res.users", "write", [[odoo.uid], {"livechat_username": before["livechat_username"] or False}])


@pytest.mark.parametrize("path", ["webhook", "bus", "poll", "poll_credentials"])
async def test_the_alias_is_the_only_operator_name_a_visitor_receives(odoo, tmp_path, alias, path):
    real_name = alias
    assert real_name and real_name != ALIAS
    mode = "poll" if path == "poll_credentials" else path
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": mode,
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), "RELAY_ODOO_POLL_INTERVAL": "0.5"}
    if path == "poll_credentials":
        key = os.environ.get("ODOO_API_KEY")
        if key and odoo.major >= 19:
            env["RELAY_ODOO_API_KEY"] = key
        else:
            env.update(RELAY_ODOO_LOGIN=odoo.login, RELAY_ODOO_PASSWORD=odoo.password)
    odoo.operator_online()
    with relay_for_addon(odoo, tmp_path, env, enabled=path == "webhook") as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create(visitor_name="Visitor meeting an alias")
            channel_id = await client.channel_of(conv["conversation_id"])
            async with client.ws(conv, after=0) as ws:
                frames = [await ws.receive_json(timeout=5)]
                await asyncio.sleep(1.5 if mode == "bus" else 0)          # subscribed
                odoo.operator_reply(channel_id, "<p>Hello from an alias</p>")
                reply = await next_event(ws, {"message"}, timeout=20)
                frames.append(reply)
            assert reply["message"]["author"] == {**reply["message"]["author"], "kind": "operator", "name": ALIAS}
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                events = (await client.events(conv))["events"]
                if any(e["type"] == "message" for e in events):
                    break
                await asyncio.sleep(0.2)
            received = json.dumps([conv, frames, events], ensure_ascii=False)
            assert ALIAS in received
            for part in real_name.split():
                assert part not in received, f"the operator's real name ({part!r}) reached the visitor"
