"""The Odoo adapters on payloads recorded from real Odoo 17.0, 18.0 and 19.0 servers
(tests/fixtures/odoo/<version>/, copied from the project's odoo-samples: a Python client talked
to each server over HTTP on 127.0.0.1 as an external relay would; see the README there)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.odoo.adapters import Adapter, ShapeError, major_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "odoo"


def sample(version: int, name: str) -> dict:
    return json.loads((FIXTURES / str(version) / f"{name}.json").read_text())


@pytest.mark.parametrize("version", [17, 18, 19])
def test_version_detection(version):
    serie = sample(version, "version_info")["response"]["result"]["server_serie"]
    assert Adapter.for_serie(serie).major == version


def test_saas_and_unsupported_versions():
    assert major_of("saas~18.2") == 18 and Adapter.for_serie("saas~18.3").major == 18
    for bad in ("16.0", "15.0"):
        with pytest.raises(ShapeError):
            Adapter.for_serie(bad)
    with pytest.raises(ShapeError):
        major_of("banana")


@pytest.mark.parametrize("version", [17, 18, 19])
def test_get_session_request_and_answer(version):
    recorded = sample(version, "get_session_cors")
    adapter = Adapter(version)
    params = adapter.session_params(1, "Visitor B")
    assert params == recorded["request"]["params"]
    channel_id, token = adapter.parse_session(recorded["response"]["result"])
    post = sample(version, "message_post_cors")["request"]["params"]
    assert (channel_id, token) == (post["thread_id"], post["guest_token"])
    assert adapter.parse_session(sample(version, "get_session_cors_no_operator")["response"]["result"]) is None


@pytest.mark.parametrize("version", [17, 18, 19])
def test_message_post_request_and_answer(version):
    recorded = sample(version, "message_post_cors")
    adapter = Adapter(version)
    req = recorded["request"]["params"]
    params = adapter.post_params(req["guest_token"], req["thread_id"], req["post_data"]["body"])
    assert params["post_data"]["message_type"] == "comment"
    assert params["post_data"]["subtype_xmlid"] == "mail.mt_comment"
    assert {k: v for k, v in params.items() if k != "post_data"} == {k: v for k, v in req.items() if k not in ("post_data", "context")}
    message_id = adapter.parse_post(recorded["response"]["result"])
    assert isinstance(message_id, int) and message_id > 0


@pytest.mark.parametrize("version", [17, 18, 19])
def test_leave_params_match_the_recorded_request(version):
    req = sample(version, "bus_visitor_leave_cors")["request"]["params"]
    adapter = Adapter(version)
    params = adapter.leave_params(req["guest_token"], req.get("channel_id"), req.get("uuid"))
    assert params == req


def test_session_uuid_for_17_leave():
    recorded = sample(17, "get_session_cors")["response"]["result"]
    assert Adapter(17).session_uuid(recorded) == recorded["uuid"]
    assert Adapter(18).session_uuid(sample(18, "get_session_cors")["response"]["result"]) is None


def test_visitor_text_is_escaped_for_odoo():
    params = Adapter(18).post_params("t", 1, "<script>x</script>\nline 2")
    assert params["post_data"]["body"] == "&lt;script&gt;x&lt;/script&gt;<br>line 2"


@pytest.mark.parametrize("garbage", [{"unexpected": 1}, [], "html", {"Store": {}}])
def test_unknown_shapes_are_shape_errors(garbage):
    for version in (17, 18, 19):
        with pytest.raises(ShapeError):
            Adapter(version).parse_session(garbage)
        with pytest.raises(ShapeError):
            Adapter(version).parse_post(garbage)


@pytest.mark.parametrize("version", [17, 18, 19])
def test_the_assigned_operator_is_named(version):
    result = sample(version, "get_session_cors")["response"]["result"]
    partner_id, name = Adapter(version).session_operator(result)
    assert name == "Administrator" and partner_id == 3       # admin's partner on every rig
    assert Adapter(version).session_operator({"odd": "shape"}) is None


@pytest.mark.parametrize("version", [17, 18, 19])
def test_the_widget_init_and_loader_as_recorded(version):
    from proxy.odoo.adapters import parse_loader
    recorded = sample(version, "init_rule")
    adapter = Adapter(version)
    route, params = adapter.init_request(1)
    assert (route, params) == (recorded["request"]["route"], recorded["request"]["params"])
    assert adapter.parse_init(recorded["response"]["result"]) == (
        True, {"action": "auto_popup", "auto_popup_timer": 7, "chatbot": False})
    available, rule = adapter.parse_init(recorded["response_other_page"]["result"])
    assert available is True and rule == {}                      # no rule for that page
    found = parse_loader(recorded["loader"])
    assert found["texts"]["button"] and found["texts"]["welcome"] == "Hello, how may I help you?"
    assert found["colors"]["button"] == "#875A7B"


def test_init_shapes_a_version_does_not_know():
    assert Adapter(19).parse_init({"Store": {}}) is None          # 19: no such channel
    with pytest.raises(ShapeError):
        Adapter(18).parse_init({"rule": {}})
    assert Adapter(17).parse_init({"available_for_me": 0, "rule": {"action": "explode"}}) == (False, {})
    from proxy.odoo.adapters import parse_loader
    assert parse_loader("garbage") == {"texts": {}, "colors": {}}
    assert parse_loader('options: {"button_text": "<b>x</b>", "button_background_color": "red;x"},\n') == {
        "texts": {"button": "<b>x</b>"}, "colors": {}}            # texts are shown as text; colours checked


def test_a_rule_not_understood_shows_the_button_and_is_logged_once(caplog):
    """Fail open: Odoo answering a rule with garbage leaves the button shown (no rule), said once."""
    caplog.set_level("WARNING", logger="relay.odoo")
    garbage = {"available_for_me": True, "rule": {"action": ["hide_button"], "auto_popup_timer": "soon"}}
    for _ in range(3):
        assert Adapter(18).parse_init(garbage) == (True, {})
    assert Adapter(18).parse_init({"available_for_me": True, "rule": "hide everything"}) == (True, {})
    said = [r for r in caplog.records if "rule not understood" in r.getMessage()]
    assert len(said) == 2                                          # each odd rule once
    assert Adapter(18).parse_init({"available_for_me": True, "rule": {"action": "auto_popup",
                                                                      "auto_popup_timer": -3}}) == (
        True, {"action": "auto_popup", "auto_popup_timer": 0, "chatbot": False})


@pytest.mark.parametrize("version", [17, 18, 19])
def test_recorded_get_session_by_its_cookie_route_with_the_visitors_language(version):
    """tools/record_odoo_samples on real 17/18/19: the route and the language as the relay sends
    them, and Odoo's answer read as a session (id, guest token)."""
    recorded = sample(version, "get_session_cookie_lang")
    adapter = Adapter(version)
    assert recorded["request"]["path"] == adapter.session_route() == "/im_livechat/get_session"
    cookies, headers = adapter.session_language("fr_FR")
    assert (recorded["request"]["cookies"], recorded["request"]["headers"]) == (cookies, headers)
    channel_id, guest_token = adapter.parse_session(recorded["response"]["result"])
    assert channel_id > 0 and "|" in guest_token


@pytest.mark.parametrize("version", [17, 18, 19])
def test_recorded_history_command_and_odoos_answer(version):
    """An operator's /history as it reaches the visitor's guest channel on real 17/18/19, read as
    one "history" item (19 names the operator who asked), and Odoo taking the answer sent as its
    own widget sends it."""
    from proxy.odoo import payloads
    recorded = sample(version, "bus_history_command")
    notifications = recorded["response"]["result"]["notifications"]
    channel_id = recorded["request"]["channel_id"]
    items = payloads.bus_items(version, notifications, channel_id, "http://odoo.test")
    assert [item.kind for item in items] == ["history"]
    assert items[0].partner_id == (notifications[0]["message"]["payload"].get("partner_id") if version >= 19 else None)
    answer = sample(version, "history_answer")
    route, _ = Adapter(version).history_request("g", channel_id, "u", 3, [])
    assert answer["request"]["path"] == route
    assert "error" not in answer["response"]
    assert answer["request"]["params"]["page_history"] == ["https://shop.example/", "https://shop.example/pricing"]
