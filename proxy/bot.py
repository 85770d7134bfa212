"""The bot in front of the operators (``RELAY_BOT_URL``): the signed request, the answer's schema,
and the transcript handed to the operator. The calls themselves are here; the decisions (when to
ask, when to hand off) are in ``proxy/handoff.py``.

Request: ``POST RELAY_BOT_URL``, JSON, signed the Standard Webhooks way with ``RELAY_BOT_SECRET``
(``webhook-id`` is the same on every retry of one visitor message)::

    {"type": "bot.message", "conversation_id": "c_…",
     "message": {"id": "relay:…", "seq": 3, "text": "…"},
     "history": [{"author": "visitor" | "bot", "text": "…"}, …],     # oldest first, this message excluded
     "visitor": {"name": "…", "lang": "fr", "page_url": "https://…"}}

Answer: 200 with ``{"reply": "…", "handoff": false}``, or ``{"handoff": true, "reason": "…"}``
(a reply may come with it). Optional ``html`` (sanitized like operator HTML) and ``name`` (the
bot's display name). Anything else — a timeout, a non-2xx, not JSON, off-schema — is a failure,
and a failure hands the visitor to a person.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable

import aiohttp

from proxy import events as ev
from proxy import jsonsafe, sanitize, signing

HISTORY = 20                  # earlier messages sent with each request
MAX_ANSWER_BYTES = 65536
DEFAULT_NAME = "Assistant"


class BotFailed(Exception):
    """The bot did not answer usably; ``reason`` says how (for logs and the handoff)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class BotAnswer:
    reply: str | None
    html: str | None
    handoff: bool
    reason: str | None
    name: str


def parse_answer(raw: bytes) -> BotAnswer:
    """Check the bot's answer; raise BotFailed for anything off-schema."""
    try:
        body = jsonsafe.loads(raw)
    except jsonsafe.UnsafeJSON as exc:
        raise BotFailed(f"answer: {exc.message}") from None
    if not isinstance(body, dict):
        raise BotFailed("answer is not a JSON object")
    handoff = body.get("handoff", False)
    if not isinstance(handoff, bool):
        raise BotFailed("handoff: must be true or false")
    reply = body.get("reply")
    if reply is not None and (not isinstance(reply, str) or len(reply) > ev.MAX_TEXT):
        raise BotFailed(f"reply: must be a string of at most {ev.MAX_TEXT} characters")
    reply = reply.strip() if reply else None
    html = body.get("html")
    if html is not None and (not isinstance(html, str) or len(html) > 4 * ev.MAX_TEXT):
        raise BotFailed("html: must be a string")
    if html:
        html = sanitize.clean_html(html)
        reply = reply or sanitize.html_to_text(html) or None
    if not reply and not handoff:
        raise BotFailed("neither a reply nor a handoff")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise BotFailed("reason: must be a string")
    name = body.get("name")
    name = name.strip()[:64] if isinstance(name, str) and name.strip() else DEFAULT_NAME
    return BotAnswer(reply, html or None, handoff, (reason or "")[:500] or None, name)


def history_of(events: Iterable[dict], before_seq: int, limit: int = HISTORY) -> list[dict]:
    """Visitor and bot lines before ``before_seq``, oldest first, the last ``limit`` of them."""
    lines = [{"author": e["message"]["author"]["kind"], "text": e["message"]["text"]}
             for e in events if e["type"] == "message" and e["seq"] < before_seq
             and e["message"]["author"]["kind"] in ("visitor", "bot")]
    return lines[-limit:]


def transcript(events: Iterable[dict], heading: str = "Conversation with the bot so far:") -> str | None:
    """The bot part of a conversation (or a message left while nobody was online), for the
    operator: one line per message, who said what. None when there is nothing to show."""
    lines = []
    for e in events:
        if e["type"] != "message":
            continue
        kind = e["message"]["author"]["kind"]
        who = (e["message"]["author"].get("name") or DEFAULT_NAME) + " (bot)" if kind == "bot" else "Visitor"
        if kind in ("visitor", "bot"):
            lines.append(f"{who}: {e['message']['text']}")
    if not lines:
        return None
    return heading + "\n" + "\n".join(lines)


def request_body(conv, event: dict, history: list[dict]) -> bytes:
    return json.dumps({
        "type": "bot.message",
        "conversation_id": conv.id,
        "message": {"id": event["message"]["id"], "seq": event["seq"], "text": event["message"]["text"]},
        "history": history,
        "visitor": {"name": conv.visitor_name or "", "lang": conv.lang, "page_url": conv.page_url},
    }, ensure_ascii=False).encode()


class BotClient:
    def __init__(self, http: aiohttp.ClientSession, url: str, secret: str, timeout: float):
        self.http, self.url, self.secret, self.timeout = http, url, secret, timeout

    async def ask(self, conv, event: dict, history: list[dict]) -> BotAnswer:
        body = request_body(conv, event, history)
        headers = signing.headers_for([self.secret], f"bot_{conv.id}_{event['seq']}", body)
        try:
            # never follow a redirect: a 307 would re-send the signed body elsewhere, a 302 turn into a GET
            async with self.http.post(self.url, data=body, headers=headers, allow_redirects=False,
                                      timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                if resp.status // 100 != 2:
                    raise BotFailed(f"HTTP {resp.status}" + (" (redirects are not followed)"
                                                             if resp.status // 100 == 3 else ""))
                raw = await read_capped(resp.content, MAX_ANSWER_BYTES)
        except TimeoutError:
            raise BotFailed(f"no answer within {self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise BotFailed(f"unreachable ({exc.__class__.__name__})") from None
        if raw is None:
            raise BotFailed("answer too large")
        return parse_answer(raw)


async def read_capped(stream: aiohttp.StreamReader, cap: int) -> bytes | None:
    """The whole body, however many chunks it comes in; None as soon as it passes ``cap`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await stream.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
