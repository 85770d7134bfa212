"""Several relay processes sharing one Redis, behind no load balancer: any node serves any widget.

A webhook received by node A reaches a WebSocket on node B and a long poll on node C, in order,
exactly once; typing crosses nodes too; a node killed with SIGKILL loses nothing acknowledged.
"""
from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
import redis

from tests import redisproc
from tests.redisproc import prefix  # noqa: F401  (fixture)
from tests.conftest import Client
from tests.relayproc import RelayProcess, operator_message, webhook_body

pytestmark = pytest.mark.slow


class RedisClient(Client):
    """The widget/webhook client, reading the conversation's Odoo channel from Redis."""

    def __init__(self, relay, session, prefix: str, port: int = redisproc.SHARED_PORT):
        super().__init__(relay, session)
        self.prefix, self.port = prefix, port

    async def channel_of(self, conversation_id: str) -> int:
        r = redis.Redis(port=self.port, decode_responses=True)
        try:
            return int(r.hget(f"{self.prefix}:conv:{conversation_id}", "odoo_channel_id"))
        finally:
            r.close()

    def on(self, relay: RelayProcess) -> "RedisClient":
        return RedisClient(relay, self.http, self.prefix, self.port)


@pytest.fixture
def nodes(tmp_path, prefix):
    procs = [RelayProcess(tmp_path / f"n{i}", env={"RELAY_STORE": redisproc.shared_url(prefix)}) for i in range(3)]
    for p in procs:
        p.workdir.mkdir()
        p.start()
    yield procs
    for p in procs:
        p.stop()


async def _long_poll_all(client: Client, conv: dict, until: int, got: list[dict]) -> None:
    after = 0
    while after < until:
        body = await client.events(conv, after=after, wait=5)
        got.extend(body["events"])
        if body["events"]:
            after = body["events"][-1]["seq"]


async def _ws_all(client: Client, conv: dict, until: int, got: list[dict]) -> None:
    async with client.ws(conv, after=0) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        while not got or got[-1].get("seq") != until:
            frame = await ws.receive_json(timeout=10)
            if frame["type"] == "event":
                got.append(frame["event"])


async def test_webhook_on_a_reaches_websocket_on_b_and_long_poll_on_c(nodes, prefix):
    a, b, c = nodes
    async with aiohttp.ClientSession() as http:
        on_a = RedisClient(a, http, prefix)
        conv = await on_a.create()
        channel = await on_a.channel_of(conv["conversation_id"])
        n = 200
        ws_got: list[dict] = []
        poll_got: list[dict] = []
        readers = [asyncio.create_task(_ws_all(on_a.on(b), conv, n + 1, ws_got)),
                   asyncio.create_task(_long_poll_all(on_a.on(c), conv, n + 1, poll_got))]
        await asyncio.sleep(0.3)        # both readers are live before the first webhook
        for i in range(n):              # as Odoo sends them: one at a time per session
            status, body, _ = await on_a.webhook(
                webhook_body("livechat.message.created", channel, message=operator_message(i + 1, f"m{i}")))
            assert status == 200, body
        await asyncio.wait_for(asyncio.gather(*readers), 20)
    for got in (ws_got, poll_got):
        assert [e["seq"] for e in got] == list(range(1, n + 2))
        assert [e["message"]["text"] for e in got[1:]] == [f"m{i}" for i in range(n)]


async def test_typing_and_visitor_messages_cross_nodes(nodes, prefix):
    a, b, c = nodes
    async with aiohttp.ClientSession() as http:
        on_a = RedisClient(a, http, prefix)
        conv = await on_a.create()
        channel = await on_a.channel_of(conv["conversation_id"])
        async with on_a.on(b).ws(conv, after=1) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            await asyncio.sleep(0.2)
            fresh = json.loads(webhook_body("livechat.typing", channel, member={"kind": "operator", "name": "Op"},
                                            typing=True))
            fresh["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            assert (await on_a.webhook(json.dumps(fresh).encode()))[0] == 200
            frame = await ws.receive_json(timeout=5)
            assert frame["event"]["type"] == "typing" and frame["event"]["seq"] is None
            status, body, _ = await on_a.on(c).send(conv, "v1", "from node C")
            assert status == 201, body
            frame = await ws.receive_json(timeout=5)
            assert frame["event"]["seq"] == 2 and frame["event"]["message"]["text"] == "from node C"
        nodes_seen = set()
        for node in nodes:
            async with http.get(node.url + "/healthz") as r:
                body = await r.json()
                assert r.status == 200 and body["store"] == "redis", body
                nodes_seen.add(body["node"])
        assert len(nodes_seen) == 3
        # the token issued by A opens the conversation everywhere (RELAY_SECRET is shared)
        for node in nodes:
            body = await on_a.on(node).events(conv)
            assert [e["seq"] for e in body["events"]] == [1, 2]
