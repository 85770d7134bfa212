"""The addon's signing and retry helpers (plain Python, no Odoo) against the reference library,
the shared vector, and the Standard Webhooks retry schedule."""
from __future__ import annotations

import importlib.util
import json
import time
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from proxy import signing

ADDON = Path(__file__).resolve().parents[2] / "odoo_addons" / "im_livechat_webhook"
spec = importlib.util.spec_from_file_location("addon_sw", ADDON / "tools" / "standard_webhooks.py")
sw = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sw)
VECTOR = json.loads((ADDON / "tests" / "webhook_vector.json").read_text())


def test_vector():
    body = VECTOR["body"].encode()
    assert sw.signature(VECTOR["secret"], VECTOR["webhook_id"], VECTOR["webhook_timestamp"], body) == VECTOR["signature"]
    rotating = sw.headers([VECTOR["secret"], VECTOR["previous_secret"]], VECTOR["webhook_id"], body,
                          timestamp=VECTOR["webhook_timestamp"])
    assert rotating["webhook-signature"] == VECTOR["signature_header_rotating"]


def test_reference_library_verifies_what_the_addon_signs():
    body = b'{"type":"webhook.test","data":{}}'
    secret = sw.new_secret()
    headers = sw.headers([secret], "msg_x", body)
    Webhook(secret).verify(body.decode(), headers)                       # raises if wrong
    assert signing.verify([secret], body, headers) == "msg_x"            # and the relay accepts it
    other = sw.new_secret()
    rotating = sw.headers([other, secret], "msg_y", body)                # old secret still signing
    Webhook(secret).verify(body.decode(), rotating)
    Webhook(other).verify(body.decode(), rotating)


def test_addon_signature_equals_the_reference_library_signature():
    secret = sw.new_secret()
    now = int(time.time())
    ours = sw.signature(secret, "msg_z", now, "é ünïcode".encode())
    theirs = Webhook(secret).sign("msg_z", datetime.fromtimestamp(now, tz=timezone.utc), "é ünïcode")
    assert ours == theirs


def test_retry_schedule():
    assert sw.MAX_ATTEMPTS == 10
    expected = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    for failures, base in enumerate(expected, start=1):
        assert sw.next_delay(failures, rand=0.5) == pytest.approx(base)
        assert base * 0.9 <= sw.next_delay(failures) <= base * 1.1
    assert sw.next_delay(10) is None


def test_retry_after():
    assert sw.retry_after_seconds("120") == 120
    assert sw.retry_after_seconds("999999") == 24 * 3600
    later = datetime.fromtimestamp(time.time() + 60, tz=timezone.utc)
    assert 55 <= sw.retry_after_seconds(format_datetime(later, usegmt=True)) <= 61
    for bad in (None, "", "soon", "-5"):
        assert sw.retry_after_seconds(bad) is None
