"""Fixtures: a real relay process per test (or per module), aiohttp client helpers, signed webhooks."""
from __future__ import annotations

import json
import os
import sqlite3

import aiohttp
import pytest

from proxy import signing
from tests.relayproc import SECRET, RelayProcess, new_webhook_id, operator_message, webhook_body


@pytest.fixture
def relay(tmp_path):
    proc = RelayProcess(tmp_path).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def shared_relay(tmp_path_factory):
    proc = RelayProcess(tmp_path_factory.mktemp("relay")).start()
    yield proc
    proc.stop()


class Client:
    """aiohttp client speaking the widget API and the webhook API of one relay."""

    def __init__(self, relay: RelayProcess, session: aiohttp.ClientSession):
        self.relay, self.http = relay, session

    async def create(self, **body) -> dict:
        async with self.http.post(self.relay.url + "/v1/conversations", json=body) as r:
            assert r.status == 201, await r.text()
            return await r.json()

    async def channel_of(self, conversation_id: str) -> int:
        db = sqlite3.connect(self.relay.db)
        try:
            return db.execute("SELECT odoo_channel_id FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0]
        finally:
            db.close()

    def upstream_of(self, conversation_id: str) -> dict:
        """What the relay keeps of the Odoo side for this conversation (its store's upstream column)."""
        db = sqlite3.connect(self.relay.db)
        try:
            raw = db.execute("SELECT upstream FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0]
            return json.loads(raw) if raw else {}
        finally:
            db.close()

    async def webhook(self, raw: bytes, webhook_id: str | None = None, secrets=(SECRET,), headers=None):
        hdrs = signing.headers_for(list(secrets), webhook_id or new_webhook_id(), raw)
        hdrs.update(headers or {})
        async with self.http.post(self.relay.url + "/v1/webhooks/odoo", data=raw, headers=hdrs) as r:
            return r.status, await r.text(), dict(r.headers)

    async def reply(self, conv: dict, message_id: int, text: str, webhook_id: str | None = None):
        channel = await self.channel_of(conv["conversation_id"])
        raw = webhook_body("livechat.message.created", channel, message=operator_message(message_id, text))
        status, body, _ = await self.webhook(raw, webhook_id)
        assert status == 200, body
        return json.loads(body)

    async def call(self, method: str, path: str, token: str | None = None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = "Bearer " + token
        async with self.http.request(method, self.relay.url + path, headers=headers, **kw) as r:
            text = await r.text()
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = text
            return r.status, body, r.headers

    async def events(self, conv: dict, after: int = 0, wait: float = 0):
        status, body, _ = await self.call("GET", f"/v1/conversations/{conv['conversation_id']}/events?after={after}&wait={wait}",
                                          conv["token"])
        assert status == 200, body
        return body

    async def send(self, conv: dict, client_id: str, text: str):
        return await self.call("POST", f"/v1/conversations/{conv['conversation_id']}/messages", conv["token"],
                               json={"client_id": client_id, "text": text})

    def ws(self, conv: dict, after: int = 0, **kw):
        url = f"{self.relay.ws_url}/v1/conversations/{conv['conversation_id']}/ws?token={conv['token']}&after={after}"
        return self.http.ws_connect(url, **kw)

    def db_counts(self) -> tuple[int, int, int]:
        db = sqlite3.connect(self.relay.db)
        try:
            return tuple(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                         for t in ("conversations", "events", "webhook_ids"))
        finally:
            db.close()


@pytest.fixture
async def client(relay):
    async with aiohttp.ClientSession() as session:
        yield Client(relay, session)


def pytest_sessionfinish(session, exitstatus):
    """In CI (CI=true) a skipped test is a failure: CI can install everything the tests need."""
    import os
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    # Odoo is on no package registry: its live tests may skip in CI (they say why); nothing else may
    skipped = [r for r in (reporter.stats.get("skipped", []) if reporter else [])
               if "ODOO_URL not set" not in str(r.longrepr) and "ODOO_RIG not set" not in str(r.longrepr)]
    if os.environ.get("CI") == "true" and skipped and exitstatus == 0:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; in CI that is a failure.", red=True)
        session.exitstatus = 1


def pytest_collection_modifyitems(session, config, items):
    """Tests that drive Chromium run last, whatever their folder: Playwright's sync API keeps an
    event loop running in this thread for the rest of the session, where the asyncio tests of
    tests/proxy (and others) could no longer run."""
    items.sort(key=lambda item: "browser" in getattr(item, "fixturenames", ()))


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright's sync API, ONE per session for every folder (a second
    sync_playwright in the same thread fails): never import this fixture into a test module."""
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()
