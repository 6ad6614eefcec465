"""Token buckets: ``rate`` calls per minute sustained, ``burst`` at once, per key.

The gateway keeps two: one per agency for its calls, one per client address for failed
authentications (`gateway.app`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """Token buckets by key, in this process's memory (each gateway replica limits alone).

    At most ``max_keys`` buckets are kept (the least recently used go first, starting full
    again), so keys the caller chooses, such as client addresses, cannot grow it without end.
    """

    def __init__(
        self,
        *,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(max(burst, 1))
        self._clock = clock
        self._max_keys = max(max_keys, 1)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._buckets.get(key, (self._burst, now))
        return min(self._burst, tokens + (now - last) * self._rate)

    def _until_one(self, tokens: float) -> float:
        return (1.0 - tokens) / self._rate if self._rate > 0 else 60.0

    def take(self, key: str) -> float:
        """Spend one token for ``key``: 0.0 when allowed, else seconds until the next token."""
        now = self._clock()
        tokens = self._tokens(key, now)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        self._buckets.move_to_end(key)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return 0.0 if allowed else self._until_one(tokens)

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token (0.0: it has one now), spending nothing."""
        tokens = self._tokens(key, self._clock())
        return 0.0 if tokens >= 1.0 else self._until_one(tokens)
