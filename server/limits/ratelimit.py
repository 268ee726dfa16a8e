"""Token buckets per API key and per session: a runaway agent loop or a leaked key slows down to the
configured rate instead of starving every other caller."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from server.errors import RateLimited

KEPT_BUCKETS = 50_000  # least recently used buckets beyond this are dropped (a dropped bucket starts full)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """`rate` tokens per second, at most `burst` saved up; `rate == 0` means no limit."""

    def __init__(self, rate: float, burst: int, what: str) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.what = what
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> None:
        """Spends one token of `key`'s bucket, or raises `RateLimited` saying when one will be there."""
        if not self.enabled:
            return
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
            if len(self._buckets) > KEPT_BUCKETS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        wait = (1 - bucket.tokens) / self.rate
        raise RateLimited(
            f"too many requests for this {self.what} (limit {self.rate:g}/s, burst {self.burst:g}); "
            f"retry after {wait:.2f} s",
            {"retry_after_seconds": round(wait, 3), "scope": self.what},
        )


class Throttles:
    """The two limits the server applies, with a hook that counts refusals (metrics)."""

    def __init__(self, per_api_key: float, per_session: float, burst: int, on_refusal: Callable[[str], None]) -> None:
        self.api_key = RateLimiter(per_api_key, burst, "API key")
        self.session = RateLimiter(per_session, burst, "session")
        self._on_refusal = on_refusal

    def take(self, limiter: RateLimiter, key: str) -> None:
        try:
            limiter.take(key)
        except RateLimited:
            self._on_refusal(limiter.what)
            raise
