"""The client library (``@odoo-livechat-relay/client``), shipped in the relay's wheel as
``proxy.client`` so the relay serves it as ``/client.js`` and ``/client.mjs`` (proxy/api/demo.py)."""
