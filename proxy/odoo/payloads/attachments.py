"""A message's files as the visitor may fetch them: id, name, type, size and a ``/web/content`` URL
carrying the attachment's own access token (19), or no URL where Odoo gives a guest none (17/18)."""
from __future__ import annotations

from urllib.parse import quote

from proxy.odoo.payloads.values import StorePayload, dicts, int_id, ref_id, text


def attachment(att: dict, base_url: str) -> dict | None:
    aid = int_id(att.get("id"))
    if aid is None:
        return None
    size = att.get("size", att.get("file_size"))
    token = att.get("raw_access_token") or att.get("access_token") or att.get("accessToken")
    # 19 sends raw_access_token (what its web client puts in ?access_token=). 17/18 send none to a
    # guest (their web client uses /discuss/channel/<id>/attachment/<id> with the guest cookie),
    # and /web/content/<id> without a token is not readable by the visitor: url None then.
    url = f"{base_url}/web/content/{aid}?access_token={quote(token, safe='')}" if isinstance(token, str) and token else None
    return {"id": aid, "name": text(att.get("name")) or text(att.get("filename")),
            "mimetype": text(att.get("mimetype")), "size": int_id(size), "url": url}


def attachments_17(value, base_url: str) -> list[dict]:
    return [a for a in (attachment(att, base_url) for att in dicts(value)) if a]


def attachments_store(value, store: StorePayload, base_url: str) -> list[dict]:
    out = []
    for ref in value if isinstance(value, list) else []:
        aid = ref_id(ref)
        if aid is None:
            continue
        att = {**(ref if isinstance(ref, dict) else {}), **store.get("ir.attachment", aid), "id": aid}
        parsed = attachment(att, base_url)
        if parsed:
            out.append(parsed)
    return out
