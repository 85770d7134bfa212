"""The cluster interfaces (proxy/cluster/base.py): the store picks the implementation, and the
in-process leases keep RedisLeases' rules for one node."""
from __future__ import annotations

import asyncio

from proxy.cluster.base import Leases
from proxy.cluster.local import LocalFanout, LocalLeases
from proxy.cluster.redis import RedisFanout, RedisLeases
from proxy.hub import Hub
from proxy.store.redis import RedisStore
from proxy.store.sqlite import SQLiteStore
from tests import redisproc
from tests.redisproc import prefix  # noqa: F401  (fixture)


async def test_local_leases_are_this_nodes_until_they_expire_unrenewed():
    leases = LocalLeases(ttl=0.2)
    assert isinstance(leases, Leases) and leases.shared is False
    assert await leases.acquire("a") is True
    assert await leases.acquire("a") is True            # already this node's, as with Redis
    assert await leases.renew(["a", "b"]) == ["a"]      # b was never taken
    await asyncio.sleep(0.3)
    assert await leases.renew(["a"]) == []              # not renewed in time: lost
    assert await leases.acquire("a") is True
    await leases.release("a")
    assert await leases.renew(["a"]) == []


async def test_sqlite_store_gives_the_in_process_cluster(tmp_path):
    hub = Hub()
    cluster = await SQLiteStore(str(tmp_path / "relay.db")).cluster(hub, 7.0)
    assert isinstance(cluster.fanout, LocalFanout) and isinstance(cluster.leases, LocalLeases)
    assert cluster.leases.ttl == 7.0 and cluster.fanout.node is None
    await cluster.fanout.start()
    assert cluster.fanout.connected.is_set()
    assert hub.forward == cluster.fanout.forward       # the hub tells it; nobody else to tell
    hub.publish("c1", {"seq": 1, "type": "message"})
    await cluster.fanout.stop()
    assert hub.forward is None


async def test_redis_store_gives_the_redis_cluster(prefix):  # noqa: F811
    store = RedisStore(f"redis://127.0.0.1:{redisproc.SHARED_PORT}/0?prefix={prefix}")
    await store.open()
    try:
        cluster = await store.cluster(Hub(), 5.0)
        assert isinstance(cluster.fanout, RedisFanout) and isinstance(cluster.leases, RedisLeases)
        assert cluster.leases.shared is True and cluster.fanout.node
        assert await cluster.leases.acquire("x") is True
        assert await cluster.leases.acquire("x") is True    # this node's
        await cluster.leases.release("x")
    finally:
        await store.close()
