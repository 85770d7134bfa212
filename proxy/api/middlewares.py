"""Middlewares: errors as JSON (never a stack trace), origin allow-list and CORS, request log."""
from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from proxy import keys
from proxy.api.common import client_ip, json_response, limit
from proxy.errors import ApiError, Forbidden, StoreError

log = logging.getLogger("relay.http")
WIDGET_PREFIX = "/v1/conversations"
CONFIG_PATH = "/v1/config"        # the widget's call before any conversation: the same rules
CORS_HEADERS = "Authorization, Content-Type"
CORS_METHODS = "GET, POST, OPTIONS"


def _error(exc: ApiError) -> web.Response:
    resp = json_response(exc.body(), status=exc.status)
    if exc.retry_after is not None:
        resp.headers["Retry-After"] = str(int(exc.retry_after))
    if exc.status == 408:    # the rest of a slow body is not waited for
        resp.force_close()
    return resp


@web.middleware
async def errors(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as exc:
        return _error(exc)
    except StoreError as exc:
        log.error("store unavailable", extra={"path": request.path, "reason": str(exc)})
        return _unavailable()
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status, "http_error")
            return json_response({"error": code, "message": exc.reason}, status=exc.status)
        raise
    except Exception:
        log.exception("unexpected error", extra={"path": request.path})
        return json_response({"error": "internal_error", "message": "Something went wrong on the relay."}, status=500)


def _unavailable() -> web.Response:
    resp = json_response({"error": "store_unavailable", "message": "The relay cannot store events right now."},
                         status=503)
    resp.headers["Retry-After"] = "5"
    return resp


def own_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def origin_allowed(request: web.Request, origin: str) -> bool:
    allowed = request.app[keys.SETTINGS].allowed_origins
    if allowed:
        return origin in allowed or "*" in allowed
    return origin == own_origin(request)


@web.middleware
async def cors(request: web.Request, handler):
    """Browser calls to the widget API must come from an allowed origin; others get 403."""
    if not (request.path.startswith(WIDGET_PREFIX) or request.path == CONFIG_PATH):
        return await handler(request)
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(request, origin):
        raise Forbidden(f"Origin {origin} is not allowed to use this relay.", code="origin_not_allowed")
    if request.method == "OPTIONS":
        resp = web.Response(status=204)
    else:
        try:
            limit(request.app[keys.RATE_IP], client_ip(request), "requests from this address")
            resp = await handler(request)
        except ApiError as exc:
            resp = _error(exc)
    if origin is not None:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Vary"] = "Origin"
        resp.headers["Access-Control-Expose-Headers"] = "Retry-After"
        if request.method == "OPTIONS":
            resp.headers["Access-Control-Allow-Methods"] = CORS_METHODS
            resp.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
            resp.headers["Access-Control-Max-Age"] = "600"
    return resp


@web.middleware
async def access_log(request: web.Request, handler):
    """One line per request: method, path (never the query string: it may hold a token), status, ms."""
    start = time.perf_counter()
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    except web.HTTPException as exc:
        status = exc.status
        raise
    except BaseException as exc:   # cancelled by shutdown or a client gone: say so, not "500"
        status = 499 if isinstance(exc, asyncio.CancelledError) else 500
        raise
    finally:
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        request.app[keys.METRICS].http.labels(route, str(status)).inc()
        log.info("request", extra={"method": request.method, "path": request.path, "status": status,
                                   "ms": round((time.perf_counter() - start) * 1000, 1)})
