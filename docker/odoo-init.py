"""Point the im_livechat_webhook addon at the relay; run by docker/odoo-init.sh in `odoo shell`.

Reads WEBHOOK_URL, RELAY_WEBHOOK_SECRET (the first of its space-separated secrets is the one
Odoo signs with), RELAY_ODOO_LIVECHAT_CHANNEL_ID and ODOO_ADMIN_PASSWORD from the environment.
A changed secret goes through the addon's rotation: the old one keeps signing next to the new
one for the grace period, so a relay that still has only the old one accepts every webhook.
`env` is given by `odoo shell`; nothing is kept unless this script commits.
"""
import base64
import binascii
import os
import sys
from datetime import timedelta

from odoo import fields

INITIALIZED = "odoo_livechat_relay.initialized"


def fail(message):
    print("odoo-init: " + message, file=sys.stderr)
    sys.exit(2)


url = os.environ["WEBHOOK_URL"]
wanted = (os.environ.get("RELAY_WEBHOOK_SECRET") or "").split()
if not wanted or not wanted[0].startswith("whsec_"):
    fail("RELAY_WEBHOOK_SECRET must be a whsec_... secret")
try:
    base64.b64decode(wanted[0][len("whsec_"):], validate=True)
except binascii.Error:
    fail("RELAY_WEBHOOK_SECRET: the text after whsec_ must be base64 (see .env.example)")
secret = wanted[0]
channel_id = int(os.environ.get("RELAY_ODOO_LIVECHAT_CHANNEL_ID") or 1)
first_run = not env["ir.config_parameter"].sudo().get_param(INITIALIZED)  # noqa: F821 (odoo shell)

endpoint = env.ref("im_livechat_webhook.endpoint_default")  # noqa: F821
values = {"url": url, "enabled": True, "disabled_reason": False}
if endpoint.secret != secret:
    values["secret"] = secret
    if endpoint.secret and not first_run:   # rotate: the old secret keeps signing for the grace period
        values["previous_secret"] = endpoint.secret
        values["previous_secret_until"] = fields.Datetime.now() + timedelta(hours=endpoint.rotation_grace_hours or 0)
endpoint.write(values)

Channel = env["im_livechat.channel"]  # noqa: F821
channel = Channel.browse(channel_id).exists()
if not channel and not Channel.search_count([]):
    channel = Channel.create({"name": "Website"})
if not channel or channel.id != channel_id:
    fail("no livechat channel with id %s; set RELAY_ODOO_LIVECHAT_CHANNEL_ID in .env to one of %s"
         % (channel_id, Channel.search([]).ids))
admin = env.ref("base.user_admin")  # noqa: F821
if admin not in channel.user_ids:
    channel.write({"user_ids": [(4, admin.id)]})

if first_run:   # afterwards the password is the administrator's business, changed in Odoo
    admin.password = os.environ["ODOO_ADMIN_PASSWORD"]
    env["ir.config_parameter"].sudo().set_param(INITIALIZED, fields.Datetime.now())  # noqa: F821

env.cr.commit()  # noqa: F821
print("odoo-init: webhooks to %s; livechat channel %s (%r), operator %s"
      % (url, channel.id, channel.name, admin.login))
