"""Demo mode: the page with the widget at ``/`` and the operator console at ``/demo``.

The console's replies are *signed webhooks* posted to this relay's own ``/v1/webhooks/odoo``,
the very path the Odoo addon uses, so the demo exercises the real pipeline end to end.
"""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import itertools
import json
import random
import re
import uuid
from importlib import resources
from pathlib import Path

import aiohttp
import rjsmin
from aiohttp import web

from proxy import PROTOCOL_VERSION, events, keys, signing
from proxy.api.common import json_response, read_json_object
from proxy.api.middlewares import origin_allowed, own_origin
from proxy.config import is_loopback
from proxy.errors import BadRequest, Forbidden, NotFound
from proxy.upstream.demo import DEMO_DATABASE, DEMO_OPERATOR_PARTNER

HTTP = web.AppKey("demo_http", aiohttp.ClientSession)
_message_ids = itertools.count(random.randint(1, 1 << 30))
OPERATOR = {"kind": "operator", "partner_id": DEMO_OPERATOR_PARTNER, "name": "Demo operator"}


def static_text(name: str) -> str:
    return resources.files("proxy").joinpath("static", name).read_text(encoding="utf-8")


def widget_file(name: str):
    """A file of the repository's widget/, which the package ships as ``proxy.widget`` (package data:
    inside the installed wheel, or widget/ itself in an editable install); None when absent."""
    try:
        found = resources.files("proxy.widget").joinpath(name)
    except ModuleNotFoundError:
        return None
    return found if found.is_file() else None


def _file_response(found, content_type: str, **headers: str) -> web.StreamResponse:
    headers["Content-Type"] = content_type
    if isinstance(found, Path):   # on the file system (always, unless installed in a zip)
        return web.FileResponse(found, headers=headers)
    return web.Response(body=found.read_bytes(), headers=headers)


async def index(request: web.Request) -> web.StreamResponse:
    if not request.app[keys.SETTINGS].demo:
        return web.Response(text="Odoo Livechat Relay. Health: /healthz\n", content_type="text/plain")
    found = widget_file("demo.html")
    if found is None:
        raise NotFound("The demo page is not bundled with this installation.", code="widget_missing")
    return _file_response(found, "text/html; charset=utf-8")


@functools.lru_cache(maxsize=4)
def minified(source: bytes) -> bytes:
    """What visitors download of a script: rjsmin's output (comments and spaces out, the ``/*!``
    header kept), so the source can say why at no cost to a page's load."""
    return rjsmin.jsmin(source.decode("utf-8"), keep_bang_comments=True).encode("utf-8")


def widget_bundle(widget: bytes, client: bytes) -> bytes:
    """What ``/widget.js`` is: the client library (client/livechat-client.js: transports, queue,
    storage) and the widget (widget/widget.js: the UI on it) in one script, so a page still needs
    one tag. The client's classic script is given a private ``module`` to export into: the bundle
    defines no global but ``OdooLivechatRelay`` (the page's own ``LivechatClient``, if any, is left
    alone). The widget's ``/*!`` header comes first and names the client (whose own is dropped)."""
    text = widget.decode("utf-8")
    header = re.match(r"/\*![\s\S]*?\*/\n", text)
    head, rest = (header.group(0), text[header.end():]) if header else ("", text)
    client_text = client.decode("utf-8").replace("/*!", "/*", 1)   # its notice is in the widget's header
    return (head + "(function () {\nvar module = { exports: {} };\n" + client_text
            + "\nvar LivechatClient = module.exports.LivechatClient;\nmodule = undefined;\n" + rest
            + "\n})();\n").encode("utf-8")


async def widget_js(request: web.Request) -> web.StreamResponse:
    """The embeddable widget, for any page's script tag: the client library and the widget's UI on
    it (``widget_bundle``), minified (cached: the sources only change with an upgrade)."""
    found, client = widget_file("widget.js"), client_file("livechat-client.js")
    if found is None or client is None:
        raise NotFound("The widget is not bundled with this installation.", code="widget_missing")
    body = minified(widget_bundle(found.read_bytes(), client.read_bytes()))
    return web.Response(body=body, headers={"Content-Type": "application/javascript; charset=utf-8",
                                            "Cache-Control": "public, max-age=300",
                                            "ETag": '"' + hashlib.sha256(body).hexdigest()[:32] + '"'})


def client_file(name: str):
    """A file of the repository's client/ (the client library), shipped as ``proxy.client``; None when absent."""
    try:
        found = resources.files("proxy.client").joinpath(name)
    except ModuleNotFoundError:
        return None
    return found if found.is_file() else None


async def client_js(request: web.Request) -> web.StreamResponse:
    """The client library, minified: ``/client.js`` the classic script (``window.LivechatClient``),
    ``/client.mjs`` the ES module. Public and from any origin: a module script is fetched with CORS."""
    name = "livechat-client.mjs" if request.path.endswith(".mjs") else "livechat-client.js"
    found = client_file(name)
    if found is None:
        raise NotFound("The client library is not bundled with this installation.", code="client_missing")
    body = minified(found.read_bytes())
    return web.Response(body=body, headers={"Content-Type": "application/javascript; charset=utf-8",
                                            "Cache-Control": "public, max-age=300",
                                            "Access-Control-Allow-Origin": "*",
                                            "X-Content-Type-Options": "nosniff",
                                            "ETag": '"' + hashlib.sha256(body).hexdigest()[:32] + '"'})


LANG_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z0-9]{2,8}))?$")
LANG_ALIASES = {"zh": "zh_CN"}          # a bare "zh" reads the simplified Chinese table


async def widget_strings(request: web.Request) -> web.StreamResponse:
    """``/widget/i18n/<lang>.json``: the widget's texts in one language (English is built into the
    widget). ``fr-BE`` is answered with ``fr``, ``pt-BR`` with ``pt_BR``; 404 for a language not
    translated (the widget then speaks English). Public, cacheable, from any origin."""
    found_tag = LANG_TAG.match(request.match_info["lang"])
    if not found_tag:
        raise NotFound("No such language.", code="unknown_language")
    base, region = found_tag.group(1).lower(), (found_tag.group(2) or "").upper()
    for name in ([f"{base}_{region}"] if region else []) + [base, LANG_ALIASES.get(base, "")]:
        found = widget_file(f"i18n/{name}.json") if name else None
        if found is not None:
            return _file_response(found, "application/json; charset=utf-8", **{
                "Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*",
                "X-Content-Type-Options": "nosniff"})
    raise NotFound("This language is not translated; the widget speaks English.", code="unknown_language")


@functools.cache
def widget_languages() -> tuple[str, ...]:
    """The languages the widget speaks here: English (built into widget.js), then each table of
    widget/i18n/ by its file name (``pt_BR``), as ``GET /v1/config`` lists them; none without the
    widget."""
    if widget_file("widget.js") is None:
        return ()
    try:
        tables = resources.files("proxy.widget").joinpath("i18n").iterdir()
        names = sorted(t.name[:-5] for t in tables if t.name.endswith(".json") and LANG_TAG.match(t.name[:-5]))
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        names = []
    return ("en", *names)


def _inline_hashes(page: str, tag: str) -> str:
    """CSP source expressions for each inline <tag>…</tag> of ``page``."""
    found = re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.S)
    return " ".join("'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
                    for body in found)


@functools.lru_cache(maxsize=1)
def _console_page() -> tuple[str, str]:
    page = static_text("console.html")
    csp = ("default-src 'none'; connect-src 'self'; img-src 'self' data:; "
           f"script-src {_inline_hashes(page, 'script')}; style-src {_inline_hashes(page, 'style')}; "
           "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
    return page, csp


async def console(request: web.Request) -> web.Response:
    page, csp = _console_page()
    return web.Response(text=page, content_type="text/html",
                        headers={"Content-Security-Policy": csp, "X-Frame-Options": "DENY",
                                 "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"})


def loopback_host(request: web.Request) -> bool:
    """The Host header names this machine's loopback (a DNS-rebinding page sends its own name)."""
    host = request.host.lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") and host.count(":") == 1 else host
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    return is_loopback(name)


@web.middleware
async def loopback_only(request: web.Request, handler):
    """``/demo`` and its API answer only requests addressed to a loopback name (421 otherwise)."""
    if request.path == "/demo" or request.path.startswith("/demo/"):
        if not loopback_host(request):
            return json_response({"error": "host_not_allowed",
                                  "message": "The demo console answers only on localhost."}, status=421)
    return await handler(request)


def _same_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is not None and origin != own_origin(request) and not origin_allowed(request, origin):
        raise Forbidden("The demo console only answers its own page.", code="origin_not_allowed")


async def state(request: web.Request) -> web.Response:
    _same_origin(request)
    store = request.app[keys.STORE]
    out = []
    for conv in await store.list_conversations(50):
        replay = await store.events_after(conv.id, max(0, conv.last_seq - 100))
        out.append({"id": conv.id, "visitor_name": conv.visitor_name, "closed": conv.closed,
                    "created_at": conv.created_at, "last_activity": conv.last_activity,
                    "odoo_database": conv.odoo_database, "odoo_channel_id": conv.odoo_channel_id,
                    "events": replay.events})
    demo = request.app[keys.DEMO]
    return json_response({"operator_online": demo.operator_online, "conversations": out,
                          "mailed": [{"conversation_id": c, "email": e} for c, e in demo.mailed],
                          "page_history": demo.histories})


async def _conversation(request: web.Request, body: dict):
    cid = body.get("conversation_id")
    if not isinstance(cid, str):
        raise BadRequest("conversation_id: a string", code="invalid_body")
    conv = await request.app[keys.STORE].get_conversation(cid)
    if conv is None or conv.odoo_channel_id is None:
        raise NotFound("No such conversation.", code="unknown_conversation")
    return conv


async def _post_webhook(request: web.Request, type_: str, conv, **data) -> web.Response:
    """Sign and POST one webhook to this relay, as the addon would; answer with the relay's reply."""
    body = json.dumps({
        "type": type_,
        "timestamp": events.now_iso(),
        "data": {"database": DEMO_DATABASE, "odoo_version": "demo",
                 "channel": {"id": conv.odoo_channel_id, "uuid": conv.id, "livechat_channel_id": 1}, **data},
    }).encode()
    headers = signing.headers_for(request.app[keys.WEBHOOK_SECRETS][:1], "msg_" + uuid.uuid4().hex, body)
    headers[events.PROTOCOL_HEADER] = PROTOCOL_VERSION
    transport = request.transport
    if transport is None:   # the console's request has gone: nobody to answer
        raise web.HTTPServiceUnavailable()
    host, port = transport.get_extra_info("sockname")[:2]
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/v1/webhooks/odoo"
    async with request.app[HTTP].post(url, data=body, headers=headers) as resp:
        answer = await resp.text()
        return json_response({"webhook_status": resp.status, "webhook_answer": answer},
                             status=200 if resp.status < 300 else 502)


def _demo_files(value) -> list[tuple[str, str, bytes]]:
    """``files: [{name, mimetype, data}]`` (data in base64) of a console reply: what an operator
    attaches in Odoo, kept by the demo upstream and served through the relay's file URLs."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 10:
        raise BadRequest("files: a list of at most 10 files", code="invalid_body")
    out = []
    for item in value:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and 0 < len(item["name"]) <= 255
                and isinstance(item.get("mimetype"), str) and len(item["mimetype"]) <= 128
                and isinstance(item.get("data"), str)):
            raise BadRequest("files[]: {name, mimetype, data (base64)}", code="invalid_body")
        try:
            data = base64.b64decode(item["data"], validate=True)
        except (ValueError, binascii.Error):
            raise BadRequest("files[].data: base64", code="invalid_body") from None
        out.append((item["name"], item["mimetype"], data))
    return out


async def reply(request: web.Request) -> web.Response:
    _same_origin(request)
    body = await read_json_object(request, request.app[keys.SETTINGS].max_request_bytes)
    conv = await _conversation(request, body)
    text = body.get("text", "")
    demo = request.app[keys.DEMO]
    files = _demo_files(body.get("files"))
    if not isinstance(text, str) or len(text) > events.MAX_TEXT or not (text.strip() or files):
        raise BadRequest("text: 1–4000 characters (or files)", code="invalid_text")
    if conv.id not in demo.joined:
        demo.joined.add(conv.id)
        await _post_webhook(request, "livechat.member.joined", conv, member=OPERATOR)
    html = "<p>" + text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + "</p>"
    if body.get("html") is True:   # lets a person try what the sanitizer does with operator HTML
        html = text
    message = {"id": next(_message_ids), "author": OPERATOR, "body_html": html if text.strip() else "",
               "date": events.now_iso(),
               "attachments": [demo.add_file(conv.odoo_channel_id, *f) for f in files]}
    return await _post_webhook(request, "livechat.message.created", conv, message=message)


async def close(request: web.Request) -> web.Response:
    _same_origin(request)
    body = await read_json_object(request, request.app[keys.SETTINGS].max_request_bytes)
    conv = await _conversation(request, body)
    return await _post_webhook(request, "livechat.session.closed", conv)


async def typing(request: web.Request) -> web.Response:
    _same_origin(request)
    body = await read_json_object(request, request.app[keys.SETTINGS].max_request_bytes)
    conv = await _conversation(request, body)
    if not isinstance(body.get("typing"), bool):
        raise BadRequest("typing: true or false", code="invalid_body")
    return await _post_webhook(request, "livechat.typing", conv, member=OPERATOR, typing=body["typing"])


async def history(request: web.Request) -> web.Response:
    """The console's operator asks for the visitor's page history (Odoo's ``/history``), as the
    addon's webhook says it; the relay answers with the pages it keeps (``state``'s page_history)."""
    _same_origin(request)
    body = await read_json_object(request, request.app[keys.SETTINGS].max_request_bytes)
    conv = await _conversation(request, body)
    return await _post_webhook(request, "livechat.history_requested", conv, operator=OPERATOR)


async def operator(request: web.Request) -> web.Response:
    _same_origin(request)
    body = await read_json_object(request, request.app[keys.SETTINGS].max_request_bytes)
    if not isinstance(body.get("online"), bool):
        raise BadRequest("online: true or false", code="invalid_body")
    request.app[keys.DEMO].operator_online = body["online"]
    return json_response({"operator_online": body["online"]})


def add_routes(app: web.Application) -> None:
    async def http_client(app: web.Application):
        app[HTTP] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        yield
        await app[HTTP].close()

    app.cleanup_ctx.append(http_client)
    app.router.add_get("/demo", console)
    app.router.add_get("/demo/api/state", state)
    app.router.add_post("/demo/api/reply", reply)
    app.router.add_post("/demo/api/close", close)
    app.router.add_post("/demo/api/typing", typing)
    app.router.add_post("/demo/api/operator", operator)
    app.router.add_post("/demo/api/history", history)
