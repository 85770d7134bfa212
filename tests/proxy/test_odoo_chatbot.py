"""Odoo chatbot-script payloads recorded from real 17.0, 18.0 and 19.0 servers, read into steps."""
from __future__ import annotations

from proxy.odoo import chatbot
from proxy.odoo.upstream import choices_event
from tests.proxy.test_odoo_adapters import sample


def test_the_first_question_with_its_answers():
    assert chatbot.welcome_step(sample(17, "chatbot_welcome")) == chatbot.Step(15, "question_selection", 141, ((6, "Yes"), (7, "No")))
    for v in (18, 19):
        step = chatbot.session_step(v, sample(v, "chatbot_get_session"))
        assert (step.id, step.type, step.answers) == (15, "question_selection", ((6, "Yes"), (7, "No"))), v
        assert step.message_id
    assert chatbot.session_step(17, sample(17, "chatbot_get_session")) is None   # 17: welcome steps come apart
    assert chatbot.session_step(18, {"odd": 1}) is None


def test_the_step_after_an_answer():
    for v in (17, 18):
        step = chatbot.trigger_step(v, sample(v, "chatbot_trigger"))
        assert (step.id, step.type, step.answers, step.is_last) == (16, "question_selection", ((8, "Red"), (9, "Blue")), False)
    assert chatbot.trigger_step(19, sample(19, "chatbot_trigger")) is None     # 19 answers nothing (bus only)
    assert chatbot.trigger_step(18, None) is None                              # the script is over
    step = chatbot.messages_step(sample(19, "chatbot_messages"))
    assert (step.type, step.answers) == ("question_selection", ())
    # 19: the trigger's step, answers included, on the guest's bus (peek_notifications)
    peek = sample(19, "chatbot_peek_after_trigger")["notifications"]
    session = next(n["message"]["payload"]["Chatbot"][0]["thread"]["id"] for n in peek if "Chatbot" in n["message"]["payload"])
    step = chatbot.bus_step(peek, session)
    assert (step.type, [label for _, label in step.answers], step.is_last) == ("question_selection", ["Red", "Blue"], False)
    assert step.message_id and chatbot.bus_step(peek, session + 1) is None and chatbot.bus_step(None, session) is None


def test_answers_match_whatever_the_case_and_spaces_and_round_trip():
    step = chatbot.Step(16, "question_selection", 143, ((8, "Red"), (9, "Light  blue")))
    assert step.answer_for(" red ") == 8 and step.answer_for("light blue") == 9 and step.answer_for("green") is None
    assert chatbot.Step.from_dict(step.as_dict()) == step
    assert chatbot.route_params(17, 5, "u") == {"channel_uuid": "u"} and chatbot.route_params(18, 5, "u", x=1) == {"channel_id": 5, "x": 1}
    event = choices_event(step)
    assert event["status"] == "choices" and event["choices"] == [{"id": 8, "label": "Red"}, {"id": 9, "label": "Light  blue"}]
