"""The widget in Chromium when the relay lost an event it had shown: the relay publishes an event
as soon as it has its seq, before its commit, and a crash in between loses it. On reconnect the
hello says ``reset``; the widget starts over from the replay: the lost event is gone, the one that
took its seq is shown, nothing twice (issue 18)."""
from __future__ import annotations

import contextlib
import json
import threading
import urllib.request

from tests.relayproc import RelayProcess
from tests.widget.conftest import SHOP, Shop

HELD = "held reply"


def test_an_event_shown_then_lost_in_a_crash_is_replaced_not_doubled(context, tmp_path, shop_server):
    relay = RelayProcess(tmp_path, env={"RELAY_ALLOWED_ORIGINS": SHOP, "RELAY_TEST_HOLD_COMMIT": HELD}).start()
    try:
        shop = Shop(context, relay).open()
        shop.send("hello")
        shop.wait_status("connected")
        shop.operator("reply", text="reply 1")
        shop.wait_bubbles("operator", ["reply 1"])
        conversation_id = shop.conversation()["conversation_id"]

        def held() -> None:   # its commit never comes: the relay is killed first (no page access here)
            body = json.dumps({"conversation_id": conversation_id, "text": HELD}).encode()
            req = urllib.request.Request(f"{relay.url}/demo/api/reply", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            with contextlib.suppress(Exception):
                urllib.request.urlopen(req, timeout=30).read()
        threading.Thread(target=held, daemon=True).start()
        shop.wait_bubbles("operator", ["reply 1", HELD])           # shown before its commit
        relay.kill()
        shop.wait_status("error", timeout=10)
        del relay.env["RELAY_TEST_HOLD_COMMIT"]
        relay.start()
        shop.operator("reply", text="after the crash", conversation_id=conversation_id)   # takes its seq
        shop.page.wait_for_function("window.OdooLivechatRelay.status === 'connected'", timeout=40000)
        shop.wait_bubbles("operator", ["reply 1", "after the crash"], timeout=20)
        assert shop.bubbles("visitor") == ["hello"]
        shop.operator("reply", text="and then", conversation_id=conversation_id)
        shop.wait_bubbles("operator", ["reply 1", "after the crash", "and then"])
    finally:
        relay.stop()
