"""proxy.ratelimit.RateLimiter: token buckets with an explicit clock.

A burst of N is allowed, the next one gets a positive wait that is exactly the refill time,
tokens come back as time passes (never above N), keys do not share buckets, the number of keys
is bounded, and ``retry_after`` turns a wait into whole seconds of at least 1.
"""
from __future__ import annotations

import pytest

from proxy.ratelimit import RateLimiter


def test_burst_of_n_allowed_then_wait():
    limiter = RateLimiter((5, 10.0))
    assert [limiter.check("ip", now=100.0) for _ in range(5)] == [0.0] * 5
    wait = limiter.check("ip", now=100.0)
    assert wait == pytest.approx(2.0)        # one token every 10/5 = 2 s


def test_refused_requests_do_not_consume():
    limiter = RateLimiter((2, 2.0))
    limiter.check("k", now=0.0)
    limiter.check("k", now=0.0)
    assert limiter.check("k", now=0.0) == pytest.approx(1.0)
    assert limiter.check("k", now=0.0) == pytest.approx(1.0)
    assert limiter.check("k", now=0.5) == pytest.approx(0.5)


def test_refill_after_time_passes():
    limiter = RateLimiter((3, 3.0))
    for _ in range(3):
        assert limiter.check("k", now=0.0) == 0
    assert limiter.check("k", now=0.0) > 0
    assert limiter.check("k", now=1.0) == 0          # one token back after 1 s
    assert limiter.check("k", now=1.0) > 0
    # a long pause refills to capacity, not beyond
    assert [limiter.check("k", now=1000.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.check("k", now=1000.0) > 0


def test_partial_refill_is_not_enough():
    limiter = RateLimiter((1, 10.0))
    assert limiter.check("k", now=0.0) == 0
    wait = limiter.check("k", now=4.0)
    assert wait == pytest.approx(6.0)
    assert limiter.check("k", now=10.0) == 0


def test_keys_are_independent():
    limiter = RateLimiter((2, 60.0))
    assert limiter.check("a", now=0.0) == 0
    assert limiter.check("a", now=0.0) == 0
    assert limiter.check("a", now=0.0) > 0
    assert limiter.check("b", now=0.0) == 0
    assert limiter.check("b", now=0.0) == 0
    assert limiter.check("b", now=0.0) > 0


def test_max_keys_bound():
    limiter = RateLimiter((1, 60.0), max_keys=3)
    for key in "abcdefgh":
        limiter.check(key, now=0.0)
        assert len(limiter._buckets) <= 3
    assert set(limiter._buckets) == {"f", "g", "h"}   # the least recently used go first


def test_max_keys_evicts_least_recently_used():
    limiter = RateLimiter((1, 60.0), max_keys=2)
    limiter.check("a", now=0.0)
    limiter.check("b", now=0.0)
    limiter.check("a", now=0.0)          # touch a: b is now the oldest
    limiter.check("c", now=0.0)
    assert set(limiter._buckets) == {"a", "c"}
    assert limiter.check("a", now=0.0) > 0     # a kept its (empty) bucket


def test_uses_monotonic_clock_by_default():
    limiter = RateLimiter((1, 3600.0))
    assert limiter.check("k") == 0
    assert limiter.check("k") > 0


@pytest.mark.parametrize("wait, seconds", [(0.0, 1), (0.001, 1), (0.5, 1), (1.0, 1), (1.0001, 2), (2.5, 3), (59.9, 60)])
def test_retry_after_rounds_up_to_at_least_one(wait, seconds):
    assert RateLimiter.retry_after(wait) == seconds
