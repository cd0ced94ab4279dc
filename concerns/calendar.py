"""Working-day arithmetic over the bank holidays of each UK nation."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from functools import cache

import holidays

__all__ = ["Nation", "WorkingCalendar"]

_ONE_DAY = timedelta(days=1)


class Nation(StrEnum):
    """A UK nation whose bank holidays a council observes."""

    ENGLAND = "england"
    WALES = "wales"
    SCOTLAND = "scotland"
    NORTHERN_IRELAND = "northern_ireland"


# England and Wales have the same bank holidays today, but the library keeps them as separate subdivisions, so a
# future divergence (e.g. a Welsh St David's Day holiday) is picked up without a code change.
_SUBDIVISIONS: dict[Nation, str] = {
    Nation.ENGLAND: "ENG",
    Nation.WALES: "WLS",
    Nation.SCOTLAND: "SCT",
    Nation.NORTHERN_IRELAND: "NIR",
}


@cache
def _bank_holidays(nation: Nation) -> holidays.HolidayBase:
    # expand=True (the default) populates each year on first lookup, so one shared object serves any date.
    return holidays.country_holidays("GB", subdiv=_SUBDIVISIONS[nation], expand=True)


class WorkingCalendar:
    """Working days (Monday to Friday, less the nation's bank holidays) for one UK nation."""

    def __init__(self, nation: Nation | str = Nation.ENGLAND) -> None:
        self.nation: Nation = Nation(nation)
        self._holidays = _bank_holidays(self.nation)

    def __repr__(self) -> str:
        return f"WorkingCalendar({self.nation.value!r})"

    def is_working_day(self, day: date) -> bool:
        """Return whether `day` is a weekday that is not a bank holiday in this nation."""
        return day.weekday() < 5 and day not in self._holidays

    def holiday_name(self, day: date) -> str | None:
        """Return the bank holiday name(s) for `day` in this nation, or None if it is not one."""
        return self._holidays.get(day)

    def next_working_day(self, day: date) -> date:
        """Return the first working day strictly after `day`."""
        day += _ONE_DAY
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def _previous_working_day(self, day: date) -> date:
        day -= _ONE_DAY
        while not self.is_working_day(day):
            day -= _ONE_DAY
        return day

    def this_or_next_working_day(self, day: date) -> date:
        """Return `day` if it is a working day, otherwise the next working day."""
        return day if self.is_working_day(day) else self.next_working_day(day)

    def add_working_days(self, start: date, n: int) -> date:
        """Return the date `n` working days after `start` (before it if `n` is negative); `start` is never counted."""
        if n == 0:
            return self.this_or_next_working_day(start)
        day = start
        if n > 0:
            for _ in range(n):
                day = self.next_working_day(day)
        else:
            for _ in range(-n):
                day = self._previous_working_day(day)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Return the number of working days after `start` up to and including `end`, negated if `end` is earlier."""
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start + _ONE_DAY
        while day <= end:
            if self.is_working_day(day):
                count += 1
            day += _ONE_DAY
        return count
