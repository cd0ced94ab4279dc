"""A per-user limit on commands: a token bucket for each (tenant, AAD user id), kept in the bot process.

Each replica keeps its own buckets, so with N replicas a person may get up to N times the rate: the limit
is there to keep one person's runaway client (or script) from swamping the bot and the case record,
not to meter anyone exactly.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*(s|m|h)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class UserRate:
    """`commands` per `seconds` on average, with up to `burst` at once after a quiet spell."""

    commands: int
    seconds: float
    burst: int

    @classmethod
    def parse(cls, rate: str, burst: str = "") -> UserRate:
        """CONCERNS_USER_RATE ("30/60s", "30/1m", "600/1h") and CONCERNS_USER_BURST (default: a third of the
        rate, at least 1); ValueError with a message an operator can act on."""
        found = _RATE.match(rate)
        if not found or int(found.group(1)) < 1 or int(found.group(2)) < 1:
            raise ValueError(f"{rate!r} is not a rate such as 30/60s (commands per seconds, minutes or hours)")
        commands = int(found.group(1))
        seconds = int(found.group(2)) * _UNIT_SECONDS[found.group(3) or "s"]
        if not burst.strip():
            return cls(commands, seconds, max(1, commands // 3))
        if not burst.strip().isdigit() or int(burst) < 1:
            raise ValueError(f"the burst {burst!r} is not a whole number of commands, 1 or more")
        return cls(commands, seconds, int(burst))

    @property
    def per_second(self) -> float:
        return self.commands / self.seconds

    def __str__(self) -> str:
        return f"{self.commands} commands per {self.seconds:g} s, {self.burst} at once"


@dataclass
class _Bucket:
    tokens: float
    at: float  # when `tokens` was last brought up to date
    told: bool = False  # the person has been told to wait since their last accepted command


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds until the next command would be accepted
    tell: bool = False  # the first refusal since the last accepted command: say so, once


class Throttle:
    """Token buckets per key. `monotonic` is the clock (tests replace it; the domain clock is not used,
    because the dev clock jumps days and the test clock stands still)."""

    def __init__(self, rate: UserRate, *, monotonic: Callable[[], float] = time.monotonic,
                 max_buckets: int = 100_000) -> None:
        self.rate = rate
        self.monotonic = monotonic
        self.max_buckets = max_buckets
        # Least recently used first: idle buckets are found, and dropped, at the front.
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: tuple[str, str]) -> Verdict:
        now = self.monotonic()
        self._forget_idle(now)
        bucket = self._buckets.pop(key, None) or _Bucket(tokens=float(self.rate.burst), at=now)
        self._buckets[key] = bucket
        bucket.tokens = min(float(self.rate.burst), bucket.tokens + max(0.0, now - bucket.at) * self.rate.per_second)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.told = False
            return Verdict(allowed=True)
        retry_after = max(1, math.ceil((1 - bucket.tokens) / self.rate.per_second))
        tell, bucket.told = not bucket.told, True
        return Verdict(allowed=False, retry_after=retry_after, tell=tell)

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled completely: forgetting one changes nothing, as a new one starts full.
        Past `max_buckets` (a flood of made-up user ids) the least recently used go first; at worst that
        lets someone who was waiting start afresh."""
        refill = self.rate.burst / self.rate.per_second
        while self._buckets:
            key, oldest = next(iter(self._buckets.items()))
            if now - oldest.at < refill and len(self._buckets) < self.max_buckets:
                break
            del self._buckets[key]
