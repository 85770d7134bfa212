"""Demo stand-in for Odoo: sessions live in the relay, a person answers from the ``/demo`` console.

The console's replies are sent as signed webhooks to ``/v1/webhooks/odoo`` (see api/demo.py),
exactly the path the Odoo addon uses; this class only opens "sessions" and says whether the demo
operator is online.
"""
from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import AsyncIterator

from proxy.store.base import Conversation
from proxy.upstream.base import FileNotFound, NoOperatorAvailable, Notify, NotOffered, UpstreamFile

DEMO_DATABASE = "demo"
DEMO_OPERATOR_PARTNER = 3      # the console's operator (api/demo.py)


class DemoUpstream:
    name = "demo"

    def __init__(self) -> None:
        self.operator_online = True
        self.notify: Notify | None = None
        self.joined: set[str] = set()   # conversations the console's operator has joined
        self._ids = itertools.count(random.randint(1, 1 << 30))
        # files the console's operator sent: attachment id → (session id, name, mimetype, bytes)
        self.files: dict[int, tuple[int, str, str, bytes]] = {}
        self._file_ids = itertools.count(random.randint(1, 1 << 30))
        self.ratings: dict[str, tuple[int, str | None]] = {}
        self.seen_up_to: dict[str, int] = {}
        self.mailed: list[tuple[str, str]] = []    # (conversation, email) of each transcript asked by email
        self.histories: dict[str, list[str]] = {}  # conversation → the page history last answered to the console

    def add_file(self, channel_id: int, name: str, mimetype: str, data: bytes) -> dict:
        """Keep a file the console sends with a reply; the attachment as a webhook carries it."""
        file_id = next(self._file_ids)
        self.files[file_id] = (channel_id, name, mimetype, data)
        return {"id": file_id, "name": name, "mimetype": mimetype, "size": len(data)}

    async def config(self, livechat_channel_id: int | None, page_url: str | None, lang: str | None) -> dict:
        """The console's one channel: available while its operator is online, no rules; texts in
        English only (another language gets none: the widget's own strings then)."""
        if livechat_channel_id not in (None, 1):
            raise FileNotFound()
        english = not lang or lang.lower().startswith("en")
        return {"available": self.operator_online,
                "rule": {"action": "display_button", "auto_popup_timer": 0, "chatbot": False},
                "texts": {"button": "Chat with us", "welcome": "Hello, how may I help you?"} if english else {},
                "colors": {}}

    async def email_transcript(self, conv: Conversation, email: str) -> None:
        """Kept for the console (and tests): the demo sends no mail."""
        self.mailed.append((conv.id, email))

    def transcript_pdf(self, conv: Conversation):
        """No PDF here (Odoo 19 makes one; the relay's own text and HTML are always there)."""
        raise NotOffered()

    async def avatar(self, conv: Conversation, partner_id: int) -> tuple[str, bytes]:
        """The console's operator: a round badge with its initial (what Odoo draws without a photo)."""
        if partner_id != DEMO_OPERATOR_PARTNER or conv.id not in self.joined:
            raise FileNotFound()
        return "image/svg+xml", (b'<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128">'
                                 b'<circle cx="64" cy="64" r="64" fill="#714B67"/><text x="64" y="84" font-size="60" '
                                 b'text-anchor="middle" fill="#fff" font-family="sans-serif">D</text></svg>')

    async def page_history(self, conv: Conversation, urls: list[str], partner_id: int | None) -> None:
        """Kept for the console (and tests): the pages answered to the console's ``/history``."""
        self.histories[conv.id] = list(urls)

    async def seen(self, conv: Conversation, message_id: int) -> None:
        """Kept for the console (and tests): how far each conversation's visitor has read."""
        self.seen_up_to[conv.id] = message_id

    async def rate(self, conv: Conversation, rating: int, comment: str | None) -> None:
        """Kept for the console (and tests): the last rating of each conversation."""
        self.ratings[conv.id] = (rating, comment)

    async def upload_file(self, conv: Conversation, name: str, mimetype: str,
                          chunks: AsyncIterator[bytes]) -> tuple[int, str]:
        """A visitor's file, kept in memory as Odoo would keep it on the session."""
        data = b"".join([chunk async for chunk in chunks])
        assert conv.odoo_channel_id is not None   # files go to a session: the conversation is bound
        attachment = self.add_file(conv.odoo_channel_id, name, mimetype, data)
        return attachment["id"], "demo-token-" + str(attachment["id"])

    @contextlib.asynccontextmanager
    async def open_file(self, conv: Conversation, attachment_id: int, thumbnail: bool = False) -> AsyncIterator[UpstreamFile]:
        found = self.files.get(attachment_id)
        if found is None or found[0] != conv.odoo_channel_id:
            raise FileNotFound()
        _channel, name, mimetype, data = found

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), 65536):
                yield data[start:start + 65536]
        yield UpstreamFile(mimetype, len(data), name, chunks())

    async def open_session(self, conv: Conversation) -> tuple[str, int]:
        if not self.operator_online:
            raise NoOperatorAvailable()
        return DEMO_DATABASE, next(self._ids)

    async def close(self) -> None:
        """Nothing runs in the background."""

    async def handoff(self, conv: Conversation, transcript: str | None, seq: int) -> None:
        """The console shows the whole conversation, bot part included, from the store."""

    async def visitor_message(self, conv: Conversation, event: dict) -> None:
        """The console reads visitor messages from the store; nothing to forward."""

    async def visitor_typing(self, conv: Conversation, typing: bool) -> None:
        """Not shown in the console."""

    async def visitor_left(self, conv: Conversation) -> None:
        """The console sees the ``closed`` event."""
