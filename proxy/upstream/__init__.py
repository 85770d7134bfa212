"""What stands behind the relay: Odoo (the Odoo client) or the demo operator console."""
