"""The conversation's typed state (proxy/state.py) and the decisions on it (proxy/decisions.py),
as pure functions: no process, no network, no store. Every phase and every input of the handoff,
the bot's turn and Relay.create's choice; the end-to-end tests (test_bot.py, test_leave_message.py,
test_api.py) check the same through HTTP."""
from __future__ import annotations

import asyncio
import gc

import pytest

from proxy import bot as botlib
from proxy import decisions as dc
from proxy import state as st
from proxy.cluster.local import LocalLeases
from proxy.handoff import BotPhase, Handoff
from proxy.odoo import chatbot
from proxy.state import Phase
from proxy.store.base import Conversation
from proxy.store.codec import merge_patch


def conv(upstream: dict | None = None, bound: bool = False, closed: bool = False) -> Conversation:
    return Conversation(id="c_1", created_at=1.0, last_activity=1.0, upstream=upstream, closed=closed,
                        odoo_database="db" if bound else None, odoo_channel_id=42 if bound else None)


def statuses(decision: dc.Decision) -> list[str]:
    return [e.event.get("status") for e in decision.effects if isinstance(e, dc.Announce)]


def patches(decision: dc.Decision) -> list[dict]:
    return [e.changes for e in decision.effects if isinstance(e, dc.Patch)]


def visitor(seq: int, text: str) -> dict:
    return {"seq": seq, "type": "message", "message": {"text": text, "author": {"kind": "visitor"}}}


def bot_said(seq: int, text: str) -> dict:
    return {"seq": seq, "type": "message", "message": {"text": text, "author": {"kind": "bot", "name": "Ada"}}}


# ---------------------------------------------------------------------- phases and records


@pytest.mark.parametrize(("upstream", "bound", "closed", "phase"), [
    (None, False, False, Phase.BOT),
    ({"bot": {"answered_seq": 3}}, False, False, Phase.BOT),
    ({"pending": {"handoff": "visitor"}}, False, False, Phase.HANDOFF_PENDING),
    ({"pending": {"waiting": True, "contact": "a@b.c"}}, False, False, Phase.LEAVE_MESSAGE),
    ({"pending": {"waiting": True, "handoff": "visitor"}}, False, False, Phase.LEAVE_MESSAGE),   # a retry of a left message
    ({"bot": {"answered_seq": 2, "handoff": "bot"}}, False, False, Phase.HANDOFF_PENDING),       # stored before 1.1
    ({"bot": {"answered_seq": 2, "waiting": True}}, False, False, Phase.LEAVE_MESSAGE),          # stored before 1.1
    ({"guest_token": "g"}, True, False, Phase.WITH_OPERATOR),
    ({"pending": {"handoff": "visitor"}}, True, False, Phase.WITH_OPERATOR),
    ({"guest_token": "g"}, True, True, Phase.CLOSED),
    ({"pending": {"waiting": True}}, False, True, Phase.CLOSED),
])
def test_phase_of(upstream, bound, closed, phase):
    assert st.phase_of(conv(upstream, bound, closed)) is phase


def test_phase_of_nothing_is_closed():
    assert st.phase_of(None) is Phase.CLOSED


def test_pending_overrides_the_pre_1_1_flags():
    state = st.bot_of(conv({"bot": {"answered_seq": 2, "handoff": "bot"}, "pending": {"handoff": "visitor"}}))
    assert (state.handoff, state.with_bot, state.answered_seq, state.legacy) == ("visitor", True, 2, True)


def test_records_of_an_empty_state_have_their_defaults():
    state = st.of(conv(None))
    assert state.phase is Phase.BOT
    assert state.session == st.Session()
    assert state.posting == st.PostingCursor() and state.posting.done_seq == 0
    assert state.follow == st.FollowCursor(0, 0)
    assert state.bot == st.BotState()
    assert state.visitor == st.VisitorRecord()


def test_session_token_requires_one():
    with pytest.raises(KeyError):
        _ = st.Session().token
    assert st.Session(guest_token="g").token == "g"


def test_session_opened_is_the_stored_shape():
    assert st.Session.opened("g") == {"guest_token": "g"}
    assert st.Session.opened("g", "u", (7, "Mitchell"), 3, None) == {
        "guest_token": "g", "uuid": "u", "operator_id": 7, "operator_name": "Mitchell",
        "chatbot": {"script": 3, "step": None}}
    assert st.Session.opened("g", None, (7, ""), None) == {"guest_token": "g", "operator_id": 7}


def test_patches_are_the_stored_keys():
    assert st.FollowCursor.patch(bus_last=5) == {"bus_last": 5}
    assert st.FollowCursor.patch(bus_last=st.UNSET, poll_last=9) == {"poll_last": 9}
    assert st.FollowCursor.patch() == {}
    assert st.PostingCursor.patch(posted_seq=3, posted_odoo_id=10, sent={"c1": 10}) == {
        "posted_seq": 3, "posted_odoo_id": 10, "sent": {"c1": 10}}
    assert st.PostingCursor.patch(transcript=st.Transcript(4, "t")) == {"transcript": {"seq": 4, "text": "t"}}
    assert st.PostingCursor.patch(visitor_seq=8) == {"visitor_seq": 8}
    assert st.BotState.patch(handoff=None, waiting=True) == {"pending": {"handoff": None, "waiting": True}}
    assert st.BotState.patch(answered_seq=4) == {"bot": {"answered_seq": 4}}
    assert st.BotState.started() == {"bot": {"answered_seq": 0}}
    assert st.Session.patch(step=None, chatbot_done=True) == {"chatbot": {"step": None, "done": True}}
    assert st.VisitorRecord.patch(upload=(5, st.Upload("tk", "a.png", "image/png", 3))) == {
        "uploads": {"5": {"token": "tk", "name": "a.png", "mimetype": "image/png", "size": 3}}}
    assert st.VisitorRecord.patch(seen_odoo_id=12, mailed=1, pages=[{"url": "https://x/", "title": ""}]) == {
        "seen_odoo_id": 12, "mailed": 1, "pages": [{"url": "https://x/", "title": ""}]}


def test_apply_merges_as_the_stores_do():
    c = conv({"bus_last": 1, "pending": {"handoff": "visitor", "contact": "x"}})
    st.apply(c, {**st.FollowCursor.patch(bus_last=7), **st.BotState.patch(handoff=None, waiting=True)})
    assert c.upstream == {"bus_last": 7, "pending": {"contact": "x", "waiting": True}}
    assert merge_patch({"a": {"b": 1}}, {"a": None, "c": {"d": None, "e": 2}}) == {"c": {"e": 2}}


def test_posting_done_seq_counts_the_transcript():
    cursor = st.posting_of(conv({"posted_seq": 3, "transcript": {"seq": 6, "text": "t"}}))
    assert (cursor.done_seq, cursor.transcript) == (6, st.Transcript(6, "t"))


# ---------------------------------------------------------------------- the handoff


@pytest.mark.parametrize("phase", [Phase.CLOSED, Phase.WITH_OPERATOR])
def test_handoff_begin_of_a_closed_or_bound_conversation_does_nothing(phase):
    decision = dc.handoff_begin(phase, st.BotState(), "visitor", quiet=False)
    assert decision.where == ("closed" if phase is Phase.CLOSED else "operator") and decision.effects == ()


@pytest.mark.parametrize(("cause", "text"), [("visitor", dc.WHY["visitor"]), ("bot", dc.WHY["bot"]),
                                             ("bot_failed", dc.WHY["bot_failed"]), ("other", dc.WHY["visitor"])])
def test_handoff_begin_with_the_bot_says_so_and_marks_it(cause, text):
    decision = dc.handoff_begin(Phase.BOT, st.BotState(with_bot=True), cause, quiet=False)
    assert decision.where is None and decision.phase is Phase.HANDOFF_PENDING
    assert [e.event["text"] for e in decision.effects if isinstance(e, dc.Announce)] == [text]
    assert patches(decision) == [{"pending": {"handoff": cause}}]


def test_handoff_begin_quiet_retry_says_nothing_again():
    pending = st.BotState(handoff="visitor")
    assert statuses(dc.handoff_begin(Phase.HANDOFF_PENDING, pending, "visitor", quiet=True)) == []
    assert statuses(dc.handoff_begin(Phase.HANDOFF_PENDING, pending, "visitor", quiet=False)) == ["handoff"]
    # quiet but nothing pending (a restart found none): it is said
    assert statuses(dc.handoff_begin(Phase.BOT, st.BotState(), "visitor", quiet=True)) == ["handoff"]


def test_handoff_begin_of_a_left_message_says_nothing_and_stays_waiting():
    decision = dc.handoff_begin(Phase.LEAVE_MESSAGE, st.BotState(waiting=True, contact="a@b.c"), "visitor", quiet=False)
    assert decision.where is None and decision.phase is Phase.LEAVE_MESSAGE
    assert statuses(decision) == [] and patches(decision) == [{"pending": {"handoff": "visitor"}}]


@pytest.mark.parametrize(("waiting", "setting", "where", "phase", "said", "patch"), [
    (False, "stay", "bot", Phase.BOT, ["no_operator"], {"pending": {"handoff": None}}),
    (False, "message", "message", Phase.LEAVE_MESSAGE, ["leave_message"], {"pending": {"handoff": None, "waiting": True}}),
    (True, "stay", "message", Phase.LEAVE_MESSAGE, [], {"pending": {"handoff": None, "waiting": True}}),
    (True, "message", "message", Phase.LEAVE_MESSAGE, [], {"pending": {"handoff": None, "waiting": True}}),
])
def test_handoff_with_nobody_online(waiting, setting, where, phase, said, patch):
    decision = dc.handoff_outcome(st.BotState(with_bot=not waiting, waiting=waiting), "bot", dc.NoOperator(),
                                  setting, quiet=False)
    assert (decision.where, decision.phase, statuses(decision), patches(decision)) == (where, phase, said, [patch])


@pytest.mark.parametrize(("quiet", "said"), [(False, ["upstream_unavailable"]), (True, [])])
@pytest.mark.parametrize("offered", [True, False])
def test_handoff_with_the_operator_side_down_retries(quiet, said, offered):
    decision = dc.handoff_outcome(st.BotState(handoff="bot"), "bot", dc.Down(offered), "stay", quiet)
    assert (decision.where, decision.phase, statuses(decision), patches(decision)) == (
        "retrying", Phase.HANDOFF_PENDING, said, [])
    waiting = dc.handoff_outcome(st.BotState(waiting=True), "visitor", dc.Down(offered), "stay", quiet)
    assert waiting.phase is Phase.LEAVE_MESSAGE


def test_handoff_opened_from_the_bot_binds_posts_the_bot_part_and_follows():
    events = [{"seq": 1, "type": "status", "status": "bot"}, visitor(2, "hi"), bot_said(3, "hello")]
    session = {"guest_token": "g", "operator_id": 7, "operator_name": "Mitchell"}
    decision = dc.handoff_outcome(st.BotState(with_bot=True, handoff="bot"), "bot",
                                  dc.Opened("db", 42, session), "stay", False, events)
    assert (decision.where, decision.phase) == ("operator", Phase.WITH_OPERATOR)
    kinds = [type(e).__name__ for e in decision.effects]
    assert kinds == ["Patch", "Bind", "PostTranscript", "Announce", "Follow"]
    assert patches(decision) == [{"guest_token": "g", "operator_id": 7,     # the name is shown, not kept
                                  "pending": {"handoff": None, "waiting": None, "handed_off": "bot"}}]
    assert decision.effects[1] == dc.Bind("db", 42)
    assert decision.effects[2] == dc.PostTranscript(
        "Conversation with the bot so far:\nVisitor: hi\nAda (bot): hello", 3)
    joined = decision.effects[3].event
    assert (joined["status"], joined["name"], joined["text"]) == (
        "operator_joined", "Mitchell", "Mitchell joined the conversation.")
    assert session == {"guest_token": "g", "operator_id": 7, "operator_name": "Mitchell"}   # not changed


def test_handoff_opened_without_an_operator_named_waits_for_one():
    decision = dc.handoff_outcome(st.BotState(with_bot=True), "visitor", dc.Opened("db", 42, {"guest_token": "g"}),
                                  "stay", False, [{"seq": 1, "type": "status", "status": "bot"}])
    assert statuses(decision) == ["waiting_operator"]
    assert decision.effects[2] == dc.PostTranscript(None, 1)     # the bot said nothing: no transcript


def test_handoff_opened_for_a_left_message_heads_it_with_the_contact():
    events = [{"seq": 1, "type": "status", "status": "leave_message"}, visitor(2, "call me")]
    state = st.BotState(waiting=True, contact="a@b.c", handoff="visitor")
    decision = dc.handoff_outcome(state, "visitor", dc.Opened("db", 42, {"guest_token": "g"}), "stay", True, events)
    assert decision.effects[2] == dc.PostTranscript(
        "Left while no one was online (contact: a@b.c):\nVisitor: call me", 2)
    nothing_said = dc.handoff_outcome(state, "visitor", dc.Opened("db", 42, {}), "stay", True, events[:1])
    assert nothing_said.effects[2] == dc.PostTranscript("Left while no one was online (contact: a@b.c):", 1)


def test_handoff_opened_clears_the_pre_1_1_flags():
    legacy = st.bot_of(conv({"bot": {"answered_seq": 2, "handoff": "bot"}}))
    decision = dc.handoff_outcome(legacy, "bot", dc.Opened("db", 42, {"guest_token": "g"}), "stay", False, [])
    assert patches(decision)[0]["bot"] == {"handoff": None, "waiting": None, "handed_off": None}
    assert "bot" not in patches(dc.handoff_outcome(st.BotState(with_bot=True), "bot",
                                                   dc.Opened("db", 42, {}), "stay", False, []))[0]


@pytest.mark.parametrize(("bound", "state", "bot_configured", "route"), [
    (True, st.BotState(waiting=True), True, "upstream"),
    (False, st.BotState(waiting=True), True, "retry"),
    (False, st.BotState(waiting=True), False, "retry"),
    (False, st.BotState(with_bot=True), True, "bot"),
    (False, st.BotState(handoff="bot"), True, "bot"),        # the bot phase drops it once it sees the handoff
    (False, st.BotState(handoff="bot"), False, "none"),
    (False, st.BotState(with_bot=True), False, "handoff"),   # a bot configured no more
])
def test_visitor_message_route(bound, state, bot_configured, route):
    assert dc.visitor_message_route(bound, state, bot_configured) == route


# ---------------------------------------------------------------------- the bot's turn


def answer(reply: str | None = "Hello", handoff: bool = False) -> botlib.BotAnswer:
    return botlib.BotAnswer(reply, None, handoff, "asked" if handoff else None, "Ada")


@pytest.mark.parametrize(("phase", "answered_seq", "seq", "answered", "ask"), [
    (Phase.BOT, 0, 2, False, True),
    (Phase.BOT, 2, 2, False, False),      # answered before a restart (the record says)
    (Phase.BOT, 0, 2, True, False),       # answered before a restart (its answer is stored)
    (Phase.HANDOFF_PENDING, 0, 2, False, False),
    (Phase.LEAVE_MESSAGE, 0, 2, False, False),
    (Phase.WITH_OPERATOR, 0, 2, False, False),
    (Phase.CLOSED, 0, 2, False, False),
])
def test_bot_should_ask(phase, answered_seq, seq, answered, ask):
    assert dc.bot_should_ask(phase, st.BotState(with_bot=True, answered_seq=answered_seq), seq, answered) is ask


def test_bot_turn_reply():
    decision = dc.bot_turn(Phase.BOT, visitor(4, "hi"), answer())
    assert (decision.where, decision.phase) == ("answered", Phase.BOT)
    appended, patch = decision.effects
    assert isinstance(appended, dc.AppendBotAnswer) and appended.dedupe_key == "bot:4"
    assert appended.event["message"]["id"] == "bot:4" and appended.event["message"]["text"] == "Hello"
    assert appended.event["message"]["author"] == {"kind": "bot", "name": "Ada"}
    assert patch == dc.Patch({"bot": {"answered_seq": 4}})


def test_bot_turn_reply_and_handoff():
    decision = dc.bot_turn(Phase.BOT, visitor(4, "a person please"), answer(handoff=True))
    assert [type(e).__name__ for e in decision.effects] == ["AppendBotAnswer", "Patch", "StartHandoff"]
    assert decision.effects[-1] == dc.StartHandoff("bot", "asked") and decision.phase is Phase.HANDOFF_PENDING


def test_bot_turn_handoff_without_a_reply():
    decision = dc.bot_turn(Phase.BOT, visitor(4, "x"), answer(reply=None, handoff=True))
    assert decision.effects == (dc.Patch({"bot": {"answered_seq": 4}}), dc.StartHandoff("bot", "asked"))


@pytest.mark.parametrize("phase", [Phase.HANDOFF_PENDING, Phase.LEAVE_MESSAGE, Phase.WITH_OPERATOR, Phase.CLOSED])
def test_bot_turn_late_answer_is_dropped(phase):
    decision = dc.bot_turn(phase, visitor(4, "hi"), answer(handoff=True))
    assert (decision.where, decision.phase, decision.effects) == ("dropped", phase, ())


@pytest.mark.parametrize("phase", list(Phase))
def test_bot_turn_failure_hands_off(phase):
    decision = dc.bot_turn(phase, visitor(4, "hi"), botlib.BotFailed("timeout"))
    assert decision.effects == (dc.StartHandoff("bot_failed", "timeout"),)


# ---------------------------------------------------------------------- a new conversation


def test_create_with_the_bot():
    decision = dc.create_choice(True)
    assert (decision.where, decision.phase) == ("bot", Phase.BOT)
    assert patches(decision) == [{"bot": {"answered_seq": 0}}]
    assert [(e.event["status"], e.event["text"]) for e in decision.effects if isinstance(e, dc.Announce)] == [
        ("bot", dc.WELCOME)]


def test_create_without_the_bot_opens_a_session_first():
    decision = dc.create_choice(False)
    assert decision.where is None and decision.effects == ()


@pytest.mark.parametrize(("outcome", "contact", "where", "effect"), [
    (dc.NoOperator(), None, "refused", dc.Refuse("no_operator_available")),
    (dc.NoOperator(), "a@b.c", "message", dc.LeaveMessage("a@b.c")),
    (dc.Down(), None, "refused", dc.Refuse("odoo_unavailable")),
    (dc.Down(), "a@b.c", "refused", dc.Refuse("odoo_unavailable")),
    (dc.Down(offered=False), None, "refused", dc.Refuse("not_offered")),
])
def test_create_after_the_operator_side_answered(outcome, contact, where, effect):
    decision = dc.create_choice(False, outcome, contact)
    assert (decision.where, decision.effects) == (where, (effect,))


def test_create_bound():
    decision = dc.create_choice(False, dc.Opened("db", 42, {"guest_token": "g"}), "ignored@b.c")
    assert (decision.where, decision.phase) == ("operator", Phase.WITH_OPERATOR)
    assert decision.effects == (dc.Patch({"guest_token": "g"}), dc.Bind("db", 42), dc.Follow())


# ---------------------------------------------------------------------- what is kept in memory


async def test_handoff_locks_go_once_unused():
    handoffs = Handoff(None, LocalLeases(5.0))   # type: ignore[arg-type]  # no core needed for the locks
    async with handoffs.lock("c_1"):
        assert handoffs.lock("c_1") is handoffs.lock("c_1") and len(handoffs._locks) == 1
    gc.collect()
    assert len(handoffs._locks) == 0


async def test_bot_phase_keeps_nothing_once_drained():
    class Store:
        async def get_conversation(self, conversation_id):
            return conv({"guest_token": "g"}, bound=True)    # a person has it now: nothing to ask

    class Core:
        store = Store()

    bot = BotPhase(Core(), None, Handoff(Core(), LocalLeases(5.0)))   # type: ignore[arg-type]
    bot.enqueue("c_1", visitor(2, "hi"))
    await asyncio.wait_for(bot._workers["c_1"], 5)
    assert bot._queues == {} and bot._workers == {}


# ---------------------------------------------------------------------- Odoo's chatbot script: the visitor's turn


QUESTION = chatbot.Step(9, "question_selection", 300, ((1, "Yes"), (2, "No")))


@pytest.mark.parametrize(("running", "closed", "text", "what", "answer"), [
    (None, False, "Yes", "none", None),
    (st.Chatbot(2, QUESTION.as_dict(), done=True), False, "Yes", "none", None),
    (st.Chatbot(2, QUESTION.as_dict()), True, "Yes", "none", None),
    (st.Chatbot(2, QUESTION.as_dict()), False, "  yes ", "move", 1),
    (st.Chatbot(2, QUESTION.as_dict()), False, "Maybe", "ask_again", None),
    (st.Chatbot(2, chatbot.Step(10, "question_email", 301).as_dict()), False, "a@b.c", "move", None),
    (st.Chatbot(2, None), False, "hi", "move", None),
])
def test_chatbot_visitor_turn(running, closed, text, what, answer):
    found, step, chosen = chatbot.visitor_turn(running, closed, text)
    assert (found, chosen) == (what, answer)
    assert step == (chatbot.Step.from_dict(running.step) if what != "none" else None)


@pytest.mark.parametrize(("step", "done", "offer"), [
    (None, True, False),
    (QUESTION, False, True),
    (chatbot.Step(11, "text", 302, is_last=True), True, False),
    (chatbot.Step(11, "text", 302), False, False),
    (chatbot.Step(12, "forward_operator", 303, operator_found=True), True, False),
])
def test_chatbot_turn_over(step, done, offer):
    patch, offered = chatbot.turn_over(step)
    assert patch == {"chatbot": {"step": step.as_dict() if step else None, "done": done}} and offered is offer
