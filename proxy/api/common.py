"""Helpers shared by the routes: bounded body reading, JSON answers, client IP, rate limits."""
from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from proxy import jsonsafe, keys
from proxy.errors import BadRequest, PayloadTooLarge, RequestTimeout, TooManyRequests
from proxy.events import dumps
from proxy.ratelimit import RateLimiter


def int_param(request: web.Request, name: str, default: int) -> int:
    """A non-negative integer query parameter (``after=N``), ``default`` when absent or empty; 400
    invalid_query otherwise."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:     # "²".isdigit() is True
        raise BadRequest(f"{name}: a non-negative integer", code="invalid_query")
    return int(raw)


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(text=dumps(obj), status=status, content_type="application/json")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refusing (413) as soon as it passes ``limit`` bytes, whatever Content-Length says."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"body over {limit} bytes", code="body_too_large")
    chunks, size = [], 0
    try:
        async with asyncio.timeout(request.app[keys.SETTINGS].body_timeout):
            while True:
                chunk = await request.content.readany()
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"body over {limit} bytes", code="body_too_large")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout("The request body did not arrive in time.", code="body_timeout") from None
    return b"".join(chunks)


async def read_json_object(request: web.Request, limit: int, allow_empty: bool = False) -> dict:
    raw = await read_body(request, limit)
    if not raw.strip() and allow_empty:
        return {}
    try:
        value = jsonsafe.loads(raw)
    except jsonsafe.UnsafeJSON as exc:
        raise BadRequest(f"body: {exc.message}", code=exc.code) from None
    if not isinstance(value, dict):
        raise BadRequest("body must be a JSON object", code="invalid_body")
    return value


def client_ip(request: web.Request) -> str:
    """The client's address. Behind ``forwarded_hops`` trusted proxies that each append to
    X-Forwarded-For, the entry that many places from the right is what the outermost one saw;
    anything left of it was written by the client and is not trusted."""
    settings = request.app[keys.SETTINGS]
    if settings.trust_forwarded:
        hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",") if h.strip()]
        if len(hops) >= settings.forwarded_hops:
            return hops[-settings.forwarded_hops]
    return request.remote or "unknown"


def limit(limiter: RateLimiter, key: str, what: str) -> None:
    wait = limiter.check(key)
    if wait:
        seconds = RateLimiter.retry_after(wait)
        raise TooManyRequests(f"Too many {what}; try again in {seconds} s.", retry_after=seconds)


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None
