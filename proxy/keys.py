"""Every piece of app state, under a typed ``web.AppKey``."""
from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from proxy.config import Settings
from proxy.conversations import Relay
from proxy.metrics import Metrics
from proxy.ratelimit import RateLimiter
from proxy.store.base import Store
from proxy.upstream.demo import DemoUpstream

if TYPE_CHECKING:
    from proxy.cluster.base import Fanout, Leases
    from proxy.hub import Hub

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
RELAY = web.AppKey("relay", Relay)
METRICS = web.AppKey("metrics", Metrics)
WEBSOCKETS = web.AppKey("websockets", weakref.WeakSet)   # of api.ws.Connection
LONGPOLLS = web.AppKey("longpolls", set)
AVATARS = web.AppKey("avatars", dict)   # partner id → (kept until, content type, bytes): api/files.py
RATE_IP = web.AppKey("rate_ip", RateLimiter)
RATE_CREATE = web.AppKey("rate_create", RateLimiter)
RATE_CONVERSATION = web.AppKey("rate_conversation", RateLimiter)
WEBHOOK_SECRETS = web.AppKey("webhook_secrets", tuple)
WEBHOOK_INFLIGHT = web.AppKey("webhook_inflight", list)
DEMO = web.AppKey("demo", DemoUpstream)
FANOUT: web.AppKey[Fanout] = web.AppKey("fanout")   # to the other nodes (one node: in-process, no-op)
LEASES: web.AppKey[Leases] = web.AppKey("leases")
HUB: web.AppKey[Hub] = web.AppKey("hub")
HTTP = web.AppKey("http", aiohttp.ClientSession)   # the relay's own requests (Odoo, the bot)
STOPPING = web.AppKey("stopping", asyncio.Event)
