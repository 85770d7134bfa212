"""Continuity, operator pictures and visitor typing on real Odoo (issue 13, items 5-7): a returning
visitor's next conversation goes to their previous operator (``previous_operator_id``) with their
name on the guest; an operator's picture comes through the relay on every reply path; the
visitor's typing reaches the operator's bus on every version (17 through its cookie route)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import time

import aiohttp
import pytest

from proxy.odoo.adapters import Adapter
from tests.odoo.livechat import answered, live_conversation
from tools.odoo_client import Odoo

pytestmark = pytest.mark.odoo
SECOND = ("relay-op2", "relay-op2-pw")


@pytest.fixture
def second_operator(odoo):
    """A second operator online in the channel beside the logged-in one; out of it afterwards."""
    groups = "group_ids" if odoo.major >= 19 else "groups_id"
    ref = lambda module, name: odoo.execute("ir.model.data", "check_object_reference", [module, name])[1]  # noqa: E731
    wanted = {groups: [(4, ref("base", "group_user")), (4, ref("im_livechat", "im_livechat_group_user"))]}
    found = odoo.execute("res.users", "search", [[["login", "=", SECOND[0]]]])
    if found:
        uid = found[0]
        odoo.execute("res.users", "write", [[uid], wanted])
    else:
        uid = odoo.execute("res.users", "create", [{"name": "Second Operator", "login": SECOND[0],
                                                    "password": SECOND[1], **wanted}])
    odoo.execute("im_livechat.channel", "write", [[odoo.livechat_channel], {"user_ids": [(4, uid)]}])
    other = Odoo(odoo.url, odoo.db, SECOND[0], SECOND[1], odoo.livechat_channel).start()
    other.call("/websocket/peek_notifications", {"channels": [], "last": 0, "is_first_poll": True}, other.web)
    presence: dict = {"inactivity_period": 0}
    if odoo.major < 19:
        presence["im_status_ids_by_model"] = {}
    other.call("/websocket/update_bus_presence", presence, other.web)
    try:
        yield uid, odoo.execute("res.users", "read", [[uid], ["partner_id"]])[0]["partner_id"][0]
    finally:
        odoo.execute("im_livechat.channel", "write", [[odoo.livechat_channel], {"user_ids": [(3, uid)]}])


def operator_of(odoo, channel_id: int) -> int:
    return odoo.execute("discuss.channel", "read", [[channel_id], ["livechat_operator_id"]])[0]["livechat_operator_id"][0]


def guest_name(odoo, channel_id: int) -> str:
    (member,) = odoo.execute("discuss.channel.member", "search_read", [
        [["channel_id", "=", channel_id], ["guest_id", "!=", False]]], {"fields": ["guest_id"]})
    return member["guest_id"][1]


async def test_a_returning_visitor_gets_their_operator_and_their_name(odoo, tmp_path, second_operator):
    other_uid, other_partner = second_operator
    channel = [[odoo.livechat_channel]]
    me = odoo.execute("res.users", "read", [[odoo.uid], ["partner_id"]])[0]["partner_id"][0]
    odoo.execute("im_livechat.channel", "write", channel + [{"user_ids": [(3, other_uid)]}])
    async with live_conversation(odoo, tmp_path, "Returning Ann") as (client, first, first_channel):
        assert operator_of(odoo, first_channel) == me                   # the only one then
        assert guest_name(odoo, first_channel) == "Returning Ann"        # the operator sees the name
        assert (await client.send(first, "r1", "my order is late"))[0] in (200, 201)
        # the second operator back: Odoo gives a visitor it knows nothing of to the least busy one;
        # until that is them, this operator gets more work (this test is the only one to give the
        # second operator any); then the returning visitor must still get this one
        odoo.execute("im_livechat.channel", "write", channel + [{"user_ids": [(4, other_uid)]}])
        for _ in range(60):
            if default_operator(odoo) == other_partner:
                break
            busy, token = odoo.visitor_session("Keeps them busy")
            odoo.call("/im_livechat/cors/message/post", Adapter(odoo.major).post_params(token, busy, "busy"))
        else:
            pytest.fail("the second operator never came first")
        second = await client.create(visitor=first["visitor"])
        second_channel = await client.channel_of(second["conversation_id"])
        assert operator_of(odoo, second_channel) == me
        assert guest_name(odoo, second_channel) == "Returning Ann"       # kept, on 19 too
        assert (await client.send(second, "r1", "me again"))[0] in (200, 201)


def default_operator(odoo) -> int:
    """Who Odoo gives a session to now, for a visitor it knows nothing of (that session left)."""
    channel_id, token = odoo.visitor_session("Probe")
    try:
        return operator_of(odoo, channel_id)
    finally:
        odoo.visitor_leave(channel_id, token)


@pytest.mark.parametrize("mode", ["webhook", "bus", "poll"])
async def test_an_operators_picture_comes_through_the_relay(odoo, tmp_path, mode):
    async with live_conversation(odoo, tmp_path, "Visitor seeing a face", mode=mode,
                                 RELAY_ODOO_POLL_INTERVAL="0.5") as (client, conv, channel_id):
        if mode == "bus":
            await asyncio.sleep(1.5)
        ((_, event),) = await answered(odoo, client, conv, channel_id, "<p>Hello, it's me</p>")
        author = event["message"]["author"]
        partner = odoo.execute("res.users", "read", [[odoo.uid], ["partner_id"]])[0]["partner_id"][0]
        assert author["partner_id"] == partner
        assert author["avatar_url"].startswith(f"/v1/avatars/{conv['conversation_id']}/{partner}?sig=")
        async with aiohttp.ClientSession() as http:          # as an <img>: no token, no cookie
            async with http.get(client.relay.url + author["avatar_url"]) as resp:
                body = await resp.read()
                assert resp.status == 200, body[:200]
                assert resp.headers["Content-Type"] in ("image/png", "image/svg+xml", "image/jpeg", "image/webp")
                assert len(body) > 100
        assert odoo.url not in json.dumps((await client.events(conv))["events"])


async def test_the_visitors_typing_reaches_the_operator(odoo, tmp_path):
    async with live_conversation(odoo, tmp_path, "Visitor typing") as (client, conv, channel_id):
        first = odoo.call("/websocket/peek_notifications", {"channels": [], "last": 0, "is_first_poll": True}, odoo.web)
        last = max([n["id"] for n in first["notifications"]] or [0])
        status, body, _ = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/typing",
                                            conv["token"], json={"typing": True})
        assert status == 204, body
        deadline, seen = time.monotonic() + 10, False
        while not seen and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            for n in odoo.call("/websocket/peek_notifications", {"channels": [], "last": last}, odoo.web)["notifications"]:
                last = max(last, n["id"])
                payload = json.dumps(n["message"]["payload"])
                with contextlib.suppress(KeyError, TypeError):
                    if n["message"]["type"] == "discuss.channel.member/typing_status":      # 17
                        seen = seen or n["message"]["payload"]["thread"]["id"] == channel_id
                    elif '"isTyping": true' in payload:                                   # 18, 19
                        members = n["message"]["payload"]["discuss.channel.member"]
                        for m in members if isinstance(members, list) else [members]:
                            ch = m.get("channel_id") or m.get("thread") or {}
                            seen = seen or m.get("isTyping") is True and (ch.get("id") if isinstance(ch, dict) else ch) in (channel_id, None)
        assert seen, "the operator's bus showed no typing from the visitor"
