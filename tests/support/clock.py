"""A clock the tests set by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FixedClock:
    def __init__(self, at: datetime | str = "2026-11-23T10:30:00+00:00") -> None:
        self.at = datetime.fromisoformat(at) if isinstance(at, str) else at
        if self.at.tzinfo is None:
            self.at = self.at.replace(tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)
