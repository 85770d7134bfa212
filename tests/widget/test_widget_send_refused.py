"""A message the relay refuses as bad input is shown "not sent" with a Retry, and the queue moves on
(HTTP and WebSocket); 5xx keeps retrying; text is cut by code points and lone surrogates replaced, so
the real relay (which answers 400 to invalid Unicode) takes it."""
from __future__ import annotations

import json
import re

import pytest

from tests.widget.conftest import SHOP, Shop

WS_URL = re.compile(r".*/v1/conversations/.*/ws.*")
MESSAGES_URL = re.compile(r".*/v1/conversations/[^/]+/messages$")
ROOT = "document.querySelector('[data-livechat-relay]')?.shadowRoot"
NO_PENDING = f"{ROOT}.querySelectorAll('.log li.pending').length === 0"
ONE_FAILED = f"{ROOT}.querySelectorAll('.log li.failed').length === 1"
NO_FAILED = f"{ROOT}.querySelectorAll('.log li.failed').length === 0"
CORS = {"Access-Control-Allow-Origin": SHOP, "Content-Type": "application/json"}


def relay_texts(shop: Shop) -> list[str]:
    """The visitor messages the relay stored, in order (read with the widget's own token)."""
    body = shop.page.evaluate("""async () => {
        const w = window.OdooLivechatRelay.widget;
        const r = await fetch(w.opts.relay + w.path("events?after=0"), {headers: {Authorization: "Bearer " + w.conv.token}});
        return r.json(); }""")
    return [e["message"]["text"] for e in body["events"]
            if e["type"] == "message" and e["message"]["author"]["kind"] == "visitor"]


def stored(shop: Shop) -> dict:
    raw = shop.page.evaluate("""() => { for (let i = 0; i < sessionStorage.length; i++) {
        const k = sessionStorage.key(i); if (k.startsWith("olr:")) return sessionStorage.getItem(k); } }""")
    return json.loads(raw)


def check_refused_then_retry(shop: Shop, attempts: dict, unblock, first: str) -> None:
    """Shared part: 'refused one' is refused, 'after it' still goes out, Retry (keyboard) resends it."""
    shop.send("refused one")
    shop.send("after it")
    shop.page.wait_for_function(ONE_FAILED, timeout=15000)
    shop.page.wait_for_function(NO_PENDING, timeout=15000)
    shop.wait_bubbles("visitor", [first, "refused one", "after it"])
    assert relay_texts(shop) == [first, "after it"]                       # the next message was not stuck
    failed = shop.page.locator(".log li.failed")
    assert failed.locator(".body").text_content() == "refused one"
    assert "not sent" in failed.locator(".meta").text_content()
    retry = failed.locator("button.retry")
    assert retry.text_content() == "Retry"
    assert retry.get_attribute("aria-label") == "Retry sending: refused one"
    assert retry.get_attribute("type") == "button"
    state = stored(shop)
    assert state["queue"] == [] and [m["text"] for m in state["failed"]] == ["refused one"]
    tries = attempts["refused one"]
    shop.page.wait_for_timeout(2500)                                     # no retry loop on bad input
    assert attempts["refused one"] == tries == 1
    assert shop.page.locator(".log li.failed").count() == 1

    unblock()
    retry.focus()                                                        # keyboard only
    shop.page.keyboard.press("Enter")
    shop.page.wait_for_function(NO_FAILED, timeout=15000)
    shop.page.wait_for_function(NO_PENDING, timeout=15000)
    shop.wait_bubbles("visitor", [first, "after it", "refused one"])
    assert relay_texts(shop) == [first, "after it", "refused one"]        # each once, the retry last
    assert attempts["refused one"] == 2
    assert shop.page.evaluate(f"{ROOT}.activeElement.tagName") == "TEXTAREA"   # focus not lost
    state = stored(shop)
    assert state["queue"] == [] and state["failed"] == []


@pytest.mark.parametrize("status", [400, 413, 422])
def test_http_bad_input_is_not_sent_with_a_retry_and_the_queue_moves_on(context, relay, status):
    refuse = {"on": True}
    attempts = {"refused one": 0}

    def route(r):
        if r.request.method == "POST":
            text = json.loads(r.request.post_data or "{}").get("text")
            if text in attempts:
                attempts[text] += 1
            if refuse["on"] and text == "refused one":
                r.fulfill(status=status, headers=CORS,
                          body=json.dumps({"error": "invalid_text", "message": "refused for the test"}))
                return
        r.fallback()

    shop = Shop(context, relay, transport="longpoll")                    # sends go over HTTP
    shop.page.route(MESSAGES_URL, route)
    shop.open()
    shop.send("first")
    shop.wait_status("polling")
    shop.wait_bubbles("visitor", ["first"])
    check_refused_then_retry(shop, attempts, lambda: refuse.update(on=False), "first")
    assert shop.page.evaluate("window.OdooLivechatRelay.mode") == "longpoll"


def test_http_5xx_keeps_retrying_and_is_never_marked_not_sent(context, relay):
    seen = {"n": 0}

    def route(r):
        if r.request.method == "POST" and json.loads(r.request.post_data or "{}").get("text") == "flaky":
            seen["n"] += 1
            if seen["n"] <= 3:
                r.fulfill(status=503, headers=CORS, body='{"error": "unavailable", "message": "later"}')
                return
        r.fallback()

    shop = Shop(context, relay, transport="longpoll")
    shop.page.route(MESSAGES_URL, route)
    shop.open()
    shop.send("flaky")
    shop.send("behind it")
    shop.page.wait_for_function(NO_PENDING, timeout=30000)
    assert seen["n"] == 4                                                # 3 refusals, then it went through
    assert shop.page.locator(".log li.failed").count() == 0
    assert relay_texts(shop) == ["flaky", "behind it"]                   # in order, each once


@pytest.mark.parametrize("how", ["error_frame", "close_1007"])
def test_websocket_bad_send_is_not_sent_with_a_retry_and_the_queue_moves_on(context, relay, how):
    refuse = {"on": True}
    attempts = {"refused one": 0}

    def route(ws):
        server = ws.connect_to_server()

        def from_page(message):
            frame = json.loads(message) if isinstance(message, str) else {}
            if frame.get("type") == "send" and frame.get("text") in attempts:
                attempts[frame["text"]] += 1
                if refuse["on"]:
                    if how == "error_frame":   # what the relay answers to a frame it cannot read: no client_id
                        ws.send(json.dumps({"type": "error", "code": "invalid_unicode",
                                            "message": "Frame refused: strings must be valid Unicode."}))
                    else:
                        ws.close(code=1007, reason="invalid_unicode")
                        server.close()
                    return
            server.send(message)

        ws.on_message(from_page)

    shop = Shop(context, relay)
    shop.page.route_web_socket(WS_URL, route)
    shop.open()
    shop.send("first")
    shop.wait_status("connected")
    shop.wait_bubbles("visitor", ["first"])
    shop.page.wait_for_function(NO_PENDING)
    check_refused_then_retry(shop, attempts, lambda: refuse.update(on=False), "first")
    shop.wait_status("connected")
    assert shop.page.evaluate("window.OdooLivechatRelay.mode") == "ws"


def test_french_retry_label(context, relay):
    def route(r):
        if r.request.method == "POST" and json.loads(r.request.post_data or "{}").get("text") == "refusé":
            r.fulfill(status=400, headers=CORS, body='{"error": "invalid_text", "message": "no"}')
            return
        r.fallback()

    shop = Shop(context, relay, transport="longpoll", lang="fr")
    shop.page.route(MESSAGES_URL, route)
    shop.open()
    shop.send("refusé")
    shop.page.wait_for_function(ONE_FAILED, timeout=15000)
    failed = shop.page.locator(".log li.failed")
    assert "non envoyé" in failed.locator(".meta").text_content()
    assert failed.locator("button.retry").text_content() == "Renvoyer"
    assert failed.locator("button.retry").get_attribute("aria-label") == "Renvoyer le message : refusé"
    shop.page.reload()                                                   # still there, still retryable
    shop.page.wait_for_function(ONE_FAILED, timeout=15000)
    assert shop.page.locator(".log li.failed button.retry").count() == 1


def test_lone_surrogates_and_long_text_reach_the_real_relay(context, relay):
    """No interception: the relay answers 400 (an error frame) to invalid Unicode and more than
    4000 characters, so the widget must clean and cut before sending, by code points."""
    shop = Shop(context, relay).open()
    shop.send("hi")
    shop.wait_status("connected")
    shop.page.wait_for_function(NO_PENDING)
    shop.page.evaluate("""() => {
        const w = window.OdooLivechatRelay.widget;
        w.input.value = "broken \\uD83D half"; w.submit();                    // as typed, lone surrogate
        w.submit("a".repeat(3999) + "\\uD83D\\uDE00" + "b".repeat(20));          // emoji at the 4000th code point
        w.submit("x" + "\\uDE00");
    }""")
    shop.page.wait_for_function(NO_PENDING, timeout=20000)
    assert shop.page.locator(".log li.failed").count() == 0
    texts = relay_texts(shop)
    assert texts[0] == "hi"
    assert texts[1] == "broken \ufffd half"
    assert texts[2] == "a" * 3999 + "😀" and len(texts[2]) == 4000       # Python len: code points
    assert texts[3] == "x\ufffd"
    assert len(texts) == 4
