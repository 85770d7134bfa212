"""SQLite store, the embedded default: one file, WAL, writes on one thread, reads on another.

One writer thread makes ``seq`` assignment trivially atomic (read last_seq and insert in one
transaction) and keeps the event loop free of disk waits. Writes are *group-committed*: whatever
arrives while a transaction is being written goes into the next one, each call in its own
savepoint, and every caller is answered only after its transaction's COMMIT. With
``synchronous=FULL`` that COMMIT is on disk, so a 2xx survives a crash of the relay or the machine,
and one fsync serves many webhooks under load. Reads use a second connection (WAL lets readers
run beside the writer) so they never queue behind an fsync.

An append arriving while the writer is idle (no transaction open, nothing queued: the usual
case, one operator reply at a time) runs its statements at once on the event loop's thread — a
few indexed statements, no disk wait before the COMMIT in WAL mode — and only its COMMIT goes to
the writer thread: its seq, and its early publication, cost no thread hop (two fewer wake-ups on
the path of a live message). Anything arriving meanwhile queues for the next transaction as usual.

Publishing before the commit (store/base.py): an append given ``early`` hands its event to
``early.seq`` once its statements ran (from the writer thread with ``call_soon_threadsafe``, or
directly when they ran on the loop), then COMMIT's fsync runs while the event loop writes the frames; only the first event of a
conversation in a transaction goes out this way, so one conversation never has more than one
event out before its commit. The crash window: ``meta.open`` is 1 while a process has the file,
0 after a clean close; a start that finds 1 counts one more ``epoch`` (so does a failed commit
that had published something). Each conversation row carries the epoch of its last append; the
first append in a new epoch records its seq in ``unsure`` (a widget may have been shown another
event under it before the crash) and is not published before its commit.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from proxy.cluster.base import Cluster
from proxy.cluster.local import LocalFanout, LocalLeases
from proxy.errors import StoreError
from proxy.events import dumps
from proxy.store import codec
from proxy.store.base import Appended, Conversation, Replay, open_of, replay_reset

if TYPE_CHECKING:
    from proxy.hub import Hub

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    last_activity REAL NOT NULL,
    visitor_name TEXT NOT NULL DEFAULT '',
    lang TEXT, page_url TEXT, livechat_channel_id INTEGER,
    odoo_database TEXT, odoo_channel_id INTEGER,
    closed INTEGER NOT NULL DEFAULT 0,
    last_seq INTEGER NOT NULL DEFAULT 0,
    upstream TEXT,
    epoch INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS conversations_odoo ON conversations (odoo_database, odoo_channel_id);
CREATE TABLE IF NOT EXISTS events (
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at REAL NOT NULL,
    dedupe_key TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS events_dedupe ON events (conversation_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_at ON events (at);
CREATE TABLE IF NOT EXISTS webhook_ids (id TEXT PRIMARY KEY, seen_at REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS webhook_ids_seen ON webhook_ids (seen_at);
CREATE TABLE IF NOT EXISTS unsure (
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
"""

_CONV_COLUMNS = codec.FIELDS
MIGRATIONS = (("conversations", "upstream", "ALTER TABLE conversations ADD COLUMN upstream TEXT"),
              ("conversations", "epoch", "ALTER TABLE conversations ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0"))
# tests only: the writer thread stops before the COMMIT of a transaction that published an event
# whose message text is this value (a kill -9 inside the window between publishing and durability)
HOLD_COMMIT = os.environ.get("RELAY_TEST_HOLD_COMMIT") or None
BUSY_WAIT = 5.0   # seconds the writer thread waits for a write lock another process holds


def _conv(row: tuple | None) -> Conversation | None:
    return None if row is None else codec.decode(dict(zip(_CONV_COLUMNS, row, strict=True)))


def _conv_row(conv: Conversation) -> tuple:
    values = codec.encode(conv)
    return tuple(values[c] for c in _CONV_COLUMNS)


class SQLiteStore:
    """``sqlite:///path``. One file; not shared between relay processes (use Redis for that)."""

    def __init__(self, path: str):
        self.path = path
        self._wdb: sqlite3.Connection | None = None
        self._rdb: sqlite3.Connection | None = None
        self._writer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-w")
        self._reader = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-r")
        self._pending: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # the writer thread's, or the loop thread's while the writer is idle (_begin_here): the
        # epoch (module docstring), and the open transaction's state
        self._epoch = self._epoch_saved = 0
        self._touched: set[str] = set()                  # conversations appended to in it
        self._announce: tuple | None = None              # (early, conversation id, event) of the running call
        self._announced: list[tuple[Any, str]] = []      # (early, conversation id) handed out before COMMIT
        self._hold = False                               # tests: that transaction's COMMIT is held (HOLD_COMMIT)

    # ------------------------------------------------------------------ plumbing

    def _make_private(self) -> None:
        """The file holds the token key, Odoo guest tokens and transcripts: owner-only (0600), as
        SQLite gives its -wal and -shm files the database file's mode. Files made by an older
        version are tightened too."""
        if self.path == ":memory:" or self.path.startswith("file:"):
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(self.path + suffix, 0o600)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=5)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    async def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        def call() -> Any:
            if self._rdb is None:
                raise StoreError("store is closed")
            try:
                return fn(self._rdb)
            except (sqlite3.Error, OverflowError) as exc:
                raise StoreError(f"sqlite: {exc}") from exc
        return await asyncio.get_running_loop().run_in_executor(self._reader, call)

    async def _write(self, fn: Callable[[sqlite3.Connection], Any], here: bool = False) -> Any:
        """Run ``fn`` in the next group transaction; return once that transaction is committed.
        ``here`` (appends: a few indexed statements): when the writer is idle, ``fn`` runs at once
        on the event loop's thread and only the COMMIT goes to the writer thread (``_begin_here``)."""
        future = asyncio.get_running_loop().create_future()
        if here and self._flusher is None and not self._pending and self._wdb is not None:
            results = self._begin_here(fn)
            if results is not None:
                self._flusher = asyncio.ensure_future(self._flush((results, future)))
                return await future
        self._pending.append((fn, future))
        if self._flusher is None:
            self._flusher = asyncio.ensure_future(self._flush())
        return await future

    async def _flush(self, opened: tuple[list[Any], asyncio.Future] | None = None) -> None:
        loop = asyncio.get_running_loop()
        try:
            batches: list = []
            if opened is not None:           # a transaction _begin_here left open: its COMMIT
                results, future = opened
                batches.append((self._commit_open, results, [(None, future)]))
            while batches or self._pending:
                if batches:
                    job, arg, batch = batches.pop()
                else:
                    batch, self._pending = self._pending, []
                    job, arg = self._apply, [fn for fn, _ in batch]
                try:
                    results = await loop.run_in_executor(self._writer, job, arg)
                except Exception as exc:   # the pool is gone (closing): fail the batch, never hang it
                    results = [StoreError(f"sqlite: {exc}")] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._flusher = None

    def _item(self, db: sqlite3.Connection, fn: Callable[[sqlite3.Connection], Any], results: list[Any]) -> tuple | None:
        """One call in its own savepoint; answers what it asks to publish before the COMMIT, if anything."""
        db.execute("SAVEPOINT item")
        self._announce = None
        try:
            results.append(fn(db))
        except Exception as exc:   # also OverflowError & co. from a value SQLite cannot take
            db.execute("ROLLBACK TO item")
            results.append(exc if isinstance(exc, StoreError) else StoreError(f"sqlite: {exc}"))
            self._announce = None
        db.execute("RELEASE item")
        announce, self._announce = self._announce, None
        return announce

    def _begin(self, db: sqlite3.Connection, wait: bool = True) -> None:
        """BEGIN IMMEDIATE; with ``wait`` (the writer thread) up to BUSY_WAIT seconds while another
        process holds the write lock, as ``sqlite3.connect(timeout=)`` would."""
        self._touched, self._announced, self._hold = set(), [], False
        deadline = time.monotonic() + BUSY_WAIT
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if not wait or time.monotonic() > deadline or "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                time.sleep(0.005)
        if self._epoch != self._epoch_saved:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('epoch', ?)", (str(self._epoch),))

    def _held(self, event: dict) -> bool:
        return HOLD_COMMIT is not None and (event.get("message") or {}).get("text") == HOLD_COMMIT

    def _apply(self, fns: list[Callable[[sqlite3.Connection], Any]]) -> list[Any]:
        """On the writer thread: one transaction, one savepoint per call, one COMMIT. An append
        with ``early`` is handed out right after its savepoint, before the COMMIT."""
        db, loop = self._wdb, self._loop
        if db is None or loop is None:     # (both set by open)
            return [StoreError("store is closed")] * len(fns)
        results: list[Any] = []
        durable = False
        try:
            self._begin(db)
            for fn in fns:
                announce = self._item(db, fn, results)
                if announce is not None:
                    early, conversation_id, event = announce
                    loop.call_soon_threadsafe(early.seq, conversation_id, event)
                    self._announced.append((early, conversation_id))
                    if self._held(event):
                        while True:        # tests: held here until the process is killed
                            time.sleep(1)
            db.execute("COMMIT")
            durable = True
            self._epoch_saved = self._epoch
        except Exception as exc:           # never leave the writer inside a transaction
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            results = [StoreError(f"sqlite: {exc}")] * len(fns)
        finally:
            self._settle(durable)
        return results

    def _begin_here(self, fn: Callable[[sqlite3.Connection], Any]) -> list[Any] | None:
        """On the event loop's thread, the writer being idle (no transaction, nothing queued): open
        the transaction and run ``fn`` now; an event it publishes early goes to ``early.seq`` at
        once, with no thread hop either way. The transaction stays open for ``_commit_open`` on the
        writer thread (the fsync never blocks the loop). The statements write no file before the
        COMMIT (WAL), and the lock is taken without waiting (the writer connection's busy timeout
        is 0; ``_begin`` waits on the writer thread): when another process holds it, or ``fn``
        fails, everything is rolled back before anything was handed out and ``fn`` takes the
        queued way (where a failure is answered as usual). No savepoint: ``fn`` is alone here."""
        db = self._wdb
        if db is None:                     # closed meanwhile: the queued way answers that
            return None
        results: list[Any] = []
        try:
            self._begin(db, wait=False)
            self._announce = None
            results.append(fn(db))
        except Exception:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            self._touched, self._announced, self._announce = set(), [], None
            return None
        announce, self._announce = self._announce, None
        if announce is not None:
            early, conversation_id, event = announce
            self._announced.append((early, conversation_id))
            self._hold = self._held(event)
            early.seq(conversation_id, event)
        return results

    def _commit_open(self, results: list[Any]) -> list[Any]:
        """On the writer thread: the COMMIT of the transaction ``_begin_here`` opened."""
        db = self._wdb
        durable = False
        try:
            if db is None:
                raise StoreError("store is closed")
            if self._hold:
                while True:                # tests: held here until the process is killed
                    time.sleep(1)
            db.execute("COMMIT")
            durable = True
            self._epoch_saved = self._epoch
        except Exception as exc:
            if db is not None and db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            results = [exc if isinstance(exc, StoreError) else StoreError(f"sqlite: {exc}")] * len(results)
        finally:
            self._settle(durable)
        return results

    def _settle(self, durable: bool) -> None:
        if self._announced:
            assert self._loop is not None  # announced: the store is open
            if not durable:                # shown but not kept: their seqs will be taken by other events
                self._epoch += 1
            for early, conversation_id in self._announced:
                with contextlib.suppress(RuntimeError):   # the loop is closed: nobody to tell
                    self._loop.call_soon_threadsafe(early.settled, conversation_id, durable)
            self._announced = []

    async def open(self) -> None:
        def connect() -> None:
            try:
                self._make_private()
                db = self._connect()
                db.executescript(SCHEMA)
                for table, column, sql in MIGRATIONS:   # files written by older versions
                    if column not in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}:
                        db.execute(sql)
                meta = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('epoch', 'open')").fetchall())
                epoch = int(meta.get("epoch", "0")) + (meta.get("open") == "1")   # after an unclean stop: one more
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('epoch', ?), ('open', '1')", (str(epoch),))
                db.execute("COMMIT")
                self._epoch = self._epoch_saved = epoch
                db.execute("PRAGMA busy_timeout = 0")   # never wait on the loop's thread (_begin_here, _begin)
                self._wdb = db
                self._rdb = self._connect()
                self._rdb.execute("PRAGMA query_only=ON")
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(f"sqlite: cannot open {self.path}: {exc}") from exc
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(self._writer, connect)

    async def close(self) -> None:
        while self._flusher is not None:
            await asyncio.sleep(0.01)
        loop = asyncio.get_running_loop()

        def shut_writer() -> None:
            if self._wdb is not None:
                db = self._wdb
                try:   # a clean stop: nothing is out before its commit; the epoch is kept with it
                    self._begin(db)
                    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('epoch', ?), ('open', '0')",
                               (str(self._epoch),))
                    db.execute("COMMIT")
                except sqlite3.Error:       # left open: the next start counts one more epoch
                    if db.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            db.execute("ROLLBACK")
                db.close()
                self._wdb = None

        def shut_reader() -> None:
            if self._rdb is not None:
                self._rdb.close()
                self._rdb = None
        await loop.run_in_executor(self._reader, shut_reader)
        await loop.run_in_executor(self._writer, shut_writer)
        self._reader.shutdown(wait=True)
        self._writer.shutdown(wait=True)

    async def cluster(self, hub: Hub, lease_ttl: float) -> Cluster:
        """One file, one node: leases and fan-out in this process."""
        return Cluster(LocalFanout(hub), LocalLeases(lease_ttl))

    async def ping(self) -> None:
        await self._read(lambda db: db.execute("SELECT 1").fetchone())

    async def meta_setdefault(self, key: str, value: str) -> str:
        def op(db: sqlite3.Connection) -> str:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            return db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]
        return await self._write(op)

    # ------------------------------------------------------------------ conversations

    async def create_conversation(self, conv: Conversation) -> None:
        row = _conv_row(conv)
        sql = f"INSERT INTO conversations ({', '.join(_CONV_COLUMNS)}, epoch) VALUES ({', '.join('?' * (len(row) + 1))})"
        await self._write(lambda db: db.execute(sql, (*row, self._epoch)))

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        sql = f"SELECT {', '.join(_CONV_COLUMNS)} FROM conversations WHERE id = ?"
        return await self._read(lambda db: _conv(db.execute(sql, (conversation_id,)).fetchone()))

    async def list_conversations(self, limit: int = 100) -> list[Conversation]:
        sql = f"SELECT {', '.join(_CONV_COLUMNS)} FROM conversations ORDER BY last_activity DESC LIMIT ?"
        return await self._read(lambda db: [_conv(r) for r in db.execute(sql, (limit,)).fetchall()])

    async def bind(self, conversation_id: str, database: str, channel_id: int) -> None:
        sql = "UPDATE conversations SET odoo_database = ?, odoo_channel_id = ? WHERE id = ?"
        await self._write(lambda db: db.execute(sql, (database, channel_id, conversation_id)))

    async def find_bound(self, database: str, channel_id: int) -> str | None:
        row = await self._read(lambda db: db.execute(_BOUND_SQL, (database, channel_id)).fetchone())
        return row[0] if row else None

    async def merge_upstream(self, conversation_id: str, changes: dict) -> None:
        # json_patch (RFC 7396) merges in the writer: two writers of different keys lose nothing
        sql = "UPDATE conversations SET upstream = json_patch(COALESCE(upstream, '{}'), ?) WHERE id = ?"
        await self._write(lambda db: db.execute(sql, (dumps(changes), conversation_id)))

    async def open_bound(self, limit: int = 100_000) -> list[Conversation]:
        return await self._open(True, limit)

    async def open_unbound(self, limit: int = 100_000) -> list[Conversation]:
        return await self._open(False, limit)

    async def _open(self, bound: bool, limit: int) -> list[Conversation]:
        """The open conversations, bound or not, chosen and ordered by ``base.open_of``."""
        sql = f"SELECT {', '.join(_CONV_COLUMNS)} FROM conversations WHERE closed = 0"
        rows = await self._read(lambda db: [_conv(r) for r in db.execute(sql).fetchall()])
        return open_of(rows, bound, limit)

    # ------------------------------------------------------------------ events

    async def append(self, conversation_id: str, event: dict, *, dedupe_key: str | None = None,
                     webhook_id: str | None = None, closes: bool = False, early=None) -> Appended:
        return await self._write(lambda db: self._append(db, conversation_id, event, dedupe_key, webhook_id,
                                                         closes, early), here=True)

    async def append_bound(self, database: str, channel_id: int, event: dict, *, dedupe_key: str | None = None,
                           webhook_id: str | None = None, closes: bool = False,
                           early=None) -> tuple[str | None, Appended]:
        def op(db: sqlite3.Connection) -> tuple[str | None, Appended]:
            row = db.execute(_BOUND_SQL, (database, channel_id)).fetchone()
            if row is None:
                return None, Appended(None, False)
            return row[0], self._append(db, row[0], event, dedupe_key, webhook_id, closes, early)
        return await self._write(op, here=True)

    def _append(self, db: sqlite3.Connection, conversation_id: str, event: dict, dedupe_key: str | None,
                webhook_id: str | None, closes: bool, early) -> Appended:
        """Inside ``_apply``'s transaction (writer thread) or ``_begin_here``'s (loop thread)."""
        now = time.time()
        if webhook_id is not None:
            cur = db.execute("INSERT OR IGNORE INTO webhook_ids (id, seen_at) VALUES (?, ?)", (webhook_id, now))
            if cur.rowcount == 0:
                return Appended(None, False)
        if dedupe_key is not None:
            row = db.execute("SELECT body FROM events WHERE conversation_id = ? AND dedupe_key = ?",
                             (conversation_id, dedupe_key)).fetchone()
            if row:
                return Appended(json.loads(row[0]), False)
        row = db.execute("SELECT last_seq, epoch FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None:
            raise StoreError(f"unknown conversation {conversation_id}")
        last_seq, epoch = row
        unsure = epoch != self._epoch
        if unsure:   # the first event since an unclean stop: another may have been shown under this seq
            db.execute("INSERT OR IGNORE INTO unsure (conversation_id, seq) VALUES (?, ?)", (conversation_id, last_seq + 1))
        stored = dict(event, seq=last_seq + 1)
        db.execute("INSERT INTO events (conversation_id, seq, at, dedupe_key, body) VALUES (?, ?, ?, ?, ?)",
                   (conversation_id, stored["seq"], now, dedupe_key, dumps(stored)))
        db.execute("UPDATE conversations SET last_seq = ?, last_activity = ?, closed = closed OR ?, epoch = ? "
                   "WHERE id = ?", (stored["seq"], now, int(closes), self._epoch, conversation_id))
        # out before the commit: only the first event of its conversation in this transaction (the
        # one before it is then durable), never one taking an unsure seq
        published = early is not None and not unsure and conversation_id not in self._touched
        self._touched.add(conversation_id)
        if published:
            self._announce = (early, conversation_id, stored)
        return Appended(stored, True, published)

    async def events_after(self, conversation_id: str, after: int, limit: int = 500) -> Replay:
        def op(db: sqlite3.Connection) -> Replay:
            db.execute("BEGIN")   # one snapshot for the three reads
            try:
                row = db.execute("SELECT last_seq FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
                last_seq = row[0] if row else 0
                first = db.execute("SELECT MIN(seq) FROM events WHERE conversation_id = ?", (conversation_id,)).fetchone()[0]
                first_kept = first if first is not None else last_seq + 1
                # a seq another event may have been shown under (crash)
                unsure = after > 0 and db.execute("SELECT 1 FROM unsure WHERE conversation_id = ? AND seq = ?",
                                                  (conversation_id, after)).fetchone() is not None
                reset = replay_reset(after, last_seq, first_kept, unsure)
                rows = db.execute("SELECT body FROM events WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                                  (conversation_id, 0 if reset else after, limit)).fetchall()
            finally:
                db.execute("COMMIT")
            return Replay([json.loads(r[0]) for r in rows], last_seq, reset)
        return await self._read(op)

    async def find_event(self, conversation_id: str, dedupe_key: str) -> dict | None:
        sql = "SELECT body FROM events WHERE conversation_id = ? AND dedupe_key = ?"
        row = await self._read(lambda db: db.execute(sql, (conversation_id, dedupe_key)).fetchone())
        return json.loads(row[0]) if row else None

    async def purge(self, events_before: float, webhooks_before: float) -> dict[str, int]:
        def op(db: sqlite3.Connection) -> dict[str, int]:
            old = [r[0] for r in db.execute("SELECT id FROM conversations WHERE last_activity < ?", (events_before,))]
            for cid in old:
                db.execute("DELETE FROM events WHERE conversation_id = ?", (cid,))
                db.execute("DELETE FROM unsure WHERE conversation_id = ?", (cid,))
                db.execute("DELETE FROM conversations WHERE id = ?", (cid,))
            events = db.execute("DELETE FROM events WHERE at < ?", (events_before,)).rowcount
            hooks = db.execute("DELETE FROM webhook_ids WHERE seen_at < ?", (webhooks_before,)).rowcount
            return {"conversations": len(old), "events": events, "webhook_ids": hooks}
        return await self._write(op)


_BOUND_SQL = "SELECT id FROM conversations WHERE odoo_database = ? AND odoo_channel_id = ? ORDER BY created_at DESC LIMIT 1"

