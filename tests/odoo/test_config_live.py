"""``GET /v1/config`` on real Odoo (issue 15 item 1): availability, the channel rule that matches the
page (Odoo matches the page it reads from the ``Referer``, which the relay sends), the channel's
texts and colours, as Odoo's own widget starts with them; rules changed in Odoo are seen within
the cache's 30 s; an unknown channel is 404 where Odoo tells (19; 17 and 18 answer it as a channel
with nobody online); Odoo unreachable gives the last answer, marked stale."""
from __future__ import annotations

import time

import aiohttp
import pytest

from tests.conftest import Client
from tests.odoo.test_addon_live import relay_for_addon
from tests.odoo.test_relay_odoo_live import relay_behind_faultline  # noqa: F401 (fixture)

pytestmark = pytest.mark.odoo


@pytest.fixture
def rules(odoo):
    """Two rules on the channel (an auto popup on /pricing, the button hidden on /private), removed after."""
    made = [odoo.execute("im_livechat.channel.rule", "create", [{
        "channel_id": odoo.livechat_channel, "regex_url": regex, "action": action, "auto_popup_timer": timer,
        "sequence": 1}]) for regex, action, timer in (("/pricing", "auto_popup", 7), ("/private", "hide_button", 0))]
    made = [m[0] if isinstance(m, list) else m for m in made]
    try:
        yield made
    finally:
        odoo.execute("im_livechat.channel.rule", "unlink", [made])


async def get_config(client: Client, page: str, channel: int | None = None) -> tuple[int, dict]:
    query = f"page_url=https://shop.example{page}" + (f"&livechat_channel_id={channel}" if channel else "")
    status, body, _ = await client.call("GET", "/v1/config?" + query)
    return status, body


async def test_the_config_is_odoos_own_start_for_that_page(odoo, tmp_path, rules):
    odoo.operator_online()
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "poll",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel)}
    channel = odoo.execute("im_livechat.channel", "read", [[odoo.livechat_channel],
                                                           ["button_text", "default_message", "button_background_color"]])[0]
    with relay_for_addon(odoo, tmp_path, env, enabled=False) as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            status, body = await get_config(client, "/")
            assert status == 200, body
            assert body["available"] is True
            assert body["rule"]["action"] == "display_button"
            assert body["texts"]["button"] == channel["button_text"]
            assert body["texts"]["welcome"] == channel["default_message"]
            assert body["colors"]["button"].lower() == channel["button_background_color"].lower()
            status, body = await get_config(client, "/pricing")
            assert body["rule"] == {"action": "auto_popup", "auto_popup_timer": 7, "chatbot": False}, body
            # a visitor's language Odoo does not have: Odoo's default language's texts, as its own widget
            status, body, _ = await client.call("GET", "/v1/config?lang=fr-BE&page_url=https://shop.example/")
            assert status == 200 and body["texts"]["button"] == channel["button_text"], body
            status, body = await get_config(client, "/private/page")
            assert body["rule"]["action"] == "hide_button" and body["available"] is False, body
            assert odoo.url not in str(body)
            # changed in Odoo's Live Chat › Channels › Rules: seen once the 30 s are over (a new page now)
            odoo.execute("im_livechat.channel.rule", "write", [[rules[0]], {"auto_popup_timer": 3}])
            status, body = await get_config(client, "/pricing?new=1")
            assert body["rule"]["auto_popup_timer"] == 3
            status, body = await get_config(client, "/", channel=987654)
            if odoo.major >= 19:
                assert (status, body["error"]) == (404, "unknown_channel"), body
            else:   # 17 and 18's public routes answer an unknown channel as one with nobody online
                assert (status, body["available"]) == (200, False), body


async def test_odoo_unreachable_gives_the_last_answer_marked_stale(odoo, relay_behind_faultline):  # noqa: F811
    relay, line = relay_behind_faultline
    odoo.operator_online()
    async with aiohttp.ClientSession() as http:
        client = Client(relay, http)
        status, fresh = await get_config(client, "/")
        assert status == 200 and "stale" not in fresh, fresh
        line.set("refuse")
        time.sleep(0.2)
        status, body = await get_config(client, "/another-page")     # not kept for this page: the channel's last
        assert status == 200 and body["stale"] is True
        assert {k: v for k, v in body.items() if k != "stale"} == fresh
        line.set("open")
