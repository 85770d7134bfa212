"""The store interface and the guarantees every backend keeps.

Guarantees (tests/proxy/store/test_contract.py checks them on every backend):

- ``append`` assigns ``seq`` atomically: per conversation 1, 2, 3… with no gap, never reused,
  even across restarts; the event is durable when ``append`` returns.
- ``append`` with a ``webhook_id`` already seen stores nothing and says so; with a ``dedupe_key``
  already present in that conversation it stores nothing and returns the first event.
- ``events_after(after)`` returns the kept events with a larger ``seq`` in order; ``reset`` is
  true when some of the asked-for events were purged (or ``after`` is beyond ``last_seq``, or
  ``after`` is a seq that a reader may have been shown for another event: below); that rule is
  ``replay_reset``, the one every backend applies.
- Any backend failure surfaces as ``StoreError``, never as a half-written event.

Publishing before the commit (``early``, the SQLite store; a store may ignore it): ``append``
may hand the event to ``early.seq(conversation_id, event)`` on the event loop as soon as it has
its seq, before it is durable (the caller's answer still waits for durability), then calls
``early.settled(conversation_id, durable)`` once its transaction is committed or failed, and
says so with ``Appended.published``. At most one event per conversation is ever out before its
commit, the newest, so a reader can be ahead of the store by that one event only. When it was
shown and then lost (a crash, a failed commit), the next event of that conversation takes the
same seq: the store remembers such a seq as *unsure* and ``events_after`` answers ``reset`` for
an ``after`` equal to it, so a widget that saw the lost event starts over instead of missing the
one that took its place; the event that takes an unsure seq is never published before its commit.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from proxy.cluster.base import Cluster
    from proxy.hub import Hub


@dataclasses.dataclass
class Conversation:
    id: str
    created_at: float
    last_activity: float
    visitor_name: str = ""
    lang: str | None = None
    page_url: str | None = None
    livechat_channel_id: int | None = None
    odoo_database: str | None = None
    odoo_channel_id: int | None = None
    closed: bool = False
    last_seq: int = 0
    upstream: dict | None = None    # the conversation's state (typed: proxy/state.py); never sent to widgets


@dataclasses.dataclass
class Appended:
    event: dict | None      # the stored event (the first one when deduplicated); None for a seen webhook id
    created: bool           # False: nothing was written
    published: bool = False  # already handed to ``early.seq``, before its commit


class Early(Protocol):
    """What ``append`` tells about an event it hands out before its commit (module docstring)."""

    def seq(self, conversation_id: str, event: dict) -> None: ...
    def settled(self, conversation_id: str, durable: bool) -> None: ...


@dataclasses.dataclass
class Replay:
    events: list[dict]
    last_seq: int
    reset: bool = False


def replay_reset(after: int, last_seq: int, first_kept: int, unsure: bool = False) -> bool:
    """Whether a replay from ``after`` must start over (from 0, ``Replay.reset``), one rule for
    every store (module docstring): ``after`` is beyond ``last_seq`` (the reader knows a history
    this conversation does not have), or some event the reader asks for (``after + 1`` up to
    ``last_seq``) was purged (``first_kept``: the smallest kept seq, ``last_seq + 1`` when none is
    kept), or ``after`` is an *unsure* seq (``unsure``: the reader may have been shown another
    event under it; never for ``after`` 0, nothing was shown then)."""
    if after > last_seq:
        return True
    if after + 1 < first_kept and after < last_seq:
        return True
    return unsure and after > 0


def open_of(convs: Iterable[Conversation], bound: bool, limit: int) -> list[Conversation]:
    """``Store.open_bound`` (``bound``) or ``open_unbound`` of a store's candidate conversations:
    the ones not closed, bound to an operator-side session or not, most recently active first
    (ties by id), at most ``limit``."""
    kept = sorted((c for c in convs if not c.closed and (c.odoo_channel_id is not None) == bound),
                  key=lambda c: c.id)
    kept.sort(key=lambda c: c.last_activity, reverse=True)
    return kept[:limit]


@runtime_checkable
class Store(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...

    async def cluster(self, hub: Hub, lease_ttl: float) -> Cluster:
        """The leases and fan-out (not started) of the relay nodes sharing this store: in this
        process when no other node can share it (proxy/cluster/base.py)."""

    async def meta_setdefault(self, key: str, value: str) -> str:
        """Keep ``value`` under ``key`` unless one is there already; return the kept one."""

    async def create_conversation(self, conv: Conversation) -> None: ...
    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...
    async def list_conversations(self, limit: int = 100) -> list[Conversation]: ...
    async def bind(self, conversation_id: str, database: str, channel_id: int) -> None: ...
    async def find_bound(self, database: str, channel_id: int) -> str | None: ...
    async def merge_upstream(self, conversation_id: str, changes: dict) -> None:
        """Merge ``changes`` (a patch of proxy/state.py's records) into the conversation's state,
        atomically, JSON merge-patch style (RFC 7396: nested objects merge, ``None`` deletes a key),
        so writers of different keys never undo each other."""

    async def open_bound(self, limit: int = 100_000) -> list[Conversation]:
        """Conversations bound to an operator-side session and not closed (to resume after a restart)."""

    async def open_unbound(self, limit: int = 100_000) -> list[Conversation]:
        """Open conversations bound to no operator-side session yet (with the bot, to resume)."""

    async def append(self, conversation_id: str, event: dict, *, dedupe_key: str | None = None,
                     webhook_id: str | None = None, closes: bool = False, early: Early | None = None) -> Appended: ...
    async def append_bound(self, database: str, channel_id: int, event: dict, *, dedupe_key: str | None = None,
                           webhook_id: str | None = None, closes: bool = False,
                           early: Early | None = None) -> tuple[str | None, Appended]:
        """``append`` to the conversation bound to that Odoo session, found in the same transaction;
        ``(None, Appended(None, False))`` when none is bound."""

    async def events_after(self, conversation_id: str, after: int, limit: int = 500) -> Replay: ...
    async def find_event(self, conversation_id: str, dedupe_key: str) -> dict | None: ...
    async def purge(self, events_before: float, webhooks_before: float) -> dict[str, int]: ...
