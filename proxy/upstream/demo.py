"""Demo stand-in for Odoo: sessions live in the relay, a person answers from the ``/demo`` console.

The console's replies are sent as signed webhooks to ``/v1/webhooks/odoo`` (see api/demo.py),
exactly the path the Odoo addon uses; this class only opens "sessions" and says whether the demo
operator is online.
"""
from __future__ import annotations

import itertools
import random

from proxy.store.base import Conversation
from proxy.upstream.base import NoOperatorAvailable

DEMO_DATABASE = "demo"


class DemoUpstream:
    name = "demo"

    def __init__(self) -> None:
        self.operator_online = True
        self.notify = None
        self.joined: set[str] = set()   # conversations the console's operator has joined
        self._ids = itertools.count(random.randint(1, 1 << 30))

    async def open_session(self, conv: Conversation) -> tuple[str, int]:
        if not self.operator_online:
            raise NoOperatorAvailable()
        return DEMO_DATABASE, next(self._ids)

    async def handoff(self, conv: Conversation, transcript: str | None, seq: int) -> None:
        """The console shows the whole conversation, bot part included, from the store."""

    async def visitor_message(self, conv: Conversation, event: dict) -> None:
        """The console reads visitor messages from the store; nothing to forward."""

    async def visitor_typing(self, conv: Conversation, typing: bool) -> None:
        """Not shown in the console."""

    async def visitor_left(self, conv: Conversation) -> None:
        """The console sees the ``closed`` event."""
