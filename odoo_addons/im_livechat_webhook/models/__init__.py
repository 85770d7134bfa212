from . import livechat_webhook_endpoint
from . import livechat_webhook_outbox
from . import discuss_channel
from . import discuss_channel_member
from . import mail_message
