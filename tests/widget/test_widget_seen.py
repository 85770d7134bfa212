"""The widget tells the relay what the visitor has seen (issue 13, item 7): an operator's message
shown while the panel is open marks it seen; one that arrives while the panel is closed is marked
only once the visitor opens it."""
from __future__ import annotations

import json
import sqlite3
import time

from tests.widget.conftest import Shop


def seen_mark(relay, conversation_id: str) -> int | None:
    db = sqlite3.connect(relay.db)
    try:
        raw = db.execute("SELECT upstream FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0]
    finally:
        db.close()
    return (json.loads(raw) if raw else {}).get("seen_odoo_id")


def wait_mark(relay, conversation_id: str, expected, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while seen_mark(relay, conversation_id) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert seen_mark(relay, conversation_id) == expected


def test_seen_follows_what_the_visitor_has_in_front_of_them(context, relay):
    shop = Shop(context, relay).open()
    shop.send("hello")
    shop.wait_status("connected")
    conversation_id = shop.conversation()["conversation_id"]
    shop.operator("reply", text="first")
    shop.wait_bubbles("operator", ["first"])
    first = int(shop.page.locator(".log li.operator").last.get_attribute("data-message-id").split(":")[1])
    wait_mark(relay, conversation_id, first)
    shop.page.locator("header button[aria-label='Close chat']").click()   # panel closed: not seen
    shop.operator("reply", text="second")
    shop.page.wait_for_timeout(1500)
    assert seen_mark(relay, conversation_id) == first
    shop.page.locator(".launcher").click()
    shop.wait_bubbles("operator", ["first", "second"])
    second = int(shop.page.locator(".log li.operator").last.get_attribute("data-message-id").split(":")[1])
    wait_mark(relay, conversation_id, second)
