"""``tools.probe --roundtrip``: visitor → operator → visitor through a relay, on a real Odoo.

For each of the ``bus`` and ``poll`` reply modes a relay is started in this process (its own
SQLite file in a temporary directory, a free loopback port) against the probed Odoo; with
``--relay`` the deployed relay is measured too, in whatever mode it runs. Each run opens one test
conversation through the relay's widget API, posts a visitor message (timed until it is in Odoo),
answers it as the operator by RPC (timed until the reply reaches the visitor's WebSocket), and
closes the conversation, which leaves the Odoo session.
"""
from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from tools.odoo_client import Odoo

if TYPE_CHECKING:
    from tools.probe import Probe

MODES = ("bus", "poll")


async def roundtrip(probe: Probe) -> None:
    args = probe.args
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if args.json else \
        (lambda text: print(text, file=probe.out, flush=True))
    say(f"--roundtrip: opening a real test conversation in {probe.url} (livechat channel {args.livechat_channel}); "
        f"{args.login} joins that channel and goes online; the session is closed at the end.")
    odoo = Odoo(probe.url, probe.facts.db, args.login, args.password, args.livechat_channel)
    try:
        await asyncio.wait_for(asyncio.to_thread(_operator_ready, odoo), probe.timeout * 3)
    except Exception as exc:   # noqa: BLE001 — any failure is reported, the probe goes on
        probe.roundtrip["operator"] = {"error": f"could not log in and go online as {args.login}: {exc}"}
        return
    budget = max(30.0, probe.timeout * 6)
    targets = [(mode, None) for mode in MODES] + ([("relay", args.relay.rstrip("/"))] if args.relay else [])
    for mode, url in targets:
        try:
            if url is None:
                result = await asyncio.wait_for(_through_own_relay(odoo, mode, probe), budget)
            else:
                result = await asyncio.wait_for(_through(odoo, url, probe.timeout), budget)
        except TimeoutError:
            result = {"error": f"no reply within {budget:g} s"}
        except Exception as exc:   # noqa: BLE001
            result = {"error": f"{type(exc).__name__}: {exc}"}
        probe.roundtrip[mode] = result
        if "error" in result:
            say(f"✗ round trip via {mode}: {result['error']}")
        else:
            say(f"✓ round trip via {mode}: visitor → operator {result['visitor_to_operator_ms']:.0f} ms, "
                f"operator → visitor {result['operator_to_visitor_ms']:.0f} ms")


def _operator_ready(odoo: Odoo) -> None:
    odoo.start()
    odoo.operator_online()


async def _through_own_relay(odoo: Odoo, mode: str, probe: Probe) -> dict:
    from proxy.app import make_app
    from proxy.config import Settings

    with tempfile.TemporaryDirectory(prefix="probe-relay-") as tmp:
        settings = Settings(listen=("127.0.0.1", 0), store=f"sqlite:///{tmp}/relay.db", odoo_url=probe.url,
                            odoo_db=odoo.db, odoo_livechat_channel_id=odoo.livechat_channel,
                            odoo_replies=mode).validate()
        runner = web.AppRunner(make_app(settings), access_log=None, handler_cancellation=True)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            return await _through(odoo, f"http://127.0.0.1:{port}", probe.timeout)
        finally:
            await runner.cleanup()


async def _through(odoo: Odoo, relay: str, timeout: float) -> dict:
    marker = "probe-" + uuid.uuid4().hex[:12]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout * 3)) as http:
        async with http.post(relay + "/v1/conversations", json={"visitor_name": "Relay probe"}) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 201:
                return {"error": f"the relay answered {resp.status} {body.get('error') if isinstance(body, dict) else ''}"
                                 f" when opening the conversation"}
        conv, token = body["conversation_id"], body["token"]
        auth = {"Authorization": "Bearer " + token}
        try:
            ws_url = relay.replace("http", "ws", 1) + f"/v1/conversations/{conv}/ws?token={token}&after=0"
            async with http.ws_connect(ws_url, heartbeat=None) as ws:
                sent = time.perf_counter()
                async with http.post(f"{relay}/v1/conversations/{conv}/messages", headers=auth,
                                     json={"client_id": marker, "text": f"Round trip test {marker}"}) as resp:
                    if resp.status not in (200, 201):
                        return {"error": f"posting the visitor message: HTTP {resp.status}"}
                channel_id = await _wait_in_odoo(odoo, marker, timeout * 3)
                in_odoo = time.perf_counter()
                replied = time.perf_counter()
                await asyncio.to_thread(odoo.operator_reply, channel_id, f"<p>Reply to {marker}</p>")
                await _wait_reply(ws, marker)
                arrived = time.perf_counter()
        finally:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.post(f"{relay}/v1/conversations/{conv}/close", headers=auth) as resp:
                    await resp.read()
    return {"visitor_to_operator_ms": round((in_odoo - sent) * 1000, 1),
            "operator_to_visitor_ms": round((arrived - replied) * 1000, 1), "odoo_channel_id": channel_id}


async def _wait_in_odoo(odoo: Odoo, marker: str, timeout: float) -> int:
    """The Odoo session id once the visitor's message is in it (checked every 50 ms)."""
    deadline = time.monotonic() + timeout
    domain = [["model", "=", "discuss.channel"], ["body", "ilike", marker]]
    while time.monotonic() < deadline:
        rows = await asyncio.to_thread(odoo.execute, "mail.message", "search_read", [domain], {"fields": ["res_id"]})
        if rows:
            return rows[0]["res_id"]
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the visitor's message was not in Odoo after {timeout:g} s")


async def _wait_reply(ws: aiohttp.ClientWebSocketResponse, marker: str) -> None:
    async for frame in ws:
        if frame.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"the relay's WebSocket closed ({ws.close_code})")
        data = frame.json()
        if data.get("type") == "ping":
            await ws.send_json({"type": "pong"})
        event = data.get("event") or {} if data.get("type") == "event" else {}
        message = event.get("message") or {}
        if event.get("type") == "message" and message.get("author", {}).get("kind") != "visitor" \
                and marker in (message.get("text") or ""):
            return
    raise ConnectionError(f"the relay's WebSocket closed ({ws.close_code})")
