"""Delivery to a real receiver on 127.0.0.1: signature, retries, ordering, 410, dead letters."""
import base64
import hashlib
import hmac
import json
import threading
from datetime import timedelta

from odoo import fields

from ..models import livechat_webhook_endpoint as endpoint_module
from ..tools import protocol, standard_webhooks as sw
from .common import VECTOR, LivechatWebhookCase


def verify(secret, headers, body):
    """Standard Webhooks verification written from the spec (the relay's tests use the reference library)."""
    key = base64.b64decode(secret[len("whsec_"):])
    signed = b"%s.%s.%s" % (headers["webhook-id"].encode(), headers["webhook-timestamp"].encode(), body)
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(part == "v1," + expected for part in headers["webhook-signature"].split())


class TestLivechatWebhookDelivery(LivechatWebhookCase):
    def test_signing_matches_the_shared_vector(self):
        body = VECTOR["body"].encode()
        self.assertEqual(sw.signature(VECTOR["secret"], VECTOR["webhook_id"], VECTOR["webhook_timestamp"], body),
                         VECTOR["signature"])
        headers = sw.headers([VECTOR["secret"], VECTOR["previous_secret"]], VECTOR["webhook_id"], body,
                             timestamp=VECTOR["webhook_timestamp"])
        self.assertEqual(headers["webhook-signature"], VECTOR["signature_header_rotating"])

    def test_delivered_after_commit_with_body_headers_and_signature(self):
        self.reply(body="<p>Hello</p>")
        self.assertEqual(self.receiver.requests, [], "nothing may leave before COMMIT")
        row = self.rows()
        self.commit_hooks()
        self.assertEqual(len(self.receiver.requests), 1)
        request = self.receiver.requests[0]
        self.assertEqual(request["body"], row.payload.encode())
        headers = request["headers"]
        self.assertEqual(headers["webhook-id"], row.webhook_id)
        self.assertAlmostEqual(int(headers["webhook-timestamp"]), fields.Datetime.now().timestamp(), delta=120)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertTrue(verify(VECTOR["secret"], headers, request["body"]))
        self.assertFalse(verify(VECTOR["previous_secret"], headers, request["body"]))
        self.assertEqual(row.state, "sent")
        self.assertEqual(row.last_status_code, 200)
        self.assertEqual(row.attempts, 1)

    def test_delivery_threads_reuse_one_kept_alive_connection(self):
        """Each delivery runs in a thread of its own: the threads share idle HTTP sessions, so
        events one after the other travel on one TCP connection, not a new one each."""
        def deliver(n):
            endpoint_module.post(self.receiver.url, [VECTOR["secret"]], "msg_reuse_%d" % n, b'{"n":%d}' % n)
        for n in range(3):
            thread = threading.Thread(target=deliver, args=(n,))
            thread.start()
            thread.join()
        peers = [r["peer"] for r in self.receiver.requests]
        self.assertEqual(len(peers), 3)
        self.assertEqual(len(set(peers)), 1, "a new connection for every event: %s" % peers)

    def test_rotation_sends_both_signatures_during_the_grace_period(self):
        self.endpoint.secret = VECTOR["previous_secret"]
        self.endpoint.action_rotate_secret()
        new_secret = self.endpoint.secret
        self.assertTrue(new_secret.startswith("whsec_"))
        self.assertEqual(self.endpoint.previous_secret, VECTOR["previous_secret"])
        self.reply()
        self.commit_hooks()
        request = self.receiver.requests[0]
        self.assertTrue(verify(new_secret, request["headers"], request["body"]))
        self.assertTrue(verify(VECTOR["previous_secret"], request["headers"], request["body"]))
        self.endpoint.previous_secret_until = fields.Datetime.now() - timedelta(seconds=1)
        self.reply()
        self.commit_hooks()
        late = self.receiver.requests[1]
        self.assertFalse(verify(VECTOR["previous_secret"], late["headers"], late["body"]))

    def test_failure_schedules_the_next_attempt_on_the_standard_schedule(self):
        self.receiver.script = [(500, {}, b"boom"), (502, {}, b"bad gateway")]
        self.reply()
        self.commit_hooks()
        row = self.rows()
        self.assertEqual(row.state, "failed")
        self.assertEqual(row.attempts, 1)
        self.assertEqual(row.last_status_code, 500)
        self.assertIn("boom", row.last_error)
        delay = (row.next_attempt_at - row.last_attempt_at).total_seconds()
        self.assertTrue(4 <= delay <= 6, delay)                         # 5 s ± 10 %, seconds rounded
        row.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        self.Outbox._cron_deliver()
        self.assertEqual(row.attempts, 2)
        delay = (row.next_attempt_at - row.last_attempt_at).total_seconds()
        self.assertTrue(270 <= delay <= 330, delay)                     # 5 min ± 10 %
        row.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        self.Outbox._cron_deliver()                                      # the receiver is back
        self.assertEqual(row.state, "sent")
        self.assertEqual(len(self.receiver.requests), 3)
        self.assertEqual(len({r["headers"]["webhook-id"] for r in self.receiver.requests}), 1,
                         "every retry carries the same webhook-id")

    def test_retry_after_is_honoured_on_429_and_503(self):
        self.receiver.script = [(429, {"Retry-After": "120"}, b""), (503, {"Retry-After": "7"}, b"")]
        self.reply()
        self.commit_hooks()
        row = self.rows()
        delay = (row.next_attempt_at - row.last_attempt_at).total_seconds()
        self.assertTrue(119 <= delay <= 121, delay)
        row.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        self.Outbox._cron_deliver()
        delay = (row.next_attempt_at - row.last_attempt_at).total_seconds()
        self.assertTrue(6 <= delay <= 8, delay)
        self.assertEqual(row.state, "failed")

    def test_delivery_thread_fast_path_records_its_2xx(self):
        with self.delivery_thread():
            self.reply()
            self.commit_hooks()
        row = self.rows()
        self.assertEqual(len(self.receiver.requests), 1)
        self.assertEqual((row.state, row.attempts, row.last_status_code), ("sent", 1, 200))
        self.assertTrue(row.sent_at)

    def test_delivery_thread_posts_a_failed_first_delivery_once_and_honours_retry_after(self):
        """The delivery thread's first POST (its fast path, before any database work) is attempt
        1: a 503 + Retry-After is recorded as such, and not POSTed again at once. To the last
        attempt: one POST per attempt, no more than the attempt limit."""
        self.receiver.script = [(503, {"Retry-After": "120"}, b"busy")] * (sw.MAX_ATTEMPTS + 1)
        with self.delivery_thread():
            self.reply()
            self.commit_hooks()
        row = self.rows()
        self.assertEqual(len(self.receiver.requests), 1, "one POST for the first attempt")
        self.assertEqual((row.state, row.attempts, row.last_status_code), ("failed", 1, 503))
        delay = (row.next_attempt_at - row.last_attempt_at).total_seconds()
        self.assertTrue(119 <= delay <= 121, delay)
        while row.state == "failed":
            row.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
            self.Outbox._cron_deliver()
        self.assertEqual(row.state, "dead")
        self.assertEqual(row.attempts, sw.MAX_ATTEMPTS)
        self.assertEqual(len(self.receiver.requests), sw.MAX_ATTEMPTS)
        self.assertEqual(len({r["headers"]["webhook-id"] for r in self.receiver.requests}), 1)

    def test_410_disables_the_endpoint_and_says_so(self):
        self.receiver.script = [(410, {}, b"gone")]
        self.reply()
        self.reply(body="<p>second</p>")
        self.commit_hooks()
        self.assertFalse(self.endpoint.enabled)
        self.assertIn("410", self.endpoint.disabled_reason)
        self.assertEqual(len(self.receiver.requests), 1, "nothing more is sent once disabled")
        self.assertEqual(self.rows().mapped("state"), ["pending", "pending"])
        self.endpoint.action_enable()
        self.Outbox._cron_deliver()
        self.assertEqual(self.rows().mapped("state"), ["sent", "sent"])
        self.assertFalse(self.endpoint.disabled_reason)

    def test_order_is_held_per_session_while_an_earlier_event_fails(self):
        self.receiver.script = [(500, {}, b"down")]
        first = self.reply(body="<p>first</p>")
        second = self.reply(body="<p>second</p>")
        other = self.reply(session=self.other_session, body="<p>other session</p>")
        self.commit_hooks()
        sent_ids = [json.loads(r["body"])["data"]["message"]["id"] for r in self.receiver.requests]
        self.assertEqual(sent_ids, [first.id, other.id], "the second message waits for the first")
        head, waiting, _other = self.rows()
        self.assertEqual((head.state, waiting.state), ("failed", "pending"))
        self.Outbox._cron_deliver()                                      # head not due yet: still waiting
        self.assertEqual(waiting.state, "pending")
        head.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        self.Outbox._cron_deliver()
        sent_ids = [json.loads(r["body"])["data"]["message"]["id"] for r in self.receiver.requests]
        self.assertEqual(sent_ids, [first.id, other.id, first.id, second.id])

    def test_dead_after_the_last_attempt_then_retried_by_hand(self):
        self.receiver.script = [(500, {}, b"down")] * sw.MAX_ATTEMPTS
        self.reply()
        self.commit_hooks()
        row = self.rows()
        while row.state == "failed":
            row.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
            self.Outbox._cron_deliver()
        self.assertEqual(row.state, "dead")
        self.assertEqual(row.attempts, sw.MAX_ATTEMPTS)
        self.assertEqual(len(self.receiver.requests), sw.MAX_ATTEMPTS)
        later = self.reply(body="<p>after the dead one</p>")             # a dead event holds nobody back
        self.commit_hooks()
        self.assertEqual(json.loads(self.receiver.requests[-1]["body"])["data"]["message"]["id"], later.id)
        self.assertEqual(self.endpoint.dead_count, 1)
        row.action_retry()
        self.Outbox._cron_deliver()
        self.assertEqual(row.state, "sent")

    def test_unreachable_receiver_is_a_failure_not_an_error(self):
        self.endpoint.url = "http://127.0.0.1:9/v1/webhooks/odoo"       # nothing listens there
        self.reply()
        self.commit_hooks()
        row = self.rows()
        self.assertEqual(row.state, "failed")
        self.assertEqual(row.last_status_code, 0)
        self.assertTrue(row.last_error)

    def test_typing_is_sent_but_never_stored(self):
        member = self.session.channel_member_ids.filtered(lambda m: m.partner_id == self.operator.partner_id)
        member._notify_typing(True)
        self.assertFalse(self.rows())
        self.commit_hooks()
        body = json.loads(self.receiver.requests[0]["body"])
        self.assertEqual(body["type"], "livechat.typing")
        self.assertEqual(body["data"]["typing"], True)
        self.assertEqual(body["data"]["member"]["kind"], "operator")
        self.assertTrue(verify(VECTOR["secret"], self.receiver.requests[0]["headers"], self.receiver.requests[0]["body"]))

    def test_history_command_is_sent_naming_the_operator_but_never_stored(self):
        self.session.with_user(self.operator).execute_command_history()
        self.assertFalse(self.rows())
        self.commit_hooks()
        self.assertEqual(len(self.receiver.requests), 1)
        body = json.loads(self.receiver.requests[0]["body"])
        self.assertEqual(body["type"], "livechat.history_requested")
        self.assertEqual(body["data"]["channel"]["id"], self.session.id)
        self.assertEqual(body["data"]["operator"], {"kind": "operator", "partner_id": self.operator.partner_id.id,
                                                    "name": "Mitchell Operator"})
        self.assertTrue(verify(VECTOR["secret"], self.receiver.requests[0]["headers"], self.receiver.requests[0]["body"]))

    def test_history_asked_by_a_non_member_names_the_sessions_operator(self):
        self.session.with_user(self.manager).execute_command_history()
        self.commit_hooks()
        body = json.loads(self.receiver.requests[0]["body"])
        self.assertEqual(body["data"]["operator"]["partner_id"], self.operator.partner_id.id)

    def test_history_with_the_endpoint_off_sends_nothing(self):
        self.endpoint.enabled = False
        self.session.with_user(self.operator).execute_command_history()
        self.commit_hooks()
        self.assertFalse(self.receiver.requests)

    def test_send_test_event_shows_the_receivers_answer(self):
        self.receiver.script = [(200, {}, b'{"status":"test"}'), (401, {}, b'{"error":"invalid_signature"}')]
        action = self.endpoint.action_send_test()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("HTTP 200", self.endpoint.last_test_result)
        self.assertEqual(json.loads(self.receiver.requests[0]["body"])["type"], "webhook.test")
        action = self.endpoint.action_send_test()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("401", self.endpoint.last_test_result)
        self.assertIn("invalid_signature", action["params"]["message"])
        self.assertEqual(self.rows("webhook.test").mapped("state"), ["sent", "dead"])

    def test_every_webhook_says_its_protocol(self):
        self.reply()
        self.commit_hooks()
        self.assertEqual(self.receiver.requests[0]["headers"]["x-livechat-protocol"], protocol.PROTOCOL_VERSION)

    def test_a_relay_of_another_protocol_is_named_in_the_delivery_log(self):
        refusal = {"error": "unsupported_protocol", "protocol": "2", "supported": ["2"],
                   "message": "This relay speaks livechat protocol 2; the addon sent protocol '1'."}
        self.receiver.script = [(400, {"X-Livechat-Protocol": "2"}, json.dumps(refusal).encode())]
        self.reply()
        with self.assertLogs("odoo.addons.im_livechat_webhook.models.livechat_webhook_endpoint", "WARNING"):
            self.commit_hooks()
        row = self.rows()
        self.assertEqual((row.state, row.last_status_code), ("failed", 400), "retried once both sides match")
        self.assertIn("Unsupported protocol: this addon speaks livechat protocol 1, the relay speaks 2",
                      row.last_error)
        row.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        self.Outbox._cron_deliver()                                      # the relay was upgraded meanwhile
        self.assertEqual(row.state, "sent")
