"""A conversation's state, typed: its phase and the records its modules keep (docs/architecture.md).

The store keeps one JSON object per conversation (``Conversation.upstream``, never sent to
widgets; proxy/store/codec.py encodes it for both stores). This module is its only schema:
each key belongs to one typed record below, each record to ONE module that may change it.
Reads go through ``of``/``<record>_of`` (typed, defaults filled in, old shapes understood);
writes are merge patches built by the record's ``patch`` and given to ``write`` (or
``store.merge_upstream``), which every store applies atomically (RFC 7396: nested objects merge,
``None`` deletes), so writers of different records never undo each other.

Phases (``phase_of``)::

    create ─┬─ bot configured ──────────────► BOT ──(bot / visitor / bot failed)──► HANDOFF_PENDING
            ├─ nobody online + contact ─────► LEAVE_MESSAGE ◄──(no operator, "message")──┤
            └─ session opened ──────────────► WITH_OPERATOR ◄──(session opened)──────────┘
    HANDOFF_PENDING ──(no operator, "stay")──► BOT
    LEAVE_MESSAGE ──(an operator available, or a new visitor message: the handoff)──► WITH_OPERATOR
    any ──(closed event)──► CLOSED

A handoff retried from a left message keeps ``waiting`` beside ``handoff``: that is still
LEAVE_MESSAGE (the retry loop and the next visitor message try again).
"""
from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING, Any

from proxy.store.codec import merge_patch

if TYPE_CHECKING:
    from proxy.store.base import Conversation, Store


class Phase(enum.Enum):
    BOT = "bot"                          # no person yet and nothing pending: the bot (if any) answers
    HANDOFF_PENDING = "handoff_pending"  # opening the operator-side session (``pending.handoff``: the cause)
    LEAVE_MESSAGE = "leave_message"      # nobody was online: the visitor's messages wait (``pending.waiting``)
    WITH_OPERATOR = "with_operator"      # bound to an operator-side session (Odoo's chatbot script included)
    CLOSED = "closed"


class _Unset(enum.Enum):
    UNSET = 0


UNSET = _Unset.UNSET     # a patch argument left out: the key is not touched (None deletes it)


def _patch(**fields: Any) -> dict:
    return {k: v for k, v in fields.items() if v is not UNSET}


def _int(value: object, default: int = 0) -> int:
    return int(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) and str(value) else default


def _opt_int(value: object) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------------- records


@dataclasses.dataclass(frozen=True)
class Chatbot:
    """Odoo's chatbot script running in the session (owner: proxy/odoo/upstream.py)."""
    script: int | None = None
    step: dict | None = None          # chatbot.Step.as_dict()
    done: bool = False

    @classmethod
    def of(cls, raw: object) -> Chatbot | None:
        if not isinstance(raw, dict) or not raw:
            return None
        return cls(_opt_int(raw.get("script")), raw.get("step") if isinstance(raw.get("step"), dict) else None,
                   bool(raw.get("done")))


@dataclasses.dataclass(frozen=True)
class Session:
    """The operator-side (Odoo) session: who the relay is there, and who answers.
    Owner: proxy/odoo/upstream.py (``open_session``, the chatbot turn). ``previous_operator_id`` is
    set once at creation by proxy/conversations.py (``Relay.create``, from the visitor's last conversation)."""
    guest_token: str | None = None
    uuid: str | None = None
    operator_id: int | None = None
    operator_name: str | None = None
    previous_operator_id: int | None = None
    chatbot: Chatbot | None = None

    @classmethod
    def of(cls, up: dict) -> Session:
        return cls(up.get("guest_token"), up.get("uuid"), _opt_int(up.get("operator_id")), up.get("operator_name"),
                   _opt_int(up.get("previous_operator_id")), Chatbot.of(up.get("chatbot")))

    @property
    def token(self) -> str:
        """The guest token of a session opened (KeyError without one)."""
        if self.guest_token is None:
            raise KeyError("guest_token")
        return self.guest_token

    @staticmethod
    def opened(guest_token: str, uuid: str | None = None, operator: tuple[int, str | None] | None = None,
               chatbot_script: int | None = None, step: dict | None = None) -> dict:
        """What a session just opened keeps (the whole record, not a patch)."""
        out: dict = {"guest_token": guest_token}
        if uuid:
            out["uuid"] = uuid
        if operator:
            out["operator_id"] = operator[0]
            if operator[1]:
                out["operator_name"] = operator[1]
        if chatbot_script:
            out["chatbot"] = {"script": chatbot_script, "step": step}
        return out

    @staticmethod
    def patch(*, operator_name: str | None | _Unset = UNSET, step: dict | None | _Unset = UNSET,
              chatbot_done: bool | _Unset = UNSET) -> dict:
        chatbot = _patch(step=step, done=chatbot_done)
        return _patch(operator_name=operator_name, chatbot=chatbot if chatbot else UNSET)


@dataclasses.dataclass(frozen=True)
class Transcript:
    """What came before a handoff (the bot part, or a left message), to post as one message."""
    seq: int
    text: str


@dataclasses.dataclass(frozen=True)
class PostingCursor:
    """What of the visitor's messages is in Odoo. Owner: the visitor → Odoo posting
    (proxy/odoo/upstream.py and proxy/odoo/posting.py); ``transcript`` is set by ``OdooUpstream.handoff``."""
    posted_seq: int = 0          # the last visitor event dealt with
    posted_odoo_id: int = 0      # Odoo's id of the last one posted
    visitor_seq: int = 0         # the last visitor message stored (several nodes: what the poster has to do)
    transcript: Transcript | None = None
    sent: dict[str, int] = dataclasses.field(default_factory=dict)   # client_id → Odoo message id

    @classmethod
    def of(cls, up: dict) -> PostingCursor:
        raw = up.get("transcript")
        transcript = Transcript(_int(raw.get("seq")), str(raw.get("text") or "")) \
            if isinstance(raw, dict) and "seq" in raw else None
        return cls(_int(up.get("posted_seq")), _int(up.get("posted_odoo_id")), _int(up.get("visitor_seq")),
                   transcript, {str(k): v for k, v in _dict(up.get("sent")).items()})

    @property
    def done_seq(self) -> int:
        """The last visitor event that needs no posting any more (posted, or in the transcript)."""
        return max(self.posted_seq, self.transcript.seq if self.transcript else 0)

    @staticmethod
    def patch(*, posted_seq: int | _Unset = UNSET, posted_odoo_id: int | _Unset = UNSET,
              visitor_seq: int | _Unset = UNSET, transcript: Transcript | _Unset = UNSET,
              sent: dict[str, int] | _Unset = UNSET) -> dict:
        return _patch(posted_seq=posted_seq, posted_odoo_id=posted_odoo_id, visitor_seq=visitor_seq,
                      transcript=dataclasses.asdict(transcript) if isinstance(transcript, Transcript) else UNSET,
                      sent=sent)


@dataclasses.dataclass(frozen=True)
class FollowCursor:
    """Where the relay is in Odoo's bus and message list of the session. Owner: the followers of
    operator replies (proxy/odoo/replies.py, batch.py, shared_bus.py)."""
    bus_last: int = 0
    poll_last: int = 0

    @classmethod
    def of(cls, up: dict) -> FollowCursor:
        return cls(_int(up.get("bus_last")), _int(up.get("poll_last")))

    @staticmethod
    def patch(*, bus_last: int | _Unset = UNSET, poll_last: int | _Unset = UNSET) -> dict:
        return _patch(bus_last=bus_last, poll_last=poll_last)


@dataclasses.dataclass(frozen=True)
class BotState:
    """Before a person: the bot's progress and what is pending. Owner: proxy/handoff.py (``Relay.create``
    starts it). Stored as ``bot`` (``answered_seq``; present: a bot had the conversation) and ``pending``;
    conversations stored before 1.1 kept ``handoff``/``waiting``/``handed_off`` under ``bot``: still read."""
    with_bot: bool = False
    answered_seq: int = 0
    handoff: str | None = None       # the cause of a handoff under way
    waiting: bool = False            # a left message waiting for an operator
    handed_off: str | None = None    # the cause of the handoff that bound the conversation
    contact: str | None = None       # how to reach the visitor who left a message
    legacy: bool = False             # ``bot`` holds pre-1.1 pending flags to clear at the handoff

    @classmethod
    def of(cls, up: dict) -> BotState:
        old = _dict(up.get("bot"))
        pending = {**{k: old[k] for k in ("handoff", "waiting", "handed_off") if k in old}, **_dict(up.get("pending"))}
        return cls("bot" in up, _int(old.get("answered_seq")), pending.get("handoff") or None,
                   bool(pending.get("waiting")), pending.get("handed_off") or None, pending.get("contact") or None,
                   any(k in old for k in ("handoff", "waiting", "handed_off")))

    @staticmethod
    def started() -> dict:
        """A conversation that starts with the bot."""
        return {"bot": {"answered_seq": 0}}

    @staticmethod
    def patch(*, answered_seq: int | _Unset = UNSET, handoff: str | None | _Unset = UNSET,
              waiting: bool | None | _Unset = UNSET, handed_off: str | None | _Unset = UNSET,
              contact: str | _Unset = UNSET) -> dict:
        out: dict = {}
        if answered_seq is not UNSET:
            out["bot"] = {"answered_seq": answered_seq}
        pending = _patch(handoff=handoff, waiting=waiting, handed_off=handed_off, contact=contact)
        if pending:
            out["pending"] = pending
        return out


@dataclasses.dataclass(frozen=True)
class Upload:
    token: str
    name: str = ""
    mimetype: str | None = None
    size: int | None = None


@dataclasses.dataclass(frozen=True)
class VisitorRecord:
    """What the visitor did beside messages. Owner: proxy/conversations.py (``Relay.upload``, ``seen``,
    ``email_transcript``, ``pages``)."""
    uploads: dict[str, Upload] = dataclasses.field(default_factory=dict)   # attachment id → the upload
    seen_odoo_id: int = 0      # Odoo was told the visitor saw up to this message
    mailed: int = 0            # transcripts mailed
    pages: tuple[dict, ...] = ()   # the page history, {url, title}

    @classmethod
    def of(cls, up: dict) -> VisitorRecord:
        uploads = {str(k): Upload(str(v.get("token", "")), v.get("name", ""), v.get("mimetype"), v.get("size"))
                   for k, v in _dict(up.get("uploads")).items() if isinstance(v, dict)}
        pages = up.get("pages")
        return cls(uploads, _int(up.get("seen_odoo_id")), _int(up.get("mailed")),
                   tuple(p for p in pages if isinstance(p, dict)) if isinstance(pages, list) else ())

    @staticmethod
    def patch(*, upload: tuple[int, Upload] | _Unset = UNSET, seen_odoo_id: int | _Unset = UNSET,
              mailed: int | _Unset = UNSET, pages: list[dict] | _Unset = UNSET) -> dict:
        return _patch(uploads={str(upload[0]): dataclasses.asdict(upload[1])} if isinstance(upload, tuple) else UNSET,
                      seen_odoo_id=seen_odoo_id, mailed=mailed, pages=pages)


@dataclasses.dataclass(frozen=True)
class State:
    """All of a conversation's state, read at once."""
    phase: Phase
    session: Session
    posting: PostingCursor
    follow: FollowCursor
    bot: BotState
    visitor: VisitorRecord


# ---------------------------------------------------------------------- reads


def _up(conv: Conversation | None) -> dict:
    return (conv.upstream or {}) if conv is not None else {}


def phase_of(conv: Conversation | None) -> Phase:
    """The conversation's phase (module docstring); a conversation not found is CLOSED."""
    if conv is None or conv.closed:
        return Phase.CLOSED
    if conv.odoo_channel_id is not None:
        return Phase.WITH_OPERATOR
    bot = BotState.of(_up(conv))
    if bot.waiting:
        return Phase.LEAVE_MESSAGE
    if bot.handoff:
        return Phase.HANDOFF_PENDING
    return Phase.BOT


def of(conv: Conversation) -> State:
    up = _up(conv)
    return State(phase_of(conv), Session.of(up), PostingCursor.of(up), FollowCursor.of(up), BotState.of(up),
                 VisitorRecord.of(up))


def session_of(conv: Conversation | None) -> Session:
    return Session.of(_up(conv))


def posting_of(conv: Conversation | None) -> PostingCursor:
    return PostingCursor.of(_up(conv))


def follow_of(conv: Conversation | None) -> FollowCursor:
    return FollowCursor.of(_up(conv))


def bot_of(conv: Conversation | None) -> BotState:
    return BotState.of(_up(conv))


def visitor_of(conv: Conversation | None) -> VisitorRecord:
    return VisitorRecord.of(_up(conv))


def has_state(conv: Conversation) -> bool:
    """Whether anything is kept for this conversation (bound to an Odoo session: its keys at least)."""
    return bool(conv.upstream)


# ---------------------------------------------------------------------- writes


def apply(conv: Conversation, patch: dict) -> None:
    """The patch applied to this in-memory copy, as the store applies it."""
    conv.upstream = merge_patch(conv.upstream or {}, patch)


async def write(store: Store, conv: Conversation, patch: dict) -> None:
    """The patch to this in-memory copy, then to the store (atomically merged)."""
    apply(conv, patch)
    await store.merge_upstream(conv.id, patch)
