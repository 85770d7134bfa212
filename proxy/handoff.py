"""The bot phase and the handoff to a person (``RELAY_BOT_URL``).

With a bot, a new conversation is not bound to an Odoo session: it is "with the bot". Each visitor
message is stored first (the core does that), then sent to the bot, one at a time per
conversation, in order; the bot's answer is stored with the dedupe key ``bot:<visitor seq>``, so a
retry (after a restart) never shows it twice. What was answered is kept with the conversation
(``upstream.bot.answered_seq``), so a restarted relay sends the bot whatever it had not answered.

Handoff — asked by the bot, by the visitor ("Talk to a person", ``POST …/handoff``), or because
the bot failed (timeout, error, garbage) — opens the operator-side session, binds the conversation
to it and gives the upstream the transcript of the bot part, so the operator sees who said what;
from then on the conversation is a normal one. No operator available: the bot goes on
(``RELAY_BOT_NO_OPERATOR=stay``) or the visitor is asked to leave a message
(``message``), which reaches the first operator who becomes available (retried every
``retry_every`` seconds and on each new visitor message) with the rest of the transcript.
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


def bot_message(visitor_event: dict, answer: botlib.BotAnswer) -> dict:
    return ev.new_event("message", message={
        "id": f"bot:{visitor_event['seq']}", "author": {"kind": "bot", "name": answer.name},
        "text": answer.reply, "html": answer.html or sanitize.text_to_html(answer.reply or ""),
        "attachments": [], "client_id": None})


class BotPhase:
    def __init__(self, relay: "Relay", client: botlib.BotClient, no_operator: str = "stay",
                 retry_every: float = 30.0):
        self.relay, self.client, self.no_operator, self.retry_every = relay, client, no_operator, retry_every
        self._locks: dict[str, asyncio.Lock] = {}
        self._queues: dict[str, asyncio.Queue] = {}
        self._workers: dict[str, asyncio.Task] = {}
        self._tasks: set[asyncio.Task] = set()
        self._retry: asyncio.Task | None = None

    @property
    def store(self):
        return self.relay.store

    def lock(self, conversation_id: str) -> asyncio.Lock:
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """After a restart: finish interrupted handoffs, send the bot what it had not answered."""
        for conv in await self.store.open_unbound():
            state = (conv.upstream or {}).get("bot") or {}
            if state.get("handoff"):
                self._spawn(self.handoff(conv.id, state["handoff"], quiet=True))
            elif not state.get("waiting"):
                done = int(state.get("answered_seq", 0))
                replay = await self.store.events_after(conv.id, done)
                for event in replay.events:
                    if event["type"] == "message" and event["message"]["author"]["kind"] == "visitor":
                        self._enqueue(conv.id, event)
        self._retry = asyncio.create_task(self._retry_loop())

    async def stop(self) -> None:
        tasks = [*self._workers.values(), *self._tasks, *([self._retry] if self._retry else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _retry_loop(self) -> None:
        """Handoffs waiting for an operator (``message``) or for Odoo to answer are tried again."""
        while True:
            await asyncio.sleep(self.retry_every)
            try:
                for conv in await self.store.open_unbound():
                    state = (conv.upstream or {}).get("bot") or {}
                    if state.get("waiting") or state.get("handoff"):
                        await self.handoff(conv.id, state.get("handoff") or "visitor", quiet=True)
            except Exception as exc:   # never let the loop die; the next round tries again
                log.warning("handoff retry failed", extra={"reason": repr(exc)})

    # ------------------------------------------------------------------ visitor messages

    async def visitor_message(self, conv: "Conversation", event: dict) -> None:
        """A stored visitor message: to the upstream when a person has the conversation, else to the bot."""
        async with self.lock(conv.id):
            fresh = await self.store.get_conversation(conv.id)
            if fresh is None:
                return
            if fresh.odoo_channel_id is not None:
                await self.relay.upstream.visitor_message(fresh, event)
                return
            waiting = ((fresh.upstream or {}).get("bot") or {}).get("waiting")
        if waiting:                   # left for the next operator: try to reach one now
            self._spawn(self.handoff(conv.id, "visitor", quiet=True))
        else:
            self._enqueue(conv.id, event)

    def _enqueue(self, conversation_id: str, event: dict) -> None:
        queue = self._queues.setdefault(conversation_id, asyncio.Queue())
        queue.put_nowait(event)
        if conversation_id not in self._workers or self._workers[conversation_id].done():
            self._workers[conversation_id] = asyncio.create_task(self._drain(conversation_id))

    async def _drain(self, conversation_id: str) -> None:
        queue = self._queues[conversation_id]
        while not queue.empty():
            event = queue.get_nowait()
            try:
                await self._answer(conversation_id, event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:   # the store failing, say: hand off rather than strand the visitor
                log.warning("bot turn failed", extra={"conversation": conversation_id, "reason": repr(exc)})
                await self.handoff(conversation_id, "bot_failed")
        self._queues.pop(conversation_id, None)

    def _still_with_bot(self, conv: "Conversation | None") -> bool:
        if conv is None or conv.closed or conv.odoo_channel_id is not None:
            return False
        state = (conv.upstream or {}).get("bot") or {}
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
            await self.handoff(conversation_id, "bot_failed", reason=exc.reason)
            return
        async with self.lock(conversation_id):
            if not self._still_with_bot(await self.store.get_conversation(conversation_id)):
                return                              # a person has it now: a late answer is dropped
            if answer.reply:
                await self.relay.append(conversation_id, bot_message(event, answer), source="bot",
                                        dedupe_key=f"bot:{event['seq']}")
            await self.store.merge_upstream(conversation_id, {"bot": {"answered_seq": event["seq"]}})
        if answer.handoff:
            await self.handoff(conversation_id, "bot", reason=answer.reason)

    # ------------------------------------------------------------------ handoff

    async def handoff(self, conversation_id: str, cause: str, reason: str | None = None, quiet: bool = False) -> str:
        """Give the conversation to a person. Returns where it is now: ``operator``, ``bot``
        (no operator, the bot goes on), ``message`` (no operator, waiting with the visitor's
        message), ``retrying`` (the operator side is down) or ``closed``."""
        async with self.lock(conversation_id):
            conv = await self.store.get_conversation(conversation_id)
            if conv is None or conv.closed:
                return "closed"
            if conv.odoo_channel_id is not None:
                return "operator"
            state = (conv.upstream or {}).get("bot") or {}
            if not quiet or not (state.get("waiting") or state.get("handoff")):
                await self.relay.append(conv.id, ev.status("handoff", WHY.get(cause, WHY["visitor"])), source="relay")
            await self.store.merge_upstream(conv.id, {"bot": {"handoff": cause}})
            log.info("handoff", extra={"conversation": conv.id, "cause": cause, "reason": reason})
            try:
                database, channel_id = await self.relay.upstream.open_session(conv)
            except NoOperatorAvailable:
                return await self._no_operator(conv, quiet and bool(state.get("waiting")))
            except (UpstreamDown, NotOffered):      # NotOffered: this Odoo has no session route (yet)
                if not quiet:
                    await self.relay.append(conv.id, ev.status(
                        "upstream_unavailable", "The operator's side is not answering; trying again shortly."),
                        source="relay")
                return "retrying"
            replay = await self.relay.all_events(conv.id)
            text = botlib.transcript(replay)
            last_seq = max((e["seq"] for e in replay), default=0)
            operator = (conv.upstream or {}).pop("operator_name", None) if conv.upstream else None
            conv.odoo_database, conv.odoo_channel_id = database, channel_id
            await self.store.merge_upstream(conv.id, {**(conv.upstream or {}),
                                                      "bot": {"handoff": None, "waiting": None, "handed_off": cause}})
            await self.store.bind(conv.id, database, channel_id)
            await self.relay.upstream.handoff(conv, text, last_seq)
            if operator:
                await self.relay.append(conv.id, ev.new_event("status", status="operator_joined", name=operator,
                                                              text=f"{operator} joined the conversation."), source="relay")
            else:
                await self.relay.append(conv.id, ev.status("waiting_operator", "Waiting for an operator…"), source="relay")
            if self.relay.followers is not None:
                self.relay.followers.follow(conv)
            log.info("handed off", extra={"conversation": conv.id, "odoo_channel": channel_id, "cause": cause})
            return "operator"

    async def _no_operator(self, conv: "Conversation", already_said: bool) -> str:
        if self.no_operator == "message":
            await self.store.merge_upstream(conv.id, {"bot": {"handoff": None, "waiting": True}})
            if not already_said:
                await self.relay.append(conv.id, ev.status("leave_message", LEAVE_MESSAGE), source="relay")
            return "message"
        await self.store.merge_upstream(conv.id, {"bot": {"handoff": None}})
        await self.relay.append(conv.id, ev.status("no_operator", NO_OPERATOR), source="relay")
        return "bot"
