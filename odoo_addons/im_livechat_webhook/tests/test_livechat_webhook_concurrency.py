"""The delivery thread and the cron racing for the same outbox row, in two real transactions.

Each side takes a row with ``SELECT … FOR UPDATE SKIP LOCKED`` before POSTing it. Losing that race
is expected (the other side has the row, or has delivered it since this transaction's snapshot),
and must not be an ERROR in Odoo's log: Odoo's cursor logs a failed query at ERROR unless told not
to, and anyone's log monitoring would go off.
"""
import threading
from unittest.mock import patch

from odoo import SUPERUSER_ID, api, fields

from ..models import livechat_webhook_outbox as outbox_module
from .common import VECTOR, LivechatWebhookCase

KEY = 2_000_000_000   # a session key of its own: these rows are committed, outside the test's transaction


class TestLivechatWebhookConcurrency(LivechatWebhookCase):
    def setUp(self):
        super().setUp()
        # the test runner holds the registries' lock while it loads the modules and runs their
        # tests: the delivery thread could not look its registry up (a server holds it no longer)
        patcher = patch.object(outbox_module.Registry, "_lock", threading.RLock())
        patcher.start()
        self.addCleanup(patcher.stop)

    def start_delivery_thread(self, session_key, row_id, webhook_id, payload='{"type":"test"}'):
        """The thread the post-commit hook starts, with this row as the head it POSTs first."""
        post = (row_id, webhook_id, payload.encode(), self.receiver.url, [VECTOR["secret"]], 5.0)
        thread = threading.Thread(target=outbox_module._deliver_in_new_cursor, daemon=True,
                                  args=(self.env.cr.dbname, [session_key], [post]), name="livechat-webhook-race")
        thread.start()
        thread.join(10)
        return thread

    def committed_state(self, row_id):
        cr = self.real_cursor()
        cr.execute("SELECT state, attempts, last_status_code FROM livechat_webhook_outbox WHERE id = %s", (row_id,))
        return cr.fetchone()

    def test_thread_skips_the_row_the_cron_holds_without_an_error(self):
        row_id = self.committed_row(KEY + 1, "msg_race_cron_first")
        cron_cr = self.real_cursor()
        cron = api.Environment(cron_cr, SUPERUSER_ID, {})["livechat.webhook.outbox"]
        with self.assertNoLogs("odoo", "ERROR"):
            heads, _soonest = cron._due_heads([KEY + 1])
            self.assertEqual([head.id for head in heads], [row_id])
            self.assertTrue(heads[0]._lock(), "the cron takes the row and POSTs it")
            thread = self.start_delivery_thread(KEY + 1, row_id, "msg_race_cron_first")
            waited = thread.is_alive()
            # the cron's POST was answered 200; its answer is the one recorded
            heads[0].write({"state": "sent", "attempts": 1, "last_status_code": 200, "last_attempt_at": fields.Datetime.now(),
                            "sent_at": fields.Datetime.now()})
            cron_cr.commit()  # pylint: disable=invalid-commit
            thread.join(30)
            self.assertFalse(thread.is_alive())
        self.assertFalse(waited, "the thread must not wait for a row the cron holds")
        self.assertEqual(self.committed_state(row_id), ("sent", 1, 200))

    def test_cron_skips_a_row_the_thread_delivered_since_its_snapshot_without_an_error(self):
        row_id = self.committed_row(KEY + 2, "msg_race_thread_first")
        cron_cr = self.real_cursor()
        cron = api.Environment(cron_cr, SUPERUSER_ID, {})["livechat.webhook.outbox"]
        with self.assertNoLogs("odoo", "ERROR"):
            heads, _soonest = cron._due_heads([KEY + 2])   # the cron's snapshot: the row is due
            self.assertEqual([head.id for head in heads], [row_id])
            thread = self.start_delivery_thread(KEY + 2, row_id, "msg_race_thread_first")
            self.assertFalse(thread.is_alive())
            self.assertEqual(self.committed_state(row_id), ("sent", 1, 200), "the thread delivered it")
            self.assertFalse(heads[0]._lock(), "delivered since the cron's snapshot: not taken again")
        self.assertEqual(len(self.receiver.requests), 1)
