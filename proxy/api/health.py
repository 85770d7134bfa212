"""``/healthz`` (the store answers, other nodes' events reach this one, the relay is not shutting
down) and ``/metrics``."""
from __future__ import annotations

import asyncio
import collections
from typing import Any

from aiohttp import web

from proxy import PROTOCOL_VERSION, __version__, keys
from proxy.api.common import json_response
from proxy.errors import StoreError


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    problems = []
    if app[keys.STOPPING].is_set():
        problems.append("shutting down")
    try:
        await asyncio.wait_for(app[keys.STORE].ping(), 2)
    except (TimeoutError, StoreError) as exc:
        problems.append(f"store: {exc or 'timeout'}")
    fanout = app.get(keys.FANOUT)
    if fanout is not None and not fanout.connected.is_set():
        problems.append("fan-out: not subscribed to the other nodes' events")
    settings = app[keys.SETTINGS]
    body: dict[str, Any] = {
        "status": "ok" if not problems else "unavailable",
        "version": __version__,
        "protocol": PROTOCOL_VERSION,   # the addon ↔ relay protocol (docs/protocol.md §1)
        "mode": "demo" if settings.demo else "odoo",
        "store": settings.store.split(":", 1)[0],
        "webhooks": bool(app[keys.WEBHOOK_SECRETS]),
        "connections": {"ws": len(app[keys.WEBSOCKETS]), "longpoll": len(app[keys.LONGPOLLS])},
    }
    if fanout is not None and fanout.node is not None:   # several nodes may share the store
        body["node"] = fanout.node           # host:pid:random, the value of this node's leases in Redis
    followers = app[keys.RELAY].followers if keys.RELAY in app else None
    if followers is not None:
        odoo: dict[str, Any] = {"replies": followers.mode,
                                "following": dict(collections.Counter(followers.via.values())),
                                "bus_max": followers.bus_max}
        body["odoo"] = odoo
        if followers.capped:   # past RELAY_ODOO_BUS_MAX: followed by polling until a socket is free
            odoo["polled_past_bus_max"] = len(followers.capped)
        if followers.addon_protocol:   # auto mode: the addon's protocol (§1)
            odoo["addon_protocol"] = followers.addon_protocol
        if followers.batch is not None:
            odoo["batch_queries"] = followers.batch.api.queries
        features = app[keys.RELAY].upstream.features()
        if features is not None:   # feature → whether this Odoo offers it (the capability check)
            odoo["features"] = features
        if followers.shared is not None:   # shared_bus: "connected" only open and subscribed
            odoo["shared_bus"] = followers.shared.status()
    if problems:
        body["problems"] = problems
    return json_response(body, status=200 if not problems else 503)


async def metrics(request: web.Request) -> web.Response:
    from proxy.api.ws import flush_metrics  # ws imports the routes' helpers; keep this one lazy
    flush_metrics(request.app)
    return web.Response(body=request.app[keys.METRICS].render(),
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
