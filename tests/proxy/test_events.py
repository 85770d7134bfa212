"""proxy.events.parse_webhook: PROTOCOL §1 webhook bodies become PROTOCOL §2 events.

Every webhook type maps to its event type and fields; operator HTML is sanitized on the way;
unsafe attachment URLs are dropped; anything off-schema is a ``BadRequest`` (400) before anything
is stored. Also ``typing_is_stale`` (typing older than 10 s is dropped).
"""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from proxy import events
from proxy.errors import BadRequest

CHANNEL = {"id": 42, "uuid": "1b7c0c4e-2f6a-4c59-9a3c-0d7d3e1f5a10", "livechat_channel_id": 1}
OPERATOR = {"kind": "operator", "partner_id": 7, "name": "Mitchell Admin"}
MESSAGE = {
    "id": 1234,
    "author": OPERATOR,
    "body_html": "<p>Hello</p>",
    "body_text": "Hello",
    "date": "2026-11-25T20:00:00Z",
    "attachments": [{"id": 5, "name": "invoice.pdf", "mimetype": "application/pdf", "size": 48213,
                     "url": "https://odoo.example/web/content/5?access_token=abc"}],
}


def body(type_: str, **data) -> dict:
    return {
        "type": type_,
        "timestamp": "2026-11-25T20:00:00.123456Z",
        "data": {"database": "prod", "odoo_version": "18.0", "channel": copy.deepcopy(CHANNEL), **copy.deepcopy(data)},
    }


def parse(obj) -> events.Webhook:
    return events.parse_webhook(json.dumps(obj).encode())


def refused(raw) -> BadRequest:
    if not isinstance(raw, bytes):
        raw = json.dumps(raw).encode()
    with pytest.raises(BadRequest) as info:
        events.parse_webhook(raw)
    assert info.value.status == 400
    return info.value


def _assert_event_frame(event: dict, type_: str) -> None:
    assert event["type"] == type_
    assert event["seq"] is None          # the store assigns it
    assert datetime.fromisoformat(event["at"].replace("Z", "+00:00")).tzinfo is not None


# ---------------------------------------------------------------- each webhook type


def test_message_created():
    hook = parse(body("livechat.message.created", message=MESSAGE))
    assert (hook.type, hook.database, hook.channel_id) == ("livechat.message.created", "prod", 42)
    assert hook.timestamp == "2026-11-25T20:00:00.123456Z"
    assert hook.dedupe_key == "msg:odoo:1234"
    _assert_event_frame(hook.event, "message")
    assert hook.event["message"] == {
        "id": "odoo:1234",
        "author": {"kind": "operator", "name": "Mitchell Admin", "partner_id": 7},   # kept: avatar, previous operator
        "text": "Hello",
        "html": "<p>Hello</p>",
        "attachments": [{"id": 5, "name": "invoice.pdf", "mimetype": "application/pdf", "size": 48213,
                         "url": "https://odoo.example/web/content/5?access_token=abc"}],
        "client_id": None,
    }


def test_message_created_by_bot_and_visitor():
    for kind in ("bot", "visitor"):
        msg = dict(MESSAGE, author={"kind": kind, "name": "X"})
        assert parse(body("livechat.message.created", message=msg)).event["message"]["author"]["kind"] == kind


def test_message_without_body_text_gets_text_from_html():
    msg = dict(MESSAGE, body_html="<p>Hi &amp; bye</p><p>line 2</p>")
    del msg["body_text"]
    assert parse(body("livechat.message.created", message=msg)).event["message"]["text"] == "Hi & bye\nline 2"


def test_message_without_attachments_or_name():
    msg = {"id": 9, "author": {"kind": "operator"}, "body_html": "<p>x</p>"}
    message = parse(body("livechat.message.created", message=msg)).event["message"]
    assert message["attachments"] == []
    assert message["author"] == {"kind": "operator", "name": ""}


def test_message_updated():
    msg = dict(MESSAGE, body_html="<p>Edited</p>", body_text="Edited")
    hook = parse(body("livechat.message.updated", message=msg))
    _assert_event_frame(hook.event, "message_updated")
    assert hook.event["message"]["id"] == "odoo:1234"
    assert hook.event["message"]["text"] == "Edited"
    assert hook.event["message"]["html"] == "<p>Edited</p>"
    assert hook.dedupe_key is None        # an edit of the same message is a new event each time


def test_message_deleted_needs_only_the_id():
    hook = parse(body("livechat.message.deleted", message={"id": 1234}))
    _assert_event_frame(hook.event, "message_deleted")
    assert hook.event["message"] == {"id": "odoo:1234"}
    assert hook.dedupe_key is None


@pytest.mark.parametrize("type_, event_type", [("livechat.member.joined", "member_joined"),
                                               ("livechat.member.left", "member_left")])
def test_member_joined_and_left(type_, event_type):
    hook = parse(body(type_, member=OPERATOR))
    _assert_event_frame(hook.event, event_type)
    # the partner id is kept (the relay's avatar URL and the returning visitor's previous operator
    # need it; Odoo's own widget is shown it too); nothing else of Odoo's
    assert hook.event["member"] == {"kind": "operator", "name": "Mitchell Admin", "partner_id": 7}
    assert hook.channel_id == 42


def test_session_closed():
    hook = parse(body("livechat.session.closed"))
    _assert_event_frame(hook.event, "closed")
    assert hook.event["by"] == "odoo"
    assert hook.channel_id == 42


@pytest.mark.parametrize("typing", [True, False])
def test_typing(typing):
    hook = parse(body("livechat.typing", member=OPERATOR, typing=typing))
    _assert_event_frame(hook.event, "typing")
    assert hook.event["typing"] is typing
    assert hook.event["member"] == {"kind": "operator", "name": "Mitchell Admin", "partner_id": 7}
    assert hook.dedupe_key is None


def test_webhook_test_has_no_event():
    hook = events.parse_webhook(b'{"type": "webhook.test", "data": {"database": "prod"}}')
    assert hook.type == "webhook.test"
    assert hook.event is None and hook.dedupe_key is None and hook.channel_id is None
    assert events.parse_webhook(b'{"type": "webhook.test"}').event is None


def test_vector_body_parses():
    vector = json.loads((Path(__file__).resolve().parents[2] / "odoo_addons" / "im_livechat_webhook" / "tests" / "webhook_vector.json").read_text())
    hook = events.parse_webhook(vector["body"].encode())
    assert hook.dedupe_key == "msg:odoo:1234" and hook.channel_id == 42


# ---------------------------------------------------------------- sanitizing


def test_operator_html_is_sanitized():
    msg = dict(MESSAGE, body_html='<p onclick="x()">Hi <script>alert(1)</script>'
                                  '<a href="javascript:alert(1)">a</a><img src=x onerror=alert(1)></p>')
    html = parse(body("livechat.message.created", message=msg)).event["message"]["html"]
    for bad in ("script", "onclick", "onerror", "javascript:", "<img"):
        assert bad not in html.lower(), html
    assert html.startswith("<p>Hi ")


def test_updated_html_is_sanitized_too():
    msg = dict(MESSAGE, body_html="<iframe src=x></iframe><p>ok</p>")
    assert parse(body("livechat.message.updated", message=msg)).event["message"]["html"] == "<p>ok</p>"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)",
                                 "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>",
                                 "vbscript:x", "//evil.example/x", "/web/content/5", "ftp://odoo.example/x"])
def test_attachment_with_unsafe_url_gets_none(url):
    msg = dict(MESSAGE, attachments=[{"id": 5, "name": "x", "url": url}])
    attachment = parse(body("livechat.message.created", message=msg)).event["message"]["attachments"][0]
    assert attachment["url"] is None
    assert attachment["id"] == 5


def test_attachment_defaults():
    msg = dict(MESSAGE, attachments=[{"id": 6, "size": -1}, {"id": 7, "size": True}, {"id": 8, "size": "12"}])
    atts = parse(body("livechat.message.created", message=msg)).event["message"]["attachments"]
    assert [a["size"] for a in atts] == [None, None, None]
    assert atts[0] == {"id": 6, "name": "", "mimetype": "application/octet-stream", "size": None, "url": None}


def test_attachment_with_malformed_url_gets_none():
    # urlsplit raises ValueError on this; it must not escape as a 500
    msg = dict(MESSAGE, attachments=[{"id": 5, "url": "https://[oops/x"}])
    assert parse(body("livechat.message.created", message=msg)).event["message"]["attachments"][0]["url"] is None


# ---------------------------------------------------------------- schema violations


def _message_body(**changes) -> dict:
    msg = copy.deepcopy(MESSAGE)
    msg.update(changes)
    return body("livechat.message.created", message=msg)


def _without_channel_id() -> dict:
    b = body("livechat.message.created", message=MESSAGE)
    del b["data"]["channel"]["id"]
    return b


def _with(path: tuple, value) -> dict:
    b = body("livechat.message.created", message=MESSAGE)
    node = b
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return b


SCHEMA_VIOLATIONS = {
    "not JSON": b"{not json",
    "empty body": b"",
    "non-UTF-8": b'{"type": "\xff"}',
    "JSON array": b"[]",
    "JSON string": b'"livechat.message.created"',
    "JSON null": b"null",
    "unknown type": body("livechat.message.exploded", message=MESSAGE),
    "type missing": {"data": body("livechat.session.closed")["data"]},
    "type not a string": _with(("type",), ["livechat.message.created"]),
    "data not an object": _with(("data",), []),
    "database missing": _with(("data", "database"), None),
    "channel missing": _with(("data", "channel"), None),
    "channel not an object": _with(("data", "channel"), 42),
    "missing data.channel.id": _without_channel_id(),
    "channel id as string": _with(("data", "channel", "id"), "42"),
    "channel id bool": _with(("data", "channel", "id"), True),
    "channel id zero": _with(("data", "channel", "id"), 0),
    "channel id negative": _with(("data", "channel", "id"), -3),
    "channel id float": _with(("data", "channel", "id"), 42.0),
    "timestamp not a string": _with(("timestamp",), 1795636800),
    "message missing": body("livechat.message.created"),
    "message id missing": _message_body(id=None),
    "message id bool": _message_body(id=False),
    "author missing": _message_body(author=None),
    "author kind admin": _message_body(author={"kind": "admin", "name": "root"}),
    "author kind missing": _message_body(author={"name": "x"}),
    "author name not a string": _message_body(author={"kind": "operator", "name": 7}),
    "body_html not a string": _message_body(body_html={"p": "x"}),
    "body_text not a string": _message_body(body_text=["x"]),
    "attachments not a list": _message_body(attachments={"id": 1}),
    "attachment not an object": _message_body(attachments=["x"]),
    "attachment id missing": _message_body(attachments=[{"name": "x"}]),
    "attachment url not a string": _message_body(attachments=[{"id": 1, "url": 5}]),
    "more than 50 attachments": _message_body(attachments=[{"id": i} for i in range(1, 52)]),
    "deleted without id": body("livechat.message.deleted", message={}),
    "member missing": body("livechat.member.joined"),
    "member kind admin": body("livechat.member.left", member={"kind": "admin"}),
    "typing not bool": body("livechat.typing", member=OPERATOR, typing="true"),
    "typing as int": body("livechat.typing", member=OPERATOR, typing=1),
    "typing missing": body("livechat.typing", member=OPERATOR),
}


@pytest.mark.parametrize("raw", SCHEMA_VIOLATIONS.values(), ids=SCHEMA_VIOLATIONS.keys())
def test_schema_violation_is_bad_request(raw):
    exc = refused(raw)
    assert exc.code in ("invalid_json", "invalid_body")
    assert exc.body()["error"] == exc.code


def test_fifty_attachments_are_fine():
    msg = dict(MESSAGE, attachments=[{"id": i} for i in range(1, 51)])
    assert len(parse(body("livechat.message.created", message=msg)).event["message"]["attachments"]) == 50


def test_error_names_the_field():
    assert "data.channel.id" in str(refused(_with(("data", "channel", "id"), "42")))
    assert "data.message.author.kind" in str(refused(_message_body(author={"kind": "admin"})))


def test_deeply_nested_json_is_bad_request():
    # json.loads raises RecursionError here, not ValueError
    assert refused(b"[" * 100_000).code == "invalid_json"


# ---------------------------------------------------------------- typing_is_stale


def _iso(delta_seconds: float, z: bool = True) -> str:
    text = (datetime.now(timezone.utc) + timedelta(seconds=delta_seconds)).isoformat()
    return text.replace("+00:00", "Z") if z else text


def test_typing_is_stale_old():
    assert events.typing_is_stale(_iso(-11)) is True
    assert events.typing_is_stale(_iso(-3600, z=False)) is True
    assert events.typing_is_stale("2020-01-01T00:00:00") is True    # naive means UTC


def test_typing_is_stale_fresh():
    assert events.typing_is_stale(_iso(-1)) is False
    assert events.typing_is_stale(_iso(0)) is False
    assert events.typing_is_stale(_iso(-5)) is False


def test_typing_is_stale_max_age():
    assert events.typing_is_stale(_iso(-5), max_age=2) is True
    assert events.typing_is_stale(_iso(-5), max_age=60) is False


@pytest.mark.parametrize("garbage", [None, "", "yesterday", "2026-13-45T99:00:00Z", "12345"])
def test_typing_is_stale_garbage_is_not_stale(garbage):
    assert events.typing_is_stale(garbage) is False


# ---------------------------------------------------------------- relay-made events


def test_visitor_message_event():
    ev = events.visitor_message("relay:abc", "Ann", "<b>hi</b>\nthere", "cid-1")
    _assert_event_frame(ev, "message")
    assert ev["message"]["author"] == {"kind": "visitor", "name": "Ann"}
    assert ev["message"]["client_id"] == "cid-1"
    assert ev["message"]["text"] == "<b>hi</b>\nthere"
    assert ev["message"]["html"] == "<p>&lt;b&gt;hi&lt;/b&gt;<br>there</p>"
