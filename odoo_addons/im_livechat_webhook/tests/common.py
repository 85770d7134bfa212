"""A real HTTP receiver on 127.0.0.1 and a livechat session to post into.

The receiver records every request (headers and raw body) and answers from a script of
responses, so a test can make it fail, ask for a retry or say 410. Delivery runs as it does after
a real COMMIT: the test fires the post-commit hooks by hand (``self.commit_hooks()``), and in test
mode the outbox delivers inside the test's transaction instead of in a thread. A test that needs
the production path (the delivery thread, its fast path, its own cursor) runs inside
``self.delivery_thread()``; one that needs two real transactions racing for a row uses
``self.committed_row()`` and ``self.real_cursor()``.
"""
import contextlib
import http.server
import json
import threading
from pathlib import Path
from unittest.mock import patch

from markupsafe import Markup

from odoo import Command
from odoo.sql_db import db_connect
from odoo.tests import common as odoo_tests
from odoo.tests.common import TransactionCase, new_test_user

from ..models import livechat_webhook_outbox as outbox_module

VECTOR = json.loads((Path(__file__).parent / "webhook_vector.json").read_text())


class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.requests = []
        self.script = []          # [(status, headers, body)], consumed in order; then 200

    @property
    def url(self):
        return "http://127.0.0.1:%s/v1/webhooks/odoo" % self.server_address[1]

    def bodies(self):
        return [json.loads(r["body"]) for r in self.requests]


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as the relay: the addon reuses its connections

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
                                     "peer": self.client_address})
        status, headers, answer = self.server.script.pop(0) if self.server.script else (200, {}, b'{"status":"stored"}')
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


class LivechatWebhookCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = Receiver()
        cls.receiver_thread = threading.Thread(target=cls.receiver.serve_forever, daemon=True)
        cls.receiver_thread.start()
        cls.addClassCleanup(cls.receiver.server_close)
        cls.addClassCleanup(cls.receiver.shutdown)

        cls.endpoint = cls.env.ref("im_livechat_webhook.endpoint_default")
        cls.endpoint.write({"url": cls.receiver.url, "secret": VECTOR["secret"], "enabled": True,
                            "previous_secret": False, "previous_secret_until": False})
        cls.operator = new_test_user(cls.env, login="lw_operator", name="Mitchell Operator",
                                     groups="base.group_user,im_livechat.im_livechat_group_user")
        cls.manager = new_test_user(cls.env, login="lw_manager", name="Livechat Manager",
                                    groups="base.group_user,im_livechat.im_livechat_group_manager")
        cls.livechat = cls.env["im_livechat.channel"].create(
            {"name": "Support", "user_ids": [Command.set(cls.operator.ids)]})
        cls.session = cls.new_session("Visitor 1")
        cls.other_session = cls.new_session("Visitor 2")
        cls.env["livechat.webhook.outbox"].search([]).unlink()

    @classmethod
    def new_session(cls, name):
        guest = cls.env["mail.guest"].create({"name": name})
        values = {
            "name": name, "channel_type": "livechat", "livechat_channel_id": cls.livechat.id,
            "livechat_operator_id": cls.operator.partner_id.id,
            "channel_member_ids": [Command.create({"partner_id": cls.operator.partner_id.id})],
        }
        if "livechat_active" in cls.env["discuss.channel"]._fields:
            values["livechat_active"] = True
        session = cls.env["discuss.channel"].create(values)
        cls.env["discuss.channel.member"].create({"channel_id": session.id, "guest_id": guest.id})
        cls.guests = getattr(cls, "guests", {})
        cls.guests[session.id] = guest
        return session

    def setUp(self):
        super().setUp()
        self.receiver.requests.clear()
        self.receiver.script.clear()
        self.Outbox = self.env["livechat.webhook.outbox"]
        self.Outbox.search([]).unlink()

    def commit_hooks(self):
        """What COMMIT does after the SQL commit: precommit hooks, then post-commit hooks."""
        self.env.cr.precommit.run()
        self.env.cr.postcommit.run()

    def reply(self, session=None, body="<p>Hello</p>", **kwargs):
        session = session or self.session
        return session.with_user(self.operator).message_post(
            body=Markup(body), message_type="comment", subtype_xmlid="mail.mt_comment", **kwargs)

    def visitor_post(self, session=None, body="<p>Hi, I need help</p>"):
        session = session or self.session
        public = self.env.ref("base.public_user")
        # as the visitor routes do: the public user with the guest in context, sudo for the write
        return session.with_user(public).sudo().with_context(guest=self.guests[session.id]).message_post(
            body=Markup(body), message_type="comment", subtype_xmlid="mail.mt_comment")

    @contextlib.contextmanager
    def registry_test_mode(self):
        """New cursors of the registry work in this test's transaction (what HttpCase does)."""
        if hasattr(self, "enter_registry_test_mode"):   # 19
            with self.enter_registry_test_mode():
                yield
            return
        self.env.flush_all()                          # 17, 18
        self.registry.enter_test_mode(self.cr)
        try:
            yield
        finally:
            self.registry.leave_test_mode()
            self.env.invalidate_all()

    @contextlib.contextmanager
    def delivery_thread(self):
        """Deliver as a server does: the post-commit hook starts the delivery thread, which POSTs
        the heads known at commit time (the fast path) and then records them and delivers the
        rest with a cursor of its own. That cursor works in this test's transaction (registry in
        test mode), and the block ends once the thread is done.

            with self.delivery_thread():
                self.reply()
                self.commit_hooks()
        """
        # a transaction of its own: no post-commit hook left from setUpClass (registered in test mode)
        self.env.cr.postcommit.clear()
        with patch.object(outbox_module, "_testing", return_value=False), self.registry_test_mode():
            try:
                yield
            finally:
                # 19: the test holds the test cursors' lock while it runs; it lets go while it waits
                with getattr(odoo_tests, "release_test_lock", contextlib.nullcontext)():
                    for thread in threading.enumerate():
                        if thread.name == "livechat-webhook":
                            thread.join(60)
                self.assertFalse([t for t in threading.enumerate() if t.name == "livechat-webhook"],
                                 "the delivery thread did not end")
        self.env.invalidate_all()

    def real_cursor(self):
        """A cursor on a connection of its own: a real transaction, which sees only what is
        committed (not this test's transaction). Closed (rolled back) after the test."""
        cr = db_connect(self.env.cr.dbname).cursor()
        self.addCleanup(cr.close)
        return cr

    def committed_row(self, session_key, webhook_id="msg_committed", payload='{"type":"test"}'):
        """An outbox row committed for real, as the delivery thread and the cron see it; removed
        (with the cron triggers written meanwhile) after the test."""
        with db_connect(self.env.cr.dbname).cursor() as cr:
            cr.execute("SELECT COALESCE(MAX(id), 0) FROM ir_cron_trigger")
            last_trigger = cr.fetchone()[0]
            cr.execute("""INSERT INTO livechat_webhook_outbox
                              (event_type, webhook_id, session_key, payload, state, attempts, next_attempt_at,
                               create_date, write_date)
                          VALUES ('livechat.message.created', %s, %s, %s, 'pending', 0,
                                  (now() at time zone 'UTC') - interval '1 second',
                                  (now() at time zone 'UTC'), (now() at time zone 'UTC'))
                          RETURNING id""", (webhook_id, session_key, payload))
            row_id = cr.fetchone()[0]

        def remove():
            with db_connect(self.env.cr.dbname).cursor() as cr:
                cr.execute("DELETE FROM livechat_webhook_outbox WHERE id = %s", (row_id,))
                cr.execute("DELETE FROM ir_cron_trigger WHERE id > %s", (last_trigger,))
        self.addCleanup(remove)
        return row_id

    def rows(self, event_type=None):
        domain = [("event_type", "=", event_type)] if event_type else []
        return self.Outbox.search(domain, order="id")
