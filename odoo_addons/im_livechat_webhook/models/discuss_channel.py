"""Livechat sessions (``discuss.channel`` of type livechat) turned into webhook events.

One source for Odoo 17, 18 and 19: the session is open while ``livechat_active`` (17/18) or
until ``livechat_end_dt`` is set (19), so closing is caught in ``write``; ``_message_update_content``
changes its signature between versions, so the override passes arguments through untouched;
members joining and leaving are caught on ``discuss.channel.member`` create and unlink.
"""
from odoo import SUPERUSER_ID, fields, models, release

from ..tools.text import html_to_text


def _iso(dt):
    return fields.Datetime.to_datetime(dt).isoformat() + "Z" if dt else None


class DiscussChannel(models.Model):
    _inherit = "discuss.channel"

    # ------------------------------------------------------------------ payload pieces

    def _webhook_is_livechat(self):
        return self.channel_type == "livechat"

    def _webhook_is_open(self):
        self.ensure_one()
        if "livechat_end_dt" in self._fields:          # 19
            return not self.livechat_end_dt
        return bool(self.livechat_active)              # 17, 18

    def _webhook_header(self):
        self.ensure_one()
        return {
            "database": self.env.cr.dbname,
            "odoo_version": release.serie,
            "channel": {"id": self.id, "uuid": self.uuid,
                        "livechat_channel_id": self.livechat_channel_id.id or None},
        }

    def _webhook_is_bot(self, partner):
        return bool(self.env["chatbot.script"].sudo().with_context(active_test=False).search_count(
            [("operator_partner_id", "=", partner.id)], limit=1))

    def _webhook_kind(self, partner=None, guest=None):
        """operator, bot or visitor (PROTOCOL §1), from 19's member type when there is one."""
        self.ensure_one()
        if guest or not partner:
            return "visitor"
        user = self.env.user
        if partner == user.partner_id and not user.share and user.id != SUPERUSER_ID:
            return "operator"                        # the operator posting: nothing to look up
        root = self.env.ref("base.partner_root")
        if partner != root and any(not user.share for user in partner.sudo().user_ids):
            return "operator"                        # an internal user: the common case, decided cheaply
        member = self.sudo().channel_member_ids.filtered(lambda m: m.partner_id == partner)[:1]
        member_type = member and "livechat_member_type" in member._fields and member.livechat_member_type
        if member_type:
            return {"agent": "operator", "bot": "bot", "visitor": "visitor"}.get(member_type, "operator")
        if partner == root or self._webhook_is_bot(partner):
            return "bot"
        return "visitor" if partner.partner_share else "operator"

    def _webhook_person(self, partner=None, guest=None):
        kind = self._webhook_kind(partner, guest)
        return {"kind": kind, "partner_id": partner.id if partner else None,
                "name": self._webhook_visible_name(partner, guest)}

    @staticmethod
    def _webhook_visible_name(partner=None, guest=None):
        """The name Odoo shows visitors: an operator's livechat username when set (Live Chat ›
        Configuration, or the user's preferences), never the real name behind it."""
        if partner:
            partner = partner.sudo()
            alias = "user_livechat_username" in partner._fields and partner.user_livechat_username
            return alias or partner.name or ""
        return (guest.name if guest else "") or ""

    def _webhook_message(self, message):
        self.ensure_one()
        message = message.sudo()
        body = message.body or ""
        base_url = self.get_base_url()
        attachments = []
        for attachment in message.attachment_ids.sudo():
            token = attachment.access_token or attachment.generate_access_token()[0]
            attachments.append({
                "id": attachment.id, "name": attachment.name or "",
                "mimetype": attachment.mimetype or "application/octet-stream",
                "size": attachment.file_size or 0,
                "url": "%s/web/content/%s?access_token=%s" % (base_url, attachment.id, token),
            })
        return {
            "id": message.id,
            "author": self._webhook_person(message.author_id, message.author_guest_id),
            "body_html": str(body),
            "body_text": html_to_text(body),
            "date": _iso(message.date),
            "attachments": attachments,
        }

    @staticmethod
    def _webhook_message_is_empty(message):
        """What the UI calls "delete": no text left (18/19 keep an 'edited' marker) and no attachment."""
        return not html_to_text(message.body) and not message.attachment_ids

    # ------------------------------------------------------------------ hooks

    def _message_post_after_hook(self, message, msg_vals):
        res = super()._message_post_after_hook(message, msg_vals)
        if self._webhook_is_livechat() and message.message_type == "comment" and not message.subtype_id.internal:
            self.env["livechat.webhook.outbox"]._enqueue(
                "livechat.message.created", self, lambda: {"message": self._webhook_message(message)})
        return res

    def _message_update_content(self, message, *args, **kwargs):
        res = super()._message_update_content(message, *args, **kwargs)
        if self._webhook_is_livechat() and message.message_type == "comment":
            if self._webhook_message_is_empty(message):
                self.env["livechat.webhook.outbox"]._enqueue(
                    "livechat.message.deleted", self, {"message": {"id": message.id}})
            else:
                self.env["livechat.webhook.outbox"]._enqueue(
                    "livechat.message.updated", self, lambda: {"message": self._webhook_message(message)})
        return res

    def execute_command_history(self, **kwargs):
        """An operator's ``/history``: Odoo asks the visitor's own widget on the bus, which a relay
        following by webhooks does not see; ``livechat.history_requested`` tells it, naming the
        operator to show the pages to (who asked, if a member of the session; else its operator).
        Sent as typing is (signed, never stored, never retried): the operator may simply ask again,
        and a relay that does not know this event answers 400 without holding back the others."""
        res = super().execute_command_history(**kwargs)
        for channel in self.filtered(lambda c: c._webhook_is_livechat()):
            partner = self.env.user.partner_id
            if partner not in channel.sudo().channel_member_ids.partner_id:
                partner = channel.sudo().livechat_operator_id or partner
            self.env["livechat.webhook.outbox"]._send_ephemeral(
                "livechat.history_requested", channel, {"operator": channel._webhook_person(partner)})
        return res

    def write(self, vals):
        field = "livechat_end_dt" if "livechat_end_dt" in self._fields else "livechat_active"
        if field not in vals:
            return super().write(vals)
        was_open = self.filtered(lambda c: c._webhook_is_livechat() and c._webhook_is_open())
        res = super().write(vals)
        for channel in was_open.filtered(lambda c: not c._webhook_is_open()):
            self.env["livechat.webhook.outbox"]._enqueue("livechat.session.closed", channel, {})
        return res
