"""Redis pub/sub between relay nodes, and leases in Redis.

``RedisFanout`` publishes every event this node's hub publishes on one channel,
``{prefix}:fanout``, as ``node\\nconversation\\nevent-json``, and hands events from other nodes to
the local hub (parsed only when someone here reads that conversation). Pub/sub is at most once:
correctness stays with the store (``hub.Cursor`` reads it on a gap). When a message may have been
lost — this node's subscription was down, or its publish failed — every reader is told to read the
store again: locally by ``hub.resync``, on the other nodes by a resync message. Both loops back off
(full jitter, 0.1 s → 5 s) while Redis is away, so a dead Redis costs no busy loop.

``RedisLeases``: ``SET NX PX`` to acquire, a compare-and-expire script to renew, compare-and-delete
to release; the value is the node id, so a node only ever extends or drops its own leases.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import secrets
import socket
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from proxy.events import dumps

if TYPE_CHECKING:
    from proxy.hub import Hub

log = logging.getLogger("relay.cluster")
SEND_BATCH = 256
QUEUE_LIMIT = 10_000

RENEW = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    out[#out + 1] = i
  end
end
return out
"""
RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def backoff(failures: int, base: float = 0.1, cap: float = 5.0) -> float:
    """Full jitter: a random delay up to ``base * 2**failures``, capped."""
    return random.uniform(0, min(cap, base * 2 ** failures))


class RedisFanout:
    def __init__(self, url: str, prefix: str, hub: Hub, node: str):
        self.node: str | None
        self.url, self.channel, self.hub, self.node = url, f"{prefix}:fanout", hub, node
        self.client: aioredis.Redis | None = None
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._resync_others = False
        self.connected = asyncio.Event()     # the subscription is up (for /healthz and tests)

    async def start(self) -> None:
        self.client = client = aioredis.from_url(self.url, decode_responses=True, socket_connect_timeout=2,
                                                 socket_timeout=5, health_check_interval=5)
        self.hub.forward = self.forward
        self._tasks = [asyncio.create_task(self._listen(client), name="fanout-listen"),
                       asyncio.create_task(self._send(client), name="fanout-send")]
        try:   # start healthy when Redis is there; otherwise /healthz says so until it is
            await asyncio.wait_for(self.connected.wait(), 3)
        except TimeoutError:
            pass

    async def stop(self) -> None:
        self.hub.forward = None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()
            await self.client.connection_pool.disconnect()

    def forward(self, conversation_id: str, event: dict) -> None:
        if self._queue.qsize() >= QUEUE_LIMIT:    # Redis too slow or away: drop, the others resync
            self._resync_others = True
            return
        self._queue.put_nowait((conversation_id, dumps(event)))

    async def _send(self, client: aioredis.Redis) -> None:
        failures = 0
        batch: list[tuple[str, str]] = []
        while True:
            if not batch:
                batch = [await self._queue.get()]
            while len(batch) < SEND_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                pipe = client.pipeline(transaction=False)
                if self._resync_others:
                    pipe.publish(self.channel, f"{self.node}\n\n")
                for cid, body in batch:
                    pipe.publish(self.channel, f"{self.node}\n{cid}\n{body}")
                await pipe.execute()
                self._resync_others = False
                failures, batch = 0, []
            except (RedisError, OSError) as exc:
                # kept and sent again (a repeat is harmless: readers skip a seq they have); the
                # others are also told to re-read the store, for what the queue limit dropped
                self._resync_others = True
                failures += 1
                if failures == 1:
                    log.warning("fan-out publish failed", extra={"reason": repr(exc)[:200], "waiting": len(batch)})
                await asyncio.sleep(backoff(failures))

    async def _listen(self, client: aioredis.Redis) -> None:
        failures = 0
        while True:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.connected.set()
                self.hub.resync()                  # anything published while we were not listening
                if failures:
                    log.info("fan-out reconnected")
                failures = 0
                while True:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is None:
                        continue
                    node, cid, body = msg["data"].split("\n", 2)
                    if node == self.node:
                        continue
                    if not cid:
                        self.hub.resync()
                    elif self.hub.wanted(cid):
                        self.hub.deliver(cid, json.loads(body))
            except (RedisError, OSError, ValueError) as exc:
                self.connected.clear()
                failures += 1
                if failures == 1:
                    log.warning("fan-out subscription lost", extra={"reason": repr(exc)[:200]})
                await asyncio.sleep(backoff(failures))
            finally:
                try:
                    await pubsub.aclose()
                except (RedisError, OSError):
                    pass


class RedisLeases:
    shared = True     # every node sharing the Redis takes them

    def __init__(self, client: aioredis.Redis, prefix: str, node: str, ttl: float):
        self.client, self.prefix, self.node, self.ttl = client, prefix, node, ttl
        self._renew = client.register_script(RENEW)
        self._release = client.register_script(RELEASE)

    def _key(self, name: str) -> str:
        return f"{self.prefix}:lease:{name}"

    async def acquire(self, name: str) -> bool:
        key = self._key(name)
        if await self.client.set(key, self.node, nx=True, px=int(self.ttl * 1000)):
            return True
        return await self.client.get(key) == self.node

    async def renew(self, names: list[str]) -> list[str]:
        if not names:
            return []
        kept = await self._renew(keys=[self._key(n) for n in names], args=[self.node, int(self.ttl * 1000)])
        return [names[i - 1] for i in kept]

    async def release(self, name: str) -> None:
        await self._release(keys=[self._key(name)], args=[self.node])

