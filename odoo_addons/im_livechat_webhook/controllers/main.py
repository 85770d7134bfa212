import json

from odoo import http, release
from odoo.http import request

from ..tools.protocol import PROTOCOL_VERSION


class LivechatWebhookInfo(http.Controller):
    @http.route("/im_livechat_webhook/info", type="http", auth="public", methods=["GET"], csrf=False)
    def info(self):
        """Says the addon is installed, for tools/probe and the relay. No secret, no URL."""
        module = request.env["ir.module.module"].sudo().search(
            [("name", "=", "im_livechat_webhook")], limit=1)
        endpoint = request.env["livechat.webhook.endpoint"].sudo()._get()
        body = {
            "addon": "im_livechat_webhook",
            "version": module.installed_version or module.latest_version,
            "odoo_version": release.serie,
            "protocol": PROTOCOL_VERSION,      # the addon ↔ relay protocol (X-Livechat-Protocol)
            "signing": "standard-webhooks-v1",
            "enabled": bool(endpoint and endpoint.enabled and endpoint.url),
        }
        return request.make_response(json.dumps(body), headers=[("Content-Type", "application/json"),
                                                                 ("Cache-Control", "no-store")])
