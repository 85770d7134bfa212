"""The operator's ``/history`` on the Odoo side, without Odoo (the live test is
tests/odoo/test_pages_live.py): the bus notification each version sends is read on the session's
own bus frames and routed on the shared socket; the answer goes to each version's route."""
from __future__ import annotations

import pytest

from proxy.odoo import payloads
from proxy.odoo.adapters import Adapter
from proxy.odoo.shared_bus import SharedBus

HISTORY_17_18 = {"id": 41, "message": {"type": "im_livechat.history_command", "payload": {"id": 12}}}
HISTORY_19 = {"id": 42, "message": {"type": "im_livechat.history_command", "payload": {"id": 12, "partner_id": 3}}}


@pytest.mark.parametrize("major,note,partner", [(17, HISTORY_17_18, None), (18, HISTORY_17_18, None), (19, HISTORY_19, 3)])
def test_the_history_command_of_this_session_is_one_item(major, note, partner):
    items = payloads.bus_items([note], 12, "http://odoo")
    assert [(i.kind, i.partner_id) for i in items] == [("history", partner)]
    assert payloads.bus_items([note], 13, "http://odoo") == []      # another session's


def test_an_odd_history_command_costs_nothing_else():
    odd = {"id": 43, "message": {"type": "im_livechat.history_command", "payload": {"id": "x"}}}
    assert payloads.bus_items([odd, {"message": {"type": "im_livechat.history_command", "payload": []}}], 12, "") == []


def test_the_shared_socket_routes_it_to_its_session():
    bus = SharedBus.__new__(SharedBus)
    bus.convs = {12: object()}
    assert bus._targets(HISTORY_19) == [(12, HISTORY_19)]


@pytest.mark.parametrize("major,route,params", [
    (17, "/im_livechat/history", {"pid": 3, "channel_uuid": "u-1", "page_history": ["https://a.example/"]}),
    (18, "/im_livechat/cors/history", {"guest_token": "g", "pid": 3, "channel_id": 12,
                                       "page_history": ["https://a.example/"]}),
    (19, "/im_livechat/cors/history", {"guest_token": "g", "pid": 3, "channel_id": 12,
                                       "page_history": ["https://a.example/"]}),
])
def test_the_answer_is_what_each_versions_widget_sends(major, route, params):
    assert Adapter(major).history_request("g", 12, "u-1", 3, ["https://a.example/"]) == (route, params)
