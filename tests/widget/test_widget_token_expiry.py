"""A visitor token expires (a real relay with a short RELAY_TOKEN_TTL): the relay closes the WebSocket
with 4401, or answers the HTTP poll 401; the widget says the conversation is over, stops using that
token, and the next message starts a new conversation whose events all show (counted from 1)."""
from __future__ import annotations

import re

import pytest

from tests.relayproc import RelayProcess
from tests.widget.conftest import SHOP, Shop

TTL = 6
ROOT = "document.querySelector('[data-livechat-relay]')?.shadowRoot"
NO_PENDING = f"{ROOT}.querySelectorAll('.log li.pending').length === 0"
WS_URL = re.compile(r".*/v1/conversations/.*/ws.*")


@pytest.fixture
def short_relay(tmp_path, shop_server):
    proc = RelayProcess(tmp_path, env={"RELAY_ALLOWED_ORIGINS": SHOP, "RELAY_TOKEN_TTL": str(TTL)}).start()
    yield proc
    proc.stop()


@pytest.mark.parametrize("transport", ["auto", "poll"])
def test_expired_token_starts_over(context, short_relay, transport):
    shop = Shop(context, short_relay, **({"transport": transport} if transport != "auto" else {}))
    created, sockets, closes = [], [], []
    shop.page.on("response", lambda r: created.append(r) if r.request.method == "POST"
                 and r.url.endswith("/v1/conversations") and r.status == 201 else None)

    def on_ws(ws):
        sockets.append(ws.url)
        ws.on("close", lambda _ws: closes.append(ws.url))
    shop.page.on("websocket", on_ws)
    shop.open()
    shop.send("before expiry")
    shop.wait_status("connected" if transport == "auto" else "polling")
    shop.wait_bubbles("visitor", ["before expiry"])
    first = shop.conversation()["conversation_id"]

    # the relay closes the socket with 4401 (or answers the poll 401) once the token expires
    shop.page.wait_for_selector(".log li.note:has-text('This conversation is no longer available')",
                                timeout=(TTL + 8) * 1000)
    shop.wait_status("idle", timeout=5)
    assert shop.conversation() is None                                   # the expired token is dropped
    tried = len(sockets)
    shop.page.wait_for_timeout(2000)
    assert len(sockets) == tried                                         # no reconnect with the dead token
    if transport == "auto":
        assert tried == 1 and closes == sockets
    assert shop.page.locator("form").is_visible()                        # the visitor can go on

    shop.send("after expiry")                                            # starts over: a new conversation
    shop.page.wait_for_function(NO_PENDING, timeout=10000)
    shop.wait_bubbles("visitor", ["before expiry", "after expiry"])
    ids = [r.json()["conversation_id"] for r in created]
    assert len(ids) == 2 and ids[0] == first and ids[1] != first
    # the new conversation's own events came through its stream (seq from 1, not after the old seq)
    shop.page.wait_for_selector(".log li.visitor[data-message-id]:has-text('after expiry')", timeout=10000)
    assert shop.page.locator(".log li.note", has_text="Waiting for an operator").count() == 2
