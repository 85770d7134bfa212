"""Odoo Livechat Relay: signed webhooks from Odoo in, WebSocket / long polling / polling out."""

# The project version (semantic versioning): the relay, the Odoo addon (its manifest says the same
# x.y.z, built as <series>.x.y.z per Odoo series) and the client library share it; CHANGELOG.md.
__version__ = "1.0.0"

# The addon ↔ relay protocol (docs/protocol.md §1), independent of the project version: its major
# changes only when a relay and an addon of different majors can no longer understand each other.
# Sent by the addon with every webhook (X-Livechat-Protocol), said by /healthz and the addon's
# /im_livechat_webhook/info.
PROTOCOL_VERSION = "1"
PROTOCOL_MAJORS = frozenset({"1"})   # what this relay speaks
