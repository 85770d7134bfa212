"""The info route the relay and tools/probe read: the addon's version and its protocol."""
from odoo import release
from odoo.tests import HttpCase, tagged

from ..tools import protocol


@tagged("post_install", "-at_install")
class TestLivechatWebhookInfo(HttpCase):
    def test_info_says_version_series_and_protocol(self):
        response = self.url_open("/im_livechat_webhook/info")
        self.assertEqual(response.status_code, 200)
        info = response.json()
        self.assertEqual(info["addon"], "im_livechat_webhook")
        self.assertEqual(info["protocol"], protocol.PROTOCOL_VERSION)
        self.assertEqual(info["signing"], "standard-webhooks-v1")
        self.assertEqual(info["odoo_version"], release.serie)
        self.assertTrue(info["version"].startswith(release.serie + "."), info["version"])
