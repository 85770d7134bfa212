"""Leaving a message while nobody is online, in Chromium (issue 15 item 3; data-offline="message",
the default): the widget says so up front and asks how to reach the visitor; a message written
before that waits, queued, until the visitor says it (keyboard only); the relay keeps it, and once
an operator is available the chat goes on by itself. Also in French, and with the relay's real
config (no route stubs)."""
from __future__ import annotations

import json
import urllib.request

from tests.widget.conftest import SHOP, Shop


def operator_online(relay, online: bool) -> None:
    req = urllib.request.Request(f"{relay.url}/demo/api/operator", data=json.dumps({"online": online}).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()


def test_a_visitor_leaves_a_message_and_the_chat_goes_on_when_an_operator_comes(context, tmp_path, shop_server):
    from tests.relayproc import RelayProcess
    from tests.widget.conftest import SHOP as ORIGIN
    relay = RelayProcess(tmp_path, env={"RELAY_ALLOWED_ORIGINS": ORIGIN, "RELAY_HANDOFF_RETRY": "0.5"}).start()
    try:
        operator_online(relay, False)
        shop = Shop(context, relay).open()
        page = shop.page
        page.locator(".log li.note", has_text="Leave a message and how to reach you").wait_for()
        contact = page.get_by_label("Your email or phone")
        assert contact.is_visible()
        shop.send("Is the blue kettle back in stock?")     # before saying how to reach them: it waits
        page.locator("[role=alert]", has_text="Please tell us how to reach you").wait_for()
        assert page.evaluate("() => document.querySelector('[data-livechat-relay]').shadowRoot.activeElement.id") \
            == "olr-contact"                                # focus moved to the field that is missing
        assert page.locator(".log li.pending").count() == 1
        assert "conv" not in shop.stored() or not shop.stored().get("conv")
        contact.fill("ada@example.com")
        contact.press("Enter")                              # keyboard only: the queued message goes now
        shop.wait_bubbles("visitor", ["Is the blue kettle back in stock?"])
        page.locator(".log li.note", has_text="can reach you at ada@example.com").wait_for()
        assert contact.is_hidden()
        conv = shop.conversation()
        assert shop.relay and conv["conversation_id"]
        shop.send("Any size is fine")
        shop.wait_bubbles("visitor", ["Is the blue kettle back in stock?", "Any size is fine"])
        shop.screenshot("leave-message")

        operator_online(relay, True)                        # someone is back: the relay opens the chat
        page.locator(".log li.note", has_text="Waiting for an operator").wait_for(timeout=15000)
        shop.operator("reply", text="Hello Ada, yes it is back!")
        shop.wait_bubbles("operator", ["Hello Ada, yes it is back!"])
    finally:
        relay.stop()


def test_the_form_speaks_the_visitors_language(context, relay):
    operator_online(relay, False)
    shop = Shop(context, relay, lang="fr").open()
    shop.page.locator(".log li.note", has_text="Laissez un message").wait_for()
    assert shop.page.get_by_label("Votre e-mail ou téléphone").is_visible()


def test_when_the_config_said_someone_was_online_the_refusal_turns_into_the_form(context, relay):
    # config fetched while an operator was online; they leave before the visitor writes
    shop = Shop(context, relay).open()
    operator_online(relay, False)
    shop.send("hello?")
    shop.page.locator("[role=alert]", has_text="Please tell us how to reach you").wait_for()
    shop.page.get_by_label("Your email or phone").fill("+33 6 12 34 56 78")
    shop.page.get_by_label("Your email or phone").press("Enter")
    shop.wait_bubbles("visitor", ["hello?"])
    assert shop.page.locator(".log li.note", has_text="No operator is available").count() == 0


def test_data_offline_notice_keeps_the_old_refusal(context, relay):
    operator_online(relay, False)
    shop = Shop(context, relay, offline="notice").open()
    assert shop.page.get_by_label("Your email or phone").is_hidden()
    shop.send("hello?")
    shop.page.locator(".log li.note", has_text="No operator is available right now.").nth(1).wait_for()
    assert SHOP
