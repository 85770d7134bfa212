"""Visitor files on real Odoo (issue 13, item 1): uploaded through the relay, then posted with a
message; in Odoo the message is the guest's, with the files on the session (what the operator
sees in Discuss); the relay's URL gives the file back; a type Odoo would take but the relay does
not, and a file over the limit, reach Odoo not at all."""
from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.conftest import Client
from tests.odoo.test_addon_live import relay_for_addon
from tests.odoo.test_files_live import PDF, PNG
from tests.proxy.test_uploads import send, upload

pytestmark = pytest.mark.odoo


def guest_messages(odoo, channel_id: int) -> list[dict]:
    return odoo.execute("mail.message", "search_read", [[["model", "=", "discuss.channel"], ["res_id", "=", channel_id],
                                                         ["message_type", "=", "comment"], ["author_guest_id", "!=", False]]],
                        {"fields": ["body", "attachment_ids"], "order": "id"})


@pytest.mark.parametrize("mode", ["webhook", "bus"])
async def test_visitor_files_land_on_the_odoo_session_as_the_guests(odoo, tmp_path, mode):
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": mode,
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), "RELAY_ODOO_POLL_INTERVAL": "1",
           "RELAY_MAX_UPLOAD_BYTES": "200000"}
    odoo.operator_online()
    photos = odoo.execute("ir.attachment", "search_count", [[["name", "=", "photo.png"]]])
    with relay_for_addon(odoo, tmp_path, env, enabled=mode == "webhook") as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create(visitor_name=f"Files from the visitor by {mode}")
            channel_id = await client.channel_of(conv["conversation_id"])
            if odoo.major < 19:
                # 17 and 18 take visitor files only where the session allows public uploads (off by
                # default: Odoo's own widget shows no paperclip then): refused plainly, nothing sent
                status, body, _ = await upload(client, conv, "photo.png", PNG, "image/png")
                assert (status, body["error"]) == (409, "not_offered"), body
                assert odoo.execute("ir.attachment", "search_count", [[["name", "=", "photo.png"]]]) == photos
                odoo.execute("discuss.channel", "write", [[channel_id], {"allow_public_upload": True}])
            ids = []
            for name, data, declared in (("photo.png", PNG, "image/png"), ("invoice.pdf", PDF, "application/pdf")):
                status, body, _ = await upload(client, conv, name, data, declared)
                assert status == 201, body
                ids.append(body["attachment"]["id"])
            # refused before Odoo hears of them
            assert (await upload(client, conv, "page.html", b"<html></html>", "text/html"))[0] == 415
            assert (await upload(client, conv, "big.png", PNG + b"\0" * 300000, "image/png"))[0] == 413
            status, body, _ = await send(client, conv, "c-files", "two files", ids)
            assert status == 201, body
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not guest_messages(odoo, channel_id):
                await asyncio.sleep(0.3)
            (msg,) = guest_messages(odoo, channel_id)
            assert msg["body"] == "<p>two files</p>" and sorted(msg["attachment_ids"]) == sorted(ids)
            files = odoo.execute("ir.attachment", "read", [ids, ["name", "res_model", "res_id", "mimetype"]])
            assert {(f["name"], f["res_model"], f["res_id"]) for f in files} == {
                ("photo.png", "discuss.channel", channel_id), ("invoice.pdf", "discuss.channel", channel_id)}
            on_session = odoo.execute("ir.attachment", "search_count", [[["res_model", "=", "discuss.channel"],
                                                                         ["res_id", "=", channel_id]]])
            assert on_session == 2                     # nothing of the refused ones
            for sent, data in zip(body["event"]["message"]["attachments"], (PNG, PDF)):
                async with http.get(relay.url + sent["url"]) as r:
                    assert r.status == 200 and await r.read() == data
            # a file-only message
            status, body, _ = await upload(client, conv, "second.png", PNG, "image/png")
            assert (await send(client, conv, "c-only", "", [body["attachment"]["id"]]))[0] == 201
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(guest_messages(odoo, channel_id)) < 2:
                await asyncio.sleep(0.3)
            assert guest_messages(odoo, channel_id)[1]["attachment_ids"] == [body["attachment"]["id"]]
            statuses = [e.get("status") for e in (await client.events(conv))["events"] if e["type"] == "status"]
            assert "not_delivered" not in statuses
