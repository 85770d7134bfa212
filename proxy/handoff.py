"""The way to a person: the bot phase, leaving a message while nobody is online, and the handoff.

A conversation that no person has yet is not bound to an Odoo session. It is in one of these
phases (``state.Phase``; ``state.BotState`` is the record this module owns, stored as
``upstream.pending`` — ``upstream.bot`` in conversations stored before 1.1, still read):

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

What to do is decided by the pure functions of proxy/decisions.py; the classes here run their
effects. They reach the core through a narrow interface (``Core``, ``HandoffCore``; ``Relay`` is one).
"""
from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING, Protocol

from proxy import bot as botlib
from proxy import decisions as dc
from proxy import events as ev
from proxy import state as st
from proxy.upstream.base import NoOperatorAvailable, NotOffered, UpstreamDown

if TYPE_CHECKING:
    from proxy.cluster.base import Leases
    from proxy.store.base import Appended, Conversation, Store
    from proxy.upstream.base import Upstream

log = logging.getLogger("relay.bot")


class Core(Protocol):
    """What the bot phase needs of the core: the store (to read the conversation and its events,
    and to patch the bot's record), and appending an event (stored, then published)."""

    store: Store

    async def append(self, conversation_id: str, event: dict, *, source: str,
                     dedupe_key: str | None = None) -> Appended: ...


class HandoffCore(Core, Protocol):
    """What the handoff needs besides: the upstream, every event of a conversation, and following
    the operator side's replies of a conversation bound now."""

    upstream: Upstream

    async def all_events(self, conversation_id: str) -> list[dict]: ...
    def follow(self, conv: Conversation) -> None: ...


class Handoff:
    """Unbound conversations to a person: the handoff, the no-operator rule, left messages."""

    def __init__(self, core: HandoffCore, leases: Leases, no_operator: str = "stay", retry_every: float = 10.0):
        self.core, self.leases, self.no_operator, self.retry_every = core, leases, no_operator, retry_every
        # held by whoever runs under it: gone once nobody does (a conversation bound or closed keeps none)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._tasks: set[asyncio.Task] = set()
        self._retry: asyncio.Task | None = None

    @property
    def store(self) -> Store:
        return self.core.store

    def lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    def spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """After a restart: finish interrupted handoffs; look for operators for left messages."""
        for conv in await self.store.open_unbound():
            if cause := st.bot_of(conv).handoff:
                self.spawn(self.handoff(conv.id, cause, quiet=True))
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
            state = st.bot_of(conv)
            if state.waiting:
                channel = conv.livechat_channel_id
                if channel not in available:
                    available[channel] = await self._available(conv)
                if not available[channel]:
                    continue
            elif not state.handoff:
                continue
            where = await self.handoff(conv.id, state.handoff or "visitor", quiet=True)
            if where == "message":        # taken by someone else meanwhile: ask again next round
                available[conv.livechat_channel_id] = False

    async def _available(self, conv: Conversation) -> bool:
        try:
            answer = await self.core.upstream.config(conv.livechat_channel_id, conv.page_url, conv.lang)
        except Exception as exc:   # Odoo down or the channel gone: not now
            log.info("availability unknown", extra={"conversation": conv.id, "reason": repr(exc)[:200]})
            return False
        return answer.get("available") is not False

    # ------------------------------------------------------------------ entry points

    async def leave_message(self, conv: Conversation, contact: str) -> None:
        """A new conversation with nobody online (no bot): it waits with the visitor's messages."""
        st.apply(conv, st.BotState.patch(waiting=True, contact=contact))
        await self.store.create_conversation(conv)
        await self.core.append(conv.id, ev.new_event("status", status="leave_message", contact=contact,
                                                        text=dc.LEFT_MESSAGE.format(contact=contact)), source="relay")
        log.info("conversation created", extra={"conversation": conv.id, "with": "left message"})

    async def visitor_message(self, conv: Conversation, event: dict, to_bot=None) -> None:
        """A stored visitor message of an unbound conversation (or one bound meanwhile): to the
        upstream when a person has it; waiting for one: try now; else to the bot (``to_bot``),
        or, with no bot, to a person straight away."""
        async with self.lock(conv.id):
            fresh = await self.store.get_conversation(conv.id)
            if fresh is None:
                return
            state = st.bot_of(fresh)
            route = dc.visitor_message_route(fresh.odoo_channel_id is not None, state, to_bot is not None)
            if route == "upstream":   # bound meanwhile: unless the handoff's transcript has it
                if event["seq"] > st.posting_of(fresh).done_seq:
                    await self.core.upstream.visitor_message(fresh, event)
                return
        if route == "retry":
            self.spawn(self.handoff(conv.id, "visitor", quiet=True))
        elif route == "bot" and to_bot is not None:
            to_bot(conv.id, event)
        elif route == "handoff":   # left with a bot that is configured no more: to a person, with it all
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
        state = st.bot_of(conv)
        begin = dc.handoff_begin(st.phase_of(conv), state, cause, quiet)
        if begin.where is not None:
            return begin.where
        assert conv is not None   # neither closed nor gone
        await self._run(conv, begin.effects)
        log.info("handoff", extra={"conversation": conv.id, "cause": cause, "reason": reason})
        outcome: dc.Outcome
        kept = conv.upstream
        try:
            database, channel_id = await self.core.upstream.open_session(conv)
            outcome = dc.Opened(database, channel_id, conv.upstream or {})   # what the upstream keeps of it
        except NoOperatorAvailable:
            outcome = dc.NoOperator()
        except (UpstreamDown, NotOffered):      # NotOffered: this Odoo has no session route (yet)
            outcome = dc.Down()
        conv.upstream = kept
        events = await self.core.all_events(conv.id) if isinstance(outcome, dc.Opened) else None
        decision = dc.handoff_outcome(state, cause, outcome, self.no_operator, quiet, events)
        await self._run(conv, decision.effects)
        if decision.phase is st.Phase.WITH_OPERATOR:
            log.info("handed off", extra={"conversation": conv.id, "odoo_channel": conv.odoo_channel_id,
                                          "cause": cause})
        assert decision.where is not None
        return decision.where

    async def _run(self, conv: Conversation, effects: tuple[dc.Effect, ...]) -> None:
        """Perform a decision's effects, in order."""
        for effect in effects:
            if isinstance(effect, dc.Announce):
                await self.core.append(conv.id, effect.event, source="relay")
            elif isinstance(effect, dc.Patch):
                await st.write(self.store, conv, effect.changes)
            elif isinstance(effect, dc.Bind):
                conv.odoo_database, conv.odoo_channel_id = effect.database, effect.channel_id
                await self.store.bind(conv.id, effect.database, effect.channel_id)
            elif isinstance(effect, dc.PostTranscript):
                await self.core.upstream.handoff(conv, effect.text, effect.seq)
            elif isinstance(effect, dc.Follow):
                self.core.follow(conv)
            else:   # not a handoff's effect
                raise AssertionError(f"unexpected effect {effect!r}")


class BotPhase:
    """The bot before the operators: its answers, one visitor message at a time, in order."""

    def __init__(self, core: Core, client: botlib.BotClient, handoffs: Handoff):
        self.core, self.client, self.handoffs = core, client, handoffs
        self._queues: dict[str, asyncio.Queue] = {}
        self._workers: dict[str, asyncio.Task] = {}

    @property
    def store(self) -> Store:
        return self.core.store

    async def start(self) -> None:
        """After a restart: send the bot what it had not answered."""
        for conv in await self.store.open_unbound():
            state = st.bot_of(conv)
            if st.phase_of(conv) is not st.Phase.BOT or not state.with_bot:
                continue
            replay = await self.store.events_after(conv.id, state.answered_seq)
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
        finally:   # nothing kept for a conversation whose queue is drained (bound, closed or answered)
            if self._queues.get(conversation_id) is queue:
                del self._queues[conversation_id]
            if self._workers.get(conversation_id) is asyncio.current_task():
                del self._workers[conversation_id]

    async def _answer(self, conversation_id: str, event: dict) -> None:
        conv = await self.store.get_conversation(conversation_id)
        if not dc.bot_should_ask(st.phase_of(conv), st.bot_of(conv), event["seq"], False) \
                or await self.store.find_event(conversation_id, f"bot:{event['seq']}") is not None:
            return                                  # a person has it, or answered before a restart
        replay = await self.store.events_after(conversation_id, max(0, event["seq"] - 200))
        answer: botlib.BotAnswer | botlib.BotFailed
        try:
            answer = await self.client.ask(conv, event, botlib.history_of(replay.events, event["seq"]))
        except botlib.BotFailed as exc:
            log.warning("bot failed", extra={"conversation": conversation_id, "reason": exc.reason})
            answer = exc
        handoff: dc.StartHandoff | None = None
        async with self.handoffs.lock(conversation_id):
            fresh = await self.store.get_conversation(conversation_id)
            decision = dc.bot_turn(st.phase_of(fresh), event, answer)
            for effect in decision.effects:     # a person has it now: a late answer is dropped (none)
                if isinstance(effect, dc.AppendBotAnswer):
                    await self.core.append(conversation_id, effect.event, source="bot", dedupe_key=effect.dedupe_key)
                elif isinstance(effect, dc.Patch):
                    await self.store.merge_upstream(conversation_id, effect.changes)
                elif isinstance(effect, dc.StartHandoff):
                    handoff = effect           # after the lock: the handoff takes it
        if handoff is not None:
            await self.handoffs.handoff(conversation_id, handoff.cause, reason=handoff.reason)
