"""proxy.api.wsframe: the frames the relay builds itself, and the aiohttp behaviour its fast path rests on.

The fan-out fast path writes hand-built frames to a socket's transport beside aiohttp's own
``send_str`` (api/ws.py). That is safe only while aiohttp writes each frame without giving the loop
back in the middle of it (today: one ``transport.write``, or header and payload in two writes with
no await between). These tests run the real aiohttp server and read the bytes on the wire with a
raw client and a parser written from RFC 6455 §5.2 here; they fail if a frame arrives cut, mixed
with another, malformed, or out of order.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy.api import wsframe

SIZES = (0, 1, 125, 126, 127, 1000, 16384, 16385, 65535, 65536, 65537, 200_000)


def parse_frames(buf: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Complete frames at the start of ``buf`` as (opcode, payload), and the rest; raises on any
    frame a server may not send: fragmented, RSV bits, masked, a length not in its shortest form."""
    frames, i = [], 0
    while len(buf) - i >= 2:
        b0, b1 = buf[i], buf[i + 1]
        assert b0 & 0x80, "FIN not set: a fragmented or cut frame"
        assert b0 & 0x70 == 0, "RSV bits set (no extension was agreed)"
        opcode = b0 & 0x0F
        assert opcode in (0x1, 0x8, 0x9, 0xA), f"unexpected opcode {opcode:#x}"
        assert not b1 & 0x80, "a server frame is never masked"
        n, head = b1 & 0x7F, 2
        if n == 126:
            if len(buf) - i < 4:
                break
            n, head = int.from_bytes(buf[i + 2:i + 4], "big"), 4
            assert n >= 126, "16-bit length used for a short payload"
        elif n == 127:
            if len(buf) - i < 10:
                break
            n, head = int.from_bytes(buf[i + 2:i + 10], "big"), 10
            assert 65536 <= n < 1 << 63, "64-bit length not in its shortest form"
        if len(buf) - i < head + n:
            break
        frames.append((opcode, buf[i + head:i + head + n]))
        i += head + n
    return frames, buf[i:]


def test_text_frame_is_a_valid_rfc6455_text_frame():
    for size in SIZES:
        for payload in (b"a" * size, ("é" * (size // 2)).encode()):
            frames, rest = parse_frames(wsframe.text_frame(payload))
            assert frames == [(0x1, payload)] and rest == b""
            header = {True: 2, False: 4 if len(payload) < 65536 else 10}[len(payload) < 126]
            assert len(wsframe.text_frame(payload)) == header + len(payload)


async def _server(handler) -> TestServer:
    app = web.Application()
    app.router.add_get("/ws", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def test_hand_built_frames_are_read_by_aiohttps_client():
    """aiohttp's own reader (a second implementation) takes the fast path's frames, in order."""
    texts = ["x" * n for n in SIZES] + ["é" * 40_000, "{}"]

    async def handler(request):
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        writer = wsframe.DirectWriter(request.transport, asyncio.get_running_loop())
        for text in texts:
            while not writer.write(text):      # the buffer is full: wait for the reader, as the pump would
                await asyncio.sleep(0.01)
        await asyncio.sleep(0)                  # the turn ends: flush
        await ws.receive()
        return ws

    server = await _server(handler)
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(server.make_url("/ws"), max_msg_size=0) as ws:
            got = [await ws.receive_str(timeout=5) for _ in texts]
            assert got == texts
    finally:
        await server.close()


async def _raw_connect(server: TestServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


async def test_concurrent_sends_and_fast_path_frames_arrive_whole_and_in_order():
    """Several tasks ``send_str`` at once (frames of every length class, some past aiohttp's write
    buffer limit, so its sends wait for the reader) while a fast-path writer puts a frame on the
    same transport at every loop turn. Every byte read is part of a well-formed frame, each
    sender's frames come in its order, none is missing."""
    senders, per_sender, direct_count = 4, 30, 300
    sizes = [SIZES[(k + i) % len(SIZES)] for k in range(senders) for i in range(per_sender)]
    turns_with_sends = [0]

    async def handler(request):
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        direct = wsframe.DirectWriter(request.transport, loop)
        sent = [0]
        sending = [True]
        ticking = loop.create_future()

        def tick() -> None:                     # one fast-path frame per loop turn, as soon as the socket takes it
            if sent[0] < direct_count and direct.write(json.dumps({"s": "direct", "i": sent[0]})):
                sent[0] += 1
                if sending[0]:
                    turns_with_sends[0] += 1
            if sent[0] < direct_count or sending[0]:
                loop.call_soon(tick)
            elif not ticking.done():
                ticking.set_result(None)

        async def sender(k: int) -> None:
            for i in range(per_sender):
                pad = "p" * sizes[k * per_sender + i]
                await ws.send_str(json.dumps({"s": k, "i": i, "pad": pad}))

        loop.call_soon(tick)
        await asyncio.gather(*(sender(k) for k in range(senders)))
        sending[0] = False
        await ticking
        await asyncio.sleep(0)                  # the last fast-path batch is flushed
        await ws.send_str(json.dumps({"s": "end"}))
        await ws.receive()
        return ws

    server = await _server(handler)
    try:
        reader, writer = await _raw_connect(server)
        seen: dict = {}
        buf = b""
        try:
            done = False
            while not done:
                chunk = await asyncio.wait_for(reader.read(4096), 10)   # small reads: the server's buffer fills
                assert chunk, "connection closed before the last frame"
                frames, buf = parse_frames(buf + chunk)
                for opcode, payload in frames:
                    assert opcode == 0x1
                    frame = json.loads(payload.decode("utf-8"))
                    if frame["s"] == "end":
                        done = True
                        continue
                    seen.setdefault(frame["s"], []).append(frame["i"])
                    if frame["s"] != "direct":
                        assert len(frame["pad"]) == sizes[frame["s"] * per_sender + frame["i"]]
            assert buf == b""
        finally:
            writer.close()
        assert seen == {"direct": list(range(direct_count)), **{k: list(range(per_sender)) for k in range(senders)}}
        assert turns_with_sends[0] > 0          # the fast path did write while aiohttp's sends were under way
    finally:
        await server.close()
