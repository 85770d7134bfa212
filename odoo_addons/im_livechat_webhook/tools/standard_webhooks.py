"""Standard Webhooks v1 signing, the retry schedule and ``Retry-After``; plain Python, no Odoo.

Kept free of Odoo imports so that the relay's test suite checks it against the shared test vector
and the reference ``standardwebhooks`` library without an Odoo server.
"""
import base64
import email.utils
import hashlib
import hmac
import random
import secrets as _secrets
import time

PREFIX = "whsec_"
# Standard Webhooks schedule: the first attempt at once, then these delays after each failure.
RETRY_DELAYS = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600)
MAX_ATTEMPTS = 1 + len(RETRY_DELAYS)
MAX_RETRY_AFTER = 24 * 3600


def new_secret():
    return PREFIX + base64.b64encode(_secrets.token_bytes(24)).decode()


def _key(secret):
    text = secret[len(PREFIX):] if secret.startswith(PREFIX) else secret
    return base64.b64decode(text + "=" * (-len(text) % 4))


def signature(secret, msg_id, timestamp, body):
    """``v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`` for one secret."""
    signed = b"%s.%d.%s" % (msg_id.encode(), int(timestamp), body)
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(secrets, msg_id, body, timestamp=None):
    """The three webhook headers; one signature per secret (several while a secret rotates)."""
    ts = int(time.time() if timestamp is None else timestamp)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(signature(s, msg_id, ts, body) for s in secrets if s),
        "Content-Type": "application/json",
    }


def next_delay(failed_attempts, rand=None):
    """Seconds until the next attempt after ``failed_attempts`` failures, with ±10 % jitter;
    None when the event has used all its attempts (it is dead)."""
    if failed_attempts >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS[max(0, failed_attempts - 1)]
    r = random.random() if rand is None else rand
    return base * (0.9 + 0.2 * r)


def retry_after_seconds(value, now=None):
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), capped at 24 h; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = int(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0, min(MAX_RETRY_AFTER, seconds))
