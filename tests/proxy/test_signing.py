"""proxy.signing against the Standard Webhooks reference library, both ways.

- headers made by ``proxy.signing`` verify with ``standardwebhooks`` and vice versa;
- the fixed vector in odoo_addons/im_livechat_webhook/tests/webhook_vector.json (shared with the Odoo addon's tests) is
  reproduced byte for byte, with one secret and with two during a rotation;
- a rotation: the receiver accepts the previous secret while it holds both;
- everything else (wrong key, stale or future timestamp, changed body, missing or garbage headers,
  non-UTF-8 body, no secret) is a ``SignatureError``, never another exception.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from proxy import signing
from proxy.signing import SignatureError

VECTOR = json.loads((Path(__file__).resolve().parents[2] / "odoo_addons" / "im_livechat_webhook" / "tests" / "webhook_vector.json").read_text())
SECRET = VECTOR["secret"]
PREVIOUS = VECTOR["previous_secret"]
BODY = VECTOR["body"].encode()
MSG_ID = VECTOR["webhook_id"]


def _headers(secrets=(SECRET,), body=BODY, msg_id=MSG_ID, timestamp=None):
    return signing.headers_for(list(secrets), msg_id, body, timestamp)


def _refused(headers, body=BODY, secrets=(SECRET,)) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        signing.verify(list(secrets), body, headers)
    return info.value


# ---------------------------------------------------------------- interoperability


def test_our_headers_verify_with_the_reference_library():
    headers = _headers()
    assert set(headers) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == MSG_ID
    assert abs(int(headers["webhook-timestamp"]) - time.time()) <= 2
    assert Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(PREVIOUS).verify(BODY, headers)


def test_library_headers_verify_with_ours():
    ts = int(time.time())
    sig = Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(ts, tz=timezone.utc), BODY.decode())
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(ts), "webhook-signature": sig}
    assert signing.verify([SECRET], BODY, headers) == MSG_ID


def test_new_secret_is_usable():
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and secret != signing.new_secret()
    headers = signing.headers_for([secret], "msg_1", b"{}")
    assert signing.verify([secret], b"{}", headers) == "msg_1"
    Webhook(secret).verify(b"{}", headers)


# ---------------------------------------------------------------- the fixed vector


def test_vector_signature():
    assert signing.sign([SECRET], MSG_ID, VECTOR["webhook_timestamp"], BODY) == VECTOR["signature"]
    assert signing.sign([PREVIOUS], MSG_ID, VECTOR["webhook_timestamp"], BODY) == VECTOR["signature_previous"]


def test_vector_rotating_header():
    header = signing.sign([SECRET, PREVIOUS], MSG_ID, VECTOR["webhook_timestamp"], BODY)
    assert header == VECTOR["signature_header_rotating"]


def test_vector_headers_for_with_fixed_timestamp():
    headers = signing.headers_for([SECRET], MSG_ID, BODY, VECTOR["webhook_timestamp"])
    assert headers["webhook-timestamp"] == str(VECTOR["webhook_timestamp"])
    assert headers["webhook-signature"] == VECTOR["signature"]


def test_vector_body_resigned_now_verifies():
    headers = _headers(secrets=(SECRET, PREVIOUS))
    assert signing.verify([SECRET], BODY, headers) == MSG_ID
    assert signing.verify([PREVIOUS], BODY, headers) == MSG_ID
    Webhook(SECRET).verify(BODY, headers)


def test_vector_with_its_own_timestamp_is_outside_the_window():
    if abs(time.time() - VECTOR["webhook_timestamp"]) <= 300:
        pytest.skip("running within 5 minutes of the vector's timestamp")
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(VECTOR["webhook_timestamp"]),
               "webhook-signature": VECTOR["signature"]}
    _refused(headers)


# ---------------------------------------------------------------- rotation


def test_rotation_previous_secret_accepted_while_receiver_holds_both():
    headers = _headers(secrets=(PREVIOUS,))
    assert signing.verify([SECRET, PREVIOUS], BODY, headers) == MSG_ID
    assert signing.verify([PREVIOUS, SECRET], BODY, headers) == MSG_ID


def test_rotation_previous_secret_refused_once_dropped():
    _refused(_headers(secrets=(PREVIOUS,)), secrets=(SECRET,))


def test_rotation_sender_with_both_secrets_reaches_either_receiver():
    headers = _headers(secrets=(SECRET, PREVIOUS))
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert signing.verify([SECRET], BODY, headers) == MSG_ID
    assert signing.verify([PREVIOUS], BODY, headers) == MSG_ID


# ---------------------------------------------------------------- refusals


def test_wrong_key():
    _refused(_headers(secrets=(signing.new_secret(),)))


def test_timestamp_301_seconds_old():
    _refused(_headers(timestamp=int(time.time()) - 301))


def test_timestamp_301_seconds_ahead():
    _refused(_headers(timestamp=int(time.time()) + 301))


def test_timestamp_within_window_accepted():
    now = int(time.time())
    assert signing.verify([SECRET], BODY, _headers(timestamp=now - 250)) == MSG_ID
    assert signing.verify([SECRET], BODY, _headers(timestamp=now + 250)) == MSG_ID


def test_one_byte_changed_in_body():
    headers = _headers()
    tampered = bytearray(BODY)
    i = BODY.index(b"Hello")
    tampered[i] = ord("J")
    _refused(headers, body=bytes(tampered))


def test_other_webhook_id_with_same_signature():
    headers = _headers()
    headers["webhook-id"] = MSG_ID + "x"
    _refused(headers)


@pytest.mark.parametrize("missing", signing.HEADERS)
def test_each_missing_header(missing):
    headers = _headers()
    del headers[missing]
    _refused(headers)


@pytest.mark.parametrize("missing", signing.HEADERS)
def test_each_empty_header(missing):
    headers = _headers()
    headers[missing] = ""
    _refused(headers)


@pytest.mark.parametrize("garbage", ["v1", "v1,!!!", "nonsense", "v2,abc", "v1,", ",", "v1,a,b", " ", "v1,====",
                                     "v1,%%%% v1,@@"])
def test_garbage_signature_header(garbage):
    headers = _headers()
    headers["webhook-signature"] = garbage
    _refused(headers)


@pytest.mark.parametrize("garbage", ["v1", "v1,!!!", "nonsense"])
def test_garbage_entry_next_to_a_good_signature_never_escapes(garbage):
    # Whether such a header is accepted is the library's call; it must never raise anything but
    # SignatureError (the relay would answer 500 instead of 401).
    headers = _headers()
    headers["webhook-signature"] = garbage + " " + headers["webhook-signature"]
    try:
        assert signing.verify([SECRET], BODY, headers) == MSG_ID
    except SignatureError:
        pass


@pytest.mark.parametrize("garbage", ["soon", "", "nan", "inf", "1e400", "-1"])
def test_garbage_timestamp(garbage):
    headers = _headers()
    headers["webhook-timestamp"] = garbage
    _refused(headers)


def test_non_utf8_body():
    body = b'{"type":"webhook.test","x":"\xff\xfe"}'
    ts = int(time.time())
    sig = Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(ts, tz=timezone.utc), body.decode("latin-1"))
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(ts), "webhook-signature": sig}
    assert "UTF-8" in str(_refused(headers, body=body))


def test_no_secret_configured():
    _refused(_headers(), secrets=())


def test_a_garbage_entry_does_not_hide_a_valid_signature():
    import time as _time
    body = b'{"type":"webhook.test","data":{}}'
    good = signing.headers_for([VECTOR["secret"]], "msg_mixed", body, timestamp=int(_time.time()))
    mixed = dict(good, **{"webhook-signature": "v1 v2,abc v1,!!! " + good["webhook-signature"]})
    assert signing.verify([VECTOR["secret"]], body, mixed) == "msg_mixed"
