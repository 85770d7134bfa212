"""``python -m tools.test_websocket URL``: only the WebSocket checks of ``tools.smoke`` (a
conversation, the ``hello`` frame, ``ping`` answered by ``pong``); the seed guide's "Basic test".
Same options and exit status as ``tools.smoke``. (A tool, not a pytest module.)"""
from __future__ import annotations

import sys

from tools.smoke import WEBSOCKET_CHECKS, main

__test__ = False   # the name starts with test_: keep pytest from collecting it


def run(argv: list[str] | None = None) -> int:
    return main(argv, only=WEBSOCKET_CHECKS, prog="python -m tools.test_websocket")


if __name__ == "__main__":
    sys.exit(run())
