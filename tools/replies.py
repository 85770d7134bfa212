"""Three ways to make an operator reply reach a relay, for ``tools.compare_modes``.

- ``WebhookReplies``: signed ``livechat.message.created`` webhooks to ``/v1/webhooks/odoo``, as the
  Odoo addon sends them (needs the relay's ``whsec_…`` secret). The Odoo session each conversation
  is bound to is read from a demo relay's console API (``/demo/api/state``).
- ``ConsoleReplies``: the demo operator console's ``/demo/api/reply``, which signs and posts that
  same webhook inside the relay (demo mode, no secret needed).
- ``OdooReplies``: ``message_post`` by JSON-RPC in a real Odoo the relay runs against, as an
  operator would; the session is found from a marker message the visitor sends first.

``send`` returns once the reply was accepted and raises ``ReplyError`` otherwise.
"""
from __future__ import annotations

import asyncio
import html
import itertools
import random
import time

from proxy import signing
from tools.odoo_client import Odoo, OdooError
from tools.relayproc import new_webhook_id, operator_message, webhook_body
from tools.widget_client import RelayError, WidgetClient, describe


class ReplyError(Exception):
    """An operator reply was not accepted; the text says why."""


class WebhookReplies:
    via = "webhook"

    def __init__(self, client: WidgetClient, secret: str):
        self.client, self.secret = client, secret
        self.bindings: dict[str, tuple[str, int]] = {}     # conversation id -> (database, channel id)
        # Odoo ids are PostgreSQL integers (the relay refuses more); above the demo console's own ids
        self._ids = itertools.count(random.randint(1 << 30, (1 << 31) - (1 << 24)))

    async def prepare(self, convs: list[dict]) -> None:
        try:
            _, state = await self.client.request("GET", "/demo/api/state")
        except RelayError as exc:
            raise ReplyError(f"cannot read the conversations' Odoo sessions from /demo/api/state "
                             f"(webhook replies need a demo relay; against Odoo use --odoo): {exc}") from None
        known = {c["id"]: c for c in state.get("conversations", [])} if isinstance(state, dict) else {}
        for conv in convs:
            found = known.get(conv["conversation_id"], {})
            if found.get("odoo_channel_id") is None:
                raise ReplyError(f"/demo/api/state does not tell conversation {conv['conversation_id']}'s "
                                 "Odoo session (a relay older than this tool?)")
            self.bindings[conv["conversation_id"]] = (found["odoo_database"], found["odoo_channel_id"])

    async def send(self, conv: dict, text: str) -> None:
        database, channel = self.bindings[conv["conversation_id"]]
        raw = webhook_body("livechat.message.created", channel, database,
                           message=operator_message(next(self._ids), text, html="<p>" + html.escape(text) + "</p>"))
        headers = signing.headers_for([self.secret], new_webhook_id(), raw)
        try:
            status, _ = await self.client.request("POST", "/v1/webhooks/odoo", data=raw, headers=headers)
        except RelayError as exc:
            raise ReplyError(str(exc)) from None
        if status != 200:
            raise ReplyError(f"POST /v1/webhooks/odoo: HTTP {status}")


class ConsoleReplies:
    via = "console"

    def __init__(self, client: WidgetClient):
        self.client = client

    async def prepare(self, convs: list[dict]) -> None:
        """Nothing to learn: the console finds the session itself."""

    async def send(self, conv: dict, text: str) -> None:
        try:
            _, body = await self.client.request("POST", "/demo/api/reply",
                                                json={"conversation_id": conv["conversation_id"], "text": text})
        except RelayError as exc:
            if exc.status == 404 and exc.code is None:
                raise ReplyError("the relay has no demo console (/demo/api/reply): is it running against "
                                 "Odoo? then use --odoo, or --secret for signed webhooks") from None
            raise ReplyError(str(exc)) from None
        if not isinstance(body, dict) or body.get("webhook_status") != 200:
            raise ReplyError(f"/demo/api/reply: the relay's webhook answered {body!r}")


class OdooReplies:
    via = "odoo"

    def __init__(self, client: WidgetClient, odoo: Odoo, find_timeout: float = 20):
        self.client, self.odoo, self.find_timeout = client, odoo, find_timeout
        self.channels: dict[str, int] = {}

    async def prepare(self, convs: list[dict]) -> None:
        try:
            await asyncio.to_thread(self.odoo.start)
        except (OdooError, OSError, KeyError) as exc:
            raise ReplyError(f"cannot log in to Odoo {self.odoo.url}: {describe(exc)}") from None
        for conv in convs:
            self.channels[conv["conversation_id"]] = await self._find(conv)

    async def _find(self, conv: dict) -> int:
        """The visitor says a unique marker; the relay posts it in its Odoo session; Odoo says where."""
        marker = f"compare_modes {conv['conversation_id']} {new_webhook_id()}"
        try:
            await self.client.send(conv, "marker-" + new_webhook_id(), marker)
        except RelayError as exc:
            raise ReplyError(f"visitor marker message: {exc}") from None
        deadline = time.monotonic() + self.find_timeout
        while time.monotonic() < deadline:
            try:
                channel = await asyncio.to_thread(self._channel_of_message, marker)
            except (OdooError, OSError) as exc:
                raise ReplyError(f"Odoo search for the visitor's message: {describe(exc)}") from None
            if channel:
                return channel
            await asyncio.sleep(0.5)
        raise ReplyError(f"the visitor's message did not reach Odoo within {self.find_timeout:g} s "
                         "(is the relay running against this Odoo and database?)")

    def _channel_of_message(self, text: str) -> int | None:
        """The ``discuss.channel`` holding the newest message whose body contains ``text``."""
        found = self.odoo.execute("mail.message", "search_read",
                                  [[("model", "=", "discuss.channel"), ("body", "ilike", text)]],
                                  {"fields": ["res_id"], "order": "id desc", "limit": 1})
        return found[0]["res_id"] if found else None

    async def send(self, conv: dict, text: str) -> None:
        try:
            await asyncio.to_thread(self.odoo.operator_reply, self.channels[conv["conversation_id"]],
                                    "<p>" + html.escape(text) + "</p>")
        except (OdooError, OSError) as exc:
            raise ReplyError(f"Odoo message_post: {describe(exc)}") from None

