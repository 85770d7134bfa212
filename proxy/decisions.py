"""The decisions about a conversation before a person has it, as pure functions.

Each takes what is known (the conversation's phase and state, proxy/state.py, and what just
happened: the operator side's answer, the bot's answer) and returns a ``Decision``: the phase the
conversation is in afterwards, what to answer the caller (``where``), and the effects, in order —
events to append, state patches, a binding, a transcript to post, a handoff to start. No awaits,
no store, no network: proxy/handoff.py and proxy/conversations.py run the effects
(tests/proxy/test_state.py checks every transition).
"""
from __future__ import annotations

import dataclasses

from proxy import bot as botlib
from proxy import events as ev
from proxy import sanitize
from proxy.state import BotState, Phase

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
WAITING_OPERATOR = "Waiting for an operator…"
UPSTREAM_UNAVAILABLE = "The operator's side is not answering; trying again shortly."


def left_message_heading(contact: str) -> str:
    """The first line the operator reads of a message left while nobody was online."""
    return f"Left while no one was online (contact: {contact}):"


def bot_message(visitor_event: dict, answer: botlib.BotAnswer) -> dict:
    return ev.new_event("message", message={
        "id": f"bot:{visitor_event['seq']}", "author": {"kind": "bot", "name": answer.name},
        "text": answer.reply, "html": answer.html or sanitize.text_to_html(answer.reply or ""),
        "attachments": [], "client_id": None})


# ---------------------------------------------------------------------- inputs: the operator side's answer


@dataclasses.dataclass(frozen=True)
class Opened:
    """A session was opened; ``session``: what the upstream keeps of it (``Session.opened``)."""
    database: str
    channel_id: int
    session: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class NoOperator:
    """Nobody is online on the operator side."""


@dataclasses.dataclass(frozen=True)
class Down:
    """The operator side did not answer (or offers no session route: ``offered`` False)."""
    offered: bool = True


Outcome = Opened | NoOperator | Down

# ---------------------------------------------------------------------- effects


@dataclasses.dataclass(frozen=True)
class Announce:
    """Append an event (source: relay)."""
    event: dict


@dataclasses.dataclass(frozen=True)
class Patch:
    """Merge into the conversation's state (``store.merge_upstream``)."""
    changes: dict


@dataclasses.dataclass(frozen=True)
class Bind:
    """Bind the conversation to the operator-side session."""
    database: str
    channel_id: int


@dataclasses.dataclass(frozen=True)
class PostTranscript:
    """Give the upstream what came before (None: nothing to show) up to ``seq``."""
    text: str | None
    seq: int


@dataclasses.dataclass(frozen=True)
class Follow:
    """Follow the operator side's replies (bound now)."""


@dataclasses.dataclass(frozen=True)
class AppendBotAnswer:
    """Append the bot's answer, once per visitor message (``dedupe_key``)."""
    event: dict
    dedupe_key: str


@dataclasses.dataclass(frozen=True)
class StartHandoff:
    cause: str
    reason: str | None = None


@dataclasses.dataclass(frozen=True)
class Refuse:
    """The conversation cannot be created: ``code`` is the API error's."""
    code: str


@dataclasses.dataclass(frozen=True)
class LeaveMessage:
    """Create the conversation waiting for an operator, with the visitor's contact."""
    contact: str


Effect = Announce | Patch | Bind | PostTranscript | Follow | AppendBotAnswer | StartHandoff | Refuse | LeaveMessage


@dataclasses.dataclass(frozen=True)
class Decision:
    phase: Phase                 # the conversation's phase once the effects are done
    where: str | None = None     # what the caller is told; None: go on (open the operator-side session)
    effects: tuple[Effect, ...] = ()


# ---------------------------------------------------------------------- the handoff


def handoff_begin(phase: Phase, bot: BotState, cause: str, quiet: bool) -> Decision:
    """A handoff is asked (``cause``: visitor, bot, bot_failed); ``quiet``: a retry, said already.
    ``where`` None: open the operator-side session now, then ``handoff_outcome``."""
    if phase is Phase.CLOSED:
        return Decision(phase, "closed")
    if phase is Phase.WITH_OPERATOR:
        return Decision(phase, "operator")
    effects: list[Effect] = []
    if not bot.waiting and (not quiet or not bot.handoff):
        effects.append(Announce(ev.status("handoff", WHY.get(cause, WHY["visitor"]))))
    effects.append(Patch(BotState.patch(handoff=cause)))
    return Decision(Phase.LEAVE_MESSAGE if bot.waiting else Phase.HANDOFF_PENDING, None, tuple(effects))


def handoff_outcome(bot: BotState, cause: str, outcome: Outcome, no_operator: str, quiet: bool,
                    events: list[dict] | None = None) -> Decision:
    """What the operator side answered a handoff. ``bot``: the state as the handoff began;
    ``no_operator``: RELAY_BOT_NO_OPERATOR (``stay`` with the bot, or leave a ``message``);
    ``events``: the conversation so far (for the transcript, when a session opened)."""
    if isinstance(outcome, NoOperator):
        if bot.waiting or no_operator == "message":
            effects: list[Effect] = [Patch(BotState.patch(handoff=None, waiting=True))]
            if not bot.waiting:
                effects.append(Announce(ev.status("leave_message", LEAVE_MESSAGE)))
            return Decision(Phase.LEAVE_MESSAGE, "message", tuple(effects))
        return Decision(Phase.BOT, "bot", (Patch(BotState.patch(handoff=None)),
                                           Announce(ev.status("no_operator", NO_OPERATOR))))
    if isinstance(outcome, Down):
        return Decision(Phase.LEAVE_MESSAGE if bot.waiting else Phase.HANDOFF_PENDING, "retrying",
                        () if quiet else (Announce(ev.status("upstream_unavailable", UPSTREAM_UNAVAILABLE)),))
    replay = events or []
    if bot.contact and not bot.with_bot:        # a message left while nobody was online
        heading = left_message_heading(bot.contact)
        text: str | None = botlib.transcript(replay, heading) or heading
    else:                                       # the bot part (None: the bot said nothing)
        text = botlib.transcript(replay)
    seq = max((e["seq"] for e in replay), default=0)
    session = dict(outcome.session)
    operator = session.pop("operator_name", None)
    done = BotState.patch(handoff=None, waiting=None, handed_off=cause)
    if bot.legacy:   # as stored before 1.1
        done["bot"] = {"handoff": None, "waiting": None, "handed_off": None}
    joined = ev.new_event("status", status="operator_joined", name=operator, text=f"{operator} joined the conversation.") \
        if operator else ev.status("waiting_operator", WAITING_OPERATOR)
    return Decision(Phase.WITH_OPERATOR, "operator", (
        Patch({**session, **done}), Bind(outcome.database, outcome.channel_id), PostTranscript(text, seq),
        Announce(joined), Follow()))


def visitor_message_route(bound: bool, bot: BotState, bot_configured: bool) -> str:
    """Where a stored visitor message of a conversation that had no person goes: ``upstream`` (bound
    meanwhile), ``retry`` (a left message: try the handoff now), ``bot``, ``handoff`` (a bot that is
    configured no more: to a person, with it all), or ``none`` (a handoff is under way)."""
    if bound:
        return "upstream"
    if bot.waiting:
        return "retry"
    if bot_configured:
        return "bot"
    return "none" if bot.handoff else "handoff"


# ---------------------------------------------------------------------- the bot's turn


def bot_should_ask(phase: Phase, bot: BotState, event_seq: int, answered: bool) -> bool:
    """Whether the bot is asked about the visitor message ``event_seq``: the conversation is still
    with it and it was not answered before (``answered``: its answer is stored)."""
    return phase is Phase.BOT and event_seq > bot.answered_seq and not answered


def bot_turn(phase: Phase, event: dict, answer: botlib.BotAnswer | botlib.BotFailed) -> Decision:
    """The bot answered the visitor message ``event`` (or failed); ``phase``: the conversation's now.
    A person has it meanwhile (or a handoff is under way): a late answer is dropped."""
    if isinstance(answer, botlib.BotFailed):
        return Decision(phase, "failed", (StartHandoff("bot_failed", answer.reason),))
    if phase is not Phase.BOT:
        return Decision(phase, "dropped")
    effects: list[Effect] = []
    if answer.reply:
        effects.append(AppendBotAnswer(bot_message(event, answer), f"bot:{event['seq']}"))
    effects.append(Patch(BotState.patch(answered_seq=event["seq"])))
    if answer.handoff:
        effects.append(StartHandoff("bot", answer.reason))
    return Decision(Phase.HANDOFF_PENDING if answer.handoff else Phase.BOT, "answered", tuple(effects))


# ---------------------------------------------------------------------- a new conversation


def create_choice(bot_configured: bool, outcome: Outcome | None = None,
                  leave_message: str | None = None) -> Decision:
    """``Relay.create``: first (``outcome`` None) with the bot, or ``where`` None: open an operator-side
    session; then, given its outcome: bound to it, waiting with a left message (``leave_message``:
    the visitor's contact), or refused (no operator, the operator side down or offering no session)."""
    if outcome is None:
        if bot_configured:
            return Decision(Phase.BOT, "bot", (Patch(BotState.started()), Announce(ev.status("bot", WELCOME))))
        return Decision(Phase.HANDOFF_PENDING)
    if isinstance(outcome, NoOperator):
        if leave_message is None:
            return Decision(Phase.CLOSED, "refused", (Refuse("no_operator_available"),))
        return Decision(Phase.LEAVE_MESSAGE, "message", (LeaveMessage(leave_message),))
    if isinstance(outcome, Down):
        return Decision(Phase.CLOSED, "refused", (Refuse("odoo_unavailable" if outcome.offered else "not_offered"),))
    return Decision(Phase.WITH_OPERATOR, "operator", (Patch(outcome.session), Bind(outcome.database, outcome.channel_id),
                                                      Follow()))
