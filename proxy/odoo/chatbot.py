"""Odoo's own chatbot scripts (``RELAY_ODOO_CHATBOT_SCRIPT_ID``): what each series says about the
script's current step, and the parameters of the chatbot routes. No I/O; tested on payloads
recorded from real 17.0, 18.0 and 19.0 servers (tests/fixtures/odoo/<v>/chatbot_*.json).

The flow, as Odoo's own widget drives it: ``get_session`` with ``chatbot_script_id`` (18/19 post
the welcome steps themselves; 17 needs ``/chatbot/post_welcome_steps``); after each visitor
message, ``/chatbot/answer/save`` when the current step is a question with answer buttons and the
text is one of them, then ``/chatbot/step/trigger``, again while the new step is a plain text
step that is not the last. 17 names the session by uuid (cors routes); 18/19 by id, with the
guest token as the ``dgid`` cookie. 19's trigger answers nothing: the step goes to the guest's
bus; its step is then read from the session's messages (type and message, no answers).
"""
from __future__ import annotations

import dataclasses

from proxy import state


@dataclasses.dataclass(frozen=True)
class Step:
    id: int
    type: str                          # text, question_selection, question_email, forward_operator, …
    message_id: int | None             # the bot's mail.message for this step (answer/save needs it)
    answers: tuple[tuple[int, str], ...] = ()
    is_last: bool = False
    operator_found: bool = False

    def as_dict(self) -> dict:
        return {"id": self.id, "type": self.type, "message_id": self.message_id,
                "answers": [list(a) for a in self.answers], "is_last": self.is_last,
                "operator_found": self.operator_found}

    @classmethod
    def from_dict(cls, data: dict | None) -> Step | None:
        if not data:
            return None
        return cls(int(data["id"]), data["type"], data.get("message_id"),
                   tuple((int(a), str(n)) for a, n in data.get("answers") or ()),
                   bool(data.get("is_last")), bool(data.get("operator_found")))

    def answer_for(self, text: str) -> int | None:
        wanted = " ".join(text.split()).casefold()
        for answer_id, label in self.answers:
            if " ".join(label.split()).casefold() == wanted:
                return answer_id
        return None


def _answers(raw, by_id: dict | None = None) -> tuple[tuple[int, str], ...]:
    out = []
    for answer in raw or ():
        if isinstance(answer, int) and by_id is not None:
            answer = by_id.get(answer) or {}
        if isinstance(answer, dict) and "id" in answer:
            out.append((int(answer["id"]), str(answer.get("name") or answer.get("label") or "")))
    return tuple(out)


def _step_18(script_step: dict, message_id, is_last=None, operator_found=False, answers_by_id=None) -> Step:
    return Step(int(script_step["id"]), script_step.get("type") or "text", message_id,
                _answers(script_step.get("answers"), answers_by_id),
                bool(script_step.get("isLast") if is_last is None else is_last), bool(operator_found))


def session_params(major: int, params: dict, script_id: int) -> dict:
    return {**params, "chatbot_script_id": script_id}


def session_step(major: int, result) -> Step | None:
    """The current step right after get_session (18/19; 17: None, see welcome_step)."""
    try:
        if major == 18:
            current = result["discuss.channel"][0]["chatbot"]["currentStep"]
            return _step_18(current["scriptStep"], current.get("message"), operator_found=current.get("operatorFound"))
        if major >= 19:
            store = result["store_data"]
            current = store["discuss.channel"][0]["chatbot"]["currentStep"]
            step = next(s for s in store["chatbot.script.step"] if s["id"] == current["scriptStep"])
            answers = {a["id"]: a for a in store.get("chatbot.script.answer") or ()}
            return Step(int(step["id"]), step.get("step_type") or "text", current.get("message"),
                        _answers(step.get("answer_ids"), answers), bool(step.get("is_last")),
                        bool(current.get("operatorFound")))
    except (KeyError, IndexError, TypeError, ValueError, StopIteration, AttributeError):
        return None
    return None


def welcome_step(result) -> Step | None:
    """17: the last of the messages ``/chatbot/post_welcome_steps`` posted."""
    try:
        message = result[-1]
        step = message["chatbotStep"]
        answers = _answers(step.get("answers"))
        return Step(int(step["id"]), "question_selection" if answers else "text", int(message["id"]), answers)
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def trigger_step(major: int, result) -> Step | None:
    """The step ``/chatbot/step/trigger`` moved to (17/18); None when the script is over (or on 19)."""
    if not isinstance(result, dict):
        return None
    try:
        if major == 17:
            step = result["chatbot_step"]
            return Step(int(step["id"]), step.get("type") or "text", int(result["chatbot_posted_message"]["id"]),
                        _answers(step.get("answers")), bool(step.get("isLast")), bool(step.get("operatorFound")))
        current = result["Chatbot"][0]["currentStep"]
        info = result["ChatbotStep"][0]
        script_step = next(s for s in result["chatbot.script.step"] if s["id"] == current["scriptStep"])
        answers = {a["id"]: a for a in result.get("chatbot.script.answer") or ()}
        return _step_18(script_step, current.get("message"), info.get("isLast"), info.get("operatorFound"), answers)
    except (KeyError, IndexError, TypeError, ValueError, StopIteration):
        return None


def bus_step(notifications, channel_id: int) -> Step | None:
    """19: the step ``/chatbot/step/trigger`` sent to the guest's bus, answers included: the newest
    ``mail.record/insert`` carrying this session's ``Chatbot`` (read with peek_notifications)."""
    for note in reversed(notifications if isinstance(notifications, list) else []):
        try:
            message = note["message"]
            if message["type"] != "mail.record/insert" or "Chatbot" not in message["payload"]:
                continue
            data = message["payload"]
            bots = [b for b in data["Chatbot"] if (b.get("thread") or {}).get("id") == channel_id]
            if not bots:
                continue
            current = bots[-1]["currentStep"]
            step = next(s for s in data["chatbot.script.step"] if s["id"] == current["scriptStep"])
            info: dict = next((i for i in data.get("ChatbotStep") or () if i.get("message") == current.get("message")), {})
            answers = {a["id"]: a for a in data.get("chatbot.script.answer") or ()}
            return Step(int(step["id"]), step.get("step_type") or "text", current.get("message"),
                        _answers(step.get("answer_ids"), answers), bool(info.get("isLast", step.get("is_last"))),
                        bool(info.get("operatorFound")))
        except (KeyError, TypeError, ValueError, StopIteration, AttributeError):
            continue
    return None


def messages_step(result) -> Step | None:
    """19: the newest step found among the session's messages (``cors/channel/messages``); no answers."""
    try:
        data = result.get("data") or result
        steps = {s["id"]: s for s in data.get("chatbot.script.step") or ()}
        infos = [i for i in data.get("ChatbotStep") or () if i.get("scriptStep") in steps]
        info = max(infos, key=lambda i: i["message"])
        step = steps[info["scriptStep"]]
        return Step(int(step["id"]), step.get("step_type") or "text", int(info["message"]), (),
                    bool(info.get("isLast")), bool(info.get("operatorFound")))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def route_params(major: int, channel_id: int, channel_uuid: str | None, **extra) -> dict:
    """17 names the session by uuid, 18/19 by id."""
    return {**({"channel_uuid": channel_uuid} if major < 18 else {"channel_id": channel_id}), **extra}


# ---------------------------------------------------------------------- the visitor's turn (pure)


def visitor_turn(running: state.Chatbot | None, closed: bool, text: str) -> tuple[str, Step | None, int | None]:
    """What a visitor message posted to a session does to the script running there: ``none`` (no
    script, or over, or the conversation closed), ``ask_again`` (a question with answer buttons and
    not one of them: Odoo's widget would not let it through; offer them again), or ``move`` (save the
    answer chosen, if any, then trigger the next steps). With the current step and the answer's id."""
    if running is None or running.done or closed:
        return "none", None, None
    step = Step.from_dict(running.step)
    answer = step.answer_for(text) if step and step.answers else None
    if step and step.type == "question_selection" and step.answers and answer is None:
        return "ask_again", step, None
    return "move", step, answer


def turn_over(step: Step | None) -> tuple[dict, bool]:
    """Where the script stopped after a turn: the patch of the session's record (the step, and
    whether the script is over), and whether answer buttons are to be offered."""
    done = step is None or step.operator_found or (step.type == "text" and step.is_last)
    return state.Session.patch(step=step.as_dict() if step else None, chatbot_done=done), bool(step and step.answers)
