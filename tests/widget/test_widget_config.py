"""The widget follows GET /v1/config in Chromium (issue 15 item 2): Odoo's welcome text as the first
line, its button text as the launcher's name and its colour unless the page gives one; no launcher
on a hide_button rule (or, with data-offline="hide", while nobody is online); open by itself after
an auto_popup rule's timer, once per tab. The relay's config itself: tests/proxy, tests/odoo."""
from __future__ import annotations

import json
import time
import urllib.request

from tests.widget.conftest import Shop

HOST = "document.querySelector('[data-livechat-relay]')"


def with_config(shop: Shop, config: dict) -> None:
    """The relay's answer replaced by ``config`` (what Odoo's channel rules would say on this page)."""
    shop.page.route("**/v1/config?*", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(config),
        headers={"Access-Control-Allow-Origin": "*"}))


RULE = {"action": "display_button", "auto_popup_timer": 0, "chatbot": False}


def test_odoos_welcome_button_text_and_colour(context, relay):
    shop = Shop(context, relay, open="false")
    with_config(shop, {"available": True, "rule": RULE, "colors": {"button": "#123456"},
                       "texts": {"button": "Need help? Chat with us.", "welcome": "Hello, how may I help you?",
                                 "placeholder": "Ask us anything"}})
    shop.page.goto(shop_url())
    launcher = shop.page.locator(".launcher")
    launcher.wait_for()
    assert launcher.get_attribute("aria-label") == "Need help? Chat with us."
    assert "rgb(18, 52, 86)" in launcher.evaluate("b => getComputedStyle(b).backgroundColor")
    launcher.click()
    first = shop.page.locator(".log li").first
    assert first.text_content() == "Hello, how may I help you?"
    assert shop.page.locator("textarea").get_attribute("placeholder") == "Ask us anything"
    shop.send("hello")
    shop.wait_status("connected")
    shop.wait_bubbles("visitor", ["hello"])
    shop.screenshot("odoo-config")


def test_the_pages_own_colour_wins(context, relay):
    shop = Shop(context, relay, open="false", color="#aa0000")
    with_config(shop, {"available": True, "rule": RULE, "colors": {"button": "#123456"}, "texts": {}})
    shop.page.goto(shop_url())
    assert "rgb(170, 0, 0)" in shop.page.locator(".launcher").evaluate("b => getComputedStyle(b).backgroundColor")


def test_no_launcher_on_a_hide_button_rule(context, relay):
    shop = Shop(context, relay, open="false")
    with_config(shop, {"available": False, "rule": {**RULE, "action": "hide_button"}, "texts": {}, "colors": {}})
    shop.page.goto(shop_url())
    shop.page.wait_for_function(f"window.OdooLivechatRelay && {HOST}.hidden === true")
    assert not shop.page.locator(".launcher").is_visible()


def test_auto_popup_after_the_rules_timer_once_per_tab(context, relay):
    shop = Shop(context, relay, open="false")
    with_config(shop, {"available": True, "rule": {**RULE, "action": "auto_popup", "auto_popup_timer": 1},
                       "texts": {}, "colors": {}})
    started = time.monotonic()
    shop.page.goto(shop_url())
    shop.page.wait_for_selector("[data-livechat-relay] .panel:not([hidden])", timeout=5000)
    assert time.monotonic() - started >= 0.9
    shop.page.locator("header button[aria-label='Close chat']").click()
    shop.page.reload()
    shop.page.wait_for_function("window.OdooLivechatRelay")
    shop.page.wait_for_timeout(1800)
    assert shop.page.locator("[data-livechat-relay] .panel").is_hidden()     # once per tab


def test_nobody_online_and_data_offline_hide(context, relay):
    req = urllib.request.Request(f"{relay.url}/demo/api/operator", data=b'{"online": false}', method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
    shop = Shop(context, relay, open="false", offline="hide")          # the relay's real config: unavailable
    shop.page.goto(shop_url())
    shop.page.wait_for_function(f"window.OdooLivechatRelay && {HOST}.hidden === true")


def shop_url() -> str:
    from tests.widget.conftest import SHOP
    return SHOP + "/"


def test_nobody_online_and_data_offline_notice(context, relay):
    req = urllib.request.Request(f"{relay.url}/demo/api/operator", data=b'{"online": false}', method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
    shop = Shop(context, relay, offline="notice").open()     # said before the visitor writes
    shop.page.locator(".log li.note", has_text="No operator is available right now.").wait_for()
    assert shop.page.locator(".launcher").is_visible()
