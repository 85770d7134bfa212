"""The widget in Chromium in front of a real Odoo (issue 15 items 2 and 3): a livechat channel of
its own, configured through Odoo's own models (Live Chat › Channels and its Rules): its button text,
welcome text and colour are the widget's; a hide_button rule on one page hides the launcher there;
an auto_popup rule opens the panel after its timer; with nobody online the visitor leaves a message
with a way to reach them, and once an operator joins the channel the session opens by itself and
the operator's answer reaches the visitor. Skipped (before any fixture) without ODOO_URL."""
from __future__ import annotations

import os
import re
import time
import uuid

import pytest

from tests.odoo.conftest import odoo   # noqa: F401 (fixture)
from tests.odoo.test_addon_live import relay_for_addon
from tests.widget.conftest import SHOP, Shop

pytestmark = [pytest.mark.odoo, pytest.mark.skipif(
    not os.environ.get("ODOO_URL"), reason="ODOO_URL not set: no real Odoo to test against (see README)")]

HOST = "document.querySelector('[data-livechat-relay]')"


@pytest.fixture
def shop_channel(odoo):   # noqa: F811
    """A channel with its own texts, colour and rules, the admin its operator; emptied after."""
    channel = odoo.execute("im_livechat.channel", "create", [{
        "name": f"Relay rules {uuid.uuid4().hex[:6]}", "user_ids": [(6, 0, [])],
        "button_text": "Ask our team", "default_message": "Welcome to the live test shop",
        "button_background_color": "#123456"}])
    channel = channel[0] if isinstance(channel, list) else channel
    for regex, action, timer in (("/private", "hide_button", 0), ("/pricing", "auto_popup", 1)):
        odoo.execute("im_livechat.channel.rule", "create", [{
            "channel_id": channel, "regex_url": regex, "action": action, "auto_popup_timer": timer, "sequence": 1}])
    odoo.execute("im_livechat.channel", "action_join", [[channel]])
    odoo.operator_online()
    yield channel
    odoo.execute("im_livechat.channel", "write", [[channel], {"user_ids": [(5, 0, 0)]}])


@pytest.fixture
def rules_relay(odoo, tmp_path, shop_server, shop_channel):   # noqa: F811
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "bus",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(shop_channel), "RELAY_ALLOWED_ORIGINS": SHOP,
           "RELAY_HANDOFF_RETRY": "1"}
    with relay_for_addon(odoo, tmp_path, env, enabled=False) as relay:
        yield relay


def test_odoos_channel_and_rules_in_the_widget_then_a_left_message(odoo, context, rules_relay, shop_channel):  # noqa: F811
    shop = Shop(context, rules_relay, open="false")
    page = shop.page
    page.goto(SHOP + "/")
    launcher = page.locator(".launcher")
    launcher.wait_for()
    assert launcher.get_attribute("aria-label") == "Ask our team"
    assert "rgb(18, 52, 86)" in launcher.evaluate("b => getComputedStyle(b).backgroundColor")
    launcher.click()
    assert page.locator(".log li").first.text_content() == "Welcome to the live test shop"
    shop.screenshot("odoo-rules-welcome")

    page.goto(SHOP + "/private/orders")                       # the hide_button rule's page
    page.wait_for_function(f"window.OdooLivechatRelay && {HOST}.hidden === true")
    assert not launcher.is_visible()

    popup = context.new_page()                                 # a tab of its own: the popup is once per tab
    started = time.monotonic()
    popup.goto(SHOP + "/pricing")
    popup.wait_for_selector("[data-livechat-relay] .panel:not([hidden])", timeout=8000)
    assert time.monotonic() - started >= 0.9                   # after the rule's 1 s timer
    popup.close()

    # nobody online any more: the widget asks how to reach the visitor; the relay keeps the message
    odoo.execute("im_livechat.channel", "write", [[shop_channel], {"user_ids": [(5, 0, 0)]}])
    time.sleep(31)                                             # the relay keeps Odoo's config 30 s
    away = context.new_page()
    shop.page = away
    away.goto(SHOP + "/contact")
    away.locator(".launcher").click()
    away.locator(".log li.note", has_text="Leave a message and how to reach you").wait_for(timeout=10000)
    away.get_by_label("Your email or phone").fill("ada@example.com")
    shop.send("Do you ship to Iceland?")
    shop.wait_bubbles("visitor", ["Do you ship to Iceland?"])
    away.locator(".log li.note", has_text="can reach you at ada@example.com").wait_for()
    conv = shop.conversation()
    assert not odoo.execute("discuss.channel", "search", [[["livechat_channel_id", "=", shop_channel]]])

    odoo.execute("im_livechat.channel", "action_join", [[shop_channel]])   # someone is back
    odoo.operator_online()
    away.locator(".log li.note", has_text=re.compile("Waiting for an operator|joined the conversation")).wait_for(timeout=20000)
    [channel_id] = odoo.execute("discuss.channel", "search", [[["livechat_channel_id", "=", shop_channel]]])
    odoo.operator_reply(channel_id, "Yes, we ship to Iceland.")
    shop.wait_bubbles("operator", ["Yes, we ship to Iceland."], timeout=20)
    away.wait_for_function(f"""() => {{ const img = {HOST}.shadowRoot.querySelector('.log li.operator img');
        return img && img.complete && img.naturalWidth > 0; }}""", timeout=10000)   # the operator's picture
    shop.screenshot("odoo-left-message")
    assert conv["conversation_id"]
