"""The bot's answers, the history sent with each request and the transcript for the operator:
pure functions, no sockets."""
from __future__ import annotations

import json

import pytest

from proxy import events as ev
from proxy.bot import BotFailed, history_of, parse_answer, transcript


def msg(seq: int, kind: str, text: str, name: str = "") -> dict:
    return {**ev.new_event("message", message={"id": f"m{seq}", "author": {"kind": kind, "name": name},
                                               "text": text, "html": "", "attachments": [], "client_id": None}),
            "seq": seq}


def test_a_reply_and_a_handoff():
    a = parse_answer(b'{"reply": " Hello ", "handoff": false}')
    assert (a.reply, a.handoff, a.reason, a.name, a.html) == ("Hello", False, None, "Assistant", None)
    b = parse_answer(json.dumps({"handoff": True, "reason": "asked", "name": "Shop bot"}).encode())
    assert (b.reply, b.handoff, b.reason, b.name) == (None, True, "asked", "Shop bot")


def test_html_is_sanitized_and_gives_the_text():
    a = parse_answer(json.dumps({"html": "<p>Hi <b>you</b><script>x()</script></p>"}).encode())
    assert a.html == "<p>Hi <b>you</b></p>" and a.reply == "Hi you"


@pytest.mark.parametrize("raw", [b"", b"nope", b"[]", b'"x"', b"{}", b'{"reply": ""}', b'{"reply": 1}',
                                 b'{"reply": "x", "handoff": 1}', b'{"reply": "x", "reason": 5}',
                                 json.dumps({"reply": "x" * 4001}).encode()])
def test_garbage_is_a_failure(raw):
    with pytest.raises(BotFailed):
        parse_answer(raw)


def test_history_and_transcript():
    events = [{**ev.status("bot", "hi"), "seq": 1}, msg(2, "visitor", "where is my order?"),
              msg(3, "bot", "Which number?", "Shop bot"), msg(4, "visitor", "42, and I want a person")]
    assert history_of(events, 4) == [{"author": "visitor", "text": "where is my order?"},
                                     {"author": "bot", "text": "Which number?"}]
    assert history_of(events, 4, limit=1) == [{"author": "bot", "text": "Which number?"}]
    assert transcript(events) == ("Conversation with the bot so far:\nVisitor: where is my order?\n"
                                  "Shop bot (bot): Which number?\nVisitor: 42, and I want a person")
    assert transcript(events[:1]) is None
