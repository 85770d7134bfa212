"""A quick end-to-end check of a deployed relay, as a visitor's widget would use it.

    python -m tools.smoke https://relay.example.com [--origin https://shop.example] [--timeout 5] [--json]

Checks, each printed ✓ or ✗ with a one-line reason and the time it took: ``/healthz``; creating a
conversation (with the ``Origin`` of the page that embeds the widget); the WebSocket ``hello``;
a WebSocket ``ping`` answered by ``pong``; a long poll that is held and returns within its
``wait``; a short poll that answers at once. The conversation is closed at the end (against Odoo
it is a real livechat session). Exit status 0 when every check passes, 1 otherwise. Each check
gives up after ``--timeout`` seconds, so the command never hangs.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import time

import aiohttp

from tools.widget_client import RelayError, WidgetClient, frame_of

LONGPOLL_PROBE_WAIT = 1.0     # seconds the long-poll check asks the relay to hold the request


class CheckFailed(Exception):
    """A check's answer was not the protocol's; the text says what was wrong."""


@dataclasses.dataclass
class Result:
    name: str
    ok: bool
    reason: str
    seconds: float


class Smoke:
    """The checks against one relay; they share the conversation and the WebSocket."""

    def __init__(self, client: WidgetClient, timeout: float):
        self.client, self.timeout = client, timeout
        self.conv: dict | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def health(self) -> str:
        try:
            status, body = await self.client.request("GET", "/healthz", timeout=self.timeout)
        except RelayError as exc:
            if exc.status == 503:
                raise CheckFailed(f"unhealthy (HTTP 503): {exc}") from None
            if exc.status and exc.code is None:
                raise CheckFailed(f"{exc}: is this the relay's URL?") from None
            raise
        if not isinstance(body, dict) or "status" not in body:
            raise CheckFailed(f"HTTP {status} but not the relay's health JSON: {str(body)[:60]!r} (is this the relay's URL?)")
        if body["status"] != "ok":
            raise CheckFailed(f"status {body['status']!r}: {', '.join(body.get('problems', [])) or 'no reason given'}")
        return f"ok: {body.get('mode', '?')} mode, {body.get('store', '?')} store, relay {body.get('version', '?')}"

    async def conversation(self) -> str:
        try:
            self.conv = await self.client.create(visitor_name="tools.smoke")
        except RelayError as exc:
            if exc.code == "origin_not_allowed":
                raise CheckFailed(f"{exc} (pass --origin with an origin in RELAY_ALLOWED_ORIGINS)") from None
            raise
        return f"created {self.conv['conversation_id']}, last_seq {self.conv['last_seq']}"

    async def ws_hello(self) -> str:
        conv = self._conv()
        self.ws, hello = await self.client.open_ws(conv, timeout=self.timeout)
        if hello.get("last_seq") != conv["last_seq"]:
            raise CheckFailed(f"hello says last_seq {hello.get('last_seq')}, the conversation {conv['last_seq']}")
        return f"hello, last_seq {hello['last_seq']}, server ping every {hello.get('ping_interval', '?')} s"

    async def ws_ping(self) -> str:
        if self.ws is None:
            raise CheckFailed("not run: no WebSocket")
        await self.ws.send_str('{"type":"ping"}')
        while True:
            msg = await self.ws.receive()
            frame = frame_of(msg)
            if frame is None:
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING,
                                aiohttp.WSMsgType.ERROR):
                    raise CheckFailed(f"WebSocket closed before the pong (code {self.ws.close_code})")
                continue
            if frame.get("type") == "pong":
                return "pong"
            if frame.get("type") == "ping":        # the relay's own ping: answer it, keep waiting
                await self.ws.send_str('{"type":"pong"}')

    async def longpoll(self) -> str:
        conv = self._conv()
        t0 = time.perf_counter()
        body = await self.client.events(conv, conv["last_seq"], LONGPOLL_PROBE_WAIT)
        held = time.perf_counter() - t0
        if body["events"]:
            return f"answered after {held:.2f} s with {len(body['events'])} event(s)"
        if held < LONGPOLL_PROBE_WAIT * 0.8:
            raise CheckFailed(f"answered empty after {held:.2f} s: the request was not held for wait={LONGPOLL_PROBE_WAIT:g}")
        return f"held {held:.2f} s (wait={LONGPOLL_PROBE_WAIT:g}), answered empty"

    async def poll(self) -> str:
        body = await self.client.events(self._conv(), 0, 0)
        seqs = [e.get("seq") for e in body["events"] if e.get("seq") is not None]
        if body["last_seq"] < 1 or not seqs or seqs != list(range(1, len(seqs) + 1)):
            raise CheckFailed(f"expected the conversation's events from seq 1, got seqs {seqs[:5]}, "
                              f"last_seq {body['last_seq']}")
        return f"{len(seqs)} event(s), last_seq {body['last_seq']}"

    def _conv(self) -> dict:
        if self.conv is None:
            raise CheckFailed("not run: no conversation")
        return self.conv

    async def close(self) -> None:
        """Close the WebSocket, and the conversation (so that no operator is left waiting on it)."""
        if self.ws is not None:
            await self.ws.close()
        if self.conv is not None:
            with contextlib.suppress(RelayError):
                await self.client.request("POST", f"/v1/conversations/{self.conv['conversation_id']}/close",
                                          self.conv["token"], timeout=self.timeout)


CHECKS = (("health", Smoke.health), ("conversation", Smoke.conversation), ("ws hello", Smoke.ws_hello),
          ("ws ping/pong", Smoke.ws_ping), ("long poll", Smoke.longpoll), ("short poll", Smoke.poll))
WEBSOCKET_CHECKS = ("conversation", "ws hello", "ws ping/pong")


async def run(url: str, origin: str | None = None, timeout: float = 5.0,
              only: tuple[str, ...] | None = None) -> list[Result]:
    results = []
    session_timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout)
    async with aiohttp.ClientSession(timeout=session_timeout) as http:
        smoke = Smoke(WidgetClient(http, url, origin), timeout)
        try:
            for name, check in CHECKS:
                if only is not None and name not in only:
                    continue
                limit = timeout + (LONGPOLL_PROBE_WAIT if check is Smoke.longpoll else 0)
                t0 = time.perf_counter()
                try:
                    async with asyncio.timeout(limit):
                        reason, ok = await check(smoke), True
                except TimeoutError:
                    reason, ok = f"no answer within {limit:g} s", False
                except (CheckFailed, RelayError) as exc:
                    reason, ok = str(exc), False
                except (aiohttp.ClientError, ConnectionError) as exc:
                    reason, ok = f"{type(exc).__name__}: {exc}", False
                results.append(Result(name, ok, reason, round(time.perf_counter() - t0, 3)))
        finally:
            await smoke.close()
    return results


def render(results: list[Result]) -> str:
    width = max(len(r.name) for r in results)
    lines = [f"{'✓' if r.ok else '✗'} {r.name:<{width}}  {r.seconds * 1000:7.0f} ms  {r.reason}" for r in results]
    passed = sum(r.ok for r in results)
    lines.append(f"{passed}/{len(results)} checks passed")
    return "\n".join(lines)


def main(argv: list[str] | None = None, only: tuple[str, ...] | None = None, prog: str = "python -m tools.smoke") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("url", help="the relay's base URL, e.g. https://relay.example.com")
    p.add_argument("--origin", help="Origin of the page embedding the widget (default: the relay's own)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds each check may take (default 5)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args(argv)
    if not args.url.startswith(("http://", "https://")) or args.timeout <= 0:
        p.error("URL: http(s)://host[:port]; --timeout: positive seconds")
    results = asyncio.run(run(args.url, args.origin, args.timeout, only))
    ok = all(r.ok for r in results)
    if args.json:
        print(json.dumps({"relay": args.url, "ok": ok, "checks": [dataclasses.asdict(r) for r in results]}, indent=2))
    else:
        print(render(results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
