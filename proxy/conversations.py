"""The core: conversations, their events and who hears about them.

Every event goes the same way: ``store.append`` (durable, seq assigned) → ``hub.publish``
(live fan-out). Readers use ``hub.Cursor``, so they never depend on the live path for
completeness. No HTTP here; api/ turns these calls into routes and frames.

With a store that can (SQLite), the fan-out does not wait for the commit's fsync: the event goes
to live readers as soon as it has its seq (``_Early``, store/base.py), while the caller — the
webhook's 2xx, the visitor's ack — still waits for durability. A crash in between is covered by
the store's *unsure* seqs and the readers' ``reset`` (store/base.py, hub.py).
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import secrets
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from proxy import decisions as dc
from proxy import events as ev
from proxy import files, handoff, tokens
from proxy import state as st
from proxy.config import Settings
from proxy.errors import BadRequest, Conflict, NotFound, TooManyRequests, Unauthorized, Unavailable
from proxy.hub import Cursor, Hub
from proxy.metrics import Metrics
from proxy.store.base import Appended, Conversation, Store
from proxy.upstream.base import (
    FileNotFound,
    NoOperatorAvailable,
    NotOffered,
    RatingRefused,
    UploadRefused,
    Upstream,
    UpstreamDown,
)

if TYPE_CHECKING:
    from proxy.odoo.replies import Replies

log = logging.getLogger("relay.core")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_FILES_PER_MESSAGE = 10
MAX_UPLOADS = 100          # files a visitor may send in one conversation
RATINGS = (5, 3, 1)        # what Odoo's feedback panel offers
MAX_COMMENT = 1000
EMAIL = re.compile(r"^[^@\s<>\"(),;:\\\[\]]{1,64}"                                   # the local part
                   r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
MAX_TRANSCRIPT_MAILS = 3   # transcripts mailed per conversation (each one a mail Odoo sends to any address)
BOUND_CACHE = 10000        # Odoo sessions whose conversation is remembered (``bound``)
CONFIG_TTL = 30.0          # seconds Odoo's answer for one channel, page and language is kept (docs/protocol.md §6)
CONFIGS_KEPT = 1000        # (channel, page, language) answers kept at most (``config``)
MAX_PAGES = 15             # the visitor's page history kept with a conversation, as Odoo's own widget keeps
MAX_PAGE_URL = 2048        # longer page URLs are dropped (docs/protocol.md §6)
MAX_PAGE_TITLE = 200       # longer page titles are dropped with their page
HISTORY_AGAIN = 5.0        # seconds in which a second history request of one conversation is the same one


_REFUSED = {   # Relay.create's refusals (decisions.create_choice)
    "no_operator_available": lambda: Unavailable("No operator is available right now.", code="no_operator_available"),
    "odoo_unavailable": lambda: Unavailable("The operator's side (Odoo) is not answering; try again shortly.",
                                            code="odoo_unavailable", retry_after=5),
    "not_offered": lambda: Conflict("This Odoo offers no livechat session route the relay knows.", code="not_offered"),
}


class _Early:
    """``early`` for the store: an event handed to the hub before its commit, then settled."""

    __slots__ = ("hub", "received_at")

    def __init__(self, hub: Hub, received_at: float | None):
        self.hub, self.received_at = hub, received_at

    def seq(self, conversation_id: str, event: dict) -> None:
        self.hub.publish_early(conversation_id, event, self.received_at)

    def settled(self, conversation_id: str, durable: bool) -> None:
        self.hub.settle(conversation_id, durable)


class Relay:
    # False, the former way: live readers get an event once it is durable, its frames written after
    # the caller's answer; True: as soon as it has its seq where the store can (SQLite), and else
    # (Redis) right after the store answered, before the caller's answer
    publish_early = True

    def __init__(self, settings: Settings, store: Store, hub: Hub, upstream: Upstream, metrics: Metrics,
                 token_key: bytes):
        self.settings, self.store, self.hub, self.upstream, self.metrics = settings, store, hub, upstream, metrics
        self.token_key = token_key
        self.file_key = files.derive_key(token_key)   # the signatures of file URLs (files.py)
        upstream.notify = self._notify   # the upstream reports its own troubles as status events
        self.followers: Replies | None = None   # Odoo mode: follows operator replies on the bus or by polling
        self.bot: handoff.BotPhase | None = None   # with RELAY_BOT_URL: the bot before the operators
        self.handoffs: handoff.Handoff = None   # type: ignore[assignment]  # set by the app: unbound → a person
        self._bound: dict[tuple[str, int], str] = {}   # (database, Odoo session) → conversation (``bound``)
        self._configs: dict[tuple, tuple[float, dict]] = {}   # (channel, page, lang) → (fresh until, answer)
        self._page_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._history_at: dict[str, float] = {}   # conversation → when its history was last sent to Odoo

    async def _notify(self, conversation_id: str, event: dict) -> None:
        await self.append(conversation_id, event, source="relay")

    # ------------------------------------------------------------------ conversations

    async def returning(self, visitor: str | None) -> dict:
        """What a returning visitor's previous conversation leaves to the next one (``visitor``,
        tokens.py): the name they gave and the last operator who answered them there (or before).
        A forged, expired or purged reference leaves nothing; it is no error of the visitor's."""
        if not visitor:
            return {}
        try:
            previous = await self.store.get_conversation(tokens.verify_visitor(self.token_key, visitor))
        except tokens.TokenError as exc:
            log.info("visitor value not used", extra={"reason": exc.code})
            return {}
        if previous is None:
            return {}
        session = st.session_of(previous)
        operator = session.operator_id or session.previous_operator_id   # Odoo's pick, or the one before
        for event in await self.all_events(previous.id):   # the last person (not a bot) there
            who = (event.get("message") or {}).get("author") if event["type"] == "message" else \
                event.get("member") if event["type"] == "member_joined" else None
            if isinstance(who, dict) and who.get("kind") == "operator" and isinstance(who.get("partner_id"), int) \
                    and not isinstance(who.get("partner_id"), bool):
                operator = who["partner_id"]
        return {"visitor_name": previous.visitor_name, "previous_operator_id": operator}

    async def config(self, livechat_channel_id: int | None, page_url: str | None, lang: str | None = None) -> dict:
        """What the widget needs before a conversation (docs/protocol.md §6), from the operator
        side's own widget start, kept CONFIG_TTL per channel and page; the operator side down: the
        last answer known for that page (else for that channel), marked ``stale``, or 503."""
        key = (livechat_channel_id, page_url, lang)
        now = time.monotonic()
        kept = self._configs.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        try:
            answer = await self.upstream.config(livechat_channel_id, page_url, lang)
        except FileNotFound:
            raise NotFound("No such livechat channel.", code="unknown_channel") from None
        except NotOffered:
            raise Conflict("This Odoo offers no livechat init route the relay knows.", code="not_offered") from None
        except UpstreamDown:
            last = kept or next((v for k, v in reversed(self._configs.items()) if k[0] == livechat_channel_id), None)
            if last is None:
                raise Unavailable("The operator's side (Odoo) is not answering; try again shortly.",
                                  code="odoo_unavailable", retry_after=5) from None
            return {**last[1], "stale": True}
        self._configs.pop(key, None)
        self._configs[key] = (now + CONFIG_TTL, answer)
        while len(self._configs) > CONFIGS_KEPT:
            self._configs.pop(next(iter(self._configs)))
        return answer

    async def bound(self, database: str, channel_id: int) -> str | None:
        """The conversation bound to an Odoo session. A binding never changes once made (an Odoo
        session id is never reused), so it is remembered: the webhook's hot path looks once."""
        key = (database, channel_id)
        if (found := self._bound.get(key)) is None:
            found = await self.store.find_bound(database, channel_id)
            if found is not None:
                if len(self._bound) >= BOUND_CACHE:
                    self._bound.pop(next(iter(self._bound)))
                self._bound[key] = found
        return found

    def visitor_value(self, conv: Conversation) -> str:
        """What the browser hands back with its next conversation (``returning``)."""
        return tokens.issue_visitor(self.token_key, conv.id, self.settings.token_ttl)

    async def all_events(self, conversation_id: str) -> list[dict]:
        """Every stored event of one conversation, oldest first (the store answers by pages)."""
        out: list[dict] = []
        after = 0
        await self.hub.settled(conversation_id)   # what a reader was shown is in the store
        while True:
            replay = await self.store.events_after(conversation_id, after)
            out.extend(replay.events)
            if not replay.events or replay.events[-1]["seq"] >= replay.last_seq:
                return out
            after = replay.events[-1]["seq"]

    async def create(self, visitor_name: str, lang: str | None, livechat_channel_id: int | None,
                     page_url: str | None, visitor: str | None = None,
                     leave_message: str | None = None) -> tuple[Conversation, str, int]:
        """A new conversation: with the bot, or an Odoo session; with nobody online, 503, or, given
        ``leave_message`` (the visitor's contact), one that waits for an operator (handoff.py)."""
        now = time.time()
        before = await self.returning(visitor)
        conv = Conversation(id="c_" + secrets.token_urlsafe(16), created_at=now, last_activity=now,
                            visitor_name=visitor_name or before.get("visitor_name") or "", lang=lang,
                            page_url=page_url, livechat_channel_id=livechat_channel_id)
        # kept with the conversation: Odoo is asked for that operator when the session opens (now,
        # or at the bot's handoff), and it passes on to the visitor's next conversation
        kept = {"previous_operator_id": before["previous_operator_id"]} if before.get("previous_operator_id") else {}
        conv.upstream = dict(kept) or None
        choice = dc.create_choice(self.bot is not None)
        if choice.where == "bot":        # with the bot first; the operator-side session opens at handoff
            for effect in choice.effects:
                if isinstance(effect, dc.Patch):
                    st.apply(conv, effect.changes)
            await self.store.create_conversation(conv)
            for effect in choice.effects:
                if isinstance(effect, dc.Announce):
                    await self.append(conv.id, effect.event, source="relay")
            token, expires_at = tokens.issue(self.token_key, conv.id, self.settings.token_ttl)
            log.info("conversation created", extra={"conversation": conv.id, "with": "bot"})
            conv.last_seq = 1
            return conv, token, expires_at
        outcome: dc.Outcome
        try:
            database, channel_id = await self.upstream.open_session(conv)
            outcome = dc.Opened(database, channel_id, conv.upstream or {})
        except NoOperatorAvailable:
            outcome = dc.NoOperator()
        except UpstreamDown:
            outcome = dc.Down()
        except NotOffered:
            outcome = dc.Down(offered=False)
        choice = dc.create_choice(False, outcome, leave_message)
        for effect in choice.effects:
            if isinstance(effect, dc.Refuse):
                raise _REFUSED[effect.code]() from None
            if isinstance(effect, dc.LeaveMessage):
                await self.handoffs.leave_message(conv, effect.contact)
                token, expires_at = tokens.issue(self.token_key, conv.id, self.settings.token_ttl)
                conv.last_seq = 1
                return conv, token, expires_at
        assert isinstance(outcome, dc.Opened)   # neither refused nor left
        database, channel_id = outcome.database, outcome.channel_id
        conv.odoo_database, conv.odoo_channel_id = database, channel_id
        if kept:
            conv.upstream = {**kept, **(conv.upstream or {})}
        first = self.upstream.opening_events(conv)
        chatbot = st.session_of(conv).chatbot is not None and self.followers is not None
        if chatbot and self.followers is not None:
            # Odoo's chatbot script spoke in get_session, before any webhook could find this
            # conversation: read those messages once, unbound (so a webhook of the same cannot
            # overtake them), then bind; nothing new is posted before the visitor answers
            await self.store.create_conversation(dataclasses.replace(conv, odoo_database=None, odoo_channel_id=None))
            await self.append(conv.id, first[0], source="relay")
            await self.followers.catch_up(conv)
            await self.store.bind(conv.id, database, channel_id)
            for event in first[1:]:
                await self.append(conv.id, event, source="relay")
        else:
            await self.store.create_conversation(conv)
            for event in first:
                await self.append(conv.id, event, source="relay")
        token, expires_at = tokens.issue(self.token_key, conv.id, self.settings.token_ttl)
        self.follow(conv)
        log.info("conversation created", extra={"conversation": conv.id, "odoo_channel": channel_id})
        stored = await self.store.get_conversation(conv.id) if chatbot else None
        conv.last_seq = stored.last_seq if stored is not None else len(first)
        return conv, token, expires_at

    def follow(self, conv: Conversation) -> None:
        """Follow the operator side's replies of a conversation bound now (Odoo mode)."""
        if self.followers is not None:
            self.followers.follow(conv)

    async def authorize(self, conversation_id: str, token: str | None) -> Conversation:
        """The conversation ``token`` opens; Unauthorized (401) or NotFound (404) otherwise."""
        if not token:
            raise Unauthorized("A token is required: Authorization: Bearer <token>.", code="token_missing")
        try:
            tokens.verify(self.token_key, token, conversation_id)
        except tokens.TokenError as exc:
            raise Unauthorized(str(exc), code=exc.code) from None
        conv = await self.store.get_conversation(conversation_id)
        if conv is None:
            raise NotFound("This conversation does not exist (or was purged).", code="unknown_conversation")
        return conv

    # ------------------------------------------------------------------ events

    async def append(self, conversation_id: str, event: dict, *, source: str, dedupe_key: str | None = None,
                     webhook_id: str | None = None, received_at: float | None = None) -> Appended:
        if files.needs_relay_urls(event):   # every file and picture shown through the relay's own URL
            event = files.with_relay_urls(event, conversation_id, self.file_key, self.settings.token_ttl)
        result = await self.store.append(conversation_id, event, dedupe_key=dedupe_key, webhook_id=webhook_id,
                                         closes=event["type"] == "closed",
                                         early=_Early(self.hub, received_at) if self.publish_early else None)
        if result.created:
            assert result.event is not None   # created: the event as stored
            self.metrics.events_in.labels(source, event["type"]).inc()
            if not result.published:
                self.hub.publish(conversation_id, result.event, received_at)
                if self.publish_early:   # the frames go out now, not after what the caller does next
                    await asyncio.sleep(0)
        return result

    def cursor(self, conversation_id: str, after: int) -> Cursor:
        return Cursor(self.hub, self.store, conversation_id, after)

    # ------------------------------------------------------------------ visitor actions

    async def send(self, conv: Conversation, client_id: object, text: object,
                   attachment_ids: object = None) -> tuple[dict, bool]:
        """Store the visitor's message once per ``client_id``; return (event, created).
        ``attachment_ids``: files this conversation's visitor uploaded (``upload``)."""
        if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
            raise BadRequest("client_id: 1–64 characters of A–Z a–z 0–9 _ . : -", code="invalid_client_id")
        attachments = self._own_uploads(conv, attachment_ids)
        if text is None and attachments:
            text = ""
        if not isinstance(text, str) or not (text.strip() or attachments):
            raise BadRequest("text: a non-empty string is required", code="invalid_text")
        if len(text) > ev.MAX_TEXT:
            raise BadRequest(f"text: at most {ev.MAX_TEXT} characters", code="text_too_long")
        key = "client:" + client_id
        first = await self.store.find_event(conv.id, key)
        if first is not None:
            return self._same_send(first, text), False
        if conv.closed:
            raise Conflict("This conversation is closed.", code="conversation_closed")
        event = ev.visitor_message("relay:" + uuid.uuid4().hex, conv.visitor_name or "Visitor", text, client_id)
        event["message"]["attachments"] = attachments
        result = await self.append(conv.id, event, source="visitor", dedupe_key=key)
        assert result.event is not None   # no webhook id: the event, stored now or by a concurrent send
        if not result.created:   # a concurrent send with the same client_id won
            return self._same_send(result.event, text), False
        if conv.odoo_channel_id is not None:
            await self.upstream.visitor_message(conv, result.event)
        elif self.bot is not None:
            await self.bot.visitor_message(conv, result.event)
        else:   # a left message waiting for an operator, or a bot that is configured no more
            await self.handoffs.visitor_message(conv, result.event)
        return result.event, True

    @staticmethod
    def _own_uploads(conv: Conversation, attachment_ids: object) -> list[dict]:
        if attachment_ids is None:
            return []
        if not (isinstance(attachment_ids, list) and len(attachment_ids) <= MAX_FILES_PER_MESSAGE
                and all(isinstance(i, int) and not isinstance(i, bool) for i in attachment_ids)):
            raise BadRequest(f"attachment_ids: a list of at most {MAX_FILES_PER_MESSAGE} attachment ids",
                             code="invalid_attachments")
        uploads = st.visitor_of(conv).uploads
        out = []
        for aid in dict.fromkeys(attachment_ids):
            known = uploads.get(str(aid))
            if known is None:     # another conversation's file, or none at all
                raise BadRequest(f"attachment_ids: {aid} is not a file of this conversation",
                                 code="unknown_attachment")
            out.append({"id": aid, "name": known.name, "mimetype": known.mimetype, "size": known.size})
        return out

    async def upload(self, conv: Conversation, name: str, mimetype: str, chunks: AsyncIterator[bytes],
                     size_of: Callable[[], int]) -> dict:
        """Stream a visitor's file (already judged by its bytes) to the conversation's Odoo
        session; remember it as this conversation's own, for the message that will carry it."""
        if conv.closed:
            raise Conflict("This conversation is closed.", code="conversation_closed")
        if conv.odoo_channel_id is None:
            raise Conflict("Files can be sent once a person has the conversation.", code="not_with_operator")
        if len(st.visitor_of(conv).uploads) >= MAX_UPLOADS:
            raise Conflict(f"At most {MAX_UPLOADS} files per conversation.", code="too_many_files")
        try:
            attachment_id, token = await self.upstream.upload_file(conv, name, mimetype, chunks)
        except UpstreamDown:
            raise Unavailable("The file cannot be sent right now; try again shortly.", code="odoo_unavailable",
                              retry_after=5) from None
        except UploadRefused as exc:
            raise Conflict(str(exc), code=exc.code) from None
        size = size_of()
        # a merge patch adds this one upload beside the others (RFC 7396): no read, no lock
        await self.store.merge_upstream(conv.id, st.VisitorRecord.patch(
            upload=(attachment_id, st.Upload(token, name, mimetype, size))))
        log.info("visitor file uploaded", extra={"conversation": conv.id, "size": size, "mimetype": mimetype})
        return {"id": attachment_id, "name": name, "mimetype": mimetype, "size": size}

    async def seen(self, conv: Conversation, seq: object) -> None:
        """The visitor has seen the events up to ``seq``: Odoo marks the session read up to the
        last of its messages among them (once; an older mark changes nothing)."""
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq <= 2 ** 53:
            raise BadRequest("seq: a positive integer", code="invalid_seq")
        if seq > conv.last_seq:
            raise BadRequest("seq: beyond the conversation's last event", code="invalid_seq")
        if conv.odoo_channel_id is None or conv.closed:
            return
        newest, after = None, max(0, seq - 500)
        replay = await self.store.events_after(conv.id, after, 500)
        for event in replay.events:
            mid = str((event.get("message") or {}).get("id") or "")
            if event["seq"] <= seq and event["type"] == "message" and mid.startswith("odoo:") and mid[5:].isdigit():
                newest = int(mid[5:])
        marked = st.visitor_of(conv).seen_odoo_id
        if newest is None or newest <= marked:
            return
        try:
            await self.upstream.seen(conv, newest)
        except UpstreamDown:
            raise Unavailable("Odoo cannot be told right now; try again shortly.", code="odoo_unavailable",
                              retry_after=5) from None
        except NotOffered:
            raise Conflict("This Odoo offers no route to mark a conversation seen.", code="not_offered") from None
        await self.store.merge_upstream(conv.id, st.VisitorRecord.patch(seen_odoo_id=newest))

    async def rate(self, conv: Conversation, rating: object, comment: object) -> dict:
        """The visitor's rating (5, 3 or 1, and an optional comment), once a person has had the
        conversation, also after it closed; to Odoo as its own feedback panel does, and stored as a
        ``rating`` event. A new rating replaces the previous one."""
        if rating not in RATINGS or isinstance(rating, bool):
            raise BadRequest("rating: 5, 3 or 1", code="invalid_rating")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
            raise BadRequest(f"comment: at most {MAX_COMMENT} characters", code="invalid_comment")
        comment = (comment or "").strip() or None
        if conv.odoo_channel_id is None or not await self._had_operator(conv.id):
            raise Conflict("A conversation can be rated once a person has answered in it.", code="no_operator_yet")
        try:
            await self.upstream.rate(conv, rating, comment)
        except UpstreamDown:
            raise Unavailable("The rating cannot be sent right now; try again shortly.", code="odoo_unavailable",
                              retry_after=5) from None
        except RatingRefused:
            raise Conflict("Odoo takes no (further) rating for this conversation.", code="rating_closed") from None
        except NotOffered:
            raise Conflict("This Odoo offers no rating route to visitors.", code="not_offered") from None
        result = await self.append(conv.id, ev.new_event("rating", rating=rating, comment=comment), source="visitor")
        assert result.event is not None   # no webhook id: the event as stored
        log.info("conversation rated", extra={"conversation": conv.id, "rating": rating})
        return result.event

    async def email_transcript(self, conv: Conversation, email: object) -> None:
        """Odoo mails the transcript to ``email`` (its own template), where it offers that to
        visitors; at most MAX_TRANSCRIPT_MAILS per conversation."""
        if not isinstance(email, str) or len(email) > 254 or not EMAIL.match(email.strip()):
            raise BadRequest("email: an email address", code="invalid_email")
        if conv.odoo_channel_id is None:
            raise Conflict("The transcript can be mailed once a person has the conversation.", code="no_operator_yet")
        mailed = st.visitor_of(conv).mailed
        if mailed >= MAX_TRANSCRIPT_MAILS:
            raise TooManyRequests(f"At most {MAX_TRANSCRIPT_MAILS} transcripts are mailed per conversation.",
                          code="rate_limited", retry_after=3600)
        await self.store.merge_upstream(conv.id, st.VisitorRecord.patch(mailed=mailed + 1))   # counted before: no burst passes
        try:
            await self.upstream.email_transcript(conv, email.strip())
        except NotOffered:
            await self.store.merge_upstream(conv.id, st.VisitorRecord.patch(mailed=mailed))
            raise Conflict("Odoo does not mail transcripts to visitors on this version.", code="not_offered") from None
        except UpstreamDown:
            await self.store.merge_upstream(conv.id, st.VisitorRecord.patch(mailed=mailed))
            raise Unavailable("The transcript cannot be sent right now; try again shortly.", code="odoo_unavailable",
                              retry_after=5) from None
        log.info("transcript mailed", extra={"conversation": conv.id})

    @staticmethod
    def _page(entry: object) -> dict | None:
        """One page of the visitor's history, or None when it is to be dropped (not an http(s)
        URL, too long, a title too long); BadRequest when it is not even ``{url, title?}``."""
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str) \
                or not isinstance(entry.get("title", ""), (str, type(None))):
            raise BadRequest("pages: {url: string, title?: string}", code="invalid_body")
        url = entry["url"].strip()
        title = " ".join("".join(c for c in entry.get("title") or "" if c.isprintable() or c.isspace()).split())
        if len(url) > MAX_PAGE_URL or len(title) > MAX_PAGE_TITLE or any(c <= " " or c == "\x7f" for c in url):
            return None
        try:
            parts = urlsplit(url)
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                return None
        except ValueError:    # "https://[oops"
            return None
        return {"url": url, "title": title}

    async def pages(self, conv: Conversation, body: dict) -> int:
        """The visitor's page history (docs/protocol.md §6): ``{url, title}`` or ``{pages: [...]}``
        (what the widget kept before the conversation started), the last MAX_PAGES kept with the
        conversation, a page equal to the last one not again; what is no http(s) URL or too long is
        dropped. Returns how many pages were kept of those sent."""
        entries = body.get("pages") if "pages" in body else [body]
        if not isinstance(entries, list) or len(entries) > MAX_PAGES:
            raise BadRequest(f"pages: a list of at most {MAX_PAGES} {{url, title}}", code="invalid_body")
        pages = [p for p in (self._page(e) for e in entries) if p is not None]
        if conv.closed:
            raise Conflict("This conversation is closed.", code="conversation_closed")
        if not pages:
            return 0
        lock = self._page_locks.get(conv.id)
        if lock is None:
            lock = self._page_locks[conv.id] = asyncio.Lock()
        async with lock:   # read, add, write: two pages at once lose neither (on this node)
            fresh = await self.store.get_conversation(conv.id) or conv
            kept = list(st.visitor_of(fresh).pages)
            for page in pages:
                if kept and kept[-1].get("url") == page["url"]:
                    kept[-1] = page
                else:
                    kept.append(page)
            await self.store.merge_upstream(conv.id, st.VisitorRecord.patch(pages=kept[-MAX_PAGES:]))
        return len(pages)

    async def history_requested(self, conversation_id: str, partner_id: int | None = None) -> bool:
        """An operator asked Odoo for the visitor's page history (Odoo's ``/history`` command): the
        relay answers as Odoo's own widget does, with the pages kept here. ``partner_id``: the
        operator who asked, where Odoo says (19, the addon's webhook). The same request seen on two
        paths within HISTORY_AGAIN seconds is answered once. Best effort: False when not sent."""
        now = time.monotonic()
        if now - self._history_at.get(conversation_id, -HISTORY_AGAIN) < HISTORY_AGAIN:
            return False
        self._history_at[conversation_id] = now
        while len(self._history_at) > BOUND_CACHE:
            self._history_at.pop(next(iter(self._history_at)))
        conv = await self.store.get_conversation(conversation_id)
        if conv is None or conv.odoo_channel_id is None:
            return False
        urls = [p["url"] for p in st.visitor_of(conv).pages if p.get("url")]
        try:
            await self.upstream.page_history(conv, urls, partner_id)
        except UpstreamDown as exc:
            log.warning("page history not sent", extra={"conversation": conv.id, "reason": str(exc)[:200]})
            return False
        log.info("page history sent", extra={"conversation": conv.id, "pages": len(urls)})
        return True

    async def _had_operator(self, conversation_id: str) -> bool:
        """Whether a person (not a bot) joined or wrote in the conversation."""
        await self.hub.settled(conversation_id)   # the visitor may have seen it before its commit
        after = 0
        for _ in range(20):
            replay = await self.store.events_after(conversation_id, after, 500)
            for event in replay.events:
                person = (event.get("message") or {}).get("author") or event.get("member") or {}
                if event["type"] in ("message", "member_joined") and person.get("kind") == "operator":
                    return True
                if event["type"] == "status" and event.get("status") == "operator_joined":
                    return True
            if len(replay.events) < 500:
                return False
            after = replay.events[-1]["seq"]
        return False

    async def handoff(self, conv: Conversation) -> str:
        """The visitor asks for a person ("Talk to a person"); where the conversation is now."""
        if conv.closed:
            raise Conflict("This conversation is closed.", code="conversation_closed")
        if conv.odoo_channel_id is not None:
            return "operator"
        return await self.handoffs.handoff(conv.id, "visitor")

    @staticmethod
    def _same_send(first: dict, text: str) -> dict:
        if first["message"]["text"] != text:
            raise Conflict("This client_id was already used for another text.", code="client_id_conflict")
        return first

    async def typing(self, conv: Conversation, typing: object) -> None:
        if not isinstance(typing, bool):
            raise BadRequest("typing: true or false", code="invalid_typing")
        if not conv.closed and conv.odoo_channel_id is not None:   # nobody to tell while with the bot
            await self.upstream.visitor_typing(conv, typing)

    async def close(self, conv: Conversation) -> None:
        if conv.closed:
            return
        await self.append(conv.id, ev.new_event("closed", by="visitor"), source="visitor", dedupe_key="closed")
        if conv.odoo_channel_id is not None:
            await self.upstream.visitor_left(conv)
        if self.followers is not None:
            self.followers.unfollow(conv.id)
        log.info("conversation closed by visitor", extra={"conversation": conv.id})

    # ------------------------------------------------------------------ webhooks

    async def ingest(self, hook: ev.Webhook, webhook_id: str, received_at: float) -> str:
        """Store a verified webhook's event; return what happened (for metrics and the answer)."""
        if hook.database is None or hook.channel_id is None:   # webhook.test: about no session
            return "test"
        if hook.type == "livechat.history_requested":
            conversation_id = await self.bound(hook.database, hook.channel_id)
            if conversation_id is None:
                return "unbound"
            await self.history_requested(conversation_id, (hook.data.get("operator") or {}).get("partner_id"))
            return "history"
        if hook.event is None:
            return "test"
        if hook.event["type"] == "message" and hook.event["message"]["author"]["kind"] == "visitor" \
                and self.upstream.name == "odoo":
            return "own"   # the visitor's messages reach Odoo through this relay: already stored here
        if hook.event["type"] == "typing":
            conversation_id = await self.bound(hook.database, hook.channel_id)
            if conversation_id is None:
                return "unbound"
            if not ev.typing_is_stale(hook.timestamp):
                self.hub.publish(conversation_id, hook.event, received_at)
            return "typing"
        event = hook.event
        if files.needs_relay_urls(event):
            # files and pictures get this conversation's relay URLs (files.py)
            conversation_id = await self.bound(hook.database, hook.channel_id)
            if conversation_id is None:
                return "unbound"
            event = files.with_relay_urls(event, conversation_id, self.file_key, self.settings.token_ttl)
        dedupe = hook.dedupe_key or ("closed" if event["type"] == "closed" else None)
        conversation_id, result = await self.store.append_bound(
            hook.database, hook.channel_id, event, dedupe_key=dedupe, webhook_id=webhook_id,
            closes=event["type"] == "closed", early=_Early(self.hub, received_at) if self.publish_early else None)
        if conversation_id is None:
            return "unbound"
        if result.created:
            assert result.event is not None   # created: the event as stored
            self.metrics.events_in.labels("webhook", event["type"]).inc()
            if not result.published:
                self.hub.publish(conversation_id, result.event, received_at)
                if self.publish_early:   # the frames go out before the 2xx is written
                    await asyncio.sleep(0)
        return "stored" if result.created else "duplicate"
