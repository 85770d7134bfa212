"""``POST /v1/conversations/{id}/attachments`` (docs/protocol.md §5): one visitor file, multipart,
one part named ``file``. Read streaming (never whole in memory), judged by its bytes
(proxy/uploads.py), streamed on to the conversation's Odoo session; 201 with the attachment the
next message may carry in ``attachment_ids``."""
from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from proxy import keys, uploads
from proxy.api.common import bearer, json_response, limit
from proxy.errors import ApiError, BadRequest, PayloadTooLarge, RequestTimeout, UnsupportedMedia

MULTIPART_SLACK = 16384       # bytes of multipart framing allowed beyond the file itself
CHUNK = 65536


def clean_name(raw: str | None) -> str:
    """The file's own name: no folders, no control or bidirectional characters, at most 255
    characters; shown as text wherever it appears."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C" and c not in "\u2066\u2067\u2068\u2069"
                   and unicodedata.bidirectional(c) not in ("RLO", "LRO", "RLE", "LRE", "PDF", "RLI", "LRI", "FSI", "PDI"))
    name = name.strip().strip(".")[:255]
    return name or "file"


async def upload(request: web.Request) -> web.Response:
    app = request.app
    settings = app[keys.SETTINGS]
    relay = app[keys.RELAY]
    conv = await relay.authorize(request.match_info["id"], bearer(request))
    limit(app[keys.RATE_CONVERSATION], "upload:" + conv.id, "files in this conversation")
    most = settings.max_upload_bytes
    if request.content_length is not None and request.content_length > most + MULTIPART_SLACK:
        raise PayloadTooLarge(f"A file may be at most {most} bytes.", code="file_too_large")
    if request.content_type != "multipart/form-data":
        raise BadRequest("multipart/form-data with one part named file", code="invalid_body")
    timeout = settings.body_timeout

    async def timed(awaitable):
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except TimeoutError:
            raise RequestTimeout("The file did not arrive in time.", code="body_timeout") from None
        except (ValueError, AssertionError, RuntimeError, HttpProcessingError):   # a mangled multipart body
            raise BadRequest("multipart/form-data with one part named file", code="invalid_body") from None

    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError):
        raise BadRequest("multipart/form-data with one part named file", code="invalid_body") from None
    part = await timed(reader.next())
    if not isinstance(part, BodyPartReader) or part.name != "file" or not part.filename:
        raise BadRequest("multipart/form-data with one part named file (with its file name)", code="invalid_body")
    name = clean_name(part.filename)
    head, done = b"", False
    while len(head) < uploads.SNIFF_BYTES and not done:
        chunk = await timed(part.read_chunk(CHUNK))
        head += chunk
        done = not chunk
        if len(head) > most:
            raise PayloadTooLarge(f"A file may be at most {most} bytes.", code="file_too_large")
    try:
        mimetype = uploads.sniff(head, name, part.headers.get("Content-Type"), settings.upload_types, complete=done)
    except uploads.Refused as exc:
        if exc.code == "empty_file":
            raise BadRequest(str(exc), code=exc.code) from None
        raise UnsupportedMedia(str(exc), code=exc.code) from None
    state: dict = {"size": len(head), "refused": None}

    async def chunks() -> AsyncIterator[bytes]:
        """The rest of the file, read as it is sent on; what goes wrong on the visitor's side is
        kept, so that it is what the visitor is told (not the upstream request it cut short)."""
        yield head
        while not done:
            try:
                chunk = await timed(part.read_chunk(CHUNK))
                if chunk and state["size"] + len(chunk) > most:
                    raise PayloadTooLarge(f"A file may be at most {most} bytes.", code="file_too_large")
            except ApiError as exc:
                state["refused"] = exc
                raise
            if not chunk:
                return
            state["size"] += len(chunk)
            yield chunk

    try:
        attachment = await relay.upload(conv, name, mimetype, chunks(), lambda: state["size"])
    except Exception:
        if state["refused"] is not None:
            raise state["refused"] from None
        raise
    return json_response({"attachment": attachment}, status=201)
