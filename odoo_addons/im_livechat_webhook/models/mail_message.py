"""A livechat message removed for good (``unlink``, not the UI's "delete", which empties it)."""
from odoo import models


class MailMessage(models.Model):
    _inherit = "mail.message"

    def unlink(self):
        livechat = self.sudo().filtered(lambda m: m.model == "discuss.channel" and m.message_type == "comment")
        gone = []
        if livechat:
            channels = self.env["discuss.channel"].sudo().browse(livechat.mapped("res_id")).exists()
            by_id = {c.id: c for c in channels if c.channel_type == "livechat"}
            gone = [(by_id[m.res_id], m.id) for m in livechat if m.res_id in by_id]
        res = super().unlink()
        for channel, message_id in gone:
            if channel.exists():
                self.env["livechat.webhook.outbox"]._enqueue(
                    "livechat.message.deleted", channel, {"message": {"id": message_id}})
        return res
