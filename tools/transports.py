"""The widget's three transports as measuring clients: WebSocket, long polling, short polling.

Each follows one conversation the way the widget does (PROTOCOL §2) and hands every event to
``on_event(event, arrived_at)`` (``time.perf_counter()`` when the frame or the response was read).
After an error it reconnects with a short backoff (honouring ``Retry-After``) and resumes after the
last ``seq`` it saw, as the widget does, so a reconnect loses nothing and doubles nothing; errors
and reconnects are counted for the report.
"""
from __future__ import annotations

import asyncio
import collections
import json
import random
import time
from collections.abc import Callable

import aiohttp

from tools.widget_client import LONGPOLL_WAIT, POLL_INTERVAL, RelayError, WidgetClient

OnEvent = Callable[[dict, float], None]
BACKOFF_MIN, BACKOFF_MAX = 0.2, 2.0


class Transport:
    """Base: the reconnect loop, the cursor and the counters; subclasses implement ``follow``."""

    mode = ""

    def __init__(self, client: WidgetClient, conv: dict, on_event: OnEvent):
        self.client, self.conv, self.on_event = client, conv, on_event
        self.cursor = conv["last_seq"]
        self.connects = 0
        self.errors: collections.Counter[str] = collections.Counter()

    @property
    def reconnects(self) -> int:
        """Times the transport got going again after an error."""
        return max(0, self.connects - 1)

    def deliver(self, event: dict, arrived_at: float) -> None:
        seq = event.get("seq")
        if isinstance(seq, int):
            self.cursor = max(self.cursor, seq)
        self.on_event(event, arrived_at)

    async def run(self) -> None:
        """Follow the conversation until cancelled (``follow`` only ever ends by raising)."""
        failures = 0
        while True:
            connects = self.connects
            retry_after = None
            try:
                await self.follow()
                key = "ended"
            except RelayError as exc:
                key, retry_after = _error_key(exc), exc.retry_after
            except (TimeoutError, aiohttp.ClientError, ConnectionError, ValueError) as exc:
                key = type(exc).__name__
            self.errors[key] += 1
            failures = 1 if self.connects > connects else failures + 1
            await asyncio.sleep(retry_after or _backoff(failures))

    async def follow(self) -> None:
        raise NotImplementedError


class WebSocketTransport(Transport):
    """``GET …/ws?after=cursor``: hello, then event frames; pings answered with pongs."""

    mode = "ws"

    async def follow(self) -> None:
        ws, _hello = await self.client.open_ws(self.conv, after=self.cursor)
        self.connects += 1
        try:
            async for msg in ws:
                arrived = time.perf_counter()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                if frame.get("type") == "event":
                    self.deliver(frame["event"], arrived)
                elif frame.get("type") == "ping":
                    await ws.send_str('{"type":"pong"}')
            raise RelayError(f"WebSocket closed by the relay (code {ws.close_code})", code=ws.close_code)
        finally:
            await ws.close()


class PollingTransport(Transport):
    """``GET …/events?after=cursor&wait=W`` in a loop, ``pause`` seconds between answers."""

    def __init__(self, client: WidgetClient, conv: dict, on_event: OnEvent, wait: float, pause: float):
        super().__init__(client, conv, on_event)
        self.wait, self.pause = wait, pause

    async def follow(self) -> None:
        answered = False
        while True:
            body = await self.client.events(self.conv, self.cursor, self.wait)
            arrived = time.perf_counter()
            if not answered:          # counted like a WebSocket: once per working connection
                answered = True
                self.connects += 1
            for event in body["events"]:
                self.deliver(event, arrived)
            if body.get("reset"):
                self.cursor = body["last_seq"]
            if self.pause:
                await asyncio.sleep(self.pause)


class LongPollTransport(PollingTransport):
    mode = "longpoll"

    def __init__(self, client: WidgetClient, conv: dict, on_event: OnEvent, wait: float = LONGPOLL_WAIT):
        super().__init__(client, conv, on_event, wait=wait, pause=0)


class ShortPollTransport(PollingTransport):
    mode = "poll"

    def __init__(self, client: WidgetClient, conv: dict, on_event: OnEvent, interval: float = POLL_INTERVAL):
        super().__init__(client, conv, on_event, wait=0, pause=interval)


MODES = {"ws": WebSocketTransport, "longpoll": LongPollTransport, "poll": ShortPollTransport}


async def stop(tasks: list[asyncio.Task], timeout: float = 5.0) -> None:
    """Cancel the transports' tasks and wait for them, cancelling again any that lived on (a
    cancellation can be lost in a library's timeout handling); never waits more than ``timeout``."""
    deadline = time.monotonic() + timeout
    pending = [t for t in tasks if not t.done()]
    while pending and time.monotonic() < deadline:
        for t in pending:
            t.cancel()
        _, still = await asyncio.wait(pending, timeout=min(0.5, max(0.01, deadline - time.monotonic())))
        pending = list(still)


def _error_key(exc: RelayError) -> str:
    if exc.status:
        return f"HTTP {exc.status}" + (f" {exc.code}" if exc.code else "")
    if isinstance(exc.code, int):
        return f"close {exc.code}"
    return str(exc)[:100]


def _backoff(failures: int) -> float:
    """Full jitter, as the widget, but short: a measurement should not sleep for long."""
    return random.uniform(BACKOFF_MIN, min(BACKOFF_MAX, BACKOFF_MIN * 2 ** failures))
