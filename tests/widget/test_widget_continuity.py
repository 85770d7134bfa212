"""Continuity in Chromium (issue 13, item 5): the conversation survives closing the browser (its
storage kept, as a restarted browser keeps localStorage), every tab of the site shows it live and
follows when another tab ends it or starts a new one; the operator's picture is shown beside their
name; the next conversation carries the relay's ``visitor`` value."""
from __future__ import annotations

import json
import sqlite3

from tests.widget.conftest import Shop


def test_the_conversation_survives_a_browser_restart(browser, relay):
    first = browser.new_context(viewport={"width": 1000, "height": 760})
    shop = Shop(first, relay).open()
    shop.send("hello before the restart")
    shop.wait_status("connected")
    shop.operator("reply", text="Hi, I am here")
    shop.wait_bubbles("operator", ["Hi, I am here"])
    conv = shop.conversation()
    saved = first.storage_state()            # what the browser keeps on disk: localStorage, cookies
    first.close()

    again = browser.new_context(viewport={"width": 1000, "height": 760}, storage_state=saved)
    try:
        shop = Shop(again, relay).open()
        shop.wait_bubbles("visitor", ["hello before the restart"])
        shop.wait_bubbles("operator", ["Hi, I am here"])
        shop.wait_status("connected")
        assert shop.conversation()["conversation_id"] == conv["conversation_id"]
        shop.operator("reply", text="Welcome back", conversation_id=conv["conversation_id"])
        shop.wait_bubbles("operator", ["Hi, I am here", "Welcome back"])
        face = shop.page.locator(".log li.operator .who img").first
        assert face.get_attribute("src").startswith(relay.url + "/v1/avatars/" + conv["conversation_id"] + "/")
        assert face.get_attribute("alt") == ""                        # the name beside it says who
        shop.page.wait_for_function("""() => { const w = document.querySelector('[data-livechat-relay]');
            const img = w.shadowRoot.querySelector('.who img'); return img && img.complete && img.naturalWidth > 0; }""")
        shop.screenshot("continuity-after-restart")
    finally:
        again.close()


def test_an_expired_conversation_is_not_brought_back(browser, relay):
    first = browser.new_context()
    shop = Shop(first, relay).open()
    shop.send("old one")
    shop.wait_status("connected")
    shop.page.evaluate("""() => { for (let i = 0; i < localStorage.length; i++) { const k = localStorage.key(i);
        if (k.startsWith("olr:")) { const s = JSON.parse(localStorage.getItem(k)); s.conv.expires_at = 1;
        localStorage.setItem(k, JSON.stringify(s)); } } }""")
    saved = first.storage_state()
    first.close()
    again = browser.new_context(storage_state=saved)
    try:
        shop = Shop(again, relay).open()
        shop.page.wait_for_timeout(800)
        assert shop.bubbles() == [] and shop.status() == "idle"
    finally:
        again.close()


def test_every_tab_shows_the_conversation_and_follows_the_others(context, relay):
    one = Shop(context, relay).open()
    one.send("from tab one")
    one.wait_status("connected")
    two = Shop(context, relay).open()                 # a second tab of the same site
    two.wait_bubbles("visitor", ["from tab one"])
    two.wait_status("connected")
    two.send("from tab two")
    one.wait_bubbles("visitor", ["from tab one", "from tab two"])
    one.operator("reply", text="I see both")
    one.wait_bubbles("operator", ["I see both"])
    two.wait_bubbles("operator", ["I see both"])
    first = one.conversation()
    assert two.conversation()["conversation_id"] == first["conversation_id"]
    two.screenshot("continuity-second-tab")

    one.page.locator("button.end").click()            # ended in tab one (rating skipped)
    one.page.locator(".rate button.skip").click()
    one.page.locator(".log li.note", has_text="The conversation has ended.").wait_for()
    two.page.locator(".log li.note", has_text="The conversation has ended.").wait_for()
    one.page.locator(".log button.action", has_text="New chat").click()
    two.page.wait_for_function("""() => document.querySelector('[data-livechat-relay]')?.shadowRoot
        .querySelectorAll('.log li').length === 0""")  # tab two follows: a fresh start

    two.send("a new one from tab two")
    two.wait_status("connected")
    one.wait_bubbles("visitor", ["a new one from tab two"])
    second = two.conversation()
    assert second["conversation_id"] != first["conversation_id"]
    assert one.conversation()["conversation_id"] == second["conversation_id"]
    one.wait_status("connected")
    # the returning visitor: the new conversation was opened with the previous one's visitor value,
    # so the relay knows the operator who answered before (asked of Odoo as previous_operator_id)
    db = sqlite3.connect(relay.db)
    try:
        (raw,) = db.execute("SELECT upstream FROM conversations WHERE id = ?", (second["conversation_id"],)).fetchone()
    finally:
        db.close()
    assert json.loads(raw)["previous_operator_id"] == 3            # the demo console's operator
    assert second["visitor"] != first["visitor"]
    assert two.stored()["visitor"] == one.stored()["visitor"] == second["visitor"]
