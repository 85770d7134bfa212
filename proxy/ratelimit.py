"""Token buckets keyed by client IP or conversation; in memory, bounded in size."""
from __future__ import annotations

import collections
import math
import time


class RateLimiter:
    """``rate`` = (N, S): N requests per S seconds, refilled continuously, bursts up to N."""

    def __init__(self, rate: tuple[int, float], max_keys: int = 100_000):
        self.capacity, period = rate
        self.per_second = self.capacity / period
        self.max_keys = max_keys
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = collections.OrderedDict()

    def check(self, key: str, now: float | None = None) -> float:
        """Take one token; return 0 when allowed, else the seconds to wait (for Retry-After)."""
        now = time.monotonic() if now is None else now
        tokens, stamp = self._buckets.pop(key, (float(self.capacity), now))
        tokens = min(self.capacity, tokens + (now - stamp) * self.per_second)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.per_second
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait

    @staticmethod
    def retry_after(wait: float) -> int:
        return max(1, math.ceil(wait))
