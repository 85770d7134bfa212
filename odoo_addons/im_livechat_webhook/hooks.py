from .tools.standard_webhooks import new_secret


def post_init_hook(env):
    """Give the default endpoint a fresh ``whsec_`` secret on install."""
    endpoint = env.ref("im_livechat_webhook.endpoint_default", raise_if_not_found=False)
    if endpoint and not endpoint.secret:
        endpoint.secret = new_secret()
    cron = env.ref("im_livechat_webhook.ir_cron_deliver_webhooks", raise_if_not_found=False)
    if cron and "numbercall" in cron._fields:   # 17: the default (1) would run it once, then deactivate it
        cron.numbercall = -1
