"""The relay's Odoo client: acting as the visitor through Odoo's public livechat routes."""
