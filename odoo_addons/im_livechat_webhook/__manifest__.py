{
    "name": "Livechat Webhooks",
    "summary": "Push livechat messages and session events to an external relay as signed, "
               "ordered, retried webhooks (Standard Webhooks v1)",
    "version": "1.0.0",
    "category": "Website/Live Chat",
    "license": "LGPL-3",
    "author": "Odoo Livechat Relay contributors",
    "website": "https://github.com/odoo-livechat-relay/odoo-livechat-relay",
    "depends": ["im_livechat"],
    "data": [
        "security/ir.model.access.csv",
        "data/livechat_webhook_endpoint_data.xml",
        "data/ir_cron_data.xml",
        "views/livechat_webhook_endpoint_views.xml",
        "views/livechat_webhook_outbox_views.xml",
        "views/menus.xml",
    ],
    "post_init_hook": "post_init_hook",
}
