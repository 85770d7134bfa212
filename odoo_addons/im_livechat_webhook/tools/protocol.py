"""The addon ↔ relay protocol version (docs/protocol.md §1); plain Python, no Odoo.

Every webhook carries ``X-Livechat-Protocol: <version>``. A relay that does not speak its major
answers 400 ``{"error": "unsupported_protocol", ...}``: the delivery log then says so in words
(and the event is retried on its schedule, so it goes through once both sides are upgraded).
"""
import json

PROTOCOL_VERSION = "1"
HEADER = "X-Livechat-Protocol"


def major(version):
    return (version or "1").strip().split(".", 1)[0] or "1"


def refusal(status, text, relay_protocol=None):
    """A clear message when the relay's answer says it does not speak this addon's protocol; None
    for any other answer."""
    if status is None or 200 <= status < 300:
        return None
    try:
        body = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("error") != "unsupported_protocol":
        return None
    speaks = body.get("supported") or [relay_protocol or body.get("protocol") or "?"]
    return ("Unsupported protocol: this addon speaks livechat protocol %s, the relay speaks %s. Install a "
            "relay and an addon of the same protocol major (see the project's CHANGELOG.md); the event "
            "is retried on its schedule meanwhile. The relay said: %s"
            % (PROTOCOL_VERSION, ", ".join(str(s) for s in speaks), str(body.get("message") or "")[:300]))
