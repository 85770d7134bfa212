"""Polling an Odoo session as its guest: the parameters of ``/im_livechat/cors/channel/messages``
for the messages after a given id, and its answer as ``OdooMessage``s, oldest first."""
from __future__ import annotations

from typing import Any

from proxy.odoo.adapters import ShapeError
from proxy.odoo.payloads.messages import OdooMessage, message_17, message_channel_ok, message_store
from proxy.odoo.payloads.values import StorePayload, int_id, ref_id

POLL_LIMIT = 30


def poll_params(major: int, guest_token: str, channel_id: int, after_id: int) -> dict:
    """Parameters of POST ``/im_livechat/cors/channel/messages`` for messages with id > after_id.

    17/18 pass the route's arguments shifted (before→search_term, after→before, limit→after,
    around→limit): ``"limit": after_id`` acts as *after* and ``"around": 30`` as *limit*, which is
    what messages_cors_after_via_limit recorded. With an *after*, Odoo takes the oldest ones above
    it, so batches have no gap.
    """
    if major >= 19:
        fetch: dict[str, Any] = {"limit": POLL_LIMIT}
        if after_id and after_id > 0:
            fetch = {"after": int(after_id), "limit": POLL_LIMIT}
        return {"guest_token": guest_token, "channel_id": channel_id, "fetch_params": fetch}
    return {"guest_token": guest_token, "channel_id": channel_id, "limit": int(after_id or 0), "around": POLL_LIMIT}


def poll_messages(result, channel_id: int, base_url: str) -> list[OdooMessage]:
    """The messages route's answer as OdooMessages, oldest first. 17: ``{"messages": [dicts]}``
    (a bare list is accepted too); 18/19: ``{"data": <Store>, "messages": [ids, newest first]}``."""
    base_url = (base_url or "").rstrip("/")
    if isinstance(result, list) or (isinstance(result, dict) and isinstance(result.get("messages"), list)
                                    and "data" not in result and all(isinstance(m, dict) for m in result["messages"])):
        rows = result if isinstance(result, list) else result["messages"]
        parsed = [message_17(m, base_url) for m in rows if isinstance(m, dict) and message_channel_ok(m, channel_id)]
    elif isinstance(result, dict) and isinstance(result.get("data"), dict):
        store = StorePayload(result["data"])
        wanted = result.get("messages")
        ids = {i for i in (ref_id(w) for w in wanted) if i is not None} if isinstance(wanted, list) else None
        parsed = [message_store(m, store, base_url) for m in store.all("mail.message")
                  if (ids is None or int_id(m.get("id")) in ids) and message_channel_ok(m, channel_id)]
    else:
        raise ShapeError(f"channel/messages: unexpected shape ({type(result).__name__})")
    unique = {m.id: m for m in parsed if m is not None}
    return [unique[i] for i in sorted(unique)]
