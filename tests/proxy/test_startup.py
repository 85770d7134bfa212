"""Start-up that fails at a late step closes what the steps before it opened (the store, the HTTP
session, the fan-out, the upstream's background tasks) and the error reaches the caller: each
resource is one aiohttp cleanup context (app.py), and the runner's cleanup after a failed start
exits those that were entered."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from proxy import keys
from proxy.app import make_app
from proxy.config import from_env
from proxy.handoff import BotPhase
from proxy.odoo.replies import Replies
from proxy.store.redis import RedisStore
from proxy.store.sqlite import SQLiteStore
from tests import redisproc
from tests.redisproc import prefix  # noqa: F401  (fixture)


class Failed(Exception):
    pass


class WatchedSQLite(SQLiteStore):
    closed = False

    async def close(self) -> None:
        await super().close()
        self.closed = True


def others() -> set[asyncio.Task]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def fail(*args, **kwargs):
    raise Failed("injected at start-up")


async def test_a_bot_failing_to_start_closes_the_store_session_and_fanout(tmp_path, monkeypatch):
    monkeypatch.setattr(BotPhase, "start", fail)
    store = WatchedSQLite(str(tmp_path / "relay.db"))
    settings = from_env({"RELAY_SECRET": "k", "RELAY_BOT_URL": "http://127.0.0.1:9/bot",
                         "RELAY_BOT_SECRET": "whsec_" + "a" * 32})
    app = make_app(settings, store=store)
    before = others()
    runner = web.AppRunner(app)
    with pytest.raises(Failed):
        await runner.setup()
    http, hub = app[keys.HTTP], app[keys.HUB]
    assert not http.closed and not store.closed and hub.forward is not None   # opened, still open
    await runner.cleanup()
    assert http.closed
    assert store.closed
    assert hub.forward is None                                                # the fan-out stopped
    await asyncio.sleep(0)
    assert not {t for t in others() - before if not t.done()}


async def test_odoo_followers_failing_to_start_close_everything_before_them(monkeypatch, prefix):  # noqa: F811
    redisproc.shared_redis_or_skip()
    monkeypatch.setattr(Replies, "start", fail)
    store = RedisStore(f"redis://127.0.0.1:{redisproc.SHARED_PORT}/0?prefix={prefix}")
    settings = from_env({"RELAY_SECRET": "k", "RELAY_STORE": f"redis://127.0.0.1:{redisproc.SHARED_PORT}/0",
                         "RELAY_ODOO_URL": "http://127.0.0.1:9",
                         "RELAY_ODOO_LIVECHAT_CHANNEL_ID": "1", "RELAY_ODOO_REPLIES": "bus"})
    app = make_app(settings, store=store)
    before = others()
    runner = web.AppRunner(app)
    with pytest.raises(Failed):
        await runner.setup()
    fanout, http, relay = app[keys.FANOUT], app[keys.HTTP], app[keys.RELAY]
    followers = relay.followers
    assert followers is not None and fanout.node is not None   # several nodes: the Redis fan-out
    assert followers.bus_http.closed          # the failed step closed its own at once
    assert fanout.connected.is_set() and not http.closed and store._client is not None   # the steps before: open
    await runner.cleanup()
    assert http.closed
    assert store._client is None                                   # closed
    assert app[keys.HUB].forward is None
    await asyncio.sleep(0)
    assert not {t for t in others() - before if not t.done()}     # no poster, check or fan-out task left
