"""JSON-RPC over HTTP to Odoo's ``type='json'`` routes, with errors sorted into two kinds:
``OdooUnavailable`` (down, slow, answering garbage or 5xx: retry later) and ``OdooError`` (Odoo
answered and refused: do not retry as is)."""
from __future__ import annotations

import json
from typing import Any

import aiohttp


class OdooUnavailable(Exception):
    """Odoo could not be reached or answered something that is not JSON-RPC."""


class OdooError(Exception):
    """Odoo answered with a JSON-RPC error (NotFound 404, AccessDenied, a server error…)."""

    def __init__(self, code: int | None, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.code, self.name, self.message = code, name, message


class OdooRPC:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, timeout: float = 10.0):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def call(self, path: str, params: dict, cookies: dict | None = None) -> Any:
        body = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}
        try:
            async with self.http.post(self.base_url + path, json=body, cookies=cookies,
                                      timeout=self.timeout) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OdooUnavailable(f"{path}: {type(exc).__name__}: {exc}") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise OdooUnavailable(f"{path}: HTTP {status}, not JSON ({text[:80]!r})") from None
        if not isinstance(data, dict) or ("result" not in data and "error" not in data and status >= 400):
            raise OdooUnavailable(f"{path}: HTTP {status}, unexpected answer")
        if "error" in data:
            error = data["error"] if isinstance(data["error"], dict) else {}
            details = error.get("data") if isinstance(error.get("data"), dict) else {}
            raise OdooError(error.get("code"), str(details.get("name") or "error"),
                            str(details.get("message") or error.get("message") or ""))
        return data.get("result")   # routes returning nothing answer without a "result" key
