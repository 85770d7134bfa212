"""The Odoo reply follower (proxy/odoo/replies.py) under faults, seen from the widget's side.

A loopback stand-in of Odoo 18.0 answers the visitor's routes with the payloads recorded from a
real 18.0 server (tests/fixtures/odoo/18/) and serves ``/websocket`` from a per-test script. It
exists to inject faults only (outdated worker version, garbage frames, refused or dropped
connections, odd answers on the messages route, repeated deliveries); real Odoo behaviour is
tested against real servers in tests/odoo. Each test runs a real relay process with
``RELAY_ODOO_REPLIES=bus`` (or ``poll``) and checks what the widget receives: every operator
reply once, and a follower that keeps going.
"""
from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from tests.conftest import Client
from tests.loopback import serve
from tests.relayproc import RelayProcess

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "odoo" / "18"
WORKER_VERSION = "18.0-5"
POLL_INTERVAL = 0.3


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


VERSION_INFO = recorded("version_info")["response"]["result"]
SESSION = recorded("get_session_cors")["response"]["result"]
CHANNEL_ID = SESSION["discuss.channel"][0]["id"]
GUEST_TOKEN = SESSION["Store"]["guest_token"]
POLL_ANSWER = recorded("messages_cors_after_via_limit")["response"]["result"]     # one operator message
POST_ANSWER = recorded("message_post_cors")["response"]["result"]                 # one visitor message
BUS_REPLY = recorded("bus_operator_reply")["bus"]["frames"][0]                    # operator reply, 3 notifications
BUS_REPLY_CHANNEL = next(n["message"]["payload"]["id"] for n in BUS_REPLY
                         if n["message"]["type"] == "discuss.channel/new_message")
# a notification about something else (the subscribe replay's "is_pinned" insert): only moves the bus id
OTHER_NOTE = recorded("bus_subscribe")["response"][0][4]["message"]
assert POLL_ANSWER["data"]["mail.message"][0]["res_id"] == CHANNEL_ID
assert POST_ANSWER["mail.message"][0]["res_id"] == CHANNEL_ID

LOADER_JS = ('(function () { odoo.__session_info__ = {"livechatData": {"isAvailable": true, "serverUrl": "%s"},'
             ' websocket_worker_version: "' + WORKER_VERSION + '"}; })();\n')


def _rechannel(value, old: int, new: int):
    """The recorded bus payload with its channel id ``old`` replaced (channel ids sit under "id" and
    "res_id"; message, partner and user ids there are all different from it)."""
    if isinstance(value, dict):
        return {k: (new if k in ("id", "res_id") and v == old else _rechannel(v, old, new)) for k, v in value.items()}
    if isinstance(value, list):
        return [_rechannel(v, old, new) for v in value]
    return value


def operator_record(message_id: int, text: str) -> dict:
    msg = copy.deepcopy(POLL_ANSWER["data"]["mail.message"][0])
    msg.update(id=message_id, body=f"<p>{text}</p>")
    return msg


def visitor_record(message_id: int, body: str) -> dict:
    msg = copy.deepcopy(POST_ANSWER["mail.message"][0])
    msg.update(id=message_id, body=body)
    return msg


def bus_reply_notifications(message_id: int, text: str) -> list[dict]:
    """bus_operator_reply's frame for a new message in the stand-in's session (bus ids left out)."""
    notes = _rechannel(copy.deepcopy(BUS_REPLY), BUS_REPLY_CHANNEL, CHANNEL_ID)
    for note in notes:
        note.pop("id")
        if note["message"]["type"] == "discuss.channel/new_message":
            msg = note["message"]["payload"]["data"]["mail.message"][0]
            msg.update(id=message_id, body=f"<p>{text}</p>")
    return notes


# ---------------------------------------------------------------------- the stand-in


class FakeOdoo:
    """Odoo 18.0 as the relay's guest sees it, from recorded payloads, with knobs for faults.

    Bus: each connection reads the subscribe frame, then runs ``bus_scripts[n]`` (n = connection
    number, from 0; default ``[("replay",)]``) and stays open for live notifications unless the
    script closed it. Script steps: ``("replay",)`` the logged notifications with id > ``last``
    (what Odoo does on subscribe), ``("text", str)``, ``("bytes", bytes)``, ``("json", obj)``,
    ``("reply", text)`` a new operator message published on the bus, ``("close", code, reason)``.
    """

    def __init__(self):
        self.url = ""
        self.runner: web.AppRunner | None = None
        self.next_message_id = 200
        self.next_bus_id = 800
        self.messages: list[dict] = []            # mail.message records of the session, by id
        self.bus_log: list[dict] = []             # every notification published, with its bus id
        # messages route
        self.poll_faults: list[str] = []          # one per call, first: html500, not_json, bad_shape, …
        self.poll_ignores_after = False           # answer the whole history every time
        self.poll_shows_operator = True           # False: operator replies reach the guest by the bus only
        self.poll_calls: list[dict] = []
        # bus
        self.bus_refused = False                  # /websocket answers HTTP 500
        self.bus_scripts: dict[int, list[tuple]] = {}
        self.ws_attempts: list[str] = []          # query strings of every /websocket request
        self.subscribes: list[dict] = []
        self.live: list[web.WebSocketResponse] = []
        self.loader_calls = 0
        self.sessions = 0
        self.version_info_fails = False
        # message/post: "down" answers 502 and stores nothing; "lost" stores the message, then answers
        # 502 (Odoo committed it, the answer never reached the relay); one fault per call, or forever
        self.post_faults: list[str] = []
        self.post_down = False
        self.post_calls = 0
        self.post_cookies: list[dict] = []       # the cookies each message/post came with
        self.peek_cookies: list[dict] = []
        self.sets_cookies = False                 # get_session and peek set cookies, as a real server may
        self.session_requests: list[tuple[dict, str | None]] = []   # get_session's cookies, Accept-Language
        # /websocket/peek_notifications (the poll mode's first choice): off by default (404, as on a
        # server without it), so the tests above exercise the messages route
        self.peek_enabled = False
        self.peek_faults: list[str] = []
        self.peek_calls: list[dict] = []
        # /im_livechat_webhook/info: None → 404 (no addon), "500" → a server error, a dict → its JSON
        self.addon_info: dict | str | None = None

    # -------------------------------------------------------------- operator side

    def visitor_texts(self) -> list[str]:
        return [m["body"] for m in self.messages if m["author"]["type"] == "guest"]

    def new_message_id(self) -> int:
        self.next_message_id += 1
        return self.next_message_id

    async def operator_reply(self, text: str, bus: bool = True) -> int:
        """The operator answers: the message is in the history (messages route) and on the bus."""
        message_id = self.new_message_id()
        self.messages.append(operator_record(message_id, text))
        if bus:
            await self.publish(bus_reply_notifications(message_id, text))
        return message_id

    def log_notifications(self, notes: list[dict]) -> list[dict]:
        frame = []
        for note in notes:
            self.next_bus_id += 1
            frame.append({"id": self.next_bus_id, **note})
        self.bus_log.extend(frame)
        return frame

    async def publish(self, notes: list[dict]) -> list[dict]:
        frame = self.log_notifications(notes)
        await self.send_live(frame)
        return frame

    async def send_live(self, frame: list[dict]) -> None:
        for ws in list(self.live):
            if not ws.closed:
                with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                    await ws.send_str(json.dumps(frame))

    async def drop_bus(self, code: int = 1001, reason: bytes = b"") -> None:
        for ws in list(self.live):
            await ws.close(code=code, message=reason)

    async def wait_subscribes(self, count: int, timeout: float, relay: RelayProcess | None = None) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.subscribes) < count:
            assert asyncio.get_running_loop().time() < deadline, \
                f"{len(self.subscribes)} bus subscription(s) after {timeout}s, expected {count}" + \
                (explain(relay, self) if relay else "")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)        # the relay's catch-up poll right after its subscribe

    # -------------------------------------------------------------- routes

    async def start(self) -> "FakeOdoo":
        app = web.Application()
        app.router.add_post("/web/webclient/version_info", self.version_info)
        app.router.add_post("/im_livechat/get_session", self.get_session)     # the cookie route (adapters.session_route)
        app.router.add_post("/im_livechat/cors/message/post", self.message_post)
        app.router.add_post("/im_livechat/cors/channel/messages", self.channel_messages)
        app.router.add_get("/im_livechat/loader/{channel}", self.loader)
        app.router.add_post("/websocket/peek_notifications", self.peek_notifications)
        app.router.add_get("/im_livechat_webhook/info", self.info)
        app.router.add_get("/websocket", self.websocket)
        app.on_shutdown.append(self._close_sockets)
        self.runner, self.url = await serve(app, shutdown_timeout=2)
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    async def _close_sockets(self, app) -> None:
        for ws in list(self.live):
            await ws.close(code=1001, message=b"server shutdown")

    @staticmethod
    def pool_error() -> web.Response:
        """What Odoo answers when its database pool is empty (a JSON-RPC error, code 200)."""
        return web.json_response({"jsonrpc": "2.0", "id": 1, "error": {
            "code": 200, "message": "Odoo Server Error", "data": {
                "name": "psycopg2.pool.PoolError", "message": "The Connection Pool Is Full", "arguments": []}}})

    @staticmethod
    def rpc(result) -> web.Response:
        return web.json_response({"jsonrpc": "2.0", "id": 1, "result": result})

    async def version_info(self, request: web.Request) -> web.Response:
        if self.version_info_fails:
            return web.Response(status=502, text="<html><h1>502 Bad Gateway</h1></html>", content_type="text/html")
        return self.rpc(VERSION_INFO)

    async def get_session(self, request: web.Request) -> web.Response:
        params = (await request.json())["params"]
        assert params["channel_id"] == 1, params
        self.sessions += 1
        self.session_requests.append((dict(request.cookies), request.headers.get("Accept-Language")))
        response = self.rpc(copy.deepcopy(SESSION))
        if self.sets_cookies:
            response.set_cookie("dgid", f"guest-{self.sessions}")
        return response

    async def message_post(self, request: web.Request) -> web.Response:
        params = (await request.json())["params"]
        assert params["guest_token"] == GUEST_TOKEN and params["thread_id"] == CHANNEL_ID, params
        self.post_calls += 1
        fault = self.post_faults.pop(0) if self.post_faults else ("down" if self.post_down else None)
        self.post_cookies.append(dict(request.cookies))
        bad_gateway = web.Response(status=502, text="<html><h1>502 Bad Gateway</h1></html>", content_type="text/html")
        if fault == "down":
            return bad_gateway
        if fault == "pool":                   # Odoo's database pool is full: a JSON-RPC error, nothing stored
            return self.pool_error()
        msg = visitor_record(self.new_message_id(), f"<p>{params['post_data']['body']}</p>")
        self.messages.append(msg)
        if fault == "lost":
            return bad_gateway
        if fault == "refused_after_commit":   # stored, then an error answer (a permanent-looking one)
            return web.json_response({"jsonrpc": "2.0", "id": 1, "error": {
                "code": 200, "message": "Odoo Server Error", "data": {
                    "name": "odoo.exceptions.UserError", "message": "something after the commit"}}})
        answer = copy.deepcopy(POST_ANSWER)
        answer["mail.message"] = [msg]
        return self.rpc(answer)

    async def channel_messages(self, request: web.Request) -> web.Response:
        params = (await request.json())["params"]
        assert params["guest_token"] == GUEST_TOKEN and params["channel_id"] == CHANNEL_ID, params
        self.poll_calls.append(params)
        if self.poll_faults:
            fault = self.poll_faults.pop(0)
            if fault == "html500":
                return web.Response(status=500, content_type="text/html",
                                    text="<!DOCTYPE html><html><title>500 Internal Server Error</title></html>")
            if fault == "not_json":
                return web.Response(text='{"jsonrpc": "2.0", "id": 1, "result": {"data": ', content_type="application/json")
            if fault == "bad_shape":                  # JSON-RPC, but not a messages answer
                return self.rpc("<p>maintenance</p>")
            if fault == "bad_store":
                return self.rpc({"data": [1, 2, 3], "messages": "149"})
            if fault == "server_error":               # JSON-RPC server error, as 17/18 send them (code 200)
                return web.json_response({"jsonrpc": "2.0", "id": 1, "error": {
                    "code": 200, "message": "Odoo Server Error", "data": {
                        "name": "psycopg2.errors.SerializationFailure",
                        "message": "could not serialize access due to concurrent update",
                        "arguments": [], "context": {}}}})
            raise AssertionError(fault)
        # 18.0's shifted arguments: "limit" is after, "around" is limit (messages_cors_after_via_limit)
        after = 0 if self.poll_ignores_after else int(params.get("limit") or 0)
        size = int(params.get("around") or 30)
        rows = [m for m in self.messages if m["id"] > after
                and (self.poll_shows_operator or m["author"]["type"] == "guest")][:size]
        data = copy.deepcopy(POLL_ANSWER["data"])
        data["mail.message"] = rows
        data["mail.guest"] = copy.deepcopy(POST_ANSWER["mail.guest"])
        return self.rpc({"data": data, "messages": sorted((m["id"] for m in rows), reverse=True)})

    async def info(self, request: web.Request) -> web.Response:
        if self.addon_info is None:
            return web.Response(status=404, text="<html>404</html>", content_type="text/html")
        if self.addon_info == "500":
            return web.Response(status=500, text="<html>Internal Server Error</html>", content_type="text/html")
        return web.json_response(self.addon_info)

    async def peek_notifications(self, request: web.Request) -> web.Response:
        params = (await request.json())["params"]
        if not self.peek_enabled:
            return web.Response(status=404, text="<html>404</html>", content_type="text/html")
        assert params["channels"] == [f"mail.guest_{GUEST_TOKEN}"], params
        self.peek_calls.append(params)
        self.peek_cookies.append(dict(request.cookies))
        if self.peek_faults:
            fault = self.peek_faults.pop(0)
            if fault == "garbage":
                return web.Response(text="<html>maintenance</html>", content_type="text/html")
            if fault == "session_expired":
                return web.json_response({"jsonrpc": "2.0", "id": 1, "error": {
                    "code": 100, "message": "Odoo Session Expired", "data": {"name": "odoo.http.SessionExpiredException"}}})
            raise AssertionError(fault)
        last = int(params["last"])
        response = self.rpc({"channels": params["channels"], "notifications": [n for n in self.bus_log if n["id"] > last]})
        if self.sets_cookies and "session_id" not in request.cookies:
            response.set_cookie("session_id", f"peek-session-{len(self.peek_calls)}")
        return response

    async def loader(self, request: web.Request) -> web.Response:
        self.loader_calls += 1
        return web.Response(text=LOADER_JS % self.url, content_type="application/javascript")

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        number = len(self.ws_attempts)
        self.ws_attempts.append(request.query_string)
        if self.bus_refused:
            return web.Response(status=500, text="<html><h1>Internal Server Error</h1></html>", content_type="text/html")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        try:
            first = await ws.receive(timeout=5)
            assert first.type == WSMsgType.TEXT, first
            subscribe = json.loads(first.data)
            self.subscribes.append(subscribe)
            last = int(subscribe["data"]["last"])
            for step in self.bus_scripts.get(number, [("replay",)]):
                kind = step[0]
                if kind == "close":
                    await ws.close(code=step[1], message=step[2].encode())
                    return ws
                if kind == "reply":        # committed in Odoo whether or not this socket gets it
                    message_id = self.new_message_id()
                    self.messages.append(operator_record(message_id, step[1]))
                    data = json.dumps(self.log_notifications(bus_reply_notifications(message_id, step[1])))
                elif kind == "replay":
                    frame = [n for n in self.bus_log if n["id"] > last]
                    data = json.dumps(frame) if frame else None
                elif kind in ("text", "bytes"):
                    data = step[1]
                elif kind == "json":
                    data = json.dumps(step[1])
                else:
                    raise AssertionError(f"unknown bus script step {step!r}")
                if data is None or ws.closed:
                    continue               # the relay may already have left after a bad frame
                with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                    await (ws.send_bytes(data) if isinstance(data, bytes) else ws.send_str(data))
            self.live.append(ws)
            async for _ in ws:        # the relay says nothing more; this ends when either side closes
                pass
        finally:
            if ws in self.live:
                self.live.remove(ws)
        return ws


# ---------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
async def odoo():
    fake = await FakeOdoo().start()
    yield fake
    await fake.stop()


class Relay:
    """A relay process following the stand-in; stopped (off the event loop) at the end."""

    def __init__(self, tmp_path: Path, odoo: FakeOdoo, mode: str):
        self.proc = RelayProcess(tmp_path, env={
            "RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_LIVECHAT_CHANNEL_ID": "1", "RELAY_ODOO_REPLIES": mode,
            "RELAY_ODOO_POLL_INTERVAL": str(POLL_INTERVAL), "RELAY_LOG_LEVEL": "info",
            "RELAY_ODOO_AUTO_RECHECK": "0.3"})

    async def start(self) -> RelayProcess:
        # off the loop: the stand-in shares this event loop with the test
        return await asyncio.to_thread(self.proc.start)

    async def stop(self) -> None:
        await asyncio.to_thread(self.proc.stop)


@pytest.fixture
async def relay_for(tmp_path, odoo):
    started: list[Relay] = []

    async def start(mode: str = "bus") -> RelayProcess:
        relay = Relay(tmp_path, odoo, mode)
        started.append(relay)
        return await relay.start()
    yield start
    for relay in started:
        await relay.stop()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def message_ids(events: list[dict]) -> list[str]:
    return [e["message"]["id"] for e in events if e["type"] == "message"]


def explain(relay: RelayProcess, odoo: FakeOdoo, events: list[dict] | None = None) -> str:
    return (f"\nevents: {[(e['type'], e.get('message', {}).get('id')) for e in events or []]}"
            f"\nbus connections: {odoo.ws_attempts}, subscribes: {odoo.subscribes}, polls: {len(odoo.poll_calls)}"
            f"\nrelay log (end):\n{relay.logs()[-3000:]}")


async def wait_for_message(client: Client, conv: dict, odoo: FakeOdoo, message_id: int, timeout: float) -> list[dict]:
    """All events up to the one carrying Odoo message ``message_id`` (long polls, like the widget)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    events: list[dict] = []
    after = 0
    while f"odoo:{message_id}" not in message_ids(events):
        remaining = deadline - loop.time()
        assert remaining > 0, f"odoo:{message_id} not received in {timeout}s" + explain(client.relay, odoo, events)
        body = await client.events(conv, after=after, wait=round(min(remaining, 2.0), 2))
        events += body["events"]
        after = body["last_seq"]
    return events


async def settled_events(client: Client, conv: dict, seconds: float) -> list[dict]:
    """Every stored event, after giving duplicates (more polls, replays) ``seconds`` to show up."""
    await asyncio.sleep(seconds)
    return (await client.events(conv))["events"]


def assert_follower_alive(relay: RelayProcess) -> None:
    assert relay.proc is not None and relay.proc.poll() is None, "the relay process exited"
    logs = relay.logs()
    assert "odoo follower stopped" not in logs and "Traceback" not in logs, "follower crashed:\n" + logs[-3000:]


# ---------------------------------------------------------------------- tests


async def test_outdated_version_close_then_reply_on_the_next_connection(odoo, relay_for, http):
    """The bus closes the first connection at once (1000 "OUTDATED_VERSION"); the relay reconnects
    and the reply sent on the second connection reaches the conversation once."""
    odoo.poll_shows_operator = False                  # the bus is the only way in
    odoo.bus_scripts[0] = [("close", 1000, "OUTDATED_VERSION")]
    relay = await relay_for("bus")
    client = Client(relay, http)
    conv = await client.create()
    await odoo.wait_subscribes(2, timeout=8, relay=relay)
    assert all(q == f"version={WORKER_VERSION}" for q in odoo.ws_attempts), odoo.ws_attempts
    assert odoo.loader_calls >= 2              # the worker version is read again after OUTDATED_VERSION
    reply = await odoo.operator_reply("after the upgrade")
    await wait_for_message(client, conv, odoo, reply, timeout=3)
    events = await settled_events(client, conv, 1.0)
    assert message_ids(events) == [f"odoo:{reply}"]
    assert [e for e in events if e["type"] == "message"][0]["message"]["text"] == "after the upgrade"
    assert_follower_alive(relay)
    status, body, _ = await client.call("GET", "/healthz")
    assert status == 200 and body["status"] == "ok"


async def test_garbage_frames_then_a_valid_reply(odoo, relay_for, http):
    """Non-JSON text, a JSON object instead of a list and a binary frame, then a real new_message:
    the relay survives and the widget (on the relay's WebSocket) gets the reply once; the follower
    then keeps following."""
    odoo.poll_shows_operator = False
    odoo.bus_scripts[0] = [("text", "this is not json {"),
                           ("json", {"id": 900, "message": BUS_REPLY[2]["message"]}),
                           ("bytes", b"\x00\xffbinary"),
                           ("reply", "valid after garbage")]
    relay = await relay_for("bus")
    client = Client(relay, http)
    conv = await client.create()
    seen: list[str] = []
    async with client.ws(conv) as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello"

        async def read_until(count: int, timeout: float) -> None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while len(seen) < count and loop.time() < deadline:
                try:
                    frame = await ws.receive_json(timeout=max(0.05, deadline - loop.time()))
                except asyncio.TimeoutError:
                    break
                if frame["type"] == "event" and frame["event"]["type"] == "message":
                    seen.append(frame["event"]["message"]["id"])

        await read_until(1, timeout=8)
        first = odoo.messages[0]["id"]
        assert seen == [f"odoo:{first}"], seen.__repr__() + explain(relay, odoo)
        await odoo.wait_subscribes(len(odoo.ws_attempts), timeout=6)   # a connection is up again (or still)
        second = await odoo.operator_reply("and the bus still works")
        await read_until(3, timeout=2)                                  # 2 expected; a 3rd would be a copy
    assert seen == [f"odoo:{first}", f"odoo:{second}"], seen.__repr__() + explain(relay, odoo)
    assert_follower_alive(relay)


async def test_bus_refused_replies_arrive_by_polling(odoo, relay_for, http):
    """/websocket answers HTTP 500: the relay polls meanwhile, and the reply arrives in seconds."""
    odoo.bus_refused = True
    relay = await relay_for("bus")
    client = Client(relay, http)
    conv = await client.create()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while not odoo.ws_attempts:
        assert loop.time() < deadline, "the relay never tried the bus"
        await asyncio.sleep(0.05)
    reply = await odoo.operator_reply("by polling", bus=False)
    await wait_for_message(client, conv, odoo, reply, timeout=3)
    events = await settled_events(client, conv, 1.5)
    assert message_ids(events) == [f"odoo:{reply}"]
    assert not odoo.subscribes
    assert_follower_alive(relay)


async def test_same_message_by_bus_twice_and_by_polling_is_one_event(odoo, relay_for, http):
    """The operator's greeting is in the history before the session is followed; the messages
    route answers the whole history every time; the bus replays it and sends a later reply twice
    (same frame): each Odoo message is one event, and the visitor's own message is not echoed."""
    odoo.poll_ignores_after = True
    greeting = await odoo.operator_reply("hello, how can I help?")        # logged: replayed on subscribe
    relay = await relay_for("bus")
    client = Client(relay, http)
    conv = await client.create()
    status, _, _ = await client.send(conv, "c1", "I have a question")
    assert status in (200, 201)
    await odoo.wait_subscribes(1, timeout=5, relay=relay)
    frame = await odoo.publish(bus_reply_notifications(odoo.new_message_id(), "the answer"))
    reply = frame[-1]["message"]["payload"]["data"]["mail.message"][0]["id"]
    odoo.messages.append(operator_record(reply, "the answer"))
    await odoo.send_live(frame)                                           # the very same frame again
    await wait_for_message(client, conv, odoo, reply, timeout=4)
    events = await settled_events(client, conv, 1.5)
    assert message_ids(events).count(f"odoo:{greeting}") == 1, explain(relay, odoo, events)
    assert message_ids(events).count(f"odoo:{reply}") == 1, explain(relay, odoo, events)
    visitor = [e for e in events if e["type"] == "message" and e["message"]["author"]["kind"] == "visitor"]
    assert [e["message"]["text"] for e in visitor] == ["I have a question"]
    assert len(message_ids(events)) == 3
    assert len(odoo.poll_calls) >= 2          # the start-up poll and the one after subscribing both saw it
    assert_follower_alive(relay)


async def test_resubscribe_carries_the_highest_bus_id_seen(odoo, relay_for, http):
    """After the bus drops, the next subscribe frame's ``last`` is the highest bus id received."""
    odoo.poll_shows_operator = False
    relay = await relay_for("bus")
    client = Client(relay, http)
    conv = await client.create()
    await odoo.wait_subscribes(1, timeout=5, relay=relay)
    reply = await odoo.operator_reply("before the drop")
    await wait_for_message(client, conv, odoo, reply, timeout=3)
    other = await odoo.publish([{"message": OTHER_NOTE}])               # not about messages: still an id
    highest = other[-1]["id"]
    await asyncio.sleep(0.3)
    await odoo.drop_bus()
    await odoo.wait_subscribes(2, timeout=8, relay=relay)
    first, second = odoo.subscribes[:2]
    assert first == {"event_name": "subscribe", "data": {"channels": [f"mail.guest_{GUEST_TOKEN}"], "last": 0}}
    assert second["data"]["channels"] == [f"mail.guest_{GUEST_TOKEN}"]
    assert second["data"]["last"] == highest, (second, explain(relay, odoo))
    events = await settled_events(client, conv, 0.5)
    assert message_ids(events) == [f"odoo:{reply}"]                    # the replay after reconnecting is empty
    assert_follower_alive(relay)


async def test_poll_mode_survives_html_500_and_garbage(odoo, relay_for, http):
    """Poll mode: the messages route answers an HTML 500 page, then garbage of several kinds, then
    the real answer: the reply arrives once, and later replies keep arriving."""
    reply = await odoo.operator_reply("through the storm", bus=False)
    odoo.poll_faults = ["html500", "not_json", "bad_shape", "bad_store"]
    relay = await relay_for("poll")
    client = Client(relay, http)
    conv = await client.create()
    await wait_for_message(client, conv, odoo, reply, timeout=5)
    assert not odoo.poll_faults and len(odoo.poll_calls) >= 5
    events = await settled_events(client, conv, 1.0)
    assert message_ids(events) == [f"odoo:{reply}"]
    later = await odoo.operator_reply("still polling", bus=False)
    await wait_for_message(client, conv, odoo, later, timeout=3)
    events = await settled_events(client, conv, 0.7)
    assert message_ids(events) == [f"odoo:{reply}", f"odoo:{later}"]
    assert not odoo.ws_attempts                                          # poll mode never opens the bus
    assert_follower_alive(relay)


async def test_poll_mode_survives_a_jsonrpc_server_error(odoo, relay_for, http):
    """Beyond the brief's six: one JSON-RPC server error (code 200, e.g. a serialization failure)
    on the messages route is a passing fault too; the next poll brings the reply."""
    reply = await odoo.operator_reply("after a server error", bus=False)
    odoo.poll_faults = ["server_error", "server_error"]
    relay = await relay_for("poll")
    client = Client(relay, http)
    conv = await client.create()
    await wait_for_message(client, conv, odoo, reply, timeout=5)
    events = await settled_events(client, conv, 1.0)
    assert message_ids(events) == [f"odoo:{reply}"]
    assert_follower_alive(relay)


@pytest.mark.parametrize("mode", ["bus", "poll"])
async def test_relay_restarted_while_odoo_is_down_resumes_following(tmp_path, odoo, http, mode):
    """Beyond the brief's six: the relay restarts while Odoo answers 502 (a deploy of both); once
    Odoo is back, the open conversation's replies arrive again."""
    first = Relay(tmp_path, odoo, mode)
    relay = await first.start()
    try:
        client = Client(relay, http)
        conv = await client.create()
    finally:
        await first.stop()
    odoo.version_info_fails = True
    second = Relay(tmp_path, odoo, mode)
    relay = await second.start()
    try:
        client = Client(relay, http)
        await asyncio.sleep(1.0)                  # the follower's start-up poll meets the outage
        odoo.version_info_fails = False
        reply = await odoo.operator_reply("welcome back")
        await wait_for_message(client, conv, odoo, reply, timeout=6)
        events = await settled_events(client, conv, 0.7)
        assert message_ids(events) == [f"odoo:{reply}"]
        assert_follower_alive(relay)
    finally:
        await second.stop()


# ---------------------------------------------------------------------- visitor messages, exactly once


async def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.05)


async def test_a_post_odoo_committed_but_never_answered_is_not_posted_twice(odoo, relay_for, http):
    relay = await relay_for("poll")
    client = Client(relay, http)
    conv = await client.create()
    odoo.post_faults = ["lost", "down", "lost"]
    assert (await client.send(conv, "c1", "first"))[0] == 201
    assert (await client.send(conv, "c2", "second"))[0] == 201
    await wait_until(lambda: len(odoo.visitor_texts()) == 2, 20,
                     f"visitor messages in Odoo: {odoo.visitor_texts()}")
    await asyncio.sleep(1.0)                                     # nothing more comes
    assert odoo.visitor_texts() == ["<p>first</p>", "<p>second</p>"]
    # first: lost, then found in the session (not posted again); second: 502, then lost, then found
    await wait_until(lambda: len(client.upstream_of(conv["conversation_id"]).get("sent", {})) == 2, 10,
                     "the second message was not recorded as posted")
    assert odoo.post_calls == 3
    upstream = client.upstream_of(conv["conversation_id"])
    ids = [m["id"] for m in odoo.messages if m["author"]["type"] == "guest"]
    assert upstream["sent"] == {"c1": ids[0], "c2": ids[1]} and upstream["posted_odoo_id"] == ids[1]
    # the relay records what it posted, then says "delivered": read the events once that is said
    for _ in range(100):
        statuses = [e["status"] for e in (await client.events(conv))["events"] if e["type"] == "status"]
        if statuses and statuses[-1] == "delivered":
            break
        await asyncio.sleep(0.1)
    assert "upstream_unavailable" in statuses and statuses[-1] == "delivered", statuses


async def test_visitor_messages_survive_a_relay_killed_while_odoo_is_down(tmp_path, odoo, http):
    first = Relay(tmp_path, odoo, "poll")
    relay = await first.start()
    client = Client(relay, http)
    conv = await client.create()
    assert (await client.send(conv, "c0", "before the outage"))[0] == 201
    await wait_until(lambda: len(odoo.visitor_texts()) == 1, 10, "the first message did not reach Odoo")
    odoo.post_down = True
    for n in (1, 2, 3):
        assert (await client.send(conv, f"c{n}", f"pending {n}"))[0] == 201
    await wait_until(lambda: odoo.post_calls >= 2, 10, "the relay did not try to post")
    await asyncio.to_thread(relay.kill)                          # kill -9: nothing flushed on the way out
    second = Relay(tmp_path, odoo, "poll")
    relay = await second.start()
    try:
        client = Client(relay, http)
        await asyncio.sleep(0.5)
        odoo.post_down = False
        await wait_until(lambda: len(odoo.visitor_texts()) == 4, 40,
                         f"visitor messages in Odoo: {odoo.visitor_texts()}\n{relay.logs()[-2000:]}")
        await asyncio.sleep(1.0)
        assert odoo.visitor_texts() == ["<p>before the outage</p>", "<p>pending 1</p>", "<p>pending 2</p>",
                                        "<p>pending 3</p>"]
        restarted = Relay(tmp_path, odoo, "poll")                # a second restart posts nothing again
        await second.stop()
        relay = await restarted.start()
        await asyncio.sleep(1.5)
        assert len(odoo.visitor_texts()) == 4
    finally:
        await asyncio.to_thread(relay.stop)


async def test_a_relay_killed_between_odoo_committing_and_recording_posts_once(tmp_path, odoo, http):
    """The crash window: Odoo has the message, the relay died before writing that down."""
    first = Relay(tmp_path, odoo, "poll")
    relay = await first.start()
    client = Client(relay, http)
    conv = await client.create()
    odoo.post_faults = ["lost"]
    odoo.post_down = True                # after the lost answer, Odoo is down: the relay keeps retrying
    assert (await client.send(conv, "c1", "committed, answer lost"))[0] == 201
    assert (await client.send(conv, "c2", "never posted"))[0] == 201
    await wait_until(lambda: odoo.post_calls >= 1, 10, "the relay did not post")
    await asyncio.to_thread(relay.kill)
    odoo.post_down = False
    second = Relay(tmp_path, odoo, "poll")
    relay = await second.start()
    try:
        await wait_until(lambda: len(odoo.visitor_texts()) == 2, 30, f"in Odoo: {odoo.visitor_texts()}")
        await asyncio.sleep(1.0)
        assert odoo.visitor_texts() == ["<p>committed, answer lost</p>", "<p>never posted</p>"]
    finally:
        await asyncio.to_thread(relay.stop)


async def test_poll_mode_follows_the_bus_over_http_and_falls_back_to_the_messages_route(odoo, relay_for, http):
    odoo.peek_enabled = True
    relay = await relay_for("poll")
    client = Client(relay, http)
    odoo.poll_shows_operator = False          # operator replies can come by peek only
    conv = await client.create()
    await wait_until(lambda: odoo.peek_calls, 5, "the relay did not peek")
    first = await odoo.operator_reply("by peek")
    await wait_for_message(client, conv, odoo, first, timeout=6)
    assert odoo.peek_calls[-1]["is_first_poll"] is True
    # the peek fails (garbage, then an expired session): the messages route brings the next reply
    odoo.peek_faults = ["garbage", "session_expired"] * 20
    odoo.poll_shows_operator = True
    second = await odoo.operator_reply("by the messages route")
    await wait_for_message(client, conv, odoo, second, timeout=6)
    odoo.peek_faults = []
    odoo.poll_shows_operator = False
    third = await odoo.operator_reply("by peek again")
    await wait_for_message(client, conv, odoo, third, timeout=6)
    events = await settled_events(client, conv, 1.0)
    assert message_ids(events) == [f"odoo:{first}", f"odoo:{second}", f"odoo:{third}"]     # each once
    assert int(client.upstream_of(conv["conversation_id"])["bus_last"]) == odoo.bus_log[-1]["id"]
    assert_follower_alive(relay)


async def test_auto_mode_keeps_its_choice_while_odoo_errs_and_switches_when_the_addon_says_so(odoo, relay_for, http):
    sending = {"addon": "im_livechat_webhook", "version": "18.0.1.0.0", "enabled": True}
    odoo.addon_info = sending
    relay = await relay_for("auto")
    client = Client(relay, http)

    async def replies_mode() -> str:
        status, body, _ = await client.call("GET", "/healthz")
        return body["odoo"]["replies"]
    assert await replies_mode() == "webhook"
    await client.create()
    odoo.addon_info = "500"                        # Odoo errs: not a reason to change anything
    await asyncio.sleep(1.2)
    assert await replies_mode() == "webhook" and not odoo.subscribes
    odoo.addon_info = dict(sending, enabled=False)  # switched off (by hand, or by a 410)
    await wait_until(lambda: odoo.subscribes, 5, "the bus did not take over")
    assert await replies_mode() == "bus"
    odoo.addon_info = sending
    await asyncio.sleep(1.2)
    assert await replies_mode() == "webhook"
    assert_follower_alive(relay)


async def test_auto_mode_stays_on_the_bus_for_an_addon_of_another_protocol_major(odoo, relay_for, http):
    """An addon saying protocol 2 would send webhooks this relay refuses one by one: auto mode does
    not switch to them, says why in its log and shows the addon's protocol in /healthz; an older
    addon (protocol field absent, or "standard-webhooks-v1") counts as protocol 1."""
    odoo.addon_info = {"addon": "im_livechat_webhook", "version": "20.0.2.0.0", "enabled": True, "protocol": "2.0"}
    relay = await relay_for("auto")
    client = Client(relay, http)
    await client.create()
    _, body, _ = await client.call("GET", "/healthz")
    assert body["odoo"]["replies"] == "bus" and body["odoo"]["addon_protocol"] == "2.0"
    await wait_until(lambda: odoo.subscribes, 5, "the bus does not follow the conversation")
    assert "odoo addon speaks another protocol" in relay.logs()
    odoo.addon_info = {"addon": "im_livechat_webhook", "version": "18.0.1.0.0", "enabled": True,
                       "protocol": "standard-webhooks-v1"}
    await asyncio.sleep(1.2)
    _, body, _ = await client.call("GET", "/healthz")
    assert body["odoo"]["replies"] == "webhook" and body["odoo"]["addon_protocol"] == "1"
    assert_follower_alive(relay)


async def test_odoo_busy_is_retried_and_an_error_after_the_commit_is_not_said_failed(odoo, relay_for, http):
    """Odoo's pool full (PoolError, a JSON-RPC error): retried, not refused. An error answer for a
    post Odoo did store: found in the session before anything is said, so not reported failed."""
    relay = await relay_for("poll")
    client = Client(relay, http)
    conv = await client.create()
    odoo.post_faults = ["pool", "pool", None, "refused_after_commit"]
    assert (await client.send(conv, "c1", "while odoo is busy"))[0] == 201
    await wait_until(lambda: len(odoo.visitor_texts()) == 1, 20, f"in Odoo: {odoo.visitor_texts()}")
    assert (await client.send(conv, "c2", "error after the commit"))[0] == 201
    await wait_until(lambda: len(client.upstream_of(conv["conversation_id"]).get("sent", {})) == 2, 20,
                     f"not recorded as posted\n{relay.logs()[-2000:]}")
    await asyncio.sleep(0.5)
    assert odoo.visitor_texts() == ["<p>while odoo is busy</p>", "<p>error after the commit</p>"]
    assert odoo.post_calls == 4
    statuses = [e["status"] for e in (await client.events(conv))["events"] if e["type"] == "status"]
    assert "not_delivered" not in statuses, statuses
    assert "refused a visitor message" not in relay.logs()


async def test_no_cookie_odoo_sets_rides_on_another_request(odoo, relay_for, http):
    """Odoo sets a guest cookie on get_session and a session cookie on peek: the relay's posts carry
    none of them (no shared cookie jar), and a conversation's peeks carry only its own session."""
    odoo.sets_cookies = True
    odoo.peek_enabled = True
    relay = await relay_for("poll")
    client = Client(relay, http)
    conv = await client.create()
    assert odoo.session_requests == [({}, None)]     # no language said: none sent
    assert (await client.send(conv, "c1", "hello"))[0] == 201
    await wait_until(lambda: len(odoo.peek_calls) >= 3 and odoo.post_calls >= 1, 10, "no peek or post")
    assert odoo.post_cookies == [{}]
    assert odoo.peek_cookies[0] == {}
    assert all(c == {"session_id": "peek-session-1"} for c in odoo.peek_cookies[1:]), odoo.peek_cookies


@pytest.mark.parametrize("lang, cookie, header", [("fr", "fr_FR", "fr-FR"), ("pt-BR", "pt_BR", "pt-BR"),
                                                  ("ar", "ar_001", "ar-001")])
async def test_the_visitors_language_reaches_get_session_as_on_odoos_website(odoo, relay_for, http, lang, cookie, header):
    """The conversation's language goes to get_session's cookie route as Odoo's website sends it:
    ``frontend_lang`` (the operator chosen by language) and ``Accept-Language`` (the guest's)."""
    client = Client(await relay_for("poll"), http)
    await client.create(lang=lang)
    assert odoo.session_requests == [({"frontend_lang": cookie}, header)]
