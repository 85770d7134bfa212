"""Odoo failing in each way the relay must survive, with loopback stand-ins for the faults only
(refusing connections, HTTP 500 pages, garbage, slowness); the working paths are tested against
real Odoo in tests/odoo."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from proxy.odoo.rpc import OdooError, OdooRPC, OdooUnavailable
from tests.conftest import Client
from tests.loopback import serve
from tests.relayproc import RelayProcess

SECRET = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"


async def fault_server(handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return await serve(app)


async def test_rpc_sorts_failures(tmp_path):
    async def handler(request):
        kind = request.path.strip("/")
        if kind == "html500":
            return web.Response(status=500, text="<html>Internal Server Error</html>", content_type="text/html")
        if kind == "garbage":
            return web.Response(text="{not json")
        if kind == "slow":
            await asyncio.sleep(2)
            return web.json_response({"jsonrpc": "2.0", "id": 1, "result": True})
        if kind == "refused":
            return web.json_response({"jsonrpc": "2.0", "id": 1, "error": {
                "code": 404, "message": "404: Not Found", "data": {"name": "werkzeug.exceptions.NotFound", "message": "gone"}}})
        return web.json_response({"jsonrpc": "2.0", "id": 1})      # a route returning nothing: no "result"
    runner, url = await fault_server(handler)
    try:
        async with aiohttp.ClientSession() as http:
            rpc = OdooRPC(http, url, timeout=0.5)
            for path in ("/html500", "/garbage", "/slow"):
                with pytest.raises(OdooUnavailable):
                    await rpc.call(path, {})
            with pytest.raises(OdooError) as refused:
                await rpc.call("/refused", {})
            assert refused.value.code == 404 and "NotFound" in refused.value.name
            assert await rpc.call("/empty", {}) is None
            with pytest.raises(OdooUnavailable):
                await OdooRPC(http, "http://127.0.0.1:9").call("/x", {})          # connection refused
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("mode", ["refused", "html500", "garbage"])
async def test_create_is_503_and_nothing_half_created_when_odoo_fails(tmp_path, mode):
    runner = None
    if mode == "refused":
        url = "http://127.0.0.1:9"
    else:
        async def handler(request):
            if mode == "html500":
                return web.Response(status=500, text="<html>oops</html>", content_type="text/html")
            return web.Response(text="<!doctype html><title>Not Odoo</title>", content_type="text/html")
        runner, url = await fault_server(handler)
    relay = RelayProcess(tmp_path, env={"RELAY_WEBHOOK_SECRET": SECRET, "RELAY_ODOO_URL": url, "RELAY_ODOO_DB": "x",
                                        "RELAY_ODOO_LIVECHAT_CHANNEL_ID": "1", "RELAY_ODOO_REPLIES": "webhook"}).start()
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            status, body, headers = await client.call("POST", "/v1/conversations", json={})
            assert status == 503 and body["error"] == "odoo_unavailable" and int(headers["Retry-After"]) > 0
            assert "Traceback" not in str(body)
            assert client.db_counts()[:2] == (0, 0)
    finally:
        relay.stop()
        if runner:
            await runner.cleanup()


def test_odoo_mode_settings_are_checked_at_start(tmp_path):
    import subprocess
    import sys
    base = {"RELAY_ODOO_URL": "http://127.0.0.1:9", "RELAY_ODOO_DB": "x", "RELAY_ODOO_LIVECHAT_CHANNEL_ID": "1",
            "RELAY_WEBHOOK_SECRET": SECRET, "RELAY_ODOO_REPLIES": "webhook"}
    cases = [({"RELAY_ODOO_REPLIES": "pigeon"}, "RELAY_ODOO_REPLIES"),
             ({"RELAY_ODOO_DB": ""}, "RELAY_ODOO_DB is required"),
             ({"RELAY_ODOO_LIVECHAT_CHANNEL_ID": ""}, "RELAY_ODOO_LIVECHAT_CHANNEL_ID is required"),
             ({"RELAY_WEBHOOK_SECRET": ""}, "RELAY_WEBHOOK_SECRET is required"),
             ({"RELAY_ODOO_PASSWORD": "pw", "RELAY_ODOO_REPLIES": "poll"}, "RELAY_ODOO_PASSWORD needs RELAY_ODOO_LOGIN")]
    for override, message in cases:
        env = {"PATH": "/usr/bin:/bin", **base, **override}
        run = subprocess.run([sys.executable, "-m", "proxy", "--listen", "127.0.0.1:0"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=30)
        assert run.returncode == 2 and message in run.stderr, (override, run.stderr)


async def test_external_api_sorts_failures():
    """The batch poller's external API: refusals (401, a JSON-RPC error, a refused login) are
    OdooError; 5xx, garbage and refused connections are OdooUnavailable (the next tick retries)."""
    from proxy.odoo.batch import ExternalAPI

    async def handler(request):
        if request.path.startswith("/json/2/"):
            kind = request.headers["Authorization"].split()[-1]
            if kind == "bad":
                return web.json_response({"name": "werkzeug.exceptions.Unauthorized", "message": "Invalid apikey"},
                                         status=401)
            if kind == "down":
                return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")
            if kind == "garbage":
                return web.Response(text="<html>maintenance</html>", content_type="text/html")
            assert request.headers["X-Odoo-Database"] == "prod"
            return web.json_response([{"id": 1}])
        params = (await request.json())["params"]
        if params["service"] == "common":
            return web.json_response({"jsonrpc": "2.0", "id": 1, "result": params["args"][2] == "good" and 7})
        assert params["args"][1] == 7
        return web.json_response({"jsonrpc": "2.0", "id": 1, "result": [{"id": 2}]})
    runner, url = await fault_server(handler)
    try:
        async with aiohttp.ClientSession() as http:
            def api(**kw):
                return ExternalAPI(http, url, "prod", kw.get("login"), kw.get("password"), kw.get("key"), timeout=2)
            assert await api(key="good").search_read(19, "mail.message", [], ["id"]) == [{"id": 1}]
            with pytest.raises(OdooError):
                await api(key="bad").search_read(19, "mail.message", [], ["id"])
            for key in ("down", "garbage"):
                with pytest.raises(OdooUnavailable):
                    await api(key=key).search_read(19, "mail.message", [], ["id"])
            assert await api(login="admin", password="good").search_read(18, "mail.message", [], ["id"]) == [{"id": 2}]
            assert await api(login="admin", key="good").search_read(18, "mail.message", [], ["id"]) == [{"id": 2}]
            with pytest.raises(OdooError, match="refused the login"):
                await api(login="admin", password="wrong").search_read(18, "mail.message", [], ["id"])
            with pytest.raises(OdooUnavailable):
                await ExternalAPI(http, "http://127.0.0.1:9", "prod", "a", "b", None).search_read(18, "x", [], [])
    finally:
        await runner.cleanup()


async def test_rpc_busy_odoo_is_unavailable_and_requests_are_bounded():
    """Odoo's full pool, a serialization failure or a lost database are "busy" (retry), not
    "refused"; one semaphore bounds the requests in flight whatever the number of callers."""
    inflight, peak = 0, 0

    async def handler(request):
        nonlocal inflight, peak
        kind = request.path.strip("/")
        if kind in ("pool", "serialization", "operational"):
            name = {"pool": "psycopg2.pool.PoolError", "serialization": "psycopg2.errors.SerializationFailure",
                    "operational": "psycopg2.OperationalError"}[kind]
            return web.json_response({"jsonrpc": "2.0", "id": 1, "error": {
                "code": 200, "message": "Odoo Server Error", "data": {"name": name, "message": "busy"}}})
        if kind == "usererror":
            return web.json_response({"jsonrpc": "2.0", "id": 1, "error": {
                "code": 200, "message": "Odoo Server Error", "data": {"name": "odoo.exceptions.UserError", "message": "no"}}})
        inflight += 1
        peak = max(peak, inflight)
        await asyncio.sleep(0.05)
        inflight -= 1
        return web.json_response({"jsonrpc": "2.0", "id": 1, "result": True})
    runner, url = await fault_server(handler)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            rpc = OdooRPC(http, url, limit=asyncio.Semaphore(4))
            for kind in ("pool", "serialization", "operational"):
                with pytest.raises(OdooUnavailable):
                    await rpc.call("/" + kind, {})
            with pytest.raises(OdooError):
                await rpc.call("/usererror", {})
            assert all(await asyncio.gather(*(rpc.call("/ok", {}) for _ in range(40))))
            assert peak == 4
            peak = 0
            unbounded = OdooRPC(http, url)
            await asyncio.gather(*(unbounded.call("/ok", {}) for _ in range(40)))
            assert peak > 4                      # the bound above is the semaphore's, not the server's
    finally:
        await runner.cleanup()
