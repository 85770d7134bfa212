"""``RELAY_ODOO_REPLIES=shared_bus``: ONE Odoo bus WebSocket, logged in as an internal user, follows
every open livechat session (instead of one guest socket per conversation in ``bus`` mode).

The relay logs in with ``/web/session/authenticate`` (``RELAY_ODOO_LOGIN``, ``RELAY_ODOO_PASSWORD``,
``RELAY_ODOO_DB``: a password, API keys do not open ``/websocket``; no 2FA), opens ``/websocket``
with that ``session_id`` cookie and subscribes ``discuss.channel_<id>`` for every open session. Each
subscribe replaces the whole set, so a new or ended session means a new subscribe with the full
list, at most every ``RESUBSCRIBE_EVERY`` seconds (Odoo allows a burst of 10 frames, then one per
0.2 s). The notifications are those the visitor's guest socket gets (same bus ids, same payloads),
so each conversation's share of a frame goes through ``payloads.bus_items`` and
``Replies._bus_item`` like the per-conversation bus. Demultiplexing: new messages, typing, members
leaving, 19's closing and an operator's ``/history`` (``im_livechat.history_command``, sent to the
session, so the socket subscribed to it gets it: the relay answers it) name their channel; edits
(``mail.record/insert`` of ``mail.message``) do not, so they are routed by message id (a map filled
from the new messages seen, and for an unknown id one ``search_read`` as that user); everything else
on the socket (the user's own partner and group traffic, presence, other channels it is a member of)
is ignored.

Nothing is lost: each newly added session is polled once after its subscribe (on 17.0 rows of a
channel added to a socket below the highest id already sent are not replayed); the highest bus id
seen is kept in the followed conversations' ``bus_last`` (every frame for the conversations it
concerns, every ``FLUSH_EVERY`` seconds for all), so a restarted relay subscribes with ``last`` and
Odoo replays what it missed; while the socket is down the batch poller (batch.py, the same
credentials) follows every session, until the socket is open and subscribed again. Session expiry
(close code 4001) logs in again. Only the holder of the ``LEASE`` lease keeps the socket (alone,
this node: cluster/local.py); other nodes wait for it to be free.

The user must be able to read the sessions (admin; Live Chat Administrator on 17/18, Live Chat User
on 19) and must NOT be a livechat operator: closing a user's socket marks that user offline on
18/19, so an operator would drop out of the rotation whenever the relay reconnects.
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp

from proxy import state as st
from proxy.odoo import payloads
from proxy.odoo.payloads.values import dicts, int_id, ref_id
from proxy.odoo.replies import HANDSHAKE_TIMEOUT, _Closed
from proxy.odoo.rpc import OdooError, OdooUnavailable, bounded

if TYPE_CHECKING:
    from proxy.odoo.batch import BatchPoller
    from proxy.odoo.replies import Replies
    from proxy.store.base import Conversation

log = logging.getLogger("relay.odoo.shared_bus")
LEASE = "odoo-shared-bus"
RESUBSCRIBE_EVERY = 0.5      # seconds between two subscribes on the socket (Odoo: 10 frames, then 1 per 0.2 s)
FLUSH_EVERY = 15.0           # seconds between two writes of the bus id to every followed conversation
MAX_CHANNELS = 35_000        # ~30 bytes each: a subscribe frame stays under Odoo's 1 MiB; the rest is polled
MAX_FRAME = 64 * 2 ** 20     # a replay after an outage may be one big frame
CATCH_UP_AT_ONCE = 4         # catch-up polls of newly added sessions in flight at once
FOREIGN_MEMORY = 10_000      # message ids known to belong to no followed session
SESSION_EXPIRED = 4001
CHANNEL = "discuss.channel"


class SessionExpired(Exception):
    """Odoo closed the socket with 4001: log in again."""


class SharedBus:
    def __init__(self, replies: Replies, login: str, password: str, database: str,
                 poller_factory: Callable[[], BatchPoller] | None = None):
        self.replies, self.login, self.password, self.database = replies, login, password, database
        self.poller_factory = poller_factory
        self.poller: BatchPoller | None = None   # while the socket is down
        self.leases = replies.leases
        self.leader = False                          # holds the LEASE lease (taken in _main)
        self.convs: dict[int, Conversation] = {}   # Odoo session id → conversation
        self.channel_of: dict[str, int] = {}         # conversation id → Odoo session id
        self.owner: dict[int, int] = {}              # Odoo message id → session id (edits name no channel)
        self.owned: dict[int, set[int]] = {}         # session id → its message ids in self.owner
        self.foreign: collections.OrderedDict[int, None] = collections.OrderedDict()
        self.sent: set[int] = set()                  # sessions in the last subscribe on the open socket
        self.caught: set[int] = set()                # sessions polled once since they were added
        self.session: dict[str, str] = {}            # the user's Odoo cookies (session_id)
        self.uid: int | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.live = False                            # the open socket has had its subscribe
        self.last_error: str | None = None           # why the socket is down, for /healthz
        self.last = 0                                # highest bus id seen
        self.changed = asyncio.Event()               # the set of sessions changed: subscribe again
        self.wanted = asyncio.Event()                # there is something to follow
        self.subscribed_at = 0.0
        self.connected_at: float | None = None
        self.task: asyncio.Task | None = None
        self.chores: set[asyncio.Task] = set()
        self.catch_up_gate = asyncio.Semaphore(CATCH_UP_AT_ONCE)
        self.logins = self.connections = self.subscribes = 0
        self.lookups = 0
        self._operator_checked = False
        self._capped_warned = False

    # ------------------------------------------------------------------ what Replies calls

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._main(), name="odoo-shared-bus")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        for chore in list(self.chores):
            chore.cancel()
        await asyncio.gather(*self.chores, return_exceptions=True)
        await self._poll_off()
        if self.leader:
            try:
                await self._flush()                  # where a restart resumes
            except Exception as exc:
                log.warning("odoo shared bus: bus id not saved", extra={"reason": repr(exc)[:200]})
        if self.leader:                              # let another node take the socket at once
            self.leader = False
            try:
                await self.leases.release(LEASE)
            except Exception:
                pass

    def add(self, conv: Conversation) -> None:
        cid = conv.odoo_channel_id
        if cid is None or cid in self.convs:
            return
        self.convs[cid] = conv
        self.channel_of[conv.id] = cid
        self.wanted.set()
        if not self.leader:
            return
        if self.poller is not None:
            self.poller.add(conv)
        self.replies.via[conv.id] = "poll" if self.poller is not None else "connecting"
        self.changed.set()

    def remove(self, conversation_id: str) -> None:
        cid = self.channel_of.pop(conversation_id, None)
        if cid is None:
            return
        self.convs.pop(cid, None)
        for mid in self.owned.pop(cid, ()):
            self.owner.pop(mid, None)
        self.caught.discard(cid)
        self.replies.via.pop(conversation_id, None)
        if self.poller is not None:
            self.poller.remove(conversation_id)
        if not self.convs:
            self.wanted.clear()
        self.changed.set()

    def status(self) -> dict:
        """For /healthz: connected only while the socket is open and subscribed."""
        open_ = self.ws is not None and not self.ws.closed
        out: dict[str, object] = {"connected": open_ and self.live,
               "sockets": 1 if open_ else 0, "channels": len(self.sent) if open_ else 0,
               "leader": self.leader, "polling": self.poller is not None,
               "logins": self.logins, "connections": self.connections}
        if self.last_error and not out["connected"]:
            out["error"] = self.last_error
        return out

    # ------------------------------------------------------------------ leadership

    def _pace(self) -> float:
        return min(self.leases.ttl / 3, FLUSH_EVERY)

    async def _lead(self) -> bool:
        try:
            if self.leader:
                self.leader = bool(await self.leases.renew([LEASE]))
                if not self.leader:
                    log.warning("odoo shared bus lease lost")
            if not self.leader:
                self.leader = await self.leases.acquire(LEASE)
                if self.leader:
                    log.info("odoo shared bus lease taken")
        except Exception as exc:   # the cluster is away: another node may hold it by now
            log.warning("odoo shared bus lease unavailable", extra={"reason": repr(exc)[:200]})
            self.leader = False
        return self.leader

    async def _main(self) -> None:
        while True:
            if not await self._lead():
                await asyncio.sleep(self._pace())
                continue
            for conv in list(self.convs.values()):
                self.replies.via[conv.id] = "connecting"
            runner = asyncio.create_task(self._connect_loop(), name="odoo-shared-bus-socket")
            try:
                while True:
                    await asyncio.sleep(self._pace())
                    if runner.done():
                        break
                    if not await self._lead():
                        break
                    try:
                        await self._resync()
                        await self._flush()
                    except Exception as exc:
                        log.warning("odoo shared bus upkeep failed", extra={"reason": repr(exc)[:200]})
            finally:
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
                await self._standby()

    async def _standby(self) -> None:
        """Not (or no longer) the node with the socket: follow nothing here."""
        ws = self.ws
        self._down()
        if ws is not None:
            await ws.close()
        await self._poll_off()
        for conv in list(self.convs.values()):
            self.replies.via.pop(conv.id, None)

    async def _resync(self) -> None:
        """Sessions opened or closed through another node (or missed here)."""
        open_bound = await self.replies.relay.store.open_bound()
        still_open = {c.id for c in open_bound}
        for conversation_id in list(self.channel_of):
            if conversation_id not in still_open:
                self.remove(conversation_id)
        for conv in open_bound:
            if st.has_state(conv):
                self.add(conv)

    async def _flush(self) -> None:
        """Every followed conversation's ``bus_last`` up to the highest bus id seen, so a restart
        resubscribes from there."""
        last = self.last
        for cid in list(self.sent):
            conv = self.convs.get(cid)
            if conv is not None and conv.upstream is not None and st.follow_of(conv).bus_last < last:
                await st.write(self.replies.relay.store, conv, st.FollowCursor.patch(bus_last=last))

    # ------------------------------------------------------------------ the socket

    async def _connect_loop(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            await self.wanted.wait()
            expired = False
            try:
                await self._connect_once()
            except asyncio.CancelledError:
                raise
            except SessionExpired:
                log.info("odoo shared bus session expired: logging in again")
                self.session = {}
                expired = True
            except (aiohttp.ClientError, TimeoutError, OdooUnavailable, OdooError, ValueError) as exc:   # ShapeError too
                log.warning("odoo shared bus failed", extra={"reason": repr(exc)[:300], "sessions": len(self.convs)})
                # for /healthz: what a person must fix (a refused login says so; no secret in it)
                self.last_error = (f"login refused for {self.login!r}" if isinstance(exc, OdooError)
                                   and "AccessDenied" in exc.name else f"{type(exc).__name__}")
            except Exception:
                log.exception("odoo shared bus failed")
            opened = self.connected_at
            healthy = opened is not None and (loop.time() - opened > 60 or expired)
            failures = 0 if healthy else failures + 1
            self._down()
            await self._poll_on()                    # the socket is down: poll every session meanwhile
            if failures:
                await asyncio.sleep(min(60.0, 2.0 ** (failures - 1)))

    def _down(self) -> None:
        self.ws, self.sent, self.connected_at, self.live = None, set(), None, False
        for conv in list(self.convs.values()):
            if self.replies.via.get(conv.id) == "shared_bus":
                self.replies.via[conv.id] = "connecting"

    async def _login(self) -> None:
        jar: dict[str, str] = {}
        result = await self.replies.peek.call("/web/session/authenticate", {
            "db": self.database, "login": self.login, "password": self.password}, jar=jar)
        uid = result.get("uid") if isinstance(result, dict) else None
        if not uid or not jar.get("session_id"):
            raise OdooError(None, "AccessDenied", f"Odoo did not log {self.login!r} in (a password is needed: "
                                                  "no API key, no two-factor authentication)")
        self.session, self.uid = jar, int(uid)
        self.logins += 1
        log.info("odoo shared bus logged in", extra={"login": self.login, "uid": self.uid})
        if not self._operator_checked:
            self._operator_checked = True
            await self._warn_if_operator()

    async def _warn_if_operator(self) -> None:
        try:
            rows = await self.replies.peek.call("/web/dataset/call_kw/im_livechat.channel/read", {
                "model": "im_livechat.channel", "method": "read",
                "args": [[self.replies.upstream.livechat_channel_id], ["user_ids"]], "kwargs": {}}, jar=self.session)
            operators = rows[0].get("user_ids") or [] if isinstance(rows, list) and rows else []
        except (OdooError, OdooUnavailable, AttributeError, TypeError) as exc:
            log.info("odoo shared bus: could not check the user's livechat channels", extra={"reason": str(exc)[:200]})
            return
        if self.uid in operators:
            log.warning("odoo shared bus user is an operator of the livechat channel: each reconnect of the "
                        "shared socket marks it offline (Odoo 18/19); use a dedicated non-operator user",
                        extra={"login": self.login, "uid": self.uid})

    async def _connect_once(self) -> None:
        if not self.session.get("session_id"):
            await self._login()
        url = await self.replies._bus_url()
        headers = {"Origin": self.replies.upstream.rpc.base_url,
                   "Cookie": "; ".join(f"{name}={value}" for name, value in self.session.items())}
        async with bounded(self.replies.upstream.rpc.limit), asyncio.timeout(HANDSHAKE_TIMEOUT):
            socket = await self.replies.bus_http.ws_connect(url, headers=headers, heartbeat=30, max_msg_size=MAX_FRAME,
                                                            timeout=aiohttp.ClientWSTimeout(ws_close=5))
        async with socket as ws:
            self.ws, self.connected_at = ws, asyncio.get_running_loop().time()
            self.connections += 1
            if self.last == 0:   # a restart: resume from the conversations' bus ids (Odoo replays the rest)
                known = [st.follow_of(c).bus_last for c in self.convs.values() if st.has_state(c)]
                self.last = min((k for k in known if k > 0), default=0)
            resubscriber = asyncio.create_task(self._resubscriber(ws), name="odoo-shared-bus-subscribe")
            closing = ""
            try:
                await self._subscribe(ws)
                log.info("odoo shared bus connected", extra={"sessions": len(self.sent), "last": self.last})
                while True:
                    frame = await ws.receive()
                    if frame.type != aiohttp.WSMsgType.TEXT:
                        if frame.type == aiohttp.WSMsgType.CLOSE:
                            closing = str(frame.extra or "")
                        break
                    await self._frame(json.loads(frame.data))     # ValueError: not JSON
            finally:
                resubscriber.cancel()
                await asyncio.gather(resubscriber, return_exceptions=True)
        if ws.close_code == SESSION_EXPIRED:
            raise SessionExpired()
        if ws.close_code == 1000 and "OUTDATED_VERSION" in closing:
            self.replies.worker_version = None
        raise OdooUnavailable(f"shared bus closed ({ws.close_code}, {closing!r})")

    async def _resubscriber(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.changed.wait()
            wait = self.subscribed_at + RESUBSCRIBE_EVERY - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)     # several new sessions, one subscribe
            await self._subscribe(ws)

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.changed.clear()
        channels = list(self.convs)
        if len(channels) > MAX_CHANNELS and not self._capped_warned:
            self._capped_warned = True
            log.warning("odoo shared bus: more sessions than one subscribe carries; the rest is polled",
                        extra={"sessions": len(channels), "max": MAX_CHANNELS})
        channels, overflow = channels[:MAX_CHANNELS], channels[MAX_CHANNELS:]
        await ws.send_str(json.dumps({"event_name": "subscribe", "data": {
            "channels": [f"{CHANNEL}_{cid}" for cid in channels], "last": self.last}}))
        self.subscribed_at = asyncio.get_running_loop().time()
        self.subscribes += 1
        self.sent, self.live, self.last_error = set(channels), True, None
        if overflow:
            await self._poll_on(only=overflow)
        else:
            await self._poll_off()
        for cid in channels:
            conv = self.convs.get(cid)
            if conv is not None:
                self.replies.via[conv.id] = "shared_bus"
        fresh = [cid for cid in channels if cid not in self.caught]
        self.caught.update(fresh)
        for cid in fresh:       # what was committed before its subscribe (17.0 does not replay it)
            self._chore(self._catch_up(cid))

    def _chore(self, coro) -> None:
        task = asyncio.create_task(coro)
        self.chores.add(task)
        task.add_done_callback(self.chores.discard)

    async def _catch_up(self, cid: int) -> None:
        async with self.catch_up_gate:
            conv = self.convs.get(cid)
            if conv is None:
                return
            try:
                await self.replies._poll_once(conv)
            except _Closed:
                log.info("odoo session closed", extra={"conversation": conv.id})
                self.replies.unfollow(conv.id)
            except Exception as exc:   # the socket or the next poll brings the rest
                log.warning("odoo shared bus catch-up poll failed", extra={"conversation": conv.id,
                                                                           "reason": repr(exc)[:200]})

    # ------------------------------------------------------------------ polling while the socket is down

    async def _poll_on(self, only: list[int] | None = None) -> None:
        if self.poller_factory is None:
            return
        if self.poller is None:
            self.poller = self.poller_factory()
            if only is None:
                log.info("odoo shared bus down: polling every session", extra={"sessions": len(self.convs)})
        for cid in (self.convs if only is None else only):
            conv = self.convs.get(cid)
            if conv is not None:
                self.poller.add(conv)
                self.replies.via[conv.id] = "poll"

    async def _poll_off(self) -> None:
        if self.poller is not None:
            poller, self.poller = self.poller, None
            await poller.stop()

    # ------------------------------------------------------------------ frames

    async def _frame(self, notifications) -> None:
        if not isinstance(notifications, list):
            raise payloads.ShapeError("bus frame: not a list")
        base = self.replies.upstream.rpc.base_url
        last = payloads.last_bus_id(notifications) or 0
        routed = await self._route(notifications)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("odoo shared bus frame", extra={"notifications": len(notifications), "last": last,
                                                      "routed": {str(cid): len(n) for cid, n in routed.items()}})
        for cid, notes in routed.items():
            conv = self.convs.get(cid)
            if conv is None:
                continue
            newest, closed = 0, False
            for item in payloads.bus_items(notes, cid, base):
                if item.kind == "message" and item.message:
                    self._own(item.message.id, cid)
                    newest = max(newest, item.message.id)
                try:
                    await self.replies._bus_item(conv, item)
                except _Closed:
                    closed = True
                    break
            cursor = st.follow_of(conv)
            changes = st.FollowCursor.patch(
                bus_last=last if last > cursor.bus_last else st.UNSET,
                poll_last=newest if newest > cursor.poll_last else st.UNSET)  # what a later poll need not read again
            if changes:
                await st.write(self.replies.relay.store, conv, changes)
            if closed:
                log.info("odoo session closed", extra={"conversation": conv.id})
                self.replies.unfollow(conv.id)
        if last > self.last:
            self.last = last

    def _own(self, mid: int, cid: int) -> None:
        if cid in self.convs and self.owner.get(mid) != cid:
            self.owner[mid] = cid
            self.owned.setdefault(cid, set()).add(mid)

    @staticmethod
    def _message_records(payload: dict) -> list[dict]:
        return dicts(payload.get("Message")) + dicts(payload.get("mail.message"))

    def _said_channel(self, msg: dict) -> int | None:
        """The session a message record names, 0 when it names something else, None when it says nothing."""
        thread = msg.get("thread")
        if isinstance(thread, dict) and thread.get("id") is not None:
            return ref_id(thread) if thread.get("model") in (None, CHANNEL) else 0
        if msg.get("model") not in (None, CHANNEL):
            return 0
        if msg.get("res_id") is not None:
            return int_id(msg.get("res_id")) or 0
        return None

    def _message_target(self, msg: dict) -> int | None:
        said = self._said_channel(msg)
        if said is not None:
            return said or None
        mid = int_id(msg.get("id"))
        return self.owner.get(mid) if mid is not None else None

    async def _route(self, notifications: list) -> dict[int, list[dict]]:
        """Each followed session's notifications in the frame, in order; a ``mail.record/insert``
        about several keeps, for each, only the message records that are its own."""
        unknown = set()
        for note in notifications:
            payload = self._payload(note, "mail.record/insert")
            for msg in self._message_records(payload) if payload is not None else ():
                mid = int_id(msg.get("id"))
                if mid is not None and self._said_channel(msg) is None and mid not in self.owner \
                        and mid not in self.foreign and "body" in msg:
                    unknown.add(mid)
        if unknown:
            await self._look_up(unknown)
        out: dict[int, list[dict]] = {}
        for note in notifications:
            for cid, routed in self._targets(note):
                if cid in self.convs:
                    out.setdefault(cid, []).append(routed)
        return out

    @staticmethod
    def _payload(note, type_: str | None = None) -> dict | None:
        message = note.get("message") if isinstance(note, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("payload"), dict):
            return None
        if type_ is not None and message.get("type") != type_:
            return None
        return message["payload"]

    def _targets(self, note) -> list[tuple[int, dict]]:
        payload = self._payload(note)
        if payload is None:
            return []
        type_ = note["message"].get("type")
        if type_ == "discuss.channel/new_message":
            cid = ref_id(payload.get("id"))
            return [(cid, note)] if cid is not None else []
        if type_ == payloads.HISTORY_COMMAND:   # an operator's /history, sent to the session itself
            cid = int_id(payload.get("id"))
            return [(cid, note)] if cid is not None else []
        if type_ == "discuss.channel.member/typing_status":             # 17
            thread = payload.get("thread")
            if isinstance(thread, dict) and thread.get("model") not in (None, CHANNEL):
                return []
            cid = ref_id(thread)
            return [(cid, note)] if cid is not None else []
        if type_ != "mail.record/insert":
            return []
        channels: set[int] = set()
        for key in ("discuss.channel", "Thread"):
            for record in dicts(payload.get(key)):
                cid = int_id(record.get("id"))
                if cid is not None and record.get("model") in (None, CHANNEL):
                    channels.add(cid)
        for key in ("discuss.channel.member", "ChannelMember"):
            for record in dicts(payload.get(key)):
                ref = record.get("thread", record.get("channel_id"))
                if isinstance(ref, dict) and ref.get("model") not in (None, CHANNEL):
                    continue
                cid = ref_id(ref)
                if cid is not None:
                    channels.add(cid)
        messages = [(msg, self._message_target(msg)) for msg in self._message_records(payload)]
        targets = (channels | {t for _, t in messages if t is not None}) & set(self.convs)
        out = []
        for cid in sorted(targets):
            if all(t == cid for _, t in messages):
                out.append((cid, note))
                continue
            # the message records of other sessions (or of none) must not reach this one: an edit
            # names no channel, and bus_items takes such a record as the session's own
            own = dict(payload)
            if "Message" in own:
                kept = [m for m in dicts(own["Message"]) if self._message_target(m) == cid]
                if kept:
                    own["Message"] = kept[0] if isinstance(payload["Message"], dict) else kept
                else:
                    own.pop("Message")
            if "mail.message" in own:
                own["mail.message"] = [m for m in dicts(own["mail.message"]) if self._message_target(m) == cid]
            out.append((cid, {**note, "message": {**note["message"], "payload": own}}))
        return out

    async def _look_up(self, mids: set[int]) -> None:
        """Which session an edited message belongs to, asked as the user (what it may not read is
        not ours)."""
        self.lookups += 1
        try:
            rows = await self.replies.peek.call("/web/dataset/call_kw/mail.message/search_read", {
                "model": "mail.message", "method": "search_read",
                "args": [[["id", "in", sorted(mids)]], ["model", "res_id"]], "kwargs": {}}, jar=self.session)
        except (OdooError, OdooUnavailable) as exc:
            log.warning("odoo shared bus: edited message not looked up", extra={"reason": str(exc)[:200]})
            return
        found = set()
        for row in rows if isinstance(rows, list) else []:
            mid = int_id(row.get("id")) if isinstance(row, dict) else None
            if mid is None:
                continue
            cid = int_id(row.get("res_id"))
            if row.get("model") == CHANNEL and cid in self.convs:
                self._own(mid, cid)
                found.add(mid)
        for mid in mids - found:
            self.foreign[mid] = None
            while len(self.foreign) > FOREIGN_MEMORY:
                self.foreign.popitem(last=False)
