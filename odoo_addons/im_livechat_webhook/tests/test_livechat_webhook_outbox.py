"""Which livechat activity becomes which outbox row, with the payload of PROTOCOL §1."""
import json

from markupsafe import Markup

from odoo import Command
from odoo.tests import new_test_user

from .common import LivechatWebhookCase


class TestLivechatWebhookOutbox(LivechatWebhookCase):
    def test_operator_reply_creates_exactly_one_row_with_the_protocol_payload(self):
        message = self.reply(body="<p>Hello <b>there</b></p>")
        rows = self.rows()
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual(row.event_type, "livechat.message.created")
        self.assertEqual(row.state, "pending")
        self.assertEqual(row.session_key, self.session.id)
        self.assertTrue(row.webhook_id.startswith("msg_"))
        body = json.loads(row.payload)
        self.assertEqual(set(body), {"type", "timestamp", "data"})
        self.assertEqual(body["type"], "livechat.message.created")
        self.assertTrue(body["timestamp"].endswith("Z"))
        data = body["data"]
        self.assertEqual(data["database"], self.env.cr.dbname)
        self.assertRegex(data["odoo_version"], r"^(saas~)?\d+\.\d+")
        self.assertEqual(data["channel"], {"id": self.session.id, "uuid": self.session.uuid,
                                           "livechat_channel_id": self.livechat.id})
        msg = data["message"]
        self.assertEqual(msg["id"], message.id)
        self.assertEqual(msg["author"], {"kind": "operator", "partner_id": self.operator.partner_id.id,
                                         "name": "Mitchell Operator"})
        self.assertIn("<b>there</b>", msg["body_html"])
        self.assertEqual(msg["body_text"], "Hello there")
        self.assertTrue(msg["date"].endswith("Z"))
        self.assertEqual(msg["attachments"], [])

    def test_an_operator_alias_is_the_only_name_sent(self):
        """Odoo shows visitors the operator's livechat username: so must every event, and the
        real name must not appear anywhere in what is sent."""
        self.operator.livechat_username = "Sam from Support"
        self.env.invalidate_all()
        self.reply(body="<p>Hello</p>")
        newcomer = new_test_user(self.env, login="lw_operator_alias2", name="Rosalind Realname",
                                 groups="base.group_user,im_livechat.im_livechat_group_user")
        newcomer.livechat_username = "Rose"
        self.env.invalidate_all()
        self.session.add_members(partner_ids=newcomer.partner_id.ids)
        payloads = [r.payload for r in self.rows()]
        author = json.loads(payloads[0])["data"]["message"]["author"]
        self.assertEqual(author["name"], "Sam from Support")
        joined = [json.loads(p)["data"] for p in payloads if json.loads(p)["type"] == "livechat.member.joined"]
        self.assertEqual([j["member"]["name"] for j in joined], ["Rose"])
        for payload in payloads:
            self.assertNotIn("Mitchell", payload)
            self.assertNotIn("Realname", payload)

    def test_visitor_and_bot_messages_carry_their_kind(self):
        self.visitor_post()
        bot_partner = self.env["res.partner"].create({"name": "Support Bot"})
        self.env["chatbot.script"].create({"title": "Bot", "operator_partner_id": bot_partner.id})
        self.session.sudo().message_post(body="<p>Beep</p>", author_id=bot_partner.id,
                                         message_type="comment", subtype_xmlid="mail.mt_comment")
        kinds = [json.loads(r.payload)["data"]["message"]["author"]["kind"] for r in self.rows()]
        self.assertEqual(kinds, ["visitor", "bot"])
        visitor = json.loads(self.rows()[0].payload)["data"]["message"]["author"]
        self.assertEqual(visitor["partner_id"], None)
        self.assertEqual(visitor["name"], "Visitor 1")

    def test_attachments_have_a_tokenised_url(self):
        attachment = self.env["ir.attachment"].create({
            "name": "invoice.pdf", "datas": "JVBERi0xLjQK", "mimetype": "application/pdf",
            "res_model": "discuss.channel", "res_id": self.session.id})
        self.reply(body="<p>Here you go</p>", attachment_ids=attachment.ids)
        item = json.loads(self.rows()[0].payload)["data"]["message"]["attachments"]
        self.assertEqual(len(item), 1)
        self.assertEqual(item[0]["name"], "invoice.pdf")
        self.assertEqual(item[0]["mimetype"], "application/pdf")
        self.assertRegex(item[0]["url"], r"/web/content/%d\?access_token=\S+" % attachment.id)

    def test_notifications_notes_and_other_channels_create_nothing(self):
        self.session.message_post(body="<p>joined</p>", message_type="notification")
        self.session.with_user(self.operator).message_post(body="<p>internal</p>", message_type="comment",
                                                           subtype_xmlid="mail.mt_note")
        group = self.env["discuss.channel"].create({"name": "general", "channel_type": "channel"})
        group.message_post(body="<p>not livechat</p>", message_type="comment", subtype_xmlid="mail.mt_comment")
        self.assertFalse(self.rows())

    def test_edit_and_delete(self):
        message = self.reply(body="<p>first</p>")
        # as /mail/message/update_content does once it has checked the author's rights
        self.session._message_update_content(message.sudo(), body=Markup("<p>second</p>"))
        self.session._message_update_content(message.sudo(), body="", attachment_ids=[])
        rows = self.rows()
        self.assertEqual(rows.mapped("event_type"),
                         ["livechat.message.created", "livechat.message.updated", "livechat.message.deleted"])
        updated = json.loads(rows[1].payload)["data"]["message"]
        self.assertEqual(updated["id"], message.id)
        self.assertIn("second", updated["body_text"])
        self.assertEqual(json.loads(rows[2].payload)["data"]["message"], {"id": message.id})

    def test_hard_unlink_is_a_deletion(self):
        message = self.reply()
        message_id = message.id
        message.sudo().unlink()
        rows = self.rows()
        self.assertEqual(rows.mapped("event_type"), ["livechat.message.created", "livechat.message.deleted"])
        self.assertEqual(json.loads(rows[1].payload)["data"]["message"], {"id": message_id})

    def test_members_joining_and_leaving(self):
        colleague = self.env["res.users"].create({
            "name": "Second Operator", "login": "lw_second",
            "groups_id" if "groups_id" in self.env["res.users"]._fields else "group_ids":
                [Command.set([self.env.ref("base.group_user").id])]})
        self.session.add_members(partner_ids=colleague.partner_id.ids)
        member = self.session.channel_member_ids.filtered(lambda m: m.partner_id == colleague.partner_id)
        member.unlink()
        joined, left = self.rows("livechat.member.joined"), self.rows("livechat.member.left")
        self.assertEqual(len(joined), 1)
        self.assertEqual(len(left), 1)
        self.assertEqual(json.loads(joined.payload)["data"]["member"],
                         {"kind": "operator", "partner_id": colleague.partner_id.id, "name": "Second Operator"})
        self.assertEqual(json.loads(left.payload)["data"]["member"]["partner_id"], colleague.partner_id.id)

    def test_session_closed_once(self):
        self.reply()
        self.session._close_livechat_session()
        self.session._close_livechat_session()
        closed = self.rows("livechat.session.closed")
        self.assertEqual(len(closed), 1)
        self.assertEqual(json.loads(closed.payload)["data"]["channel"]["id"], self.session.id)

    def test_disabled_endpoint_or_filtered_type_writes_nothing(self):
        self.endpoint.send_messages = False
        self.reply()
        self.assertFalse(self.rows())
        self.endpoint.write({"send_messages": True, "enabled": False})
        self.reply()
        self.assertFalse(self.rows())

    def test_rollback_leaves_nothing_and_sends_nothing(self):
        try:
            with self.env.cr.savepoint():
                self.reply(body="<p>never committed</p>")
                self.assertEqual(len(self.rows()), 1)
                raise RuntimeError("operator request fails after posting")
        except RuntimeError as exc:
            self.assertIn("fails after posting", str(exc))
        self.assertFalse(self.rows())
        self.commit_hooks()
        self.assertEqual(self.receiver.requests, [])

    def test_the_safety_net_cron_keeps_running(self):
        cron = self.env.ref("im_livechat_webhook.ir_cron_deliver_webhooks")
        self.assertTrue(cron.active)
        if "numbercall" in cron._fields:   # 17: the default of 1 would run it once, then switch it off
            self.assertEqual(cron.numbercall, -1)
