from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from concerns.calendar import Nation, WorkingCalendar

ENGLAND = WorkingCalendar(Nation.ENGLAND)
WALES = WorkingCalendar(Nation.WALES)
SCOTLAND = WorkingCalendar(Nation.SCOTLAND)
NORTHERN_IRELAND = WorkingCalendar(Nation.NORTHERN_IRELAND)
ALL_NATIONS = [ENGLAND, WALES, SCOTLAND, NORTHERN_IRELAND]


def test_nation_accepts_the_pack_strings_and_defaults_to_england() -> None:
    assert WorkingCalendar().nation is Nation.ENGLAND
    assert WorkingCalendar("scotland").nation is Nation.SCOTLAND
    assert WorkingCalendar("northern_ireland").nation is Nation.NORTHERN_IRELAND
    with pytest.raises(ValueError):
        WorkingCalendar("england_and_wales")


@pytest.mark.parametrize("calendar", ALL_NATIONS, ids=str)
def test_ordinary_weekdays_work_and_weekends_do_not(calendar: WorkingCalendar) -> None:
    assert calendar.is_working_day(date(2026, 11, 25))  # Wednesday
    assert not calendar.is_working_day(date(2026, 11, 28))  # Saturday
    assert not calendar.is_working_day(date(2026, 11, 29))  # Sunday
    assert calendar.holiday_name(date(2026, 11, 25)) is None


@pytest.mark.parametrize("calendar", [ENGLAND, WALES], ids=str)
@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 4, 3), "Good Friday"),
        (date(2026, 4, 6), "Easter Monday"),
        (date(2026, 12, 25), "Christmas Day"),  # Friday
        (date(2026, 12, 28), "Boxing Day (observed)"),  # 26 Dec is a Saturday
        (date(2027, 3, 26), "Good Friday"),
        (date(2027, 3, 29), "Easter Monday"),
        (date(2027, 12, 27), "Christmas Day (observed)"),  # 25 Dec is a Saturday
        (date(2027, 12, 28), "Boxing Day (observed)"),  # 26 Dec is a Sunday
        (date(2028, 1, 3), "New Year's Day (observed)"),  # 1 Jan 2028 is a Saturday
    ],
)
def test_england_and_wales_bank_holidays(calendar: WorkingCalendar, day: date, name: str) -> None:
    assert not calendar.is_working_day(day)
    assert calendar.holiday_name(day) == name


@pytest.mark.parametrize("calendar", [ENGLAND, WALES], ids=str)
def test_days_around_christmas_in_england_and_wales(calendar: WorkingCalendar) -> None:
    assert calendar.is_working_day(date(2026, 12, 24))  # Christmas Eve is not a bank holiday
    assert calendar.is_working_day(date(2026, 12, 29))
    assert calendar.is_working_day(date(2027, 12, 29))
    # The Saturday itself still carries the holiday's name, though it is a weekend anyway.
    assert calendar.holiday_name(date(2026, 12, 26)) == "Boxing Day"
    assert not calendar.is_working_day(date(2026, 12, 26))


def test_scotland_has_2_january_and_st_andrews_day_but_not_easter_monday() -> None:
    assert SCOTLAND.holiday_name(date(2026, 1, 2)) == "New Year Holiday"
    assert ENGLAND.is_working_day(date(2026, 1, 2))

    assert SCOTLAND.is_working_day(date(2026, 4, 6))  # Easter Monday
    assert SCOTLAND.is_working_day(date(2027, 3, 29))
    assert not SCOTLAND.is_working_day(date(2026, 4, 3))  # Good Friday is a holiday everywhere

    assert SCOTLAND.holiday_name(date(2026, 11, 30)) == "Saint Andrew's Day"  # Monday
    assert ENGLAND.is_working_day(date(2026, 11, 30))
    assert SCOTLAND.holiday_name(date(2027, 11, 30)) == "Saint Andrew's Day"  # Tuesday


def test_scotland_substitute_days() -> None:
    # 30 Nov 2025 was a Sunday: St Andrew's Day moved to Monday 1 Dec.
    assert SCOTLAND.holiday_name(date(2025, 12, 1)) == "Saint Andrew's Day (observed)"
    assert ENGLAND.is_working_day(date(2025, 12, 1))
    # 2 Jan 2027 is a Saturday: the holiday moves to Monday 4 Jan.
    assert SCOTLAND.holiday_name(date(2027, 1, 4)) == "New Year Holiday (observed)"
    assert ENGLAND.is_working_day(date(2027, 1, 4))
    # 1 and 2 Jan 2028 are a weekend: Monday 3 and Tuesday 4 Jan are both off in Scotland.
    assert not SCOTLAND.is_working_day(date(2028, 1, 3))
    assert not SCOTLAND.is_working_day(date(2028, 1, 4))
    assert ENGLAND.is_working_day(date(2028, 1, 4))


def test_scotland_summer_bank_holiday_is_early_august_not_late() -> None:
    assert SCOTLAND.holiday_name(date(2026, 8, 3)) == "Summer Bank Holiday"
    assert SCOTLAND.is_working_day(date(2026, 8, 31))
    assert ENGLAND.is_working_day(date(2026, 8, 3))
    assert ENGLAND.holiday_name(date(2026, 8, 31)) == "Late Summer Bank Holiday"


def test_scotland_one_off_world_cup_holiday_2026() -> None:
    # Proclaimed for Scotland only (Privy Council proclamation, February 2026).
    assert not SCOTLAND.is_working_day(date(2026, 6, 15))
    assert ENGLAND.is_working_day(date(2026, 6, 15))


def test_northern_ireland_holidays() -> None:
    assert NORTHERN_IRELAND.holiday_name(date(2026, 3, 17)) == "Saint Patrick's Day"  # Tuesday
    assert NORTHERN_IRELAND.holiday_name(date(2027, 3, 17)) == "Saint Patrick's Day"  # Wednesday
    # 12 Jul 2026 is a Sunday: the Boyne holiday moves to Monday 13 Jul.
    assert NORTHERN_IRELAND.holiday_name(date(2026, 7, 13)) == "Battle of the Boyne (observed)"
    assert NORTHERN_IRELAND.holiday_name(date(2027, 7, 12)) == "Battle of the Boyne"  # Monday
    assert not NORTHERN_IRELAND.is_working_day(date(2026, 4, 6))  # Easter Monday, as in England
    for day in (date(2026, 3, 17), date(2026, 7, 13), date(2027, 7, 12)):
        assert ENGLAND.is_working_day(day)
        assert SCOTLAND.is_working_day(day)


@pytest.mark.parametrize(
    ("calendar", "expected"),
    [(ENGLAND, 253), (WALES, 253), (SCOTLAND, 251), (NORTHERN_IRELAND, 251)],
    ids=str,
)
def test_working_days_in_2026(calendar: WorkingCalendar, expected: int) -> None:
    # 261 weekdays, less 8 weekday bank holidays in England and Wales, 10 in Scotland and Northern Ireland.
    assert calendar.working_days_between(date(2025, 12, 31), date(2026, 12, 31)) == expected


def test_add_working_days_across_christmas_2026() -> None:
    assert ENGLAND.add_working_days(date(2026, 12, 23), 2) == date(2026, 12, 29)  # Thu 24, then Tue 29
    assert ENGLAND.add_working_days(date(2026, 12, 18), 5) == date(2026, 12, 29)  # Mon 21 .. Thu 24, Tue 29
    assert ENGLAND.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)


def test_add_working_days_across_christmas_2027() -> None:
    # Fri 24 Dec, then Mon 27 and Tue 28 are the substitute days.
    assert ENGLAND.add_working_days(date(2027, 12, 23), 2) == date(2027, 12, 29)


def test_add_working_days_across_easter_2027() -> None:
    # Good Friday 26 Mar; Easter Monday 29 Mar is off in England but not in Scotland.
    assert ENGLAND.add_working_days(date(2027, 3, 25), 1) == date(2027, 3, 30)
    assert SCOTLAND.add_working_days(date(2027, 3, 25), 1) == date(2027, 3, 29)
    assert ENGLAND.add_working_days(date(2027, 3, 22), 5) == date(2027, 3, 31)  # Tue 23 .. Thu 25, Tue 30, Wed 31
    assert SCOTLAND.add_working_days(date(2027, 3, 22), 5) == date(2027, 3, 30)


def test_five_working_day_decision_timescale_from_monday_23_november_2026() -> None:
    assert ENGLAND.add_working_days(date(2026, 11, 23), 5) == date(2026, 11, 30)
    # 30 Nov 2026 is St Andrew's Day in Scotland.
    assert SCOTLAND.add_working_days(date(2026, 11, 23), 5) == date(2026, 12, 1)


def test_add_working_days_from_a_non_working_day() -> None:
    # Saturday before Easter 2026: Monday 6 Apr is off in England, not in Scotland.
    assert ENGLAND.add_working_days(date(2026, 4, 4), 1) == date(2026, 4, 7)
    assert SCOTLAND.add_working_days(date(2026, 4, 4), 1) == date(2026, 4, 6)


def test_add_zero_working_days() -> None:
    assert ENGLAND.add_working_days(date(2026, 12, 23), 0) == date(2026, 12, 23)
    assert ENGLAND.add_working_days(date(2026, 12, 19), 0) == date(2026, 12, 21)  # Saturday
    assert ENGLAND.add_working_days(date(2026, 12, 26), 0) == date(2026, 12, 29)  # Boxing Day Saturday


def test_add_negative_working_days() -> None:
    assert ENGLAND.add_working_days(date(2026, 12, 29), -2) == date(2026, 12, 23)
    assert ENGLAND.add_working_days(date(2026, 4, 7), -1) == date(2026, 4, 2)  # skips Easter Monday, Good Friday
    assert SCOTLAND.add_working_days(date(2026, 4, 7), -1) == date(2026, 4, 6)
    assert ENGLAND.add_working_days(date(2026, 4, 5), -1) == date(2026, 4, 2)  # from Easter Sunday
    assert SCOTLAND.add_working_days(date(2026, 12, 1), -1) == date(2026, 11, 27)  # skips St Andrew's Day


def test_next_and_this_or_next_working_day() -> None:
    assert ENGLAND.next_working_day(date(2026, 12, 24)) == date(2026, 12, 29)
    assert ENGLAND.next_working_day(date(2026, 12, 23)) == date(2026, 12, 24)
    assert ENGLAND.this_or_next_working_day(date(2026, 12, 23)) == date(2026, 12, 23)
    assert ENGLAND.this_or_next_working_day(date(2026, 12, 25)) == date(2026, 12, 29)
    assert SCOTLAND.next_working_day(date(2027, 12, 31)) == date(2028, 1, 5)  # Mon 3 and Tue 4 Jan are off


def test_working_days_between() -> None:
    assert ENGLAND.working_days_between(date(2026, 12, 23), date(2026, 12, 23)) == 0
    assert ENGLAND.working_days_between(date(2026, 12, 23), date(2026, 12, 29)) == 2
    assert ENGLAND.working_days_between(date(2026, 12, 29), date(2026, 12, 23)) == -2
    assert ENGLAND.working_days_between(date(2026, 12, 18), date(2026, 12, 20)) == 0  # Friday to Sunday
    assert ENGLAND.working_days_between(date(2026, 12, 18), date(2026, 12, 21)) == 1
    assert ENGLAND.working_days_between(date(2026, 12, 24), date(2026, 12, 28)) == 0
    # 29, 30, 31 Dec and 4 Jan in England; 4 Jan 2027 is a substitute holiday in Scotland.
    assert ENGLAND.working_days_between(date(2026, 12, 24), date(2027, 1, 4)) == 4
    assert SCOTLAND.working_days_between(date(2026, 12, 24), date(2027, 1, 4)) == 3
    assert SCOTLAND.working_days_between(date(2027, 1, 4), date(2026, 12, 24)) == -3


def test_lookups_work_in_any_year_order() -> None:
    fresh = WorkingCalendar(Nation.WALES)
    assert not fresh.is_working_day(date(2028, 4, 14))  # Good Friday 2028
    assert not fresh.is_working_day(date(2026, 4, 3))
    assert not fresh.is_working_day(date(2027, 3, 26))
    assert fresh.is_working_day(date(2028, 4, 18))


calendars = st.sampled_from(ALL_NATIONS)
dates = st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31))
counts = st.integers(min_value=0, max_value=60)


@given(calendar=calendars, start=dates, n=counts)
def test_add_then_count_round_trips(calendar: WorkingCalendar, start: date, n: int) -> None:
    forward = calendar.add_working_days(start, n)
    backward = calendar.add_working_days(start, -n)
    assert calendar.is_working_day(forward)
    assert forward >= start
    if calendar.is_working_day(start):
        assert calendar.working_days_between(start, forward) == n
        assert calendar.is_working_day(backward)
        assert calendar.working_days_between(start, backward) == -n


@given(calendar=calendars, start=dates, end=dates)
def test_working_days_between_is_antisymmetric(calendar: WorkingCalendar, start: date, end: date) -> None:
    assert calendar.working_days_between(start, end) == -calendar.working_days_between(end, start)
