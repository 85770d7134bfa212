"""What does this Odoo support? Checks an Odoo server from the relay's point of view and ends with
the ``RELAY_ODOO_*`` settings to use.

    python -m tools.probe https://odoo.example.com [--db DB] [--livechat-channel ID]
        [--login LOGIN --password PASSWORD | --api-key KEY [--login LOGIN]] [--relay URL]
        [--roundtrip] [--json] [--timeout SECONDS]

Each check prints ✓ (works), ✗ (does not work) or – (not checked, or a warning) with a one-line
reason. Exit codes: 0 the relay can use this Odoo, 1 it cannot, 2 usage error. Every step has a
timeout (``--timeout``, 5 s by default), so the probe never hangs.

``--roundtrip`` opens a real test conversation in that Odoo (it says so before it starts): for
each of the ``bus`` and ``poll`` reply modes it starts a relay in this process, talks through it as a
visitor, answers as the operator by RPC (``--login``/``--password``: that user joins the livechat
channel and goes online) and measures both legs; with ``--relay`` it does the same through that
relay. The test session is closed at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import ssl
import sys
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import websocket  # websocket-client: the bus check speaks to Odoo the way a third-party client would

from proxy.odoo import capabilities
from proxy.odoo.adapters import Adapter
from proxy.odoo.rpc import OdooError, OdooRPC, OdooUnavailable

WORKER_VERSION = re.compile(r'websocket_worker_version["\']?\s*[:=]\s*["\']([^"\']+)["\']')
OK, FAIL, INFO = "ok", "fail", "info"
MARK = {OK: "✓", FAIL: "✗", INFO: "–"}
USER_AGENT = "odoo-livechat-relay-probe"


@dataclasses.dataclass
class Check:
    name: str
    status: str
    reason: str
    ms: float | None = None


class Stop(Exception):
    """A check failed in a way that makes the following ones pointless."""


@dataclasses.dataclass
class Facts:
    """What the checks learnt; the verdict is built from this."""
    serie: str | None = None
    major: int | None = None
    livechat: bool = False
    channel_ok: bool = False
    operator_available: bool | None = None
    websocket: bool = False
    peek: bool = False
    poll_routes: bool = False
    addon: dict | None = None
    worker_version: str | None = None
    db: str | None = None
    uid: int | None = None
    api: str | None = None                 # "jsonrpc" | "json2"
    features: dict | None = None           # feature → offered (capabilities.py), as the relay finds them


def tls_reason(exc: BaseException) -> str | None:
    """A one-line reason when ``exc`` is a TLS failure, else None."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate not valid: {exc.certificate_error}"
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)):
        return f"TLS handshake failed: {exc}"
    return None


def connect_reason(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        err = exc.os_error
        what = os.strerror(err.errno) if err.errno else str(err)
        return f"cannot connect to {exc.host}:{exc.port}: {what}"
    return f"cannot connect: {type(exc).__name__}: {exc}"


class Probe:
    def __init__(self, args: argparse.Namespace, out=sys.stdout):
        self.args = args
        self.url = args.url.rstrip("/")
        self.timeout = args.timeout
        self.checks: list[Check] = []
        self.facts = Facts(db=args.db)
        self.out = out
        self.roundtrip: dict[str, Any] = {}

    # ------------------------------------------------------------------ plumbing

    def add(self, name: str, status: str, reason: str, started: float | None = None) -> Check:
        ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
        check = Check(name, status, reason, ms)
        self.checks.append(check)
        if not self.args.json:
            took = f"  ({ms:.0f} ms)" if ms is not None else ""
            print(f"{MARK[status]} {name}: {reason}{took}", file=self.out, flush=True)
        return check

    async def rpc(self, path: str, params: dict, cookies: dict | None = None) -> Any:
        return await asyncio.wait_for(self.odoo.call(path, params, cookies), self.timeout)

    async def route_exists(self, path: str) -> bool:
        """An unknown route answers Odoo's 404 page; a JSON route asked with GET answers 400/405."""
        async with self.http.get(self.url + path, timeout=aiohttp.ClientTimeout(total=self.timeout),
                                 allow_redirects=False) as resp:
            await resp.read()
            return resp.status != 404

    # ------------------------------------------------------------------ run

    async def run(self) -> dict:
        connector = aiohttp.TCPConnector(limit=10)
        async with aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT}) as self.http:
            self.odoo = OdooRPC(self.http, self.url, timeout=self.timeout)
            try:
                await self.check_reachable()
                await self.check_version()
                await self.check_features()
                await self.check_livechat()
                await self.check_visitor_routes()
                await self.check_websocket()
                await self.check_peek()
                await self.check_credentials()
                await self.check_addon()
            except Stop:
                pass
            await self.check_relay()
            verdict = self.verdict()
            if self.args.roundtrip and verdict["usable"]:
                await self.run_roundtrip()
        report = {"url": self.url, "checks": [dataclasses.asdict(c) for c in self.checks],
                  "features": self.facts.features, "verdict": verdict}
        if self.args.roundtrip:
            report["roundtrip"] = self.roundtrip
        return report

    # ------------------------------------------------------------------ checks

    async def check_reachable(self) -> None:
        started = time.perf_counter()
        scheme = urlsplit(self.url).scheme
        try:
            async with self.http.get(self.url + "/web/webclient/version_info",
                                     timeout=aiohttp.ClientTimeout(total=self.timeout), allow_redirects=False) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, ssl.SSLError) as exc:
            reason = tls_reason(exc) or connect_reason(exc)
            self.add("reachable", FAIL, reason, started)
            raise Stop from None
        except TimeoutError:
            self.add("reachable", FAIL, f"no answer within {self.timeout:g} s", started)
            raise Stop from None
        tls = "TLS certificate valid" if scheme == "https" else "plain HTTP: use HTTPS in production"
        self.add("reachable", OK, f"HTTP {status}; {tls}", started)

    async def check_version(self) -> None:
        started = time.perf_counter()
        path = "/web/webclient/version_info"
        body = {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {}}
        try:
            async with self.http.post(self.url + path, json=body,
                                      timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                status, ctype, text = resp.status, resp.content_type, await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.add("odoo", FAIL, f"{path}: {exc or 'timed out'}", started)
            raise Stop from None
        try:
            data = json.loads(text) if "json" in ctype else None
        except ValueError:
            data = None
        info = data.get("result") if isinstance(data, dict) else None
        if status >= 500 and not isinstance(info, dict):
            self.add("odoo", FAIL, f"{path} answered HTTP {status}: a server error (see the server's log)", started)
            raise Stop
        if not isinstance(info, dict):
            self.add("odoo", FAIL, f"not an Odoo server: {path} answered HTTP {status} {ctype or 'without a type'}, "
                                   "not Odoo's JSON-RPC", started)
            raise Stop
        serie = str(info.get("server_serie") or "")
        hint = capabilities.hinted_major(serie)
        if hint is not None and hint < 17:
            self.add("odoo", FAIL, f"Odoo {serie} is not supported (17.0 and later are)", started)
            raise Stop
        self.facts.serie = serie or None
        if hint not in capabilities.KNOWN:
            what = f"series {serie}" if serie else "no version string"
            self.add("odoo", INFO, f"an Odoo with {what}: a version the relay does not know; its routes are "
                                   "found by trying them (below)", started)
            return
        online = " (an Odoo Online build)" if serie.startswith("saas~") else ""
        self.add("odoo", OK, f"Odoo {info.get('server_version', serie)}, series {serie}{online}", started)

    async def check_features(self) -> None:
        """Each feature's route, tried the way the relay tries them at start-up (capabilities.py)."""
        started = time.perf_counter()
        try:
            caps = await capabilities.detect(self.http, self.url, self.facts.serie or "", timeout=self.timeout)
        except capabilities.RouteCheckFailed as exc:
            self.add("features", FAIL, f"the routes could not be tried: {exc}", started)
            raise Stop from None
        self.caps, self.adapter = caps, Adapter(caps.family, caps)
        self.facts.major, self.facts.features = caps.family, caps.features()
        how = "the version string" if caps.known else "routes only that series has"
        self.add("features", INFO, f"routes of the {caps.family}.0 series (told by {how}); "
                                   f"{sum(caps.features().values())} of {len(caps.features())} features offered",
                 started)
        for name in capabilities.FEATURES:
            variant = caps.chosen.get(name)
            if variant is not None:
                self.add(f"feature {name}", OK, f"{variant.path} ({variant.name})")
            else:
                tried = ", ".join(caps.tried.get(name) or []) or "none known for this series"
                self.add(f"feature {name}", FAIL, f"not offered (tried: {tried}): {capabilities.FEATURE_USE[name]}")

    async def check_livechat(self) -> None:
        started = time.perf_counter()
        channel = self.args.livechat_channel
        request = self.adapter.init_request(channel)
        if request is None:
            self.add("im_livechat", FAIL, "no livechat init route answers: install the im_livechat app "
                     "(or give --db when the server hosts several databases)", started)
            raise Stop
        try:
            result = await self.rpc(*request)
            if self.adapter.variant("config") == "cors_data":
                available = ((result or {}).get("Store") or {}).get("livechat_available")
            else:
                available = (result or {}).get("available_for_me")
        except OdooUnavailable as exc:
            if "HTTP 404" in str(exc):
                self.add("im_livechat", FAIL, "the livechat routes answer 404: install the im_livechat app "
                         "(or give --db when the server hosts several databases)", started)
            else:
                self.add("im_livechat", FAIL, f"the livechat init route failed: {exc}", started)
            raise Stop from None
        except OdooError as exc:
            self.add("im_livechat", FAIL, f"the livechat init route refused: {exc}", started)
            raise Stop from None
        except TimeoutError:
            self.add("im_livechat", FAIL, f"the livechat init route did not answer within {self.timeout:g} s", started)
            raise Stop from None
        self.facts.livechat = True
        self.add("im_livechat", OK, "installed (the visitor's init route answers)", started)
        if available is None:
            self.add("livechat channel", FAIL, f"channel {channel} did not answer as a livechat channel", None)
            raise Stop
        self.facts.channel_ok = True
        self.facts.operator_available = bool(available)
        if available:
            self.add("operator", OK, f"an operator of channel {channel} is available now")
        else:
            self.add("operator", INFO, f"no operator of channel {channel} is available now (or channel {channel} "
                                       "does not exist): visitors get 503 no_operator_available until one is online")

    async def check_visitor_routes(self) -> None:
        started = time.perf_counter()
        routes = [self.adapter.session_route(), "/im_livechat/cors/message/post",
                  "/im_livechat/cors/channel/messages", "/im_livechat/cors/visitor_leave_session"]
        typing = self.adapter.typing_route()
        if typing:
            routes.append(typing)
        try:
            found = await asyncio.gather(*(self.route_exists(r) for r in routes))
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.add("visitor routes", FAIL, f"could not check them: {exc or 'timed out'}", started)
            return
        missing = [r for r, ok in zip(routes, found, strict=True) if not ok]
        required = missing[:3] if missing else []
        if [r for r in missing if r in routes[:3]]:
            self.add("visitor routes", FAIL, "missing: " + ", ".join(required), started)
            raise Stop
        self.facts.poll_routes = True
        note = "" if typing else " (no cors typing route in this version: typing is not forwarded)"
        extra = f"; missing: {', '.join(missing)}" if missing else ""
        self.add("visitor routes", OK, f"{len(routes) - len(missing)} of {len(routes)} present{extra}{note}", started)

    async def worker_version(self) -> str:
        """The bus's ?version= (18/19), from the livechat loader script; '' where there is none."""
        try:
            async with self.http.get(f"{self.url}/im_livechat/loader/{self.args.livechat_channel}",
                                     timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                found = WORKER_VERSION.search(await resp.text())
                return found.group(1) if found else ""
        except (aiohttp.ClientError, TimeoutError, UnicodeDecodeError):
            return ""

    async def check_websocket(self) -> None:
        started = time.perf_counter()
        version = await self.worker_version()
        self.facts.worker_version = version or None
        url = self.url.replace("http", "ws", 1) + "/websocket" + (f"?version={version}" if version else "")
        try:
            rtt = await asyncio.wait_for(asyncio.to_thread(ws_roundtrip, url, self.url, self.timeout),
                                         self.timeout * 2)
        except TimeoutError:
            self.add("websocket", FAIL, f"/websocket did not answer within {self.timeout:g} s", started)
            return
        except WebSocketRefused as exc:
            self.add("websocket", FAIL, str(exc), started)
            return
        self.facts.websocket = True
        shown = f"?version={version}" if version else "no ?version= needed"
        self.add("websocket", OK, f"handshake with Origin ({shown}), subscribe, ping → pong in {rtt:.0f} ms", started)

    async def check_peek(self) -> None:
        started = time.perf_counter()
        try:
            result = await self.rpc("/websocket/peek_notifications", {"channels": [], "last": 0, "is_first_poll": True})
            ok = isinstance(result, dict) and "notifications" in result
        except (OdooUnavailable, OdooError, TimeoutError) as exc:
            self.add("peek_notifications", FAIL, f"/websocket/peek_notifications: {exc or 'timed out'}", started)
            return
        self.facts.peek = ok
        self.add("peek_notifications", OK if ok else FAIL,
                 "answers (the bus's HTTP fallback)" if ok else "answered an unexpected shape", started)

    async def check_credentials(self) -> None:
        args = self.args
        if not (args.password or args.api_key):
            self.add("credentials", INFO, "none given (--login/--password or --api-key): the channel list and "
                                          "--roundtrip need them; the relay itself does not")
            return
        started = time.perf_counter()
        try:
            if args.api_key and (self.facts.major or 0) >= 19:
                channels = await self.json2("im_livechat.channel", "search_read", {"domain": [], "fields": ["id", "name"]})
                self.facts.api = "json2"
            else:
                if not args.login:
                    self.add("credentials", FAIL, "--login is needed with --password (and with --api-key before 19.0)")
                    return
                db = await self.database()
                uid = await self.rpc("/jsonrpc", {"service": "common", "method": "authenticate",
                                                  "args": [db, args.login, args.api_key or args.password, {}]})
                if not uid:
                    self.add("credentials", FAIL, f"login {args.login!r} refused on database {db!r}", started)
                    return
                self.facts.uid, self.facts.api = uid, "jsonrpc"
                channels = await self.execute("im_livechat.channel", "search_read", [[]], {"fields": ["id", "name"]})
        except (OdooUnavailable, OdooError, TimeoutError, aiohttp.ClientError) as exc:
            self.add("credentials", FAIL, f"the external API refused or failed: {exc or 'timed out'} (on Odoo "
                                          "Online it needs the Custom plan)", started)
            return
        api = "JSON-2 with an API key" if self.facts.api == "json2" else "JSON-RPC"
        listed = ", ".join(f"{c['id']} {c['name']!r}" for c in channels) or "none"
        self.add("credentials", OK, f"{api} works; livechat channels: {listed}", started)

    async def database(self) -> str:
        if self.facts.db:
            return self.facts.db
        dbs = await self.rpc("/web/database/list", {})
        if not isinstance(dbs, list) or len(dbs) != 1:
            raise OdooError(None, "database", "give --db (the server lists several databases, or none)")
        self.facts.db = dbs[0]
        return dbs[0]

    async def execute(self, model: str, method: str, args: list, kw: dict | None = None) -> Any:
        return await self.rpc("/jsonrpc", {"service": "object", "method": "execute_kw", "args": [
            self.facts.db, self.facts.uid, self.args.api_key or self.args.password, model, method, args, kw or {}]})

    async def json2(self, model: str, method: str, body: dict) -> Any:
        headers = {"Authorization": f"bearer {self.args.api_key}"}
        if self.facts.db:
            headers["X-Odoo-Database"] = self.facts.db
        async with self.http.post(f"{self.url}/json/2/{model}/{method}", json=body, headers=headers,
                                  timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
            text = await resp.text()
            if resp.status != 200:
                try:
                    detail = json.loads(text).get("message") or ""
                except (ValueError, AttributeError):
                    detail = ""
                raise OdooError(resp.status, "json2", f"/json/2 answered HTTP {resp.status} {detail}".rstrip())
            return json.loads(text)

    async def check_addon(self) -> None:
        started = time.perf_counter()
        try:
            async with self.http.get(self.url + "/im_livechat_webhook/info",
                                     timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                body = await resp.json(content_type=None) if resp.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            body = None
        if isinstance(body, dict) and body.get("addon") == "im_livechat_webhook":
            self.facts.addon = body
            state = "sending" if body.get("enabled") else "installed, but no endpoint URL is set or it is disabled"
            self.add("addon", OK, f"im_livechat_webhook {body.get('version')} ({state})", started)
        else:
            self.add("addon", INFO, "im_livechat_webhook is not installed (no push: the relay follows the bus or polls)",
                     started)

    async def check_relay(self) -> None:
        if not self.args.relay:
            return
        started = time.perf_counter()
        try:
            async with self.http.get(self.args.relay.rstrip("/") + "/healthz",
                                     timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                body = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.add("relay", FAIL, f"{self.args.relay}/healthz: {tls_reason(exc) or exc or 'timed out'}", started)
            return
        detail = body.get("status") if isinstance(body, dict) else None
        self.add("relay", OK if status == 200 else FAIL, f"/healthz answered {status} ({detail})", started)

    # ------------------------------------------------------------------ verdict

    def verdict(self) -> dict:
        f, a = self.facts, self.args
        offered = f.features or {}
        usable = bool(f.major and f.livechat and f.channel_ok and f.poll_routes
                      and offered.get("sessions") and offered.get("posting"))
        warnings = []
        if not usable:
            failed = [c for c in self.checks if c.status == FAIL]
            why = failed[0].reason if failed else "the checks did not complete"
            return {"usable": False, "mode": None, "settings": {}, "warnings": [], "reason": why}
        if f.addon:
            mode = "webhook"
        elif f.websocket:
            mode = "bus"
        else:
            mode = "poll"
        settings = {"RELAY_ODOO_URL": self.url, "RELAY_ODOO_DB": f.db or "<your database>",
                    "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(a.livechat_channel), "RELAY_ODOO_REPLIES": mode}
        if mode == "webhook":
            settings["RELAY_WEBHOOK_SECRET"] = "<the secret shown in Odoo: Live Chat → Configuration → Webhooks>"
            if not (f.addon or {}).get("enabled"):
                warnings.append("set the addon's endpoint URL to https://<your relay>/v1/webhooks/odoo and enable it")
        if mode == "poll":
            settings["RELAY_ODOO_POLL_INTERVAL"] = "3"
            warnings.append("the bus WebSocket does not work here: replies are polled (about "
                            "1.5 s added on average at a 3 s interval)")
        for name, ok in offered.items():
            if not ok:
                warnings.append(f"{name} not offered by this Odoo: {capabilities.FEATURE_USE[name]}")
        if f.serie is None or capabilities.hinted_major(f.serie) not in capabilities.KNOWN:
            warnings.append(f"this Odoo's version is not one the relay knows: it uses the {f.major}.0 routes "
                            "found above; run the probe again after each Odoo upgrade")
        if f.operator_available is False:
            warnings.append("no operator is available right now: visitors get 503 no_operator_available until one is")
        if urlsplit(self.url).scheme != "https":
            warnings.append("Odoo is reached over plain HTTP: guest tokens travel in clear text")
        return {"usable": True, "mode": mode, "settings": settings, "warnings": warnings}

    # ------------------------------------------------------------------ --roundtrip

    async def run_roundtrip(self) -> None:
        from tools.probe_roundtrip import roundtrip  # the relay is imported only when asked for
        await roundtrip(self)


class WebSocketRefused(Exception):
    pass


def ws_roundtrip(url: str, origin: str, timeout: float) -> float:
    """Handshake (with an Origin and a User-Agent, so that 18/19 check ?version=), subscribe, and
    one ping → pong; returns the round trip in ms. Raises WebSocketRefused with a clear reason."""
    try:
        ws = websocket.create_connection(url, timeout=timeout, origin=origin,
                                         header=[f"User-Agent: {USER_AGENT}"], enable_multithread=False)
    except websocket.WebSocketBadStatusException as exc:
        raise WebSocketRefused(f"/websocket refused the handshake: HTTP {exc.status_code} (behind a proxy? "
                               "route /websocket with the Upgrade and Connection headers)") from None
    except ssl.SSLError as exc:
        raise WebSocketRefused(f"/websocket TLS handshake failed: {exc}") from None
    except (OSError, websocket.WebSocketException) as exc:
        raise WebSocketRefused(f"/websocket: {type(exc).__name__}: {exc}") from None
    try:
        ws.send(json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}}))
        payload = uuid.uuid4().hex[:8].encode()
        started = time.perf_counter()
        ws.ping(payload)
        while True:
            opcode, frame = ws.recv_data_frame(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_PONG and frame.data == payload:
                return (time.perf_counter() - started) * 1000
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(frame.data[:2], "big") if len(frame.data) >= 2 else None
                reason = frame.data[2:].decode("utf-8", "replace")
                if "OUTDATED_VERSION" in reason:
                    sent = urlsplit(url).query or "no ?version="
                    raise WebSocketRefused(f"the bus closed the socket with OUTDATED_VERSION ({sent} was sent, as read "
                                           "from /im_livechat/loader): the bus and the web pages disagree")
                raise WebSocketRefused(f"the bus closed the socket ({code} {reason!r})")
    except websocket.WebSocketTimeoutException:
        raise WebSocketRefused(f"no pong within {timeout:g} s (a proxy buffering /websocket?)") from None
    except (OSError, websocket.WebSocketException) as exc:
        raise WebSocketRefused(f"/websocket: {type(exc).__name__}: {exc}") from None
    finally:
        ws.close(timeout=1)


# ---------------------------------------------------------------------- command line

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.probe", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("url", help="Odoo base URL, for example https://mycompany.odoo.com")
    p.add_argument("--db", help="database (needed where the server hosts several)")
    p.add_argument("--livechat-channel", type=int, default=1, metavar="ID",
                   help="id of the im_livechat.channel the relay will use (default 1)")
    p.add_argument("--login", help="user login for the external API checks and --roundtrip")
    p.add_argument("--password", help="that user's password")
    p.add_argument("--api-key", help="an API key instead of the password (JSON-2 on 19.0)")
    p.add_argument("--relay", metavar="URL", help="a relay to check (its /healthz) and, with --roundtrip, to go through")
    p.add_argument("--roundtrip", action="store_true",
                   help="open a real test conversation and measure visitor → operator → visitor in each mode")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="timeout of each step (default 5)")
    return p


def print_verdict(report: dict, out=sys.stdout) -> None:
    v = report["verdict"]
    print("", file=out)
    if not v["usable"]:
        print(f"Verdict: the relay cannot use this Odoo: {v['reason']}", file=out)
        return
    print(f"Verdict: usable, with RELAY_ODOO_REPLIES={v['mode']}. Put this in the relay's environment:", file=out)
    for key, value in v["settings"].items():
        print(f"  {key}={value}", file=out)
    for warning in v["warnings"]:
        print(f"  note: {warning}", file=out)
    for mode, result in report.get("roundtrip", {}).items():
        if "error" in result:
            print(f"Round trip via {mode}: failed: {result['error']}", file=out)
        else:
            print(f"Round trip via {mode}: visitor → operator {result['visitor_to_operator_ms']:.0f} ms, "
                  f"operator → visitor {result['operator_to_visitor_ms']:.0f} ms", file=out)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        print("probe: the URL must start with http:// or https://", file=sys.stderr)
        return 2
    if args.timeout <= 0:
        print("probe: --timeout must be positive", file=sys.stderr)
        return 2
    if args.roundtrip and not (args.login and args.password):
        print("probe: --roundtrip needs --login and --password (the operator's side is done by RPC)", file=sys.stderr)
        return 2
    probe = Probe(args)
    if not args.json:
        print(f"Probing {probe.url} (each step times out after {args.timeout:g} s)", flush=True)
    report = asyncio.run(probe.run())
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_verdict(report)
    return 0 if report["verdict"]["usable"] else 1


if __name__ == "__main__":
    sys.exit(main())
