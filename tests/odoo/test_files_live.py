"""Operator files through the relay on real Odoo (issue 13, item 2), on every reply path: the
operator attaches an image and a PDF in Odoo; the widget gets relay URLs only (no Odoo URL, no
access token), and those URLs stream the very bytes Odoo keeps, as the conversation's guest."""
from __future__ import annotations

import asyncio
import base64
import json
import time

import aiohttp
import pytest

from tests.conftest import Client
from tests.odoo.test_addon_live import next_event, relay_for_addon

pytestmark = pytest.mark.odoo
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def operator_files_reply(odoo, channel_id: int, text: str) -> tuple[int, list[int]]:
    ids = [odoo.execute("ir.attachment", "create", [{
        "name": name, "datas": base64.b64encode(data).decode(), "mimetype": mimetype,
        "res_model": "discuss.channel", "res_id": channel_id}])
        for name, mimetype, data in (("photo.png", "image/png", PNG), ("invoice.pdf", "application/pdf", PDF))]
    ids = [i[0] if isinstance(i, list) else i for i in ids]
    result = odoo.execute("discuss.channel", "message_post", [[channel_id]], {
        "body": f"<p>{text}</p>", "body_is_html": True, "message_type": "comment",
        "subtype_xmlid": "mail.mt_comment", "attachment_ids": ids})
    return (result[0] if isinstance(result, list) else result), ids


@pytest.mark.parametrize("mode", ["webhook", "bus", "poll"])
async def test_operator_files_reach_the_widget_through_the_relay_only(odoo, tmp_path, mode):
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": mode,
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), "RELAY_ODOO_POLL_INTERVAL": "1"}
    odoo.operator_online()
    with relay_for_addon(odoo, tmp_path, env, enabled=mode == "webhook") as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create(visitor_name=f"Files by {mode}")
            channel_id = await client.channel_of(conv["conversation_id"])
            async with client.ws(conv, after=0) as ws:
                assert (await ws.receive_json(timeout=5))["type"] == "hello"
                await asyncio.sleep(1.5 if mode == "bus" else 0)          # subscribed
                message_id, ids = operator_files_reply(odoo, channel_id, "two files")
                reply = await next_event(ws, {"message"}, timeout=20)
                while reply["message"]["id"] != f"odoo:{message_id}":
                    reply = await next_event(ws, {"message"}, timeout=20)
            attachments = reply["message"]["attachments"]
            assert [(a["id"], a["name"], a["mimetype"]) for a in attachments] == [
                (ids[0], "photo.png", "image/png"), (ids[1], "invoice.pdf", "application/pdf")]
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                events = (await client.events(conv))["events"]
                if any(e["type"] == "message" and e["message"]["attachments"] for e in events):
                    break
                await asyncio.sleep(0.2)
            received = json.dumps([reply, events])
            assert odoo.url not in received and "access_token" not in received and "/web/content" not in received
            for att, data in zip(attachments, (PNG, PDF)):
                assert att["url"].startswith(f"/v1/files/{conv['conversation_id']}/{att['id']}?exp=")
                async with http.get(relay.url + att["url"]) as r:
                    assert r.status == 200, await r.text()
                    assert await r.read() == data
                    assert r.headers["Content-Type"] == att["mimetype"]
                    assert r.headers["X-Content-Type-Options"] == "nosniff"
            async with http.get(relay.url + attachments[0]["thumbnail_url"]) as r:   # Odoo's own resized image
                assert r.status == 200 and r.headers["Content-Type"].startswith("image/")
            # a file of this Odoo that is not on this session: the signature may be right, Odoo says no
            stranger = odoo.execute("ir.attachment", "create", [{"name": "elsewhere.pdf", "datas": base64.b64encode(PDF).decode(),
                                                                 "res_model": "res.partner", "res_id": 1}])
            stranger = stranger[0] if isinstance(stranger, list) else stranger
            from proxy import files
            from tests.relayproc import TOKEN_SECRET
            url = files.url(files.derive_key(TOKEN_SECRET.encode()), conv["conversation_id"], stranger, 60)
            async with http.get(relay.url + url) as r:
                assert r.status == 404 and (await r.json())["error"] == "file_not_found"
