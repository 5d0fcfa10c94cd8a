from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityloop_shared.reference import (
    OfficialYear,
    ReferenceDataError,
    TimeUnit,
    WorkingCalendar,
    WorkingDuration,
    WorkingSession,
    load_calendar,
)
from cityloop_shared.reference.bundle import DEMO_CITY
from cityloop_shared.reference.calendar import BeyondCoverage, CalendarNotCovered

Write = Callable[[str, str], Path]
SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkingCalendar()
REFUSING = WorkingCalendar(beyond_official_years=BeyondCoverage.REFUSE)


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def hours(amount: float) -> timedelta:
    return timedelta(hours=amount)


def days(amount: int) -> WorkingDuration:
    return WorkingDuration(unit=TimeUnit.WORKING_DAYS, amount=Decimal(amount))


def test_the_package_knows_the_2026_national_day_holiday_and_its_make_up_days() -> None:
    # The dates the tests below rely on, as chinese-calendar has them.
    holiday = [date(2026, 10, d) for d in range(1, 8)]
    assert all(chinese_calendar.is_holiday(d) for d in holiday)
    assert chinese_calendar.get_holiday_detail(date(2026, 9, 20)) == (False, "National Day")
    assert chinese_calendar.get_holiday_detail(date(2026, 10, 10)) == (False, "National Day")
    assert date(2026, 9, 20).strftime("%A") == "Sunday"
    assert date(2026, 10, 10).strftime("%A") == "Saturday"
    assert all(chinese_calendar.is_holiday(date(2026, 9, d)) for d in (25, 26, 27))


def test_official_working_days() -> None:
    assert CALENDAR.is_working_day(date(2026, 9, 30))
    assert not CALENDAR.is_working_day(date(2026, 10, 1))
    assert not CALENDAR.is_working_day(date(2026, 10, 7))
    assert CALENDAR.is_working_day(date(2026, 10, 10))  # make-up Saturday
    assert CALENDAR.is_working_day(date(2026, 9, 20))  # make-up Sunday
    assert not CALENDAR.is_working_day(date(2026, 10, 11))
    assert not CALENDAR.is_working_day(date(2026, 6, 13))  # an ordinary Saturday


def test_the_clock_stops_over_lunch() -> None:
    assert CALENDAR.add_working_time(at(2026, 6, 8, 11), hours(2)) == at(2026, 6, 8, 14, 30)
    assert CALENDAR.add_working_time(at(2026, 6, 8, 12, 30), hours(1)) == at(2026, 6, 8, 14, 30)


def test_a_limit_used_up_by_noon_is_due_at_noon() -> None:
    assert CALENDAR.add_working_time(at(2026, 6, 8, 11), hours(1)) == at(2026, 6, 8, 12)


def test_the_clock_stops_over_the_night_and_the_weekend() -> None:
    assert CALENDAR.add_working_time(at(2026, 6, 9, 17), hours(1)) == at(2026, 6, 10, 9)
    assert CALENDAR.add_working_time(at(2026, 6, 12, 17), hours(1)) == at(2026, 6, 15, 9)
    assert CALENDAR.add_working_time(at(2026, 6, 13, 10), hours(1)) == at(2026, 6, 15, 9, 30)


def test_the_clock_stops_over_the_national_day_holiday() -> None:
    # 1 hour on 30 September, then Thursday 8 October from 08:30.
    assert CALENDAR.add_working_time(at(2026, 9, 30, 16, 30), hours(4)) == at(2026, 10, 8, 11, 30)
    assert CALENDAR.working_time_between(at(2026, 9, 30, 17), at(2026, 10, 8, 9)) == hours(1)


def test_the_clock_runs_on_make_up_working_days() -> None:
    assert CALENDAR.add_working_time(at(2026, 10, 9, 17), hours(1)) == at(2026, 10, 10, 9)
    assert CALENDAR.add_working_time(at(2026, 10, 10, 17), hours(1)) == at(2026, 10, 12, 9)
    assert CALENDAR.add_working_time(at(2026, 9, 19, 10), hours(1)) == at(2026, 9, 20, 9, 30)


def test_working_days_end_at_the_same_clock_time() -> None:
    assert CALENDAR.add_working_time(at(2026, 6, 8, 10), days(1)) == at(2026, 6, 9, 10)
    assert CALENDAR.add_working_time(at(2026, 9, 30, 10), days(1)) == at(2026, 10, 8, 10)
    assert CALENDAR.add_working_time(at(2026, 9, 30, 10), days(3)) == at(2026, 10, 10, 10)
    assert CALENDAR.add_working_time(at(2026, 9, 24, 15), days(1)) == at(2026, 9, 28, 15)


def test_working_days_from_outside_working_hours_start_at_the_last_close() -> None:
    assert CALENDAR.add_working_time(at(2026, 6, 12, 18), days(1)) == at(2026, 6, 15, 17, 30)
    assert CALENDAR.add_working_time(at(2026, 6, 13, 10), days(1)) == at(2026, 6, 15, 17, 30)
    assert CALENDAR.add_working_time(at(2026, 6, 15, 7), days(1)) == at(2026, 6, 15, 17, 30)
    assert CALENDAR.add_working_time(at(2026, 6, 15, 8, 30), days(1)) == at(2026, 6, 15, 17, 30)
    assert CALENDAR.add_working_time(at(2026, 6, 15, 12, 30), days(1)) == at(2026, 6, 16, 12)
    assert CALENDAR.add_working_time(at(2026, 10, 9, 18), days(1)) == at(2026, 10, 10, 17, 30)


def test_durations_in_hours_and_minutes() -> None:
    four_hours = WorkingDuration(unit=TimeUnit.WORKING_HOURS, amount=Decimal(4))
    ten_minutes = WorkingDuration(unit=TimeUnit.WORKING_MINUTES, amount=Decimal(10))

    assert CALENDAR.add_working_time(at(2026, 6, 8, 10), four_hours) == at(2026, 6, 8, 15, 30)
    assert CALENDAR.add_working_time(at(2026, 6, 8, 11, 55), ten_minutes) == at(2026, 6, 8, 13, 35)


def test_the_deadline_keeps_the_start_timezone() -> None:
    start = at(2026, 6, 8, 11).astimezone(UTC)

    deadline = CALENDAR.add_working_time(start, hours(2))

    assert deadline.tzinfo is UTC
    assert deadline == at(2026, 6, 8, 14, 30)


def test_elapsed_working_time_is_negative_backwards_and_zero_off_hours() -> None:
    assert CALENDAR.working_time_between(at(2026, 6, 8, 14), at(2026, 6, 8, 11)) == -hours(1.5)
    assert CALENDAR.working_time_between(at(2026, 6, 13, 9), at(2026, 6, 14, 17)) == timedelta()
    assert CALENDAR.add_working_time(at(2026, 6, 13, 9), timedelta()) == at(2026, 6, 13, 9)


def test_operator_overrides_change_the_working_days() -> None:
    calendar = WorkingCalendar(
        extra_holidays=frozenset({date(2026, 6, 15)}),
        extra_working_days=frozenset({date(2026, 6, 13)}),
    )

    assert calendar.add_working_time(at(2026, 6, 12, 17), hours(1)) == at(2026, 6, 13, 9)
    assert calendar.add_working_time(at(2026, 6, 13, 17), hours(1)) == at(2026, 6, 16, 9)


def test_beyond_the_package_years_monday_to_friday_work_unless_listed() -> None:
    assert CALENDAR.is_working_day(date(2027, 3, 1))
    assert not CALENDAR.is_working_day(date(2027, 3, 6))
    listed = WorkingCalendar(extra_holidays=frozenset({date(2027, 1, 1)}))
    assert not listed.is_working_day(date(2027, 1, 1))


def test_the_operator_keeps_the_official_days_of_a_year_the_package_does_not_know(
    write: Write,
) -> None:
    """New Year's Day 2027 is a holiday and a make-up Sunday a working day, once listed."""
    path = write(
        "calendar.yaml",
        "official_years:\n"
        "  2027:\n"
        "    holidays: [2027-01-01, 2027-02-08]\n"
        "    working_days: [2027-02-07]\n",
    )
    calendar = load_calendar(path)

    assert not CALENDAR.covers(2027)
    assert calendar.covers(2027)
    assert CALENDAR.is_working_day(date(2027, 1, 1))  # not covered: taken as a Friday
    assert not calendar.is_working_day(date(2027, 1, 1))
    assert not calendar.is_working_day(date(2027, 2, 8))
    assert calendar.is_working_day(date(2027, 2, 7))  # a Sunday, made up
    assert calendar.is_working_day(date(2027, 3, 1))
    start = datetime(2026, 12, 31, 16, 30, tzinfo=SHANGHAI)
    # An hour left on the last day of 2026, then the first working day after New Year's Day.
    assert calendar.add_working_time(start, timedelta(hours=2)) == datetime(
        2027, 1, 4, 9, 30, tzinfo=SHANGHAI
    )


def test_coverage_names_the_years_known_and_whether_this_and_next_are() -> None:
    listed = WorkingCalendar(official_years={2027: OfficialYear()})

    late_2026 = CALENDAR.coverage(date(2026, 11, 29))
    assert (late_2026.current_covered, late_2026.next_covered, late_2026.complete) == (
        True,
        False,
        False,
    )
    assert listed.coverage(date(2026, 11, 29)).complete
    assert not listed.coverage(date(2027, 6, 1)).complete  # 2028 not yet
    assert listed.coverage(date(2027, 6, 1)).covered_years[-2:] == (2026, 2027)


def test_by_default_a_year_not_covered_counts_weekdays_and_is_provisional() -> None:
    assert CALENDAR.beyond_official_years is BeyondCoverage.WEEKDAYS
    assert not CALENDAR.covers(2027)
    # Friday 31 December 2027, then Monday 3 January 2028: no official day of either is known.
    assert CALENDAR.add_working_time(at(2027, 12, 31, 17), hours(1)) == at(2028, 1, 3, 9)
    assert CALENDAR.add_working_time(at(2027, 12, 31, 10), days(1)) == at(2028, 1, 3, 10)
    assert CALENDAR.working_time_between(at(2027, 12, 31, 17), at(2028, 1, 3, 9)) == hours(1)

    assert CALENDAR.provisional(at(2027, 12, 31, 17), at(2028, 1, 3, 9))
    # Reaching into the next year, not yet covered, is enough.
    assert CALENDAR.provisional(at(2026, 12, 31, 17), at(2027, 1, 4, 9))
    assert CALENDAR.provisional(at(2027, 1, 4, 9), at(2026, 12, 31, 17))
    assert not CALENDAR.provisional(at(2026, 9, 30, 16, 30), at(2026, 10, 8, 11, 30))
    assert not CALENDAR.provisional(at(2025, 12, 31, 17), at(2026, 1, 5, 9))


def test_provisional_goes_by_local_dates_and_the_operator_s_years() -> None:
    new_year = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 1 January 00:30 in Shanghai

    assert CALENDAR.provisional(new_year, new_year)
    listed = WorkingCalendar(official_years={2027: OfficialYear()})
    assert not listed.provisional(new_year, new_year)
    assert listed.provisional(at(2026, 6, 1, 9), at(2028, 1, 3, 9))
    with pytest.raises(ValueError, match="has no timezone"):
        CALENDAR.provisional(datetime(2026, 6, 8, 10), at(2026, 6, 8, 11))


def test_refuse_names_the_year_not_covered() -> None:
    with pytest.raises(CalendarNotCovered) as refused:
        REFUSING.add_working_time(at(2026, 12, 31, 17), hours(1))

    assert refused.value.years == (2027,)
    assert str(refused.value) == (
        "the working calendar does not cover 2027: add its official holidays and "
        "make-up working days under official_years in calendar.yaml, or set "
        "beyond_official_years: weekdays"
    )
    assert isinstance(refused.value, LookupError)


def test_refuse_raises_wherever_the_span_touches_a_year_not_covered() -> None:
    inside = at(2026, 6, 8, 10)
    beyond = at(2028, 3, 1, 10)

    with pytest.raises(CalendarNotCovered) as start_beyond:
        REFUSING.add_working_time(beyond, timedelta())
    assert start_beyond.value.years == (2028,)
    with pytest.raises(CalendarNotCovered):
        REFUSING.add_working_time(at(2026, 12, 31, 10), days(1))
    with pytest.raises(CalendarNotCovered) as between:
        REFUSING.working_time_between(inside, beyond)
    assert between.value.years == (2027, 2028)
    assert "2027, 2028: add their official holidays" in str(between.value)
    with pytest.raises(CalendarNotCovered):
        REFUSING.working_time_between(beyond, inside)
    with pytest.raises(CalendarNotCovered):
        REFUSING.is_working_day(date(2028, 3, 1))
    # An extra day listed in a year does not make the year known.
    listed_day = REFUSING.model_copy(update={"extra_holidays": frozenset({date(2028, 3, 1)})})
    with pytest.raises(CalendarNotCovered):
        listed_day.is_working_day(date(2028, 3, 1))


def test_refuse_computes_as_usual_within_the_years_covered() -> None:
    assert REFUSING.add_working_time(at(2026, 9, 30, 16, 30), hours(4)) == at(2026, 10, 8, 11, 30)
    assert REFUSING.working_time_between(at(2026, 9, 30, 17), at(2026, 10, 8, 9)) == hours(1)
    assert REFUSING.add_working_time(at(2026, 9, 30, 10), days(3)) == at(2026, 10, 10, 10)
    assert REFUSING.is_working_day(date(2026, 10, 10))
    listed = REFUSING.model_copy(update={"official_years": {2027: OfficialYear()}})
    assert listed.add_working_time(at(2026, 12, 31, 17), hours(1)) == at(2027, 1, 1, 9)


def test_the_policy_is_read_from_calendar_yaml(write: Write) -> None:
    refusing = load_calendar(write("calendar.yaml", "beyond_official_years: refuse\n"))
    weekdays = load_calendar(write("calendar.yaml", "beyond_official_years: weekdays\n"))

    assert refusing.beyond_official_years is BeyondCoverage.REFUSE
    assert refusing == REFUSING
    assert weekdays == CALENDAR
    with pytest.raises(CalendarNotCovered):
        refusing.is_working_day(date(2099, 1, 5))


def test_configured_working_hours() -> None:
    calendar = WorkingCalendar(working_hours=(WorkingSession(start=time(9), end=time(17)),))

    assert calendar.working_day_length == hours(8)
    assert CALENDAR.working_day_length == hours(7.5)
    assert calendar.add_working_time(at(2026, 6, 8, 16), hours(2)) == at(2026, 6, 9, 10)


def test_naive_moments_and_datetimes_as_days_are_refused() -> None:
    with pytest.raises(ValueError, match="has no timezone"):
        CALENDAR.add_working_time(datetime(2026, 6, 8, 10), hours(1))
    with pytest.raises(TypeError, match="takes a date"):
        CALENDAR.is_working_day(at(2026, 6, 8, 10))
    with pytest.raises(ValueError, match="must not be negative"):
        CALENDAR.add_working_time(at(2026, 6, 8, 10), -hours(1))


def test_the_demo_calendar_is_the_default_one() -> None:
    assert load_calendar(DEMO_CITY / "calendar.yaml") == CALENDAR


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "working_hours:\n  - {start: '08:30', end: 12:00}\n",
            "calendar.yaml: working_hours #1 end 720 must be a time of day in quotes, e.g. '08:30'",
        ),
        (
            "working_hours: [{start: '08:30', end: '12:00'}, {start: '11:30', end: '17:30'}]\n",
            "calendar.yaml: working_hours: sessions must be in order without overlap: "
            "11:30 starts before 12:00",
        ),
        (
            "working_hours:\n  - {start: '12:00', end: '08:30'}\n",
            "calendar.yaml: working_hours #1 end '08:30' must be after start 12:00",
        ),
        (
            "timezone: Asia/Beijing\n",
            "calendar.yaml: timezone 'Asia/Beijing' is not an IANA time zone",
        ),
        (
            "extra_holidays: [2026-06-15]\nextra_working_days: [2026-06-15]\n",
            "calendar.yaml: extra_working_days: 2026-06-15 also listed in extra_holidays",
        ),
        (
            "extra_holidays: [2026-02-30]\n",
            "calendar.yaml: extra_holidays #1 '2026-02-30': input should be a valid date",
        ),
        ("working_hours: []\n", "calendar.yaml: working_hours: must list at least one session"),
        ("holidays: []\n", "calendar.yaml: unknown key 'holidays'"),
        (
            "official_years:\n  2027: {holidays: [2028-01-01]}\n",
            "calendar.yaml: official_years: 2027 lists days of another year: 2028-01-01",
        ),
        (
            "official_years:\n  2027: {holidays: [2027-02-06], working_days: [2027-02-06]}\n",
            "calendar.yaml: official_years: 2027 lists 2027-02-06 as holiday and working day",
        ),
        (
            "beyond_official_years: guess\n",
            "calendar.yaml: beyond_official_years 'guess': input should be 'weekdays' or 'refuse'",
        ),
    ],
)
def test_malformed_calendars_are_named_by_field(write: Write, text: str, message: str) -> None:
    with pytest.raises(ReferenceDataError) as refused:
        load_calendar(write("calendar.yaml", text))

    assert str(refused.value).startswith(message)


moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 11, 30), timezones=st.just(SHANGHAI)
)
working_times = st.timedeltas(min_value=timedelta(), max_value=timedelta(hours=120))


@given(start=moments, amount=working_times)
def test_working_time_between_inverts_add_working_time(start: datetime, amount: timedelta) -> None:
    deadline = CALENDAR.add_working_time(start, amount)

    assert deadline >= start
    assert CALENDAR.working_time_between(start, deadline) == amount


@given(start=moments, end=moments)
def test_add_working_time_reaches_the_earliest_moment_with_that_working_time(
    start: datetime, end: datetime
) -> None:
    start, end = min(start, end), max(start, end)
    elapsed = CALENDAR.working_time_between(start, end)

    reached = CALENDAR.add_working_time(start, elapsed)

    assert reached <= end
    assert CALENDAR.working_time_between(reached, end) == timedelta()


@given(start=moments, count=st.integers(min_value=1, max_value=10))
def test_n_working_days_hold_n_days_of_working_time(start: datetime, count: int) -> None:
    deadline = CALENDAR.add_working_time(start, days(count))

    assert CALENDAR.working_time_between(start, deadline) == count * CALENDAR.working_day_length
    assert CALENDAR.is_working_day(deadline.date())
