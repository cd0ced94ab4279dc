"""Time, injected: the domain never reads the wall clock itself."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

# Councils in scope are all in the UK; "today" for a deadline or a date check is the UK date.
UK = ZoneInfo("Europe/London")


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def uk_today(clock: Clock) -> date:
    """Return the date it is now in the UK."""
    return clock.now().astimezone(UK).date()
