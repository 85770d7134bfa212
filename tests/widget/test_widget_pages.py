"""The visitor's page history (issue 15 item 5) in Chromium: the page load and single-page-app
navigations (pushState, replaceState, hashchange, popstate) are kept before a conversation exists
and sent when it starts, later ones as they happen, a repeated URL once; the demo console's
operator asks for the history (as ``/history`` in Odoo) and gets those pages."""
from __future__ import annotations

import json
import sqlite3
import time
import urllib.request

from tests.widget.conftest import SHOP, Shop


def pages_kept(relay, conversation_id: str) -> list[str]:
    db = sqlite3.connect(relay.db)
    try:
        raw = db.execute("SELECT upstream FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0]
    finally:
        db.close()
    return [p["url"] for p in (json.loads(raw) if raw else {}).get("pages", [])]


def wait_pages(relay, conversation_id: str, expected: list[str], timeout: float = 8) -> None:
    deadline = time.monotonic() + timeout
    while pages_kept(relay, conversation_id) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pages_kept(relay, conversation_id) == expected


def test_spa_navigations_reach_the_relay_and_the_operators_history(context, relay):
    shop = Shop(context, relay).open()
    page = shop.page
    page.evaluate("""() => { document.title = "Product 1"; history.pushState({}, "", "/products/1"); }""")
    page.wait_for_timeout(500)
    page.evaluate("""() => history.replaceState({}, "", "/products/1")""")     # the same URL: once
    page.evaluate("""() => { location.hash = "reviews"; }""")
    page.wait_for_timeout(500)
    before = [SHOP + "/", SHOP + "/products/1", SHOP + "/products/1#reviews"]
    assert [p["url"] for p in shop.stored()["pages"]] == before     # kept before any conversation
    shop.send("hello")
    shop.wait_status("connected")
    conversation_id = shop.conversation()["conversation_id"]
    wait_pages(relay, conversation_id, before)
    page.evaluate("""() => history.pushState({}, "", "/cart")""")
    wait_pages(relay, conversation_id, before + [SHOP + "/cart"])
    page.go_back()                                                     # popstate
    wait_pages(relay, conversation_id, before + [SHOP + "/cart", SHOP + "/products/1#reviews"])
    shop.operator("history")
    with urllib.request.urlopen(relay.url + "/demo/api/state", timeout=10) as resp:
        answered = json.loads(resp.read())["page_history"][conversation_id]
    assert answered == before + [SHOP + "/cart", SHOP + "/products/1#reviews"]
