"""End to end on a real Odoo: an operator's reply, edit and the visitor leaving travel from the
addon's outbox, after COMMIT, as signed webhooks into a real relay, and out to a widget's WebSocket.

The relay binds a conversation to an Odoo session itself once the Odoo client lands; here the test
binds its demo conversation to the real Odoo session in the relay's store, and everything after
that is the production path.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
import urllib.request

import aiohttp
import pytest

from tests.conftest import Client
from tests.relayproc import RelayProcess

pytestmark = pytest.mark.odoo


def endpoint(odoo):
    return odoo.execute("livechat.webhook.endpoint", "search_read", [[]],
                        {"fields": ["id", "url", "enabled", "secret"], "limit": 1})[0]


@contextlib.contextmanager
def relay_for_addon(odoo, tmp_path, env: dict | None = None, enabled: bool = True):
    """A relay holding the addon's webhook secret, the addon pointed at it (or switched off);
    the addon's settings are put back afterwards."""
    before = endpoint(odoo)
    relay = RelayProcess(tmp_path, env={"RELAY_WEBHOOK_SECRET": before["secret"], **(env or {})}).start()
    odoo.execute("livechat.webhook.endpoint", "write", [[before["id"]], {
        "url": relay.url + "/v1/webhooks/odoo", "enabled": enabled}])
    try:
        yield relay
    finally:
        odoo.execute("livechat.webhook.endpoint", "write", [[before["id"]], {
            "url": before["url"] or False, "enabled": before["enabled"]}])
        relay.stop()


@pytest.fixture
def wired(odoo, tmp_path):
    """A relay whose webhook secret is the addon's, and the addon pointed at that relay."""
    with relay_for_addon(odoo, tmp_path) as relay:
        yield relay


def bind(relay: RelayProcess, conversation_id: str, database: str, channel_id: int) -> None:
    db = sqlite3.connect(relay.db)
    with db:
        db.execute("UPDATE conversations SET odoo_database = ?, odoo_channel_id = ? WHERE id = ?",
                   (database, channel_id, conversation_id))
    db.close()


async def next_event(ws, kinds: set[str], timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = await ws.receive_json(timeout=max(0.1, deadline - time.monotonic()))
        if frame["type"] == "event" and frame["event"]["type"] in kinds:
            return frame["event"]


async def test_operator_reply_edit_and_close_reach_the_widget(odoo, wired):
    odoo.operator_online()
    channel_id, guest_token = odoo.visitor_session("Relay live test")
    async with aiohttp.ClientSession() as http:
        client = Client(wired, http)
        conv = await client.create(visitor_name="Relay live test")
        bind(wired, conv["conversation_id"], odoo.db, channel_id)
        async with client.ws(conv, after=1) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            sent_at = time.monotonic()
            message_id = odoo.operator_reply(channel_id, "<p>Hello from <b>real</b> Odoo</p>")
            event = await next_event(ws, {"message"})
            print(f"operator reply → widget: {(time.monotonic() - sent_at) * 1000:.0f} ms")
            msg = event["message"]
            assert msg["id"] == f"odoo:{message_id}"
            assert msg["author"]["kind"] == "operator"
            assert msg["text"] == "Hello from real Odoo"
            assert "<b>real</b>" in msg["html"]

            odoo.operator_edit(message_id, "<p>Hello again</p>")
            edited = await next_event(ws, {"message_updated"})
            assert edited["message"]["id"] == f"odoo:{message_id}" and "Hello again" in edited["message"]["text"]

            odoo.visitor_leave(channel_id, guest_token)
            closed = await next_event(ws, {"closed"})
            assert closed["by"] == "odoo"
    # the widget sees an event as soon as it has its seq; the addon records the relay's 2xx a moment
    # later, in its delivery thread's own transaction
    rows = await wait_rows(odoo, channel_id, lambda rows: bool(rows) and all(
        r["state"] == "sent" and r["last_status_code"] == 200 for r in rows), timeout=10)
    assert rows and all(r["state"] == "sent" and r["last_status_code"] == 200 for r in rows), rows
    types = [r["event_type"] for r in rows]
    for expected in ("livechat.message.created", "livechat.message.updated", "livechat.session.closed"):
        assert expected in types, types


async def test_send_test_event_button_against_the_relay(odoo, wired):
    ep = endpoint(odoo)
    action = odoo.execute("livechat.webhook.endpoint", "action_send_test", [[ep["id"]]])
    assert action["params"]["type"] == "success", action
    assert "HTTP 200" in action["params"]["message"]
    with urllib.request.urlopen(wired.url + "/metrics") as resp:
        assert 'relay_webhooks_total{result="test"} 1.0' in resp.read().decode()


async def test_wrong_secret_is_refused_held_in_order_and_retried(odoo, wired):
    """Signed with another secret: the relay says 401, the addon keeps the event, later events of
    that session wait behind it, and a retry by hand once the secret is fixed delivers them all."""
    ep = endpoint(odoo)
    odoo.execute("livechat.webhook.endpoint", "write", [[ep["id"]], {"secret": "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"}])
    try:
        odoo.operator_online()
        channel_id, _token = odoo.visitor_session("Wrong secret")
        message_id = odoo.operator_reply(channel_id, "<p>kept for later</p>")
        rows = await wait_rows(odoo, channel_id, lambda rows: rows and rows[0]["attempts"] >= 1)
        head, *rest = rows
        assert head["state"] == "failed" and head["last_status_code"] == 401, rows
        assert all(r["state"] == "pending" and r["attempts"] == 0 for r in rest), rows
    finally:
        odoo.execute("livechat.webhook.endpoint", "write", [[ep["id"]], {"secret": ep["secret"]}])
    odoo.execute("livechat.webhook.outbox", "action_retry", [[head["id"]]])
    rows = await wait_rows(odoo, channel_id, lambda rows: all(r["state"] == "sent" for r in rows))
    assert all(r["state"] == "sent" for r in rows), rows
    created = [r for r in rows if r["event_type"] == "livechat.message.created"]
    assert len(created) == 1 and json.loads(created[0]["payload"])["data"]["message"]["id"] == message_id


async def wait_rows(odoo, channel_id, done, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows = odoo.execute("livechat.webhook.outbox", "search_read", [[["session_key", "=", channel_id]]],
                            {"fields": ["event_type", "state", "last_status_code", "attempts", "payload"], "order": "id"})
        if done(rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.3)


def test_info_route_says_the_addon_is_installed(odoo):
    with urllib.request.urlopen(odoo.url + "/im_livechat_webhook/info", timeout=10) as resp:
        info = json.loads(resp.read())
    assert info["addon"] == "im_livechat_webhook" and info["odoo_version"] == odoo.version
    assert "secret" not in json.dumps(info).lower() or "whsec_" not in json.dumps(info)
