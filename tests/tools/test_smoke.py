"""tools.smoke and tools.test_websocket: all ✓ on a real demo relay; ✗ with a reason people can act
on against a closed port, a web server that is not a relay, a half-broken relay and a server
that never answers; never longer than the timeouts allow."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.request

import pytest
from aiohttp import web

from tools import smoke, test_websocket
from tools.relayproc import RelayProcess, free_port

ALL = ["health", "conversation", "ws hello", "ws ping/pong", "long poll", "short poll"]


def lines_of(out: str) -> dict[str, str]:
    """check name -> its printed line."""
    found = {}
    for line in out.splitlines():
        for name in ALL:
            if line[2:].startswith(name + " "):
                found[name] = line
    return found


@pytest.fixture
def serve():
    """Run an aiohttp app on a loopback port in a thread of its own (the tool runs its own loop)."""
    started: list = []

    def start(app: web.Application) -> str:
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        port = free_port()
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        started.append((loop, runner, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for loop, runner, thread in started:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_a_demo_relay_passes_every_check(shared_relay, capsys):
    assert smoke.main([shared_relay.url]) == 0
    out = capsys.readouterr().out
    printed = lines_of(out)
    assert list(printed) == ALL and all(line.startswith("✓ ") for line in printed.values()), out
    assert "held 1.0" in printed["long poll"] and "pong" in printed["ws ping/pong"]
    assert out.rstrip().endswith("6/6 checks passed")
    created = printed["conversation"].split("created ")[1].split(",")[0]
    with urllib.request.urlopen(shared_relay.url + "/demo/api/state", timeout=5) as r:
        state = json.load(r)
    mine = next(c for c in state["conversations"] if c["id"] == created)
    assert mine["visitor_name"] == "tools.smoke" and mine["closed"], "the smoke check closes its conversation"


def test_json_output(shared_relay, capsys):
    assert smoke.main([shared_relay.url, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["relay"] == shared_relay.url
    assert [c["name"] for c in report["checks"]] == ALL
    assert all(c["ok"] and c["reason"] and 0 <= c["seconds"] < 5 for c in report["checks"])


def test_test_websocket_runs_only_the_websocket_checks(shared_relay, capsys):
    assert test_websocket.run([shared_relay.url]) == 0
    out = capsys.readouterr().out
    assert list(lines_of(out)) == ["conversation", "ws hello", "ws ping/pong"]
    assert "3/3 checks passed" in out


def test_closed_port_fails_fast_with_the_reason(capsys):
    t0 = time.monotonic()
    assert smoke.main([f"http://127.0.0.1:{free_port()}"]) == 1
    assert time.monotonic() - t0 < 5
    printed = lines_of(capsys.readouterr().out)
    assert printed["health"].startswith("✗ ") and "Connection refused" in printed["health"]
    assert "not run: no conversation" in printed["long poll"]
    assert all(line.startswith("✗ ") for line in printed.values())


def test_a_web_server_that_is_not_a_relay(serve, capsys):
    async def not_found(request: web.Request) -> web.Response:
        return web.Response(status=404, text="<html><body>Not Found</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", not_found)
    url = serve(app)
    assert smoke.main([url, "--timeout", "2"]) == 1
    printed = lines_of(capsys.readouterr().out)
    assert printed["health"].startswith("✗ ")
    assert "HTTP 404" in printed["health"] and "text/html" in printed["health"] and "relay's URL" in printed["health"]
    assert printed["conversation"].startswith("✗ ") and "HTTP 404" in printed["conversation"]


def test_a_half_broken_relay_fails_the_checks_it_should(serve, capsys):
    """/healthz, create and hello work; no pong, long polls answered at once: those two are ✗."""
    conv = {"conversation_id": "c_fake", "token": "t", "expires_at": 0, "last_seq": 1}
    status_event = {"seq": 1, "type": "status", "status": "waiting_operator"}

    async def healthz(request):
        return web.json_response({"status": "ok", "mode": "demo", "store": "sqlite", "version": "fake"})

    async def create(request):
        return web.json_response(conv, status=201)

    async def events(request):
        after = int(request.query["after"])
        return web.json_response({"events": [status_event] if after < 1 else [], "last_seq": 1})

    async def ws(request):
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        await sock.send_json({"type": "hello", "last_seq": 1, "ping_interval": 25})
        async for _ in sock:      # reads the ping, never answers it
            pass
        return sock

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/v1/conversations", create)
    app.router.add_get("/v1/conversations/{id}/events", events)
    app.router.add_get("/v1/conversations/{id}/ws", ws)
    url = serve(app)
    t0 = time.monotonic()
    assert smoke.main([url, "--timeout", "1"]) == 1
    assert time.monotonic() - t0 < 6
    printed = lines_of(capsys.readouterr().out)
    ok = {name for name, line in printed.items() if line.startswith("✓ ")}
    assert ok == {"health", "conversation", "ws hello", "short poll"}, printed
    assert "no answer within 1 s" in printed["ws ping/pong"]
    assert "not held" in printed["long poll"]


def test_a_server_that_never_answers_is_cut_by_the_timeout(capsys):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        t0 = time.monotonic()
        code = smoke.main([f"http://127.0.0.1:{silent.getsockname()[1]}", "--timeout", "1"])
        elapsed = time.monotonic() - t0
    assert code == 1 and elapsed < 6
    printed = lines_of(capsys.readouterr().out)
    assert "no answer within 1 s" in printed["health"] and "no answer within 1 s" in printed["conversation"]


def test_origin_must_be_one_the_relay_allows(tmp_path, capsys):
    relay = RelayProcess(tmp_path, {"RELAY_ALLOWED_ORIGINS": "https://shop.example"}).start()
    try:
        assert smoke.main([relay.url]) == 1
        printed = lines_of(capsys.readouterr().out)
        assert "origin_not_allowed" in printed["conversation"] and "--origin" in printed["conversation"]
        assert smoke.main([relay.url, "--origin", "https://shop.example"]) == 0
    finally:
        relay.stop()
