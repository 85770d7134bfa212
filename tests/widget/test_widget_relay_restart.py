"""A relay restart (a deploy) in Chromium (issue 16's transport rule): the widget keeps its WebSocket
as the transport while nothing answers, retries it with backoff, and is back on it within seconds
of the relay answering, never through long or 3 s polling; a reload starts on the WebSocket. (A
WebSocket blocked while HTTP works still falls back: test_widget_browser.py.)"""
from __future__ import annotations

import time

from tests.widget.conftest import Shop

MODE = "window.OdooLivechatRelay.mode"


def test_a_relay_restart_keeps_the_websocket(context, relay):
    shop = Shop(context, relay).open()
    shop.send("before the restart")
    shop.wait_status("connected")
    assert shop.page.evaluate(MODE) == "ws"
    for _ in range(3):                                   # three deploys in a row
        relay.stop()
        shop.wait_status("error")
        shop.page.wait_for_timeout(3000)                 # down for 3 s: every attempt fails
        assert shop.page.evaluate(MODE) == "ws"
        relay.start()
        back = time.monotonic()
        shop.wait_status("connected", timeout=15)
        assert time.monotonic() - back < 10
        assert shop.page.evaluate(MODE) == "ws"
    seen = shop.page.evaluate("window.statusLog.map(s => s.status || s)")
    assert "polling" not in seen, seen
    shop.operator("reply", text="after the restarts")
    shop.wait_bubbles("operator", ["after the restarts"])
    shop.page.reload()
    shop.page.wait_for_selector("[data-livechat-relay] .panel:not([hidden])")
    shop.wait_status("connected")
    assert shop.page.evaluate(MODE) == "ws"
    shop.wait_bubbles("operator", ["after the restarts"])

