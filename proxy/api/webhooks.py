"""``POST /v1/webhooks/odoo``: verify (Standard Webhooks v1), parse, store, then answer 2xx."""
from __future__ import annotations

import logging
import time
from typing import NoReturn

from aiohttp import web

from proxy import PROTOCOL_MAJORS, PROTOCOL_VERSION, events, keys, signing
from proxy.api.common import json_response, read_body
from proxy.errors import TooManyRequests, Unauthorized, Unavailable

log = logging.getLogger("relay.webhooks")


async def receive(request: web.Request) -> web.Response:
    """Headers and timestamp first, then the body (under RELAY_BODY_TIMEOUT), then the signature;
    only a verified webhook takes one of the RELAY_WEBHOOK_MAX_INFLIGHT slots, so slow or forged
    bodies can never crowd out the addon's genuine ones."""
    received_at = time.monotonic()
    app = request.app
    metrics = app[keys.METRICS]
    secrets = app[keys.WEBHOOK_SECRETS]
    inflight = app[keys.WEBHOOK_INFLIGHT]
    if app[keys.STOPPING].is_set():
        metrics.webhooks.labels("shutting_down").inc()
        raise Unavailable("The relay is shutting down; retry shortly.", code="shutting_down", retry_after=5)
    if not secrets:
        metrics.webhooks.labels("no_secret").inc()
        raise Unauthorized("No webhook secret is configured on this relay (RELAY_WEBHOOK_SECRET).",
                           code="webhooks_disabled")
    sent = request.headers.get(events.PROTOCOL_HEADER)
    if events.protocol_major(sent) not in PROTOCOL_MAJORS:
        # before the signature: another major may sign differently, and this answer names no secret
        metrics.webhooks.labels("unsupported_protocol").inc()
        log.warning("webhook refused: unsupported protocol", extra={"protocol": (sent or "")[:32]})
        return _protocol_refused(sent or "")
    try:
        signing.check_headers(request.headers)
    except signing.SignatureError as exc:
        _refused(metrics, exc)
    try:
        raw = await read_body(request, app[keys.SETTINGS].max_webhook_bytes)
    except Exception as exc:
        metrics.webhooks.labels("too_large" if getattr(exc, "status", 0) == 413 else "bad_body").inc()
        raise
    try:
        webhook_id = signing.verify(secrets, raw, request.headers)
    except signing.SignatureError as exc:
        _refused(metrics, exc)
    if inflight[0] >= app[keys.SETTINGS].webhook_max_inflight:
        metrics.webhooks.labels("shed").inc()
        raise TooManyRequests("Too many webhooks at once; retry shortly.", retry_after=1)
    inflight[0] += 1
    try:
        return await _ingest(request, raw, webhook_id, received_at)
    finally:
        inflight[0] -= 1


def _protocol_refused(sent: str) -> web.Response:
    """400 ``unsupported_protocol``: the addon logs the message in its delivery log and retries on
    its schedule, so the events go through once the relay or the addon is upgraded."""
    speaks = ", ".join(sorted(PROTOCOL_MAJORS))
    resp = json_response({
        "error": "unsupported_protocol",
        "message": (f"This relay speaks livechat protocol {speaks}; the addon sent protocol {sent[:32]!r}. "
                    "Install a relay and an addon that speak the same protocol major (CHANGELOG.md)."),
        "protocol": PROTOCOL_VERSION, "supported": sorted(PROTOCOL_MAJORS)}, status=400)
    resp.headers[events.PROTOCOL_HEADER] = PROTOCOL_VERSION
    return resp


def _refused(metrics, exc: signing.SignatureError) -> NoReturn:
    metrics.webhooks.labels("bad_signature").inc()
    log.warning("webhook refused", extra={"reason": str(exc)})
    raise Unauthorized(f"Signature check failed: {exc}.", code="invalid_signature") from None


async def _ingest(request: web.Request, raw: bytes, webhook_id: str, received_at: float) -> web.Response:
    app = request.app
    metrics = app[keys.METRICS]
    try:
        hook = events.parse_webhook(raw)
    except Exception:
        metrics.webhooks.labels("bad_body").inc()
        raise
    result = await app[keys.RELAY].ingest(hook, webhook_id, received_at)
    metrics.webhooks.labels(result).inc()
    log.info("webhook", extra={"webhook_id": webhook_id, "type": hook.type, "result": result})
    resp = json_response({"status": result}, status=200)
    resp.headers[events.PROTOCOL_HEADER] = PROTOCOL_VERSION
    return resp
