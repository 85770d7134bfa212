"""Odoo values as the relay reads them out of bus frames and route answers: ids in their several
spellings, 19's ``["markup", html]`` bodies, lists that may be one record, and 18/19's Store payloads.
Lenient by design: a value of the wrong type reads as "absent" (None, "", []), never as an error."""
from __future__ import annotations

CHANNEL_MODEL = "discuss.channel"


def int_id(value) -> int | None:
    """An id: a real int (not a bool), or a digit string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def ref_id(value) -> int | None:
    """An id given as ``7``, ``{"id": 7, …}`` or ``[7, "name"]`` (many2one)."""
    if isinstance(value, dict):
        return int_id(value.get("id"))
    if isinstance(value, (list, tuple)) and value:
        return int_id(value[0])
    return int_id(value)


def is_channel(ref, channel_id: int) -> bool:
    """``ref`` names Odoo session ``channel_id``: an id or ``{"id", "model"?}``."""
    if isinstance(ref, dict) and ref.get("model") not in (None, CHANNEL_MODEL):
        return False
    return ref_id(ref) == channel_id


def text(value) -> str:
    return value if isinstance(value, str) else ""


def html(value) -> str:
    """Message bodies: plain strings in 17/18, ``["markup", html]`` in 19."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == "markup":
        value = value[1]
    return value if isinstance(value, str) else ""


def dicts(value) -> list[dict]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


class StorePayload:
    """A Store payload (18/19): ``{model: [records] | record}``, records merged by id."""

    def __init__(self, data):
        self.records: dict[str, dict[int, dict]] = {}
        if not isinstance(data, dict):
            return
        for model, value in data.items():
            if not isinstance(model, str):
                continue
            for record in dicts(value):
                rid = int_id(record.get("id"))
                if rid is not None:
                    self.records.setdefault(model, {}).setdefault(rid, {}).update(record)

    def get(self, model: str, rid) -> dict:
        rid = ref_id(rid)
        return self.records.get(model, {}).get(rid, {}) if rid is not None else {}

    def all(self, model: str) -> list[dict]:
        return list(self.records.get(model, {}).values())
