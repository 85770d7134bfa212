"""Publishing before durability (issue 18): an event reaches live sockets as soon as it has its
seq, the webhook's 2xx still waits for the commit, and the window in between loses nothing and
doubles nothing.

- kill -9 inside the window (``RELAY_TEST_HOLD_COMMIT``: the SQLite writer stops before the
  COMMIT of the transaction that published that text, until the process is killed), then each
  order of what follows the restart: another event takes the seq first, the addon's retry comes
  first, the widget comes back first. The widget (as widget.js: it starts over on ``reset``)
  always ends with exactly what the store has, the held message once.
- a failed COMMIT after the publish (in-process, injected): the socket is closed with 1012, the
  widget is reset on reconnect, the retry is stored once.
- inside a slow commit: a long poll resuming at that seq is not reset, a new socket and a short
  poll get the event from the live path.
- the SQLite store's epochs and unsure seqs, directly.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from proxy import signing
from proxy.app import make_app
from proxy.config import from_env
from proxy.store.base import Conversation
from proxy.store.sqlite import SQLiteStore
from tests.conftest import Client
from tests.relayproc import SECRET, RelayProcess, new_webhook_id, operator_message, webhook_body

HELD = "held before its commit"


class WidgetView:
    """What a widget shows, kept as widget.js keeps it: by seq, starting over on ``reset``."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.resets = 0

    @property
    def last(self) -> int:
        return self.events[-1]["seq"] if self.events else 0

    def restart(self) -> None:
        self.events = []
        self.resets += 1

    def take(self, event: dict) -> None:
        if event.get("seq") is not None and event["seq"] > self.last:
            self.events.append(event)

    def hello(self, frame: dict) -> None:
        assert frame["type"] == "hello", frame
        if frame.get("reset") or frame["last_seq"] < self.last:
            self.restart()

    def texts(self) -> list[tuple[int, str]]:
        return [(e["seq"], e.get("message", {}).get("text") or e["type"]) for e in self.events]


async def read_until(ws, view: WidgetView, seq: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while view.last < seq:
        frame = await ws.receive_json(timeout=max(0.01, deadline - time.monotonic()))
        if frame["type"] == "event":
            view.take(frame["event"])


async def stored(client: Client, conv: dict) -> list[tuple[int, str]]:
    body = await client.events(conv, after=0)
    return [(e["seq"], e.get("message", {}).get("text") or e["type"]) for e in body["events"]]


# ---------------------------------------------------------------- kill -9 inside the window


@pytest.mark.slow
@pytest.mark.parametrize("order", ["other_event_first", "retry_first", "widget_first"])
async def test_kill_9_between_publish_and_commit(tmp_path, order):
    relay = RelayProcess(tmp_path, env={"RELAY_TEST_HOLD_COMMIT": HELD}).start()
    view = WidgetView()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            client = Client(relay, http)
            conv = await client.create()                       # seq 1: waiting for an operator
            await client.reply(conv, 1, "one")                 # seq 2, durable
            channel = await client.channel_of(conv["conversation_id"])
            raw = webhook_body("livechat.message.created", channel, message=operator_message(2, HELD))
            hook_id = new_webhook_id()
            async with client.ws(conv, after=0) as ws:
                view.hello(await ws.receive_json(timeout=5))
                await read_until(ws, view, 2)
                post = asyncio.create_task(client.webhook(raw, hook_id))
                await read_until(ws, view, 3)                  # shown before its commit …
                assert view.texts()[-1] == (3, HELD)
                await asyncio.sleep(0.3)
                assert not post.done(), "the 2xx must wait for the commit"
                await asyncio.to_thread(relay.kill)            # … and killed before it
            with pytest.raises((aiohttp.ClientError, asyncio.TimeoutError)):
                await post                                     # no 2xx: the addon will retry

            del relay.env["RELAY_TEST_HOLD_COMMIT"]
            relay.start()
            assert await stored(client, conv) == [(1, "status"), (2, "one")], "the held event was not durable"

            async def retry() -> None:                         # the addon: same id, same body
                status, body, _ = await client.webhook(raw, hook_id)
                assert status == 200 and json.loads(body)["status"] == "stored", body

            if order == "other_event_first":                   # the visitor's message takes seq 3
                status, body, _ = await client.send(conv, "v1", "visitor after the crash")
                assert status == 201 and body["seq"] == 3, body
                polled = await client.events(conv, after=3)    # a poller that saw the held event
                assert polled.get("reset") is True, polled
            elif order == "retry_first":
                await retry()
            async with client.ws(conv, after=view.last) as ws:
                view.hello(await ws.receive_json(timeout=5))
                if order == "widget_first":
                    assert view.resets == 1 and view.events == []
                    await read_until(ws, view, 2)
                    await retry()
                    await read_until(ws, view, 3)
                elif order == "other_event_first":
                    assert view.resets == 1, "a widget ahead of the store by a lost event must start over"
                    await read_until(ws, view, 3)
                    await retry()
                    await read_until(ws, view, 4)
                else:
                    await read_until(ws, view, 3)
            final = await stored(client, conv)
            assert view.texts() == final, "the widget shows exactly what the store has"
            assert [seq for seq, _ in final] == list(range(1, len(final) + 1))
            assert [text for _, text in final].count(HELD) == 1, "the held message is stored once"
            assert [text for _, text in final].count("one") == 1
            status, body, _ = await client.webhook(raw, hook_id)   # and a late retry is a duplicate
            assert status == 200 and json.loads(body)["status"] == "duplicate"
    finally:
        relay.stop()


# ---------------------------------------------------------------- in-process, injected commit faults


class CommitFaults:
    """The SQLite store's writer connection, with a COMMIT that can be slowed down or made to fail."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.delay = 0.0
        self.fail_next = False

    def execute(self, sql: str, *args):
        if sql == "COMMIT":
            if self.delay:
                time.sleep(self.delay)
            if self.fail_next:
                self.fail_next = False
                raise sqlite3.OperationalError("injected: disk I/O error")
        return self.db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.db, name)


class InProcess:
    def __init__(self, tmp_path):
        self.store = SQLiteStore(str(tmp_path / "relay.db"))
        settings = from_env({"RELAY_WEBHOOK_SECRET": SECRET, "RELAY_SECRET": "k",
                             "RELAY_RATE_LIMIT_MESSAGES": "1000/60"})
        self.server = TestServer(make_app(settings, store=self.store), host="127.0.0.1")

    async def __aenter__(self):
        await self.server.start_server()
        self.faults = self.store._wdb = CommitFaults(self.store._wdb)
        self.base = f"http://127.0.0.1:{self.server.port}"
        self.url, self.ws_url, self.db = self.base, self.base.replace("http", "ws", 1), self.store.path
        return self

    async def __aexit__(self, *exc):
        await self.server.close()


async def test_failed_commit_after_publish_resets_the_widget_and_the_retry_is_stored_once(tmp_path):
    async with InProcess(tmp_path) as relay, aiohttp.ClientSession() as http:
        client = Client(relay, http)
        conv = await client.create()
        await client.reply(conv, 1, "one")
        channel = (await relay.store.get_conversation(conv["conversation_id"])).odoo_channel_id
        raw = webhook_body("livechat.message.created", channel, message=operator_message(2, HELD))
        hook_id = new_webhook_id()
        view = WidgetView()
        async with client.ws(conv, after=0) as ws:
            view.hello(await ws.receive_json(timeout=5))
            await read_until(ws, view, 2)
            relay.faults.delay, relay.faults.fail_next = 0.3, True
            post = asyncio.create_task(client.webhook(raw, hook_id))
            await read_until(ws, view, 3)                      # shown before its commit, which fails
            status, body, _ = await post
            assert status == 503 and json.loads(body)["error"] == "store_unavailable", body
            msg = await ws.receive(timeout=5)
            assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1012, (msg, ws.close_code)
        relay.faults.delay = 0.0
        status, body, _ = await client.send(conv, "v1", "visitor after the failure")   # takes seq 3
        assert status == 201 and body["seq"] == 3, body
        async with client.ws(conv, after=view.last) as ws:
            view.hello(await ws.receive_json(timeout=5))
            assert view.resets == 1
            await read_until(ws, view, 3)
            status, body, _ = await client.webhook(raw, hook_id)   # the addon's retry
            assert status == 200 and json.loads(body)["status"] == "stored", body
            await read_until(ws, view, 4)
        final = await stored(client, conv)
        assert view.texts() == final == [(1, "status"), (2, "one"), (3, "visitor after the failure"), (4, HELD)]


async def test_inside_a_slow_commit_readers_are_not_reset_and_new_ones_get_the_event(tmp_path):
    async with InProcess(tmp_path) as relay, aiohttp.ClientSession() as http:
        client = Client(relay, http)
        conv = await client.create()
        await client.reply(conv, 1, "one")
        channel = (await relay.store.get_conversation(conv["conversation_id"])).odoo_channel_id
        raw = webhook_body("livechat.message.created", channel, message=operator_message(2, "slow"))
        view = WidgetView()
        async with client.ws(conv, after=2) as ws:
            view.hello(await ws.receive_json(timeout=5))
            relay.faults.delay = 0.5
            post = asyncio.create_task(client.webhook(raw))
            frame = await ws.receive_json(timeout=5)
            assert frame["event"]["seq"] == 3 and not post.done()
            # a long poll resuming right after that event, before its commit: not "ahead of the store"
            longpoll = asyncio.create_task(client.events(conv, after=3, wait=1))
            short = await client.events(conv, after=2)         # a short poll still gets it, live
            assert [e["seq"] for e in short["events"]] == [3] and "reset" not in short, short
            async with client.ws(conv, after=2) as ws2:        # and so does a new socket
                hello = await ws2.receive_json(timeout=5)
                assert hello["type"] == "hello" and "reset" not in hello, hello
                assert (await ws2.receive_json(timeout=5))["event"]["seq"] == 3
            async with client.ws(conv, after=3) as ws3:        # a socket resuming at it is not reset
                hello = await ws3.receive_json(timeout=5)
                assert "reset" not in hello, hello
            assert not post.done()
            polled = await longpoll
            assert "reset" not in polled and polled["events"] == [], polled
            status, _, _ = await post
            assert status == 200
        relay.faults.delay = 0.0
        assert await stored(client, conv) == [(1, "status"), (2, "one"), (3, "slow")]


async def test_a_visitor_who_saw_the_operator_before_its_commit_can_rate_and_read_it_at_once(tmp_path):
    """Decisions read from the store (may I rate? the transcript) wait for an event a reader was
    shown before its commit: the visitor rates right after the operator's first reply arrives."""
    async with InProcess(tmp_path) as relay, aiohttp.ClientSession() as http:
        client = Client(relay, http)
        conv = await client.create()
        channel = (await relay.store.get_conversation(conv["conversation_id"])).odoo_channel_id
        raw = webhook_body("livechat.message.created", channel, message=operator_message(1, "first reply"))
        async with client.ws(conv, after=1) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            relay.faults.delay = 0.5
            post = asyncio.create_task(client.webhook(raw))
            frame = await ws.receive_json(timeout=5)
            assert frame["event"]["message"]["text"] == "first reply" and not post.done()
            path = f"/v1/conversations/{conv['conversation_id']}/rating"
            status, body, _ = await client.call("POST", path, conv["token"], json={"rating": 5})
            assert status == 204, body                      # not 409 no_operator_yet
            assert post.done()                              # it waited for the commit
            status, text, _ = await client.call("GET", f"/v1/conversations/{conv['conversation_id']}/transcript",
                                                conv["token"])
            assert status == 200 and "first reply" in str(text), text
            assert (await post)[0] == 200
        relay.faults.delay = 0.0


# ---------------------------------------------------------------- the store's epochs


class Recorder:
    def __init__(self):
        self.calls: list[tuple] = []

    def seq(self, conversation_id, event):
        self.calls.append(("seq", conversation_id, event["seq"]))

    def settled(self, conversation_id, durable):
        self.calls.append(("settled", conversation_id, durable))


def conversation(cid: str) -> Conversation:
    return Conversation(id=cid, created_at=time.time(), last_activity=time.time())


async def test_sqlite_unclean_stop_makes_the_next_seq_unsure(tmp_path):
    path = str(tmp_path / "relay.db")
    first = SQLiteStore(path)
    await first.open()
    await first.create_conversation(conversation("c1"))
    early = Recorder()
    result = await first.append("c1", {"type": "status"}, early=early)
    await asyncio.sleep(0)
    assert result.published and early.calls == [("seq", "c1", 1), ("settled", "c1", True)]
    # no close(): as after kill -9 (the file says a process had it open)
    second = SQLiteStore(path)
    await second.open()
    try:
        assert second._epoch == first._epoch + 1
        early = Recorder()
        result = await second.append("c1", {"type": "status"}, early=early)
        assert result.event["seq"] == 2 and not result.published, "an unsure seq is never published early"
        assert early.calls == []
        assert (await second.events_after("c1", 2)).reset, "a reader at the unsure seq starts over"
        replay = await second.events_after("c1", 1)
        assert not replay.reset and [e["seq"] for e in replay.events] == [2]
        result = await second.append("c1", {"type": "status"}, early=Recorder())
        assert result.published and result.event["seq"] == 3
        assert not (await second.events_after("c1", 3)).reset
    finally:
        await second.close()
    third = SQLiteStore(path)                                  # after a clean close: no new epoch
    await third.open()
    try:
        assert third._epoch == second._epoch
        result = await third.append("c1", {"type": "status"}, early=Recorder())
        assert result.published and result.event["seq"] == 4
        db = sqlite3.connect(path)
        assert db.execute("SELECT conversation_id, seq FROM unsure").fetchall() == [("c1", 2)]
        db.close()
    finally:
        await third.close()
    await asyncio.to_thread(first._writer.shutdown)
    await asyncio.to_thread(first._reader.shutdown)


async def test_sqlite_only_the_first_event_of_a_conversation_in_a_transaction_goes_early(tmp_path):
    store = SQLiteStore(str(tmp_path / "relay.db"))
    await store.open()
    try:
        for cid in ("a", "b"):
            await store.create_conversation(conversation(cid))
        early = Recorder()
        # a plain write first, so the writer is busy and the four appends share the next transaction
        # (an append finding the writer idle runs in its own: test_sqlite_an_append_on_an_idle_writer…)
        _, *results = await asyncio.gather(store.meta_setdefault("busy", "1"), *(
            store.append(cid, {"type": "status"}, early=early) for cid in ("a", "a", "b", "a")))
        assert [(r.event["seq"], r.published) for r in results] == [(1, True), (2, False), (1, True), (3, False)]
        await asyncio.sleep(0)
        assert early.calls == [("seq", "a", 1), ("seq", "b", 1), ("settled", "a", True), ("settled", "b", True)]
    finally:
        await store.close()


async def test_sqlite_an_append_on_an_idle_writer_gets_its_seq_on_the_loop_and_commits_on_the_writer(tmp_path):
    """The usual case (one reply at a time): the append's statements run on the event loop's
    thread and the event is handed out before the COMMIT, which runs on the writer thread; an
    append arriving meanwhile waits for the next transaction and goes out only after that COMMIT."""
    path = str(tmp_path / "relay.db")
    store = SQLiteStore(path)
    await store.open()
    gate, committers = threading.Event(), []
    commit_open = store._commit_open

    def held_commit(results):
        committers.append(threading.current_thread().name)
        gate.wait(10)
        return commit_open(results)
    store._commit_open = held_commit
    try:
        await store.create_conversation(conversation("a"))
        early = Recorder()
        first = asyncio.create_task(store.append("a", {"type": "status"}, early=early))
        await asyncio.sleep(0)                   # its statements ran, on this thread: out already
        assert early.calls == [("seq", "a", 1)]
        second = asyncio.create_task(store.append("a", {"type": "status"}, early=early))
        await asyncio.sleep(0.1)                 # the COMMIT is held: nothing settled, the second waits
        assert early.calls == [("seq", "a", 1)] and not first.done() and not second.done()
        db = sqlite3.connect(path)
        assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0   # not committed yet
        gate.set()
        r1, r2 = await first, await second
        assert (r1.event["seq"], r1.published, r2.event["seq"], r2.published) == (1, True, 2, True)
        await asyncio.sleep(0.01)
        assert early.calls == [("seq", "a", 1), ("settled", "a", True), ("seq", "a", 2), ("settled", "a", True)]
        assert committers == ["sqlite-w_0"]
        assert db.execute("SELECT seq FROM events ORDER BY seq").fetchall() == [(1,), (2,)]
        db.close()
    finally:
        gate.set()
        await store.close()


async def test_sqlite_an_append_waits_for_another_process_holding_the_lock_on_the_writer_thread(tmp_path):
    """Another connection holds the write lock: the append does not block the event loop on it
    (no wait on the loop's thread), it takes the queued way and lands once the lock is free."""
    path = str(tmp_path / "relay.db")
    store = SQLiteStore(path)
    await store.open()
    try:
        await store.create_conversation(conversation("a"))
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        early = Recorder()
        task = asyncio.create_task(store.append("a", {"type": "status"}, early=early))
        ticks = 0
        for _ in range(20):                       # the loop keeps turning while the lock is held
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not task.done() and early.calls == []
        other.execute("ROLLBACK")
        other.close()
        result = await asyncio.wait_for(task, 10)
        assert result.event["seq"] == 1 and result.published
    finally:
        await store.close()
