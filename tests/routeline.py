"""An HTTP forwarder on loopback in front of a real Odoo that changes two things, for the tests of
routes chosen by trying them (proxy/odoo/capabilities.py):

- ``serie``: what ``/web/webclient/version_info`` says (``""``: no version at all, ``"21.0"``, a
  ``saas~`` build…); None passes Odoo's answer on;
- ``missing``: routes answered with HTTP 404 and an HTML page, as an Odoo without them answers
  (a path, or a prefix ending in ``/``), whatever the method.

Everything else goes to the real server and back unchanged (not WebSockets: the relays behind it
follow replies by webhook or polling). Runs in a thread with its own loop, like FaultLine.
"""
from __future__ import annotations

import asyncio
import json
import threading

import aiohttp
from aiohttp import web

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host", "upgrade"}
NOT_FOUND = "<!DOCTYPE html><html><head><title>404 | Page not found</title></head><body>Not found</body></html>"


class RouteLine:
    def __init__(self, target: str, serie: str | None = None, missing: set[str] | None = None):
        self.target = target.rstrip("/")
        self.serie = serie
        self.missing: set[str] = set(missing or ())
        self.hits: list[tuple[str, str]] = []        # (method, path) of every request forwarded
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="routeline", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "RouteLine":
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        async def down() -> None:
            await self._http.close()
            await self._runner.cleanup()
        asyncio.run_coroutine_threadsafe(down(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def is_missing(self, path: str) -> bool:
        return any(path == m or (m.endswith("/") and path.startswith(m)) for m in self.missing)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def setup() -> None:
            self._http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                               timeout=aiohttp.ClientTimeout(total=120),
                                               auto_decompress=True)
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._forward)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
        self._loop.run_until_complete(setup())
        self._ready.set()
        self._loop.run_forever()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if self.is_missing(path):
            return web.Response(status=404, text=NOT_FOUND, content_type="text/html")
        self.hits.append((request.method, path))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        body = await request.read()
        async with self._http.request(request.method, self.target + request.path_qs, headers=headers,
                                      data=body or None, allow_redirects=False) as resp:
            data = await resp.read()
            out = [(k, v) for k, v in resp.headers.items() if k.lower() not in HOP]
            status = resp.status
        if path == "/web/webclient/version_info" and self.serie is not None and status == 200:
            answer = json.loads(data)
            result = answer.get("result")
            if isinstance(result, dict):
                if self.serie:
                    major = self.serie.replace("saas~", "").split(".")[0]
                    result.update(server_serie=self.serie, server_version=self.serie,
                                  server_version_info=[int(major) if major.isdigit() else 0, 0, 0, "final", 0, ""])
                else:
                    for key in ("server_serie", "server_version", "server_version_info"):
                        result.pop(key, None)
            data = json.dumps(answer).encode()
        response = web.Response(status=status, body=data)
        for key, value in out:
            response.headers.add(key, value)
        return response
