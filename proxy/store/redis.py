"""Redis store, for several relay nodes sharing one conversation space: ``redis://host:port/db``.

Every write that must be atomic is one Lua script (run with EVALSHA, re-sent after a Redis restart
emptied the script cache): an append checks the webhook id and the dedupe key, increments the
conversation's ``last_seq``, stores the event and touches the conversation in one step, so ``seq``
is gapless across nodes. ``merge_upstream`` merges in Python under WATCH (``codec.merge_patch``) (exact JSON, retried when
another writer got there first). Time for events and activity comes from Redis (``TIME``), so
nodes with skewed clocks still purge consistently.

Keys, all under a prefix (``relay`` by default, ``?prefix=`` in the URL):
``{p}:conv:{id}`` hash of the conversation's fields; ``{p}:convs`` zset id by last activity;
``{p}:ev:{id}`` zset of event JSON by seq; ``{p}:dd:{id}`` hash dedupe key → seq;
``{p}:evat`` zset ``{seq}:{id}`` by time stored (for the purge); ``{p}:bound`` hash
``{database}\\0{channel}`` → id; ``{p}:open`` set of bound, open ids; ``{p}:unbound`` set of open ids
bound to nothing yet (the bot phase); ``{p}:wh`` zset webhook id by first seen; ``{p}:meta`` hash.
The scripts build keys from the prefix, so this needs one Redis, not a cluster.

Durability is Redis's: an append is acknowledged once Redis has it in memory, and survives a Redis
restart only with ``appendonly yes`` (``appendfsync always``: nothing acknowledged is lost;
``everysec``: up to one second of acknowledged writes can be lost if the Redis *machine* dies).
Any Redis error (down, loading, timeout) surfaces as ``StoreError``; the client reconnects on the
next call.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError, WatchError

from proxy.cluster.base import Cluster
from proxy.cluster.redis import RedisFanout, RedisLeases, node_id
from proxy.errors import StoreError
from proxy.events import dumps
from proxy.store import codec
from proxy.store.base import Appended, Conversation, Replay, open_of, replay_reset

if TYPE_CHECKING:
    from proxy.hub import Hub

MAX_CONNECTIONS = 64

# Shared Lua: KEYS are built from ARGV[1] (the prefix). Returns {status, cid, body}:
# status 0 seen webhook, 1 created, 2 deduplicated.
_APPEND_BODY = """
local p = ARGV[1]
local body, dedupe, webhook, closes = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local ck = p .. ':conv:' .. cid
if redis.call('EXISTS', ck) == 0 then return redis.error_reply('unknown conversation ' .. cid) end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if webhook ~= '' and redis.call('ZSCORE', p .. ':wh', webhook) then return {0, cid, false} end
if dedupe ~= '' then
  local seq = redis.call('HGET', p .. ':dd:' .. cid, dedupe)
  if seq then
    local found = redis.call('ZRANGE', p .. ':ev:' .. cid, seq, seq, 'BYSCORE')
    if found[1] then
      if webhook ~= '' then redis.call('ZADD', p .. ':wh', now, webhook) end
      return {2, cid, found[1]}
    end
  end
end
if webhook ~= '' then redis.call('ZADD', p .. ':wh', now, webhook) end
local seq = redis.call('HINCRBY', ck, 'last_seq', 1)
local stored
if body == '{}' then stored = '{"seq":' .. seq .. '}' else stored = '{"seq":' .. seq .. ',' .. string.sub(body, 2) end
redis.call('ZADD', p .. ':ev:' .. cid, seq, stored)
redis.call('ZADD', p .. ':evat', now, seq .. ':' .. cid)
if dedupe ~= '' then redis.call('HSET', p .. ':dd:' .. cid, dedupe, seq) end
redis.call('HSET', ck, 'last_activity', string.format('%.6f', now))
redis.call('ZADD', p .. ':convs', now, cid)
if closes == '1' then
  redis.call('HSET', ck, 'closed', '1')
  redis.call('SREM', p .. ':open', cid)
  redis.call('SREM', p .. ':unbound', cid)
end
return {1, cid, stored}
"""
APPEND = "local cid = ARGV[2]\n" + _APPEND_BODY
APPEND_BOUND = """
local cid = redis.call('HGET', ARGV[1] .. ':bound', ARGV[2])
if not cid then return {0, false, false} end
""" + _APPEND_BODY

CREATE = """
local p, cid = ARGV[1], ARGV[2]
local ck = p .. ':conv:' .. cid
if redis.call('EXISTS', ck) == 1 then return redis.error_reply('conversation ' .. cid .. ' exists') end
for i = 5, #ARGV, 2 do redis.call('HSET', ck, ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', p .. ':convs', ARGV[3], cid)
local db, ch = redis.call('HGET', ck, 'odoo_database'), redis.call('HGET', ck, 'odoo_channel_id')
if db and ch then
  redis.call('HSET', p .. ':bound', db .. '\\0' .. ch, cid)
  if ARGV[4] ~= '1' then redis.call('SADD', p .. ':open', cid) end
elseif ARGV[4] ~= '1' then
  redis.call('SADD', p .. ':unbound', cid)
end
return 1
"""

BIND = """
local p, cid = ARGV[1], ARGV[2]
local ck = p .. ':conv:' .. cid
if redis.call('EXISTS', ck) == 0 then return 0 end
redis.call('HSET', ck, 'odoo_database', ARGV[3], 'odoo_channel_id', ARGV[4])
redis.call('HSET', p .. ':bound', ARGV[3] .. '\\0' .. ARGV[4], cid)
redis.call('SREM', p .. ':unbound', cid)
if redis.call('HGET', ck, 'closed') ~= '1' then redis.call('SADD', p .. ':open', cid) end
return 1
"""

# the events after ARGV[3] with what ``base.replay_reset`` decides on, read in one step
EVENTS_AFTER = """
local p, cid, after, limit = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local last = tonumber(redis.call('HGET', p .. ':conv:' .. cid, 'last_seq') or '0')
local ek = p .. ':ev:' .. cid
local first = redis.call('ZRANGE', ek, 0, 0, 'WITHSCORES')
local first_kept = last + 1
if first[2] then first_kept = tonumber(first[2]) end
local events = redis.call('ZRANGE', ek, '(' .. after, '+inf', 'BYSCORE', 'LIMIT', 0, limit)
return {last, first_kept, events}
"""

# delete one idle conversation (checked again here: it may have become active meanwhile)
DROP_CONVERSATION = """
local p, cid, cutoff = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ck = p .. ':conv:' .. cid
local activity = tonumber(redis.call('HGET', ck, 'last_activity') or '0')
if redis.call('EXISTS', ck) == 1 and activity >= cutoff then return 0 end
local ek = p .. ':ev:' .. cid
local scored = redis.call('ZRANGE', ek, 0, -1, 'WITHSCORES')
for i = 2, #scored, 2 do redis.call('ZREM', p .. ':evat', scored[i] .. ':' .. cid) end
local db, ch = redis.call('HGET', ck, 'odoo_database'), redis.call('HGET', ck, 'odoo_channel_id')
if db and ch and redis.call('HGET', p .. ':bound', db .. '\\0' .. ch) == cid then
  redis.call('HDEL', p .. ':bound', db .. '\\0' .. ch)
end
redis.call('DEL', ck, ek, p .. ':dd:' .. cid)
redis.call('SREM', p .. ':open', cid)
redis.call('SREM', p .. ':unbound', cid)
redis.call('ZREM', p .. ':convs', cid)
return 1
"""

# drop up to ARGV[3] events stored before ARGV[2]; returns how many
PURGE_EVENTS = """
local p = ARGV[1]
local old = redis.call('ZRANGE', p .. ':evat', '-inf', '(' .. ARGV[2], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(old) do
  local sep = string.find(member, ':', 1, true)
  local seq, cid = string.sub(member, 1, sep - 1), string.sub(member, sep + 1)
  redis.call('ZREMRANGEBYSCORE', p .. ':ev:' .. cid, seq, seq)
  redis.call('ZREM', p .. ':evat', member)
end
return #old
"""


def _encode(conv: Conversation) -> list[str]:
    pairs: list[str] = []
    for field, value in codec.encode(conv).items():
        if field == "id" or value is None:
            continue
        if field == "closed":
            value = "1" if value else "0"
        elif field in codec.FLOATS:
            value = repr(float(value))  # type: ignore[arg-type]
        pairs += [field, str(value)]
    return pairs


def _decode(cid: str, raw: dict) -> Conversation | None:
    return codec.decode({**raw, "id": cid}) if raw else None


def parse_url(url: str) -> tuple[str, str]:
    """``redis://host:port/db?prefix=p`` → (URL for redis-py, key prefix)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    prefix = query.pop("prefix", ["relay"])[0]
    rest = "&".join(f"{k}={v}" for k, vs in query.items() for v in vs)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")), prefix


class RedisStore:
    """``redis://host:port/db``: shared by every relay node pointing at it."""

    def __init__(self, url: str, prefix: str | None = None, timeout: float = 2.0):
        self.url, url_prefix = parse_url(url)
        self.prefix = prefix or url_prefix
        self.timeout = timeout
        self._client: aioredis.Redis | None = None

    @property
    def client(self) -> aioredis.Redis:
        """The open connection pool's client; StoreError once closed (or before ``open``)."""
        if self._client is None:
            raise StoreError("store is closed")
        return self._client

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def _run(self, coro):
        try:
            return await coro
        except WatchError:
            raise
        except (RedisError, OSError) as exc:
            raise StoreError(f"redis: {exc}") from exc

    async def _script(self, script, *args):
        return await self._run(script(keys=[], args=[self.prefix, *args]))

    async def open(self) -> None:
        # a bounded pool that makes callers wait for a free connection rather than fail under load
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url, max_connections=MAX_CONNECTIONS, timeout=self.timeout, decode_responses=True,
            socket_timeout=self.timeout, socket_connect_timeout=self.timeout, health_check_interval=15)
        self._client = c = aioredis.Redis(connection_pool=pool)
        self._append, self._append_bound = c.register_script(APPEND), c.register_script(APPEND_BOUND)
        self._create, self._bind = c.register_script(CREATE), c.register_script(BIND)
        self._events_after = c.register_script(EVENTS_AFTER)
        self._drop, self._purge_events = c.register_script(DROP_CONVERSATION), c.register_script(PURGE_EVENTS)
        await self.ping()

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
            await client.connection_pool.disconnect()

    async def ping(self) -> None:
        await self._run(self.client.ping())

    async def cluster(self, hub: Hub, lease_ttl: float) -> Cluster:
        """Several nodes may share this Redis: events fanned out and leases taken through it."""
        node = node_id()
        return Cluster(RedisFanout(self.url, self.prefix, hub, node), RedisLeases(self.client, self.prefix, node, lease_ttl))

    async def meta_setdefault(self, key: str, value: str) -> str:
        async def op():
            await self.client.hsetnx(self._k("meta"), key, value)
            return await self.client.hget(self._k("meta"), key)
        return await self._run(op())

    # ------------------------------------------------------------------ conversations

    async def create_conversation(self, conv: Conversation) -> None:
        await self._script(self._create, conv.id, repr(float(conv.last_activity)), "1" if conv.closed else "0",
                           *_encode(conv))

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        return _decode(conversation_id, await self._run(self.client.hgetall(self._k("conv", conversation_id))))

    async def _many(self, ids: list[str]) -> list[Conversation]:
        async def op():
            pipe = self.client.pipeline(transaction=False)
            for cid in ids:
                pipe.hgetall(self._k("conv", cid))
            return await pipe.execute()
        rows = await self._run(op()) if ids else []
        return [c for c in (_decode(cid, raw) for cid, raw in zip(ids, rows, strict=True)) if c is not None]

    async def list_conversations(self, limit: int = 100) -> list[Conversation]:
        ids = await self._run(self.client.zrevrange(self._k("convs"), 0, limit - 1))
        return await self._many(ids)

    async def bind(self, conversation_id: str, database: str, channel_id: int) -> None:
        await self._script(self._bind, conversation_id, database, str(channel_id))

    async def find_bound(self, database: str, channel_id: int) -> str | None:
        return await self._run(self.client.hget(self._k("bound"), f"{database}\0{channel_id}"))

    async def merge_upstream(self, conversation_id: str, changes: dict) -> None:
        key = self._k("conv", conversation_id)

        async def op(pipe) -> None:
            if not await pipe.exists(key):
                return
            raw = await pipe.hget(key, "upstream")
            merged = codec.merge_patch(json.loads(raw) if raw else {}, changes)
            pipe.multi()
            pipe.hset(key, "upstream", dumps(merged))
        try:
            await self._run(self.client.transaction(op, key))
        except WatchError as exc:   # transaction() retries on its own; this is only a safety net
            raise StoreError(f"redis: {exc}") from exc

    async def open_bound(self, limit: int = 100_000) -> list[Conversation]:
        return await self._open(True, limit)

    async def open_unbound(self, limit: int = 100_000) -> list[Conversation]:
        return await self._open(False, limit)

    async def _open(self, bound: bool, limit: int) -> list[Conversation]:
        """The ids the scripts keep in ``{p}:open`` or ``{p}:unbound``, checked, chosen and
        ordered by ``base.open_of``."""
        ids = await self._run(self.client.smembers(self._k("open" if bound else "unbound")))
        return open_of(await self._many(sorted(ids)), bound, limit)

    # ------------------------------------------------------------------ events

    @staticmethod
    def _body(event: dict) -> str:
        return dumps({k: v for k, v in event.items() if k != "seq"})

    @staticmethod
    def _appended(status: int, body: str | None) -> Appended:
        if status == 0 or body is None:
            return Appended(None, False)
        return Appended(json.loads(body), status == 1)

    # ``early`` is ignored: one script assigns the seq and stores the event, so nothing could be
    # handed out before it is stored (base.py)
    async def append(self, conversation_id: str, event: dict, *, dedupe_key: str | None = None,
                     webhook_id: str | None = None, closes: bool = False, early=None) -> Appended:
        status, _, body = await self._script(self._append, conversation_id, self._body(event), dedupe_key or "",
                                             webhook_id or "", "1" if closes else "0")
        return self._appended(status, body)

    async def append_bound(self, database: str, channel_id: int, event: dict, *, dedupe_key: str | None = None,
                           webhook_id: str | None = None, closes: bool = False,
                           early=None) -> tuple[str | None, Appended]:
        status, cid, body = await self._script(self._append_bound, f"{database}\0{channel_id}", self._body(event),
                                               dedupe_key or "", webhook_id or "", "1" if closes else "0")
        if cid is None:
            return None, Appended(None, False)
        return cid, self._appended(status, body)

    async def events_after(self, conversation_id: str, after: int, limit: int = 500) -> Replay:
        # no seq is ever unsure here: nothing is handed out before it is stored (``append``)
        last, first_kept, events = await self._script(self._events_after, conversation_id, str(int(after)),
                                                      str(int(limit)))
        reset = replay_reset(int(after), int(last), int(first_kept))
        if reset and int(after) != 0:   # rare: read again from the start, with its own last_seq
            last, _, events = await self._script(self._events_after, conversation_id, "0", str(int(limit)))
        return Replay([json.loads(e) for e in events], int(last), reset)

    async def find_event(self, conversation_id: str, dedupe_key: str) -> dict | None:
        seq = await self._run(self.client.hget(self._k("dd", conversation_id), dedupe_key))
        if seq is None:
            return None
        found = await self._run(self.client.zrange(self._k("ev", conversation_id), seq, seq, byscore=True))
        return json.loads(found[0]) if found else None

    async def purge(self, events_before: float, webhooks_before: float) -> dict[str, int]:
        counts = {"conversations": 0, "events": 0, "webhook_ids": 0}
        old = await self._run(self.client.zrangebyscore(self._k("convs"), "-inf", f"({events_before!r}"))
        for cid in old:
            counts["conversations"] += await self._script(self._drop, cid, repr(float(events_before)))
        while True:
            n = await self._script(self._purge_events, repr(float(events_before)), "1000")
            counts["events"] += n
            if n < 1000:
                break
        counts["webhook_ids"] = await self._run(
            self.client.zremrangebyscore(self._k("wh"), "-inf", f"({float(webhooks_before)!r}"))
        return counts
