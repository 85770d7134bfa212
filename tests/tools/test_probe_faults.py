"""tools.probe against loopback servers that fail in each way the probe must report.

These servers stand in for Odoo only to inject faults (refused connections, a bad certificate,
500s, a web page that is not Odoo, the bus closing with OUTDATED_VERSION, no operator online, a
module missing). What the probe says of a working Odoo is tested against real servers in
tests/odoo/test_probe_live.py.
"""
from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trustme
from aiohttp import WSCloseCode, web

from tools import probe

ROOT = Path(__file__).resolve().parents[2]
HTML = "<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fake_odoo(serie="18.0", available=True, bus="outdated", livechat=True) -> web.Application:
    """Enough of Odoo's public surface for the probe to reach the fault under test."""
    async def jsonrpc(request: web.Request) -> web.Response:
        path = request.path
        if request.method in ("GET", "OPTIONS"):   # a JSON route asked with GET: Odoo answers 400; a
            return web.Response(status=400, text="Bad Request")   # preflight 204 or 400 (capabilities.py)
        if path == "/web/webclient/version_info":
            result = {"server_version": serie, "server_serie": serie, "protocol_version": 1}
        elif path in ("/im_livechat/init", "/im_livechat/cors/init", "/im_livechat/cors/data"):
            if not livechat:
                return web.Response(status=404, text=HTML, content_type="text/html")
            result = {"Store": {"livechat_available": available}} if path.endswith("data") \
                else {"available_for_me": available, "rule": {}}
        elif path == "/websocket/peek_notifications":
            result = {"channels": [], "notifications": []}
        else:
            return web.Response(status=404, text=HTML, content_type="text/html")
        return web.json_response({"jsonrpc": "2.0", "id": 1, "result": result})

    async def loader(request: web.Request) -> web.Response:
        return web.Response(text='odoo.__session_info__ = {"websocket_worker_version": "18.0-5"};',
                            content_type="application/javascript")

    async def websocket(request: web.Request) -> web.StreamResponse:
        if bus == "down":
            return web.Response(status=502, text="Bad Gateway")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if bus == "outdated":
            await ws.close(code=WSCloseCode.OK, message=b"OUTDATED_VERSION")
        else:
            async for _ in ws:
                pass
        return ws

    app = web.Application()
    app.router.add_get("/im_livechat/loader/{id}", loader)
    app.router.add_get("/websocket", websocket)
    app.router.add_route("*", "/{tail:.*}", jsonrpc)
    return app


def page(status: int, body: str, content_type: str = "text/html") -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, text=body, content_type=content_type)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


async def serve(app: web.Application, ssl_context=None) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"


async def run_probe(*argv: str) -> tuple[int, dict]:
    """The probe's own command line, in a subprocess (as a user runs it); its --json report."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tools.probe", *argv, "--json", "--timeout", "2",
                                                cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, json.loads(out)


async def probe_server(app: web.Application, *argv: str, ssl_context=None) -> tuple[int, dict, str]:
    """Serve ``app`` on loopback, probe it, stop it: (exit code, report, its URL)."""
    runner, url = await serve(app, ssl_context=ssl_context)
    try:
        rc, report = await run_probe(url, *argv)
    finally:
        await runner.cleanup()
    return rc, report, url


def check(report: dict, name: str) -> dict:
    found = [c for c in report["checks"] if c["name"] == name]
    assert found, f"no {name!r} check in {[c['name'] for c in report['checks']]}"
    return found[0]


async def test_connection_refused():
    rc, report = await run_probe(f"http://127.0.0.1:{free_port()}")
    assert rc == 1
    assert check(report, "reachable")["status"] == "fail"
    assert "Connection refused" in check(report, "reachable")["reason"]
    assert report["verdict"]["usable"] is False and "Connection refused" in report["verdict"]["reason"]
    assert [c["name"] for c in report["checks"]] == ["reachable"]     # nothing further was tried


async def test_tls_certificate_not_valid():
    ca = trustme.CA()                       # a CA the probe does not trust: the certificate is not valid
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    rc, report, url = await probe_server(fake_odoo(), ssl_context=context)
    assert rc == 1
    reachable = check(report, "reachable")
    assert reachable["status"] == "fail" and reachable["reason"].startswith("TLS certificate not valid")
    assert report["verdict"]["usable"] is False


async def test_http_500():
    rc, report, url = await probe_server(page(500, "<html><body>Internal Server Error</body></html>"))
    assert rc == 1
    assert check(report, "reachable")["status"] == "ok"
    odoo = check(report, "odoo")
    assert odoo["status"] == "fail" and "HTTP 500" in odoo["reason"] and "server error" in odoo["reason"]


async def test_a_web_page_that_is_not_odoo():
    rc, report, url = await probe_server(page(200, HTML))
    assert rc == 1
    odoo = check(report, "odoo")
    assert odoo["status"] == "fail" and odoo["reason"].startswith("not an Odoo server")
    assert "text/html" in odoo["reason"]


async def test_an_odoo_older_than_17_is_not_supported():
    rc, report, url = await probe_server(fake_odoo(serie="16.0"))
    assert rc == 1 and "16.0 is not supported" in check(report, "odoo")["reason"]


async def test_im_livechat_not_installed():
    rc, report, url = await probe_server(fake_odoo(livechat=False))
    assert rc == 1
    livechat = check(report, "im_livechat")
    assert livechat["status"] == "fail" and "install the im_livechat app" in livechat["reason"]


async def test_bus_closed_with_outdated_version_falls_back_to_polling():
    rc, report, url = await probe_server(fake_odoo(bus="outdated"), "--db", "prod")
    ws = check(report, "websocket")
    assert ws["status"] == "fail" and "OUTDATED_VERSION" in ws["reason"]
    assert check(report, "peek_notifications")["status"] == "ok"
    verdict = report["verdict"]
    assert rc == 0 and verdict["usable"] is True and verdict["mode"] == "poll"
    assert verdict["settings"]["RELAY_ODOO_REPLIES"] == "poll"
    assert verdict["settings"]["RELAY_ODOO_URL"] == url and verdict["settings"]["RELAY_ODOO_DB"] == "prod"


async def test_a_working_bus_is_chosen_over_polling():
    rc, report, url = await probe_server(fake_odoo(bus="ok"))
    assert check(report, "websocket")["status"] == "ok"
    assert "?version=18.0-5" in check(report, "websocket")["reason"]     # read from the loader
    assert rc == 0 and report["verdict"]["mode"] == "bus"


async def test_no_operator_available_is_usable_with_a_warning():
    rc, report, url = await probe_server(fake_odoo(available=False, bus="ok"))
    operator = check(report, "operator")
    assert operator["status"] == "info" and "no operator" in operator["reason"]
    assert rc == 0 and report["verdict"]["usable"] is True
    assert any("no_operator_available" in w for w in report["verdict"]["warnings"])


async def test_a_server_that_never_answers_does_not_hang_the_probe():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)                       # accepts connections, never answers
    try:
        started = time.monotonic()
        rc, report = await run_probe(f"http://127.0.0.1:{listener.getsockname()[1]}")
        assert time.monotonic() - started < 20
    finally:
        listener.close()
    assert rc == 1 and "no answer within 2 s" in check(report, "reachable")["reason"]


def test_human_output_and_usage_errors():
    bad = subprocess.run([sys.executable, "-m", "tools.probe", "odoo.example.com"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "http://" in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "tools.probe", "http://x", "--roundtrip"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--login and --password" in bad.stderr
    refused = subprocess.run([sys.executable, "-m", "tools.probe", f"http://127.0.0.1:{free_port()}"], cwd=ROOT,
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1
    assert "✗ reachable: cannot connect" in refused.stdout
    assert "Verdict: the relay cannot use this Odoo" in refused.stdout


async def test_relay_health_is_reported(tmp_path):
    healthy = web.Application()
    async def healthz(request):
        return web.json_response({"status": "ok"})
    healthy.router.add_get("/healthz", healthz)
    relay, relay_url = await serve(healthy)
    runner, url = await serve(fake_odoo(bus="ok"))
    try:
        rc, report = await run_probe(url, "--relay", relay_url)
        rc_down, report_down = await run_probe(url, "--relay", f"http://127.0.0.1:{free_port()}")
    finally:
        await runner.cleanup()
        await relay.cleanup()
    assert check(report, "relay")["status"] == "ok" and "200" in check(report, "relay")["reason"]
    assert check(report_down, "relay")["status"] == "fail"
    assert rc == 0 and rc_down == 0          # the verdict is about Odoo; the relay line says what is wrong


@pytest.mark.parametrize("serie", ["17.0", "saas~18.3", "19.0"])
async def test_each_series_asks_its_own_init_route(serie):
    rc, report, url = await probe_server(fake_odoo(serie=serie, bus="ok"))
    assert rc == 0, report
    assert check(report, "im_livechat")["status"] == "ok"
    if serie.startswith("saas~"):
        assert "Odoo Online" in check(report, "odoo")["reason"]


def test_probe_module_never_writes_secrets_in_the_verdict():
    args = probe.parser().parse_args(["http://odoo", "--login", "admin", "--password", "s3cret-pw"])
    p = probe.Probe(args)
    p.facts.major, p.facts.livechat, p.facts.channel_ok, p.facts.poll_routes = 18, True, True, True
    p.facts.serie, p.facts.features = "18.0", {"sessions": True, "posting": True}
    assert "s3cret-pw" not in json.dumps(p.verdict())
