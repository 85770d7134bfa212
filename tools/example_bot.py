"""A small bot service to run beside the relay: the template for plugging in a real AI service.

    python -m tools.example_bot --listen 127.0.0.1:8090 --secret whsec_…
    RELAY_BOT_URL=http://127.0.0.1:8090/bot RELAY_BOT_SECRET=whsec_… python -m proxy

The relay POSTs each visitor message (while the conversation is with the bot) to ``/bot``, signed
the Standard Webhooks way with the shared secret; this service checks the signature with the
reference ``standardwebhooks`` library, then answers ``{"reply": "…", "handoff": false}`` or
``{"reply": "…", "handoff": true, "reason": "…"}``. To use a real AI service, replace ``answer()``:
it gets the visitor's text and the recent history (``[{"author": "visitor"|"bot", "text"}]``)
and returns the reply and whether a person should take over. Keep it under the relay's
``RELAY_BOT_TIMEOUT`` (8 s by default): a slower answer hands the visitor to a person anyway.
The request's ``webhook-id`` is the same when the relay asks again about the same message (after a
restart), so an expensive answer can be cached by it.
"""
from __future__ import annotations

import argparse
import json
import os
import re

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

HANDOFF_WORDS = re.compile(r"\b(human|agent|person|operator|someone real)\b", re.I)
RULES = (   # (pattern, reply): the first match answers
    (re.compile(r"\b(hello|hi|hey|bonjour|good (morning|afternoon|evening))\b", re.I),
     "Hello! I am the shop's assistant. Ask me about opening hours, delivery or returns; "
     "say \"person\" to talk to someone."),
    (re.compile(r"\b(hours?|open|opening|closed?)\b", re.I), "We are open Monday to Friday, 9:00 to 18:00."),
    (re.compile(r"\b(deliver(y|ies)?|shipping|ship)\b", re.I), "Delivery takes 2 to 4 working days, free above 50 €."),
    (re.compile(r"\b(return|refund|exchange)\b", re.I), "You can return any item within 30 days for a full refund."),
    (re.compile(r"\b(price|cost|how much)\b", re.I), "Prices are on each product page, taxes included."),
)
FALLBACK = "I am not sure I understood. Could you rephrase? You can also ask for a person."
NAME = "Shop assistant"


def answer(text: str, history: list[dict]) -> dict:
    """The bot's logic: keyword rules, and a handoff when the visitor asks for a person (or after
    two answers in a row it could not give). Replace this with a call to your AI service."""
    if HANDOFF_WORDS.search(text):
        return {"reply": "Of course, let me find you a person.", "handoff": True, "reason": "visitor asked for a person"}
    for pattern, reply in RULES:
        if pattern.search(text):
            return {"reply": reply, "handoff": False}
    misses = sum(1 for line in history[-2:] if line.get("author") == "bot" and line.get("text") == FALLBACK)
    if misses >= 1:
        return {"reply": "Let me get you a person who can help.", "handoff": True, "reason": "the bot did not understand twice"}
    return {"reply": FALLBACK, "handoff": False}


def make_app(secret: str) -> web.Application:
    hook = Webhook(secret)

    async def bot(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = hook.verify(raw.decode(), dict(request.headers))   # ±5 min, constant time
        except (WebhookVerificationError, ValueError, UnicodeDecodeError):
            return web.json_response({"error": "bad signature"}, status=401)
        if not isinstance(body, dict) or body.get("type") != "bot.message":
            return web.json_response({"error": "unknown request"}, status=400)
        out = answer(str(body["message"]["text"]), body.get("history") or [])
        return web.json_response({**out, "name": NAME})

    app = web.Application(client_max_size=256 * 1024)
    app.router.add_post("/bot", bot)
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.example_bot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:8090", help="host:port (default 127.0.0.1:8090)")
    parser.add_argument("--secret", default=os.environ.get("RELAY_BOT_SECRET"),
                        help="the whsec_… secret shared with the relay (default: $RELAY_BOT_SECRET)")
    args = parser.parse_args(argv)
    if not args.secret or not args.secret.startswith("whsec_"):
        parser.error("--secret whsec_… (or RELAY_BOT_SECRET) is required")
    host, _, port = args.listen.rpartition(":")
    print(json.dumps({"bot": f"http://{host}:{port}/bot"}), flush=True)
    web.run_app(make_app(args.secret), host=host or "127.0.0.1", port=int(port), print=None)


if __name__ == "__main__":
    main()
