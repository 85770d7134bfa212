"""The store failing (disk full, file locked): clear 503s with Retry-After, /healthz says so,
nothing is acknowledged that was not stored, and the relay recovers when the store does.

Fault injection wraps the real SQLite store; the relay runs in-process on a loopback port.
"""
from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestServer

from proxy import signing
from proxy.app import make_app
from proxy.config import from_env
from proxy.errors import StoreError
from proxy.store.sqlite import SQLiteStore
from tests.relayproc import SECRET, new_webhook_id, operator_message, webhook_body


class FlakyStore:
    """The real SQLite store, except that every call fails while ``broken`` is set."""

    def __init__(self, inner: SQLiteStore):
        self.inner, self.broken = inner, False

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name in ("open", "close") or not callable(attr):
            return attr

        async def call(*args, **kwargs):
            if self.broken:
                raise StoreError("injected: disk I/O error")
            return await attr(*args, **kwargs)
        return call


async def test_store_down_gives_503_and_recovers(tmp_path):
    store = FlakyStore(SQLiteStore(str(tmp_path / "relay.db")))
    settings = from_env({"RELAY_WEBHOOK_SECRET": SECRET, "RELAY_SECRET": "k"})
    server = TestServer(make_app(settings, store=store), host="127.0.0.1")
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(base + "/v1/conversations", json={}) as r:
                conv = await r.json()
            channel = (await store.inner.get_conversation(conv["conversation_id"])).odoo_channel_id
            raw = webhook_body("livechat.message.created", channel, message=operator_message(1, "during outage"))
            hook_id = new_webhook_id()

            store.broken = True
            async with http.post(base + "/v1/webhooks/odoo", data=raw,
                                 headers=signing.headers_for([SECRET], hook_id, raw)) as r:
                assert r.status == 503 and int(r.headers["Retry-After"]) > 0
                assert (await r.json())["error"] == "store_unavailable"
            async with http.get(base + "/healthz") as r:
                body = await r.json()
                assert r.status == 503 and body["status"] == "unavailable" and "store" in body["problems"][0]
            async with http.post(base + "/v1/conversations", json={}) as r:
                assert r.status == 503
            auth = {"Authorization": "Bearer " + conv["token"]}
            async with http.get(base + f"/v1/conversations/{conv['conversation_id']}/events", headers=auth) as r:
                assert r.status == 503 and "Traceback" not in await r.text()

            store.broken = False            # the sender retries the same webhook id: stored once, now
            async with http.post(base + "/v1/webhooks/odoo", data=raw,
                                 headers=signing.headers_for([SECRET], hook_id, raw)) as r:
                assert r.status == 200 and (await r.json())["status"] == "stored"
            async with http.get(base + "/healthz") as r:
                assert r.status == 200
            replay = await store.inner.events_after(conv["conversation_id"], 0)
            assert [e["type"] for e in replay.events] == ["status", "message"]
    finally:
        await server.close()
