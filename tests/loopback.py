"""A loopback aiohttp server for the tests' stand-ins (fault injection only)."""
from __future__ import annotations

from aiohttp import web


async def serve(app: web.Application, **runner_kw) -> tuple[web.AppRunner, str]:
    """Start ``app`` on 127.0.0.1, a free port; returns its runner (``await runner.cleanup()``)
    and its base URL."""
    runner = web.AppRunner(app, **runner_kw)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
