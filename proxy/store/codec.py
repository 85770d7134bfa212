"""One encoding of a conversation for every store (SQLite columns, Redis hash fields).

``FIELDS`` is the one list of what a stored conversation holds; ``encode`` turns a
``Conversation`` into those fields (``upstream``, the conversation's state, as compact JSON:
its typed view is proxy/state.py), ``decode`` turns them back, from SQLite's native values or
Redis's strings alike. ``merge_patch`` is the one merge of a state patch (RFC 7396) that a
store without JSON patching of its own (Redis) and the in-memory copies (``state.apply``) use.
"""
from __future__ import annotations

import json
from collections.abc import Mapping

from proxy.events import dumps
from proxy.store.base import Conversation

FIELDS = ("id", "created_at", "last_activity", "visitor_name", "lang", "page_url",
          "livechat_channel_id", "odoo_database", "odoo_channel_id", "closed", "last_seq", "upstream")
INTS = ("livechat_channel_id", "odoo_channel_id", "last_seq")
FLOATS = ("created_at", "last_activity")


def encode(conv: Conversation) -> dict[str, object]:
    """Every field of ``FIELDS``: ``upstream`` as JSON text (None when there is none), the rest as is."""
    values = {f: getattr(conv, f) for f in FIELDS}
    values["upstream"] = dumps(conv.upstream) if conv.upstream is not None else None
    return values


def decode(values: Mapping[str, object]) -> Conversation:
    """A conversation from its stored fields (a missing one takes the default)."""
    out: dict = {}
    for key, value in values.items():
        if key not in FIELDS or value is None:
            continue
        if key in INTS:
            out[key] = int(value)  # type: ignore[call-overload]
        elif key in FLOATS:
            out[key] = float(value)  # type: ignore[arg-type]
        elif key == "closed":
            out[key] = value in (True, 1, "1")
        elif key == "upstream":
            out[key] = json.loads(value) if value else None  # type: ignore[arg-type]
        else:
            out[key] = value
    return Conversation(**out)


def merge_patch(target: dict, patch: dict) -> dict:
    """RFC 7396: nested objects merge, ``None`` deletes."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        elif isinstance(value, dict):
            out[key] = merge_patch({}, value)
        else:
            out[key] = value
    return out
