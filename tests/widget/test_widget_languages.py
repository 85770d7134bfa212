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


def test_arabic_right_to_left(context, relay):
    table = json.loads((I18N / "ar.json").read_text())
    shop = Shop(context, relay, lang="ar").open()
    assert shop.page.locator("header h2").text_content() == table["title"]
    assert shop.page.evaluate("document.querySelector('[data-livechat-relay]').dir") == "rtl"
    assert shop.page.locator("header").evaluate("h => getComputedStyle(h).direction") == "rtl"
    shop.send("مرحبا")
    shop.wait_status("connected")
    shop.screenshot("arabic")


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
