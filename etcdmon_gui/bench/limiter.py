"""A token bucket with the semantics of Go's ``golang.org/x/time/rate``.

etcd's ``tools/benchmark`` and ``etcdctl check perf`` call ``Limiter.Wait`` with a
burst of 1 before each request: the bucket starts full, refills at ``rate`` tokens a
second up to ``burst``, and a request that finds it empty reserves the next token and
waits for it. Reservations queue, so N clients waiting at once are spaced 1/rate apart.
"""

from __future__ import annotations


class RateLimiter:
    """``reserve(now)`` takes a token and returns how long to wait for it (seconds)."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = float(rate)
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None

    def reserve(self, now: float) -> float:
        last = now if self._last is None else min(self._last, now)
        tokens = min(float(self.burst), self._tokens + (now - last) * self.rate)
        tokens -= 1.0
        self._tokens = tokens
        self._last = now
        return -tokens / self.rate if tokens < 0 else 0.0
