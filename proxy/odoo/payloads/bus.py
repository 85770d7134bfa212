"""What one bus frame (a WebSocket frame or ``/websocket/peek_notifications``' ``notifications``)
says about one Odoo session, in order, as ``BusItem``s: new messages, edits and deletions, typing,
members leaving (named from the same frame), 19's closing, an operator's ``/history``.

Shapes (as recorded from real servers in tests/fixtures/odoo/<version>/):

- new message ``discuss.channel/new_message``: 17 ``{id: <channel>, message: <message_format>}``;
  18/19 ``{id: <channel>, data: <Store>}``. 18 authors are ``{id, type}`` refs into the Store; 19
  has ``author_id`` / ``author_guest_id`` plain ids and the body as ``["markup", html]``.
- edit/delete ``mail.record/insert``: 17 ``{"Message": {id, body, attachments…}}``; 18/19
  ``{"mail.message": [{id, body, attachment_ids…}]}``. Neither names the channel.
- typing: 17 ``discuss.channel.member/typing_status``; 18/19 ``mail.record/insert`` with
  ``discuss.channel.member: [{…, isTyping}]``.
- member removed: 17 ``Thread.channelMembers``, 18 ``discuss.channel.channelMembers``, 19
  ``discuss.channel.channel_member_ids``: ``[["DELETE", …]]``. 19 pushes ``livechat_end_dt``.

The parser looks at shapes rather than at the Odoo version (saas~ builds sit between series).
Unknown notifications and malformed entries are skipped: a frame is never rejected for what it
contains, only for not being a list."""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from proxy.odoo.adapters import ShapeError
from proxy.odoo.payloads.attachments import attachments_17, attachments_store
from proxy.odoo.payloads.authors import persona_kind, store_member
from proxy.odoo.payloads.messages import BusItem, edit_item, message_17, message_channel_ok, message_store
from proxy.odoo.payloads.values import CHANNEL_MODEL, StorePayload, dicts, int_id, is_channel, ref_id, text

HISTORY_COMMAND = "im_livechat.history_command"   # {"id": session} (+ "partner_id" on 19), to the session
LEFT_NOTE = re.compile(r"data-oe-type\s*=\s*[\"']channel-left[\"']", re.I)


def _deleted_member_ids(commands) -> list[int]:
    """Member ids out of ``[["DELETE", {id} | [ids] | [{id}…]], …]``."""
    out: list[int] = []
    for cmd in commands if isinstance(commands, list) else []:
        if not (isinstance(cmd, (list, tuple)) and len(cmd) >= 2 and cmd[0] == "DELETE"):
            continue
        targets = cmd[1] if isinstance(cmd[1], list) else [cmd[1]]
        out.extend(i for i in (ref_id(t) for t in targets) if i is not None)
    return out


@dataclasses.dataclass
class _Frame:
    """What one frame says about the session, gathered before member_left names are resolved."""
    items: list = dataclasses.field(default_factory=list)      # BusItem, or ("left", member id)
    members: dict = dataclasses.field(default_factory=dict)    # member id → (name, kind)


def _new_message(payload: dict, channel_id: int, base_url: str, frame: _Frame) -> None:
    if not is_channel(payload.get("id"), channel_id):
        return
    if isinstance(payload.get("message"), dict):                    # 17
        msg = payload["message"]
        if message_channel_ok(msg, channel_id):
            parsed = message_17(msg, base_url)
            if parsed:
                frame.items.append(BusItem(kind="message", message=parsed))
        return
    store = StorePayload(payload.get("data"))                             # 18/19
    candidates = [m for m in store.all("mail.message") if message_channel_ok(m, channel_id)]
    if not candidates:
        return
    # The Store may also carry the message replied to (older): the new one has the highest id.
    msg = max(candidates, key=lambda m: int_id(m.get("id")) or 0)
    parsed = message_store(msg, store, base_url)
    if parsed:
        frame.items.append(BusItem(kind="message", message=parsed))


def _typing_17(payload: dict, channel_id: int, frame: _Frame) -> None:
    if not is_channel(payload.get("thread"), channel_id) or not isinstance(payload.get("isTyping"), bool):
        return
    persona: dict = payload["persona"] if isinstance(payload.get("persona"), dict) else {}
    name, kind = text(persona.get("name")), persona_kind(persona)
    member_id = int_id(payload.get("id"))
    if member_id is not None:
        frame.members[member_id] = (name, kind)
    frame.items.append(BusItem(kind="typing", name=name, member_kind=kind, typing=payload["isTyping"]))


def _record_insert(payload: dict, channel_id: int, base_url: str, frame: _Frame) -> None:
    store = StorePayload(payload)
    # 17: "Message" and "Thread" are single records, "ChannelMember" too
    for msg in dicts(payload.get("Message")) + store.all("mail.message"):
        if not message_channel_ok(msg, channel_id):
            continue
        if "attachments" in msg:                                    # 17
            atts = attachments_17(msg.get("attachments"), base_url)
        else:
            atts = attachments_store(msg.get("attachment_ids"), store, base_url)
        item = edit_item(msg, atts)
        if item:
            frame.items.append(item)
    for member in dicts(payload.get("ChannelMember")):             # 17: who is who, for member_left
        persona = member.get("persona")
        mid = int_id(member.get("id"))
        if isinstance(persona, dict) and mid is not None and text(persona.get("name")):
            frame.members[mid] = (text(persona["name"]), persona_kind(persona))
    for member in store.all("discuss.channel.member"):              # 18/19
        channel = member.get("thread", member.get("channel_id"))
        if channel is not None and not is_channel(channel, channel_id):
            continue
        name, kind = store_member(member, store)
        mid = int_id(member.get("id"))
        if mid is not None and name:
            frame.members[mid] = (name, kind)
        if channel is not None and isinstance(member.get("isTyping"), bool):
            frame.items.append(BusItem(kind="typing", name=name, member_kind=kind, typing=member["isTyping"]))
    threads = [t for t in dicts(payload.get("Thread")) if t.get("model") in (None, CHANNEL_MODEL)]
    for channel in threads + store.all("discuss.channel"):
        if int_id(channel.get("id")) != channel_id:
            continue
        for key in ("channelMembers", "channel_member_ids"):
            for member_id in _deleted_member_ids(channel.get(key)):
                frame.items.append(("left", member_id))
        if channel.get("livechat_end_dt"):                          # 19
            frame.items.append(BusItem(kind="closed"))


def _resolve_left(frame: _Frame) -> list[BusItem]:
    """Name the members whose removal the frame announces.

    A DELETE carries only the member id. Known members (typing, ChannelMember records in the same
    frame) are named directly; otherwise the "left the channel" notification Odoo posts in the same
    transaction (authored by the leaving member's partner) names them. 19 marks it
    ``data-oe-type="channel-left"``; 17/18 have only the (translated) text, so any non-hidden
    notification by a non-guest in the frame is taken, in order.
    """
    notes = [i.message for i in frame.items
             if isinstance(i, BusItem) and i.kind == "message" and i.message is not None and i.message.is_note]
    marked = [m for m in notes if LEFT_NOTE.search(m.body_html)]
    loose = [m for m in notes if m not in marked and m.author_kind != "visitor" and "o_hide_author" not in m.body_html]
    pool = marked + loose
    out = []
    for item in frame.items:
        if isinstance(item, BusItem):
            out.append(item)
            continue
        member_id = item[1]
        if member_id in frame.members:
            name, kind = frame.members[member_id]
        elif pool:
            note = pool.pop(0)
            name, kind = note.author_name, note.author_kind
        else:
            name, kind = "", ""
        out.append(BusItem(kind="member_left", name=name, member_kind=kind))
    return out


def _dedupe(items: Iterable[BusItem]) -> list[BusItem]:
    """17 sends edits and typing to the channel and to its uuid: an item identical to the last one
    about the same message (or member) is a copy. A real change in between is kept."""
    last: dict[tuple, BusItem] = {}
    out = []
    for item in items:
        if item.kind in ("updated", "deleted"):
            subject: tuple = ("edit", item.message_id)
        elif item.kind == "typing":
            subject = ("typing", item.name, item.member_kind)
        elif item.kind == "closed":
            subject = ("closed",)
        else:
            out.append(item)
            continue
        if last.get(subject) == item:
            continue
        last[subject] = item
        out.append(item)
    return out


def bus_items(notifications: list[dict], channel_id: int, base_url: str) -> list[BusItem]:
    """What one bus frame (or peek_notifications' ``notifications``) says about Odoo session
    ``channel_id``, in order. Presence, last_interest, joined, seen markers… are dropped."""
    if not isinstance(notifications, list):
        raise ShapeError("bus frame: not a list")
    base_url = (base_url or "").rstrip("/")
    frame = _Frame()
    for note in notifications:
        try:
            message = note.get("message") if isinstance(note, dict) else None
            if not isinstance(message, dict) or not isinstance(message.get("payload"), dict):
                continue
            type_, payload = message.get("type"), message["payload"]
            if type_ == "discuss.channel/new_message":
                _new_message(payload, channel_id, base_url, frame)
            elif type_ == "mail.record/insert":
                _record_insert(payload, channel_id, base_url, frame)
            elif type_ == "discuss.channel.member/typing_status":
                _typing_17(payload, channel_id, frame)
            elif type_ == HISTORY_COMMAND and int_id(payload.get("id")) == channel_id:
                # an operator's /history in Odoo: the relay answers as Odoo's own widget would
                frame.items.append(BusItem(kind="history", partner_id=int_id(payload.get("partner_id"))))
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            continue     # an odd notification never costs the rest of the frame
    return _dedupe(_resolve_left(frame))


def last_bus_id(notifications: list[dict]) -> int | None:
    """The highest bus id in the frame, for the next subscribe's ``last``."""
    if not isinstance(notifications, list):
        raise ShapeError("bus frame: not a list")
    ids = [i for i in (int_id(n.get("id")) for n in notifications if isinstance(n, dict)) if i is not None]
    return max(ids) if ids else None
