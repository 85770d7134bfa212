"""Widget REST calls (PROTOCOL §2): create, events (short and long polling), send, typing, close,
and handoff (docs/protocol.md §2, an addition: "Talk to a person")."""
from __future__ import annotations

import asyncio
import re
import time

from aiohttp import web

from proxy import keys
from proxy.api.common import bearer, client_ip, int_param, json_response, limit, read_json_object
from proxy.api.demo import widget_languages
from proxy.conversations import EMAIL
from proxy.errors import BadRequest

LANG = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")
LANG_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{1,8}){1,8}$")     # BCP 47's shape, at most 35
REGION = re.compile(r"^(?:[A-Za-z]{2}|[0-9]{3})$")
PHONE = re.compile(r"^\+?[0-9 ().\-/]{6,32}$")
SCRIPT = re.compile(r"[-_][A-Za-z]{4}$")          # zh-Hant: a script, not a region


def language(raw: str | None, code: str) -> str | None:
    """The visitor's language: ``fr``, ``fr_BE``, ``pt-BR`` as given; a longer language tag (a
    script, a variant, extensions: ``zh-Hans-CN``, as a page's ``lang`` may say) reduced to its
    language and region (``zh-CN``), by which Odoo and the widget's tables name languages; 400
    for what is no language tag."""
    if not raw:
        return None
    if LANG.match(raw) and not SCRIPT.search(raw):
        return raw
    if len(raw) <= 35 and LANG_TAG.match(raw):
        base, *rest = re.split("[-_]", raw)
        region = next((p for p in rest[:2] if REGION.match(p)), None)    # after an extlang or script, if any
        return f"{base}-{region}" if region else base
    raise BadRequest("lang: a language tag such as en or fr_BE", code=code)
MAX_WAIT = 25.0


def _optional_str(body: dict, key: str, max_len: int) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise BadRequest(f"{key}: a string of at most {max_len} characters", code="invalid_body")
    return value.strip()


async def create(request: web.Request) -> web.Response:
    app = request.app
    limit(app[keys.RATE_CREATE], client_ip(request), "new conversations from this address")
    body = await read_json_object(request, app[keys.SETTINGS].max_request_bytes, allow_empty=True)
    name = _optional_str(body, "visitor_name", 64) or ""
    lang = language(_optional_str(body, "lang", 35), "invalid_body")
    page_url = _optional_str(body, "page_url", 2048)
    if page_url and not page_url.startswith(("http://", "https://")):
        raise BadRequest("page_url: an http(s) URL", code="invalid_body")
    channel = body.get("livechat_channel_id")
    if channel is not None and (not isinstance(channel, int) or isinstance(channel, bool)
                                or not 0 < channel < 2 ** 31):           # an Odoo id (PostgreSQL integer)
        raise BadRequest("livechat_channel_id: a positive integer", code="invalid_body")
    visitor = _optional_str(body, "visitor", 256)
    leave_message = body.get("leave_message", False)
    if not isinstance(leave_message, bool):
        raise BadRequest("leave_message: true or false", code="invalid_body")
    contact = _contact(body) if leave_message else None
    relay = app[keys.RELAY]
    conv, token, expires_at = await relay.create(name, lang or None, channel, page_url or None, visitor or None,
                                                 leave_message=contact)
    return json_response({"conversation_id": conv.id, "token": token, "expires_at": expires_at,
                          "last_seq": conv.last_seq, "visitor": relay.visitor_value(conv)}, status=201)


def _contact(body: dict) -> str:
    """How to reach a visitor who leaves a message: an email address or a phone number."""
    contact = _optional_str(body, "contact", 254)
    if not contact or not (EMAIL.match(contact) or (PHONE.match(contact) and sum(c.isdigit() for c in contact) >= 6)):
        raise BadRequest("contact: an email address or a phone number, to reach the visitor who leaves a message",
                         code="invalid_contact")
    return contact


async def config(request: web.Request) -> web.Response:
    """``GET /v1/config?livechat_channel_id=&page_url=&lang=`` (docs/protocol.md §6): no token."""
    app = request.app                       # origin and rate limit: the cors middleware, as for /v1/conversations
    raw = request.query.get("livechat_channel_id")
    channel = None
    if raw:
        if not (raw.isascii() and raw.isdigit() and 0 < int(raw) < 2 ** 31):
            raise BadRequest("livechat_channel_id: a positive integer", code="invalid_query")
        channel = int(raw)
    page_url = request.query.get("page_url") or None
    if page_url is not None and (len(page_url) > 2048 or not page_url.startswith(("http://", "https://"))):
        raise BadRequest("page_url: an http(s) URL of at most 2048 characters", code="invalid_query")
    lang = language(request.query.get("lang"), "invalid_query")
    answer = await app[keys.RELAY].config(channel, page_url, lang)
    # "bot": a bot answers first, whoever is online (no leave-a-message form then): the relay's own
    # (RELAY_BOT_URL) or Odoo's chatbot script the relay starts every session with
    bot = app[keys.RELAY].bot is not None or app[keys.SETTINGS].odoo_chatbot_script_id is not None
    resp = json_response({**answer, "languages": list(widget_languages()), "bot": bot})
    resp.headers["Cache-Control"] = "private, max-age=30"
    return resp


def _wait_param(request: web.Request) -> float:
    raw = request.query.get("wait", "0")
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not (0 <= wait <= MAX_WAIT):
        raise BadRequest(f"wait: seconds between 0 and {MAX_WAIT:g}", code="invalid_query")
    return wait


async def events(request: web.Request) -> web.Response:
    app = request.app
    after = int_param(request, "after", 0)
    wait = _wait_param(request)
    relay = app[keys.RELAY]
    conv = await relay.authorize(request.match_info["id"], bearer(request))
    transport = "longpoll" if wait > 0 else "poll"
    metrics = app[keys.METRICS]
    cursor = relay.cursor(conv.id, after)
    marker = object()
    app[keys.LONGPOLLS].add(marker) if wait > 0 else None
    metrics.connections.labels(transport).inc()
    try:
        items = await _next_or_stop(cursor, wait, app[keys.STOPPING])
    finally:
        cursor.close()
        app[keys.LONGPOLLS].discard(marker)
        metrics.connections.labels(transport).dec()
    out = [item[0] for item in items]
    for _, t0, _frame in items:
        if t0:
            metrics.latency.labels(transport).observe(time.monotonic() - t0)
    metrics.events_out.labels(transport).inc(len(out))
    stored = [e["seq"] for e in out if e.get("seq") is not None]
    body = {"events": out, "last_seq": max([cursor.last_seq, *stored])}
    if cursor.reset:
        body["reset"] = True
    return json_response(body)


async def _next_or_stop(cursor, wait: float, stopping: asyncio.Event) -> list:
    """The cursor's next events, or nothing as soon as the relay starts shutting down."""
    if wait <= 0 or stopping.is_set():
        return await cursor.next(0)
    reader = asyncio.ensure_future(cursor.next(wait))
    stopper = asyncio.ensure_future(stopping.wait())
    try:
        done, _ = await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not reader.done():
            reader.cancel()
    return reader.result() if reader in done and not reader.cancelled() else []


async def _call(request: web.Request, kind: str, what: str) -> tuple:
    """What the conversation calls with a JSON body share: the token opens this conversation, the
    body is read within the limits, the per-conversation rate limit counts ``kind``."""
    app = request.app
    relay = app[keys.RELAY]
    conv = await relay.authorize(request.match_info["id"], bearer(request))
    body = await read_json_object(request, app[keys.SETTINGS].max_request_bytes)
    limit(app[keys.RATE_CONVERSATION], kind + conv.id, what)
    return relay, conv, body


async def send(request: web.Request) -> web.Response:
    relay, conv, body = await _call(request, "", "messages in this conversation")
    event, created = await relay.send(conv, body.get("client_id"), body.get("text"), body.get("attachment_ids"))
    return json_response({"seq": event["seq"], "event": event}, status=201 if created else 200)


async def typing(request: web.Request) -> web.Response:
    relay, conv, body = await _call(request, "typing:", "typing updates in this conversation")
    await relay.typing(conv, body.get("typing"))
    return web.Response(status=204)


async def close(request: web.Request) -> web.Response:
    app = request.app
    relay = app[keys.RELAY]
    conv = await relay.authorize(request.match_info["id"], bearer(request))
    await read_json_object(request, app[keys.SETTINGS].max_request_bytes, allow_empty=True)
    await relay.close(conv)
    return web.Response(status=204)


async def handoff(request: web.Request) -> web.Response:
    """``POST …/handoff``: the visitor asks for a person. 200 ``{"state": …}``: ``operator`` (a
    person has the conversation, or it never was with a bot), ``bot`` (no operator, the bot goes
    on), ``message`` (no operator, the visitor may leave a message), ``retrying`` (Odoo is down)."""
    app = request.app
    relay = app[keys.RELAY]
    conv = await relay.authorize(request.match_info["id"], bearer(request))
    await read_json_object(request, app[keys.SETTINGS].max_request_bytes, allow_empty=True)
    limit(app[keys.RATE_CONVERSATION], "handoff:" + conv.id, "handoff requests in this conversation")
    return json_response({"state": await relay.handoff(conv)})


async def rate(request: web.Request) -> web.Response:
    """``POST …/rating {rating: 5|3|1, comment?}`` (docs/protocol.md §5): 204."""
    relay, conv, body = await _call(request, "rating:", "ratings in this conversation")
    await relay.rate(conv, body.get("rating"), body.get("comment"))
    return web.Response(status=204)


async def email_transcript(request: web.Request) -> web.Response:
    """``POST …/transcript {email}`` (docs/protocol.md §5): 202 once Odoo took it to mail."""
    relay, conv, body = await _call(request, "transcript:", "transcripts of this conversation")
    await relay.email_transcript(conv, body.get("email"))
    return json_response({"status": "accepted"}, status=202)


async def transcript(request: web.Request) -> web.StreamResponse:
    """``GET …/transcript?format=text|html|pdf`` (docs/protocol.md §5): the conversation as stored;
    ``pdf`` is Odoo's own, where it makes one for visitors."""
    from proxy import transcript as tr
    app = request.app
    relay = app[keys.RELAY]
    conv = await relay.authorize(request.match_info["id"], bearer(request))
    limit(app[keys.RATE_CONVERSATION], "transcript:" + conv.id, "transcripts of this conversation")
    fmt = request.query.get("format", "text")
    if fmt not in ("text", "html", "pdf"):
        raise BadRequest("format: text, html or pdf", code="invalid_query")
    if fmt == "pdf":
        from proxy.api.files import stream_pdf
        return await stream_pdf(request, relay, conv)
    rows = tr.lines(await tr.events_of(relay.store, conv.id), conv.visitor_name or "You", tr.LABELS)
    day = time.strftime("%Y-%m-%d", time.gmtime(conv.created_at))
    title = f"Conversation {day}"
    if fmt == "html":
        body, ctype, ext = tr.as_html(rows, title), "text/html", "html"
    else:
        body, ctype, ext = tr.as_text(rows, title), "text/plain", "txt"
    return web.Response(text=body, content_type=ctype, charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="conversation-{day}.{ext}"',
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        "Cache-Control": "private, no-store"})


async def pages(request: web.Request) -> web.Response:
    """``POST …/pages {url, title}`` or ``{pages: [{url, title}, …]}`` (docs/protocol.md §6): 204; a
    page that is no http(s) URL or too long is dropped (``X-Pages-Kept`` says how many were kept)."""
    relay, conv, body = await _call(request, "pages:", "pages in this conversation")
    kept = await relay.pages(conv, body)
    return web.Response(status=204, headers={"X-Pages-Kept": str(kept)})


async def seen(request: web.Request) -> web.Response:
    """``POST …/seen {seq}`` (docs/protocol.md §5): 204; the operator sees the visitor read it."""
    relay, conv, body = await _call(request, "seen:", "seen marks in this conversation")
    await relay.seen(conv, body.get("seq"))
    return web.Response(status=204)
