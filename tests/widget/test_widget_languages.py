"""The widget in the visitor's language in Chromium (issue 15 item 4): its texts from the relay's
/widget/i18n/<lang>.json, chosen from data-lang, the page's lang or the browser's; Arabic right to
left, the panel mirrored. That every language has every key: tests/widget/pure.test.js."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.widget.conftest import SHOP, Shop, ShopHandler

I18N = Path(__file__).resolve().parents[2] / "widget" / "i18n"


@pytest.mark.parametrize("lang,file", [("de", "de"), ("es-MX", "es"), ("pt-BR", "pt_BR"), ("pt-PT", "pt"),
                                       ("zh-CN", "zh_CN"), ("ja", "ja"), ("tr", "tr"), ("pl", "pl"),
                                       ("nl-BE", "nl"), ("it", "it")])
def test_the_widget_speaks_the_visitors_language(context, relay, lang, file):
    table = json.loads((I18N / f"{file}.json").read_text())
    shop = Shop(context, relay, lang=lang).open()
    assert shop.page.locator("header h2").text_content() == table["title"]
    assert shop.page.locator("textarea").get_attribute("placeholder") == table["placeholder"]
    assert shop.page.locator(".status").text_content().endswith(table["idle"])
    assert shop.page.evaluate("document.querySelector('[data-livechat-relay]').lang") == lang


def sides(shop) -> dict:
    """Where things sit: the bubbles against the log's edges, the launcher and the panel on the page."""
    return shop.page.evaluate("""() => {
        const root = document.querySelector('[data-livechat-relay]').shadowRoot, box = e => e.getBoundingClientRect();
        const log = box(root.querySelector('.log')), side = e => {
            const b = box(e); return b.left - log.left < log.right - b.right ? 'left' : 'right'; };
        const page = e => { const b = box(e); return b.left < innerWidth - b.right ? 'left' : 'right'; };
        return {visitor: side(root.querySelector('.log li.visitor')), operator: side(root.querySelector('.log li.operator')),
                launcher: page(root.querySelector('.launcher')), panel: page(root.querySelector('.panel'))};
    }""")


@pytest.mark.parametrize("lang", ["ar", "en", "ja"])
def test_arabic_is_mirrored_right_to_left(context, relay, lang):
    """Arabic (right to left): the visitor's own bubbles on the left, the operator's on the right,
    the launcher and the panel at the bottom left, as right-to-left chats are; left to right
    languages the other way round. Screenshots: tests/artifacts/widget-lang-<lang>.png."""
    shop = Shop(context, relay, lang=lang).open()
    mirrored = lang == "ar"
    assert shop.page.evaluate("document.querySelector('[data-livechat-relay]').dir") == ("rtl" if mirrored else "")
    assert shop.page.locator("header").evaluate("h => getComputedStyle(h).direction") == ("rtl" if mirrored else "ltr")
    shop.send({"ar": "مرحبا، أين طلبي؟", "ja": "こんにちは、注文はどこですか？"}.get(lang, "Hello, where is my order?"))
    shop.wait_status("connected")
    shop.operator("reply", text={"ar": "أهلا! كيف يمكنني المساعدة؟", "ja": "こんにちは！ご用件は？"}.get(lang, "Hi! How can I help?"))
    shop.page.wait_for_selector(".log li.operator")
    found = sides(shop)
    start, end = ("right", "left") if mirrored else ("left", "right")
    assert (found["visitor"], found["operator"]) == (end, start), found
    assert (found["launcher"], found["panel"]) == (end, end), found
    shop.screenshot(f"lang-{lang}")
    shop.page.set_viewport_size({"width": 400, "height": 700})      # a phone: the panel fills the screen
    panel = shop.page.locator(".panel").bounding_box()
    assert (panel["x"], panel["width"]) == (0, 400), panel


def test_the_pages_lang_then_the_browsers(browser, relay):
    ctx = browser.new_context(locale="it-IT")
    try:
        shop = Shop(ctx, relay)
        ShopHandler.page = ShopHandler.page.replace(b'<html lang="en">', b'<html lang="nl">')
        shop.page.goto(SHOP + "/")
        shop.page.wait_for_selector("[data-livechat-relay] .panel:not([hidden])")
        assert shop.page.locator("header h2").text_content() == json.loads((I18N / "nl.json").read_text())["title"]
        ShopHandler.page = ShopHandler.page.replace(b'<html lang="nl">', b"<html>")
        shop.page.goto(SHOP + "/")
        shop.page.wait_for_selector("[data-livechat-relay] .panel:not([hidden])")
        assert shop.page.locator("header h2").text_content() == json.loads((I18N / "it.json").read_text())["title"]
    finally:
        ctx.close()


def test_an_untranslated_language_is_english(context, relay):
    shop = Shop(context, relay, lang="xx").open()
    assert shop.page.locator("header h2").text_content() == "Chat with us"
