"""``GET /v1/files/{conversation}/{attachment}?exp=&sig=`` (docs/protocol.md §5): one operator-side
file of one conversation, streamed from Odoo as that conversation's guest. The URL's signature is
the only credential (an ``<img>`` sends no token); see proxy/files.py. ``GET /v1/avatars/
{conversation}/{partner}?sig=``: an operator's or bot's picture, the same way, kept a while."""
from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
from aiohttp import web
from aiohttp.helpers import content_disposition_header

from proxy import files, keys, tokens
from proxy.api.common import client_ip, limit
from proxy.api.uploads import clean_name  # one rule for file names, both ways
from proxy.errors import Conflict, Forbidden, NotFound, Unavailable
from proxy.upstream.base import FileNotFound, NotOffered, UpstreamDown

log = logging.getLogger("relay.files")
CHUNK_TIMEOUT = 30.0      # seconds without a byte from the operator side before giving up
AVATAR_TTL = 600.0        # seconds a picture is kept (node memory) and may be cached by browsers
AVATARS_KEPT = 256        # pictures kept at most (each ≤ upstream.base.MAX_AVATAR_BYTES, usually a few kB)
RASTER_OR_SVG = files.INLINE | {"image/svg+xml"}


async def _stream_out(request: web.Request, found, headers: dict, what: str) -> web.StreamResponse:
    """The bytes of ``found`` (an UpstreamFile) to the visitor, each chunk within CHUNK_TIMEOUT."""
    resp = web.StreamResponse(headers={
        **headers,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cross-Origin-Resource-Policy": "cross-origin",   # the widget shows it on the shop's site
        "Referrer-Policy": "no-referrer",
    })
    if found.length is not None:
        resp.content_length = found.length
    await resp.prepare(request)
    try:
        chunks = found.chunks.__aiter__()
        while True:
            try:
                chunk = await asyncio.wait_for(chunks.__anext__(), CHUNK_TIMEOUT)
            except StopAsyncIteration:
                break
            await resp.write(chunk)
        await resp.write_eof()
    except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
        # headers are gone: the visitor's download ends short (its length says so)
        log.warning("file stream cut", extra={"conversation": request.match_info["id"], "what": what,
                                               "reason": type(exc).__name__})
        resp.force_close()
    return resp


async def stream_pdf(request: web.Request, relay, conv) -> web.StreamResponse:
    """``GET …/transcript?format=pdf``: Odoo's own PDF of the session (19), streamed."""
    day = time.strftime("%Y-%m-%d", time.gmtime(conv.created_at))
    try:
        async with relay.upstream.transcript_pdf(conv) as found:
            if (found.content_type or "").split(";", 1)[0].strip().lower() != "application/pdf":
                raise UpstreamDown("not a PDF")
            return await _stream_out(request, found, {
                "Content-Type": "application/pdf", "Cache-Control": "private, no-store",
                "Content-Disposition": f'attachment; filename="conversation-{day}.pdf"'}, "transcript")
    except NotOffered:
        raise Conflict("Odoo makes no PDF of conversations for visitors on this version.", code="not_offered") from None
    except FileNotFound:
        raise NotFound("Odoo has no such conversation any more.", code="file_not_found") from None
    except UpstreamDown:
        raise Unavailable("The PDF cannot be made right now; try again shortly.", code="odoo_unavailable",
                          retry_after=5) from None


async def download(request: web.Request) -> web.StreamResponse:
    app = request.app
    limit(app[keys.RATE_IP], client_ip(request), "requests from this address")
    relay = app[keys.RELAY]
    conversation_id = request.match_info["id"]
    try:
        attachment_id = files.verify(relay.file_key, conversation_id, request.match_info["attachment"],
                                     request.query.get("exp"), request.query.get("sig"))
    except tokens.TokenError as exc:
        raise Forbidden(str(exc), code=exc.code) from None
    conv = await relay.store.get_conversation(conversation_id)
    if conv is None:
        raise NotFound("This conversation does not exist (or was purged).", code="unknown_conversation")
    thumbnail = request.query.get("thumb") == "1"
    try:
        async with relay.upstream.open_file(conv, attachment_id, thumbnail) as found:
            content_type, inline = files.served_type(found.content_type)
            return await _stream_out(request, found, {
                "Content-Type": content_type,
                "Content-Disposition": content_disposition_header(
                    "inline" if inline else "attachment", quote_fields=True,
                    filename=clean_name(found.filename)),
                "Cache-Control": "private, max-age=3600",
            }, "file")
    except FileNotFound:
        raise NotFound("No such file in this conversation.", code="file_not_found") from None
    except NotOffered:
        raise Conflict("This Odoo offers visitors no route to its files.", code="not_offered") from None
    except UpstreamDown:
        raise Unavailable("The file cannot be fetched right now; try again shortly.", code="odoo_unavailable",
                          retry_after=5) from None


async def avatar(request: web.Request) -> web.Response:
    app = request.app
    limit(app[keys.RATE_IP], client_ip(request), "requests from this address")
    relay = app[keys.RELAY]
    conversation_id = request.match_info["id"]
    try:
        partner_id = files.verify_avatar(relay.file_key, conversation_id, request.match_info["partner"],
                                         request.query.get("sig"))
    except tokens.TokenError as exc:
        raise Forbidden(str(exc), code=exc.code) from None
    kept = app[keys.AVATARS]
    now = time.monotonic()
    found = kept.get(partner_id)
    if found is None or found[0] < now:
        conv = await relay.store.get_conversation(conversation_id)
        if conv is None:
            raise NotFound("This conversation does not exist (or was purged).", code="unknown_conversation")
        try:
            content_type, data = await relay.upstream.avatar(conv, partner_id)
        except FileNotFound:
            raise NotFound("No such picture in this conversation.", code="file_not_found") from None
        except NotOffered:
            raise Conflict("This Odoo offers visitors no route to pictures.", code="not_offered") from None
        except UpstreamDown:
            raise Unavailable("The picture cannot be fetched right now.", code="odoo_unavailable", retry_after=5) from None
        base = (content_type or "").split(";", 1)[0].strip().lower()
        if base not in RASTER_OR_SVG:
            raise NotFound("No such picture in this conversation.", code="file_not_found")
        kept.pop(partner_id, None)
        while len(kept) >= AVATARS_KEPT:
            kept.pop(next(iter(kept)))
        found = kept[partner_id] = (now + AVATAR_TTL, base, data)
    return web.Response(body=found[2], headers={
        "Content-Type": found[1],
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",  # an SVG runs nothing
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": f"public, max-age={int(AVATAR_TTL)}",
    })
