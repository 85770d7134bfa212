"""The interface the core uses to act as the visitor towards the operator side.

Operator replies never come through here: they arrive as webhooks (or, with the Odoo client, from
the bus or polling) and are appended to the store like any other event.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from proxy.store.base import Conversation

# ``await notify(conversation_id, event)``: appends a relay event to the conversation (set by the core)
Notify = Callable[[str, dict], Awaitable[None]]


class NoOperatorAvailable(Exception):
    """No operator can take the conversation now; nothing was created."""


class UpstreamDown(Exception):
    """The operator side cannot be reached now; nothing was created."""


class UploadRefused(Exception):
    """The operator side does not take this visitor file (``code``: ``not_offered`` where Odoo
    does not let visitors send files in this session, ``session_gone``)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class RatingRefused(Exception):
    """The operator side takes no rating for this session any more (the visitor has left it)."""


class NotOffered(Exception):
    """The operator side does not offer this to visitors (on this version)."""


class FileNotFound(Exception):
    """The operator side has no such file in this conversation (or the visitor may not read it)."""


@dataclass
class UpstreamFile:
    """An operator-side file being streamed: what its source said about it, and its bytes."""
    content_type: str | None
    length: int | None
    filename: str | None
    chunks: AsyncIterator[bytes]


MAX_AVATAR_BYTES = 1 << 20   # a picture larger than this is no avatar: refused


class Upstream(Protocol):
    name: str
    notify: Notify | None   # set by the core: appends a relay event to a conversation

    async def open_session(self, conv: Conversation) -> tuple[str, int]:
        """Open the operator-side session; return ``(database, channel id)`` to bind to."""

    async def handoff(self, conv: Conversation, transcript: str | None, seq: int) -> None:
        """A conversation that was with the bot was just bound to a new session: show the operator
        ``transcript`` (the bot part, who said what); visitor events up to ``seq`` are in it."""

    async def visitor_message(self, conv: Conversation, event: dict) -> None: ...
    async def visitor_typing(self, conv: Conversation, typing: bool) -> None: ...
    async def visitor_left(self, conv: Conversation) -> None: ...

    def open_file(self, conv: Conversation, attachment_id: int,
                  thumbnail: bool = False) -> AbstractAsyncContextManager[UpstreamFile]:
        """Stream one file of the conversation's operator-side session, as its visitor may see it;
        FileNotFound when there is none, UpstreamDown when the operator side cannot be reached."""

    async def upload_file(self, conv: Conversation, name: str, mimetype: str,
                          chunks: AsyncIterator[bytes]) -> tuple[int, str]:
        """Stream a visitor's file to the operator-side session (pending until a message carries
        it); ``(attachment id, the token proving the visitor owns it)``."""

    async def rate(self, conv: Conversation, rating: int, comment: str | None) -> None:
        """The visitor rates the conversation (5, 3 or 1, as Odoo's feedback panel); a new rating
        replaces the previous one."""

    async def seen(self, conv: Conversation, message_id: int) -> None:
        """The visitor has seen the conversation up to operator-side message ``message_id``."""

    async def config(self, livechat_channel_id: int | None, page_url: str | None, lang: str | None) -> dict:
        """Before any conversation (docs/protocol.md §6): ``{available, rule, texts, colors}`` for
        that channel, page and visitor language, as the operator side's own widget would start;
        FileNotFound for a channel it does not have, UpstreamDown."""

    async def email_transcript(self, conv: Conversation, email: str) -> None:
        """The operator side mails the conversation to ``email``; NotOffered where it does not."""

    def transcript_pdf(self, conv: Conversation) -> AbstractAsyncContextManager[UpstreamFile]:
        """The operator side's own PDF of the conversation; NotOffered where there is none."""

    async def avatar(self, conv: Conversation, partner_id: int) -> tuple[str, bytes]:
        """(content type, bytes) of an operator's or bot's picture as this conversation's visitor
        may see it; FileNotFound, UpstreamDown."""

    async def close(self) -> None:
        """The relay stops: end what the upstream runs in the background."""
