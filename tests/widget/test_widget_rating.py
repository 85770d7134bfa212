"""The end-of-chat rating panel in Chromium (issue 13, item 3): after an operator answered, "End
chat" asks 5 / 3 / 1 and a comment (keyboard-usable, labelled), sends it, then leaves; a session the
operator ended offers it too; no panel when no person had the conversation."""
from __future__ import annotations

import json
import urllib.request

from tests.widget.conftest import Shop


def events(relay, conv) -> list[dict]:
    req = urllib.request.Request(f"{relay.url}/v1/conversations/{conv['conversation_id']}/events?after=0",
                                 headers={"Authorization": "Bearer " + conv["token"]})
    return json.loads(urllib.request.urlopen(req, timeout=10).read())["events"]


def test_end_chat_asks_for_a_rating_then_leaves(context, relay):
    shop = Shop(context, relay).open()
    shop.send("hello")
    shop.wait_status("connected")
    shop.operator("reply", text="Hello! Anything else?")
    shop.wait_bubbles("operator", ["Hello! Anything else?"])
    conv = shop.conversation()
    page = shop.page
    page.locator("button.end").click()
    panel = page.locator(".rate")
    panel.wait_for()
    assert panel.get_attribute("role") == "group" and panel.get_attribute("aria-label") == "How was this conversation?"
    send = panel.locator("button.action")
    assert send.is_disabled()
    page.keyboard.press("Tab")                                       # keyboard only: 😊 has the focus, 😐 next
    page.keyboard.press("Enter")
    okay = panel.locator('button[data-rating="3"]')
    assert okay.get_attribute("aria-pressed") == "true" and okay.get_attribute("aria-label") == "Okay"
    panel.locator('button[data-rating="5"]').click()
    panel.locator("textarea").fill("Quick and kind")
    shop.screenshot("rating")
    send.click()
    page.locator(".log li.note", has_text="Thank you for your feedback.").wait_for()
    page.locator(".log li.note", has_text="The conversation has ended.").wait_for()
    shop.screenshot("rated")
    with page.expect_download() as download:                      # the transcript, from the closed chat
        page.locator("button.transcript").click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert "You: hello" in text and "Hello! Anything else?" in text and "Rated 5/5" in text
    got = events(relay, conv)
    assert [(e["rating"], e["comment"]) for e in got if e["type"] == "rating"] == [(5, "Quick and kind")]
    assert [e["by"] for e in got if e["type"] == "closed"] == ["visitor"]


def test_a_session_the_operator_ended_offers_the_rating_and_none_without_a_person(context, relay):
    shop = Shop(context, relay).open()
    shop.send("hello")
    shop.wait_status("connected")
    shop.operator("reply", text="We are closing now.")
    shop.wait_bubbles("operator", ["We are closing now."])
    shop.operator("close")
    panel = shop.page.locator(".rate")
    panel.wait_for()
    panel.locator('button[data-rating="1"]').click()
    panel.locator("button.action").click()
    shop.page.locator(".log li.note", has_text="Thank you for your feedback.").wait_for()
    assert [e["rating"] for e in events(relay, shop.conversation()) if e["type"] == "rating"] == [1]
    # a new chat nobody answered: End chat leaves at once
    shop.page.locator("button.action", has_text="Start a new chat").click()
    shop.send("anyone?")
    shop.wait_status("connected")
    shop.page.locator("button.end").click()
    shop.page.wait_for_timeout(500)
    assert shop.page.locator(".rate").count() == 0


def test_the_ended_chat_mails_the_transcript(context, relay):
    shop = Shop(context, relay).open()
    shop.send("hello")
    shop.wait_status("connected")
    shop.operator("reply", text="Here is what you asked")
    shop.wait_bubbles("operator", ["Here is what you asked"])
    conv = shop.conversation()
    shop.operator("close")
    page = shop.page
    page.locator(".rate button.skip").click()
    page.locator(".log button", has_text="Email it to me").click()
    field = page.locator(".log form.mail input[type=email]")
    assert field.get_attribute("aria-label") == "Your email address"
    assert page.evaluate("document.querySelector('[data-livechat-relay]')?.shadowRoot.activeElement.type") == "email"
    field.fill("ada@shop")                       # a browser takes it; the relay does not
    field.press("Enter")
    page.locator(".log li.note", has_text="That email address does not look right.").wait_for()
    assert field.get_attribute("aria-invalid") == "true"
    field.fill("ada@shop.example")
    field.press("Enter")
    page.locator(".log li.note", has_text="The conversation is on its way to ada@shop.example.").wait_for()
    shop.screenshot("transcript-mailed")
    state = json.loads(urllib.request.urlopen(f"{relay.url}/demo/api/state", timeout=10).read())
    assert state["mailed"] == [{"conversation_id": conv["conversation_id"], "email": "ada@shop.example"}]
