"""What a visitor expects around the messages (issue 13, item 8), in Chromium: local message times
with a day line; an unread counter on the launcher, in its label and in the page title while the
panel is closed; a chime once the visitor has interacted with the page, never with data-sound=false."""
from __future__ import annotations

import re

from tests.widget.conftest import Shop


def test_times_day_line_unread_counter_title_and_chime(context, relay):
    shop = Shop(context, relay).open()
    page = shop.page
    shop.send("hello")
    shop.wait_status("connected")
    shop.operator("reply", text="first")
    shop.wait_bubbles("operator", ["first"])
    times = page.locator(".log li.operator time.at")
    assert re.fullmatch(r"\d\d:\d\d( [AP]M)?", times.first.text_content().strip()), times.first.text_content()   # local, the visitor's format
    assert page.locator(".log li.day").count() == 1 and page.locator(".log li.day").text_content() == "Today"
    assert page.locator(".launcher .badge").is_hidden()
    page.locator("header button[aria-label='Close chat']").click()           # a click: sound allowed now
    for text in ("second", "third"):
        shop.operator("reply", text=text)
    page.wait_for_function("document.title === '(2) Shop'", timeout=10000)
    badge = page.locator(".launcher .badge")
    assert badge.text_content() == "2" and badge.is_visible()
    assert page.locator(".launcher").get_attribute("aria-label") == "Open chat — 2 unread"
    assert page.evaluate("OdooLivechatRelay.widget.beeps") == 2
    shop.screenshot("unread")
    page.locator(".launcher").click()
    page.wait_for_function("document.title === 'Shop'", timeout=5000)
    assert badge.is_hidden() and page.locator(".launcher").get_attribute("aria-label") == "Close chat"
    assert page.locator(".log li.day").count() == 1                          # one day, one line


def test_no_chime_when_the_page_says_so(context, relay):
    shop = Shop(context, relay, sound="false").open()
    shop.send("hello")
    shop.wait_status("connected")
    shop.page.locator("header button[aria-label='Close chat']").click()
    shop.operator("reply", text="quiet")
    shop.page.wait_for_function("document.title === '(1) Shop'", timeout=10000)
    assert shop.page.evaluate("OdooLivechatRelay.widget.beeps") == 0
