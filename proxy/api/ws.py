"""``GET /v1/conversations/{id}/ws``: hello, replay after ``after``, live events, pings (PROTOCOL §2).

One task sends (cursor → frames, and the periodic ping), the handler's own loop receives. A
client that is silent for a whole ``ping_interval`` after a ping is closed with 4408.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time

from aiohttp import WSMsgType, web

from proxy import keys
from proxy.api.common import dumps, limit
from proxy.api.conversations import _int_param
from proxy.api.middlewares import origin_allowed
from proxy.errors import ApiError, Forbidden, NotFound, StoreError, Unauthorized

log = logging.getLogger("relay.ws")
MAX_FRAME = 16 * 1024
CLOSE_TOKEN, CLOSE_UNKNOWN, CLOSE_NO_PONG, CLOSE_TOO_MANY = 4401, 4404, 4408, 4429
GOING_AWAY = 1001


class Connection:
    def __init__(self, request: web.Request, ws: web.WebSocketResponse, conversation_id: str):
        self.request, self.ws, self.conversation_id = request, ws, conversation_id
        self.lock = asyncio.Lock()
        self.last_heard = time.monotonic()

    async def send(self, frame: dict) -> None:
        async with self.lock:
            await self.ws.send_str(dumps(frame))


async def handler(request: web.Request) -> web.StreamResponse:
    app = request.app
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(request, origin):
        raise Forbidden(f"Origin {origin} is not allowed to use this relay.", code="origin_not_allowed")
    after = _int_param(request, "after", 0)
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, autoping=True)
    await ws.prepare(request)
    relay = app[keys.RELAY]
    try:
        conv = await relay.authorize(request.match_info["id"], request.query.get("token"))
    except Unauthorized as exc:
        await ws.close(code=CLOSE_TOKEN, message=exc.code.encode())
        return ws
    except NotFound as exc:
        await ws.close(code=CLOSE_UNKNOWN, message=exc.code.encode())
        return ws
    per_conv = [c for c in app[keys.WEBSOCKETS] if getattr(c, "conversation_id", None) == conv.id]
    if len(per_conv) >= app[keys.SETTINGS].max_ws_per_conversation:
        await ws.close(code=CLOSE_TOO_MANY, message=b"too_many_connections")
        return ws

    conn = Connection(request, ws, conv.id)
    ws.conversation_id = conv.id  # type: ignore[attr-defined]  # for the per-conversation count
    app[keys.WEBSOCKETS].add(ws)
    metrics = app[keys.METRICS]
    metrics.connections.labels("ws").inc()
    interval = app[keys.SETTINGS].ping_interval
    await conn.send({"type": "hello", "last_seq": conv.last_seq,
                     "ping_interval": int(interval) if interval == int(interval) else interval})
    cursor = relay.cursor(conv.id, after)
    pump = asyncio.create_task(_pump(conn, cursor, metrics))
    pinger = asyncio.create_task(_pinger(conn, interval))
    try:
        async for msg in ws:
            conn.last_heard = time.monotonic()
            if msg.type == WSMsgType.TEXT:
                await _on_frame(conn, msg.data)
            elif msg.type == WSMsgType.BINARY:
                await conn.send({"type": "error", "code": "bad_frame", "message": "Frames are JSON text."})
            elif msg.type == WSMsgType.ERROR:
                break
    finally:   # bookkeeping first: the awaits below may be cut short if this handler is cancelled
        cursor.close()
        app[keys.WEBSOCKETS].discard(ws)
        metrics.connections.labels("ws").dec()
        for task in (pump, pinger):
            task.cancel()
        await asyncio.gather(pump, pinger, return_exceptions=True)
    return ws


async def _pump(conn: Connection, cursor, metrics) -> None:
    try:
        while True:
            items = await cursor.next(None)
            for event, t0 in items:
                await conn.send({"type": "event", "event": event})
                if t0:
                    metrics.latency.labels("ws").observe(time.monotonic() - t0)
            metrics.events_out.labels("ws").inc(len(items))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # store down or socket gone: close and let the widget resume from its seq
        log.warning("ws pump stopped", extra={"conversation": conn.conversation_id, "reason": repr(exc)})
        await conn.ws.close(code=1011, message=b"relay_error")


async def _pinger(conn: Connection, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        sent_at = time.monotonic()
        await conn.send({"type": "ping"})
        await asyncio.sleep(interval)
        if conn.last_heard < sent_at:
            await conn.ws.close(code=CLOSE_NO_PONG, message=b"no_pong")
            return


async def _on_frame(conn: Connection, data: str) -> None:
    try:
        frame = json.loads(data)
    except (ValueError, RecursionError):
        await conn.send({"type": "error", "code": "invalid_json", "message": "Frames are JSON objects."})
        return
    kind = frame.get("type") if isinstance(frame, dict) else None
    if kind == "pong":
        return
    if kind == "ping":
        await conn.send({"type": "pong"})
        return
    if kind not in ("send", "typing"):
        await conn.send({"type": "error", "code": "unknown_frame",
                         "message": "Known frames: send, typing, ping, pong."})
        return
    app = conn.request.app
    relay = app[keys.RELAY]
    try:
        conv = await relay.store.get_conversation(conn.conversation_id)
        if conv is None:
            raise NotFound("This conversation no longer exists.", code="unknown_conversation")
        if kind == "send":
            limit(app[keys.RATE_CONVERSATION], conv.id, "messages in this conversation")
            event, _ = await relay.send(conv, frame.get("client_id"), frame.get("text"))
            await conn.send({"type": "ack", "client_id": frame.get("client_id"), "seq": event["seq"]})
        else:
            limit(app[keys.RATE_CONVERSATION], "typing:" + conv.id, "typing updates in this conversation")
            await relay.typing(conv, frame.get("typing"))
    except ApiError as exc:
        error = {"type": "error", "code": exc.code, "message": exc.message}
        if kind == "send" and isinstance(frame.get("client_id"), str):
            error["client_id"] = frame["client_id"]
        await conn.send(error)
    except StoreError:
        await conn.send({"type": "error", "code": "store_unavailable", "client_id": frame.get("client_id"),
                         "message": "The relay cannot store messages right now; retry."})
