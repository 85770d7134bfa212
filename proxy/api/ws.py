"""``GET /v1/conversations/{id}/ws``: hello, replay after ``after``, live events, pings (PROTOCOL §2).

Per connection: the handler's loop receives, one task sends (cursor → frames). One app-wide task
pings every connection each ``ping_interval`` and closes with 4408 those silent since the last
ping, so an idle socket costs no timer of its own. Frames are written without a lock: aiohttp
writes each frame with no await in the middle of it, so concurrent sends never interleave; the fan-out
fast path writes its frames beside aiohttp's through api/wsframe.py, which says why that is safe.
The cursor is hub.py's: this module never moves it (``Cursor.write_directly``, ``take_reset``).
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable

from aiohttp import WSCloseCode, WSMsgType, web

from proxy import jsonsafe, keys, tokens
from proxy.api import wsframe
from proxy.api.common import int_param, limit
from proxy.api.middlewares import origin_allowed
from proxy.errors import ApiError, Forbidden, NotFound, StoreError, Unauthorized
from proxy.events import dumps
from proxy.hub import Cursor, Item, event_frame
from proxy.metrics import Metrics

log = logging.getLogger("relay.ws")
MAX_FRAME = 16 * 1024
CLOSE_TOKEN, CLOSE_UNKNOWN, CLOSE_NO_PONG, CLOSE_TOO_MANY = 4401, 4404, 4408, 4429
CLOSE_TOO_SLOW = 4409     # the widget did not read its frames in time: it reconnects with after=N
CLOSE_RESET = 1012        # the widget passed on an event the store did not keep: it reconnects, hello says reset
PING = '{"type":"ping"}'
PONG = '{"type":"pong"}'


class Connection:
    __slots__ = ("request", "ws", "conversation_id", "last_heard", "pinged_at", "__weakref__")

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, conversation_id: str):
        self.request, self.ws, self.conversation_id = request, ws, conversation_id
        self.last_heard = time.monotonic()
        self.pinged_at = 0.0

    async def send(self, frame: dict | str) -> None:
        await self.ws.send_str(frame if isinstance(frame, str) else dumps(frame))


PER_CONVERSATION = web.AppKey("ws_per_conversation", collections.Counter)
# [the last event frame written by the fast path, frames written for it not yet counted]
LAST_OBSERVED = web.AppKey("ws_last_observed", list)


async def handler(request: web.Request) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(request, origin):
        raise Forbidden(f"Origin {origin} is not allowed to use this relay.", code="origin_not_allowed")
    after = int_param(request, "after", 0)
    # no permessage-deflate: chat frames are small, and the fan-out fast path writes frames as is
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, autoping=True, compress=False)
    await ws.prepare(request)
    try:
        await _serve(request, ws, after)
    except asyncio.CancelledError:
        raise
    except Exception:   # after the upgrade nothing may reach aiohttp: it would write HTTP into the socket
        log.exception("ws handler failed", extra={"path": request.path})
        if not ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"relay_error"), 2)
    return ws


async def _serve(request: web.Request, ws: web.WebSocketResponse, after: int) -> None:
    app = request.app
    relay = app[keys.RELAY]
    token = request.query.get("token")
    try:
        conv = await relay.authorize(request.match_info["id"], token)
        expires_at = tokens.verify(relay.token_key, token or "", conv.id)
    except Unauthorized as exc:
        await ws.close(code=CLOSE_TOKEN, message=exc.code.encode())
        return
    except NotFound as exc:
        await ws.close(code=CLOSE_UNKNOWN, message=exc.code.encode())
        return
    except StoreError:     # the store is away (Redis down): the widget reconnects with backoff
        await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"store_unavailable")
        return
    counts = app[PER_CONVERSATION]
    if counts[conv.id] >= app[keys.SETTINGS].max_ws_per_conversation:
        await ws.close(code=CLOSE_TOO_MANY, message=b"too_many_connections")
        return

    conn = Connection(request, ws, conv.id)
    counts[conv.id] += 1
    app[keys.WEBSOCKETS].add(conn)
    metrics = app[keys.METRICS]
    metrics.connections.labels("ws").inc()
    interval = app[keys.SETTINGS].ping_interval
    cursor = relay.cursor(conv.id, after)
    if request.transport is not None:
        cursor.write_directly(_direct_writer(request.app, request.transport, ws, metrics))
    pump = None
    # the token is checked for as long as the socket lives: at its expiry the socket closes with 4401
    expiry = asyncio.get_running_loop().call_later(
        max(0.0, expires_at - time.time()), lambda: asyncio.ensure_future(_expire(conn)))
    try:
        try:   # the replay is read before the hello, which says whether the widget must start over
            first = await cursor.next(0)
        except StoreError:
            await _close(conn, WSCloseCode.INTERNAL_ERROR, b"store_unavailable")
            return
        hello = {"type": "hello", "last_seq": conv.last_seq,
                 "ping_interval": int(interval) if interval == int(interval) else interval}
        if cursor.take_reset():   # after=N is ahead of the store, purged, or a seq shown for a lost event
            hello["reset"] = True
        await conn.send(hello)
        pump = asyncio.create_task(_pump(conn, cursor, metrics, first))
        async for msg in ws:
            conn.last_heard = time.monotonic()
            if msg.type == WSMsgType.TEXT:
                try:
                    await _on_frame(conn, msg.data)
                except asyncio.CancelledError:
                    raise
                except Exception:   # never let an exception reach aiohttp after the upgrade
                    log.exception("ws frame failed", extra={"conversation": conn.conversation_id})
                    await _close(conn, WSCloseCode.INTERNAL_ERROR, b"relay_error")
                    break
            elif msg.type == WSMsgType.BINARY:
                await conn.send({"type": "error", "code": "bad_frame", "message": "Frames are JSON text."})
            elif msg.type == WSMsgType.ERROR:
                break
    finally:   # bookkeeping first: the await below may be cut short if this handler is cancelled
        expiry.cancel()
        cursor.close()
        app[keys.WEBSOCKETS].discard(conn)
        counts[conv.id] -= 1
        if counts[conv.id] <= 0:
            del counts[conv.id]
        metrics.connections.labels("ws").dec()
        if pump is not None:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)


def flush_metrics(app: web.Application) -> None:
    """Count the fast path's frames not yet counted (called before /metrics answers)."""
    observed = app[LAST_OBSERVED]
    if observed[1]:
        app[keys.METRICS].events_out.labels("ws").inc(observed[1])
        observed[1] = 0


def _direct_writer(app: web.Application, transport: asyncio.Transport, ws: web.WebSocketResponse,
                   metrics: Metrics) -> Callable[[Item], bool]:
    """Fan-out fast path (``Cursor.write_directly``): when this socket's pump is parked with
    nothing queued and the event is the next one in order, its frame goes straight to the
    transport (no task switch; the frames of one loop turn in one ``write`` per socket, wsframe.py).
    Anything else — a gap, a busy or slow socket, a closing one — falls back to the queue and the
    pump, which keep every guarantee."""
    writer = wsframe.DirectWriter(transport, asyncio.get_running_loop())
    out = metrics.events_out.labels("ws")
    latency = metrics.latency.labels("ws")
    observed = app[LAST_OBSERVED]

    def deliver(item: Item) -> bool:
        event, t0, frame = item
        if frame is None or ws.closed or not writer.write(frame):
            return False
        if observed[0] is not frame:          # a new event: count the last one's frames at once, and
            if observed[1]:                   # take one latency sample per event, not per socket (the
                out.inc(observed[1])          # sockets of one event are written in the same turn)
            observed[0], observed[1] = frame, 0
            if t0:
                latency.observe(time.monotonic() - t0)
        observed[1] += 1
        return True
    return deliver


async def _send_items(conn: Connection, items, metrics) -> None:
    latency = metrics.latency.labels("ws")
    send_timeout = conn.request.app[keys.SETTINGS].ws_send_timeout
    for event, t0, frame in items:
        # a frame waits only when the socket's buffers are full: the reader is not reading
        await asyncio.wait_for(conn.ws.send_str(frame or event_frame(event)), send_timeout)
        if t0:
            latency.observe(time.monotonic() - t0)
    metrics.events_out.labels("ws").inc(len(items))


async def _pump(conn: Connection, cursor: Cursor, metrics: Metrics, items: list) -> None:
    try:
        while True:
            await _send_items(conn, items, metrics)
            items = await cursor.next(None)
            if cursor.reset:   # an event this widget has was not kept (a failed commit): it starts over
                log.warning("ws reset", extra={"conversation": conn.conversation_id, "seq": cursor.last})
                await _close(conn, CLOSE_RESET, b"reset")
                return
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        log.warning("ws reader too slow", extra={"conversation": conn.conversation_id, "seq": cursor.last})
        await _close(conn, CLOSE_TOO_SLOW, b"too_slow")
    except Exception as exc:  # store down or socket gone: close and let the widget resume from its seq
        log.warning("ws pump stopped", extra={"conversation": conn.conversation_id, "reason": repr(exc)})
        await _close(conn, WSCloseCode.INTERNAL_ERROR, b"relay_error")


async def _expire(conn: Connection) -> None:
    log.info("ws token expired", extra={"conversation": conn.conversation_id})
    await _close(conn, CLOSE_TOKEN, b"token_expired")


async def _close(conn: Connection, code: int, reason: bytes) -> None:
    """Close with ``code``; a peer that reads nothing gets its connection cut after 2 s."""
    try:
        await asyncio.wait_for(conn.ws.close(code=code, message=reason), 2)
    except (TimeoutError, ConnectionError):
        if conn.request.transport is not None:
            conn.request.transport.abort()


async def pinger(app: web.Application):
    """Cleanup context: one task pings every WebSocket and closes the silent ones with 4408."""
    app[PER_CONVERSATION] = collections.Counter()
    app[LAST_OBSERVED] = [None, 0]
    interval = app[keys.SETTINGS].ping_interval

    async def ping(conn: Connection) -> None:
        try:
            if conn.pinged_at and conn.last_heard < conn.pinged_at:
                await conn.ws.close(code=CLOSE_NO_PONG, message=b"no_pong")
            else:
                conn.pinged_at = time.monotonic()
                await conn.ws.send_str(PING)
        except Exception:   # the socket is going away; its handler cleans up
            pass

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            open_sockets = app[keys.WEBSOCKETS]
            conns = list(open_sockets)
            for i in range(0, len(conns), 500):
                await asyncio.gather(*(ping(c) for c in conns[i:i + 500]))

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _on_frame(conn: Connection, data: str) -> None:
    try:
        frame = jsonsafe.loads(data)
    except jsonsafe.UnsafeJSON as exc:
        message = "Frames are JSON objects." if exc.code == "invalid_json" else f"Frame refused: {exc.message}."
        await conn.send({"type": "error", "code": exc.code, "message": message})
        return
    kind = frame.get("type") if isinstance(frame, dict) else None
    if kind == "pong":
        return
    if kind == "ping":
        await conn.send(PONG)
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
