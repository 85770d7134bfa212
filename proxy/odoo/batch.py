"""Polling every open session at once through Odoo's external API, when the relay has credentials.

With ``RELAY_ODOO_REPLIES=poll`` and a login with a password or an API key, each interval costs two
queries whatever the number of open sessions, instead of one request per session: a
``mail.message`` ``search_read`` (new messages of every open session, and those written again in
the last seconds: edits and deletions) and a ``discuss.channel`` ``search_read`` (which sessions
have ended). 19.0 with an API key speaks JSON-2 (``/json/2/<model>/<method>``, bearer key);
with a password, 19.0 is asked through the web client's own ``/web/dataset/call_kw`` with a session
(its ``/jsonrpc`` logs a deprecation warning at every call); 17.0 and 18.0 speak JSON-RPC
``execute_kw`` (a key stands in for the password).

The poller keeps one reading position for all sessions (``cursor``: the highest message id it has
read) and pages forward from it, ``LIMIT`` rows a query, until a page comes back short: however the
sessions' own positions are spread (one quiet session among hundreds of busy ones), the window
always moves. A session added behind the cursor (opened while a poll ran, or after a restart) is
read once on its own from its own position. Ids are assigned before commit order is settled, so
the same query also reads what was written in the last ``OVERLAP`` seconds behind the cursor (late
commits, edits, deletions): the window's low end is "a few seconds ago", never a session's
position. The store dedupes messages by Odoo id (``msg:odoo:<id>``) across every
path, so reading a row twice never shows it twice.
Edits are told apart from other writes (pins, reactions) by the body: the poller remembers a hash
of each body it has seen. An edit made while the relay was down is not replayed.

Only one relay node polls: the holder of the ``odoo-batch`` lease (always this node when it is
alone, cluster/local.py), renewed at every tick (so ``RELAY_ODOO_POLL_INTERVAL`` must stay well under
``RELAY_LEASE_TTL``); the others skip their ticks until it is free. One poller means one memory of
bodies, so an edit becomes one ``message_updated`` event, not one per node.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp

from proxy import events as ev
from proxy import sanitize
from proxy import state as st
from proxy.odoo import payloads
from proxy.odoo.payloads.attachments import attachment
from proxy.odoo.payloads.authors import partner_name
from proxy.odoo.payloads.messages import edit_item
from proxy.odoo.payloads.values import html
from proxy.odoo.replies import message_event
from proxy.odoo.rpc import OdooError, OdooRPC, OdooUnavailable, bounded

if TYPE_CHECKING:
    from proxy.odoo.replies import Replies
    from proxy.store.base import Conversation

log = logging.getLogger("relay.odoo.batch")
OVERLAP = 10.0
LEASE = "odoo-batch"
LIMIT = 500
MAX_PAGES = 20            # pages read per tick at most (10,000 rows); the next tick goes on from there
FIELDS = ["id", "res_id", "author_id", "author_guest_id", "body", "message_type", "attachment_ids",
          "write_date"]
ODOO_DATETIME = "%Y-%m-%d %H:%M:%S"
NAME_TTL = 300.0          # seconds an operator's visible name (alias) is kept before it is read again


class ExternalAPI:
    """``search_read`` as a user: JSON-2 on 19+ with an API key, the web client's ``call_kw`` with a
    session on 19+ with a password, JSON-RPC ``execute_kw`` before 19."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, database: str | None, login: str | None,
                 password: str | None, api_key: str | None, timeout: float = 10.0,
                 limit: asyncio.Semaphore | None = None):
        self.http, self.base_url, self.database = http, base_url.rstrip("/"), database
        self.login, self.secret, self.api_key = login, api_key or password, api_key
        self.rpc = OdooRPC(http, base_url, timeout, limit=limit)
        self.limit = limit
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.uid: int | None = None
        self.session: dict[str, str] = {}      # 19+ with a password: the web session's cookie
        self.queries = 0
        self.via = ""                          # "json2", "call_kw" or "jsonrpc": the last way asked

    async def search_read(self, major: int, model: str, domain: list, fields: list[str], **kw: Any) -> list[dict]:
        self.queries += 1
        if major >= 19 and self.api_key:
            self.via = "json2"
            return await self._json2(model, "search_read", {"domain": domain, "fields": fields, **kw})
        if major >= 19:
            self.via = "call_kw"
            return await self._call_kw(model, "search_read", [domain], {"fields": fields, **kw})
        self.via = "jsonrpc"
        if self.uid is None:
            if not (self.login and self.database):
                raise OdooError(None, "config", "RELAY_ODOO_LOGIN and RELAY_ODOO_DB are needed for JSON-RPC")
            uid = await self.rpc.call("/jsonrpc", {"service": "common", "method": "authenticate",
                                                   "args": [self.database, self.login, self.secret, {}]})
            if not uid:
                raise OdooError(None, "AccessDenied", f"Odoo refused the login {self.login!r}")
            self.uid = int(uid)
        return await self.rpc.call("/jsonrpc", {"service": "object", "method": "execute_kw", "args": [
            self.database, self.uid, self.secret, model, "search_read", [domain], {"fields": fields, **kw}]})

    async def _call_kw(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        for attempt in (1, 2):
            if not self.session:
                if not (self.login and self.database):
                    raise OdooError(None, "config", "RELAY_ODOO_LOGIN and RELAY_ODOO_DB are needed with a password")
                info = await self.rpc.call("/web/session/authenticate", {
                    "db": self.database, "login": self.login, "password": self.secret}, jar=self.session)
                if not isinstance(info, dict) or not info.get("uid"):
                    self.session.clear()
                    raise OdooError(None, "AccessDenied", f"Odoo refused the login {self.login!r}")
            try:
                return await self.rpc.call(f"/web/dataset/call_kw/{model}/{method}", {
                    "model": model, "method": method, "args": args, "kwargs": kwargs}, jar=self.session)
            except OdooError as exc:
                if attempt == 2 or "SessionExpired" not in exc.name:
                    raise
                self.session.clear()           # expired (or Odoo restarted without its sessions): log in again
        raise AssertionError("unreachable")

    async def _json2(self, model: str, method: str, body: dict) -> Any:
        headers = {"Authorization": f"bearer {self.api_key}"}
        if self.database:
            headers["X-Odoo-Database"] = self.database
        try:
            async with bounded(self.limit), self.http.post(f"{self.base_url}/json/2/{model}/{method}", json=body,
                                                           headers=headers, timeout=self.timeout) as resp:
                status, text = resp.status, await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OdooUnavailable(f"/json/2: {type(exc).__name__}: {exc}") from None
        if status >= 500:
            raise OdooUnavailable(f"/json/2/{model}/{method}: HTTP {status}")
        if status != 200:
            raise OdooError(status, "json2", f"/json/2/{model}/{method}: HTTP {status}")
        try:
            return json.loads(text)
        except ValueError:
            raise OdooUnavailable(f"/json/2/{model}/{method}: not JSON") from None


def _hash(body: str) -> str:
    return hashlib.blake2b(body.encode(), digest_size=8).hexdigest()


def _m2o(value) -> tuple[int | None, str]:
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], int):
        return value[0], str(value[1]) if len(value) > 1 else ""
    return None, ""


class BatchPoller:
    def __init__(self, replies: Replies, api: ExternalAPI, interval: float):
        self.replies, self.api, self.interval = replies, api, interval
        self.convs: dict[int, Conversation] = {}          # Odoo session id → conversation
        self.bodies: dict[int, dict[int, str]] = {}         # session id → message id → body hash
        self.since: str | None = None                       # newest write_date seen (Odoo's clock)
        self.cursor: int | None = None                      # highest message id read (all sessions)
        self.fresh: set[int] = set()                        # sessions added since: read once on their own
        # partner id → (the name Odoo shows visitors, until when it is trusted): the author's
        # livechat username when set, never the real name behind it
        self.names: dict[int, tuple[str, float]] = {}
        self.task: asyncio.Task | None = None
        self.leases = replies.leases                        # poll only while this node holds the lease
        self.leader = False

    def add(self, conv: Conversation) -> None:
        assert conv.odoo_channel_id is not None   # followed: bound to a session
        if conv.odoo_channel_id not in self.convs:   # (the lease keeper's scans add them all again)
            self.convs[conv.odoo_channel_id] = conv
            self.fresh.add(conv.odoo_channel_id)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="odoo-batch-poll")

    def remove(self, conversation_id: str) -> None:
        for channel_id, conv in list(self.convs.items()):
            if conv.id == conversation_id:
                del self.convs[channel_id]
                self.bodies.pop(channel_id, None)
                self.fresh.discard(channel_id)

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.leader:                               # let another node poll at once
            self.leader = False
            try:
                await self.leases.release(LEASE)
            except Exception:
                pass

    async def lead(self) -> bool:
        """Whether this node polls now: while it holds the lease."""
        try:
            if self.leader:
                self.leader = bool(await self.leases.renew([LEASE]))
            if not self.leader:
                self.leader = await self.leases.acquire(LEASE)
                if self.leader:
                    log.info("odoo batch poll lease taken")
        except Exception as exc:   # Redis away: do not poll (another node may hold it by now)
            log.warning("odoo batch poll lease unavailable", extra={"reason": repr(exc)[:200]})
            self.leader = False
        return self.leader

    async def _run(self) -> None:
        while self.convs:
            try:
                if await self.lead():
                    await self.tick()
            except asyncio.CancelledError:
                raise
            except (OdooUnavailable, OdooError, ValueError, KeyError, TypeError) as exc:
                log.warning("odoo batch poll failed", extra={"reason": str(exc)[:200], "sessions": len(self.convs)})
            except Exception:
                log.exception("odoo batch poll failed")
            await asyncio.sleep(self.interval)

    async def tick(self) -> None:
        if not self.convs:
            return
        adapter = await self.replies.upstream.version()
        convs = dict(self.convs)                      # conversations open and close while we await
        ids = sorted(convs)
        base: list = [["model", "=", "discuss.channel"], ["message_type", "in", ["comment", "notification"]]]
        if self.cursor is None:                       # start: from the lowest position of all, once
            self.cursor = min(st.follow_of(c).poll_last for c in convs.values())
            self.fresh.clear()
        advanced: dict[str, int] = {}
        # sessions added behind the cursor: each read once from its own position up to the cursor
        for channel_id in sorted(self.fresh & set(ids)):
            own = st.follow_of(convs[channel_id]).poll_last
            if own < self.cursor:
                await self._pages(adapter.major, base + [["res_id", "=", channel_id], ["id", "<=", self.cursor]],
                                  own, convs, advanced)
            self.fresh.discard(channel_id)
        # every open session above the cursor, and behind it what was written lately (late
        # commits, edits, deletions): one query, paged by id until a short page
        domain = base + [["res_id", "in", ids]]
        if self.since:
            back = dt.datetime.strptime(self.since, ODOO_DATETIME) - dt.timedelta(seconds=OVERLAP)
            domain += ["|", ["id", ">", self.cursor], ["write_date", ">=", back.strftime(ODOO_DATETIME)]]
            after = 0
        else:
            after = self.cursor
        top = await self._pages(adapter.major, domain, after, convs, advanced, max_pages=MAX_PAGES)
        self.cursor = max(self.cursor, top)
        for conv in convs.values():
            if conv.id in advanced and advanced[conv.id] > st.follow_of(conv).poll_last:
                await st.write(self.replies.relay.store, conv, st.FollowCursor.patch(poll_last=advanced[conv.id]))
        ended = "livechat_end_dt" if adapter.major >= 19 else "livechat_active"
        channels = await self.api.search_read(adapter.major, "discuss.channel", [["id", "in", ids]], ["id", ended])
        for channel in channels:
            closed = bool(channel.get(ended)) if adapter.major >= 19 else not channel.get(ended)
            ended_conv = convs.get(channel["id"]) if isinstance(channel.get("id"), int) else None
            if closed and ended_conv is not None:
                await self.replies.relay.append(ended_conv.id, ev.new_event("closed", by="odoo"), source="odoo",
                                                dedupe_key="closed")
                self.replies.unfollow(ended_conv.id)
                log.info("odoo session closed", extra={"conversation": ended_conv.id})

    async def _pages(self, major: int, domain: list, after: int, convs: dict[int, Conversation],
                     advanced: dict[str, int], max_pages: int = 1_000_000) -> int:
        """Read the rows of ``domain`` above id ``after``, oldest first, ``LIMIT`` a page, until a
        short page (or ``max_pages``); handle each. Returns the highest id read."""
        top = after
        for _ in range(max_pages):
            rows = await self.api.search_read(major, "mail.message", domain + [["id", ">", top]], FIELDS,
                                              order="id asc", limit=LIMIT)
            attachments = await self._attachments(major, rows)
            await self._names(major, rows)
            for row in rows:
                if not isinstance(row.get("id"), int):
                    continue
                top = max(top, row["id"])
                if isinstance(row.get("write_date"), str) and (self.since is None or row["write_date"] > self.since):
                    self.since = row["write_date"]
                conv = convs.get(row["res_id"]) if isinstance(row.get("res_id"), int) else None
                if conv is not None and conv.odoo_channel_id in self.convs and await self._row(conv, row, attachments):
                    advanced[conv.id] = max(advanced.get(conv.id, 0), row["id"])
            if len(rows) < LIMIT:
                break
        return top

    async def _names(self, major: int, rows: list[dict]) -> None:
        """What visitors are shown for each operator author of ``rows``: mail.message's author_id
        carries the partner's real name, the livechat alias is on res.partner."""
        now = time.monotonic()
        wanted = sorted({pid for row in rows if not row.get("author_guest_id")
                         for pid in [_m2o(row.get("author_id"))[0]] if pid is not None
                         and (pid not in self.names or self.names[pid][1] < now)})
        if not wanted:
            return
        try:
            found = await self.api.search_read(major, "res.partner", [["id", "in", wanted]],
                                               ["id", "name", "user_livechat_username"])
        except OdooError as exc:   # no right to read partners: show no name rather than a real one
            log.warning("odoo batch poll cannot read operator names", extra={"reason": str(exc)[:200]})
            found = []
        for pid in wanted:            # a partner Odoo did not return (access rules): no name
            self.names[pid] = ("", now + NAME_TTL)
        for partner in found:
            if isinstance(partner, dict) and isinstance(partner.get("id"), int):
                self.names[partner["id"]] = (partner_name(partner), now + NAME_TTL)

    async def _attachments(self, major: int, rows: list[dict]) -> dict[int, dict]:
        wanted = sorted({a for row in rows for a in row.get("attachment_ids") or [] if isinstance(a, int)})
        if not wanted:
            return {}
        found = await self.api.search_read(major, "ir.attachment", [["id", "in", wanted]],
                                           ["id", "name", "mimetype", "file_size", "access_token"])
        return {a["id"]: a for a in found}

    async def _row(self, conv: Conversation, row: dict, attachments: dict[int, dict]) -> bool:
        """Handle one message row; True when it is new for this conversation (moves its cursor)."""
        mid, body = int(row["id"]), html(row.get("body"))
        assert conv.odoo_channel_id is not None   # (from self.convs: bound)
        seen = self.bodies.setdefault(conv.odoo_channel_id, {})
        last = st.follow_of(conv).poll_last
        digest = _hash(body)
        previous = seen.get(mid)
        if previous is not None or (mid <= last and row.get("message_type") != "comment"):
            seen[mid] = digest
            if previous is None or previous == digest or row.get("author_guest_id"):
                return False           # a pin, a reaction, a note read again: not an edit
            item = edit_item({"id": mid, "body": body}, self._files(row, attachments))
            if item:
                await self.replies.edited(conv, item)
            return False
        seen[mid] = digest
        # first sight of a comment: new, or a late commit behind a session's position, or one read
        # again after a restart; the store keeps it once (msg:odoo:<id>)
        author_id, author_name = _m2o(row.get("author_id"))
        if author_id in self.names:
            author_name = self.names[author_id][0]
        if row.get("message_type") == "notification":
            if payloads.LEFT_NOTE.search(body):
                await self.replies.relay.append(conv.id, ev.new_event("member_left", member={
                    "kind": "operator", "name": author_name}), source="odoo", dedupe_key=f"left:odoo:{mid}")
            return True
        if row.get("author_guest_id"):
            return True                # the visitor's own: stored when the widget sent it
        kind = "bot" if author_id == payloads.ODOOBOT_PARTNER_ID else "operator"
        files = self._files(row, attachments)
        if not files and not sanitize.html_to_text(body).strip():
            return True                # deleted before we saw it: nothing to show
        msg = payloads.OdooMessage(id=mid, author_kind=kind, author_name=author_name, body_html=body,
                                   attachments=files, author_id=author_id)
        await self.replies.relay.append(conv.id, message_event(msg), source="odoo",
                                        dedupe_key=f"msg:odoo:{mid}")
        return True

    def _files(self, row: dict, attachments: dict[int, dict]) -> list[dict]:
        base = self.api.base_url
        return [a for a in (attachment(attachments[i], base) for i in row.get("attachment_ids") or []
                            if i in attachments) if a]
