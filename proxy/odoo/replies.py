"""Operator replies without the addon: one follower per open conversation, on Odoo's bus
WebSocket (as the visitor's guest) or by polling the visitor's messages route.

``RELAY_ODOO_REPLIES``: ``webhook`` (nothing to follow here: the addon pushes), ``bus``, ``poll``,
or ``auto`` — the addon's webhooks when its info route answers, otherwise the bus, falling back to
polling while the bus fails and going back to it when it works again. Whatever the path, an Odoo
message becomes one event: the store dedupes by Odoo message id (``msg:odoo:<id>``) across paths
and restarts. Each follower keeps its cursor (last bus id, last message id) with the conversation,
so a restarted relay resumes where it stopped; polling once at start-up catches what was committed
while it was down (the bus only replays 50 s).

A conversation is followed only by the node holding its lease (on one node the leases are in this
process and always its own: cluster/local.py). The holder renews its leases every third of their
ttl and drops a follower whose lease it lost; every node scans the open bound conversations at the
same pace and follows those whose lease is free (a new conversation, or one whose node died), so
followers move to a live node within about one ttl.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import TYPE_CHECKING

import aiohttp

from proxy import PROTOCOL_MAJORS, sanitize
from proxy import events as ev
from proxy import state as st
from proxy.events import protocol_major
from proxy.odoo import payloads
from proxy.odoo.rpc import OdooError, OdooRPC, OdooUnavailable, bounded

if TYPE_CHECKING:
    from proxy.cluster.base import Leases
    from proxy.conversations import Relay
    from proxy.odoo.batch import BatchPoller
    from proxy.odoo.shared_bus import SharedBus
    from proxy.odoo.upstream import OdooUpstream
    from proxy.store.base import Conversation

log = logging.getLogger("relay.odoo.replies")
HANDSHAKE_TIMEOUT = 10.0  # seconds for Odoo to accept a bus socket
CAPPED_RECHECK = 30.0     # seconds a conversation polled past RELAY_ODOO_BUS_MAX waits before asking for a socket again
WORKER_VERSION = re.compile(r'websocket_worker_version["\']?\s*[:=]\s*["\']([^"\']+)["\']')


def message_event(msg: payloads.OdooMessage, type_: str = "message") -> dict:
    author: dict = {"kind": msg.author_kind, "name": msg.author_name}
    if msg.author_id is not None and msg.author_kind != "visitor":
        author["partner_id"] = msg.author_id
    return ev.new_event(type_, message={
        "id": f"odoo:{msg.id}", "author": author,
        "text": sanitize.html_to_text(msg.body_html), "html": sanitize.clean_html(msg.body_html),
        "attachments": msg.attachments, "client_id": None})


class Replies:
    def __init__(self, relay: Relay, upstream: OdooUpstream, http: aiohttp.ClientSession, mode: str,
                 poll_interval: float = 3.0, webhooks_configured: bool = True, auto_recheck: float = 60.0,
                 *, leases: Leases, bus_max: int = 200):
        self.relay, self.upstream, self.http = relay, upstream, http
        self.mode, self.poll_interval = mode, poll_interval
        self.webhooks_configured = webhooks_configured
        # the bus client sends no User-Agent: Odoo 18/19 close a socket whose ?version= is outdated
        # only when the client has one (read in their bus's websocket.py)
        # no pool cap (aiohttp's default is 100 connections): every open conversation keeps its own
        # bus socket, and a 101st must not wait for a slot forever; RELAY_ODOO_BUS_MAX is the cap,
        # past which conversations are polled (and /healthz says how many). No shared cookie jar:
        # each conversation keeps its own Odoo session cookie (self.jars), so no guest's cookie
        # rides on another guest's request.
        self.bus_http = aiohttp.ClientSession(skip_auto_headers=("User-Agent",),
                                              connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
                                              cookie_jar=aiohttp.DummyCookieJar())
        self.peek = OdooRPC(self.bus_http, upstream.rpc.base_url, limit=upstream.rpc.limit)
        self.jars: dict[str, dict[str, str]] = {}   # conversation → its own Odoo cookies (peek's session)
        self.bus_max = bus_max
        self.capped: set[str] = set()             # conversations polled because the bus is full
        self.tasks: dict[str, asyncio.Task] = {}
        self.worker_version: str | None = None
        self.via: dict[str, str] = {}            # conversation → "bus" | "poll", for /healthz and tests
        self.connected_at: dict[str, float] = {}   # conversation → when its bus socket opened
        self.batch: BatchPoller | None = None    # poll mode with credentials
        self.shared: SharedBus | None = None     # one user socket for every session
        self.auto, self.auto_recheck = False, auto_recheck
        self.watcher: asyncio.Task | None = None
        self.leases = leases
        self._keeper: asyncio.Task | None = None
        self.ended: set[str] = set()              # followers stopped here as their Odoo session is gone
        self.addon_protocol: str | None = None   # what the addon's info route said (auto mode)
        self._edits = payloads.LastEdits()
        self._chores: set[asyncio.Task] = set()   # answers to history requests, off the bus reader

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.mode == "auto":
            self.auto = True
            self.mode = await self._auto_mode() or "bus"
            log.info("odoo replies", extra={"mode": self.mode, "auto": True})
            self.watcher = asyncio.create_task(self._watch_auto(), name="odoo-replies-auto")
        # also in webhook mode: auto may switch to the bus later
        self._keeper = asyncio.create_task(self._keep_leases(self.leases), name="odoo-replies-leases")
        if self.mode == "webhook":
            return
        if self.shared is not None:
            self.shared.start()
        for conv in await self.relay.store.open_bound():
            self.follow(conv)

    async def _auto_mode(self) -> str | None:
        """``webhook`` when the addon answers its info route and says it is sending (an endpoint
        URL set and enabled) and this relay holds a webhook secret; ``bus`` when Odoo answered
        otherwise; None when Odoo could not be asked (keep what we have)."""
        info = await self._addon_info()
        if info is None:
            return None
        sending = info.get("addon") == "im_livechat_webhook" and info.get("enabled") is True
        if info.get("addon") == "im_livechat_webhook":
            # addons before the protocol field said "standard-webhooks-v1" or nothing: protocol 1
            raw = str(info.get("protocol") or "1")
            self.addon_protocol = raw if raw[:1].isdigit() else "1"
            if sending and protocol_major(self.addon_protocol) not in PROTOCOL_MAJORS:
                log.error("odoo addon speaks another protocol; replies stay on the bus",
                          extra={"addon_protocol": self.addon_protocol,
                                 "relay_speaks": sorted(PROTOCOL_MAJORS)})
                return "bus"
        return "webhook" if sending and self.webhooks_configured else "bus"

    async def _watch_auto(self) -> None:
        """Auto mode follows the addon: switched off (by hand, or by a 410) → the bus takes over,
        every open conversation first catching up by polling; switched back on → the bus
        followers stop. A message both paths bring is one event (deduplicated by Odoo id)."""
        while True:
            await asyncio.sleep(self.auto_recheck)
            mode = await self._auto_mode()
            if mode is None or mode == self.mode:
                continue
            log.warning("odoo replies switch", extra={"from": self.mode, "to": mode})
            self.mode = mode
            if mode == "webhook":
                for conversation_id in list(self.tasks):
                    self.unfollow(conversation_id)
            else:
                for conv in await self.relay.store.open_bound():
                    self.follow(conv)

    async def stop(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        if self.watcher is not None:
            self.watcher.cancel()
            await asyncio.gather(self.watcher, return_exceptions=True)
        if self.batch is not None:
            await self.batch.stop()
        if self.shared is not None:
            await self.shared.stop()
        for task in [*self.tasks.values(), *self._chores]:
            task.cancel()
        await asyncio.gather(*self.tasks.values(), *self._chores, return_exceptions=True)
        self.tasks.clear()
        await self.bus_http.close()

    def follow(self, conv: Conversation) -> None:
        if self.mode == "webhook" or conv.id in self.tasks or not st.has_state(conv):
            return
        if self.shared is not None:              # shared_bus: one socket follows them all
            self.shared.add(conv)
            return
        if self.mode == "poll" and self.batch is not None:
            self.via[conv.id] = "batch"
            self.batch.add(conv)
            return
        self.tasks[conv.id] = asyncio.create_task(self._leased(conv), name=f"odoo-replies-{conv.id}")

    async def catch_up(self, conv: Conversation) -> None:
        """Poll once now, whatever the mode: what Odoo posted before the conversation was bound
        (Odoo's chatbot welcome steps) reached no webhook."""
        try:
            await self._poll_once(conv)
        except Exception as exc:   # best effort: the follower (bus, poll) or the next webhook brings the rest
            log.warning("catch-up poll failed", extra={"conversation": conv.id, "reason": repr(exc)[:200]})

    def unfollow(self, conversation_id: str) -> None:
        if self.shared is not None:
            self.shared.remove(conversation_id)
        if self.batch is not None:
            self.batch.remove(conversation_id)
            self.via.pop(conversation_id, None)
        task = self.tasks.pop(conversation_id, None)
        if task:
            task.cancel()

    async def _addon_info(self) -> dict | None:
        """The addon's info route: its answer, {} when Odoo answered without it, None when Odoo
        could not be reached."""
        try:
            async with self.http.get(self.upstream.rpc.base_url + "/im_livechat_webhook/info",
                                     timeout=aiohttp.ClientTimeout(total=5)) as resp:
                if resp.status >= 500:
                    return None
                body = await resp.json(content_type=None) if resp.status == 200 else {}
                return body if isinstance(body, dict) else {}
        except (aiohttp.ClientError, TimeoutError):
            return None
        except ValueError:
            return {}

    # ------------------------------------------------------------------ leases

    async def _leased(self, conv: Conversation) -> None:
        try:
            held = await self.leases.acquire(conv.id)
        except Exception as exc:   # the cluster is unreachable: the next scan tries again
            log.warning("odoo follower lease unavailable", extra={"conversation": conv.id, "reason": repr(exc)[:200]})
            held = False
        if not held:
            self.tasks.pop(conv.id, None)
            return
        log.info("odoo follower lease taken", extra={"conversation": conv.id})
        try:
            await self._follow(conv)
        finally:
            try:
                await self.leases.release(conv.id)
            except Exception:   # it expires on its own
                pass

    async def _keep_leases(self, leases: Leases) -> None:
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while True:
            await asyncio.sleep(leases.ttl / 3)
            try:
                held = list(self.tasks)
                kept = set(await leases.renew(held))
                renewed = loop.time()
                for cid in held:
                    if cid not in kept:
                        log.warning("odoo follower lease lost", extra={"conversation": cid})
                        self.unfollow(cid)
                if self.mode == "webhook":         # nothing to follow (auto may switch back)
                    continue
                open_bound = await self.relay.store.open_bound()
                still_open = {c.id for c in open_bound}
                for cid in list(self.tasks):
                    if cid not in still_open:      # closed, perhaps through another node
                        self.unfollow(cid)
                self.ended &= still_open
                for conv in open_bound:
                    if conv.id not in self.ended:   # not followed again every scan only to hear it is gone
                        self.follow(conv)
            except Exception as exc:
                log.warning("odoo follower leases not renewed", extra={"reason": repr(exc)[:200]})
                if loop.time() - renewed > leases.ttl:   # they have expired: another node may follow
                    for cid in list(self.tasks):
                        self.unfollow(cid)

    # ------------------------------------------------------------------ one conversation

    async def _follow(self, conv: Conversation) -> None:
        try:
            await self._poll_once(conv)                  # what was committed while we were away
            failures = 0
            while True:
                if self.mode == "poll":
                    await self._poll_forever(conv)
                self.connected_at.pop(conv.id, None)
                if not self._bus_slot(conv):              # RELAY_ODOO_BUS_MAX sockets open: poll a while
                    deadline = asyncio.get_running_loop().time() + CAPPED_RECHECK
                    while asyncio.get_running_loop().time() < deadline:
                        await self._poll_tick(conv)
                        await asyncio.sleep(self.poll_interval)
                    continue
                try:
                    await self._bus(conv)
                except (aiohttp.ClientError, TimeoutError, OdooUnavailable, ValueError) as exc:   # ShapeError too
                    # Odoo closes sockets routinely (4002 after an hour): a long healthy connection
                    # resets the back-off, a quick failure (or a connection never made) grows it
                    opened = self.connected_at.pop(conv.id, None)
                    healthy = opened is not None and asyncio.get_running_loop().time() - opened > 60
                    failures = 0 if healthy else failures + 1
                    log.warning("odoo bus failed", extra={"conversation": conv.id, "reason": repr(exc)[:200]})
                # the bus is down: poll meanwhile (auto and bus modes), then try the bus again
                self.via[conv.id] = "poll"
                deadline = asyncio.get_running_loop().time() + (min(60.0, 2.0 * 2 ** min(failures, 5)) if failures else 0)
                while asyncio.get_running_loop().time() < deadline:
                    await self._poll_tick(conv)
                    await asyncio.sleep(self.poll_interval)
        except asyncio.CancelledError:
            raise
        except _Closed:
            self.ended.add(conv.id)
            log.info("odoo session closed", extra={"conversation": conv.id})
        except Exception:
            log.exception("odoo follower stopped", extra={"conversation": conv.id})
        finally:
            self.tasks.pop(conv.id, None)
            self.via.pop(conv.id, None)
            self.connected_at.pop(conv.id, None)
            self.jars.pop(conv.id, None)
            self.capped.discard(conv.id)

    def _bus_slot(self, conv: Conversation) -> bool:
        """Take one of the RELAY_ODOO_BUS_MAX bus sockets for ``conv`` (marked "connecting": it
        counts as "bus" only once the socket is open), or say it is polled meanwhile."""
        used = sum(1 for cid, via in self.via.items() if via in ("bus", "connecting") and cid != conv.id)
        if used < self.bus_max:
            if conv.id in self.capped:
                self.capped.discard(conv.id)
                log.info("odoo bus slot free: conversation back on the bus", extra={"conversation": conv.id})
            self.via[conv.id] = "connecting"
            return True
        if conv.id not in self.capped:
            self.capped.add(conv.id)
            log.warning("odoo bus full (RELAY_ODOO_BUS_MAX): conversation followed by polling",
                        extra={"conversation": conv.id, "bus_max": self.bus_max, "polled": len(self.capped)})
        self.via[conv.id] = "poll"
        return False

    async def _poll_forever(self, conv: Conversation) -> None:
        self.via[conv.id] = "poll"
        while True:
            await self._poll_tick(conv)
            await asyncio.sleep(self.poll_interval)

    async def _poll_tick(self, conv: Conversation) -> None:
        """One poll: the bus's HTTP twin (``/websocket/peek_notifications``, the guest's channel,
        from the last bus id) carries new messages, edits, deletions, members leaving and the
        closing, like the bus; when it fails, the messages route still brings new messages."""
        if not await self._peek_once(conv):
            await self._poll_once(conv)

    async def _peek_once(self, conv: Conversation) -> bool:
        assert conv.upstream is not None and conv.odoo_channel_id is not None   # followed: bound to a session
        try:
            # is_first_poll every time: it (re)marks the relay's one cookie session as a bus session
            result = await self.peek.call("/websocket/peek_notifications", {
                "channels": [f"mail.guest_{st.session_of(conv).token}"], "last": st.follow_of(conv).bus_last,
                "is_first_poll": True}, jar=self.jars.setdefault(conv.id, {}))
            notifications = result.get("notifications") if isinstance(result, dict) else None
            if not isinstance(notifications, list):
                raise payloads.ShapeError("peek_notifications: no notifications list")
            items = payloads.bus_items(notifications, conv.odoo_channel_id, self.upstream.rpc.base_url)
        except (OdooError, OdooUnavailable, payloads.ShapeError) as exc:
            log.warning("odoo peek failed", extra={"conversation": conv.id, "reason": str(exc)[:200]})
            return False
        for item in items:
            await self._bus_item(conv, item)
        last = payloads.last_bus_id(notifications)
        if last and last > st.follow_of(conv).bus_last:
            await st.write(self.relay.store, conv, st.FollowCursor.patch(bus_last=last))
        return True

    async def _poll_once(self, conv: Conversation) -> None:
        assert conv.upstream is not None and conv.odoo_channel_id is not None   # followed: bound to a session
        after = st.follow_of(conv).poll_last
        try:
            adapter = await self.upstream.version()    # not known yet after a restart while Odoo is down
            result = await self.upstream.rpc.call("/im_livechat/cors/channel/messages", payloads.poll_params(
                adapter.major, st.session_of(conv).token, conv.odoo_channel_id, after))
        except OdooError as exc:
            if exc.code == 404:
                raise _Closed() from None         # the session (or the guest) is gone
            # a server error (code 200/0: serialization failure, a bug…): the next poll asks again
            log.warning("odoo poll refused", extra={"conversation": conv.id, "reason": str(exc)[:200]})
            return
        except OdooUnavailable as exc:
            log.warning("odoo poll failed", extra={"conversation": conv.id, "reason": str(exc)})
            return
        try:
            messages = payloads.poll_messages(result, conv.odoo_channel_id, self.upstream.rpc.base_url)
        except payloads.ShapeError as exc:   # one odd answer: skip it, poll again next time
            log.warning("odoo poll answer not understood", extra={"conversation": conv.id, "reason": str(exc)})
            return
        for msg in messages:
            await self._message(conv, msg)
        if messages and messages[-1].id > after:
            await st.write(self.relay.store, conv, st.FollowCursor.patch(poll_last=messages[-1].id))

    async def _message(self, conv: Conversation, msg: payloads.OdooMessage) -> None:
        if msg.is_note or msg.author_kind == "visitor":
            return                                 # notifications; the visitor's own (already stored)
        await self.relay.append(conv.id, message_event(msg), source="odoo", dedupe_key=f"msg:odoo:{msg.id}")

    # ------------------------------------------------------------------ bus

    async def _bus_url(self) -> str:
        base = self.upstream.rpc.base_url
        if self.worker_version is None:
            self.worker_version = ""
            try:
                async with self.http.get(f"{base}/im_livechat/loader/{self.upstream.livechat_channel_id}",
                                         timeout=aiohttp.ClientTimeout(total=5)) as resp:
                    found = WORKER_VERSION.search(await resp.text())
                    self.worker_version = found.group(1) if found else ""
            except (aiohttp.ClientError, TimeoutError):
                pass
        url = base.replace("http", "ws", 1) + "/websocket"
        return url + (f"?version={self.worker_version}" if self.worker_version else "")

    async def _bus(self, conv: Conversation) -> None:
        assert conv.upstream is not None and conv.odoo_channel_id is not None   # followed: bound to a session
        url = await self._bus_url()
        # Origin is required (Odoo's bus refuses a WebSocket without one); this conversation's own
        # Odoo session cookie, if it has one
        headers = {"Origin": self.upstream.rpc.base_url}
        if jar := self.jars.get(conv.id):
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in jar.items())
        async with bounded(self.upstream.rpc.limit), asyncio.timeout(HANDSHAKE_TIMEOUT):
            # the handshake takes an Odoo cursor; the open socket does not
            socket = await self.bus_http.ws_connect(url, headers=headers, heartbeat=30,
                                                    timeout=aiohttp.ClientWSTimeout(ws_close=5))
        async with socket as ws:
            self.connected_at[conv.id] = asyncio.get_running_loop().time()
            self.via[conv.id] = "bus"
            await ws.send_str(json.dumps({"event_name": "subscribe", "data": {
                "channels": [f"mail.guest_{st.session_of(conv).token}"], "last": st.follow_of(conv).bus_last}}))
            await self._poll_once(conv)            # anything between the last poll and the subscription
            closing = ""
            while True:
                frame = await ws.receive()
                if frame.type != aiohttp.WSMsgType.TEXT:
                    if frame.type == aiohttp.WSMsgType.CLOSE:
                        closing = str(frame.extra or "")
                    break
                notifications = json.loads(frame.data)       # ValueError: not JSON (see _follow)
                for item in payloads.bus_items(notifications, conv.odoo_channel_id,
                                               self.upstream.rpc.base_url):
                    await self._bus_item(conv, item)
                last = payloads.last_bus_id(notifications)
                if last and last > st.follow_of(conv).bus_last:
                    await st.write(self.relay.store, conv, st.FollowCursor.patch(bus_last=last))
            if ws.close_code == 1000 and "OUTDATED_VERSION" in closing:
                self.worker_version = None         # read it again next time
            raise OdooUnavailable(f"bus closed ({ws.close_code}, {closing!r})")

    async def edited(self, conv: Conversation, item: payloads.BusItem) -> None:
        """An operator's edit or deletion, stored unless it is what the message already says here:
        the same edit read twice (by the batch poller while a bus socket was down, then again in
        the socket's replay) is one event, while editing back to an earlier text is a new one."""
        if not self._edits.changed(conv.id, item):
            return
        if item.kind == "deleted":
            await self.relay.append(conv.id, ev.new_event("message_deleted", message={"id": f"odoo:{item.message_id}"}),
                                    source="odoo", dedupe_key=f"del:odoo:{item.message_id}")
        elif item.message is not None:   # "updated" always carries the message as it now reads
            await self.relay.append(conv.id, message_event(item.message, "message_updated"), source="odoo")

    async def _bus_item(self, conv: Conversation, item: payloads.BusItem) -> None:
        if item.kind == "message" and item.message:
            await self._message(conv, item.message)
        elif item.kind == "updated" and item.message and item.message.author_kind != "visitor":
            await self.edited(conv, item)
        elif item.kind == "deleted" and item.message_id:
            await self.edited(conv, item)
        elif item.kind == "typing" and item.member_kind != "visitor":
            self.relay.hub.publish(conv.id, ev.new_event("typing", member={"kind": item.member_kind, "name": item.name},
                                                         typing=item.typing))
        elif item.kind == "member_left":
            await self.relay.append(conv.id, ev.new_event("member_left", member={"kind": item.member_kind or "operator",
                                                                                 "name": item.name}), source="odoo")
        elif item.kind == "history":
            # an operator's /history: answered as Odoo's own widget does, off the bus reader
            task = asyncio.create_task(self._history(conv.id, item.partner_id), name=f"odoo-history-{conv.id}")
            self._chores.add(task)
            task.add_done_callback(self._chores.discard)
        elif item.kind == "closed":
            await self.relay.append(conv.id, ev.new_event("closed", by="odoo"), source="odoo", dedupe_key="closed")
            raise _Closed()

    async def _history(self, conversation_id: str, partner_id: int | None) -> None:
        try:
            await self.relay.history_requested(conversation_id, partner_id)
        except Exception as exc:   # best effort: the operator may ask again
            log.warning("page history not answered", extra={"conversation": conversation_id, "reason": repr(exc)[:200]})


class _Closed(Exception):
    """The Odoo session ended: stop following it."""
