"""Members joining and leaving a livechat session, and typing (best effort, never stored)."""
from odoo import api, models


class DiscussChannelMember(models.Model):
    _inherit = "discuss.channel.member"

    def _webhook_livechat(self):
        return self.filtered(lambda m: m.channel_id.channel_type == "livechat")

    @api.model_create_multi
    def create(self, vals_list):
        members = super().create(vals_list)
        for member in members._webhook_livechat():
            channel = member.channel_id
            self.env["livechat.webhook.outbox"]._enqueue(
                "livechat.member.joined", channel,
                lambda m=member, c=channel: {"member": c._webhook_person(m.partner_id, m.guest_id)})
        return members

    def unlink(self):
        leaving = [(m.channel_id, m.channel_id._webhook_person(m.partner_id, m.guest_id))
                   for m in self._webhook_livechat() if m.channel_id.exists()]
        res = super().unlink()
        for channel, person in leaving:
            if channel.exists():
                self.env["livechat.webhook.outbox"]._enqueue("livechat.member.left", channel, {"member": person})
        return res

    def _notify_typing(self, is_typing):
        res = super()._notify_typing(is_typing)
        for member in self._webhook_livechat():
            channel = member.channel_id
            self.env["livechat.webhook.outbox"]._send_ephemeral(
                "livechat.typing", channel,
                {"member": channel._webhook_person(member.partner_id, member.guest_id), "typing": bool(is_typing)})
        return res
