"""The widget's side of the relay API (PROTOCOL §2) over aiohttp, for the tools and benchmarks.

``WidgetClient`` creates conversations and reads events the three ways the widget does
(WebSocket, long polling, short polling), sending an ``Origin`` header as a browser would: the
relay's own origin unless told otherwise (``RELAY_ALLOWED_ORIGINS`` decides which are allowed).
Every failure is a ``RelayError`` whose text says what went wrong, for people.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
from urllib.parse import urlsplit

import aiohttp

LONGPOLL_WAIT = 25        # seconds; the widget's long poll (PROTOCOL §2: 0 < wait ≤ 25)
POLL_INTERVAL = 3.0       # seconds between short polls, as the widget does
WS_CONNECT_TIMEOUT = 5.0  # the widget's WebSocket connect timeout


class RelayError(Exception):
    """The relay answered something other than what the protocol says, or could not be reached.

    ``status`` is the HTTP status (None when there was no answer), ``code`` the relay's error code
    or the WebSocket close code, ``retry_after`` the seconds of a ``Retry-After`` header.
    """

    def __init__(self, message: str, status: int | None = None, code: str | int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.status, self.code, self.retry_after = status, code, retry_after


def own_origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def ws_url(base_url: str, conv: dict, after: int | None = None) -> str:
    """The conversation's WebSocket URL; ``after`` defaults to the ``last_seq`` it was created with."""
    after = conv["last_seq"] if after is None else after
    base = "ws" + base_url.rstrip("/")[4:] if base_url.startswith("http") else base_url.rstrip("/")
    return f"{base}/v1/conversations/{conv['conversation_id']}/ws?token={conv['token']}&after={after}"


async def open_ws(http: aiohttp.ClientSession, url: str, timeout: float = 30,
                  headers: dict | None = None) -> tuple[aiohttp.ClientWebSocketResponse, dict]:
    """Connect and read the ``hello`` frame; return the socket and the hello. Pings are answered
    by the caller (``{"type":"pong"}``), as the widget does."""
    try:   # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
        async with asyncio.timeout(timeout):
            ws = await http.ws_connect(url, autoping=True, heartbeat=None, headers=headers,
                                       timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5))
    except aiohttp.WSServerHandshakeError as exc:
        raise RelayError(f"WebSocket handshake refused: HTTP {exc.status}", status=exc.status) from None
    except TimeoutError:
        raise RelayError(f"no WebSocket handshake within {timeout:g} s") from None
    except aiohttp.ClientError as exc:
        raise RelayError(f"WebSocket connect failed: {describe(exc)}") from None
    try:
        async with asyncio.timeout(timeout):
            msg = await ws.receive()
    except TimeoutError:
        await ws.close()
        raise RelayError(f"no hello frame within {timeout:g} s") from None
    hello = frame_of(msg)
    if hello is None or hello.get("type") != "hello":
        code = ws.close_code
        await ws.close()
        what = f"closed with code {code}" if code else f"got {msg.type.name} {str(msg.data)[:80]!r}"
        raise RelayError(f"expected a hello frame, {what}", code=code)
    return ws, hello


def frame_of(msg: aiohttp.WSMessage) -> dict | None:
    if msg.type != aiohttp.WSMsgType.TEXT:
        return None
    try:
        frame = json.loads(msg.data)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) else None


def describe(exc: BaseException) -> str:
    """A one-line reason for a network error, e.g. "cannot connect to 127.0.0.1:1: Connection refused"."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        err = exc.os_error
        why = os.strerror(err.errno) if err.errno else (str(err) or type(err).__name__)
        return f"cannot connect to {exc.host}:{exc.port}: {why}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class WidgetClient:
    """One relay, as a visitor's widget on page ``origin`` sees it."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, origin: str | None = None):
        self.http, self.base_url = http, base_url.rstrip("/")
        self.origin = origin or own_origin(self.base_url)

    @property
    def headers(self) -> dict:
        return {"Origin": self.origin}

    async def request(self, method: str, path: str, token: str | None = None, timeout: float = 10,
                      **kw) -> tuple[int, object]:
        """One call; answers (status, parsed JSON or text). Network errors are ``RelayError``."""
        what = method + " " + re.sub(r"/conversations/[^/?]+", "/conversations/{id}", path.split("?")[0])
        headers = {**self.headers, **kw.pop("headers", {})}
        if token:
            headers["Authorization"] = "Bearer " + token
        try:
            async with self.http.request(method, self.base_url + path, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=timeout), **kw) as r:
                text = await r.text()
                retry = r.headers.get("Retry-After")
                status, content_type = r.status, r.content_type
        except TimeoutError:
            raise RelayError(f"{what}: no answer within {timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise RelayError(f"{what}: {describe(exc)}") from None
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = text
        if status >= 400:
            code = body.get("error") if isinstance(body, dict) else None
            detail = (f"{code}: {body.get('message', '') if isinstance(body, dict) else ''}" if code
                      else f"({content_type}, not the relay's JSON error)" if isinstance(body, str) else "")
            raise RelayError(f"{what}: HTTP {status} {detail}".rstrip(), status=status,
                             code=code, retry_after=float(retry) if retry and retry.isdigit() else None)
        return status, body

    async def create(self, **body) -> dict:
        """``POST /v1/conversations``: the conversation (id, token, expires_at, last_seq)."""
        status, answer = await self.request("POST", "/v1/conversations", json=body)
        if status != 201 or not isinstance(answer, dict) or "token" not in answer:
            raise RelayError(f"POST /v1/conversations: expected 201 with a token, got {status} "
                             f"{str(answer)[:60]!r}", status=status)
        return answer

    async def events(self, conv: dict, after: int, wait: float = 0) -> dict:
        """``GET …/events?after=&wait=``: ``{events, last_seq}`` (and ``reset`` when told to)."""
        path = f"/v1/conversations/{conv['conversation_id']}/events?after={after}&wait={wait:g}"
        status, body = await self.request("GET", path, conv["token"], timeout=wait + 10)
        if not isinstance(body, dict) or not isinstance(body.get("events"), list) or "last_seq" not in body:
            raise RelayError("GET /v1/conversations/{id}/events: expected {events, last_seq}, "
                             f"got {str(body)[:80]!r}", status=status)
        return body

    async def send(self, conv: dict, client_id: str, text: str) -> dict:
        """``POST …/messages``: the visitor says something."""
        _, body = await self.request("POST", f"/v1/conversations/{conv['conversation_id']}/messages",
                                     conv["token"], json={"client_id": client_id, "text": text})
        if not isinstance(body, dict):
            raise RelayError(f"POST /v1/conversations/{{id}}/messages: expected the event, got {str(body)[:80]!r}")
        return body

    async def open_ws(self, conv: dict, after: int | None = None,
                      timeout: float = WS_CONNECT_TIMEOUT) -> tuple[aiohttp.ClientWebSocketResponse, dict]:
        return await open_ws(self.http, ws_url(self.base_url, conv, after), timeout, self.headers)
