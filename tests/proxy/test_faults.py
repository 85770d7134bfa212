"""The fault-and-abuse suite (``-m faults``): a node killed with SIGKILL while replies stream to
many widgets, webhook retry storms, tokens used on the wrong conversation.

The kill test runs twice: three relay nodes on Redis (the killed node stays dead; widgets and the
sender move to the others) and one relay on SQLite (killed and started again on the same file).
Each widget is a small client loop like widget.js: it resumes from the last ``seq`` it has, over
WebSocket, long polling or short polling, and moves to another node when its node fails.
"""
from __future__ import annotations

import asyncio
import json
import socket
import sqlite3

import aiohttp
import pytest

from tests import redisproc
from tests.conftest import Client
from tests.relayproc import RelayProcess, new_webhook_id, operator_message, webhook_body

pytestmark = [pytest.mark.faults, pytest.mark.slow]

REPLIES = 1000
CONVERSATIONS = 2
WIDGETS = 50          # 25 per conversation: WebSocket, long poll and short poll in turn
KINDS = ("ws", "longpoll", "poll")


class Widget:
    def __init__(self, kind: str, conv: dict, nodes: list[RelayProcess], start: int, http: aiohttp.ClientSession):
        self.kind, self.conv, self.nodes, self.http = kind, conv, nodes, http
        self.node = start
        self.events: list[dict] = []
        self.last = 0
        self.reconnects = 0
        self.resets = 0

    @property
    def base(self) -> RelayProcess:
        return self.nodes[self.node % len(self.nodes)]

    def _restart(self) -> None:
        """As widget.js does on ``reset`` (the relay may publish an event before its commit, and a
        kill in between loses it): forget everything, the replay that follows starts from seq 1."""
        self.events, self.last = [], 0
        self.resets += 1

    def _take(self, events: list[dict]) -> None:
        for event in events:
            if event.get("seq") is None:
                continue
            self.events.append(event)
            self.last = event["seq"]

    async def run(self, until: int) -> None:
        cid, token = self.conv["conversation_id"], self.conv["token"]
        while self.last < until:
            node = self.base
            try:
                if self.kind == "ws":
                    url = f"{node.ws_url}/v1/conversations/{cid}/ws?token={token}&after={self.last}"
                    async with self.http.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=2)) as ws:
                        async for msg in ws:
                            if msg.type != aiohttp.WSMsgType.TEXT:
                                break
                            frame = json.loads(msg.data)
                            if frame["type"] == "hello" and (frame.get("reset") or frame["last_seq"] < self.last):
                                self._restart()
                            if frame["type"] == "event":
                                self._take([frame["event"]])
                                if self.last >= until:
                                    return
                else:
                    wait = 5 if self.kind == "longpoll" else 0
                    async with self.http.get(f"{node.url}/v1/conversations/{cid}/events?after={self.last}&wait={wait}",
                                             headers={"Authorization": "Bearer " + token},
                                             timeout=aiohttp.ClientTimeout(total=wait + 5)) as r:
                        if r.status == 200:
                            body = await r.json()
                            if body.get("reset"):
                                self._restart()
                            self._take(body["events"])
                            if self.kind == "poll":
                                await asyncio.sleep(0.2)
                            continue
                raise ConnectionError("closed")
            except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError):
                self.reconnects += 1
                self.node += 1            # the widget tries another node (the same one when there is one)
                await asyncio.sleep(0.1)


async def send_replies(http: aiohttp.ClientSession, nodes: list[RelayProcess], channel: int, count: int,
                       sent: list[int], start: int = 0) -> None:
    """As the addon does: reply N+1 only after N is acknowledged; a failed delivery is retried with
    the same webhook id (on the next node: the sender stays on a node until it fails)."""
    client = Client(nodes[start % len(nodes)], http)
    node = start
    failures: list = []                  # consecutive
    for i in range(count):
        raw = webhook_body("livechat.message.created", channel, message=operator_message(i + 1, f"r{i}"))
        hook_id = new_webhook_id()
        while True:
            client.relay = nodes[node % len(nodes)]
            try:
                status, body, _ = await client.webhook(raw, hook_id)
                if status == 200:
                    failures.clear()
                    break
                failures.append((client.relay.port, status, body[:200]))
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                failures.append((client.relay.port, repr(exc)[:200]))
            assert len(failures) < 100, failures[-5:]
            node += 1
            await asyncio.sleep(0.05)
        sent.append(i)


async def _kill_while_streaming(nodes: list[RelayProcess], channel_of, restart: bool) -> None:
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as http:
        convs = [await Client(nodes[i % len(nodes)], http).create() for i in range(CONVERSATIONS)]
        channels = [await channel_of(c["conversation_id"]) for c in convs]
        widgets = [Widget(KINDS[i % len(KINDS)], convs[i % CONVERSATIONS], nodes, i, http) for i in range(WIDGETS)]
        until = REPLIES + 1                                   # the "waiting for an operator" status is seq 1
        readers = [asyncio.create_task(w.run(until)) for w in widgets]
        await asyncio.sleep(0.5)
        sent: list[list[int]] = [[] for _ in convs]
        senders = [asyncio.create_task(send_replies(http, nodes, ch, REPLIES, s, start=k))
                   for k, (ch, s) in enumerate(zip(channels, sent))]
        try:
            while len(sent[0]) < REPLIES // 3:
                await asyncio.sleep(0.01)
            victim = nodes[0]
            await asyncio.to_thread(victim.kill)
            if restart:
                await asyncio.sleep(0.5)
                await asyncio.to_thread(victim.start)
            await asyncio.wait_for(asyncio.gather(*senders), 90)
            await asyncio.wait_for(asyncio.gather(*readers), 20)
        finally:
            for task in readers + senders:
                task.cancel()
            await asyncio.gather(*readers, *senders, return_exceptions=True)
    for w in widgets:
        seqs = [e["seq"] for e in w.events]
        assert seqs == list(range(1, until + 1)), f"{w.kind} widget: gap, repeat or disorder"
        assert [e["message"]["text"] for e in w.events[1:]] == [f"r{i}" for i in range(REPLIES)]
    assert sum(w.reconnects for w in widgets) > 0, "no widget was on the killed node"


async def test_kill_9_of_a_node_while_replies_stream_redis_three_nodes(tmp_path):
    redisproc.shared_redis_or_skip()
    prefix = redisproc.new_prefix()
    nodes = [RelayProcess(tmp_path / f"n{i}", env={"RELAY_STORE": redisproc.shared_url(prefix)}) for i in range(3)]
    try:
        for node in nodes:
            node.workdir.mkdir()
            node.start()
        import redis
        r = redis.Redis(port=redisproc.SHARED_PORT, decode_responses=True)

        async def channel_of(cid: str) -> int:
            return int(r.hget(f"{prefix}:conv:{cid}", "odoo_channel_id"))
        await _kill_while_streaming(nodes, channel_of, restart=False)
        r.close()
    finally:
        for node in nodes:
            node.stop()
        redisproc.delete_prefix(prefix)


async def test_kill_9_of_the_node_while_replies_stream_sqlite(tmp_path):
    relay = RelayProcess(tmp_path)
    relay.start()
    try:
        async def channel_of(cid: str) -> int:
            db = sqlite3.connect(relay.db)
            try:
                return db.execute("SELECT odoo_channel_id FROM conversations WHERE id = ?", (cid,)).fetchone()[0]
            finally:
                db.close()
        await _kill_while_streaming([relay], channel_of, restart=True)
    finally:
        relay.stop()


@pytest.fixture
def redis_nodes(tmp_path):
    redisproc.shared_redis_or_skip()
    prefix = redisproc.new_prefix()
    nodes = [RelayProcess(tmp_path / f"n{i}", env={"RELAY_STORE": redisproc.shared_url(prefix)}) for i in range(3)]
    for node in nodes:
        node.workdir.mkdir()
        node.start()
    yield nodes, prefix
    for node in nodes:
        node.stop()
    redisproc.delete_prefix(prefix)


async def test_webhook_retry_storm_is_stored_once(redis_nodes):
    """The same webhook 30 times at once on three nodes, and the same Odoo message under 30 other
    webhook ids (a sender that lost its outbox): one event, every attempt answered 200."""
    from tests.proxy.test_multinode import RedisClient
    nodes, prefix = redis_nodes
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        on = [RedisClient(n, http, prefix) for n in nodes]
        conv = await on[0].create()
        channel = await on[0].channel_of(conv["conversation_id"])
        raw = webhook_body("livechat.message.created", channel, message=operator_message(7, "once"))
        hook_id = new_webhook_id()
        answers = await asyncio.gather(*(on[i % 3].webhook(raw, hook_id) for i in range(30)),
                                       *(on[i % 3].webhook(raw) for i in range(30)))
        assert all(status == 200 for status, _, _ in answers), answers
        results = sorted(json.loads(body)["status"] for _, body, _ in answers)
        assert results.count("stored") == 1 and set(results) == {"stored", "duplicate"}
        for client in on:
            body = await client.events(conv)
            assert [e["seq"] for e in body["events"]] == [1, 2]


async def test_tokens_are_scoped_to_their_conversation_on_every_node(redis_nodes):
    from tests.proxy.test_multinode import RedisClient
    nodes, prefix = redis_nodes
    async with aiohttp.ClientSession() as http:
        on = [RedisClient(n, http, prefix) for n in nodes]
        a, b = await on[0].create(), await on[1].create()
        stolen = dict(a, token=b["token"])            # conversation A with B's token
        for client in on:
            for method, action, kw in (("GET", "events", {}), ("POST", "messages", {"json": {"client_id": "z", "text": "t"}}),
                                       ("POST", "typing", {"json": {"typing": True}}), ("POST", "close", {})):
                status, body, _ = await client.call(method, f"/v1/conversations/{a['conversation_id']}/{action}",
                                                    b["token"], **kw)
                assert status == 401 and body["error"] == "token_invalid", (action, body)
            async with client.ws(stolen) as ws:
                msg = await ws.receive(timeout=5)
                assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 4401
        for client in on:                              # nothing was written to A
            assert [e["type"] for e in (await client.events(a))["events"]] == ["status"]


def small_receive_buffer(addr_info) -> socket.socket:
    """A client socket with a fixed 16 KiB receive buffer (no autotuning up to tcp_rmem's max), so
    that a reader that stops reading fills the path quickly whatever the machine's settings."""
    family, type_, proto, _, _ = addr_info
    sock = socket.socket(family=family, type=type_, proto=proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    return sock


async def test_slow_websocket_reader_is_closed_4409_and_catches_up_with_after(tmp_path):
    relay = RelayProcess(tmp_path, env={"RELAY_WS_SEND_TIMEOUT": "1"}).start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(socket_factory=small_receive_buffer)) as http:
            client = Client(relay, http)
            conv = await client.create()
            big = "x" * 50_000
            count = 200      # ~20 MB of frames: more than the relay's send buffer (tcp_wmem, 4 MiB) and ours
            async with client.ws(conv, after=0) as ws:   # aiohttp stops reading the socket past 64 KiB queued
                for i in range(count):
                    await client.reply(conv, i + 1, f"{i} {big}")
                await asyncio.sleep(3)                   # the relay gives up on this reader after 1 s
                got: list[int] = []
                while True:
                    msg = await ws.receive(timeout=10)
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    frame = json.loads(msg.data)
                    if frame["type"] == "event":
                        got.append(frame["event"]["seq"])
                assert ws.close_code == 4409, (msg, ws.close_code)
            assert got == list(range(1, len(got) + 1)) and len(got) < count + 1
            assert "ws reader too slow" in relay.logs()
            async with client.ws(conv, after=got[-1]) as ws:   # the widget resumes where it was
                assert (await ws.receive_json(timeout=5))["type"] == "hello"
                while got[-1] < count + 1:
                    frame = await ws.receive_json(timeout=10)
                    if frame["type"] == "event":
                        got.append(frame["event"]["seq"])
            assert got == list(range(1, count + 2))
    finally:
        relay.stop()
