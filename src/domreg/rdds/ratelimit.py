"""A per-client-IP token bucket, used by RDAP (429 with Retry-After) and WHOIS.

Each worker process keeps its own buckets (the limit holds per worker; with N workers a
client gets at most N times the rate). The table of buckets is bounded: when it grows past
`max_clients`, buckets that have refilled completely are forgotten (they hold no state a
fresh bucket would not have).
"""

from __future__ import annotations

import math
import time


class RateLimiter:
    """`rate` requests per second per client IP, with bursts of up to `burst`; rate <= 0: off."""

    __slots__ = ("_buckets", "burst", "max_clients", "rate")

    def __init__(self, rate: float, burst: float, max_clients: int = 100_000) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, client: str, cost: float = 1.0, now: float | None = None) -> float:
        """Spend `cost` tokens of `client`'s bucket: 0.0 if allowed, else the seconds to wait
        before a request would be (the Retry-After, rounded up by the caller)."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < cost:
            self._buckets[client] = (tokens, now)
            return (cost - tokens) / self.rate
        self._buckets[client] = (tokens - cost, now)
        if len(self._buckets) > self.max_clients:
            self._forget(now)
        return 0.0

    def _forget(self, now: float) -> None:
        full = [
            c
            for c, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate >= self.burst
        ]
        for c in full:
            del self._buckets[c]
        if len(self._buckets) > self.max_clients:  # still too many: forget the oldest half
            oldest = sorted(self._buckets, key=lambda c: self._buckets[c][1])
            for c in oldest[: len(oldest) // 2]:
                del self._buckets[c]


def retry_after(wait: float) -> int:
    """Whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(wait))
