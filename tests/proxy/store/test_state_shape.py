"""Conversations stored by the version before the typed state (proxy/state.py) load unchanged, on
every backend: written here raw, as that version wrote them (SQLite columns, Redis hash strings),
read through the store and the typed records, patched, and still the same JSON beside the patch."""
from __future__ import annotations

import dataclasses
import json
import sqlite3

from proxy import state as st
from proxy.state import Phase
from proxy.store.redis import RedisStore
from proxy.store.sqlite import SQLiteStore
from tests.proxy.store.test_contract import make_store  # noqa: F401  (the fixture: every backend)

# the keys of ``upstream`` as the relay wrote them until now, all at once (a conversation that
# started with the bot, was handed off, ran Odoo's chatbot script, got files, pages and replies)
TODAY = {
    "previous_operator_id": 7,
    "bot": {"answered_seq": 4},
    "pending": {"handed_off": "bot"},
    "guest_token": "gt-1", "uuid": "u-1", "operator_id": 3, "operator_name": "Mitchell",
    "chatbot": {"script": 2, "step": {"id": 9, "type": "question_selection", "answers": [[1, "Yes"]]}, "done": False},
    "posted_seq": 9, "posted_odoo_id": 120, "visitor_seq": 9, "sent": {"client-1": 118},
    "transcript": {"seq": 5, "text": "Conversation with the bot so far:\nVisitor: hi"},
    "bus_last": 55, "poll_last": 121,
    "uploads": {"77": {"token": "tk", "name": "a.png", "mimetype": "image/png", "size": 12}},
    "seen_odoo_id": 119, "mailed": 1, "pages": [{"url": "https://example.com/", "title": "Example"}],
}
BEFORE_1_1 = {"bot": {"answered_seq": 2, "waiting": True}}     # the pending flags under ``bot``

FIELDS = {"created_at": 1700000000.5, "last_activity": 1700000100.25, "visitor_name": "Ann", "lang": "fr_FR",
          "page_url": "https://example.com/", "livechat_channel_id": 1}


async def write_raw(store, cid: str, upstream: dict, bound: bool) -> None:
    """The conversation as the previous version wrote it, not through this version's encoding."""
    if isinstance(store, SQLiteStore):
        db = sqlite3.connect(store.path)
        db.execute("INSERT INTO conversations (id, created_at, last_activity, visitor_name, lang, page_url, "
                   "livechat_channel_id, odoo_database, odoo_channel_id, closed, last_seq, upstream) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 3, ?)",
                   (cid, *FIELDS.values(), "db" if bound else None, 42 if bound else None,
                    json.dumps(upstream, separators=(",", ":"), ensure_ascii=False)))
        db.commit()
        db.close()
        return
    assert isinstance(store, RedisStore)
    client = store.client
    pairs = {"created_at": repr(FIELDS["created_at"]), "last_activity": repr(FIELDS["last_activity"]),
             "visitor_name": "Ann", "lang": "fr_FR", "page_url": "https://example.com/", "livechat_channel_id": "1",
             "closed": "0", "last_seq": "3", "upstream": json.dumps(upstream, separators=(",", ":"), ensure_ascii=False)}
    if bound:
        pairs |= {"odoo_database": "db", "odoo_channel_id": "42"}
    await client.hset(store._k("conv", cid), mapping=pairs)


async def test_a_conversation_stored_today_loads_unchanged(make_store):  # noqa: F811
    store = make_store()
    await store.open()
    try:
        await write_raw(store, "c_today", TODAY, bound=True)
        conv = await store.get_conversation("c_today")
        assert conv is not None
        assert conv.upstream == TODAY
        assert (conv.created_at, conv.last_activity, conv.visitor_name, conv.lang, conv.livechat_channel_id) == (
            1700000000.5, 1700000100.25, "Ann", "fr_FR", 1)
        assert (conv.odoo_database, conv.odoo_channel_id, conv.closed, conv.last_seq) == ("db", 42, False, 3)

        state = st.of(conv)
        assert state.phase is Phase.WITH_OPERATOR
        assert state.session == st.Session("gt-1", "u-1", 3, "Mitchell", 7, st.Chatbot(2, TODAY["chatbot"]["step"]))
        assert state.session.token == "gt-1"
        assert state.posting == st.PostingCursor(9, 120, 9, st.Transcript(5, TODAY["transcript"]["text"]),
                                                 {"client-1": 118})
        assert state.follow == st.FollowCursor(55, 121)
        assert state.bot == st.BotState(with_bot=True, answered_seq=4, handed_off="bot")
        assert state.visitor == st.VisitorRecord({"77": st.Upload("tk", "a.png", "image/png", 12)}, 119, 1,
                                                 ({"url": "https://example.com/", "title": "Example"},))

        await st.write(store, conv, st.FollowCursor.patch(bus_last=56))
        again = await store.get_conversation("c_today")
        assert again is not None and again.upstream == {**TODAY, "bus_last": 56} == conv.upstream

        # what this version writes is what the previous one read
        await store.create_conversation(dataclasses.replace(conv, id="c_new"))
        copy = await store.get_conversation("c_new")
        assert copy is not None and copy == dataclasses.replace(conv, id="c_new")
    finally:
        await store.close()


async def test_a_conversation_stored_before_1_1_loads_unchanged(make_store):  # noqa: F811
    store = make_store()
    await store.open()
    try:
        await write_raw(store, "c_old", BEFORE_1_1, bound=False)
        conv = await store.get_conversation("c_old")
        assert conv is not None and conv.upstream == BEFORE_1_1
        assert st.phase_of(conv) is Phase.LEAVE_MESSAGE
        assert st.bot_of(conv) == st.BotState(with_bot=True, answered_seq=2, waiting=True, legacy=True)
    finally:
        await store.close()
