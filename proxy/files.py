"""Operator files through the relay (docs/protocol.md §5): every attachment a visitor is shown gets
a relay URL of its own, ``/v1/files/<conversation>/<attachment>?exp=<unix>&sig=<mac>``, whatever
reply path brought it (the addon's webhook, the bus, polling) and whatever URL Odoo gave, if any.
The relay streams the bytes from Odoo as the conversation's guest; no Odoo URL, access token or
conversation token ever reaches the browser.

The signature is an HMAC-SHA256 of ``files.v1.<conversation>.<attachment>.<exp>`` under a key derived
from ``RELAY_SECRET`` (shared by all nodes): it opens that one file of that one conversation, until
``exp``. It is set when the event is stored and lives as long as a visitor token
(``RELAY_TOKEN_TTL``): a replayed event's links work as long as the conversation can be read.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import time
from typing import Any

from proxy.tokens import TokenError

SIG = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
# What a browser may show inline: raster images only (an SVG can carry script; it is a download)
INLINE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp"})
# Types passed on as they are; anything else is served as application/octet-stream
KNOWN = INLINE | frozenset({
    "application/pdf", "text/plain", "text/csv", "application/zip", "application/json",
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "audio/mpeg", "audio/ogg", "video/mp4", "video/webm"})


def derive_key(token_key: bytes) -> bytes:
    """A key of its own for file URLs, so that no file signature can pass for a token."""
    return hmac.new(token_key, b"relay files v1", hashlib.sha256).digest()


def _sign(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode("utf-8", "replace"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _mac(key: bytes, conversation_id: str, attachment_id: int, exp: int) -> str:
    return _sign(key, f"files.v1.{conversation_id}.{attachment_id}.{exp}")


@functools.lru_cache(maxsize=4096)   # the same operator in the same conversation, message after message
def avatar_url(key: bytes, conversation_id: str, partner_id: int) -> str:
    """An operator's (or bot's) picture as this conversation's visitor sees it: no expiry, so the
    browser caches it; the signature opens that one picture through that one conversation."""
    return f"/v1/avatars/{conversation_id}/{partner_id}?sig={_sign(key, f'avatars.v1.{conversation_id}.{partner_id}')}"


def verify_avatar(key: bytes, conversation_id: str, partner: str, sig: str | None) -> int:
    """The partner id an avatar URL opens, or TokenError ``file_url_invalid`` (403)."""
    if not (partner.isascii() and partner.isdigit() and len(partner) <= 10
            and isinstance(sig, str) and SIG.match(sig)
            and hmac.compare_digest(_sign(key, f"avatars.v1.{conversation_id}.{int(partner)}").encode(),
                                    sig.encode("ascii", "replace"))):
        raise TokenError("file_url_invalid", "This picture link is not valid.")
    return int(partner)


def url(key: bytes, conversation_id: str, attachment_id: int, ttl: int, now: float | None = None) -> str:
    exp = int((time.time() if now is None else now) + ttl)
    return f"/v1/files/{conversation_id}/{attachment_id}?exp={exp}&sig={_mac(key, conversation_id, attachment_id, exp)}"


def verify(key: bytes, conversation_id: str, attachment: str, exp: str | None, sig: str | None,
           now: float | None = None) -> int:
    """The attachment id the URL opens, or TokenError: ``file_url_invalid`` for a forged, tampered
    or borrowed URL, ``file_url_expired`` for an old one (both answered 403)."""
    if not (attachment.isascii() and attachment.isdigit() and len(attachment) <= 12
            and isinstance(exp, str) and exp.isascii() and exp.isdigit() and len(exp) <= 12
            and isinstance(sig, str) and SIG.match(sig)):
        raise TokenError("file_url_invalid", "This file link is not valid.")
    attachment_id, expires = int(attachment), int(exp)
    if not hmac.compare_digest(_mac(key, conversation_id, attachment_id, expires).encode(), sig.encode("ascii", "replace")):
        raise TokenError("file_url_invalid", "This file link is not valid.")
    if expires <= (time.time() if now is None else now):
        raise TokenError("file_url_expired", "This file link has expired.")
    return attachment_id


def needs_relay_urls(event: dict) -> bool:
    """Whether ``event`` carries files or a person with a picture (``with_relay_urls``)."""
    message = event.get("message")
    if isinstance(message, dict):
        return bool(message.get("attachments")) or "partner_id" in (message.get("author") or {})
    return "partner_id" in (event.get("member") or {})


def _with_avatar(person: dict, conversation_id: str, key: bytes) -> dict:
    partner = person.get("partner_id")
    if not isinstance(partner, int) or person.get("kind") == "visitor":
        return person
    return {**person, "avatar_url": avatar_url(key, conversation_id, partner)}


def with_relay_urls(event: dict, conversation_id: str, key: bytes, ttl: int) -> dict:
    """``event`` with each of its message's attachments pointing at the relay: ``{id, name,
    mimetype, size, url}`` (and ``thumbnail_url`` for images), the source's URL dropped; and an
    ``avatar_url`` for an operator or bot author (or member) Odoo names by partner."""
    if isinstance(event.get("member"), dict):
        return {**event, "member": _with_avatar(event["member"], conversation_id, key)}
    message = event.get("message")
    if not isinstance(message, dict):
        return event
    if isinstance(message.get("author"), dict):
        message = {**message, "author": _with_avatar(message["author"], conversation_id, key)}
        event = {**event, "message": message}
    attachments = message.get("attachments")
    if not attachments:
        return event
    out: list[dict[str, Any]] = []
    for att in attachments:
        if not isinstance(att, dict) or not isinstance(att.get("id"), int) or isinstance(att.get("id"), bool):
            continue
        link = url(key, conversation_id, att["id"], ttl)
        item = {"id": att["id"], "name": att.get("name") or "", "mimetype": att.get("mimetype") or "application/octet-stream",
                "size": att.get("size"), "url": link}
        if item["mimetype"] in INLINE:
            item["thumbnail_url"] = link + "&thumb=1"
        out.append(item)
    return {**event, "message": {**message, "attachments": out}}


def served_type(content_type: str | None) -> tuple[str, bool]:
    """(the Content-Type the relay sends, whether it may be shown inline)."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base in INLINE:
        return base, True
    if base == "text/plain":
        return "text/plain; charset=utf-8", False
    return (base if base in KNOWN else "application/octet-stream"), False
