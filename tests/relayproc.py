"""The tests' real relay process: ``tools.relayproc`` (the tools spawn relays too), re-exported."""
from tools.relayproc import (ROOT, SECRET, TOKEN_SECRET, RelayProcess, free_port, new_webhook_id,
                             operator_message, webhook_body)

__all__ = ["ROOT", "SECRET", "TOKEN_SECRET", "RelayProcess", "free_port", "new_webhook_id",
           "operator_message", "webhook_body"]
