"""The relay as the visitor towards a real Odoo, through the public cors livechat routes.

Opening a conversation is ``get_session`` on the configured livechat channel; the guest token is
kept server-side with the conversation and never sent to the widget. Visitor messages go to Odoo
in order, one conversation at a time, retried with backoff while Odoo is down or slow (the widget
gets a ``status`` event meanwhile). Operator replies come back by webhook from the addon.
"""
from __future__ import annotations

import asyncio
import logging
import random
from typing import Awaitable, Callable

from proxy import events as ev
from proxy.odoo.adapters import Adapter, ShapeError
from proxy.odoo.rpc import OdooError, OdooRPC, OdooUnavailable
from proxy.store.base import Conversation
from proxy.upstream.base import NoOperatorAvailable, UpstreamDown

log = logging.getLogger("relay.odoo")
Notify = Callable[[str, dict], Awaitable[None]]


class OdooUpstream:
    name = "odoo"

    def __init__(self, rpc: OdooRPC, database: str, livechat_channel_id: int, max_backoff: float = 30.0):
        self.rpc, self.database, self.livechat_channel_id = rpc, database, livechat_channel_id
        self.max_backoff = max_backoff
        self.adapter: Adapter | None = None
        self.notify: Notify | None = None          # set by the core: appends an event to a conversation
        self._queues: dict[str, asyncio.Queue] = {}
        self._workers: dict[str, asyncio.Task] = {}

    async def version(self) -> Adapter:
        if self.adapter is None:
            info = await self.rpc.call("/web/webclient/version_info", {})
            try:
                self.adapter = Adapter.for_serie(str((info or {}).get("server_serie", "")))
            except ShapeError as exc:
                raise OdooUnavailable(str(exc)) from None
            log.info("odoo detected", extra={"serie": info.get("server_serie"), "version": info.get("server_version")})
        return self.adapter

    async def open_session(self, conv: Conversation) -> tuple[str, int]:
        try:
            adapter = await self.version()
            channel = conv.livechat_channel_id or self.livechat_channel_id
            result = await self.rpc.call("/im_livechat/cors/get_session",
                                         adapter.session_params(channel, conv.visitor_name))
            session = adapter.parse_session(result)
        except (OdooUnavailable, OdooError, ShapeError) as exc:
            log.warning("odoo get_session failed", extra={"reason": str(exc)})
            raise UpstreamDown(str(exc)) from None
        if session is None:
            raise NoOperatorAvailable()
        channel_id, guest_token = session
        conv.upstream = {"guest_token": guest_token}
        if uuid := adapter.session_uuid(result):
            conv.upstream["uuid"] = uuid
        return self.database, channel_id

    # ------------------------------------------------------------------ visitor → Odoo

    async def visitor_message(self, conv: Conversation, event: dict) -> None:
        queue = self._queues.setdefault(conv.id, asyncio.Queue())
        queue.put_nowait((conv, event))
        if conv.id not in self._workers or self._workers[conv.id].done():
            self._workers[conv.id] = asyncio.create_task(self._drain(conv.id))

    async def _drain(self, conversation_id: str) -> None:
        queue = self._queues[conversation_id]
        while not queue.empty():
            conv, event = queue.get_nowait()
            await self._post_with_retry(conv, event)
        self._queues.pop(conversation_id, None)

    async def _post_with_retry(self, conv: Conversation, event: dict) -> None:
        attempt, warned = 0, False
        while True:
            try:
                adapter = await self.version()
                result = await self.rpc.call("/im_livechat/cors/message/post", adapter.post_params(
                    conv.upstream["guest_token"], conv.odoo_channel_id, event["message"]["text"]))
                message_id = adapter.parse_post(result)
                log.info("visitor message posted", extra={"conversation": conv.id, "odoo_message": message_id})
                if warned and self.notify:
                    await self.notify(conv.id, ev.status("delivered", "Your messages reached the operator."))
                return
            except (OdooUnavailable, ShapeError) as exc:
                attempt += 1
                if not warned and self.notify:
                    warned = True
                    await self.notify(conv.id, ev.status("upstream_unavailable",
                                                         "The operator's side is not answering; your message will be sent as soon as it is back."))
                delay = random.uniform(0.5, min(self.max_backoff, 0.5 * 2 ** attempt))
                log.warning("odoo post failed, retrying", extra={"conversation": conv.id, "reason": str(exc),
                                                                 "retry_in": round(delay, 1)})
                await asyncio.sleep(delay)
            except OdooError as exc:   # refused for good (session gone, token invalid): say so
                log.warning("odoo refused a visitor message", extra={"conversation": conv.id, "reason": str(exc)})
                if self.notify:
                    await self.notify(conv.id, ev.status("not_delivered",
                                                         "This message could not be delivered to the operator."))
                return

    async def visitor_typing(self, conv: Conversation, typing: bool) -> None:
        try:
            adapter = await self.version()
            route = adapter.typing_route()
            if route and conv.upstream:
                await self.rpc.call(route, adapter.typing_params(conv.upstream["guest_token"], conv.odoo_channel_id, typing))
        except (OdooUnavailable, OdooError, ShapeError):
            pass   # best effort

    async def visitor_left(self, conv: Conversation) -> None:
        try:
            adapter = await self.version()
            if conv.upstream:
                await self.rpc.call("/im_livechat/cors/visitor_leave_session", adapter.leave_params(
                    conv.upstream["guest_token"], conv.odoo_channel_id, conv.upstream.get("uuid")))
        except (OdooUnavailable, OdooError, ShapeError) as exc:
            log.warning("odoo leave failed", extra={"conversation": conv.id, "reason": str(exc)})

    async def close(self) -> None:
        for task in self._workers.values():
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
