"""The durable outbox: one row per event, written in the transaction that produced the event.

Delivery runs after COMMIT, off the request path: a post-commit callback starts a short-lived
thread with its own cursor, and the ``ir.cron`` below is the safety net (every minute, and
triggered for each retry), including after a restart. Per Odoo session the oldest undelivered
event goes first and the next one waits for its 2xx; an event that used all its attempts is
``dead`` and no longer holds the others back.
"""
import json
import logging
import threading
import time
import uuid
from datetime import timedelta

from psycopg2 import errors as pg_errors, sql as SQL
from lxml import etree

from odoo import _, api, fields, models
from odoo.modules.registry import Registry

from ..tools import protocol, standard_webhooks as sw
from .livechat_webhook_endpoint import EVENT_FILTERS, _http, post as _post, signing_secrets

_logger = logging.getLogger(__name__)

# The list view, as a default view: no ir.ui.view record, because 17 names its root <tree>
# and 18/19 <list>, and one XML record cannot say both.
LIST_ARCH = """<{tag} string="Webhook deliveries" create="0" edit="0"
      decoration-danger="state == 'dead'" decoration-warning="state == 'failed'" decoration-muted="state == 'sent'">
    <header>
        <button name="action_retry" type="object" string="Retry"/>
    </header>
    <field name="create_date"/>
    <field name="event_type"/>
    <field name="channel_id"/>
    <field name="state"/>
    <field name="attempts"/>
    <field name="next_attempt_at"/>
    <field name="last_status_code"/>
    <field name="last_error"/>
    <field name="webhook_id" optional="hide"/>
</{tag}>"""

SHORT_RETRY = 30.0   # seconds the delivery thread itself waits for a retry
YIELD_TO_REQUEST = 0.002   # seconds the delivery thread waits before its first POST
STATES = [("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed, will retry"), ("dead", "Dead")]


def _testing():
    """True inside Odoo's test runner: deliver in the test's own transaction, no thread."""
    try:
        from odoo.modules import module
        if getattr(module, "current_test", None):
            return True
    except ImportError:  # 17/18 mark test threads instead
        _logger.debug("odoo.modules.module has no current_test")
    return bool(getattr(threading.current_thread(), "testing", False))


class LivechatWebhookOutbox(models.Model):
    _name = "livechat.webhook.outbox"
    _description = "Livechat webhook delivery"
    _order = "id desc"

    event_type = fields.Char(required=True, index=True, readonly=True)
    webhook_id = fields.Char(required=True, index=True, readonly=True, copy=False)
    session_key = fields.Integer("Session id", index=True, readonly=True,
                                 help="The livechat session (discuss.channel) this event belongs to.")
    channel_id = fields.Many2one("discuss.channel", "Session", ondelete="set null", readonly=True)
    payload = fields.Text(required=True, readonly=True)
    state = fields.Selection(STATES, required=True, default="pending", index=True, readonly=True)
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(default=fields.Datetime.now, index=True, readonly=True)
    last_attempt_at = fields.Datetime(readonly=True)
    last_status_code = fields.Integer(readonly=True)
    last_error = fields.Text(readonly=True)
    sent_at = fields.Datetime(readonly=True)

    @api.model
    def _get_default_tree_view(self):      # 17
        return etree.fromstring(LIST_ARCH.format(tag="tree"))

    @api.model
    def _get_default_list_view(self):      # 18, 19
        return etree.fromstring(LIST_ARCH.format(tag="list"))

    # ------------------------------------------------------------------ enqueue

    @api.model
    def _enqueue(self, event_type, channel, data):
        """Write one event for ``channel`` in the current transaction; deliver it after COMMIT.
        ``data`` may be a callable (it builds the event's data).

        This runs on the operator's request path for every livechat message, so it is one SQL
        statement: read the endpoint in use (the first one), insert the row only if that endpoint
        is enabled, has a URL and wants this type of event, and say whether an older event of this
        session is still waiting (if none, this one is the head and may take the fast path)."""
        if callable(data):
            data = data()
        body = {
            "type": event_type,
            "timestamp": fields.Datetime.now().isoformat(timespec="microseconds") + "Z",
            "data": dict(channel._webhook_header(), **data),
        }
        # the raw SQL below must see this transaction's writes
        self.flush_model(["state", "session_key"])
        self.env["livechat.webhook.endpoint"].flush_model()
        webhook_id = "msg_" + uuid.uuid4().hex
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)
        wanted = EVENT_FILTERS.get(event_type)
        self.env.cr.execute(SQL.SQL("""
            WITH ep AS (
                SELECT e.url, e.secret, e.previous_secret, e.previous_secret_until, e.timeout
                  FROM (SELECT * FROM livechat_webhook_endpoint ORDER BY id LIMIT 1) e
                 WHERE e.enabled AND COALESCE(e.url, '') != '' AND {wanted}),
            ins AS (
                INSERT INTO livechat_webhook_outbox
                    (event_type, webhook_id, session_key, channel_id, payload, state, attempts, next_attempt_at,
                     create_uid, write_uid, create_date, write_date)
                SELECT %(type)s, %(wid)s, %(key)s, %(key)s, %(payload)s, 'pending', 0, %(now)s,
                       %(uid)s, %(uid)s, %(now)s, %(now)s FROM ep
                RETURNING id)
            SELECT ins.id, NOT EXISTS (SELECT 1 FROM livechat_webhook_outbox o WHERE o.session_key = %(key)s
                                       AND o.state IN ('pending', 'failed') AND o.id < ins.id),
                   ep.url, ep.secret, ep.previous_secret, ep.previous_secret_until, ep.timeout
              FROM ins, ep""").format(wanted=SQL.SQL("e.{}").format(SQL.Identifier(wanted)) if wanted else SQL.SQL("TRUE")),
            {"type": event_type, "wid": webhook_id, "key": channel.id, "payload": payload,
             "now": fields.Datetime.now(), "uid": self.env.uid})
        found = self.env.cr.fetchone()
        if not found:
            return self.browse()     # no endpoint, switched off, or this type of event not wanted
        row_id, first, url, secret, previous, until, timeout = found
        fast = (row_id, webhook_id, payload.encode(), url, signing_secrets(secret, previous, until),
                timeout) if first else None
        self._deliver_after_commit(channel.id, fast)
        return self.browse(row_id)

    def _deliver_after_commit(self, session_key, fast=None):
        """Collect the sessions touched by this transaction; one callback delivers them after COMMIT."""
        cr = self.env.cr
        key = "im_livechat_webhook.sessions"
        if key not in cr.postcommit.data:
            cr.postcommit.data[key] = set()
            cr.postcommit.data[key + ".fast"] = []
            dbname, env, testing = cr.dbname, self.env, _testing()

            def deliver():
                keys = sorted(cr.postcommit.data.get(key, ()))
                posts = list(cr.postcommit.data.get(key + ".fast", ()))
                try:
                    if testing:   # inside the test's transaction: no thread, no commit
                        env["livechat.webhook.outbox"].sudo()._deliver_sessions(keys, commit=False)
                    else:
                        threading.Thread(target=_deliver_in_new_cursor, args=(dbname, keys, posts),
                                         name="livechat-webhook", daemon=True).start()
                except Exception:  # the rows are committed: the cron delivers them
                    _logger.exception("livechat webhook: could not start delivery")
            cr.postcommit.add(deliver)
        cr.postcommit.data[key].add(session_key)
        if fast and len(cr.postcommit.data[key + ".fast"]) < 20:
            cr.postcommit.data[key + ".fast"].append(fast)

    @api.model
    def _send_ephemeral(self, event_type, channel, data):
        """Typing: best effort, never stored, never retried, sent after COMMIT in a thread."""
        endpoint = self.env["livechat.webhook.endpoint"]._get()
        if not endpoint or not endpoint._wants(event_type):
            return
        body = json.dumps({"type": event_type,
                           "timestamp": fields.Datetime.now().isoformat(timespec="microseconds") + "Z",
                           "data": dict(channel._webhook_header(), **data)},
                          separators=(",", ":"), ensure_ascii=False, default=str).encode()
        url, secrets, timeout = endpoint.url, endpoint._signing_secrets(), min(endpoint.timeout or 5.0, 5.0)

        def post():
            import requests
            headers = sw.headers(secrets, "msg_" + uuid.uuid4().hex, body)
            headers[protocol.HEADER] = protocol.PROTOCOL_VERSION
            try:
                with _http() as session:   # a kept-alive connection, as for the other events
                    session.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
            except requests.RequestException as exc:   # best effort: typing is never retried
                _logger.debug("livechat typing webhook not delivered: %s", exc)
        if _testing():
            self.env.cr.postcommit.add(post)
        else:
            self.env.cr.postcommit.add(lambda: threading.Thread(target=post, daemon=True).start())

    # ------------------------------------------------------------------ deliver

    def _due_heads(self, session_keys=None):
        """For each session, its oldest undelivered event if that one is due now; and the time
        of the soonest head that is waiting for its retry (None if none)."""
        domain = [("state", "in", ("pending", "failed"))]
        if session_keys is not None:
            domain.append(("session_key", "in", list(session_keys)))
        rows = self.sudo().search(domain, order="session_key, id")
        heads, soonest, now = [], None, fields.Datetime.now()
        seen = set()
        for row in rows:
            if row.session_key in seen:
                continue
            seen.add(row.session_key)
            if row.next_attempt_at and row.next_attempt_at > now:
                # the head is waiting for its retry: the session waits with it
                soonest = min(soonest or row.next_attempt_at, row.next_attempt_at)
                continue
            heads.append(row)
        return heads, soonest

    def _lock(self):
        """Take this row for delivery; False if another worker (the delivery thread, the cron) has
        it, or has written it since this transaction's snapshot (it has just delivered it).

        Losing that race is expected, not an error. The second case is PostgreSQL's serialization
        failure (Odoo's transactions are REPEATABLE READ; SKIP LOCKED skips rows locked now, not
        rows changed since the snapshot), which Odoo's cursor would log at ERROR ("bad query")
        before raising it: the query runs with ``log_exceptions=False`` and only that failure is
        caught, in a savepoint, so the transaction goes on."""
        self.ensure_one()
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute("SELECT id FROM livechat_webhook_outbox WHERE id = %s "
                                    "AND state IN ('pending', 'failed') FOR UPDATE SKIP LOCKED", (self.id,),
                                    log_exceptions=False)
                return bool(self.env.cr.fetchone())
        except pg_errors.SerializationFailure:
            _logger.debug("livechat webhook %s: delivered by another worker meanwhile", self.id)
            return False

    @api.model
    def _deliver_sessions(self, session_keys=None, commit=True, budget=50.0):
        """Deliver due events in order, session by session, until nothing is due or ``budget`` s pass."""
        endpoint = self.env["livechat.webhook.endpoint"]._get()
        deadline = time.monotonic() + budget
        delivered = 0
        while endpoint and endpoint.enabled and endpoint.url and time.monotonic() < deadline:
            progressed = False
            heads, soonest = self._due_heads(session_keys)
            for head in heads:
                if not head._lock():
                    continue
                head._attempt(endpoint)
                progressed = True
                delivered += head.state == "sent"
                if commit:   # our own cursor (thread or cron): each delivered event is kept
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                if not endpoint.enabled:
                    break
            if not progressed:
                # a short retry (the first ones: 5 s) is waited for here rather than by the cron,
                # whose runner only wakes every minute; longer ones are the cron's
                wait = soonest and (soonest - fields.Datetime.now()).total_seconds() + 0.5
                if not commit or not wait or wait > min(SHORT_RETRY, deadline - time.monotonic()):
                    break
                self.env.cr.commit()  # pylint: disable=invalid-commit  # end the snapshot before waiting
                time.sleep(max(0.0, wait))
                self.env.invalidate_all()
        return delivered

    def _attempt(self, endpoint):
        self.ensure_one()
        now = fields.Datetime.now()
        status, error, retry_after = endpoint._post(self.webhook_id, self.payload.encode())
        self._record(endpoint, now, status, error, retry_after)

    def _record(self, endpoint, now, status, error, retry_after):
        """Record one POST made at ``now`` (one attempt) and what the receiver answered: sent, or
        the next attempt (``Retry-After`` on 429/503, else the standard schedule), or dead."""
        self.ensure_one()
        values = {"last_attempt_at": now, "last_status_code": status or 0, "last_error": error or False}
        if status is not None and 200 <= status < 300:
            values.update(state="sent", sent_at=now, attempts=self.attempts + 1, last_error=False)
        elif status == 410:
            endpoint._disable(_("The receiver answered 410 Gone on %(when)s: deliveries are stopped. "
                                "Fix the endpoint, then press Enable.", when=now))
            values.update(state="pending")   # not counted: nothing was refused for good
        else:
            attempts = self.attempts + 1
            if status in (429, 503) and retry_after is not None:
                delay = retry_after if attempts < sw.MAX_ATTEMPTS else None
            else:
                delay = sw.next_delay(attempts)
            if delay is None:
                values.update(state="dead", attempts=attempts)
                _logger.warning("livechat webhook %s is dead after %s attempts: %s %s",
                                self.webhook_id, attempts, status, error)
            else:
                next_at = now + timedelta(seconds=delay)
                values.update(state="failed", attempts=attempts, next_attempt_at=next_at)
                self.env.ref("im_livechat_webhook.ir_cron_deliver_webhooks")._trigger(at=next_at)
        self.write(values)

    def _trigger_delivery(self):
        self.env.ref("im_livechat_webhook.ir_cron_deliver_webhooks")._trigger()

    @api.model
    def _cron_deliver(self):
        """Safety net: deliver everything due (after a restart, a lost thread, a retry time)."""
        self._deliver_sessions(commit=not _testing())

    # ------------------------------------------------------------------ actions

    def action_retry(self):
        """Send again by hand (dead or failed events): a fresh set of attempts, due now."""
        rows = self.filtered(lambda r: r.state in ("dead", "failed"))
        rows.write({"state": "pending", "attempts": 0, "next_attempt_at": fields.Datetime.now()})
        for session_key in set(rows.mapped("session_key")):
            self._deliver_after_commit(session_key)
        self._trigger_delivery()
        return True

    @api.autovacuum
    def _gc_sent(self):
        """Sent events are kept 7 days for the log, then removed."""
        self.sudo().search([("state", "=", "sent"), ("sent_at", "<", fields.Datetime.now() - timedelta(days=7))]).unlink()


def _deliver_in_new_cursor(dbname, session_keys, posts=()):
    """Thread body: first POST the heads known at commit time (no database work before the
    network), then, with a fresh cursor, record each answer as that event's first attempt,
    whatever it was (a failure is retried on schedule, or after the receiver's ``Retry-After``,
    not POSTed again at once), and deliver whatever else is due."""
    from odoo import SUPERUSER_ID, api as odoo_api
    # let the operator's request, which committed a moment ago, finish first: this thread
    # shares the interpreter with it and would otherwise slow its response down
    time.sleep(YIELD_TO_REQUEST)
    try:
        answers = []
        for row_id, webhook_id, body, url, secrets, timeout in posts:
            now = fields.Datetime.now()
            answers.append((row_id, now) + _post(url, secrets, webhook_id, body, timeout))
        with Registry(dbname).cursor() as cr:
            env = odoo_api.Environment(cr, SUPERUSER_ID, {})
            outbox = env["livechat.webhook.outbox"]
            if answers:
                endpoint = env["livechat.webhook.endpoint"]._get()
                for row_id, now, status, error, retry_after in answers:
                    row = outbox.browse(row_id)
                    # not taken: the cron has it (its own POST is the attempt recorded) or has
                    # just finished it
                    if row._lock():
                        row._record(endpoint, now, status, error, retry_after)
                cr.commit()  # pylint: disable=invalid-commit
            outbox._deliver_sessions(session_keys, commit=True, budget=30.0)
    except Exception:   # never lost: the rows stay pending and the cron picks them up
        _logger.exception("livechat webhook delivery thread failed; the cron will retry")
