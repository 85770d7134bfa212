"""``RELAY_ODOO_REPLIES=shared_bus`` (proxy/odoo/shared_bus.py) under faults: one socket as an Odoo
user for every session, seen from the widget's side.

A loopback stand-in of Odoo 18.0 with several sessions (payloads recorded from a real 18.0 server,
tests/fixtures/odoo/18/, moved to each session's channel id) exists to inject faults only: the
socket dropped or refused, the user's session expired (4001), a relay restart, noise on the
socket, an edit naming no channel. Real Odoo is tested in tests/odoo/test_shared_bus_live.py.
"""
from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import uuid

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from proxy.config import ConfigError, from_env
from tests.conftest import Client
from tests.loopback import serve
from tests.proxy.test_odoo_bus_faults import (CHANNEL_ID, LOADER_JS, POLL_ANSWER, POST_ANSWER, SESSION,
                                              VERSION_INFO, _rechannel, bus_reply_notifications, operator_record,
                                              recorded, visitor_record)
from tests.redisproc import prefix  # noqa: F401  (fixture)
from tests.relayproc import RelayProcess

LOGIN, PASSWORD, DB, UID = "relaybus", "s3cret", "rigfake", 7
POLL_INTERVAL = 0.3
LEAVE = recorded("bus_operator_leave")["bus"]["frames"][0]
LEAVE_CHANNEL = next(n["message"]["payload"]["id"] for n in LEAVE if n["message"]["type"] == "discuss.channel/new_message")


def _edit_note(message_id: int, text: str) -> dict:
    return {"message": {"type": "mail.record/insert", "payload": {"mail.message": [{
        "attachment_ids": [], "body": f"<p>{text}</p><span class=\"o-mail-Message-edited\"></span>", "id": message_id,
        "pinned_at": False, "recipients": [], "translationValue": False, "write_date": "2026-11-25 21:09:30"}]}}}


NOISE = [{"message": {"type": "bus.bus/im_status_updated", "payload": {"im_status": "online", "partner_id": 3}}},
         {"message": {"type": "mail.record/insert", "payload": {"res.partner": [{"id": 3, "im_status": "online"}]}}}]


def _domain_ok(row: dict, domain: list) -> bool:
    """Odoo's prefix-notation domains, as far as the batch poller uses them."""
    def term(t):
        field, op, value = t
        v = row.get(field)
        v = v[0] if isinstance(v, list) and v and field.endswith("_id") else v
        if op in ("=", "!="):
            return (v == value) == (op == "=")
        if op == "in":
            return v in value
        if v is None or v is False:
            return False
        return {">": v > value, ">=": v >= value, "<=": v <= value, "<": v < value}[op] if op in (">", ">=", "<=", "<") \
            else (_ for _ in ()).throw(AssertionError(op))

    def parse(items):
        head = items.pop(0)
        if head == "&":
            a, b = parse(items), parse(items)
            return a and b
        if head == "|":
            a, b = parse(items), parse(items)
            return a or b
        if head == "!":
            return not parse(items)
        return term(head)
    items = list(domain)
    result = True
    while items:
        result = parse(items) and result
    return result


class SharedOdoo:
    """Odoo 18.0 for a relay user on one socket and for the guests of many sessions."""

    def __init__(self):
        self.url = ""
        self.runner: web.AppRunner | None = None
        self.next_channel, self.next_message, self.next_bus = 5000, 9000, 20000
        self.channels: dict[int, dict] = {}      # id → {"token", "active"}
        self.messages: dict[int, dict] = {}      # id → {"channel", "body", "kind", "write_date"}
        self.bus_log: list[tuple[str, dict]] = []  # (target channel, notification with id)
        self.sessions: set[str] = set()          # valid session_id cookies
        self.logins = 0
        self.ws_refused = False
        self.ws_attempts = 0
        self.subscribes: list[dict] = []
        self.live: dict[web.WebSocketResponse, set[str]] = {}
        self.lookups = 0
        self.operators: list[int] = []
        self.alias: str | bool = False     # the operator's livechat username (res.partner)

    # -------------------------------------------------------------- operator side

    def _message(self, channel: int, body: str, kind: str) -> int:
        self.next_message += 1
        self.messages[self.next_message] = {"channel": channel, "body": body, "kind": kind,
                                            "write_date": "2026-11-25 21:09:%02d" % (self.next_message % 60)}
        return self.next_message

    async def reply(self, channel: int, text: str, bus: bool = True) -> int:
        mid = self._message(channel, f"<p>{text}</p>", "operator")
        if bus:
            await self.publish(f"discuss.channel_{channel}",
                               _rechannel(bus_reply_notifications(mid, text), CHANNEL_ID, channel))
        return mid

    async def edit(self, mid: int, text: str) -> None:
        self.messages[mid]["body"] = f"<p>{text}</p><span class=\"o-mail-Message-edited\"></span>"
        await self.publish(f"discuss.channel_{self.messages[mid]['channel']}", [_edit_note(mid, text)])

    async def leave(self, channel: int) -> None:
        notes = _rechannel(copy.deepcopy(LEAVE), LEAVE_CHANNEL, channel)
        for note in notes:
            note.pop("id")
        await self.publish(f"discuss.channel_{channel}", notes)

    async def publish(self, target: str, notes: list[dict]) -> list[dict]:
        frame = []
        for note in notes:
            self.next_bus += 1
            frame.append({"id": self.next_bus, **copy.deepcopy(note)})
            self.bus_log.append((target, frame[-1]))
        for ws, channels in list(self.live.items()):
            if (target in channels or target.startswith("res.partner")) and not ws.closed:
                with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                    await ws.send_str(json.dumps(frame))
        return frame

    async def drop(self, code: int = 1001) -> None:
        for ws in list(self.live):
            await ws.close(code=code, message=b"")

    async def expire(self) -> None:
        self.sessions.clear()
        await self.drop(4001)

    # -------------------------------------------------------------- routes

    async def start(self) -> "SharedOdoo":
        app = web.Application()
        r = app.router
        r.add_post("/web/webclient/version_info", self.version_info)
        r.add_post("/im_livechat/get_session", self.get_session)
        r.add_post("/im_livechat/cors/message/post", self.message_post)
        r.add_post("/im_livechat/cors/channel/messages", self.channel_messages)
        r.add_get("/im_livechat/loader/{channel}", self.loader)
        r.add_get("/im_livechat_webhook/info", self.no_addon)
        r.add_post("/web/session/authenticate", self.authenticate)
        r.add_post("/web/dataset/call_kw/{path:.*}", self.call_kw)
        r.add_post("/jsonrpc", self.jsonrpc)
        r.add_get("/websocket", self.websocket)
        app.on_shutdown.append(lambda app: self.drop())
        self.runner, self.url = await serve(app, shutdown_timeout=2)
        return self

    async def stop(self) -> None:
        await self.runner.cleanup()

    @staticmethod
    def rpc(result) -> web.Response:
        return web.json_response({"jsonrpc": "2.0", "id": 1, "result": result})

    @staticmethod
    def error(name: str, message: str = "") -> web.Response:
        return web.json_response({"jsonrpc": "2.0", "id": 1, "error": {
            "code": 100 if "Session" in name else 200, "message": message or name, "data": {"name": name, "message": message}}})

    async def version_info(self, request):
        return self.rpc(VERSION_INFO)

    async def no_addon(self, request):
        return web.Response(status=404, text="404")

    async def loader(self, request):
        return web.Response(text=LOADER_JS % self.url, content_type="application/javascript")

    async def get_session(self, request):
        self.next_channel += 1
        cid, token = self.next_channel, f"{self.next_channel}|{uuid.uuid4()}"
        self.channels[cid] = {"token": token, "active": True}
        session = _rechannel(copy.deepcopy(SESSION), CHANNEL_ID, cid)
        session["Store"]["guest_token"] = token
        return self.rpc(session)

    async def message_post(self, request):
        params = (await request.json())["params"]
        cid = params["thread_id"]
        assert self.channels[cid]["token"] == params["guest_token"], params
        mid = self._message(cid, f"<p>{params['post_data']['body']}</p>", "visitor")
        answer = copy.deepcopy(POST_ANSWER)
        answer["mail.message"] = [_rechannel(visitor_record(mid, self.messages[mid]["body"]), CHANNEL_ID, cid)]
        return self.rpc(answer)

    def _record(self, mid: int) -> dict:
        m = self.messages[mid]
        rec = (visitor_record if m["kind"] == "visitor" else operator_record)(mid, "")
        rec["body"] = m["body"]
        return _rechannel(rec, CHANNEL_ID, m["channel"])

    async def channel_messages(self, request):
        params = (await request.json())["params"]
        cid = params["channel_id"]
        assert self.channels[cid]["token"] == params["guest_token"], params
        after, size = int(params.get("limit") or 0), int(params.get("around") or 30)   # 18.0's shifted arguments
        mids = [i for i in sorted(self.messages) if self.messages[i]["channel"] == cid and i > after][:size]
        data = copy.deepcopy(POLL_ANSWER["data"])
        data["mail.message"] = [self._record(i) for i in mids]
        data["mail.guest"] = copy.deepcopy(POST_ANSWER["mail.guest"])
        return self.rpc({"data": data, "messages": sorted(mids, reverse=True)})

    async def authenticate(self, request):
        params = (await request.json())["params"]
        if (params.get("db"), params.get("login"), params.get("password")) != (DB, LOGIN, PASSWORD):
            return self.error("odoo.exceptions.AccessDenied", "Access Denied")
        self.logins += 1
        sid = uuid.uuid4().hex
        self.sessions.add(sid)
        response = self.rpc({"uid": UID, "db": DB})
        response.set_cookie("session_id", sid)
        return response

    def _rows(self, model: str, domain: list) -> list[dict]:
        if model == "mail.message":
            rows = [{"id": i, "model": "discuss.channel", "res_id": m["channel"], "body": m["body"],
                     "message_type": "comment", "attachment_ids": [], "write_date": m["write_date"],
                     "author_id": False if m["kind"] == "visitor" else [3, "Mitchell Admin"],
                     "author_guest_id": [61, "Visitor"] if m["kind"] == "visitor" else False}
                    for i, m in sorted(self.messages.items())]
        elif model == "discuss.channel":
            rows = [{"id": c, "livechat_active": s["active"]} for c, s in sorted(self.channels.items())]
        elif model == "im_livechat.channel":
            rows = [{"id": 1, "user_ids": self.operators}]
        elif model == "res.partner":     # the operator's livechat alias: what visitors are shown
            rows = [{"id": 3, "name": "Mitchell Admin", "user_livechat_username": self.alias}]
        else:
            rows = []
        return [r for r in rows if _domain_ok(r, domain)]

    async def call_kw(self, request):
        params = (await request.json())["params"]
        if request.cookies.get("session_id") not in self.sessions:
            return self.error("odoo.http.SessionExpiredException", "Session expired")
        model, method, args = params["model"], params["method"], params["args"]
        if model == "mail.message":
            self.lookups += 1
        if method == "read":
            return self.rpc([r for r in self._rows(model, []) if r["id"] in args[0]])
        return self.rpc(self._rows(model, args[0]))

    async def jsonrpc(self, request):
        params = (await request.json())["params"]
        if params["service"] == "common":
            return self.rpc(UID if params["args"][1:3] == [LOGIN, PASSWORD] else False)
        db, uid, secret, model, method, args, kw = params["args"]
        assert (db, uid, secret, method) == (DB, UID, PASSWORD, "search_read"), params
        rows = self._rows(model, args[0])
        if kw.get("limit"):
            rows = rows[:kw["limit"]]
        return self.rpc(rows)

    async def websocket(self, request):
        self.ws_attempts += 1
        assert request.headers.get("Origin") == self.url
        if self.ws_refused:
            return web.Response(status=502, text="<html>502</html>", content_type="text/html")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        valid = request.cookies.get("session_id") in self.sessions
        self.live[ws] = set()
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    break
                sub = json.loads(frame.data)
                assert sub["event_name"] == "subscribe", sub
                if not valid:                       # what Odoo does with an expired session
                    await ws.close(code=4001, message=b"SESSION_EXPIRED")
                    break
                self.subscribes.append(sub["data"])
                channels = set(sub["data"]["channels"])
                self.live[ws] = channels
                replay = [n for target, n in self.bus_log if n["id"] > sub["data"]["last"]
                          and (target in channels or target.startswith("res.partner"))]
                if replay:
                    await ws.send_str(json.dumps(replay))
        finally:
            self.live.pop(ws, None)
        return ws


# ---------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
async def odoo():
    fake = await SharedOdoo().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def relay(tmp_path, odoo):
    procs: list[RelayProcess] = []

    async def start(**extra) -> RelayProcess:
        proc = RelayProcess(tmp_path, env={
            "RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_LIVECHAT_CHANNEL_ID": "1", "RELAY_ODOO_REPLIES": "shared_bus",
            "RELAY_ODOO_LOGIN": LOGIN, "RELAY_ODOO_PASSWORD": PASSWORD, "RELAY_ODOO_DB": DB,
            "RELAY_ODOO_POLL_INTERVAL": str(POLL_INTERVAL), "RELAY_LOG_LEVEL": "info", **extra})
        procs.append(proc)
        return await asyncio.to_thread(proc.start)

    async def stop(proc: RelayProcess) -> None:
        await asyncio.to_thread(proc.stop)
    start.stop = stop
    yield start
    for proc in procs:
        await asyncio.to_thread(proc.stop)


async def eventually(predicate, timeout: float, what: str, relay: RelayProcess | None = None):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} after {timeout}s" + (f"\nrelay log:\n{relay.logs()[-3000:]}" if relay else ""))
        await asyncio.sleep(0.1)


async def health(client: Client) -> dict:
    status, body, _ = await client.call("GET", "/healthz")
    assert status == 200, body
    return body["odoo"]


async def on_socket(client: Client, count: int, relay: RelayProcess) -> dict:
    async def ready():
        body = await health(client)
        return body if body["following"] == {"shared_bus": count} and body["shared_bus"]["connected"] else None
    return await eventually(ready, 15, f"{count} conversations on the shared socket", relay)


def of_type(events: list[dict], type_: str) -> list[dict]:
    return [e for e in events if e["type"] == type_]


async def texts(client: Client, conv: dict) -> list[str]:
    events = (await client.events(conv))["events"]
    return [e["message"]["text"] for e in of_type(events, "message") if e["message"]["author"]["kind"] != "visitor"]


async def arrives(client: Client, conv: dict, text: str, relay: RelayProcess, timeout: float = 10) -> None:
    async def there():
        return text in await texts(client, conv)
    await eventually(there, timeout, f"{text!r} in {conv['conversation_id']}", relay)


# ---------------------------------------------------------------------- tests


def test_shared_bus_needs_a_login_a_password_and_a_database():
    base = {"RELAY_ODOO_URL": "http://odoo", "RELAY_ODOO_LIVECHAT_CHANNEL_ID": "1", "RELAY_ODOO_REPLIES": "shared_bus"}
    with pytest.raises(ConfigError, match="RELAY_ODOO_LOGIN, RELAY_ODOO_PASSWORD, RELAY_ODOO_DB"):
        from_env(base)
    with pytest.raises(ConfigError, match="needs RELAY_ODOO_PASSWORD: .*API key"):
        from_env({**base, "RELAY_ODOO_LOGIN": "bot", "RELAY_ODOO_DB": "db", "RELAY_ODOO_API_KEY": "k"})
    assert from_env({**base, "RELAY_ODOO_LOGIN": "bot", "RELAY_ODOO_DB": "db", "RELAY_ODOO_PASSWORD": "pw"}).odoo_replies \
        == "shared_bus"


async def test_one_socket_follows_every_conversation_and_each_gets_only_its_own(odoo, relay):
    proc = await relay()
    async with aiohttp.ClientSession() as http:
        client = Client(proc, http)
        convs = [await client.create(visitor_name=f"V{n}") for n in range(3)]
        channels = [await client.channel_of(c["conversation_id"]) for c in convs]
        body = await on_socket(client, 3, proc)
        assert body["shared_bus"]["sockets"] == 1 and odoo.ws_attempts == 1 and len(odoo.live) == 1
        assert set(odoo.subscribes[-1]["channels"]) == {f"discuss.channel_{c}" for c in channels}
        mids = [await odoo.reply(ch, f"reply {n}") for n, ch in enumerate(channels)]
        await odoo.publish("res.partner_3", NOISE)                                  # the user's own traffic
        odoo.channels[4999] = {"token": "x", "active": True}                        # a channel nobody follows
        await odoo.publish("discuss.channel_4999", _rechannel(bus_reply_notifications(odoo._message(4999, "<p>x</p>", "operator"),
                                                                                        "not yours"), CHANNEL_ID, 4999))
        for n, conv in enumerate(convs):
            await arrives(client, conv, f"reply {n}", proc)
        # an edit names no channel: it reaches the conversation of its message only
        await odoo.edit(mids[1], "reply 1 (fixed)")
        # one the relay never saw on the socket (posted while nobody listened): looked up as the user
        quiet = await odoo.reply(channels[2], "quiet one", bus=False)
        await odoo.edit(quiet, "quiet one (fixed)")
        await odoo.leave(channels[0])

        async def edited():
            return all([of_type((await client.events(c))["events"], "message_updated") for c in convs[1:]])
        await eventually(edited, 10, "both edits", proc)
        await asyncio.sleep(0.5)
        events = [(await client.events(c))["events"] for c in convs]
        assert [e["message"]["text"] for e in of_type(events[1], "message_updated")] == ["reply 1 (fixed)"]
        assert [e["message"]["text"] for e in of_type(events[2], "message_updated")] == ["quiet one (fixed)"]
        assert of_type(events[0], "message_updated") == [] and odoo.lookups == 1
        assert [e["member"]["name"] for e in of_type(events[0], "member_left")] == ["Administrator"]
        assert of_type(events[1], "member_left") == of_type(events[2], "member_left") == []
        for n, ev in enumerate(events):   # every reply once, and nothing of the other channel
            operator = [e["message"]["text"] for e in of_type(ev, "message") if e["message"]["author"]["kind"] != "visitor"]
            assert operator.count(f"reply {n}") == 1 and "not yours" not in operator
        # a conversation opened now: the next subscribe carries all four (one socket still)
        late = await client.create(visitor_name="Late")
        late_channel = await client.channel_of(late["conversation_id"])
        await on_socket(client, 4, proc)
        assert f"discuss.channel_{late_channel}" in odoo.subscribes[-1]["channels"] and len(odoo.subscribes[-1]["channels"]) == 4
        await odoo.reply(late_channel, "late reply")
        await arrives(client, late, "late reply", proc)
        assert odoo.ws_attempts == 1
        # closed by the visitor: dropped from the next subscribe
        await client.call("POST", f"/v1/conversations/{late['conversation_id']}/close", late["token"])
        await on_socket(client, 3, proc)
        await eventually(lambda: asyncio.sleep(0, len(odoo.subscribes[-1]["channels"]) == 3), 5, "resubscribed")


async def test_socket_down_replies_come_by_polling_then_by_the_socket_again(odoo, relay):
    proc = await relay()
    async with aiohttp.ClientSession() as http:
        client = Client(proc, http)
        convs = [await client.create(visitor_name=f"V{n}") for n in range(2)]
        channels = [await client.channel_of(c["conversation_id"]) for c in convs]
        await on_socket(client, 2, proc)
        odoo.ws_refused = True
        await odoo.drop()

        async def polled():
            body = await health(client)
            return body if body["following"] == {"poll": 2} and not body["shared_bus"]["connected"] else None
        body = await eventually(polled, 10, "polled while the socket is down", proc)
        assert body["shared_bus"]["sockets"] == 0
        odoo.alias = "Sam from Support"       # visitors are shown the alias, never the real name
        for n, ch in enumerate(channels):     # committed in Odoo; no socket to carry it
            await odoo.reply(ch, f"while down {n}")
        for n, conv in enumerate(convs):
            await arrives(client, conv, f"while down {n}", proc)
            polled_replies = [e for e in (await client.events(conv))["events"] if e["type"] == "message"
                              and e["message"]["text"] == f"while down {n}"]
            assert [e["message"]["author"]["name"] for e in polled_replies] == ["Sam from Support"]
            assert "Mitchell" not in json.dumps(polled_replies)
        odoo.ws_refused = False
        await on_socket(client, 2, proc)
        assert odoo.subscribes[-1]["last"] >= odoo.subscribes[0]["last"]
        await odoo.reply(channels[0], "socket again")
        await arrives(client, convs[0], "socket again", proc)
        await asyncio.sleep(1)
        for n, conv in enumerate(convs):       # the socket's replay of what polling brought: still once
            assert (await texts(client, conv)).count(f"while down {n}") == 1
        assert len(odoo.live) == 1


async def test_an_expired_session_logs_in_again(odoo, relay):
    proc = await relay()
    async with aiohttp.ClientSession() as http:
        client = Client(proc, http)
        conv = await client.create(visitor_name="V")
        channel = await client.channel_of(conv["conversation_id"])
        await on_socket(client, 1, proc)
        assert odoo.logins == 1
        await odoo.expire()
        await eventually(lambda: asyncio.sleep(0, odoo.logins == 2 and len(odoo.live) == 1), 10, "a new login", proc)
        await on_socket(client, 1, proc)
        await odoo.reply(channel, "after expiry")
        await arrives(client, conv, "after expiry", proc)
        assert "session expired: logging in again" in proc.logs()


async def test_a_restarted_relay_resumes_from_the_last_bus_id(odoo, relay):
    proc = await relay()
    async with aiohttp.ClientSession() as http:
        client = Client(proc, http)
        conv = await client.create(visitor_name="V")
        channel = await client.channel_of(conv["conversation_id"])
        await on_socket(client, 1, proc)
        first = await odoo.reply(channel, "before the restart")
        await arrives(client, conv, "before the restart", proc)
        seen = odoo.next_bus
        await relay.stop(proc)
        await odoo.reply(channel, "while the relay was down")
        await odoo.edit(first, "before the restart (edited while down)")   # only the bus replay has it
        proc = await relay()
        client = Client(proc, http)
        await on_socket(client, 1, proc)
        assert odoo.subscribes[-1]["last"] == seen
        await arrives(client, conv, "while the relay was down", proc)

        async def edited():
            return of_type((await client.events(conv))["events"], "message_updated")
        assert (await eventually(edited, 10, "the edit", proc))[0]["message"]["text"] == "before the restart (edited while down)"
        await asyncio.sleep(0.5)
        assert (await texts(client, conv)).count("while the relay was down") == 1


async def test_a_wrong_password_is_said_and_never_counted_connected(odoo, relay):
    proc = await relay(RELAY_ODOO_PASSWORD="wrong")
    async with aiohttp.ClientSession() as http:
        client = Client(proc, http)
        await client.create(visitor_name="V")
        await eventually(lambda: asyncio.sleep(0, "odoo shared bus failed" in proc.logs()), 10, "the failure logged", proc)
        assert "AccessDenied" in proc.logs() and odoo.ws_attempts == 0
        body = await health(client)
        assert "shared_bus" not in body["following"] and not body["shared_bus"]["connected"]
        assert body["shared_bus"]["sockets"] == 0
        body = await health(client)                      # /healthz says what to fix, no secret in it
        assert body["shared_bus"]["error"].startswith("login refused for ") and "wrong" not in json.dumps(body)


@pytest.mark.slow
async def test_two_nodes_one_socket_and_it_moves_when_its_node_dies(tmp_path, odoo, prefix):
    from tests import redisproc
    nodes = [RelayProcess(tmp_path / f"n{i}", env={
        "RELAY_STORE": redisproc.shared_url(prefix), "RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_LIVECHAT_CHANNEL_ID": "1",
        "RELAY_ODOO_REPLIES": "shared_bus", "RELAY_ODOO_LOGIN": LOGIN, "RELAY_ODOO_PASSWORD": PASSWORD,
        "RELAY_ODOO_DB": DB, "RELAY_ODOO_POLL_INTERVAL": str(POLL_INTERVAL), "RELAY_LEASE_TTL": "2",
        "RELAY_LOG_LEVEL": "info"}) for i in range(2)]
    for node in nodes:
        node.workdir.mkdir()
        await asyncio.to_thread(node.start)
    try:
        async with aiohttp.ClientSession() as http:
            a, b = (Client(n, http) for n in nodes)
            convs = [await a.create(visitor_name="A"), await b.create(visitor_name="B")]
            channels = sorted(odoo.channels)          # Redis store: the stand-in knows them, in order

            async def one_holder():
                bodies = [await health(c) for c in (a, b)]
                holders = [body for body in bodies if body["shared_bus"]["leader"]]
                return holders if len(holders) == 1 and holders[0]["following"] == {"shared_bus": 2} else None
            await eventually(one_holder, 15, "one node with the socket, following both")
            await asyncio.sleep(4)                     # renewals: the other node stays out
            assert len(odoo.live) == 1 and odoo.ws_attempts == 1
            holder = 0 if (await health(a))["shared_bus"]["leader"] else 1
            other, other_client = nodes[1 - holder], (a, b)[1 - holder]
            await odoo.reply(channels[0], "first")
            await arrives(other_client, convs[0], "first", other)
            await asyncio.to_thread(nodes[holder].kill)
            await eventually(lambda: asyncio.sleep(0, odoo.ws_attempts == 2 and len(odoo.live) == 1), 15,
                             "the other node took the socket", other)
            await on_socket(other_client, 2, other)
            await odoo.reply(channels[1], "after the node died")
            await arrives(other_client, convs[1], "after the node died", other)
            assert (await texts(other_client, convs[0])).count("first") == 1
    finally:
        for node in nodes:
            await asyncio.to_thread(node.stop)
