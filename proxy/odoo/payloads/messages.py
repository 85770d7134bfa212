"""One Odoo message as the relay relays it (``OdooMessage``), what a bus frame says (``BusItem``),
the parsing of 17's message_format and of 18/19's Store messages, and edits: what an update_content
means to the visitor (``edit_item``) and whether it says anything new (``LastEdits``)."""
from __future__ import annotations

import dataclasses
import hashlib
import re

from proxy.odoo.payloads.attachments import attachments_17, attachments_store
from proxy.odoo.payloads.authors import author_17, author_partner, author_store
from proxy.odoo.payloads.values import CHANNEL_MODEL, StorePayload, html, int_id, is_channel

EDITED_MARKER = re.compile(
    r"\s*<span\b[^>]*\bclass\s*=\s*([\"'])[^\"']*\bo-mail-Message-edited\b[^\"']*\1[^>]*>\s*</span>", re.I)
EMPTY_BODY = re.compile(r"(?:\s|<p>(?:\s|&nbsp;|<br\s*/?>)*</p>|<br\s*/?>)*", re.I)


@dataclasses.dataclass(frozen=True)
class OdooMessage:
    id: int
    author_kind: str        # "operator", "bot" or "visitor"
    author_name: str
    body_html: str          # raw Odoo HTML (sanitized later by the relay); 19's ["markup", html] unwrapped
    attachments: list[dict]  # [{"id", "name", "mimetype", "size", "url"}]
    is_note: bool = False   # notifications and other non-comment messages: the relay skips them
    author_id: int | None = None   # the author's res.partner (operators and bots; avatar, previous operator)


@dataclasses.dataclass(frozen=True)
class BusItem:
    kind: str               # "message" | "updated" | "deleted" | "typing" | "closed" | "member_left" | "history"
    message: OdooMessage | None = None
    message_id: int | None = None
    name: str = ""
    member_kind: str = ""
    typing: bool = False
    partner_id: int | None = None   # "history": the operator who asked (19 says it; 17/18 do not)


def strip_edited(body: str) -> str:
    """Drop the "(edited)" marker 18/19 add on update_content (after ``</p>`` in 18, inside the last
    ``<p>`` after a space in 19)."""
    return EDITED_MARKER.sub("", body)


def is_empty(body: str) -> bool:
    return EMPTY_BODY.fullmatch(body) is not None


def is_note(msg: dict) -> bool:
    # only comments reach the visitor; 17/18 also flag internal notes with is_note
    return msg.get("message_type") != "comment" or msg.get("is_note") is True


def message_channel_ok(msg: dict, channel_id: int) -> bool:
    """False when the message says it belongs elsewhere; True when it matches or says nothing."""
    thread = msg.get("thread")
    if isinstance(thread, dict) and thread.get("id") is not None:
        return is_channel(thread, channel_id)
    if msg.get("model") not in (None, CHANNEL_MODEL):
        return False
    if msg.get("res_id") is not None:
        return int_id(msg.get("res_id")) == channel_id
    return True


def message_17(msg: dict, base_url: str) -> OdooMessage | None:
    mid = int_id(msg.get("id"))
    if mid is None:
        return None
    author = msg.get("author")
    kind, name = author_17(author)
    partner = int_id(author.get("id")) if isinstance(author, dict) and author.get("type") != "guest" else None
    return OdooMessage(id=mid, author_kind=kind, author_name=name, body_html=html(msg.get("body")),
                       attachments=attachments_17(msg.get("attachments"), base_url), is_note=is_note(msg),
                       author_id=partner)


def message_store(msg: dict, store: StorePayload, base_url: str) -> OdooMessage | None:
    mid = int_id(msg.get("id"))
    if mid is None:
        return None
    kind, name = author_store(store, msg)
    return OdooMessage(id=mid, author_kind=kind, author_name=name, body_html=html(msg.get("body")),
                       attachments=attachments_store(msg.get("attachment_ids"), store, base_url),
                       is_note=is_note(msg), author_id=author_partner(msg))


def edit_item(msg: dict, attachments: list[dict]) -> BusItem | None:
    """update_content as the visitor sees it: "updated" or, for an emptied message, "deleted"."""
    mid = int_id(msg.get("id"))
    if mid is None or "body" not in msg:
        return None          # pins, reactions, link previews… carry no body: not an edit
    body = strip_edited(html(msg.get("body")))
    if is_empty(body) and not attachments:
        # 17: body "" (and no attachments); 18/19: only the edited marker. A payload without the
        # attachments key (17's duplicate sent to the channel uuid) counts as none.
        return BusItem(kind="deleted", message_id=mid)
    # The edit payload names no author and no channel. The relay never edits the visitor's
    # messages, so this is an operator's (safe default); the author's name is the original one.
    return BusItem(kind="updated", message_id=mid,
                   message=OdooMessage(id=mid, author_kind="operator", author_name="", body_html=body,
                                       attachments=attachments, is_note=False))


class LastEdits:
    """What each message's last edit said (body without Odoo's "edited" marker, and its files),
    whatever path read it (the bus, a follower's peek, the batch poller): the same edit read twice
    (by the poller while a bus socket was down, then in the socket's replay) is no change, while
    editing back to an earlier text is. Kept for the most recent ``kept`` messages."""

    def __init__(self, kept: int = 10000):
        self.kept = kept
        self._last: dict[tuple[str, int | None], str] = {}

    def changed(self, conversation_id: str, item: BusItem) -> bool:
        """Whether ``item`` (an "updated" or "deleted" BusItem) says something new; recorded."""
        message = item.message
        what = "deleted" if item.kind == "deleted" else hashlib.blake2b(
            (message.body_html + "|" + ",".join(str(a.get("id")) for a in message.attachments)).encode()
            if message else b"", digest_size=8).hexdigest()
        key = (conversation_id, item.message_id)
        if self._last.get(key) == what:
            return False
        self._last.pop(key, None)
        self._last[key] = what
        while len(self._last) > self.kept:
            self._last.pop(next(iter(self._last)))
        return True
