"""Helpers shared by the routes: bounded body reading, JSON answers, client IP, rate limits."""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from proxy import keys
from proxy.errors import BadRequest, PayloadTooLarge, TooManyRequests
from proxy.ratelimit import RateLimiter


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def json_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(text=dumps(obj), status=status, content_type="application/json")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refusing (413) as soon as it passes ``limit`` bytes, whatever Content-Length says."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"body over {limit} bytes", code="body_too_large")
    chunks, size = [], 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body over {limit} bytes", code="body_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: web.Request, limit: int, allow_empty: bool = False) -> dict:
    raw = await read_body(request, limit)
    if not raw.strip() and allow_empty:
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("body is not valid JSON", code="invalid_json") from None
    if not isinstance(value, dict):
        raise BadRequest("body must be a JSON object", code="invalid_body")
    return value


def client_ip(request: web.Request) -> str:
    if request.app[keys.SETTINGS].trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
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
