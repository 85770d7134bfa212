"""PROTOCOL §2 WebSocket: hello, replay then live without gap or duplicate, acks, pings, close codes."""
from __future__ import annotations

import asyncio
import json

import aiohttp
import websocket  # websocket-client: a second, independent client implementation

from proxy import tokens
from tests.conftest import Client
from tests.relayproc import TOKEN_SECRET, RelayProcess


async def frames_until(ws, count: int, timeout: float = 5) -> list[dict]:
    out = []
    while len(out) < count:
        frame = await ws.receive_json(timeout=timeout)
        if frame["type"] != "ping":
            out.append(frame)
    return out


async def test_hello_replay_then_live(client):
    conv = await client.create()
    await client.reply(conv, 1, "one")
    await client.reply(conv, 2, "two")
    async with client.ws(conv, after=1) as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello == {"type": "hello", "last_seq": 3, "ping_interval": 25}
        replay = await frames_until(ws, 2)
        assert [f["event"]["seq"] for f in replay] == [2, 3]
        await client.reply(conv, 3, "three")
        live = await frames_until(ws, 1)
        assert live[0]["event"]["seq"] == 4 and live[0]["event"]["message"]["text"] == "three"


async def test_no_gap_no_duplicate_while_events_arrive_during_connect(client):
    """Webhooks keep arriving while clients connect: each client sees 2..N exactly once, in order."""
    conv = await client.create()
    total = 60

    async def producer():
        for i in range(total):
            await client.reply(conv, 1000 + i, f"m{i}")

    async def consumer(delay: float) -> list[int]:
        await asyncio.sleep(delay)
        seqs: list[int] = []
        async with client.ws(conv, after=1) as ws:
            await ws.receive_json(timeout=5)
            while len(seqs) < total:
                frame = await ws.receive_json(timeout=10)
                if frame["type"] == "event":
                    seqs.append(frame["event"]["seq"])
        return seqs

    results = await asyncio.gather(producer(), *(consumer(d) for d in (0, 0.05, 0.1, 0.2, 0.3)))
    for seqs in results[1:]:
        assert seqs == list(range(2, total + 2))


async def test_send_ack_and_own_message_event(client):
    conv = await client.create()
    async with client.ws(conv, after=1) as ws:
        await ws.receive_json(timeout=5)
        await ws.send_json({"type": "send", "client_id": "w-1", "text": "from ws"})
        got = await frames_until(ws, 2)
        ack = next(f for f in got if f["type"] == "ack")
        event = next(f for f in got if f["type"] == "event")["event"]
        assert ack == {"type": "ack", "client_id": "w-1", "seq": 2}
        assert event["seq"] == 2 and event["message"]["client_id"] == "w-1"
        await ws.send_json({"type": "send", "client_id": "w-1", "text": "from ws"})   # retry after a lost ack
        assert (await frames_until(ws, 1))[0] == {"type": "ack", "client_id": "w-1", "seq": 2}
        await ws.send_json({"type": "send", "client_id": "w-2", "text": "x" * 4001})
        err = (await frames_until(ws, 1))[0]
        assert err["type"] == "error" and err["code"] == "text_too_long" and err["client_id"] == "w-2"
    assert [e["seq"] for e in (await client.events(conv))["events"]] == [1, 2]


async def test_ping_pong_and_unknown_frames(client):
    conv = await client.create()
    before = client.db_counts()
    async with client.ws(conv, after=1) as ws:
        await ws.receive_json(timeout=5)
        await ws.send_json({"type": "ping"})
        assert (await ws.receive_json(timeout=5)) == {"type": "pong"}
        for bad in ('{"type": "launch_missiles"}', "not json", "[1,2]", '{"no": "type"}'):
            await ws.send_str(bad)
            err = await ws.receive_json(timeout=5)
            assert err["type"] == "error" and err["code"] in ("unknown_frame", "invalid_json"), bad
        await ws.send_bytes(b"\x00\x01")
        assert (await ws.receive_json(timeout=5))["code"] == "bad_frame"
        await ws.send_json({"type": "typing", "typing": "maybe"})
        assert (await ws.receive_json(timeout=5))["code"] == "invalid_typing"
        await ws.send_json({"type": "ping"})     # still open and answering
        assert (await ws.receive_json(timeout=5)) == {"type": "pong"}
    assert client.db_counts() == before


async def _close_code(client: Client, conv: dict) -> int:
    async with client.ws(conv) as ws:
        msg = await ws.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING), msg
        return ws.close_code


async def test_close_codes_for_bad_tokens_and_unknown_conversations(client):
    conv = await client.create()
    other = await client.create()
    expired, _ = tokens.issue(TOKEN_SECRET.encode(), conv["conversation_id"], ttl=-1)
    for token in ("garbage", other["token"], expired, ""):
        assert await _close_code(client, {**conv, "token": token}) == 4401
    ghost = "c_ghost_conversation_00"
    ghost_token, _ = tokens.issue(TOKEN_SECRET.encode(), ghost, ttl=600)
    assert await _close_code(client, {"conversation_id": ghost, "token": ghost_token}) == 4404


async def test_too_many_connections_is_4429(tmp_path):
    relay = RelayProcess(tmp_path, env={"RELAY_MAX_WS_PER_CONVERSATION": "2"}).start()
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create()
            async with client.ws(conv) as a, client.ws(conv) as b:
                assert (await a.receive_json(timeout=5))["type"] == "hello"
                assert (await b.receive_json(timeout=5))["type"] == "hello"
                assert await _close_code(client, conv) == 4429
            await asyncio.sleep(0.2)
            async with client.ws(conv) as c:                     # slots free again
                assert (await c.receive_json(timeout=5))["type"] == "hello"
    finally:
        relay.stop()


async def test_server_pings_and_closes_silent_clients_with_4408(tmp_path):
    relay = RelayProcess(tmp_path, env={"RELAY_PING_INTERVAL": "0.5"}).start()
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create()
            async with client.ws(conv, after=1) as polite:
                assert (await polite.receive_json(timeout=5))["ping_interval"] == 0.5
                for _ in range(4):                                 # answers every ping: stays open
                    frame = await polite.receive_json(timeout=3)
                    assert frame == {"type": "ping"}
                    await polite.send_json({"type": "pong"})
                async with client.ws(conv, after=1) as silent:
                    await silent.receive_json(timeout=5)
                    assert (await silent.receive_json(timeout=3)) == {"type": "ping"}
                    msg = await silent.receive(timeout=3)
                    assert msg.type == aiohttp.WSMsgType.CLOSE and silent.close_code == 4408
                assert not polite.closed
    finally:
        relay.stop()


def test_websocket_client_library_interoperates(relay):
    """The same flow through websocket-client (a different WebSocket implementation)."""
    import urllib.request
    req = urllib.request.Request(relay.url + "/v1/conversations", data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json"})
    conv = json.loads(urllib.request.urlopen(req).read())
    ws = websocket.create_connection(
        f"{relay.ws_url}/v1/conversations/{conv['conversation_id']}/ws?token={conv['token']}&after=0", timeout=5)
    try:
        assert json.loads(ws.recv())["type"] == "hello"
        assert json.loads(ws.recv())["event"]["seq"] == 1
        ws.send(json.dumps({"type": "send", "client_id": "wc-1", "text": "hi"}))
        frames = [json.loads(ws.recv()) for _ in range(2)]
        assert {f["type"] for f in frames} == {"ack", "event"}
    finally:
        ws.close()


def test_text_frame_encoding_matches_rfc6455():
    from proxy.api.wsframe import text_frame
    for size, header in ((0, b"\x81\x00"), (125, b"\x81\x7d"), (126, b"\x81\x7e\x00\x7e"),
                         (65535, b"\x81\x7e\xff\xff"), (65536, b"\x81\x7f" + (65536).to_bytes(8, "big"))):
        frame = text_frame(b"a" * size)
        assert frame[:len(header)] == header and len(frame) == len(header) + size


async def test_large_frames_arrive_intact_on_the_fast_path(client):
    """Frames over 125 and over 65535 bytes (2- and 8-byte lengths) through live fan-out."""
    conv = await client.create()
    channel = await client.channel_of(conv["conversation_id"])
    from tests.relayproc import operator_message, webhook_body
    async with client.ws(conv, after=1) as a, client.ws(conv, after=1) as b:
        for ws in (a, b):
            await ws.receive_json(timeout=5)
        await asyncio.sleep(0.2)                     # both pumps parked: the fast path is taken
        for i, size in enumerate((10, 3000, 70000)):
            raw = webhook_body("livechat.message.created", channel,
                               message=operator_message(50 + i, "y" * size, html="<p>" + "y" * size + "</p>"))
            assert (await client.webhook(raw))[0] == 200
        for ws in (a, b):
            got = await frames_until(ws, 3)
            assert [len(f["event"]["message"]["text"]) for f in got] == [10, 3000, 70000]
            assert [f["event"]["seq"] for f in got] == [2, 3, 4]
