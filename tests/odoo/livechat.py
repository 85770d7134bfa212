"""One conversation through a relay against the real Odoo, for the live tests of the visitor
features: the relay started (its reply path ``mode``), an operator online, the conversation opened
as a visitor would; ``answered`` waits for an operator message on the relay's WebSocket."""
from __future__ import annotations

import contextlib

import aiohttp

from tests.conftest import Client
from tests.odoo.test_addon_live import next_event, relay_for_addon


@contextlib.asynccontextmanager
async def live_conversation(odoo, tmp_path, visitor_name: str, mode: str = "webhook", **env: str):
    settings = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": mode,
                "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), **env}
    odoo.operator_online()
    with relay_for_addon(odoo, tmp_path, settings, enabled=mode == "webhook") as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create(visitor_name=visitor_name)
            yield client, conv, await client.channel_of(conv["conversation_id"])


async def answered(odoo, client: Client, conv: dict, channel_id: int, *bodies: str) -> list[tuple[int, dict]]:
    """The operator posts each of ``bodies`` in Odoo; (Odoo id, the relay's event) of each."""
    out = []
    async with client.ws(conv, after=0) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        for body in bodies:
            message_id = odoo.operator_reply(channel_id, body)
            event = await next_event(ws, {"message"}, timeout=15)
            while event["message"]["id"] != f"odoo:{message_id}":
                event = await next_event(ws, {"message"}, timeout=15)
            out.append((message_id, event))
    return out
