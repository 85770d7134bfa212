"""The bot client (issue 14, finding 7): it follows no redirect (a 307 would re-POST the signed body
elsewhere, a 302 turn into a GET whose answer the visitor would see), and reads the whole answer,
however many TCP chunks it comes in, up to the 64 KiB cap."""
from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web

from proxy.bot import MAX_ANSWER_BYTES, BotClient, BotFailed
from tests.botserver import BOT_SECRET
from tests.loopback import serve

CONV = SimpleNamespace(id="c_test", visitor_name="Ann", lang="en", page_url=None)
EVENT = {"seq": 3, "message": {"id": "m1", "text": "hello"}}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_a_bot_failure_and_is_not_followed(status):
    hits = []

    async def redirect(request):
        return web.Response(status=status, headers={"Location": "/elsewhere"})

    async def elsewhere(request):
        hits.append((request.method, await request.read()))
        return web.json_response({"reply": "from the redirect target"})
    app = web.Application()
    app.router.add_post("/bot", redirect)
    app.router.add_route("*", "/elsewhere", elsewhere)
    runner, url = await serve(app)
    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(BotFailed, match=str(status)):
                await BotClient(http, url + "/bot", BOT_SECRET, 5).ask(CONV, EVENT, [])
        assert hits == []
    finally:
        await runner.cleanup()


async def _chunked_server(chunks: list[bytes], pause: float = 0.2):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await reader.readuntil(b"\r\n\r\n")
        body = b"".join(chunks)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(pause)
        writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/bot"


async def test_an_answer_in_two_tcp_chunks_is_read_whole():
    body = json.dumps({"reply": "x" * 3000, "handoff": False}).encode()
    server, url = await _chunked_server([body[:1000], body[1000:]])
    try:
        async with aiohttp.ClientSession() as http:
            answer = await BotClient(http, url, BOT_SECRET, 5).ask(CONV, EVENT, [])
        assert answer.reply == "x" * 3000 and not answer.handoff
    finally:
        server.close()


async def test_an_answer_over_the_cap_is_a_failure_even_in_small_chunks():
    body = json.dumps({"reply": "y" * (MAX_ANSWER_BYTES + 10)}).encode()
    server, url = await _chunked_server([body[i:i + 8192] for i in range(0, len(body), 8192)], pause=0.01)
    try:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(BotFailed, match="too large"):
                await BotClient(http, url, BOT_SECRET, 5).ask(CONV, EVENT, [])
    finally:
        server.close()
