"""The batch poller with several nodes: one poller at a time, the holder of the ``odoo-batch``
lease (a real RedisLeases on the shared Redis); when it stops another node takes over."""
from __future__ import annotations

import types

import pytest
import redis.asyncio as aioredis

from proxy.cluster.local import LocalLeases
from proxy.cluster.redis import RedisLeases
from proxy.odoo.batch import BatchPoller
from tests import redisproc


@pytest.fixture
async def client():
    redisproc.shared_redis_or_skip()
    prefix = redisproc.new_prefix()
    c = aioredis.Redis(port=redisproc.SHARED_PORT, decode_responses=True)
    yield c, prefix
    await c.aclose()
    redisproc.delete_prefix(prefix)


def poller(c, prefix: str, node: str) -> BatchPoller:
    replies = types.SimpleNamespace(leases=RedisLeases(c, prefix, node, ttl=5))
    return BatchPoller(replies, api=None, interval=1)


async def test_one_batch_poller_at_a_time(client):
    c, prefix = client
    a, b = poller(c, prefix, "node-a"), poller(c, prefix, "node-b")
    assert await a.lead() is True
    assert await b.lead() is False
    assert await a.lead() is True                 # renewed
    assert await b.lead() is False
    await a.stop()                                # releases the lease
    assert await b.lead() is True
    assert await a.lead() is False


async def test_one_node_polls_with_leases_in_process():
    alone = BatchPoller(types.SimpleNamespace(leases=LocalLeases(ttl=5)), api=None, interval=1)
    assert await alone.lead() is True
    assert await alone.lead() is True             # renewed
    await alone.stop()
    assert await alone.lead() is True
