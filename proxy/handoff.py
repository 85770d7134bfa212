"""The way to a person: the bot phase, leaving a message while nobody is online, and the handoff.

A conversation that no person has yet is not bound to an Odoo session. It is in one of these
phases, kept with the conversation (``upstream.pending`` — ``upstream.bot`` in conversations stored
before 1.1, still read):

- **with the bot** (``RELAY_BOT_URL``): each visitor message is stored first (the core does that),
  then sent to the bot, one at a time per conversation, in order (``BotPhase``); the bot's answer
  is stored with the dedupe key ``bot:<visitor seq>``, so a retry (after a restart) never shows it
  twice. What was answered is kept (``upstream.bot.answered_seq``), so a restarted relay sends the
  bot whatever it had not answered.
- **handing off** (``pending.handoff``: what asked for it): opening the operator-side session.
- **leaving a message** (``pending.waiting``): nobody was online. The visitor's messages are stored
  and acknowledged as usual; the relay opens the session as soon as an operator is available
  (``Handoff`` looks every ``retry_every`` seconds at the channel's availability, and on each new
  visitor message), then Odoo gets what was left, in order, and the conversation goes on as any
  other. Reached two ways, one code path: ``POST /v1/conversations`` with ``leave_message`` while
  nobody is online (no bot: with a way to reach the visitor, ``pending.contact``), or a bot's
  handoff that finds nobody with ``RELAY_BOT_NO_OPERATOR=message``.

Handoff — asked by the bot, by the visitor ("Talk to a person", ``POST …/handoff``), because the
bot failed (timeout, error, garbage), or because an operator became available for a left message —
opens the operator-side session, binds the conversation to it and gives the upstream what came
before, as one message: the bot part (the operator sees who said what), or what the visitor left,
headed by their contact.
One node at a time does it (a lease per conversation, in-process on one node).
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from proxy import bot as botlib
from proxy import events as ev
from proxy import sanitize
from proxy.upstream.base import NoOperatorAvailable, NotOffered, UpstreamDown

if TYPE_CHECKING:
    from proxy.cluster.base import Leases
    from proxy.conversations import Relay
    from proxy.store.base import Conversation

log = logging.getLogger("relay.bot")

WHY = {
    "visitor": "Connecting you to a person…",
    "bot": "Connecting you to a person…",
    "bot_failed": "Our assistant cannot answer right now. Connecting you to a person…",
}
WELCOME = "You are chatting with our virtual assistant. You can ask for a person at any time."
NO_OPERATOR = "No one is available right now; the assistant is still here to help. You can ask for a person again later."
LEAVE_MESSAGE = ("No one is available right now. Leave your message here (with how to reach you): "
                 "the first person available will read it.")
LEFT_MESSAGE = ("No one is available right now. Your messages are kept: the first person available will "
                "read them here and can reach you at {contact}.")


def phase(conv: Conversation | None) -> dict:
    """The conversation's pre-operator state: ``handoff`` (cause), ``waiting`` (a left message),
    ``handed_off`` (cause), ``contact``; conversations stored before 1.1 kept it under ``bot``."""
    up = (conv.upstream or {}) if conv is not None else {}
    old = up.get("bot") or {}
    return {**{k: old[k] for k in ("handoff", "waiting", "handed_off") if k in old}, **(up.get("pending") or {})}


def bot_message(visitor_event: dict, answer: botlib.BotAnswer) -> dict:
    return ev.new_event("message", message={
        "id": f"bot:{visitor_event['seq']}", "author": {"kind": "bot", "name": answer.name},
        "text": answer.reply, "html": answer.html or sanitize.text_to_html(answer.reply or ""),
        "attachments": [], "client_id": None})


def left_message_heading(contact: str) -> str:
    """The first line the operator reads of a message left while nobody was online."""
    return f"Left while no one was online (contact: {contact}):"


class Handoff:
    """Unbound conversations to a person: the handoff, the no-operator rule, left messages."""

    def __init__(self, relay: Relay, leases: Leases, no_operator: str = "stay", retry_every: float = 10.0):
        self.relay, self.leases, self.no_operator, self.retry_every = relay, leases, no_operator, retry_every
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()
        self._retry: asyncio.Task | None = None

    @property
    def store(self):
        return self.relay.store

    def lock(self, conversation_id: str) -> asyncio.Lock:
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    def spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """After a restart: finish interrupted handoffs; look for operators for left messages."""
        for conv in await self.store.open_unbound():
            if phase(conv).get("handoff"):
                self.spawn(self.handoff(conv.id, phase(conv)["handoff"], quiet=True))
        self._retry = asyncio.create_task(self._retry_loop(), name="handoff-retry")

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._retry] if self._retry else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _retry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.retry_every)
            try:
                await self.retry_once()
            except Exception as exc:   # never let the loop die; the next round tries again
                log.warning("handoff retry failed", extra={"reason": repr(exc)[:200]})

    async def retry_once(self) -> None:
        """Hand off what waits: a handoff Odoo did not answer, and left messages whose channel has
        an operator available now (asked once per channel; nobody asked for a session before)."""
        available: dict[int | None, bool] = {}
        for conv in await self.store.open_unbound():
            state = phase(conv)
            if state.get("waiting"):
                channel = conv.livechat_channel_id
                if channel not in available:
                    available[channel] = await self._available(conv)
                if not available[channel]:
                    continue
            elif not state.get("handoff"):
                continue
            where = await self.handoff(conv.id, state.get("handoff") or "visitor", quiet=True)
            if where == "message":        # taken by someone else meanwhile: ask again next round
                available[conv.livechat_channel_id] = False

    async def _available(self, conv: Conversation) -> bool:
        try:
            answer = await self.relay.upstream.config(conv.livechat_channel_id, conv.page_url, conv.lang)
        except Exception as exc:   # Odoo down or the channel gone: not now
            log.info("availability unknown", extra={"conversation": conv.id, "reason": repr(exc)[:200]})
            return False
        return answer.get("available") is not False

    # ------------------------------------------------------------------ entry points

    async def leave_message(self, conv: Conversation, contact: str) -> None:
        """A new conversation with nobody online (no bot): it waits with the visitor's messages."""
        conv.upstream = {**(conv.upstream or {}), "pending": {"waiting": True, "contact": contact}}
        await self.store.create_conversation(conv)
        await self.relay.append(conv.id, ev.new_event("status", status="leave_message", contact=contact,
                                                      text=LEFT_MESSAGE.format(contact=contact)), source="relay")
        log.info("conversation created", extra={"conversation": conv.id, "with": "left message"})

    async def visitor_message(self, conv: Conversation, event: dict, to_bot=None) -> None:
        """A stored visitor message of an unbound conversation (or one bound meanwhile): to the
        upstream when a person has it; waiting for one: try now; else to the bot (``to_bot``),
        or, with no bot, to a person straight away."""
        async with self.lock(conv.id):
            fresh = await self.store.get_conversation(conv.id)
            if fresh is None:
                return
            if fresh.odoo_channel_id is not None:   # bound meanwhile: unless the handoff's transcript has it
                up = fresh.upstream or {}
                if event["seq"] > max(int((up.get("transcript") or {}).get("seq", 0)), int(up.get("posted_seq", 0))):
                    await self.relay.upstream.visitor_message(fresh, event)
                return
            state = phase(fresh)
        if state.get("waiting"):
            self.spawn(self.handoff(conv.id, "visitor", quiet=True))
        elif to_bot is not None:
            to_bot(conv.id, event)
        elif not state.get("handoff"):   # left with a bot that is configured no more: to a person, with it all
            await self.handoff(conv.id, "bot_failed")

    # ------------------------------------------------------------------ handoff

    async def handoff(self, conversation_id: str, cause: str, reason: str | None = None, quiet: bool = False) -> str:
        """Give the conversation to a person. Returns where it is now: ``operator``, ``bot``
        (no operator, the bot goes on), ``message`` (no operator, waiting with the visitor's
        message), ``retrying`` (the operator side is down, or another node is at it) or ``closed``."""
        lease = "handoff:" + conversation_id
        async with self.lock(conversation_id):    # one at a time in this process, one node by the lease
            try:
                held = await self.leases.acquire(lease)
            except Exception as exc:   # the cluster is unreachable: the retry loop tries again
                log.warning("handoff lease unavailable", extra={"conversation": conversation_id,
                                                                "reason": repr(exc)[:200]})
                held = False
            if not held:
                return "retrying"
            try:
                return await self._handoff(conversation_id, cause, reason, quiet)
            finally:
                try:
                    await self.leases.release(lease)
                except Exception:   # it expires on its own
                    pass

    async def _handoff(self, conversation_id: str, cause: str, reason: str | None, quiet: bool) -> str:
        conv = await self.store.get_conversation(conversation_id)
        if conv is None or conv.closed:
            return "closed"
        if conv.odoo_channel_id is not None:
            return "operator"
        state = phase(conv)
        if not state.get("waiting") and (not quiet or not state.get("handoff")):
            await self.relay.append(conv.id, ev.status("handoff", WHY.get(cause, WHY["visitor"])), source="relay")
        await self.store.merge_upstream(conv.id, {"pending": {"handoff": cause}})
        log.info("handoff", extra={"conversation": conv.id, "cause": cause, "reason": reason})
        try:
            database, channel_id = await self.relay.upstream.open_session(conv)
        except NoOperatorAvailable:
            return await self._no_operator(conv, bool(state.get("waiting")))
        except (UpstreamDown, NotOffered):      # NotOffered: this Odoo has no session route (yet)
            if not quiet:
                await self.relay.append(conv.id, ev.status(
                    "upstream_unavailable", "The operator's side is not answering; trying again shortly."),
                    source="relay")
            return "retrying"
        replay = await self.relay.all_events(conv.id)
        contact = state.get("contact")
        if contact and "bot" not in (conv.upstream or {}):     # a message left while nobody was online
            heading = left_message_heading(contact)
            text: str | None = botlib.transcript(replay, heading) or heading
        else:                                                  # the bot part (None: the bot said nothing)
            text = botlib.transcript(replay)
        seq = max((e["seq"] for e in replay), default=0)
        operator = (conv.upstream or {}).pop("operator_name", None) if conv.upstream else None
        conv.odoo_database, conv.odoo_channel_id = database, channel_id
        done = {"pending": {"handoff": None, "waiting": None, "handed_off": cause}}
        if "bot" in (conv.upstream or {}):   # as stored before 1.1
            done["bot"] = {"handoff": None, "waiting": None, "handed_off": None}
        await self.store.merge_upstream(conv.id, {**(conv.upstream or {}), **done})
        await self.store.bind(conv.id, database, channel_id)
        await self.relay.upstream.handoff(conv, text, seq)
        if operator:
            await self.relay.append(conv.id, ev.new_event("status", status="operator_joined", name=operator,
                                                          text=f"{operator} joined the conversation."), source="relay")
        else:
            await self.relay.append(conv.id, ev.status("waiting_operator", "Waiting for an operator…"), source="relay")
        if self.relay.followers is not None:
            self.relay.followers.follow(conv)
        log.info("handed off", extra={"conversation": conv.id, "odoo_channel": channel_id, "cause": cause})
        return "operator"

    async def _no_operator(self, conv: Conversation, already_waiting: bool) -> str:
        if already_waiting or self.no_operator == "message":
            await self.store.merge_upstream(conv.id, {"pending": {"handoff": None, "waiting": True}})
            if not already_waiting:
                await self.relay.append(conv.id, ev.status("leave_message", LEAVE_MESSAGE), source="relay")
            return "message"
        await self.store.merge_upstream(conv.id, {"pending": {"handoff": None}})
        await self.relay.append(conv.id, ev.status("no_operator", NO_OPERATOR), source="relay")
        return "bot"


class BotPhase:
    """The bot before the operators: its answers, one visitor message at a time, in order."""

    def __init__(self, relay: Relay, client: botlib.BotClient, handoffs: Handoff):
        self.relay, self.client, self.handoffs = relay, client, handoffs
        self._queues: dict[str, asyncio.Queue] = {}
        self._workers: dict[str, asyncio.Task] = {}

    @property
    def store(self):
        return self.relay.store

    async def start(self) -> None:
        """After a restart: send the bot what it had not answered."""
        for conv in await self.store.open_unbound():
            state = phase(conv)
            if state.get("handoff") or state.get("waiting") or "bot" not in (conv.upstream or {}):
                continue
            done = int((conv.upstream or {})["bot"].get("answered_seq", 0))
            replay = await self.store.events_after(conv.id, done)
            for event in replay.events:
                if event["type"] == "message" and event["message"]["author"]["kind"] == "visitor":
                    self.enqueue(conv.id, event)

    async def stop(self) -> None:
        tasks = list(self._workers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def visitor_message(self, conv: Conversation, event: dict) -> None:
        await self.handoffs.visitor_message(conv, event, to_bot=self.enqueue)

    def enqueue(self, conversation_id: str, event: dict) -> None:
        queue = self._queues.setdefault(conversation_id, asyncio.Queue())
        queue.put_nowait(event)
        if conversation_id not in self._workers or self._workers[conversation_id].done():
            self._workers[conversation_id] = asyncio.create_task(self._drain(conversation_id))

    async def _drain(self, conversation_id: str) -> None:
        queue = self._queues[conversation_id]
        try:
            while not queue.empty():
                event = queue.get_nowait()
                try:
                    await self._answer(conversation_id, event)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:   # the store failing, say: hand off rather than strand the visitor
                    log.warning("bot turn failed", extra={"conversation": conversation_id, "reason": repr(exc)})
                    await self.handoffs.handoff(conversation_id, "bot_failed")
        finally:
            self._queues.pop(conversation_id, None)
            if self._workers.get(conversation_id) is asyncio.current_task():
                del self._workers[conversation_id]

    @staticmethod
    def _still_with_bot(conv: Conversation | None) -> bool:
        if conv is None or conv.closed or conv.odoo_channel_id is not None:
            return False
        state = phase(conv)
        return not state.get("waiting") and not state.get("handoff")

    async def _answer(self, conversation_id: str, event: dict) -> None:
        conv = await self.store.get_conversation(conversation_id)
        if not self._still_with_bot(conv):
            return
        state = (conv.upstream or {}).get("bot") or {}
        if event["seq"] <= int(state.get("answered_seq", 0)) \
                or await self.store.find_event(conversation_id, f"bot:{event['seq']}") is not None:
            return                                  # answered before a restart
        replay = await self.store.events_after(conversation_id, max(0, event["seq"] - 200))
        try:
            answer = await self.client.ask(conv, event, botlib.history_of(replay.events, event["seq"]))
        except botlib.BotFailed as exc:
            log.warning("bot failed", extra={"conversation": conversation_id, "reason": exc.reason})
            await self.handoffs.handoff(conversation_id, "bot_failed", reason=exc.reason)
            return
        async with self.handoffs.lock(conversation_id):
            if not self._still_with_bot(await self.store.get_conversation(conversation_id)):
                return                              # a person has it now: a late answer is dropped
            if answer.reply:
                await self.relay.append(conversation_id, bot_message(event, answer), source="bot",
                                        dedupe_key=f"bot:{event['seq']}")
            await self.store.merge_upstream(conversation_id, {"bot": {"answered_seq": event["seq"]}})
        if answer.handoff:
            await self.handoffs.handoff(conversation_id, "bot", reason=answer.reason)
