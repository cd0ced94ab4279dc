"""Teams' per-thread send limits, kept on our side so the connector rarely has to answer 429.

Limits per bot per conversation thread (msteams-docs, bots/how-to/rate-limit.md): 7 in 1 s, 8 in 2 s,
60 in 30 s, 1800 in 3600 s; and about 50 requests a second per app per tenant, kept as a global window.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

THREAD_LIMITS: tuple[tuple[int, float], ...] = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
APP_LIMITS: tuple[tuple[int, float], ...] = ((50, 1.0),)
_EVERYWHERE = "*"


class RateLimiter:
    """Sliding windows per conversation (and one across all); `wait` says how long before the next send."""

    def __init__(self, limits: tuple[tuple[int, float], ...] = THREAD_LIMITS,
                 overall: tuple[tuple[int, float], ...] = APP_LIMITS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._overall = overall
        self._now = monotonic
        self._sent: dict[str, deque[float]] = {}
        self._longest = max(window for _, window in (*limits, *overall))

    def _history(self, lane: str) -> deque[float]:
        history = self._sent.setdefault(lane, deque())
        horizon = self._now() - self._longest
        while history and history[0] <= horizon:
            history.popleft()
        return history

    @staticmethod
    def _wait(history: deque[float], limits: tuple[tuple[int, float], ...], now: float) -> float:
        wait = 0.0
        for count, window in limits:
            recent = [t for t in history if t > now - window]
            if len(recent) >= count:
                # The send that would break the window must wait until its oldest counted send leaves it;
                # never 0 while the window is full, whatever the float rounding of `now - window` did.
                wait = max(wait, recent[-count] + window - now, 1e-6)
        return wait

    def wait(self, lane: str) -> float:
        """Seconds until a message may go to `lane` without breaking any window (0 when it may go now)."""
        now = self._now()
        return max(self._wait(self._history(lane), self._limits, now),
                   self._wait(self._history(_EVERYWHERE), self._overall, now))

    def record(self, lane: str) -> None:
        now = self._now()
        self._history(lane).append(now)
        self._history(_EVERYWHERE).append(now)

    def forget_idle(self) -> None:
        """Drop lanes with nothing in their windows, so a long-running process does not grow."""
        for lane in [lane for lane in self._sent if not self._history(lane)]:
            del self._sent[lane]
