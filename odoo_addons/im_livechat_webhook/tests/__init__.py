from . import test_livechat_webhook_outbox
from . import test_livechat_webhook_delivery
from . import test_livechat_webhook_access
from . import test_livechat_webhook_concurrency
from . import test_livechat_webhook_info
