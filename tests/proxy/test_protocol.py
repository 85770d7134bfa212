"""The addon ↔ relay protocol version (docs/protocol.md §1): said by /healthz, sent by the addon
with every webhook (X-Livechat-Protocol), a major the relay does not speak refused with a message."""
from __future__ import annotations

import sys
from pathlib import Path

from proxy import PROTOCOL_MAJORS, PROTOCOL_VERSION, events, signing
from tests.relayproc import SECRET, new_webhook_id, operator_message, webhook_body

ADDON_TOOLS = Path(__file__).resolve().parents[2] / "odoo_addons" / "im_livechat_webhook" / "tools"


def test_major_of_a_version():
    assert events.protocol_major("1") == events.protocol_major("1.4") == events.protocol_major(None) == "1"
    assert events.protocol_major(" 2.0 ") == "2"
    assert PROTOCOL_VERSION.split(".")[0] in PROTOCOL_MAJORS


async def test_healthz_says_the_protocol(client):
    status, body, _ = await client.call("GET", "/healthz")
    assert status == 200 and body["protocol"] == PROTOCOL_VERSION


async def _post(client, conv, protocol: str | None, message_id: int):
    channel = await client.channel_of(conv["conversation_id"])
    raw = webhook_body("livechat.message.created", channel, message=operator_message(message_id, "hello"))
    headers = signing.headers_for([SECRET], new_webhook_id(), raw)
    if protocol is not None:
        headers[events.PROTOCOL_HEADER] = protocol
    async with client.http.post(client.relay.url + "/v1/webhooks/odoo", data=raw, headers=headers) as r:
        return r.status, r.headers.get(events.PROTOCOL_HEADER), await r.json()


async def test_the_relay_speaks_protocol_1_with_or_without_the_header(client):
    conv = await client.create()
    for n, sent in enumerate((PROTOCOL_VERSION, "1.7", None)):   # no header: an addon from before it
        status, said, body = await _post(client, conv, sent, 900 + n)
        assert (status, said, body) == (200, PROTOCOL_VERSION, {"status": "stored"})


async def test_another_major_is_refused_with_a_message_the_addon_writes_in_its_log(client):
    conv = await client.create()
    before = client.db_counts()
    status, said, body = await _post(client, conv, "2", 950)
    assert status == 400 and said == PROTOCOL_VERSION
    assert body["error"] == "unsupported_protocol" and body["supported"] == sorted(PROTOCOL_MAJORS)
    assert "speaks livechat protocol 1" in body["message"] and "'2'" in body["message"]
    assert client.db_counts() == before, "nothing stored"
    # the addon's side of it (plain Python, no Odoo): the delivery log's words
    sys.path.insert(0, str(ADDON_TOOLS))
    try:
        import protocol as addon_protocol
    finally:
        sys.path.pop(0)
    import json
    text = addon_protocol.refusal(400, json.dumps(body), said)
    assert text.startswith("Unsupported protocol: this addon speaks livechat protocol 1, the relay speaks 1.")
    assert addon_protocol.refusal(400, '{"error": "invalid_body"}') is None
    assert addon_protocol.refusal(200, json.dumps(body)) is None
    _, metrics, _ = await client.call("GET", "/metrics")
    assert 'relay_webhooks_total{result="unsupported_protocol"} 1.0' in metrics
