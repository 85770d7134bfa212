"""``GET /v1/config`` (docs/protocol.md §6, issue 15 item 1) against the demo upstream: what the
widget needs before a conversation, without a token, origin-checked like the rest of the widget
API; bad queries are 400, an unknown channel 404."""
from __future__ import annotations

import pytest


async def test_the_config_says_who_is_there(client):
    status, body, headers = await client.call("GET", "/v1/config?livechat_channel_id=1&page_url=https://shop.example/")
    assert status == 200, body
    assert body["available"] is True
    assert body["rule"] == {"action": "display_button", "auto_popup_timer": 0, "chatbot": False}
    assert body["texts"]["welcome"] and "stale" not in body
    assert "max-age=30" in headers["Cache-Control"]
    await client.call("POST", "/demo/api/operator", json={"online": False})
    # kept 30 s per channel and page: the same page is answered from what is kept, another is asked
    assert (await client.call("GET", "/v1/config?livechat_channel_id=1&page_url=https://shop.example/"))[1]["available"] is True
    status, body, _ = await client.call("GET", "/v1/config?livechat_channel_id=1&page_url=https://shop.example/cart")
    assert (status, body["available"]) == (200, False)


async def test_config_from_an_allowed_origin_only(client):
    status, body, headers = await client.call("GET", "/v1/config", headers={"Origin": client.relay.url})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == client.relay.url
    status, body, _ = await client.call("GET", "/v1/config", headers={"Origin": "https://evil.example"})
    assert (status, body["error"]) == (403, "origin_not_allowed")


@pytest.mark.parametrize("query", ["livechat_channel_id=0", "livechat_channel_id=x", "livechat_channel_id=-1",
                                   "livechat_channel_id=99999999999", "livechat_channel_id=%C2%B2",
                                   "page_url=javascript:alert(1)", "page_url=" + "https://a.b/" + "x" * 2048,
                                   "lang=fr;x", "lang=" + "a" * 20, "lang=%00",
                                   # 2,100 emoji: a 25 kB request line, answered by the relay itself
                                   "page_url=https://a.b/" + "%F0%9F%98%80" * 2100])
async def test_bad_config_queries_are_400(client, query):
    status, body, _ = await client.call("GET", "/v1/config?" + query)
    assert (status, body["error"]) == (400, "invalid_query"), body


async def test_an_unknown_channel_is_404(client):
    status, body, _ = await client.call("GET", "/v1/config?livechat_channel_id=7")
    assert (status, body["error"]) == (404, "unknown_channel")


async def test_the_config_in_the_visitors_language(client):
    status, body, _ = await client.call("GET", "/v1/config?lang=fr-BE")
    # the demo's texts are English only: none for another language (the widget's own then)
    assert (status, body["texts"]) == (200, {})
    assert (await client.call("GET", "/v1/config?lang=en"))[1]["texts"]["welcome"]


async def test_the_config_lists_the_languages_the_widget_speaks(client):
    """``languages``: English (built in) and every table the relay serves, each of which answers."""
    from pathlib import Path
    tables = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "widget" / "i18n").glob("*.json"))
    status, body, _ = await client.call("GET", "/v1/config?lang=fr")
    assert status == 200 and body["languages"] == ["en", *tables], body
    assert {"ar", "ja", "pt_BR", "zh_CN"} <= set(body["languages"])
    for lang in body["languages"][1:]:
        status, table, _ = await client.call("GET", f"/widget/i18n/{lang}.json")
        assert status == 200 and table["title"], (lang, table)


def test_odoo_language_names():
    from proxy.odoo.upstream import odoo_lang
    assert [odoo_lang(t) for t in ("fr", "fr-BE", "pt-BR", "pt", "zh", "ar", "de_CH", "EN")] == [
        "fr_FR", "fr_BE", "pt_BR", "pt_PT", "zh_CN", "ar_001", "de_CH", "en_US"]


@pytest.mark.parametrize("tag, kept", [("zh-Hans-CN", "zh-CN"), ("sr-Latn-RS", "sr-RS"), ("zh-Hant", "zh"),
                                       ("es-419", "es-419"), ("de-DE-u-co-phonebk", "de-DE"), ("fr_BE", "fr_BE")])
async def test_a_page_language_with_a_script_or_extensions_is_read_not_refused(client, tag, kept):
    """``<html lang="zh-Hans-CN">`` is a valid language tag the widget sends as it is: the relay keeps
    its language and region (what Odoo's languages are named by) instead of refusing the visitor."""
    conv = await client.create(lang=tag)
    assert client.relay.db and _stored_lang(client, conv["conversation_id"]) == kept
    status, body, _ = await client.call("GET", f"/v1/config?lang={tag}")
    assert status == 200, body


@pytest.mark.parametrize("tag", ["fr;x", "fr-", "-fr", "f", "fr-" + "x" * 9, "fr-CA-" + "-".join(["ab"] * 12), "fr CA"])
async def test_a_language_that_is_no_tag_is_400(client, tag):
    status, body, _ = await client.call("POST", "/v1/conversations", json={"lang": tag})
    assert (status, body["error"]) == (400, "invalid_body"), body


def _stored_lang(client, conversation_id: str) -> str:
    import sqlite3
    db = sqlite3.connect(client.relay.db)
    try:
        return db.execute("SELECT lang FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0]
    finally:
        db.close()
