"""Operator replies as the visitor's guest sees them: Odoo's bus notifications (WebSocket frames or
``/websocket/peek_notifications``) and the answer of ``/im_livechat/cors/channel/messages``.

Pure parsing, no I/O; tested on payloads recorded from real Odoo 17.0, 18.0 and 19.0 servers
(tests/fixtures/odoo/<version>/, see odoo-samples/README.md "What the samples show").

Shapes (ODOO.md §4 and part B):

- new message ``discuss.channel/new_message``: 17 ``{id: <channel>, message: <message_format>}``;
  18/19 ``{id: <channel>, data: <Store>}``. 18 authors are ``{id, type}`` refs into the Store; 19
  has ``author_id`` / ``author_guest_id`` plain ids and the body as ``["markup", html]``.
- edit/delete ``mail.record/insert``: 17 ``{"Message": {id, body, attachments…}}``; 18/19
  ``{"mail.message": [{id, body, attachment_ids…}]}``. Neither names the channel.
- typing: 17 ``discuss.channel.member/typing_status``; 18/19 ``mail.record/insert`` with
  ``discuss.channel.member: [{…, isTyping}]``.
- member removed: 17 ``Thread.channelMembers``, 18 ``discuss.channel.channelMembers``, 19
  ``discuss.channel.channel_member_ids``: ``[["DELETE", …]]``. 19 pushes ``livechat_end_dt``.

The parser looks at shapes rather than trusting ``major`` alone (saas~ builds sit between series);
``major`` only picks the request parameters. Unknown notifications and malformed entries are
skipped: a frame is never rejected for what it contains, only for not being a list.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from proxy.odoo.adapters import ShapeError

__all__ = ["OdooMessage", "BusItem", "ShapeError", "bus_items", "last_bus_id", "poll_params", "poll_messages"]

# base.partner_root / base.user_root ("OdooBot") in every database these samples come from (and in
# any database made by Odoo's own data files: they are the second partner and the first user).
ODOOBOT_PARTNER_ID = 2
ODOOBOT_USER_ID = 1
POLL_LIMIT = 30
CHANNEL_MODEL = "discuss.channel"
HISTORY_COMMAND = "im_livechat.history_command"   # {"id": session} (+ "partner_id" on 19), to the session

EDITED_MARKER = re.compile(
    r"\s*<span\b[^>]*\bclass\s*=\s*([\"'])[^\"']*\bo-mail-Message-edited\b[^\"']*\1[^>]*>\s*</span>", re.I)
EMPTY_BODY = re.compile(r"(?:\s|<p>(?:\s|&nbsp;|<br\s*/?>)*</p>|<br\s*/?>)*", re.I)
LEFT_NOTE = re.compile(r"data-oe-type\s*=\s*[\"']channel-left[\"']", re.I)


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


# ---------------------------------------------------------------------- small helpers


def _int(value) -> int | None:
    """An id: a real int (not a bool), or a digit string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _ref_id(value) -> int | None:
    """An id given as ``7``, ``{"id": 7, …}`` or ``[7, "name"]`` (many2one)."""
    if isinstance(value, dict):
        return _int(value.get("id"))
    if isinstance(value, (list, tuple)) and value:
        return _int(value[0])
    return _int(value)


def _is_channel(ref, channel_id: int) -> bool:
    """``ref`` names Odoo session ``channel_id``: an id or ``{"id", "model"?}``."""
    if isinstance(ref, dict) and ref.get("model") not in (None, CHANNEL_MODEL):
        return False
    return _ref_id(ref) == channel_id


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _html(value) -> str:
    """Message bodies: plain strings in 17/18, ``["markup", html]`` in 19."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == "markup":
        value = value[1]
    return value if isinstance(value, str) else ""


def _dicts(value) -> list[dict]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def _strip_edited(body: str) -> str:
    """Drop the "(edited)" marker 18/19 add on update_content (after ``</p>`` in 18, inside the last
    ``<p>`` after a space in 19)."""
    return EDITED_MARKER.sub("", body)


def _is_empty(body: str) -> bool:
    return EMPTY_BODY.fullmatch(body) is not None


class _Store:
    """A Store payload (18/19): ``{model: [records] | record}``, records merged by id."""

    def __init__(self, data):
        self.records: dict[str, dict[int, dict]] = {}
        if not isinstance(data, dict):
            return
        for model, value in data.items():
            if not isinstance(model, str):
                continue
            for record in _dicts(value):
                rid = _int(record.get("id"))
                if rid is not None:
                    self.records.setdefault(model, {}).setdefault(rid, {}).update(record)

    def get(self, model: str, rid) -> dict:
        rid = _ref_id(rid)
        return self.records.get(model, {}).get(rid, {}) if rid is not None else {}

    def all(self, model: str) -> list[dict]:
        return list(self.records.get(model, {}).values())


# ---------------------------------------------------------------------- authors


def _partner_kind(partner_id: int | None, *, is_bot=False, has_user=None, internal=None, user_id=None) -> str:
    """Kind of a partner author (ODOO.md §1).

    ``has_user``: whether the partner has any user (None: the payload does not say);
    ``internal``: whether that user is internal (None: not known).
    """
    if is_bot is True or partner_id == ODOOBOT_PARTNER_ID or user_id == ODOOBOT_USER_ID:
        return "bot"
    if has_user is False:
        # a partner with no user at all: chatbot script partners are like that (a visitor is a
        # guest, or a portal/website user when logged in)
        return "bot"
    if internal is True:
        return "operator"
    if internal is False:
        return "visitor"     # portal / website user
    # The payload cannot tell (e.g. 18's typing Store has no isInternalUser): the safe default for a
    # non-guest author is "operator" (only guests and share users are visitors).
    return "operator"


def _partner_name(partner: dict) -> str:
    # 18/19 livechat operators may have a livechat username, which is what visitors are shown
    return _text(partner.get("user_livechat_username")) or _text(partner.get("name"))


def _author_17(author) -> tuple[str, str]:
    if not isinstance(author, dict):
        return "operator", ""      # author_id false and no guest: nothing to go by (safe default)
    # 17 drops "name" and sends user_livechat_username when the operator has an alias
    name = _partner_name(author)
    if author.get("type") == "guest":
        return "visitor", name
    user = author.get("user")
    if user is False or (user is None and "user" in author):
        return _partner_kind(_int(author.get("id")), is_bot=author.get("is_bot"), has_user=False), name
    if isinstance(user, dict):
        internal = user.get("isInternalUser")
        return _partner_kind(_int(author.get("id")), is_bot=author.get("is_bot"), has_user=True,
                             internal=internal if isinstance(internal, bool) else None,
                             user_id=_int(user.get("id"))), name
    return _partner_kind(_int(author.get("id")), is_bot=author.get("is_bot")), name


def _store_partner_kind(store: _Store, partner_id: int | None, extra: dict | None = None) -> str:
    """Kind of a res.partner from what an 18 or 19 Store says about it."""
    partner = store.get("res.partner", partner_id)
    extra = extra or {}
    is_bot = extra.get("is_bot") is True or partner.get("is_bot") is True
    has_user, internal, user_id = None, None, None
    if "isInternalUser" in partner or "userId" in partner:          # 18
        user_id = _int(partner.get("userId"))
        if isinstance(partner.get("isInternalUser"), bool):
            internal = partner["isInternalUser"]
        if "userId" in partner:
            has_user = user_id is not None
            if has_user is False:
                internal = None
    if "main_user_id" in partner:                                   # 19
        user_id = _ref_id(partner.get("main_user_id"))
        has_user = user_id is not None
        user = store.get("res.users", user_id)
        if isinstance(user.get("share"), bool):
            internal = not user["share"]
    return _partner_kind(partner_id, is_bot=is_bot, has_user=has_user, internal=internal, user_id=user_id)


def _author_partner(msg: dict) -> int | None:
    """The res.partner of an 18/19 message's author (None for a guest)."""
    author = msg.get("author")
    if isinstance(author, dict):
        return _int(author.get("id")) if author.get("type") != "guest" else None
    return None if _ref_id(msg.get("author_guest_id")) is not None else _ref_id(msg.get("author_id"))


def _author_store(store: _Store, msg: dict) -> tuple[str, str]:
    """(kind, name) of an 18/19 message in its Store."""
    author = msg.get("author")
    guest_id = partner_id = None
    if isinstance(author, dict):                                    # 18: {"id", "type"}
        if author.get("type") == "guest":
            guest_id = _int(author.get("id"))
        else:
            partner_id = _int(author.get("id"))
    else:                                                           # 19: plain ids
        guest_id = _ref_id(msg.get("author_guest_id"))
        partner_id = _ref_id(msg.get("author_id"))
    if guest_id is not None:
        return "visitor", _text(store.get("mail.guest", guest_id).get("name"))
    if partner_id is not None:
        return _store_partner_kind(store, partner_id), _partner_name(store.get("res.partner", partner_id))
    return "operator", ""      # neither author nor guest: nothing to go by (safe default)


# ---------------------------------------------------------------------- attachments


def _attachment(att: dict, base_url: str) -> dict | None:
    aid = _int(att.get("id"))
    if aid is None:
        return None
    size = att.get("size", att.get("file_size"))
    token = att.get("raw_access_token") or att.get("access_token") or att.get("accessToken")
    # 19 sends raw_access_token (what its web client puts in ?access_token=). 17/18 send none to a
    # guest (their web client uses /discuss/channel/<id>/attachment/<id> with the guest cookie),
    # and /web/content/<id> without a token is not readable by the visitor: url None then.
    url = f"{base_url}/web/content/{aid}?access_token={quote(token, safe='')}" if isinstance(token, str) and token else None
    return {"id": aid, "name": _text(att.get("name")) or _text(att.get("filename")),
            "mimetype": _text(att.get("mimetype")), "size": _int(size), "url": url}


def _attachments_17(value, base_url: str) -> list[dict]:
    return [a for a in (_attachment(att, base_url) for att in _dicts(value)) if a]


def _attachments_store(value, store: _Store, base_url: str) -> list[dict]:
    out = []
    for ref in value if isinstance(value, list) else []:
        aid = _ref_id(ref)
        if aid is None:
            continue
        att = {**(ref if isinstance(ref, dict) else {}), **store.get("ir.attachment", aid), "id": aid}
        parsed = _attachment(att, base_url)
        if parsed:
            out.append(parsed)
    return out


# ---------------------------------------------------------------------- messages


def _is_note(msg: dict) -> bool:
    # only comments reach the visitor; 17/18 also flag internal notes with is_note
    return msg.get("message_type") != "comment" or msg.get("is_note") is True


def _message_channel_ok(msg: dict, channel_id: int) -> bool:
    """False when the message says it belongs elsewhere; True when it matches or says nothing."""
    thread = msg.get("thread")
    if isinstance(thread, dict) and thread.get("id") is not None:
        return _is_channel(thread, channel_id)
    if msg.get("model") not in (None, CHANNEL_MODEL):
        return False
    if msg.get("res_id") is not None:
        return _int(msg.get("res_id")) == channel_id
    return True


def _message_17(msg: dict, base_url: str) -> OdooMessage | None:
    mid = _int(msg.get("id"))
    if mid is None:
        return None
    author = msg.get("author")
    kind, name = _author_17(author)
    partner = _int(author.get("id")) if isinstance(author, dict) and author.get("type") != "guest" else None
    return OdooMessage(id=mid, author_kind=kind, author_name=name, body_html=_html(msg.get("body")),
                       attachments=_attachments_17(msg.get("attachments"), base_url), is_note=_is_note(msg),
                       author_id=partner)


def _message_store(msg: dict, store: _Store, base_url: str) -> OdooMessage | None:
    mid = _int(msg.get("id"))
    if mid is None:
        return None
    kind, name = _author_store(store, msg)
    return OdooMessage(id=mid, author_kind=kind, author_name=name, body_html=_html(msg.get("body")),
                       attachments=_attachments_store(msg.get("attachment_ids"), store, base_url),
                       is_note=_is_note(msg), author_id=_author_partner(msg))


def _edit_item(msg: dict, attachments: list[dict]) -> BusItem | None:
    """update_content as the visitor sees it: "updated" or, for an emptied message, "deleted"."""
    mid = _int(msg.get("id"))
    if mid is None or "body" not in msg:
        return None          # pins, reactions, link previews… carry no body: not an edit
    body = _strip_edited(_html(msg.get("body")))
    if _is_empty(body) and not attachments:
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
        self.kept, self._last = kept, {}

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


# ---------------------------------------------------------------------- bus


def _deleted_member_ids(commands) -> list[int]:
    """Member ids out of ``[["DELETE", {id} | [ids] | [{id}…]], …]``."""
    out: list[int] = []
    for cmd in commands if isinstance(commands, list) else []:
        if not (isinstance(cmd, (list, tuple)) and len(cmd) >= 2 and cmd[0] == "DELETE"):
            continue
        targets = cmd[1] if isinstance(cmd[1], list) else [cmd[1]]
        out.extend(i for i in (_ref_id(t) for t in targets) if i is not None)
    return out


@dataclasses.dataclass
class _Frame:
    """What one frame says about the session, gathered before member_left names are resolved."""
    items: list = dataclasses.field(default_factory=list)      # BusItem, or ("left", member id)
    members: dict = dataclasses.field(default_factory=dict)    # member id → (name, kind)


def _member_kind_from_persona(persona: dict, is_bot=None) -> str:
    if persona.get("type") == "guest":
        return "visitor"
    return _partner_kind(_int(persona.get("id")), is_bot=persona.get("is_bot") or is_bot)


def _store_member(member: dict, store: _Store) -> tuple[str, str]:
    """(name, kind) of an 18/19 discuss.channel.member record."""
    kind_19 = member.get("livechat_member_type")
    persona = member.get("persona")
    guest_id = partner_id = None
    if isinstance(persona, dict):                                   # 18
        if persona.get("type") == "guest":
            guest_id = _int(persona.get("id"))
        else:
            partner_id = _int(persona.get("id"))
    else:                                                           # 19
        guest_id = _ref_id(member.get("guest_id"))
        partner_id = _ref_id(member.get("partner_id"))
    if guest_id is not None:
        name, kind = _text(store.get("mail.guest", guest_id).get("name")), "visitor"
    else:
        name = _partner_name(store.get("res.partner", partner_id))
        kind = _store_partner_kind(store, partner_id, member)
    kind = {"agent": "operator", "visitor": "visitor", "bot": "bot"}.get(kind_19, kind)
    return name, kind


def _new_message(payload: dict, channel_id: int, base_url: str, frame: _Frame) -> None:
    if not _is_channel(payload.get("id"), channel_id):
        return
    if isinstance(payload.get("message"), dict):                    # 17
        msg = payload["message"]
        if _message_channel_ok(msg, channel_id):
            parsed = _message_17(msg, base_url)
            if parsed:
                frame.items.append(BusItem(kind="message", message=parsed))
        return
    store = _Store(payload.get("data"))                             # 18/19
    candidates = [m for m in store.all("mail.message") if _message_channel_ok(m, channel_id)]
    if not candidates:
        return
    # The Store may also carry the message replied to (older): the new one has the highest id.
    msg = max(candidates, key=lambda m: _int(m.get("id")) or 0)
    parsed = _message_store(msg, store, base_url)
    if parsed:
        frame.items.append(BusItem(kind="message", message=parsed))


def _typing_17(payload: dict, channel_id: int, frame: _Frame) -> None:
    if not _is_channel(payload.get("thread"), channel_id) or not isinstance(payload.get("isTyping"), bool):
        return
    persona = payload.get("persona") if isinstance(payload.get("persona"), dict) else {}
    name, kind = _text(persona.get("name")), _member_kind_from_persona(persona)
    member_id = _int(payload.get("id"))
    if member_id is not None:
        frame.members[member_id] = (name, kind)
    frame.items.append(BusItem(kind="typing", name=name, member_kind=kind, typing=payload["isTyping"]))


def _record_insert(payload: dict, channel_id: int, base_url: str, frame: _Frame) -> None:
    store = _Store(payload)
    # 17: "Message" and "Thread" are single records, "ChannelMember" too
    for msg in _dicts(payload.get("Message")) + store.all("mail.message"):
        if not _message_channel_ok(msg, channel_id):
            continue
        if "attachments" in msg:                                    # 17
            atts = _attachments_17(msg.get("attachments"), base_url)
        else:
            atts = _attachments_store(msg.get("attachment_ids"), store, base_url)
        item = _edit_item(msg, atts)
        if item:
            frame.items.append(item)
    for member in _dicts(payload.get("ChannelMember")):             # 17: who is who, for member_left
        persona = member.get("persona")
        mid = _int(member.get("id"))
        if isinstance(persona, dict) and mid is not None and _text(persona.get("name")):
            frame.members[mid] = (_text(persona["name"]), _member_kind_from_persona(persona))
    for member in store.all("discuss.channel.member"):              # 18/19
        channel = member.get("thread", member.get("channel_id"))
        if channel is not None and not _is_channel(channel, channel_id):
            continue
        name, kind = _store_member(member, store)
        mid = _int(member.get("id"))
        if mid is not None and name:
            frame.members[mid] = (name, kind)
        if channel is not None and isinstance(member.get("isTyping"), bool):
            frame.items.append(BusItem(kind="typing", name=name, member_kind=kind, typing=member["isTyping"]))
    threads = [t for t in _dicts(payload.get("Thread")) if t.get("model") in (None, CHANNEL_MODEL)]
    for channel in threads + store.all("discuss.channel"):
        if _int(channel.get("id")) != channel_id:
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
    notes = [i.message for i in frame.items if isinstance(i, BusItem) and i.kind == "message" and i.message.is_note]
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


def bus_items(major: int, notifications: list[dict], channel_id: int, base_url: str) -> list[BusItem]:
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
            elif type_ == HISTORY_COMMAND and _int(payload.get("id")) == channel_id:
                # an operator's /history in Odoo: the relay answers as Odoo's own widget would
                frame.items.append(BusItem(kind="history", partner_id=_int(payload.get("partner_id"))))
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            continue     # an odd notification never costs the rest of the frame
    return _dedupe(_resolve_left(frame))


def last_bus_id(notifications: list[dict]) -> int | None:
    """The highest bus id in the frame, for the next subscribe's ``last``."""
    if not isinstance(notifications, list):
        raise ShapeError("bus frame: not a list")
    ids = [i for i in (_int(n.get("id")) for n in notifications if isinstance(n, dict)) if i is not None]
    return max(ids) if ids else None


# ---------------------------------------------------------------------- polling


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


def poll_messages(major: int, result, channel_id: int, base_url: str) -> list[OdooMessage]:
    """The messages route's answer as OdooMessages, oldest first. 17: ``{"messages": [dicts]}``
    (a bare list is accepted too); 18/19: ``{"data": <Store>, "messages": [ids, newest first]}``."""
    base_url = (base_url or "").rstrip("/")
    if isinstance(result, list) or (isinstance(result, dict) and isinstance(result.get("messages"), list)
                                    and "data" not in result and all(isinstance(m, dict) for m in result["messages"])):
        rows = result if isinstance(result, list) else result["messages"]
        parsed = [_message_17(m, base_url) for m in rows if isinstance(m, dict) and _message_channel_ok(m, channel_id)]
    elif isinstance(result, dict) and isinstance(result.get("data"), dict):
        store = _Store(result["data"])
        wanted = result.get("messages")
        ids = {i for i in (_ref_id(w) for w in wanted) if i is not None} if isinstance(wanted, list) else None
        parsed = [_message_store(m, store, base_url) for m in store.all("mail.message")
                  if (ids is None or _int(m.get("id")) in ids) and _message_channel_ok(m, channel_id)]
    else:
        raise ShapeError(f"channel/messages: unexpected shape ({type(result).__name__})")
    unique = {m.id: m for m in parsed if m is not None}
    return [unique[i] for i in sorted(unique)]
