"""Odoo Livechat Relay: signed webhooks from Odoo in, WebSocket / long polling / polling out."""

__version__ = "0.1.0"
