"""The widget in Chromium with Odoo's own chatbot script behind the relay (real Odoo): the script's
questions show with their answer buttons, and pressing one moves the script on.

It lives with the widget tests (which run last) because it starts the session's Chromium, whose
event loop must not be running while the asyncio tests of tests/proxy run; and it skips before any
fixture starts when there is no Odoo."""
from __future__ import annotations

import os

import pytest

from tests.odoo.conftest import odoo   # noqa: F401 (fixture)
from tests.odoo.test_addon_live import relay_for_addon
from tests.odoo.test_odoo_chatbot_live import script_and_channel
from tests.widget.conftest import SHOP, Shop

pytestmark = [pytest.mark.odoo, pytest.mark.skipif(
    not os.environ.get("ODOO_URL"), reason="ODOO_URL not set: no real Odoo to test against (see README)")]


@pytest.fixture
def chatbot_shop_relay(odoo, tmp_path, shop_server):   # noqa: F811
    sid, channel = script_and_channel(odoo)
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "poll",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(channel), "RELAY_ODOO_POLL_INTERVAL": "1",
           "RELAY_ODOO_CHATBOT_SCRIPT_ID": str(sid), "RELAY_ALLOWED_ORIGINS": SHOP}
    with relay_for_addon(odoo, tmp_path, env, enabled=False) as relay:
        yield relay


def test_chatbot_questions_and_answer_buttons(odoo, context, chatbot_shop_relay):   # noqa: F811
    shop = Shop(context, chatbot_shop_relay).open()
    shop.send("hi")
    yes = shop.page.locator(".choices button", has_text="Yes")
    yes.wait_for(state="visible", timeout=15000)
    assert shop.page.locator(".choices button").all_text_contents() == ["Yes", "No"]
    shop.page.wait_for_selector(".log li.bot:has-text('Do you like colours?')", timeout=15000)
    assert shop.page.locator(".talk").is_hidden()          # no "Talk to a person" for Odoo's own script
    shop.screenshot("odoo-chatbot")
    yes.click()
    shop.page.wait_for_selector(".log li.visitor:has-text('Yes')")
    shop.page.wait_for_selector(".log li.bot:has-text('Which one?')", timeout=15000)
    shop.page.locator(".choices button", has_text="Red").wait_for(state="visible", timeout=15000)
    assert shop.page.locator(".choices button").all_text_contents() == ["Red", "Blue"]
