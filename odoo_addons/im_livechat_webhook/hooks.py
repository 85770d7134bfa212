from .tools.standard_webhooks import new_secret


def post_init_hook(env):
    """Give the default endpoint a fresh ``whsec_`` secret on install."""
    endpoint = env.ref("im_livechat_webhook.endpoint_default", raise_if_not_found=False)
    if endpoint and not endpoint.secret:
        endpoint.secret = new_secret()
