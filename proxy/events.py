"""Event shapes (PROTOCOL §2) and the webhook body (PROTOCOL §1) turned into them. No I/O.

An event is a plain dict ``{"seq", "type", "at", …}``; the store assigns ``seq``. Webhook bodies
are checked field by field here, so that a body breaking the schema is a 400 before anything is
stored.
"""
from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from proxy import jsonsafe, sanitize
from proxy.errors import BadRequest

STORED_TYPES = ("message", "message_updated", "message_deleted", "member_joined", "member_left", "closed", "status",
                "rating")
EPHEMERAL_TYPES = ("typing",)
AUTHOR_KINDS = ("operator", "bot", "visitor")
WEBHOOK_TYPES = (
    "livechat.message.created", "livechat.message.updated", "livechat.message.deleted",
    "livechat.member.joined", "livechat.member.left", "livechat.session.closed",
    "livechat.typing", "livechat.history_requested", "webhook.test",
)
MAX_TEXT = 4000
PROTOCOL_HEADER = "X-Livechat-Protocol"   # the addon's protocol version, on every webhook (PROTOCOL §1)


def protocol_major(value: str | None) -> str:
    """The major of a protocol version (``1``, ``1.3``); an addon that sends no header predates it
    and speaks protocol 1."""
    value = (value or "").strip()
    return value.split(".", 1)[0] if value else "1"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def new_event(type_: str, **fields: Any) -> dict:
    """An event without its seq (the store sets it; typing keeps ``None``)."""
    assert type_ in STORED_TYPES + EPHEMERAL_TYPES, type_
    return {"seq": None, "type": type_, "at": now_iso(), **fields}


def visitor_message(message_id: str, name: str, text: str, client_id: str) -> dict:
    return new_event("message", message={
        "id": message_id,
        "author": {"kind": "visitor", "name": name},
        "text": text,
        "html": sanitize.text_to_html(text),
        "attachments": [],
        "client_id": client_id,
    })


def status(code: str, text: str) -> dict:
    return new_event("status", status=code, text=text)


# ---------------------------------------------------------------- webhook body → event


@dataclasses.dataclass(frozen=True)
class Webhook:
    """A parsed, schema-checked webhook body."""

    type: str
    database: str | None
    channel_id: int | None
    data: dict
    event: dict | None          # what it becomes for the widget; None for webhook.test
    dedupe_key: str | None      # the same Odoo message never becomes two message events
    timestamp: str | None = None


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise BadRequest(f"{where}: {what}", code="invalid_body")


def _obj(value: Any, where: str) -> dict:
    _need(isinstance(value, dict), where, "must be an object")
    return value


def _int(value: Any, where: str) -> int:
    _need(jsonsafe.odoo_id(value), where, f"must be a positive integer up to {jsonsafe.MAX_ODOO_ID} (an Odoo id)")
    return value


def _str(value: Any, where: str, limit: int = 256, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    _need(isinstance(value, str) and len(value) <= limit, where, f"must be a string of at most {limit} characters")
    return value


def _author(value: Any, where: str) -> dict:
    obj = _obj(value, where)
    _need(obj.get("kind") in AUTHOR_KINDS, f"{where}.kind", "must be operator, bot or visitor")
    name = _str(obj.get("name"), f"{where}.name", 256, optional=True) or ""
    out = {"kind": obj["kind"], "name": name}
    partner = obj.get("partner_id")
    if obj["kind"] != "visitor" and isinstance(partner, int) and not isinstance(partner, bool) and 0 < partner < 2 ** 31:
        out["partner_id"] = partner      # an operator's or bot's res.partner: their avatar, the previous operator
    return out


def _attachments(value: Any, where: str) -> list[dict]:
    if value is None:
        return []
    _need(isinstance(value, list) and len(value) <= 50, where, "must be a list of at most 50 attachments")
    out = []
    for i, item in enumerate(value):
        obj = _obj(item, f"{where}[{i}]")
        url = _str(obj.get("url"), f"{where}[{i}].url", 4096, optional=True)
        try:
            if url is not None and urlsplit(url).scheme not in ("http", "https"):
                url = None
        except ValueError:   # not even a URL ("https://[oops")
            url = None
        size = obj.get("size")
        out.append({
            "id": _int(obj.get("id"), f"{where}[{i}].id"),
            "name": _str(obj.get("name"), f"{where}[{i}].name", 512, optional=True) or "",
            "mimetype": _str(obj.get("mimetype"), f"{where}[{i}].mimetype", 256, optional=True) or "application/octet-stream",
            "size": size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
            "url": url,
        })
    return out


def _message(value: Any, where: str, body_required: bool) -> dict:
    obj = _obj(value, where)
    msg_id = _int(obj.get("id"), f"{where}.id")
    if not body_required:
        return {"id": f"odoo:{msg_id}"}
    raw_html = _str(obj.get("body_html"), f"{where}.body_html", 200_000, optional=True) or ""
    html = sanitize.clean_html(raw_html)
    text = obj.get("body_text")
    text = _str(text, f"{where}.body_text", 200_000) if text is not None else sanitize.html_to_text(raw_html)
    return {
        "id": f"odoo:{msg_id}",
        "author": _author(obj.get("author"), f"{where}.author"),
        "text": text,
        "html": html,
        "attachments": _attachments(obj.get("attachments"), f"{where}.attachments"),
        "client_id": None,
    }


def parse_webhook(raw: bytes) -> Webhook:
    """Parse and check a webhook body; raise BadRequest (400) for anything off-schema."""
    try:
        body = jsonsafe.loads(raw)
    except jsonsafe.UnsafeJSON as exc:
        raise BadRequest(f"body: {exc.message}", code=exc.code) from None
    body = _obj(body, "body")
    type_ = body.get("type")
    _need(type_ in WEBHOOK_TYPES, "type", "unknown event type")
    assert isinstance(type_, str)   # (one of WEBHOOK_TYPES)
    timestamp = _str(body.get("timestamp"), "timestamp", 64, optional=True)
    data = _obj(body.get("data", {}), "data")
    if type_ == "webhook.test":
        return Webhook(type_, None, None, data, None, None)
    database = _str(data.get("database"), "data.database", 128)
    _str(data.get("odoo_version"), "data.odoo_version", 64, optional=True)
    channel = _obj(data.get("channel"), "data.channel")
    channel_id = _int(channel.get("id"), "data.channel.id")

    dedupe = None
    if type_ == "livechat.history_requested":   # an operator's /history: answered to Odoo, no event
        operator = data.get("operator")
        if operator is not None:
            data = {**data, "operator": _author(operator, "data.operator")}
        return Webhook(type_, database, channel_id, data, None, None, timestamp)
    if type_ == "livechat.message.created":
        message = _message(data.get("message"), "data.message", True)
        event = new_event("message", message=message)
        dedupe = "msg:" + message["id"]
    elif type_ == "livechat.message.updated":
        event = new_event("message_updated", message=_message(data.get("message"), "data.message", True))
    elif type_ == "livechat.message.deleted":
        event = new_event("message_deleted", message=_message(data.get("message"), "data.message", False))
    elif type_ in ("livechat.member.joined", "livechat.member.left"):
        kind = "member_joined" if type_.endswith("joined") else "member_left"
        event = new_event(kind, member=_author(data.get("member"), "data.member"))
    elif type_ == "livechat.session.closed":
        event = new_event("closed", by="odoo")
    else:  # livechat.typing
        typing = data.get("typing")
        _need(isinstance(typing, bool), "data.typing", "must be true or false")
        event = new_event("typing", member=_author(data.get("member"), "data.member"), typing=typing)
    return Webhook(type_, database, channel_id, data, event, dedupe, timestamp)


def typing_is_stale(raw_timestamp: str | None, max_age: float = 10.0) -> bool:
    """Typing older than ``max_age`` seconds is dropped (PROTOCOL §1)."""
    if not raw_timestamp:
        return False
    try:
        when = datetime.fromisoformat(raw_timestamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (datetime.now(UTC) - when).total_seconds() > max_age
