"""Crash and restart: nothing acknowledged is lost, seq continues; graceful shutdown closes
WebSockets with 1001 and answers long polls."""
from __future__ import annotations

import asyncio
import signal

import aiohttp
import pytest

from tests.conftest import Client
from tests.relayproc import RelayProcess, operator_message, webhook_body

pytestmark = pytest.mark.slow


async def test_kill_9_mid_stream_loses_nothing_acknowledged(tmp_path):
    relay = RelayProcess(tmp_path).start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
            client = Client(relay, http)
            conv = await client.create()
            channel = await client.channel_of(conv["conversation_id"])
            acknowledged: list[int] = []
            stop = asyncio.Event()

            async def sender(worker: int):
                i = 0
                while not stop.is_set():
                    msg_id = worker * 100000 + i
                    i += 1
                    raw = webhook_body("livechat.message.created", channel, message=operator_message(msg_id, str(msg_id)))
                    try:
                        status, _, _ = await client.webhook(raw)
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        await asyncio.sleep(0.01)
                        continue
                    if status == 200:
                        acknowledged.append(msg_id)

            senders = [asyncio.create_task(sender(w)) for w in range(4)]
            await asyncio.sleep(1.0)
            relay.kill()                      # SIGKILL while webhooks are in flight
            count_at_kill = len(acknowledged)
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.gather(*senders)
            assert count_at_kill > 20, "the test did not get enough traffic before the kill"

            relay.start()                     # same SQLite file, same port, same RELAY_SECRET
            body = await client.events(conv, after=0)
            stored = [e for e in body["events"] if e["type"] == "message"]
            while len(body["events"]) == 500:                     # page through long histories
                body = await client.events(conv, after=body["events"][-1]["seq"])
                stored += [e for e in body["events"] if e["type"] == "message"]
            stored_ids = [int(e["message"]["id"].split(":")[1]) for e in stored]
            assert set(acknowledged) <= set(stored_ids), "an acknowledged webhook was lost"
            assert len(stored_ids) == len(set(stored_ids)), "a message was stored twice"
            seqs = [e["seq"] for e in stored]
            assert seqs == list(range(2, 2 + len(seqs))), "seq has a gap or a repeat"

            await client.reply(conv, 999_999_999, "after restart")
            after = await client.events(conv, after=seqs[-1])
            assert [e["seq"] for e in after["events"]] == [seqs[-1] + 1]
    finally:
        relay.stop()


async def test_generated_token_secret_survives_restart(tmp_path):
    relay = RelayProcess(tmp_path)
    del relay.env["RELAY_SECRET"]             # the relay generates one and keeps it in the store
    relay.start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            client = Client(relay, http)
            conv = await client.create()
            await client.send(conv, "before", "before restart")
            relay.stop()
            relay.start()
            status, body, _ = await client.send(conv, "after", "after restart")
            assert status == 201 and body["seq"] == 3
    finally:
        relay.stop()


async def test_graceful_shutdown_closes_websockets_1001_and_answers_long_polls(tmp_path):
    relay = RelayProcess(tmp_path).start()
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create()
            async with client.ws(conv, after=1) as ws:
                assert (await ws.receive_json(timeout=5))["type"] == "hello"
                poll = asyncio.create_task(client.events(conv, after=1, wait=20))
                await asyncio.sleep(0.5)
                relay.proc.send_signal(signal.SIGTERM)
                msg = await ws.receive(timeout=10)
                assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1001
                body = await asyncio.wait_for(poll, 10)
                assert body == {"events": [], "last_seq": 1}
            assert relay.stop() == 0          # a second SIGTERM during the shutdown is tolerated
    finally:
        relay.stop()
