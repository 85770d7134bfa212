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

from proxy import events as ev
from proxy import handoff, tokens
from proxy.config import Settings
from proxy.errors import BadRequest, Conflict, NotFound, Unauthorized, Unavailable
from proxy.hub import Cursor, Hub
from proxy.metrics import Metrics
from proxy.store.base import Appended, Conversation, Store
from proxy.upstream.base import NoOperatorAvailable, Upstream, UpstreamDown

log = logging.getLogger("relay.core")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


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
        upstream.notify = self._notify   # the upstream reports its own troubles as status events
        self.followers = None            # Odoo mode: follows operator replies on the bus or by polling
        self.bot = None                  # with RELAY_BOT_URL: handoff.BotPhase, the bot before the operators

    async def _notify(self, conversation_id: str, event: dict) -> None:
        await self.append(conversation_id, event, source="relay")

    # ------------------------------------------------------------------ conversations

    async def create(self, visitor_name: str, lang: str | None, livechat_channel_id: int | None,
                     page_url: str | None) -> tuple[Conversation, str, int]:
        now = time.time()
        conv = Conversation(id="c_" + secrets.token_urlsafe(16), created_at=now, last_activity=now,
                            visitor_name=visitor_name, lang=lang, page_url=page_url,
                            livechat_channel_id=livechat_channel_id)
        if self.bot is not None:         # with the bot first; the operator-side session opens at handoff
            conv.upstream = {"bot": {"answered_seq": 0}}
            await self.store.create_conversation(conv)
            await self.append(conv.id, ev.status("bot", handoff.WELCOME), source="relay")
            token, expires_at = tokens.issue(self.token_key, conv.id, self.settings.token_ttl)
            log.info("conversation created", extra={"conversation": conv.id, "with": "bot"})
            conv.last_seq = 1
            return conv, token, expires_at
        try:
            database, channel_id = await self.upstream.open_session(conv)
        except NoOperatorAvailable:
            raise Unavailable("No operator is available right now.", code="no_operator_available") from None
        except UpstreamDown:
            raise Unavailable("The operator's side (Odoo) is not answering; try again shortly.",
                              code="odoo_unavailable", retry_after=5) from None
        conv.odoo_database, conv.odoo_channel_id = database, channel_id
        opening = getattr(self.upstream, "opening_events", None)
        first = opening(conv) if opening else [ev.status("waiting_operator", "Waiting for an operator…")]
        chatbot = bool((conv.upstream or {}).get("chatbot")) and self.followers is not None
        if chatbot:
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
        if self.followers is not None:
            self.followers.follow(conv)
        log.info("conversation created", extra={"conversation": conv.id, "odoo_channel": channel_id})
        conv.last_seq = (await self.store.get_conversation(conv.id)).last_seq if chatbot else len(first)
        return conv, token, expires_at

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
        result = await self.store.append(conversation_id, event, dedupe_key=dedupe_key, webhook_id=webhook_id,
                                         closes=event["type"] == "closed",
                                         early=_Early(self.hub, received_at) if self.publish_early else None)
        if result.created:
            self.metrics.events_in.labels(source, event["type"]).inc()
            if not result.published:
                self.hub.publish(conversation_id, result.event, received_at)
                if self.publish_early:   # the frames go out now, not after what the caller does next
                    await asyncio.sleep(0)
        return result

    def cursor(self, conversation_id: str, after: int) -> Cursor:
        return Cursor(self.hub, self.store, conversation_id, after)

    # ------------------------------------------------------------------ visitor actions

    async def send(self, conv: Conversation, client_id: object, text: object) -> tuple[dict, bool]:
        """Store the visitor's message once per ``client_id``; return (event, created)."""
        if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
            raise BadRequest("client_id: 1–64 characters of A–Z a–z 0–9 _ . : -", code="invalid_client_id")
        if not isinstance(text, str) or not text.strip():
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
        result = await self.append(conv.id, event, source="visitor", dedupe_key=key)
        if not result.created:   # a concurrent send with the same client_id won
            return self._same_send(result.event, text), False
        if self.bot is not None:
            await self.bot.visitor_message(conv, result.event)
        elif conv.odoo_channel_id is None:   # left with a bot that is configured no more: to a person, with it all
            await handoff.BotPhase(self, None).handoff(conv.id, "bot_failed")
        else:
            await self.upstream.visitor_message(conv, result.event)
        return result.event, True

    async def handoff(self, conv: Conversation) -> str:
        """The visitor asks for a person ("Talk to a person"); where the conversation is now."""
        if conv.closed:
            raise Conflict("This conversation is closed.", code="conversation_closed")
        if conv.odoo_channel_id is not None:
            return "operator"
        return await (self.bot or handoff.BotPhase(self, None)).handoff(conv.id, "visitor")

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
        if hook.event is None:
            return "test"
        if hook.event["type"] == "message" and hook.event["message"]["author"]["kind"] == "visitor" \
                and self.upstream.name == "odoo":
            return "own"   # the visitor's messages reach Odoo through this relay: already stored here
        if hook.event["type"] == "typing":
            conversation_id = await self.store.find_bound(hook.database, hook.channel_id)
            if conversation_id is None:
                return "unbound"
            if not ev.typing_is_stale(hook.timestamp):
                self.hub.publish(conversation_id, hook.event, received_at)
            return "typing"
        event = hook.event
        dedupe = hook.dedupe_key or ("closed" if event["type"] == "closed" else None)
        conversation_id, result = await self.store.append_bound(
            hook.database, hook.channel_id, event, dedupe_key=dedupe, webhook_id=webhook_id,
            closes=event["type"] == "closed", early=_Early(self.hub, received_at) if self.publish_early else None)
        if conversation_id is None:
            return "unbound"
        if result.created:
            self.metrics.events_in.labels("webhook", event["type"]).inc()
            if not result.published:
                self.hub.publish(conversation_id, result.event, received_at)
                if self.publish_early:   # the frames go out before the 2xx is written
                    await asyncio.sleep(0)
        return "stored" if result.created else "duplicate"
