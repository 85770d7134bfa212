"""Standard Webhooks v1 signing and verification, through the reference ``standardwebhooks`` library.

The library does the HMAC, the ±300 s tolerance and the constant-time comparison; this module adds
what it leaves out: several secrets during a rotation, and turning *every* malformed header into
one ``SignatureError`` (the library lets ``ValueError`` and ``binascii.Error`` escape on garbage).
"""
from __future__ import annotations

import base64
import secrets as _secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class SignatureError(ValueError):
    """Missing headers, a timestamp outside ±300 s, or no signature that matches any secret."""


def new_secret() -> str:
    """A fresh ``whsec_`` secret (24 random bytes, base64)."""
    return "whsec_" + base64.b64encode(_secrets.token_bytes(24)).decode()


def sign(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: one ``v1,…`` per secret, space-separated."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    text = body.decode()
    return " ".join(Webhook(s).sign(msg_id, when, text) for s in secrets)


def headers_for(secrets: Sequence[str], msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secrets, msg_id, ts, body),
        "content-type": "application/json",
    }


def _is_v1(part: str) -> bool:
    version, _, sig = part.partition(",")
    try:
        return version == "v1" and len(base64.b64decode(sig, validate=True)) == 32
    except ValueError:
        return False


TOLERANCE = 300


def check_headers(headers: Mapping[str, str], now: float | None = None) -> None:
    """What can be checked before the body is read: the three headers are there, the signature has
    a well-formed v1 entry, the timestamp is within ±300 s. Raise SignatureError otherwise."""
    wanted = {k: headers.get(k, "") for k in HEADERS}
    if not all(wanted.values()):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    if len(wanted["webhook-id"]) > 256:
        raise SignatureError("webhook-id longer than 256 characters")
    if not any(_is_v1(part) for part in wanted["webhook-signature"].split()):
        raise SignatureError("no v1 signature in webhook-signature")
    stamp = wanted["webhook-timestamp"]
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise SignatureError("invalid webhook-timestamp")
    if abs(int(stamp) - (time.time() if now is None else now)) > TOLERANCE:
        raise SignatureError("webhook-timestamp outside ±300 s")


def verify(secrets: Sequence[str], body: bytes, headers: Mapping[str, str]) -> str:
    """Verify against any of ``secrets``; return the ``webhook-id`` or raise SignatureError."""
    wanted = {k: headers.get(k, "") for k in HEADERS}
    if not all(wanted.values()):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise SignatureError("body is not UTF-8") from None
    # keep the well-formed v1 entries only, so one garbage entry cannot hide a valid signature
    usable = [part for part in wanted["webhook-signature"].split() if _is_v1(part)]
    if not usable:
        raise SignatureError("no v1 signature in webhook-signature")
    wanted["webhook-signature"] = " ".join(usable)
    reason = "no secret configured"
    for secret in secrets:
        try:
            Webhook(secret).verify(text, wanted, json_parse=False)
            return wanted["webhook-id"]
        except WebhookVerificationError as exc:
            reason = str(exc)
        except Exception:  # the library's parsing of a hostile header: ValueError, binascii.Error
            reason = "malformed webhook-signature header"
    raise SignatureError(reason)
