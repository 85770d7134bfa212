"""Operator replies parsed from Odoo's bus and from polling, on payloads recorded from real Odoo
17.0, 18.0 and 19.0 servers (tests/fixtures/odoo/<version>/, copied from the project's
odoo-samples: a client subscribed as the visitor's guest received these frames; see the README
there). The synthetic cases at the end are recorded payloads with one thing changed."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from proxy.odoo.payloads import BusItem, OdooMessage, ShapeError, bus_items, last_bus_id, poll_messages, poll_params

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "odoo"
VERSIONS = [17, 18, 19]
BASE = "http://odoo.test"


def sample(version: int, name: str) -> dict:
    return json.loads((FIXTURES / str(version) / f"{name}.json").read_text())


def frames(recorded: dict) -> list[list]:
    return recorded["bus"]["frames"] if "bus" in recorded else recorded["response"]


def channel_of(recorded: dict) -> int | None:
    """The Odoo session a sample is about: from the request, else from its new_message payloads.
    None for edits and deletes, whose request and payload name no channel."""
    params = recorded["request"].get("params") or {}
    for key in ("thread_id", "channel_id"):
        if isinstance(params.get(key), int):
            return params[key]
    args = params.get("args")
    if args and isinstance(args[0], int):                       # call_kw action_unfollow [id]
        return args[0]
    if args and args[3:5] == ["discuss.channel", "message_post"]:  # execute_kw … [[id]]
        return args[5][0][0]
    for frame in frames(recorded):
        for note in frame:
            if note["message"]["type"] == "discuss.channel/new_message":
                return note["message"]["payload"]["id"]
    return None


def items_of(version: int, name: str, channel: int | None = None) -> list[BusItem]:
    recorded = sample(version, name)
    channel = channel if channel is not None else channel_of(recorded)
    out = []
    for frame in frames(recorded):
        out.extend(bus_items(frame, channel if channel is not None else 999999, BASE))
    return out


def edited_body(recorded: dict) -> str:
    params = recorded["request"]["params"]
    return params["update_data"]["body"] if "update_data" in params else params["body"]


# ---------------------------------------------------------------------- bus: recorded scenarios


@pytest.mark.parametrize("version", VERSIONS)
def test_operator_reply_is_one_operator_message(version):
    recorded = sample(version, "bus_operator_reply")
    items = items_of(version, "bus_operator_reply")
    assert [i.kind for i in items] == ["message"]
    msg = items[0].message
    assert isinstance(msg, OdooMessage) and isinstance(msg.id, int)
    assert msg.author_kind == "operator" and msg.author_name == "Administrator"
    assert msg.body_html == f"<p>{recorded['request']['params']['args'][6]['body']}</p>" == "<p>Operator reply</p>"
    assert msg.attachments == [] and msg.is_note is False


@pytest.mark.parametrize("version", VERSIONS)
def test_visitor_post_is_a_visitor_message(version):
    recorded = sample(version, "bus_visitor_post")
    items = items_of(version, "bus_visitor_post")
    assert [i.kind for i in items] == ["message"]
    msg = items[0].message
    assert (msg.author_kind, msg.author_name, msg.is_note) == ("visitor", "Visitor", False)
    assert msg.body_html == f"<p>{recorded['request']['params']['post_data']['body']}</p>"


@pytest.mark.parametrize("version", VERSIONS)
def test_other_sessions_are_ignored(version):
    for name in ("bus_operator_reply", "bus_visitor_post", "bus_operator_typing", "bus_operator_leave",
                 "bus_visitor_leave_cors", "bus_subscribe"):
        assert items_of(version, name, channel=channel_of(sample(version, name)) + 1000) == [], name


@pytest.mark.parametrize("version,name", [(17, "bus_operator_edit"), (18, "bus_operator_edit"), (19, "bus_operator_edit"),
                                          (17, "bus_operator_edit_uuid_channel")])
def test_operator_edit_is_updated_with_the_new_body(version, name):
    recorded = sample(version, name)
    items = items_of(version, name)
    # 17 sends the edit twice when the uuid channel is subscribed too: one item
    assert [i.kind for i in items] == ["updated"]
    item = items[0]
    assert item.message_id == item.message.id == recorded["request"]["params"]["message_id"]
    # the "edited" marker of 18 (after </p>) and 19 (inside the <p>, after a space) is gone
    assert item.message.body_html == edited_body(recorded) == "<p>Operator message v2 (edited)</p>"
    assert item.message.is_note is False and item.message.author_kind != "visitor"


@pytest.mark.parametrize("version", VERSIONS)
def test_operator_delete_is_deleted(version):
    recorded = sample(version, "bus_operator_delete")
    assert edited_body(recorded) == ""
    items = items_of(version, "bus_operator_delete")
    assert items == [BusItem(kind="deleted", message_id=recorded["request"]["params"]["message_id"])]


@pytest.mark.parametrize("name", ["bus_operator_edit_orm_write", "bus_operator_unlink"])
@pytest.mark.parametrize("version", VERSIONS)
def test_orm_write_and_unlink_give_nothing(version, name):
    recorded = sample(version, name)
    assert frames(recorded) == []                  # Odoo sent the visitor no frame at all
    assert items_of(version, name, channel=1) == []
    assert bus_items([], 1, BASE) == [] and last_bus_id([]) is None


@pytest.mark.parametrize("name,typing", [("bus_operator_typing", True), ("bus_operator_typing_stop", False)])
@pytest.mark.parametrize("version", VERSIONS)
def test_operator_typing(version, name, typing):
    recorded = sample(version, name)
    assert recorded["request"]["params"]["is_typing"] is typing
    items = items_of(version, name)
    assert items == [BusItem(kind="typing", name="Administrator", member_kind="operator", typing=typing)]


@pytest.mark.parametrize("version", VERSIONS)
def test_visitor_typing(version):
    items = items_of(version, "bus_visitor_typing")
    assert items == [BusItem(kind="typing", name="Visitor", member_kind="visitor", typing=True)]


@pytest.mark.parametrize("name", ["bus_visitor_leave_cors", "bus_visitor_leave_cookie"])
@pytest.mark.parametrize("version", VERSIONS)
def test_visitor_leave_is_a_note_and_closes_on_19(version, name):
    items = items_of(version, name)
    notes = [i.message for i in items if i.kind == "message"]
    assert len(notes) == 1 and notes[0].is_note is True
    assert "left the conversation." in notes[0].body_html
    # 17: authored by the guest; 18/19: by OdooBot
    assert (notes[0].author_kind, notes[0].author_name) == (("visitor", "Visitor") if version == 17 else ("bot", "OdooBot"))
    assert [i.kind for i in items if i.kind != "message"] == (["closed"] if version == 19 else [])


@pytest.mark.parametrize("version", VERSIONS)
def test_operator_leave_is_member_left_with_its_note(version):
    items = items_of(version, "bus_operator_leave")
    assert [i.kind for i in items] == ["message", "member_left"] + (["closed"] if version == 19 else [])
    note = items[0].message
    assert note.is_note is True and "left the channel" in note.body_html
    assert (note.author_kind, note.author_name) == ("operator", "Administrator")
    assert items[1] == BusItem(kind="member_left", name="Administrator", member_kind="operator")


@pytest.mark.parametrize("version", VERSIONS)
def test_subscribe_replay_gives_only_the_messages(version):
    items = items_of(version, "bus_subscribe")        # 17/18 also replay joined, members, pins…
    assert [(i.kind, i.message.author_kind, i.message.body_html) for i in items] == [
        ("message", "visitor", "<p>Hello before subscribing</p>"),
        ("message", "operator", "<p>Operator reply before subscribing</p>"),
    ]
    assert items[0].message.id < items[1].message.id


@pytest.mark.parametrize("version", VERSIONS)
def test_last_bus_id(version):
    for name in ("bus_operator_reply", "bus_operator_leave", "bus_subscribe"):
        for frame in frames(sample(version, name)):
            assert last_bus_id(frame) == max(n["id"] for n in frame)
    assert last_bus_id([{"id": 5}, {"id": 9}, {"id": 7}, {"no": 1}, "x", {"id": True}]) == 9


@pytest.mark.parametrize("version", VERSIONS)
def test_peek_notifications(version):
    """The HTTP fallback of the bus carries the same notifications; the next peek's ``last`` is
    the highest id of the first."""
    first, nxt = sample(version, "peek_notifications"), sample(version, "peek_notifications_next")
    result = first["response"]["result"]
    channel = next(c[2] for c in result["channels"] if c[1:2] == ["discuss.channel"])
    items = bus_items(result["notifications"], channel, BASE)
    assert [(i.kind, i.message.author_kind) for i in items] == [("message", "visitor"), ("message", "operator")]
    assert last_bus_id(result["notifications"]) == nxt["request"]["params"]["last"]
    items = bus_items(nxt["response"]["result"]["notifications"], channel, BASE)
    assert [(i.kind, i.message.author_kind, i.message.body_html) for i in items] == [
        ("message", "operator", "<p>Second operator reply (peek)</p>")]


# ---------------------------------------------------------------------- polling


@pytest.mark.parametrize("version", [17, 18])
def test_poll_params_reproduce_the_argument_shift(version):
    params = sample(version, "messages_cors_after_via_limit")["request"]["params"]
    assert poll_params(version, params["guest_token"], params["channel_id"], params["limit"]) == params


def test_poll_params_19():
    params = sample(19, "messages_cors")["request"]["params"]
    assert poll_params(19, params["guest_token"], params["channel_id"], 0) == params
    assert poll_params(19, "t", 62, 185) == {"guest_token": "t", "channel_id": 62,
                                            "fetch_params": {"after": 185, "limit": 30}}


POLLED = [(17, "messages_cors_after_via_limit"), (17, "messages_cors_default"), (17, "messages_cors_limit_null"),
          (17, "messages_cookie"), (18, "messages_cors_after_via_limit"), (18, "messages_cors_default"),
          (18, "messages_cors_limit_null"), (18, "messages_cookie"), (19, "messages_cors"), (19, "messages_cookie")]


@pytest.mark.parametrize("version,name", POLLED)
def test_poll_messages(version, name):
    recorded = sample(version, name)
    params, result = recorded["request"]["params"], recorded["response"]["result"]
    messages = poll_messages(result, params["channel_id"], BASE)
    rows = result["messages"] if version == 17 else result["data"]["mail.message"]
    expected_ids = [r["id"] for r in rows] if version == 17 else result["messages"]
    assert [m.id for m in messages] == sorted(expected_ids)
    for msg in messages:
        row = next(r for r in rows if r["id"] == msg.id)
        guest = (row.get("author") or {}).get("type") == "guest" or bool(row.get("author_guest_id"))
        assert msg.author_kind == ("visitor" if guest else "operator")
        assert msg.author_name == ("Visitor" if guest else "Administrator")
        assert msg.body_html.startswith("<p>") and msg.is_note is False and msg.attachments == []
    assert messages[-1].body_html.startswith("<p>Operator reply to ")
    if name == "messages_cors_after_via_limit":     # the shifted "limit" acted as "after"
        assert all(m.id > params["limit"] for m in messages) and len(messages) == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_poll_messages_keeps_only_the_session(version):
    name = "messages_cors" if version == 19 else "messages_cors_default"
    recorded = sample(version, name)
    assert poll_messages(recorded["response"]["result"], recorded["request"]["params"]["channel_id"] + 1, BASE) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_poll_messages_garbage(version):
    for bad in (None, "html", 5, True, {"unexpected": 1}):
        with pytest.raises(ShapeError):
            poll_messages(bad, 1, BASE)
    assert poll_messages([], 1, BASE) == []
    assert poll_messages({"messages": []}, 1, BASE) == []
    assert poll_messages({"data": {}, "messages": []}, 1, BASE) == []
    junk = [1, "x", None, {"id": "nope"}, {"body": "<p>no id</p>"}, {"id": 4, "body": ["markup"], "res_id": 1,
                                                                     "model": "discuss.channel", "author": 7}]
    out = poll_messages(junk, 1, BASE)
    assert [m.id for m in out] == [4] and out[0].body_html == "" and out[0].is_note is True
    out = poll_messages({"data": {"mail.message": junk, "res.partner": "x"}, "messages": [4, "x", None]}, 1, BASE)
    assert [m.id for m in out] == [4]


# ---------------------------------------------------------------------- garbage on the bus


@pytest.mark.parametrize("version", VERSIONS)
def test_a_frame_that_is_not_a_list_is_a_shape_error(version):
    for bad in ({"id": 1, "message": {}}, None, "[]", 3):
        with pytest.raises(ShapeError):
            bus_items(bad, 1, BASE)
        with pytest.raises(ShapeError):
            last_bus_id(bad)


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_and_broken_notifications_are_skipped(version):
    ch = 7
    frame = [
        1, "x", None, [], {}, {"id": 3}, {"id": 4, "message": None}, {"id": 5, "message": {"type": "x"}},
        {"id": 6, "message": {"type": "bus.bus/im_status_updated", "payload": {"im_status": "online"}}},
        {"id": 7, "message": {"type": "discuss.channel/new_message", "payload": None}},
        {"id": 8, "message": {"type": "discuss.channel/new_message", "payload": {"id": ch}}},
        {"id": 9, "message": {"type": "discuss.channel/new_message", "payload": {"id": ch, "message": {"body": "x"}}}},
        {"id": 10, "message": {"type": "discuss.channel/new_message", "payload": {"id": ch, "data": "x"}}},
        {"id": 11, "message": {"type": "discuss.channel/new_message",
                               "payload": {"id": ch, "data": {"mail.message": [{"id": "x"}, 5, None]}}}},
        {"id": 12, "message": {"type": "mail.record/insert", "payload": {"mail.message": "x", "Message": 5}}},
        {"id": 13, "message": {"type": "mail.record/insert", "payload": {"mail.message": [{"id": 5}]}}},
        {"id": 14, "message": {"type": "mail.record/insert",
                               "payload": {"discuss.channel": [{"id": ch, "channelMembers": "junk",
                                                                "channel_member_ids": [["DELETE"], 5, ["ADD", [1]]]}]}}},
        {"id": 15, "message": {"type": "mail.record/insert",
                               "payload": {"discuss.channel.member": [{"id": 1, "thread": {"id": ch}, "isTyping": "yes"}]}}},
        {"id": 16, "message": {"type": "discuss.channel.member/typing_status", "payload": {"thread": {"id": ch}}}},
        {"id": 17, "message": {"type": "discuss.channel.member/typing_status",
                               "payload": {"thread": {"id": ch}, "persona": "x", "isTyping": True}}},
        {"id": 18, "message": {"type": "mail.record/insert", "payload": {"Thread": {"id": ch, "channelMembers": [["DELETE", "x"]]}}}},
    ]
    items = bus_items(frame, ch, BASE)
    # what survives is what the junk still clearly said: a 17 typing with no persona, from anyone
    assert items == [BusItem(kind="typing", name="", member_kind="operator", typing=True)]
    assert last_bus_id(frame) == 18


def _mutations(value):
    """Every copy of ``value`` with one nested key dropped or one nested value set to None."""
    if isinstance(value, dict):
        for key in value:
            yield {k: v for k, v in value.items() if k != key}
            yield {**value, key: None}
            for sub in _mutations(value[key]):
                yield {**value, key: sub}
    elif isinstance(value, list):
        for i, item in enumerate(value[:3]):
            for sub in _mutations(item):
                yield value[:i] + [sub] + value[i + 1:]


@pytest.mark.parametrize("version", VERSIONS)
def test_mutilated_recorded_notifications_never_raise(version):
    names = ["bus_operator_reply", "bus_visitor_post", "bus_operator_edit", "bus_operator_delete",
             "bus_operator_typing", "bus_visitor_leave_cors", "bus_operator_leave"]
    count = 0
    for name in names:
        recorded = sample(version, name)
        channel = channel_of(recorded) or 1
        for frame in frames(recorded):
            for i, note in enumerate(frame):
                for variant in _mutations(note):
                    mutated = frame[:i] + [variant] + frame[i + 1:]
                    for item in bus_items(mutated, channel, BASE):
                        assert item.kind in {"message", "updated", "deleted", "typing", "closed", "member_left"}
                    count += 1
    assert count > 100


# ---------------------------------------------------------------------- variations of recorded payloads


def _new_message(version: int, name: str = "bus_operator_reply") -> tuple[list, int, dict]:
    recorded = sample(version, name)
    frame = copy.deepcopy(frames(recorded)[0])
    note = next(n for n in frame if n["message"]["type"] == "discuss.channel/new_message")
    return [note], channel_of(recorded), note["message"]["payload"]


def _kind(version: int, frame: list, channel: int) -> str:
    (item,) = bus_items(frame, channel, BASE)
    return item.message.author_kind


def test_author_kinds_17():
    frame, ch, payload = _new_message(17)
    author = payload["message"]["author"]
    author["user"] = {"id": 9, "isInternalUser": False}            # portal / website user
    assert _kind(17, frame, ch) == "visitor"
    author["user"] = False                                          # no user at all: chatbot partner
    assert _kind(17, frame, ch) == "bot"
    author.update(id=2, name="OdooBot", user={"id": 1, "isInternalUser": True})
    assert _kind(17, frame, ch) == "bot"
    del author["user"]
    author["id"] = 44                                               # the payload cannot tell
    assert _kind(17, frame, ch) == "operator"


def test_author_kinds_18():
    frame, ch, payload = _new_message(18)
    partner = payload["data"]["res.partner"][0]
    partner.update(isInternalUser=False, userId=9)
    assert _kind(18, frame, ch) == "visitor"
    partner.update(isInternalUser=False, userId=False)
    assert _kind(18, frame, ch) == "bot"
    del payload["data"]["res.partner"]                              # the Store cannot tell
    assert _kind(18, frame, ch) == "operator"
    _frame, _ch, bot = _new_message(18, "bus_visitor_leave_cors")  # OdooBot is an internal user in 18
    assert bot["data"]["res.partner"][0]["isInternalUser"] is True and _kind(18, _frame, _ch) == "bot"


def test_author_kinds_19():
    frame, ch, payload = _new_message(19)
    payload["data"]["res.users"][0]["share"] = True
    assert _kind(19, frame, ch) == "visitor"
    payload["data"]["res.partner"][0]["main_user_id"] = False
    assert _kind(19, frame, ch) == "bot"
    payload["data"]["res.partner"][0]["main_user_id"] = 2
    del payload["data"]["res.users"]                                # the Store cannot tell
    assert _kind(19, frame, ch) == "operator"


def test_livechat_username_is_the_operator_name():
    frame, ch, payload = _new_message(19)
    payload["data"]["res.partner"][0]["user_livechat_username"] = "Mitchell"
    (item,) = bus_items(frame, ch, BASE)
    assert item.message.author_name == "Mitchell"


def test_livechat_username_is_the_operator_name_on_17():
    """17's message_format drops the author's name and adds user_livechat_username when the
    operator has an alias (im_livechat/models/mail_message.py)."""
    frame, ch, payload = _new_message(17)
    author = payload["message"]["author"]
    del author["name"]
    author["user_livechat_username"] = "Sam from Support"
    (item,) = bus_items(frame, ch, BASE)
    assert item.message.author_name == "Sam from Support"


@pytest.mark.parametrize("version", [18, 19])
def test_a_reply_store_carries_the_parent_message_too(version):
    frame, ch, payload = _new_message(version)
    new = payload["data"]["mail.message"][0]
    parent = {**copy.deepcopy(new), "id": new["id"] - 50, "body": "<p>earlier</p>"}
    payload["data"]["mail.message"].insert(0, parent)
    (item,) = bus_items(frame, ch, BASE)
    assert item.message.id == new["id"]


def test_internal_note_is_a_note():
    frame, ch, payload = _new_message(17)
    payload["message"]["is_note"] = True
    (item,) = bus_items(frame, ch, BASE)
    assert item.message.is_note is True


def test_attachments_19_with_access_token():
    frame, ch, payload = _new_message(19)
    payload["data"]["mail.message"][0]["attachment_ids"] = [31]
    payload["data"]["ir.attachment"] = [{"id": 31, "name": "invoice.pdf", "mimetype": "application/pdf",
                                         "file_size": 48213, "raw_access_token": "a b/c"}]
    (item,) = bus_items(frame, ch, BASE + "/")
    assert item.message.attachments == [{"id": 31, "name": "invoice.pdf", "mimetype": "application/pdf",
                                          "size": 48213, "url": BASE + "/web/content/31?access_token=a%20b%2Fc"}]


def test_attachments_18_and_17_without_token():
    frame, ch, payload = _new_message(18)
    payload["data"]["mail.message"][0]["attachment_ids"] = [31]
    payload["data"]["ir.attachment"] = [{"id": 31, "name": "a.png", "mimetype": "image/png", "size": 10}]
    (item,) = bus_items(frame, ch, BASE)
    assert item.message.attachments == [{"id": 31, "name": "a.png", "mimetype": "image/png", "size": 10, "url": None}]
    frame, ch, payload = _new_message(17)
    payload["message"]["attachments"] = [{"id": 32, "name": "b.txt", "filename": "b.txt", "mimetype": "text/plain",
                                          "size": 3, "accessToken": "tok"}]
    (item,) = bus_items(frame, ch, BASE)
    assert item.message.attachments[0]["url"] == BASE + "/web/content/32?access_token=tok"


@pytest.mark.parametrize("version", VERSIONS)
def test_emptied_body_with_attachments_left_is_an_update(version):
    recorded = sample(version, "bus_operator_delete")
    frame = copy.deepcopy(frames(recorded)[0])
    payload = frame[0]["message"]["payload"]
    if version == 17:
        payload["Message"]["attachments"] = [{"id": 3, "name": "x.pdf", "mimetype": "application/pdf", "size": 1}]
    else:
        payload["mail.message"][0]["attachment_ids"] = [3]
    (item,) = bus_items(frame, 1, BASE)
    assert item.kind == "updated" and item.message.body_html == "" and [a["id"] for a in item.message.attachments] == [3]


@pytest.mark.parametrize("version", [18, 19])
def test_an_edit_naming_another_session_is_skipped(version):
    recorded = sample(version, "bus_operator_edit")
    frame = copy.deepcopy(frames(recorded)[0])
    frame[0]["message"]["payload"]["mail.message"][0]["thread"] = {"id": 5, "model": "discuss.channel"}
    assert bus_items(frame, 6, BASE) == []
    assert [i.kind for i in bus_items(frame, 5, BASE)] == ["updated"]


def test_typing_changes_in_one_frame_are_kept():
    on = sample(17, "bus_operator_typing")["bus"]["frames"][0][0]
    off = copy.deepcopy(on)
    off["message"]["payload"]["isTyping"] = False
    items = bus_items([on, on, off, on], on["message"]["payload"]["thread"]["id"], BASE)
    assert [i.typing for i in items] == [True, False, True]


def test_member_left_without_a_note_is_anonymous():
    recorded = sample(18, "bus_operator_leave")
    frame = [n for n in frames(recorded)[0] if n["message"]["type"] != "discuss.channel/new_message"]
    assert bus_items(frame, channel_of(recorded), BASE) == [BusItem(kind="member_left")]


def _raw_body(recorded: dict, message_id: int) -> str:
    """The message's body as Odoo stored it (the "edited" marker included), found in the bus payload."""
    stack = [frames(recorded)]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("id") == message_id and "body" in node:
                body = node["body"]
                return body[1] if isinstance(body, list) else body      # 19: ["markup", html]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    raise AssertionError("no body in the payload")


@pytest.mark.parametrize("version", VERSIONS)
def test_one_edit_read_by_the_bus_and_by_the_batch_poller_is_one_change(version):
    from proxy.odoo.payloads.messages import LastEdits, edit_item
    recorded = sample(version, "bus_operator_edit")
    (from_bus,) = items_of(version, "bus_operator_edit")
    mid = from_bus.message_id
    # the batch poller reads the same edit from the message's row (its stored body, marker and all)
    from_row = edit_item({"id": mid, "body": _raw_body(recorded, mid)}, [])
    assert from_row.message.body_html == from_bus.message.body_html
    edits = LastEdits()
    assert edits.changed("c1", from_row) is True          # the poller, while the socket was down
    assert edits.changed("c1", from_bus) is False         # the socket's replay of the same edit
    assert edits.changed("c2", from_bus) is True          # another conversation's own
    other = edit_item({"id": mid, "body": "<p>something else</p>"}, [])
    assert edits.changed("c1", other) is True
    assert edits.changed("c1", from_bus) is True          # edited back to the earlier text: a change
    with_file = edit_item({"id": mid, "body": _raw_body(recorded, mid)}, [{"id": 5, "name": "a.png"}])
    assert edits.changed("c1", with_file) is True         # the same text, a file added
    deleted = BusItem(kind="deleted", message_id=mid)
    assert edits.changed("c1", deleted) is True and edits.changed("c1", deleted) is False
