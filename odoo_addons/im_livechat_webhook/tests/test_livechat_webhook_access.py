"""Only Livechat administrators see the outbox and the secret."""
from odoo.exceptions import AccessError
from odoo.tests.common import new_test_user

from .common import LivechatWebhookCase


class TestLivechatWebhookAccess(LivechatWebhookCase):
    def test_only_livechat_administrators_read_the_outbox_and_the_endpoint(self):
        self.reply()
        row = self.rows()
        portal = new_test_user(self.env, login="lw_portal", groups="base.group_portal")
        public = self.env.ref("base.public_user")
        for user in (portal, public, self.operator):
            with self.assertRaises(AccessError, msg=user.login):
                row.with_user(user).read(["payload"])
            with self.assertRaises(AccessError, msg=user.login):
                self.endpoint.with_user(user).read(["secret"])
            with self.assertRaises(AccessError, msg=user.login):
                self.env["livechat.webhook.outbox"].with_user(user).search([])
        self.assertEqual(row.with_user(self.manager).read(["state"])[0]["state"], "pending")
        self.assertTrue(self.endpoint.with_user(self.manager).secret.startswith("whsec_"))

    def test_operators_replies_are_queued_whatever_their_rights(self):
        """An operator cannot read the outbox but their reply still writes to it (sudo)."""
        self.reply()
        self.assertEqual(len(self.rows()), 1)
