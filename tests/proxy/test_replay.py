"""Replay after reconnect, on every transport: events published while a client was away arrive
in order, exactly once, and WebSocket, long polling and short polling see identical sequences."""
from __future__ import annotations

import asyncio


async def ws_collect(client, conv, after: int, until_seq: int) -> list[dict]:
    out = []
    async with client.ws(conv, after=after) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        while not out or out[-1]["seq"] < until_seq:
            frame = await ws.receive_json(timeout=10)
            if frame["type"] == "event" and frame["event"]["seq"] is not None:
                out.append(frame["event"])
    return out


async def http_collect(client, conv, after: int, until_seq: int, wait: float) -> list[dict]:
    out = []
    while after < until_seq:
        body = await client.events(conv, after=after, wait=wait)
        stored = [e for e in body["events"] if e["seq"] is not None]
        out.extend(stored)
        if stored:
            after = stored[-1]["seq"]
        elif wait == 0:
            await asyncio.sleep(0.05)
    return out


async def test_reconnect_after_n_on_every_transport(client):
    conv = await client.create()
    await client.send(conv, "v1", "first")
    # each transport reads a first part, "goes away" at seq 2, and comes back later
    first = {
        "ws": await ws_collect(client, conv, 0, 2),
        "longpoll": await http_collect(client, conv, 0, 2, wait=5),
        "poll": await http_collect(client, conv, 0, 2, wait=0),
    }
    for i in range(25):   # published while every client is away
        await client.reply(conv, 2000 + i, f"away {i}")
        if i % 5 == 0:
            await client.send(conv, f"v-away-{i}", f"visitor {i}")
    last = (await client.events(conv, after=0))["last_seq"]
    assert last == 2 + 25 + 5
    second = {
        "ws": await ws_collect(client, conv, 2, last),
        "longpoll": await http_collect(client, conv, 2, last, wait=5),
        "poll": await http_collect(client, conv, 2, last, wait=0),
    }
    expected = list(range(1, last + 1))
    sequences = {}
    for transport in ("ws", "longpoll", "poll"):
        events = first[transport] + second[transport]
        assert [e["seq"] for e in events] == expected, transport
        sequences[transport] = events
    assert sequences["ws"] == sequences["longpoll"] == sequences["poll"]


async def test_live_stream_is_identical_on_all_transports(client):
    """Three clients, one per transport, following the same conversation live."""
    conv = await client.create()
    total = 40
    until = 1 + total

    async def produce():
        await asyncio.sleep(0.3)
        for i in range(total):
            if i % 4 == 0:
                await client.send(conv, f"live-{i}", f"v{i}")
            else:
                await client.reply(conv, 3000 + i, f"o{i}")

    _, ws_events, lp_events, sp_events = await asyncio.gather(
        produce(),
        ws_collect(client, conv, 1, until),
        http_collect(client, conv, 1, until, wait=25),
        http_collect(client, conv, 1, until, wait=0),
    )
    assert [e["seq"] for e in ws_events] == list(range(2, until + 1))
    assert ws_events == lp_events == sp_events
