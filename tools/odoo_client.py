"""A small synchronous Odoo client (JSON-RPC, the admin web session, the visitor's cors routes),
shared by tools/probe --roundtrip, the live tests and the benchmarks. Settings come from the environment:

    ODOO_URL (required)  ODOO_DB  ODOO_LOGIN (admin)  ODOO_PASSWORD (admin)  ODOO_LIVECHAT_CHANNEL (1)
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import urllib.request

from proxy.odoo.adapters import Adapter


class OdooError(RuntimeError):
    pass


class Odoo:
    def __init__(self, url: str, db: str | None, login: str, password: str, livechat_channel: int | None):
        self.url, self.db, self.login, self.password = url.rstrip("/"), db, login, password
        self.livechat_channel = livechat_channel
        self.jar = http.cookiejar.CookieJar()
        self.web = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.anon = urllib.request.build_opener()
        self.uid: int | None = None
        self.version: str | None = None
        self.info: dict = {}    # /web/webclient/version_info's answer (server_version, server_serie, …)
        self.uuids: dict[int, str | None] = {}

    @classmethod
    def from_env(cls) -> Odoo | None:
        url = os.environ.get("ODOO_URL")
        if not url:
            return None
        return cls(url, os.environ.get("ODOO_DB"), os.environ.get("ODOO_LOGIN", "admin"),
                   os.environ.get("ODOO_PASSWORD", "admin"), int(os.environ.get("ODOO_LIVECHAT_CHANNEL", "1")))

    def call(self, path: str, params: dict, opener=None):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}).encode()
        req = urllib.request.Request(self.url + path, data=body, headers={"Content-Type": "application/json"})
        with (opener or self.anon).open(req, timeout=30) as resp:
            data = json.loads(resp.read())
        if "error" in data:
            raise OdooError(f"{path}: {json.dumps(data['error'])[:600]}")
        return data.get("result")

    def start(self) -> Odoo:
        self.info = info = self.call("/web/webclient/version_info", {})
        self.version = info["server_serie"]
        if not self.db:
            raise OdooError("set ODOO_DB")
        result = self.call("/web/session/authenticate", {"db": self.db, "login": self.login,
                                                          "password": self.password}, self.web)
        self.uid = result["uid"]
        return self

    @property
    def major(self) -> int:
        if self.version is None:
            raise OdooError("not started: call start() first")
        return int(self.version.replace("saas~", "").split(".")[0])

    def execute(self, model: str, method: str, args: list, kw: dict | None = None):
        return self.call("/jsonrpc", {"service": "object", "method": "execute_kw",
                                      "args": [self.db, self.uid, self.password, model, method, args, kw or {}]})

    def operator_online(self) -> None:
        """Make the logged-in user an operator of the livechat channel, present right now."""
        self.execute("im_livechat.channel", "action_join", [[self.livechat_channel]])
        self.call("/websocket/peek_notifications", {"channels": [], "last": 0, "is_first_poll": True}, self.web)
        presence: dict[str, object] = {"inactivity_period": 0}
        if self.major < 19:
            presence["im_status_ids_by_model"] = {}
        self.call("/websocket/update_bus_presence", presence, self.web)

    def visitor_session(self, name: str = "Visitor") -> tuple[int, str]:
        """Open a livechat session as a visitor with no cookie; return (channel id, guest token)."""
        adapter = Adapter(self.major)
        result = self.call("/im_livechat/cors/get_session", adapter.session_params(self.livechat_channel, name))
        session = adapter.parse_session(result)
        if session is None:
            raise OdooError("no operator available")
        self.uuids[session[0]] = adapter.session_uuid(result)
        return session

    def operator_reply(self, channel_id: int, body: str) -> int:
        result = self.execute("discuss.channel", "message_post", [[channel_id]],
                              {"body": body, "body_is_html": True, "message_type": "comment",
                               "subtype_xmlid": "mail.mt_comment"})
        return result[0] if isinstance(result, list) else result   # 19 answers [id]

    def operator_edit(self, message_id: int, body: str) -> None:
        params: dict[str, object] = {"message_id": message_id}
        if self.major >= 19:
            params["update_data"] = {"body": body, "attachment_ids": [], "attachment_tokens": []}
        else:
            params.update({"body": body, "attachment_ids": [], "attachment_tokens": []})
        self.call("/mail/message/update_content", params, self.web)

    def operator_delete(self, message_id: int) -> None:
        """What the web client's delete does: the content emptied (the record stays)."""
        self.operator_edit(message_id, "")

    def operator_leave(self, channel_id: int) -> None:
        self.execute("discuss.channel", "action_unfollow", [[channel_id]])

    def visitor_leave(self, channel_id: int, guest_token: str) -> None:
        self.call("/im_livechat/cors/visitor_leave_session",
                  Adapter(self.major).leave_params(guest_token, channel_id, self.uuids.get(channel_id)))
