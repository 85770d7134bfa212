"""``GET /v1/files/{conversation}/{attachment}?exp=&sig=`` (docs/protocol.md §5): one operator-side
file of one conversation, streamed from Odoo as that conversation's guest. The URL's signature is
the only credential (an ``<img>`` sends no token); see proxy/files.py."""
from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web
from aiohttp.helpers import content_disposition_header

from proxy import files, keys, tokens
from proxy.api.common import client_ip, limit
from proxy.api.uploads import clean_name   # one rule for file names, both ways
from proxy.errors import Forbidden, NotFound, Unavailable
from proxy.upstream.base import FileNotFound, UpstreamDown

log = logging.getLogger("relay.files")
CHUNK_TIMEOUT = 30.0      # seconds without a byte from the operator side before giving up


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
            resp = web.StreamResponse(headers={
                "Content-Type": content_type,
                "Content-Disposition": content_disposition_header(
                    "inline" if inline else "attachment", quote_fields=True,
                    filename=clean_name(found.filename)),
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Cross-Origin-Resource-Policy": "cross-origin",   # the widget shows it on the shop's site
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "private, max-age=3600",
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
                log.warning("file stream cut", extra={"conversation": conv.id, "reason": type(exc).__name__})
                resp.force_close()
            return resp
    except FileNotFound:
        raise NotFound("No such file in this conversation.", code="file_not_found") from None
    except UpstreamDown:
        raise Unavailable("The file cannot be fetched right now; try again shortly.", code="odoo_unavailable",
                          retry_after=5) from None
