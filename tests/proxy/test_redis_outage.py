"""Redis going away under two relay nodes, and coming back (a private redis-server on a free port,
append-only with ``appendfsync always``; the shared Redis on 6379 is never stopped).

While Redis is down: ``/healthz`` 503, every API call a clear 503 JSON answer with Retry-After, no
crash, and no busy loop (the nodes' CPU stays low). When it is back: healthy again without a
restart, every acknowledged event is there, and new events cross nodes again, also to a WebSocket
that stayed open through the outage.
"""
from __future__ import annotations

import asyncio
import os

import aiohttp
import pytest

from tests.proxy.test_multinode import RedisClient
from tests.redisproc import RedisServer
from tests.relayproc import RelayProcess, operator_message, webhook_body

pytestmark = pytest.mark.slow


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def health(http: aiohttp.ClientSession, node: RelayProcess) -> tuple[int, dict]:
    async with http.get(node.url + "/healthz") as r:
        return r.status, await r.json()


async def test_redis_down_then_back(tmp_path):
    server = RedisServer(tmp_path).start()
    nodes = [RelayProcess(tmp_path / f"n{i}", env={"RELAY_STORE": server.url}) for i in range(2)]
    try:
        for node in nodes:
            node.workdir.mkdir()
            node.start()
        a, b = nodes
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            on_a = RedisClient(a, http, "relay", server.port)
            on_b = on_a.on(b)
            conv = await on_a.create()
            channel = await on_a.channel_of(conv["conversation_id"])
            acknowledged = []
            for i in range(20):
                status, body, _ = await on_a.webhook(
                    webhook_body("livechat.message.created", channel, message=operator_message(i + 1, f"m{i}")))
                assert status == 200, body
                acknowledged.append(f"odoo:{i + 1}")

            async with on_b.ws(conv, after=21) as ws:
                assert (await ws.receive_json(timeout=5))["type"] == "hello"
                server.shutdown()

                for node in nodes:
                    status, body = await health(http, node)
                    assert status == 503 and body["status"] == "unavailable", body
                    assert any("store" in p for p in body["problems"]), body
                status, body, headers = await on_a.call("GET", f"/v1/conversations/{conv['conversation_id']}/events",
                                                        conv["token"])
                assert status == 503 and body["error"] == "store_unavailable" and int(headers["Retry-After"]) > 0
                status, body, _ = await on_b.send(conv, "during", "during the outage")
                assert status == 503 and body["error"] == "store_unavailable"
                status, body, _ = await on_a.webhook(
                    webhook_body("livechat.message.created", channel, message=operator_message(99, "refused")))
                assert status == 503 and "store_unavailable" in body
                async with http.post(a.url + "/v1/conversations", json={}) as r:
                    assert r.status == 503 and (await r.json())["error"] == "store_unavailable"

                # no busy loop: an idle node waiting for Redis uses little CPU
                before = [cpu_seconds(n.proc.pid) for n in nodes]
                await asyncio.sleep(3)
                used = [cpu_seconds(n.proc.pid) - t for n, t in zip(nodes, before)]
                assert max(used) < 0.5, f"CPU seconds used in 3 s while Redis was down: {used}"
                assert all(n.proc.poll() is None for n in nodes)

                await asyncio.to_thread(RedisServer.start, server)        # same port, same append-only file
                for node in nodes:
                    for _ in range(100):
                        status, body = await health(http, node)
                        if status == 200:
                            break
                        await asyncio.sleep(0.1)
                    assert status == 200, body

                body = await on_b.events(conv)
                ids = [e["message"]["id"] for e in body["events"] if e["type"] == "message"]
                assert ids == acknowledged, "an acknowledged event was lost or doubled"
                status, body, _ = await on_a.webhook(
                    webhook_body("livechat.message.created", channel, message=operator_message(100, "after")))
                assert status == 200, body
                frame = await ws.receive_json(timeout=5)      # the socket on B survived the outage
                assert frame["type"] == "event" and frame["event"]["seq"] == 22
                assert frame["event"]["message"]["text"] == "after"
        for node in nodes:
            assert "Traceback" not in node.logs(), node.logs()[-3000:]
    finally:
        for node in nodes:
            node.stop()
        server.stop()
