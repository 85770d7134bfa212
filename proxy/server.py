"""Serve the app: aiohttp's ``run_app`` loop, plus the limits that must hold before a request exists.

- **Header timeout**: a connection that has not sent a complete request's headers within
  ``header_timeout`` seconds (from its start or from the end of its previous response) is closed.
  aiohttp's keep-alive timer does exactly this once it runs from the connection's first byte, which
  it does since 3.10: it closes a connection whose handler is still waiting for a request.
- **Connections per client IP**: above ``max_connections_per_ip`` open connections from one peer
  address, a new connection is answered ``429`` and closed before its headers are read, so
  slowloris from one address cannot take every socket. Behind a reverse proxy
  (``RELAY_TRUST_FORWARDED``) every connection comes from the proxy: the limit is then the
  proxy's to set (docs/deployment.md), and is not applied here.
- Body timeouts are per route (``proxy.api.common.read_body``: 408). What is left of a body the
  handler did not read is drained for at most 1 s (aiohttp's lingering close; 10 s by default).
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("relay.server")
_BODY = b'{"error":"too_many_connections","message":"Too many connections from this address."}'
TOO_MANY = (b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Retry-After: 5\r\nContent-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY))


class GuardedRunner(web.AppRunner):
    """An AppRunner whose server counts open connections per peer address."""

    def __init__(self, app: web.Application, *, max_connections_per_ip: int | None, **kwargs: Any):
        super().__init__(app, **kwargs)
        self.max_connections_per_ip = max_connections_per_ip
        self.per_ip: collections.Counter[str] = collections.Counter()
        self.refused = 0

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        if self.max_connections_per_ip:
            self._guard(server, self.max_connections_per_ip)
        return server

    def _guard(self, server: web.Server, cap: int) -> None:
        made, lost = server.connection_made, server.connection_lost
        peers: dict[RequestHandler, str] = {}
        counts = self.per_ip

        def connection_made(handler: RequestHandler, transport: asyncio.Transport) -> None:
            made(handler, transport)
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if peer else "unknown"
            if counts[ip] >= cap:
                self.refused += 1
                if self.refused in (1, 10, 100, 1000) or self.refused % 10000 == 0:
                    log.warning("connection refused: too many from one address",
                                extra={"limit": cap, "refused_so_far": self.refused})
                with contextlib.suppress(Exception):
                    transport.write(TOO_MANY)
                transport.close()
                return
            peers[handler] = ip
            counts[ip] += 1

        def connection_lost(handler: RequestHandler, exc: BaseException | None = None) -> None:
            ip = peers.pop(handler, None)
            if ip is not None:
                counts[ip] -= 1
                if counts[ip] <= 0:
                    del counts[ip]
            lost(handler, exc)

        server.connection_made = connection_made     # type: ignore[method-assign]
        server.connection_lost = connection_lost     # type: ignore[method-assign]


def run(app: web.Application, host: str, port: int, *, header_timeout: float,
        max_connections_per_ip: int | None, shutdown_timeout: float = 10) -> None:
    """``web.run_app`` for this relay: same signals and shutdown, with the guarded runner."""
    loop = asyncio.new_event_loop()
    runner = GuardedRunner(app, max_connections_per_ip=max_connections_per_ip, handle_signals=True,
                           access_log=None, handler_cancellation=True, shutdown_timeout=shutdown_timeout,
                           keepalive_timeout=header_timeout, lingering_time=1.0,
                           # a page_url of 2,048 characters, percent-encoded, fits (aiohttp: 8,190 bytes):
                           # the handler answers 400 invalid_query itself, no parser traceback in the log
                           max_line_size=32768)

    async def main() -> None:
        try:   # a failed start-up too: the cleanup contexts entered are exited (app.py)
            await runner.setup()
            await web.TCPSite(runner, host, port).start()
            while True:
                await asyncio.sleep(3600)
        finally:
            await runner.cleanup()

    main_task = loop.create_task(main())
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main_task)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            main_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(main_task)
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
