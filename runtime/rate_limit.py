"""Per-client rate limit on the expensive endpoints: a token bucket per API key (or address, without keys)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection

from fastapi import Request

from common.errors import TooManyRequests
from common.http.auth import owner_of

MAX_CLIENTS = 10_000  # buckets kept; idle full ones are dropped first


class RateLimiter:
    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last refill)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, client: str) -> None:
        """Spend one token of `client`'s bucket, or refuse with 429 and when to come back."""
        if not self.enabled:
            return
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                wait_s = math.ceil((1 - tokens) / self.rate)
                raise TooManyRequests(
                    f"too many requests from this client: {self.burst} at once, then "
                    f"{round(self.rate * 60)} per minute; try again in {wait_s} s",
                    headers={"Retry-After": str(wait_s)},
                )
            self._buckets[client] = (tokens - 1, now)
            if len(self._buckets) > MAX_CLIENTS:
                self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate
        for client, (_, last) in list(self._buckets.items()):
            if now - last > full_after:
                del self._buckets[client]


def client_identity(request: Request, keys: Collection[str]) -> str:
    """With keys configured, the caller's (valid: the guard refused the rest) key, hashed so keys never sit in
    memory as labels; without keys, the peer address: a made-up X-API-Key is then no new identity."""
    return owner_of(request, keys) or "addr:" + (request.client.host if request.client else "unknown")
