"""Where the webhooks go, signed with which secret(s), and which events are sent."""
import contextlib
import json
import logging
import queue
import uuid
from datetime import timedelta

import requests

from odoo import _, api, fields, models, release

from ..tools import protocol, standard_webhooks as sw

_logger = logging.getLogger(__name__)

EVENT_FILTERS = {
    "livechat.message.created": "send_messages",
    "livechat.message.updated": "send_edits",
    "livechat.message.deleted": "send_edits",
    "livechat.member.joined": "send_members",
    "livechat.member.left": "send_members",
    "livechat.session.closed": "send_closed",
    "livechat.typing": "send_typing",
}


USER_AGENT = "Odoo-im_livechat_webhook (Odoo %s)" % release.serie
# Keep-alive HTTP sessions shared by the delivery threads: each delivery runs in a thread of its
# own, so a per-thread session would open a new TCP connection for every event (≈ 0.5 ms on
# loopback, more over a network). A thread takes an idle session (or makes one) and gives it back.
_idle = queue.LifoQueue()
IDLE_SESSIONS = 4


def signing_secrets(secret, previous_secret, previous_secret_until):
    """The secrets that sign: the current one, and the previous one during its grace period."""
    secrets = [secret]
    if previous_secret and previous_secret_until and previous_secret_until > fields.Datetime.now():
        secrets.append(previous_secret)
    return [s for s in secrets if s]


@contextlib.contextmanager
def _http():
    """A keep-alive HTTP session for one POST at a time: no new TCP connection for every event."""
    try:
        session = _idle.get_nowait()
    except queue.Empty:
        session = requests.Session()
    try:
        yield session
    finally:
        if _idle.qsize() < IDLE_SESSIONS:
            _idle.put(session)
        else:
            session.close()


def post(url, secrets, webhook_id, body, timeout=None):
    """POST one signed body; return (status code or None, error text or "", Retry-After or None).
    Plain Python, no database: the delivery thread calls it before it opens a cursor."""
    headers = sw.headers(secrets, webhook_id, body)
    headers["User-Agent"] = USER_AGENT
    headers[protocol.HEADER] = protocol.PROTOCOL_VERSION
    try:
        with _http() as session:
            response = session.post(url, data=body, headers=headers, timeout=timeout or 5.0, allow_redirects=False)
    except requests.RequestException as exc:
        return None, "%s: %s" % (type(exc).__name__, exc), None
    error = "" if 200 <= response.status_code < 300 else (response.text or "")[:500]
    refused = protocol.refusal(response.status_code, response.text, response.headers.get(protocol.HEADER))
    if refused:
        _logger.warning("livechat webhook %s refused by the relay: %s", webhook_id, refused)
        error = refused
    return response.status_code, error, sw.retry_after_seconds(response.headers.get("Retry-After"))


class LivechatWebhookEndpoint(models.Model):
    _name = "livechat.webhook.endpoint"
    _description = "Livechat webhook endpoint"

    name = fields.Char(required=True, default="Relay")
    url = fields.Char("Endpoint URL", help="For example https://relay.example.com/v1/webhooks/odoo")
    enabled = fields.Boolean(default=True)
    disabled_reason = fields.Text(readonly=True)
    secret = fields.Char(copy=False, help="whsec_… secret; the relay's RELAY_WEBHOOK_SECRET must hold it.")
    previous_secret = fields.Char(copy=False, readonly=True)
    previous_secret_until = fields.Datetime(copy=False, readonly=True)
    rotation_grace_hours = fields.Integer(default=72, help="How long the previous secret keeps signing "
                                          "after a rotation (both signatures are sent meanwhile).")
    timeout = fields.Float("Timeout (s)", default=5.0)
    send_messages = fields.Boolean("Messages", default=True)
    send_edits = fields.Boolean("Edits and deletions", default=True)
    send_members = fields.Boolean("Members joining and leaving", default=True)
    send_closed = fields.Boolean("Session closed", default=True)
    send_typing = fields.Boolean("Typing (best effort)", default=True)
    last_test_result = fields.Text(readonly=True)
    pending_count = fields.Integer(compute="_compute_counts")
    dead_count = fields.Integer(compute="_compute_counts")

    def _compute_counts(self):
        outbox = self.env["livechat.webhook.outbox"]
        for endpoint in self:
            endpoint.pending_count = outbox.search_count([("state", "in", ("pending", "failed"))])
            endpoint.dead_count = outbox.search_count([("state", "=", "dead")])

    @api.model
    def _get(self):
        """The endpoint in use (the first one), or an empty recordset."""
        return self.sudo().search([], order="id", limit=1)

    def _wants(self, event_type):
        self.ensure_one()
        if not (self.enabled and self.url):
            return False
        field = EVENT_FILTERS.get(event_type)
        return field is None or bool(self[field])

    def _signing_secrets(self):
        self.ensure_one()
        return signing_secrets(self.secret, self.previous_secret, self.previous_secret_until)

    def _post(self, webhook_id, body):
        """POST one signed body; return (status code or None, error text or "", Retry-After or None)."""
        self.ensure_one()
        return post(self.url, self._signing_secrets(), webhook_id, body, self.timeout)

    # ------------------------------------------------------------------ buttons

    def action_send_test(self):
        """Send ``webhook.test`` now and show what the receiver answered."""
        self.ensure_one()
        if not self.url:
            return self._notify(_("Set the endpoint URL first."), "warning")
        body = json.dumps({"type": "webhook.test", "timestamp": fields.Datetime.now().isoformat() + "Z",
                           "data": {"database": self.env.cr.dbname, "odoo_version": release.serie}},
                          separators=(",", ":")).encode()
        webhook_id = "msg_" + uuid.uuid4().hex
        status, error, _retry = self._post(webhook_id, body)
        ok = status is not None and 200 <= status < 300
        result = _("%(when)s: %(answer)s", when=fields.Datetime.now(),
                   answer=("HTTP %s %s" % (status, error)).strip() if status else error)
        self.last_test_result = result
        self.env["livechat.webhook.outbox"].sudo().create({
            "event_type": "webhook.test", "webhook_id": webhook_id, "session_key": 0,
            "payload": body.decode(), "state": "sent" if ok else "dead", "attempts": 1,
            "last_attempt_at": fields.Datetime.now(), "sent_at": ok and fields.Datetime.now(),
            "last_status_code": status or 0, "last_error": error,
        })
        return self._notify(result, "success" if ok else "danger")

    def action_rotate_secret(self):
        """New secret; the old one keeps signing (both signatures sent) for the grace period."""
        for endpoint in self:
            endpoint.write({
                "previous_secret": endpoint.secret,
                "previous_secret_until": fields.Datetime.now() + timedelta(hours=endpoint.rotation_grace_hours or 0),
                "secret": sw.new_secret(),
            })
        return True

    def action_enable(self):
        self.write({"enabled": True, "disabled_reason": False})
        self.env["livechat.webhook.outbox"]._trigger_delivery()
        return True

    def _disable(self, reason):
        self.sudo().write({"enabled": False, "disabled_reason": reason})
        _logger.warning("livechat webhooks disabled: %s", reason)

    def _notify(self, message, kind):
        return {"type": "ir.actions.client", "tag": "display_notification",
                "params": {"title": _("Webhook test"), "message": message, "type": kind, "sticky": kind != "success"}}
