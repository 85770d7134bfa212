"""Visitor tokens: ``v1.<conversation id>.<expiry>.<HMAC-SHA256>``, scoped to one conversation.

Pure functions, no I/O. The key is ``RELAY_SECRET`` (shared by all nodes). A token opens exactly
the conversation it names, until it expires; comparison is constant-time.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time


class TokenError(ValueError):
    """The token is malformed, forged, expired or for another conversation."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(key: bytes, conversation_id: str, ttl: int, now: float | None = None) -> tuple[str, int]:
    """Return ``(token, expires_at)`` for one conversation."""
    expires_at = int((time.time() if now is None else now) + ttl)
    payload = f"v1.{conversation_id}.{expires_at}"
    return f"{payload}.{_mac(key, payload)}", expires_at


def verify(key: bytes, token: str, conversation_id: str, now: float | None = None) -> int:
    """Check that ``token`` opens ``conversation_id`` now; return its expiry or raise TokenError."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 4 or parts[0] != "v1" or not parts[2].isdigit():
        raise TokenError("token_invalid", "The token is malformed.")
    payload = ".".join(parts[:3])
    if not hmac.compare_digest(_mac(key, payload).encode(), parts[3].encode("utf-8", "replace")):
        raise TokenError("token_invalid", "The token is not valid.")
    if not hmac.compare_digest(parts[1].encode("utf-8", "replace"), conversation_id.encode("utf-8", "replace")):
        raise TokenError("token_invalid", "The token does not open this conversation.")
    expires_at = int(parts[2])
    if expires_at <= (time.time() if now is None else now):
        raise TokenError("token_expired", "The token has expired; start a new conversation.")
    return expires_at


# ---------------------------------------------------------------------- the returning visitor
#
# ``visitor`` (docs/protocol.md §5, continuity): what the relay gives a browser with each new
# conversation, ``vis1.<conversation id>.<expiry>.<mac>``, under a key of its own. Handed back when
# that browser starts its next conversation, it names the previous one, whose operator and visitor
# name the relay then reuses (Odoo's own widget keeps its previous operator for 7 days as well). It
# opens nothing: no event, no call; a forged or expired one is simply not used.

def _visitor_key(key: bytes) -> bytes:
    return hmac.new(key, b"relay visitor v1", hashlib.sha256).digest()


def issue_visitor(key: bytes, conversation_id: str, ttl: int, now: float | None = None) -> str:
    payload = f"vis1.{conversation_id}.{int((time.time() if now is None else now) + ttl)}"
    return f"{payload}.{_mac(_visitor_key(key), payload)}"


def verify_visitor(key: bytes, value: str, now: float | None = None) -> str:
    """The previous conversation's id ``value`` names, or TokenError (forged, expired, malformed)."""
    parts = value.split(".") if isinstance(value, str) else []
    if len(parts) != 4 or parts[0] != "vis1" or not (parts[2].isascii() and parts[2].isdigit()):
        raise TokenError("visitor_invalid", "The visitor value is malformed.")
    payload = ".".join(parts[:3])
    if not hmac.compare_digest(_mac(_visitor_key(key), payload).encode(), parts[3].encode("utf-8", "replace")):
        raise TokenError("visitor_invalid", "The visitor value is not valid.")
    if int(parts[2]) <= (time.time() if now is None else now):
        raise TokenError("visitor_expired", "The visitor value has expired.")
    return parts[1]
