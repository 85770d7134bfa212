"""``GET /v1/openapi.json``: the HTTP side of PROTOCOL §1–2 as OpenAPI 3.0 (the WebSocket is
described in words: OpenAPI has no place for it). Used by the fuzz test (tests/proxy/test_fuzz.py)."""
from __future__ import annotations

from aiohttp import web

from proxy import __version__
from proxy.api.common import json_response

_ERROR = {"type": "object", "required": ["error", "message"],
          "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}
_EVENT = {"type": "object", "required": ["seq", "type", "at"],
          "properties": {"seq": {"type": "integer", "nullable": True, "minimum": 1}, "type": {"type": "string"},
                         "at": {"type": "string"}}}


def _errors(*codes: int) -> dict:
    return {str(c): {"description": "error", "content": {"application/json": {"schema": _ERROR}}} for c in codes}


def _json_body(schema: dict, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


_CONV_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_AUTH: list[dict[str, list[str]]] = [{"token": []}]

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "Odoo Livechat Relay", "version": __version__,
             "description": "Widget API and Odoo webhook receiver. WebSocket: GET /v1/conversations/{id}/ws"
                            "?token=…&after=N (see docs/protocol.md)."},
    "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/healthz": {"get": {"operationId": "healthz", "responses": {
            "200": {"description": "healthy"}, **_errors(503)}}},
        "/v1/conversations": {"post": {
            "operationId": "createConversation",
            "requestBody": _json_body({"type": "object", "properties": {
                "visitor_name": {"type": "string", "maxLength": 64},
                "lang": {"type": "string", "maxLength": 35},
                "livechat_channel_id": {"type": "integer", "minimum": 1},
                "page_url": {"type": "string", "maxLength": 2048},
                "visitor": {"type": "string", "maxLength": 256},
                "leave_message": {"type": "boolean"},
                "contact": {"type": "string", "maxLength": 254}}}, required=False),
            "responses": {"201": {"description": "created", "content": {"application/json": {"schema": {
                "type": "object", "required": ["conversation_id", "token", "expires_at", "last_seq", "visitor"],
                "properties": {"conversation_id": {"type": "string"}, "token": {"type": "string"},
                               "expires_at": {"type": "integer"}, "last_seq": {"type": "integer"},
                               "visitor": {"type": "string"}}}}}},
                **_errors(400, 403, 413, 429, 503)}}},
        "/v1/config": {"get": {
            "operationId": "config",
            "description": "Before a conversation: availability, the channel rule matching the page, texts, colours, "
                           "the widget's languages.",
            "parameters": [{"name": "livechat_channel_id", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                           {"name": "page_url", "in": "query", "schema": {"type": "string", "maxLength": 2048}},
                           {"name": "lang", "in": "query", "schema": {"type": "string", "maxLength": 35}}],
            "responses": {"200": {"description": "what the widget needs to start", "content": {"application/json": {
                "schema": {"type": "object", "required": ["available", "rule", "texts", "colors", "languages"],
                           "properties": {"languages": {"type": "array", "items": {"type": "string"}}}}}}},
                **_errors(400, 403, 404, 429, 503)}}},
        "/v1/conversations/{id}/events": {"get": {
            "operationId": "events", "security": _AUTH,
            "parameters": [_CONV_ID,
                           {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                           {"name": "wait", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 25}}],
            "responses": {"200": {"description": "events after N", "content": {"application/json": {"schema": {
                "type": "object", "required": ["events", "last_seq"],
                "properties": {"events": {"type": "array", "items": _EVENT}, "last_seq": {"type": "integer"},
                               "reset": {"type": "boolean"}}}}}},
                **_errors(400, 401, 403, 404, 429, 503)}}},
        "/v1/conversations/{id}/messages": {"post": {
            "operationId": "sendMessage", "security": _AUTH, "parameters": [_CONV_ID],
            "requestBody": _json_body({"type": "object", "required": ["client_id", "text"], "properties": {
                "client_id": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
                "text": {"type": "string", "maxLength": 4000},
                "attachment_ids": {"type": "array", "maxItems": 10, "items": {"type": "integer"}}}}),
            "responses": {"200": {"description": "the same client_id again"}, "201": {"description": "stored"},
                          **_errors(400, 401, 403, 404, 409, 413, 429, 503)}}},
        "/v1/conversations/{id}/attachments": {"post": {
            "operationId": "uploadFile", "security": _AUTH, "parameters": [_CONV_ID],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}}}}}},
            "responses": {"201": {"description": "uploaded; its id goes in the next message's attachment_ids"},
                          **_errors(400, 401, 403, 404, 408, 409, 413, 415, 429, 503)}}},
        "/v1/conversations/{id}/transcript": {"get": {
            "operationId": "transcript", "security": _AUTH,
            "parameters": [_CONV_ID, {"name": "format", "in": "query",
                                      "schema": {"type": "string", "enum": ["text", "html", "pdf"]}}],
            "responses": {"200": {"description": "the conversation as stored, oldest first (pdf: Odoo's own, on 19)"},
                          **_errors(400, 401, 403, 404, 409, 429, 503)}}, "post": {
            "operationId": "emailTranscript", "security": _AUTH, "parameters": [_CONV_ID],
            "requestBody": _json_body({"type": "object", "required": ["email"], "properties": {
                "email": {"type": "string", "maxLength": 254}}}),
            "responses": {"202": {"description": "Odoo took the transcript to mail (17, 18)"},
                          **_errors(400, 401, 403, 404, 409, 413, 429, 503)}}},
        "/v1/conversations/{id}/seen": {"post": {
            "operationId": "seen", "security": _AUTH, "parameters": [_CONV_ID],
            "requestBody": _json_body({"type": "object", "required": ["seq"], "properties": {
                "seq": {"type": "integer", "minimum": 1}}}),
            "responses": {"204": {"description": "Odoo marks the session read up to there"},
                          **_errors(400, 401, 403, 404, 429, 503)}}},
        "/v1/conversations/{id}/pages": {"post": {
            "operationId": "pages", "security": _AUTH, "parameters": [_CONV_ID],
            "description": "The visitor's page history (the last 15), answered to the operator's history "
                           "request in Odoo. A page that is no http(s) URL, or longer than 2048 characters "
                           "(its title longer than 200), is dropped.",
            "requestBody": _json_body({"type": "object", "properties": {
                "url": {"type": "string", "maxLength": 2048},
                "title": {"type": "string", "maxLength": 200, "nullable": True},
                "pages": {"type": "array", "maxItems": 15, "items": {
                    "type": "object", "required": ["url"], "properties": {
                        "url": {"type": "string", "maxLength": 2048},
                        "title": {"type": "string", "maxLength": 200, "nullable": True}}}}}}),
            "responses": {"204": {"description": "kept (or dropped, see X-Pages-Kept)"},
                          **_errors(400, 401, 403, 404, 409, 413, 429)}}},
        "/v1/conversations/{id}/rating": {"post": {
            "operationId": "rate", "security": _AUTH, "parameters": [_CONV_ID],
            "requestBody": _json_body({"type": "object", "required": ["rating"], "properties": {
                "rating": {"type": "integer", "enum": [5, 3, 1]},
                "comment": {"type": "string", "maxLength": 1000}}}),
            "responses": {"204": {"description": "rated"}, **_errors(400, 401, 403, 404, 409, 429, 503)}}},
        "/v1/conversations/{id}/typing": {"post": {
            "operationId": "typing", "security": _AUTH, "parameters": [_CONV_ID],
            "requestBody": _json_body({"type": "object", "required": ["typing"],
                                       "properties": {"typing": {"type": "boolean"}}}),
            "responses": {"204": {"description": "sent, best effort"}, **_errors(400, 401, 403, 404, 429, 503)}}},
        "/v1/conversations/{id}/close": {"post": {
            "operationId": "close", "security": _AUTH, "parameters": [_CONV_ID],
            "responses": {"204": {"description": "closed"}, **_errors(401, 403, 404, 429, 503)}}},
        "/v1/conversations/{id}/handoff": {"post": {
            "operationId": "handoff", "security": _AUTH, "parameters": [_CONV_ID],
            "responses": {"200": {"description": "who has the conversation now: operator, bot, message or retrying"},
                          **_errors(401, 403, 404, 409, 429, 503)}}},
        "/v1/files/{id}/{attachment}": {"get": {
            "operationId": "file",
            "description": "One file of one conversation, streamed from Odoo. The URL (with its exp and sig) "
                           "comes in message.attachments[].url; it is the only credential.",
            "parameters": [_CONV_ID,
                           {"name": "attachment", "in": "path", "required": True, "schema": {"type": "integer"}},
                           {"name": "exp", "in": "query", "required": True, "schema": {"type": "integer"}},
                           {"name": "sig", "in": "query", "required": True, "schema": {"type": "string"}},
                           {"name": "thumb", "in": "query", "schema": {"type": "string", "enum": ["1"]}}],
            "responses": {"200": {"description": "the file's bytes"}, **_errors(403, 404, 429, 503)}}},
        "/v1/avatars/{id}/{partner}": {"get": {
            "operationId": "avatar",
            "description": "An operator's or bot's picture as this conversation's visitor sees it. The URL "
                           "comes in message.author.avatar_url; its sig is the only credential.",
            "parameters": [_CONV_ID,
                           {"name": "partner", "in": "path", "required": True, "schema": {"type": "integer"}},
                           {"name": "sig", "in": "query", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "the picture"}, **_errors(403, 404, 429, 503)}}},
        "/v1/webhooks/odoo": {"post": {
            "operationId": "odooWebhook",
            "description": "Signed the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature).",
            "parameters": [{"name": n, "in": "header", "required": True, "schema": {"type": "string"}}
                           for n in ("webhook-id", "webhook-timestamp", "webhook-signature")] + [
                {"name": "X-Livechat-Protocol", "in": "header", "required": False,
                 "description": "The addon's protocol version (major.minor); absent means 1. "
                                "A major this relay does not speak is refused with unsupported_protocol.",
                 "schema": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"}}],
            "requestBody": _json_body({"type": "object", "required": ["type", "data"], "properties": {
                "type": {"type": "string", "enum": [
                    "livechat.message.created", "livechat.message.updated", "livechat.message.deleted",
                    "livechat.member.joined", "livechat.member.left", "livechat.session.closed",
                    "livechat.typing", "livechat.history_requested", "webhook.test"]},
                "timestamp": {"type": "string"},
                "data": {"type": "object"}}}),
            "responses": {"200": {"description": "stored, duplicate or dropped"},
                          **_errors(400, 401, 413, 429, 503)}}},
    },
}


async def openapi(request: web.Request) -> web.Response:
    return json_response(SPEC)
