"""JSON-RPC over HTTP to Odoo's ``type='json'`` routes, with errors sorted into two kinds:
``OdooUnavailable`` (down, slow, answering garbage or 5xx, or busy: retry later) and ``OdooError``
(Odoo answered and refused: do not retry as is).

Odoo reports an exhausted database pool, a serialization failure or a lost database connection as
an ordinary JSON-RPC error (code 200, ``psycopg2.pool.PoolError``…): those are "busy", not
"refused". Every request goes through one ``asyncio.Semaphore`` shared by all of the relay's
clients of one Odoo (``RELAY_ODOO_MAX_REQUESTS``), well under Odoo's ``db_maxconn`` (64): a burst
of visitors waits its turn in the relay instead of emptying Odoo's pool."""
from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

# exception names (Odoo's error.data.name) that mean "Odoo is busy or its database blinked"
TRANSIENT = ("PoolError", "OperationalError", "SerializationFailure", "TransactionRollbackError",
             "InterfaceError", "LockNotAvailable", "DeadlockDetected", "QueryCanceled")


def transient(name: str) -> bool:
    return any(name.endswith(t) for t in TRANSIENT)


@contextlib.asynccontextmanager
async def bounded(limit: asyncio.Semaphore | None) -> AsyncIterator[None]:
    if limit is None:
        yield
        return
    async with limit:
        yield


class OdooUnavailable(Exception):
    """Odoo could not be reached or answered something that is not JSON-RPC."""


class RouteMissing(OdooUnavailable):
    """Odoo answered HTTP 404 with its page, not JSON-RPC: it has no such route (a route it has
    answers even its own NotFound as a JSON-RPC error)."""


class OdooError(Exception):
    """Odoo answered with a JSON-RPC error (NotFound 404, AccessDenied, a server error…)."""

    def __init__(self, code: int | None, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.code, self.name, self.message = code, name, message


class OdooRPC:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, timeout: float = 10.0,
                 limit: asyncio.Semaphore | None = None):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.limit = limit

    async def call(self, path: str, params: dict, cookies: dict | None = None, jar: dict | None = None,
                   headers: dict | None = None) -> Any:
        """``cookies`` go with this request only; ``jar`` (one guest's own dict) also keeps what
        Odoo sets. The relay's sessions hold no cookie jar (``DummyCookieJar``): no guest's cookie
        can ride on another guest's request."""
        body = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}
        if jar is not None:
            cookies = {**jar, **(cookies or {})}
        try:
            async with bounded(self.limit), self.http.post(self.base_url + path, json=body, cookies=cookies,
                                                           headers=headers, timeout=self.timeout) as resp:
                text = await resp.text()
                status = resp.status
                if jar is not None:
                    jar.update({name: morsel.value for name, morsel in resp.cookies.items()})
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OdooUnavailable(f"{path}: {type(exc).__name__}: {exc}") from None
        try:
            data = json.loads(text)
        except ValueError:
            if status == 404:
                raise RouteMissing(f"{path}: HTTP 404, no such route") from None
            raise OdooUnavailable(f"{path}: HTTP {status}, not JSON ({text[:80]!r})") from None
        if not isinstance(data, dict) or ("result" not in data and "error" not in data and status >= 400):
            raise OdooUnavailable(f"{path}: HTTP {status}, unexpected answer")
        if "error" in data:
            error = data["error"] if isinstance(data["error"], dict) else {}
            details: dict = error["data"] if isinstance(error.get("data"), dict) else {}
            if transient(str(details.get("name") or "")):
                raise OdooUnavailable(f"{path}: Odoo busy ({details.get('name')})")
            raise OdooError(error.get("code"), str(details.get("name") or "error"),
                            str(details.get("message") or error.get("message") or ""))
        return data.get("result")   # routes returning nothing answer without a "result" key
