"""A bot service for tests: a real HTTP server on a loopback port, in the test's event loop, whose
answers each test sets, and which keeps every request (raw body and headers) for checking."""
from __future__ import annotations

import asyncio
import base64
import json
from typing import Callable

from aiohttp import web

from tests.relayproc import free_port

BOT_SECRET = "whsec_" + base64.b64encode(b"relay-tests-bot-secret-000000001").decode()


def keywords(body: dict):
    """Like tools/example_bot: a handoff when the visitor asks for a person, else an echo."""
    text = body["message"]["text"]
    if any(w in text.lower() for w in ("human", "agent", "person")):
        return {"reply": "Let me find you a person.", "handoff": True, "reason": "asked for a person"}
    return {"reply": f"bot: {text}", "handoff": False}


class BotServer:
    def __init__(self, behave: Callable[[dict], object] = keywords):
        self.behave = behave
        self.port = free_port()
        self.requests: list[tuple[bytes, dict]] = []
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.requests.append((raw, dict(request.headers)))
        out = self.behave(json.loads(raw))
        if asyncio.iscoroutine(out):
            out = await out
        if isinstance(out, web.StreamResponse):
            return out
        if isinstance(out, bytes):
            return web.Response(body=out, content_type="application/json")
        return web.json_response(out)

    async def start(self) -> "BotServer":
        app = web.Application()
        app.router.add_post("/bot", self._handle)
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    def bodies(self) -> list[dict]:
        return [json.loads(raw) for raw, _ in self.requests]
