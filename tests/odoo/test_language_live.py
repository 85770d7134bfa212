"""The visitor's language reaches Odoo (issue 15, item 4) on real Odoo 17, 18 and 19: with a French
speaking operator and an English speaking one both online, conversations opened through the relay
in French go to the first and those in English to the second, every time (Odoo would otherwise
share them out by load); the guest Odoo makes for the visitor speaks the visitor's language, and
on 19 the session says it (``livechat_lang_id``, shown to the operator)."""
from __future__ import annotations

import aiohttp
import pytest

from tests.conftest import Client
from tests.relayproc import RelayProcess
from tools.odoo_client import Odoo

pytestmark = pytest.mark.odoo
FRENCH = ("relay-op-fr", "relay-op-fr-pw")


def language_installed(odoo, code: str) -> int:
    """The id of ``code``, installed in Odoo the way its Settings › Languages does (kept installed)."""
    ids = odoo.execute("res.lang", "search", [[["code", "=", code], ["active", "in", [True, False]]]])
    if not odoo.execute("res.lang", "search", [[["code", "=", code]]]):
        wizard = odoo.execute("base.language.install", "create", [{"lang_ids": [(6, 0, ids)]}])
        odoo.execute("base.language.install", "lang_install", [[wizard]])
    return ids[0]


@pytest.fixture
def french_operator(odoo):
    """An operator whose language is French, online in the channel beside the logged-in (English)
    one; out of the channel afterwards, so other tests find their default operator."""
    language_installed(odoo, "fr_FR")
    odoo.execute("res.users", "write", [[odoo.uid], {"lang": "en_US"}])
    odoo.operator_online()
    groups = "group_ids" if odoo.major >= 19 else "groups_id"
    ref = lambda module, name: odoo.execute("ir.model.data", "check_object_reference", [module, name])[1]  # noqa: E731
    wanted = {groups: [(4, ref("base", "group_user")), (4, ref("im_livechat", "im_livechat_group_user"))],
              "lang": "fr_FR"}
    found = odoo.execute("res.users", "search", [[["login", "=", FRENCH[0]]]])
    if found:
        uid = found[0]
        odoo.execute("res.users", "write", [[uid], wanted])
    else:
        uid = odoo.execute("res.users", "create", [{"name": "Opératrice Française", "login": FRENCH[0],
                                                    "password": FRENCH[1], **wanted}])
    odoo.execute("im_livechat.channel", "write", [[odoo.livechat_channel], {"user_ids": [(4, uid)]}])
    other = Odoo(odoo.url, odoo.db, FRENCH[0], FRENCH[1], odoo.livechat_channel).start()
    other.call("/websocket/peek_notifications", {"channels": [], "last": 0, "is_first_poll": True}, other.web)
    presence: dict = {"inactivity_period": 0}
    if odoo.major < 19:
        presence["im_status_ids_by_model"] = {}
    other.call("/websocket/update_bus_presence", presence, other.web)
    available = odoo.execute("im_livechat.channel", "read", [[odoo.livechat_channel], ["available_operator_ids"]])
    assert {odoo.uid, uid} <= set(available[0]["available_operator_ids"]), available
    try:
        yield odoo.execute("res.users", "read", [[uid], ["partner_id"]])[0]["partner_id"][0]
    finally:
        odoo.execute("im_livechat.channel", "write", [[odoo.livechat_channel], {"user_ids": [(3, uid)]}])


def session_facts(odoo, channel_id: int) -> tuple[int, str, str | None]:
    """(operator's partner, the guest's language, the session's language on 19)."""
    fields = ["livechat_operator_id"] + (["livechat_lang_id"] if odoo.major >= 19 else [])
    channel = odoo.execute("discuss.channel", "read", [[channel_id], fields])[0]
    (member,) = odoo.execute("discuss.channel.member", "search_read", [
        [["channel_id", "=", channel_id], ["guest_id", "!=", False]]], {"fields": ["guest_id"]})
    guest = odoo.execute("mail.guest", "read", [[member["guest_id"][0]], ["lang"]])[0]
    session_lang = channel.get("livechat_lang_id")
    return (channel["livechat_operator_id"][0], guest["lang"],
            session_lang[1] if isinstance(session_lang, list) else None)


async def test_the_visitors_language_chooses_the_operator_and_is_the_guests(odoo, tmp_path, french_operator):
    me = odoo.execute("res.users", "read", [[odoo.uid], ["partner_id"]])[0]["partner_id"][0]
    french = odoo.execute("res.lang", "search_read", [[["code", "=", "fr_FR"]]], {"fields": ["name"]})[0]["name"]
    english = odoo.execute("res.lang", "search_read", [[["code", "=", "en_US"]]], {"fields": ["name"]})[0]["name"]
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "poll",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel)}
    opened = []
    relay = RelayProcess(tmp_path, env=env).start()
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            try:
                # alternating, three times each: by load alone Odoo would share them out
                for lang, operator, guest_lang, session_lang in [("fr", french_operator, "fr_FR", french),
                                                                  ("en", me, "en_US", english)] * 3:
                    conv = await client.create(visitor_name=f"Visitor {lang}", lang=lang)
                    opened.append(conv)
                    facts = session_facts(odoo, await client.channel_of(conv["conversation_id"]))
                    assert facts[:2] == (operator, guest_lang), (lang, facts)
                    if odoo.major >= 19:
                        assert facts[2] == session_lang, (lang, facts)
                # a language no operator speaks (and Odoo does not have): any operator, by load
                conv = await client.create(visitor_name="Visitor de", lang="de-CH")
                opened.append(conv)
                assert session_facts(odoo, await client.channel_of(conv["conversation_id"]))[0] in (me, french_operator)
            finally:
                for conv in opened:       # the sessions left, so they weigh on no later test's choice
                    await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/close", conv["token"])
    finally:
        relay.stop()
