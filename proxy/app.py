"""``make_app(settings)``: routes, middlewares, app state, and the cleanup contexts that own the
store, the purge task and the demo stand-in. The only module that picks concrete adapters."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import time
import weakref

import aiohttp
from aiohttp import WSCloseCode, web

from proxy import keys, signing
from proxy.api import conversations, demo, health, middlewares, openapi, webhooks, ws
from proxy.api import files as files_api
from proxy.api import uploads as uploads_api
from proxy.bot import BotClient
from proxy.config import ConfigError, Settings
from proxy.conversations import Relay
from proxy.handoff import BotPhase, Handoff
from proxy.hub import Hub
from proxy.metrics import Metrics
from proxy.odoo.batch import BatchPoller, ExternalAPI
from proxy.odoo.replies import Replies
from proxy.odoo.rpc import OdooRPC
from proxy.odoo.shared_bus import SharedBus
from proxy.odoo.upstream import OdooUpstream
from proxy.ratelimit import RateLimiter
from proxy.store.base import Store
from proxy.store.redis import RedisStore
from proxy.store.sqlite import SQLiteStore
from proxy.upstream.base import Upstream
from proxy.upstream.demo import DemoUpstream

log = logging.getLogger("relay")
PURGE_EVERY = 3600.0
WEBHOOK_ID_DAYS = 4.0   # the addon retries for ~3 days; remember ids longer than that


def open_store(url: str) -> Store:
    if url.startswith("sqlite:///"):
        return SQLiteStore(url[len("sqlite:///"):] or "relay.db")
    if url.startswith("redis://"):
        return RedisStore(url)
    raise ConfigError(f"store {url!r}: expected sqlite:///path or redis://host:port/db")


def check_odoo_settings(settings: Settings) -> None:
    """What the Odoo mode needs; each gap is a clear error at start-up."""
    if not settings.odoo_livechat_channel_id:
        raise ConfigError("RELAY_ODOO_LIVECHAT_CHANNEL_ID is required with RELAY_ODOO_URL")
    if settings.odoo_password and not (settings.odoo_login and settings.odoo_db):
        raise ConfigError("RELAY_ODOO_PASSWORD needs RELAY_ODOO_LOGIN and RELAY_ODOO_DB")
    if settings.odoo_replies == "webhook":
        if not settings.odoo_db:
            raise ConfigError("RELAY_ODOO_DB is required with RELAY_ODOO_REPLIES=webhook: the addon's "
                              "webhooks are matched by database and session")
        if not settings.webhook_secret:
            raise ConfigError("RELAY_WEBHOOK_SECRET is required with RELAY_ODOO_REPLIES=webhook: operator "
                              "replies arrive as signed webhooks from the im_livechat_webhook addon")


def make_app(settings: Settings, store: Store | None = None) -> web.Application:
    if not settings.demo:
        check_odoo_settings(settings)
    chain = [middlewares.access_log, middlewares.errors, middlewares.cors]
    if settings.demo:
        chain.append(demo.loopback_only)
    app = web.Application(middlewares=chain,
                          client_max_size=max(settings.max_webhook_bytes, settings.max_request_bytes) + 1)
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = Metrics()
    app[keys.WEBSOCKETS] = weakref.WeakSet()
    app[keys.LONGPOLLS] = set()
    app[keys.AVATARS] = {}
    app[keys.STOPPING] = asyncio.Event()
    app[keys.WEBHOOK_INFLIGHT] = [0]
    app[keys.RATE_IP] = RateLimiter(settings.rate_limit_ip)
    app[keys.RATE_CREATE] = RateLimiter(settings.rate_limit_create)
    app[keys.RATE_CONVERSATION] = RateLimiter(settings.rate_limit_messages)
    app[keys.DEMO] = DemoUpstream()

    # start-up, one cleanup context per resource, in order: when a step fails, aiohttp's cleanup
    # (run by the runner after a failed start too) closes what the steps before it opened
    async def store_ctx(app: web.Application):
        the_store = store or open_store(settings.store)
        await the_store.open()
        try:
            app[keys.STORE] = the_store
            hook_secrets = settings.webhook_secret or ()
            if not hook_secrets and settings.demo:
                hook_secrets = (await the_store.meta_setdefault("demo_webhook_secret", signing.new_secret()),)
            app[keys.WEBHOOK_SECRETS] = tuple(hook_secrets)
            yield
        finally:
            await the_store.close()

    async def http_ctx(app: web.Application):
        # no cookie jar: whatever Odoo sets for one guest must never go with another guest's
        # request (cookies a route needs are passed per request); no pool cap of aiohttp's own:
        # requests to Odoo are bounded by one semaphore (RELAY_ODOO_MAX_REQUESTS, rpc.py)
        http = app[keys.HTTP] = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                                      connector=aiohttp.TCPConnector(limit=0, limit_per_host=0))
        try:
            yield
        finally:
            await http.close()

    async def cluster_ctx(app: web.Application):
        # the store says whether other nodes may share it: leases and fan-out through it, or in
        # this process (proxy/cluster/)
        hub = app[keys.HUB] = Hub()
        cluster = await app[keys.STORE].cluster(hub, settings.lease_ttl)
        app[keys.LEASES] = cluster.leases
        fanout = app[keys.FANOUT] = cluster.fanout
        try:
            await fanout.start()
            yield
        finally:
            await fanout.stop()

    async def relay_ctx(app: web.Application):
        """The upstream (Odoo, or the demo console), the relay, Odoo's followers, and the handoff
        (started in handoff_ctx, after the bot)."""
        the_store, http, leases = app[keys.STORE], app[keys.HTTP], app[keys.LEASES]
        token_secret = settings.secret or await the_store.meta_setdefault("token_secret", secrets.token_urlsafe(32))
        odoo_limit = asyncio.Semaphore(settings.odoo_max_requests)
        odoo_url = settings.odoo_url
        odoo = None if not odoo_url else OdooUpstream(      # no URL: demo mode (settings.demo)
            OdooRPC(http, odoo_url, limit=odoo_limit), the_store, settings.odoo_db or "odoo",
            settings.odoo_livechat_channel_id, leases, chatbot_script_id=settings.odoo_chatbot_script_id)
        upstream: Upstream = app[keys.DEMO] if odoo is None else odoo
        relay = app[keys.RELAY] = Relay(settings, the_store, app[keys.HUB], upstream, app[keys.METRICS],
                                        token_secret.encode())
        try:
            if odoo is not None and odoo_url is not None:
                followers = relay.followers = Replies(
                    relay, odoo, http, settings.odoo_replies, settings.odoo_poll_interval,
                    webhooks_configured=bool(settings.webhook_secret), auto_recheck=settings.odoo_auto_recheck,
                    leases=leases, bus_max=settings.odoo_bus_max)
                if settings.odoo_replies == "poll" and (settings.odoo_password or settings.odoo_api_key):
                    followers.batch = BatchPoller(followers, ExternalAPI(
                        http, odoo_url, settings.odoo_db, settings.odoo_login, settings.odoo_password,
                        settings.odoo_api_key, limit=odoo_limit), settings.odoo_poll_interval)
                login, password, db = settings.odoo_login, settings.odoo_password, settings.odoo_db
                if settings.odoo_replies == "shared_bus" and login and password and db:
                    # one socket as an Odoo user (Settings requires its login, password and database);
                    # batch polls while it is down
                    followers.shared = SharedBus(
                        followers, login, password, db,
                        poller_factory=lambda: BatchPoller(followers, ExternalAPI(
                            http, odoo_url, db, login, password, None, limit=odoo_limit), settings.odoo_poll_interval))
                odoo.poster.start()                  # one poster per conversation, on one node or many
                odoo.start_checks()                  # what this Odoo offers, logged (and in /healthz)
                await followers.start()
                await odoo.resume()
            # unbound conversations to a person (bot handoffs, left messages); one node at a time each
            relay.handoffs = Handoff(relay, leases, settings.bot_no_operator, settings.handoff_retry)
            yield
        finally:
            if relay.followers is not None:
                await relay.followers.stop()
            await upstream.close()

    async def bot_ctx(app: web.Application):
        relay = app[keys.RELAY]
        if settings.bot_url and settings.bot_secret:   # Settings requires the secret with the URL
            relay.bot = BotPhase(relay, BotClient(app[keys.HTTP], settings.bot_url, settings.bot_secret,
                                                  settings.bot_timeout), relay.handoffs)
        try:
            if relay.bot is not None:
                await relay.bot.start()
            yield
        finally:
            if relay.bot is not None:
                await relay.bot.stop()

    async def handoff_ctx(app: web.Application):
        handoffs = app[keys.RELAY].handoffs
        try:
            await handoffs.start()
            log.info("relay started", extra={"mode": "demo" if settings.demo else "odoo",
                                             "store": settings.store.split(":", 1)[0],
                                             "webhooks": bool(app[keys.WEBHOOK_SECRETS]), "bot": bool(settings.bot_url)})
            yield
        finally:
            await handoffs.stop()

    async def purge_task(app: web.Application):
        async def loop() -> None:
            while True:
                await purge(app)
                await asyncio.sleep(PURGE_EVERY)
        task = asyncio.create_task(loop())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def on_shutdown(app: web.Application) -> None:
        app[keys.STOPPING].set()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):   # a second signal must not cut the cleanup short
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, log.warning, "already shutting down")
        log.info("shutting down", extra={"websockets": len(app[keys.WEBSOCKETS]),
                                         "long_polls": len(app[keys.LONGPOLLS])})
        open_sockets = app[keys.WEBSOCKETS]
        for conn in list(open_sockets):
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"relay shutting down")

    app.cleanup_ctx.extend([store_ctx, http_ctx, cluster_ctx, relay_ctx, bot_ctx, handoff_ctx,
                            purge_task, ws.pinger])
    app.on_shutdown.append(on_shutdown)

    r = app.router
    r.add_get("/", demo.index)
    r.add_get("/widget.js", demo.widget_js)
    r.add_get("/client.js", demo.client_js)      # the client library (client/), classic script
    r.add_get("/client.mjs", demo.client_js)     # and ES module
    r.add_get("/widget/i18n/{lang}.json", demo.widget_strings)
    r.add_get("/healthz", health.healthz)
    r.add_get("/metrics", health.metrics)
    r.add_get("/v1/openapi.json", openapi.openapi)
    r.add_post("/v1/webhooks/odoo", webhooks.receive)
    r.add_route("OPTIONS", "/v1/conversations", conversations.create)   # preflight, answered by the CORS middleware
    r.add_post("/v1/conversations", conversations.create)
    r.add_get("/v1/config", conversations.config)
    r.add_route("OPTIONS", "/v1/conversations/{id}/{action}", conversations.create)
    r.add_get("/v1/conversations/{id}/events", conversations.events)
    r.add_post("/v1/conversations/{id}/messages", conversations.send)
    r.add_post("/v1/conversations/{id}/attachments", uploads_api.upload)
    r.add_post("/v1/conversations/{id}/rating", conversations.rate)
    r.add_post("/v1/conversations/{id}/seen", conversations.seen)
    r.add_post("/v1/conversations/{id}/pages", conversations.pages)
    r.add_get("/v1/conversations/{id}/transcript", conversations.transcript)
    r.add_post("/v1/conversations/{id}/transcript", conversations.email_transcript)
    r.add_post("/v1/conversations/{id}/typing", conversations.typing)
    r.add_post("/v1/conversations/{id}/close", conversations.close)
    r.add_post("/v1/conversations/{id}/handoff", conversations.handoff)
    r.add_get("/v1/conversations/{id}/ws", ws.handler)
    r.add_get("/v1/files/{id}/{attachment}", files_api.download)
    r.add_get("/v1/avatars/{id}/{partner}", files_api.avatar)
    if settings.demo:
        demo.add_routes(app)
    return app


async def purge(app: web.Application) -> dict[str, int]:
    settings = app[keys.SETTINGS]
    now = time.time()
    try:
        counts = await app[keys.STORE].purge(now - settings.retention_days * 86400,
                                             now - max(settings.retention_days, WEBHOOK_ID_DAYS) * 86400)
    except Exception as exc:  # never let the purge kill the relay; the next round retries
        log.warning("purge failed", extra={"reason": repr(exc)})
        return {}
    if any(counts.values()):
        log.info("purged", extra=counts)
    return counts
