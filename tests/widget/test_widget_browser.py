"""The widget in real Chromium against a real relay in demo mode (PROTOCOL §2, widget table)."""
from __future__ import annotations

import re

from tests.widget.conftest import SHOP, Shop


def shop_url() -> str:
    return SHOP + "/"

WS_URL = re.compile(r".*/v1/conversations/.*/ws.*")
NO_PENDING = "document.querySelector('[data-livechat-relay]')?.shadowRoot.querySelectorAll('.log li.pending').length === 0"


def test_send_and_receive(context, relay):
    shop = Shop(context, relay).open()
    assert shop.status() == "idle"
    shop.send("Hello, I need help")
    shop.wait_status("connected")
    shop.wait_bubbles("visitor", ["Hello, I need help"])
    assert shop.page.evaluate("window.OdooLivechatRelay.mode") == "ws"
    shop.operator("reply", text="Hi! How can I help?")
    shop.wait_bubbles("operator", ["Hi! How can I help?"])
    notes = shop.page.locator(".log li.note").all_text_contents()
    assert any("Waiting for an operator" in n for n in notes)
    assert any("Demo operator joined" in n for n in notes)
    shop.operator("typing", typing=True)
    shop.page.wait_for_selector(".typing:has-text('Demo operator is typing')")
    assert "🟢" in shop.page.locator(".status").text_content()
    assert "Real-time connected" in shop.page.locator(".status").text_content()
    shop.screenshot("connected")
    shop.operator("close")
    shop.page.wait_for_selector(".log li.note:has-text('The conversation has ended')")
    assert shop.page.locator("form").is_hidden()


def test_websocket_refused_falls_back_to_polling_and_comes_back(context, relay):
    blocked = {"on": True, "attempts": 0}

    def route(ws):
        if blocked["on"]:
            blocked["attempts"] += 1
            ws.close()
        else:
            ws.connect_to_server()

    shop = Shop(context, relay, ws_retry="3")
    shop.page.route_web_socket(WS_URL, route)
    shop.open()
    shop.send("first, over HTTP")
    shop.wait_status("polling", timeout=30)
    assert blocked["attempts"] >= 3
    assert shop.page.evaluate("window.OdooLivechatRelay.mode") == "longpoll"
    assert "🟡" in shop.page.locator(".status").text_content()
    assert "Using polling mode" in shop.page.locator(".status").text_content()
    shop.screenshot("polling")
    shop.wait_bubbles("visitor", ["first, over HTTP"])
    shop.operator("reply", text="reply over long polling")
    shop.wait_bubbles("operator", ["reply over long polling"])
    shop.send("second, over HTTP")
    shop.wait_bubbles("visitor", ["first, over HTTP", "second, over HTTP"])
    statuses = [s["status"] for s in shop.page.evaluate("window.statusLog")]
    assert "polling" in statuses

    blocked["on"] = False                           # the WebSocket works again
    shop.wait_status("connected", timeout=15)       # within the (test's 3 s) retry interval
    assert shop.page.evaluate("window.OdooLivechatRelay.mode") == "ws"
    shop.operator("reply", text="back on the WebSocket")
    shop.wait_bubbles("operator", ["reply over long polling", "back on the WebSocket"])


def test_configured_short_polling(context, relay):
    shop = Shop(context, relay, transport="poll").open()
    shop.send("polling only")
    shop.wait_status("polling")
    assert shop.page.evaluate("window.OdooLivechatRelay.mode") == "poll"
    shop.operator("reply", text="seen within 3 s")
    shop.wait_bubbles("operator", ["seen within 3 s"], timeout=10)


def test_network_cut_and_restored(context, relay):
    shop = Shop(context, relay).open()
    shop.send("before the cut")
    shop.wait_status("connected")
    shop.wait_bubbles("visitor", ["before the cut"])
    shop.page.wait_for_function(NO_PENDING)                             # acknowledged before the cut
    context.set_offline(True)
    shop.wait_status("error", timeout=10)
    assert "🔴" in shop.page.locator(".status").text_content()
    shop.screenshot("error")
    for text in ("typed offline 1", "typed offline 2", "typed offline 3"):
        shop.send(text)
    shop.page.wait_for_timeout(500)
    assert shop.page.locator(".log li.pending").count() == 3
    context.set_offline(False)
    shop.wait_status("connected", timeout=20)
    expected = ["before the cut", "typed offline 1", "typed offline 2", "typed offline 3"]
    shop.wait_bubbles("visitor", expected)
    shop.page.wait_for_function(NO_PENDING)
    # the relay has each exactly once, in order
    body = shop.page.evaluate("""async () => {
        const w = window.OdooLivechatRelay.widget;
        const r = await fetch(w.opts.relay + w.path("events?after=0"), {headers: {Authorization: "Bearer " + w.conv.token}});
        return r.json(); }""")
    texts = [e["message"]["text"] for e in body["events"] if e["type"] == "message"]
    assert texts == expected


def test_relay_restart_mid_conversation(context, relay):
    shop = Shop(context, relay).open()
    shop.send("before restart")
    shop.wait_status("connected")
    shop.operator("reply", text="reply 1")
    shop.wait_bubbles("operator", ["reply 1"])
    relay.stop()
    shop.wait_status("error", timeout=10)
    relay.start()
    for i in (2, 3, 4):
        shop.operator("reply", text=f"reply {i}")
    shop.page.wait_for_function("['connected', 'polling'].includes(window.OdooLivechatRelay.status)", timeout=40000)
    shop.wait_bubbles("operator", ["reply 1", "reply 2", "reply 3", "reply 4"], timeout=40)


def test_reload_keeps_the_conversation(context, relay):
    shop = Shop(context, relay).open()
    shop.send("remember me")
    shop.wait_status("connected")
    shop.operator("reply", text="I will")
    shop.wait_bubbles("operator", ["I will"])
    conv = shop.conversation()
    shop.page.reload()
    shop.page.wait_for_selector("[data-livechat-relay] .panel:not([hidden])")
    shop.wait_status("connected")
    assert shop.conversation()["conversation_id"] == conv["conversation_id"]
    assert shop.bubbles("visitor") == ["remember me"] and shop.bubbles("operator") == ["I will"]
    shop.operator("reply", text="after the reload")
    shop.wait_bubbles("operator", ["I will", "after the reload"])          # none twice


HOSTILE = [
    "<script>window.__pwned = 1</script>script",
    "<img src=x onerror=\"window.__pwned = 2\">img",
    "<a href=\"javascript:window.__pwned=3\">js link</a>",
    "<svg onload=\"window.__pwned = 4\"><circle r=5></circle></svg>svg",
    "<div style=\"position:fixed;inset:0;background:red\">css overlay</div>",
    "<style>*{display:none!important}</style>style",
    "<iframe src=\"javascript:parent.__pwned=5\"></iframe>iframe",
    "<p onclick=\"window.__pwned=6\">click</p>",
    "<a href=\"https://example.com\" onmouseover=\"window.__pwned=7\">safe link</a>",
    "<math><mi xlink:href=\"javascript:window.__pwned=8\">m</mi></math>math",
    "<form action=\"javascript:window.__pwned=9\"><button>b</button></form>form",
]


def test_hostile_operator_html_renders_inert(context, relay):
    shop = Shop(context, relay).open()
    shop.send("show me the worst")
    shop.wait_status("connected")
    for payload in HOSTILE:
        shop.operator("reply", text=payload, html=True)
    shop.page.wait_for_function("document.querySelector('[data-livechat-relay]')?.shadowRoot"
                                f".querySelectorAll('.log li.operator').length === {len(HOSTILE)}")
    shop.page.mouse.move(10, 10)
    for link in shop.page.locator(".log li.operator a").all():
        link.hover()
    shop.page.wait_for_timeout(500)
    assert shop.page.evaluate("window.__pwned") is None
    assert shop.dialogs == []
    found = shop.page.evaluate("""() => {
        const root = document.querySelector('[data-livechat-relay]')?.shadowRoot;
        const log = root.querySelector('.log'), w = window.OdooLivechatRelay.widget;
        // (the operator's picture beside their name is the widget's own, from the relay)
        const bad = [...log.querySelectorAll('script,img,svg,iframe,style,form,math,div,object,embed')]
            .filter(e => !(e.parentElement.classList.contains('who') && e.getAttribute('src').startsWith(w.opts.relay + '/v1/avatars/')))
            .map(e => e.tagName);
        const handlers = [...log.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))
            .filter(n => n.startsWith('on') || n === 'style');
        const hrefs = [...log.querySelectorAll('a')].map(a => a.getAttribute('href'));
        return {bad, handlers, hrefs}; }""")
    assert found["bad"] == [] and found["handlers"] == []
    assert all(h is None or h.startswith("https://") for h in found["hrefs"]), found["hrefs"]
    assert "https://example.com/" in found["hrefs"]
    # the page around the widget is untouched: no red overlay, nothing hidden
    assert shop.page.locator("h1").is_visible()


def test_keyboard_phone_size_and_language(browser, relay):
    ctx = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    try:
        shop = Shop(ctx, relay, open="false", lang="fr")
        shop.page.goto(shop_url())
        launcher = shop.page.locator(".launcher")
        assert launcher.get_attribute("aria-label") == "Ouvrir la discussion"
        launcher.focus()
        shop.page.keyboard.press("Enter")
        panel = shop.page.locator(".panel")
        assert panel.is_visible() and launcher.get_attribute("aria-expanded") == "true"
        box = panel.bounding_box()
        assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 375 and box["y"] + box["height"] <= 667
        assert shop.page.evaluate("document.querySelector('[data-livechat-relay]')?.shadowRoot.activeElement.tagName") == "TEXTAREA"
        assert shop.page.locator("label[for=olr-input]").text_content() == "Message"
        assert shop.page.locator("[role=log]").get_attribute("aria-live") == "polite"
        shop.page.keyboard.type("Bonjour")
        shop.page.keyboard.press("Enter")
        shop.wait_status("connected")
        assert "Connecté en temps réel" in shop.page.locator(".status").text_content()
        shop.wait_bubbles("visitor", ["Bonjour"])
        assert shop.page.locator("form button[type=submit]").is_visible()   # not covered by the launcher
        shop.screenshot("phone-fr")
        shop.page.keyboard.press("Escape")
        assert panel.is_hidden()
        assert shop.page.evaluate("document.querySelector('[data-livechat-relay]')?.shadowRoot.activeElement.className") == "launcher"
    finally:
        ctx.close()


def test_no_operator_available_is_said_plainly(context, relay):
    shop = Shop(context, relay, offline="notice").open()   # "message" (the default): test_widget_leave_message
    req = __import__("urllib.request").request
    r = req.Request(relay.url + "/demo/api/operator", data=b'{"online": false}', method="POST",
                    headers={"Content-Type": "application/json"})
    req.urlopen(r).read()
    shop.send("hello?")
    shop.page.wait_for_selector(".log li.note:has-text('No operator is available right now')")
    assert shop.page.locator(".log li.pending").count() == 1            # kept, not lost
    req.urlopen(req.Request(relay.url + "/demo/api/operator", data=b'{"online": true}', method="POST",
                            headers={"Content-Type": "application/json"})).read()
    shop.page.locator(".log li.note button").click()                       # "Try again"
    shop.wait_status("connected")
    shop.wait_bubbles("visitor", ["hello?"])
