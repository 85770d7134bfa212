"""The interface the core uses to act as the visitor towards the operator side.

Operator replies never come through here: they arrive as webhooks (or, with the Odoo client, from
the bus or polling) and are appended to the store like any other event.
"""
from __future__ import annotations

from typing import Protocol

from proxy.store.base import Conversation


class NoOperatorAvailable(Exception):
    """No operator can take the conversation now; nothing was created."""


class UpstreamDown(Exception):
    """The operator side cannot be reached now; nothing was created."""


class Upstream(Protocol):
    name: str
    notify: object   # set by the core: ``async notify(conversation_id, event)`` appends a relay event

    async def open_session(self, conv: Conversation) -> tuple[str, int]:
        """Open the operator-side session; return ``(database, channel id)`` to bind to."""

    async def handoff(self, conv: Conversation, transcript: str | None, seq: int) -> None:
        """A conversation that was with the bot was just bound to a new session: show the operator
        ``transcript`` (the bot part, who said what); visitor events up to ``seq`` are in it."""

    async def visitor_message(self, conv: Conversation, event: dict) -> None: ...
    async def visitor_typing(self, conv: Conversation, typing: bool) -> None: ...
    async def visitor_left(self, conv: Conversation) -> None: ...
