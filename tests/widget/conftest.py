"""Browser fixtures: Debian's Chromium driven by Playwright, and a relay in demo mode.

The widget is embedded in a page of another origin (a small shop server on another loopback
port), as a customer would embed it; the relay allows that origin. Both sit on loopback because
Chromium refuses public pages that reach into loopback (Local Network Access).
"""
from __future__ import annotations

import http.server
import json
import os
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.relayproc import RelayProcess, free_port

from tests.conftest import CHROMIUM  # noqa: F401 (the browser fixture is in tests/conftest.py: one Chromium per session)
SHOP_PORT = free_port()
SHOP = f"http://127.0.0.1:{SHOP_PORT}"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


class ShopHandler(http.server.BaseHTTPRequestHandler):
    """Serves the page set by the current test, whatever the path."""
    page = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(ShopHandler.page)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def shop_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", SHOP_PORT), ShopHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture
def relay(tmp_path, shop_server):
    proc = RelayProcess(tmp_path, env={"RELAY_ALLOWED_ORIGINS": SHOP}).start()
    yield proc
    proc.stop()


def shop_page(relay_url: str, **data: str) -> str:
    attrs = " ".join(f'data-{k.replace("_", "-")}="{v}"' for k, v in {"relay": relay_url, "open": "true", **data}.items())
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title></head>
<body><h1>Shop</h1><script>window.statusLog = [];
document.addEventListener("livechat-relay:status", e => window.statusLog.push(e.detail));</script>
<script src="{relay_url}/widget.js" {attrs}></script></body></html>"""


class Shop:
    """A page embedding the widget, plus the demo console's operator actions."""

    def __init__(self, context, relay: RelayProcess, **data: str):
        self.context, self.relay, self.data = context, relay, data
        self.page = context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        ShopHandler.page = shop_page(relay.url, **data).encode()

    def open(self) -> "Shop":
        self.page.goto(SHOP + "/")
        self.page.wait_for_selector("[data-livechat-relay] .panel:not([hidden])")
        return self

    def status(self) -> str:
        return self.page.locator(".status").get_attribute("data-status")

    def wait_status(self, status: str, timeout: float = 20) -> None:
        self.page.wait_for_selector(f'.status[data-status="{status}"]', timeout=timeout * 1000)

    def send(self, text: str) -> None:
        self.page.locator("textarea").fill(text)
        self.page.locator("textarea").press("Enter")

    def conversation(self) -> dict:
        return self.stored()["conv"]

    def stored(self) -> dict:
        """What the widget keeps for every tab of the site (localStorage)."""
        raw = self.page.evaluate("""() => { for (let i = 0; i < localStorage.length; i++) {
            const k = localStorage.key(i); if (k.startsWith("olr:")) return localStorage.getItem(k); } }""")
        return json.loads(raw)

    def operator(self, action: str, **body) -> dict:
        body.setdefault("conversation_id", self.conversation()["conversation_id"])
        req = urllib.request.Request(f"{self.relay.url}/demo/api/{action}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def bubbles(self, kind: str | None = None) -> list[str]:
        selector = ".log li" + (f".{kind}" if kind else "") + ":not(.note) .body"
        return self.page.locator(selector).all_text_contents()

    def wait_bubbles(self, kind: str, expected: list[str], timeout: float = 20) -> None:
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.bubbles(kind) == expected:
                return
            self.page.wait_for_timeout(100)
        assert self.bubbles(kind) == expected

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"widget-{name}.png"))


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1000, "height": 760})
    yield ctx
    ctx.close()
