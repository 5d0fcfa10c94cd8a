"""The working calendar (工作日历): when time-limit clocks run.

Working days are China's official ones, public holidays and the make-up working days (调休)
included: from the ``chinese-calendar`` package for the years it knows (those the State
Council had announced at its release), and from the operator's ``official_years`` for the
years after, as each is announced; adjusted by the operator's ``extra_holidays`` and
``extra_working_days``. A year neither knows is *not covered*: every service warns about it
when it starts and reports it in ``/health`` (:meth:`WorkingCalendar.coverage`) until the
operator lists that year. What a computation reaching into it does is the operator's
``beyond_official_years``: take its Monday to Friday as working days, the result being
provisional (:meth:`WorkingCalendar.provisional`), or refuse with :class:`CalendarNotCovered`.

On a working day the clock runs during the working sessions (default 08:30–12:00 and
13:30–17:30, Asia/Shanghai), and stands still over lunch, nights, weekends and holidays.
"""

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator

from cityloop_shared.reference._sources import validate, yaml_mapping
from cityloop_shared.reference.durations import WorkingDuration

MAX_DAYS_WITHOUT_WORK = 366
"""A longer run of non-working days means a broken override file, not a holiday."""

_CLOCK = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")


def _clock_time(value: object) -> object:
    # Unquoted, YAML 1.1 reads 12:00 as the number 720 (base 60), which would pass as a time.
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not _CLOCK.match(value):
        raise ValueError("must be a time of day in quotes, e.g. '08:30'")
    return time.fromisoformat(value)


ClockTime = Annotated[time, BeforeValidator(_clock_time)]


class WorkingSession(BaseModel):
    """A stretch of working hours within one day, e.g. 08:30–12:00 (上午)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: ClockTime
    end: ClockTime

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("start")
        if start is not None and value <= start:
            raise ValueError(f"must be after start {start:%H:%M}")
        return value


DEFAULT_WORKING_HOURS = (
    WorkingSession(start=time(8, 30), end=time(12, 0)),
    WorkingSession(start=time(13, 30), end=time(17, 30)),
)


PACKAGE_YEARS = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)
"""The years the installed ``chinese-calendar`` knows."""


class OfficialYear(BaseModel):
    """One year's official public holidays and make-up working days (调休), as announced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    holidays: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()


class BeyondCoverage(StrEnum):
    """What the calendar does with a day of a year it does not cover."""

    WEEKDAYS = "weekdays"
    """Monday to Friday work; what is computed so is provisional."""
    REFUSE = "refuse"
    """Raise :class:`CalendarNotCovered` rather than guess."""


class CalendarNotCovered(LookupError):
    """A computation under ``beyond_official_years: refuse`` reached years not covered."""

    def __init__(self, years: Iterable[int]) -> None:
        self.years: tuple[int, ...] = tuple(sorted(set(years)))
        named = ", ".join(map(str, self.years))
        their = "its" if len(self.years) == 1 else "their"
        super().__init__(
            f"the working calendar does not cover {named}: add {their} official holidays and "
            "make-up working days under official_years in calendar.yaml, or set "
            "beyond_official_years: weekdays"
        )


class Coverage(BaseModel):
    """Whether the official days of this year and the next are known."""

    model_config = ConfigDict(frozen=True)

    current_year: int
    current_covered: bool
    next_covered: bool
    covered_years: tuple[int, ...]

    @property
    def complete(self) -> bool:
        return self.current_covered and self.next_covered


class WorkingCalendar(BaseModel):
    """Working days and hours, and arithmetic in working time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "Asia/Shanghai"
    working_hours: tuple[WorkingSession, ...] = DEFAULT_WORKING_HOURS
    extra_holidays: frozenset[date] = frozenset()
    """Days off beyond the official ones, e.g. a local holiday."""
    extra_working_days: frozenset[date] = frozenset()
    """Working days beyond the official ones."""
    official_years: dict[int, OfficialYear] = {}
    """The official days of years the package does not know, kept by the operator."""
    beyond_official_years: BeyondCoverage = BeyondCoverage.WEEKDAYS
    """What a day of a year not covered is taken as: see :class:`BeyondCoverage`."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone, e.g. 'Asia/Shanghai'") from None
        return value

    @field_validator("working_hours")
    @classmethod
    def _in_order(cls, value: tuple[WorkingSession, ...]) -> tuple[WorkingSession, ...]:
        if not value:
            raise ValueError("must list at least one session")
        for before, after in pairwise(value):
            if after.start < before.end:
                raise ValueError(
                    f"sessions must be in order without overlap: {after.start:%H:%M} starts "
                    f"before {before.end:%H:%M}"
                )
        return value

    @field_validator("extra_working_days")
    @classmethod
    def _not_also_holidays(cls, value: frozenset[date], info: ValidationInfo) -> frozenset[date]:
        both = sorted(value & info.data.get("extra_holidays", frozenset()))
        if both:
            raise ValueError(f"{', '.join(map(str, both))} also listed in extra_holidays")
        return value

    @field_validator("official_years")
    @classmethod
    def _days_in_their_year(cls, value: dict[int, OfficialYear]) -> dict[int, OfficialYear]:
        for year, official in value.items():
            strays = sorted(d for d in official.holidays | official.working_days if d.year != year)
            if strays:
                raise ValueError(
                    f"{year} lists days of another year: {', '.join(map(str, strays))}"
                )
            both = sorted(official.holidays & official.working_days)
            if both:
                raise ValueError(
                    f"{year} lists {', '.join(map(str, both))} as holiday and working day"
                )
        return value

    def covers(self, year: int) -> bool:
        """Whether the year's official days are known (by the package or the operator)."""
        return year in self.official_years or year in PACKAGE_YEARS

    def coverage(self, today: date) -> Coverage:
        covered = sorted({*PACKAGE_YEARS, *self.official_years})
        return Coverage(
            current_year=today.year,
            current_covered=self.covers(today.year),
            next_covered=self.covers(today.year + 1),
            covered_years=tuple(covered),
        )

    def provisional(self, start: datetime, end: datetime) -> bool:
        """Whether a local date from ``start`` to ``end`` (either order) falls in a year not
        covered: a deadline or an elapsed time over it took that year's Monday to Friday."""
        return bool(self._uncovered_years(start, end))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def working_day_length(self) -> timedelta:
        """The working time in one working day (7.5 hours by default)."""
        return sum((_length(session) for session in self.working_hours), timedelta())

    def is_working_day(self, day: date) -> bool:
        """Whether the clock runs on this day (a date, not a moment: take its local date)."""
        if isinstance(day, datetime):
            raise TypeError("is_working_day takes a date; use the moment's date in the timezone")
        if self.beyond_official_years is BeyondCoverage.REFUSE and not self.covers(day.year):
            # Before the operator's extra days: one listed day does not make its year known.
            raise CalendarNotCovered((day.year,))
        if day in self.extra_working_days:
            return True
        if day in self.extra_holidays:
            return False
        official = self.official_years.get(day.year)
        if official is not None:
            if day in official.working_days:
                return True
            return day not in official.holidays and day.weekday() < 5
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            # A year not covered, under beyond_official_years: weekdays.
            return day.weekday() < 5

    def add_working_time(self, start: datetime, amount: timedelta | WorkingDuration) -> datetime:
        """The deadline ``amount`` of working time after ``start`` (in ``start``'s timezone).

        Minutes and hours (or a ``timedelta``) run only during working sessions; the deadline is
        the earliest moment they are used up, so a limit ending with the morning session is due
        at 12:00, not at 13:30.

        N working days run from the start's place in the working day to the same clock time
        N working days later. A start outside working hours (a night, the lunch break, a day
        off, or exactly at a session's opening) takes the place of the last session's close
        before it: 1 working day from Friday 18:00, from Saturday or from Monday 07:00 ends
        Monday 17:30, and from 12:30 ends at 12:00 on the next working day.

        Under ``beyond_official_years: refuse``, :class:`CalendarNotCovered` if the start or the
        deadline falls in a year not covered (or any day walked between them does).
        """
        _require_aware(start)
        if self.beyond_official_years is BeyondCoverage.WEEKDAYS:
            return self._add_working_time(start, amount)
        self._require_covered(start, start)
        deadline = self._add_working_time(start, amount)
        self._require_covered(start, deadline)
        return deadline

    def _add_working_time(self, start: datetime, amount: timedelta | WorkingDuration) -> datetime:
        if isinstance(amount, WorkingDuration):
            if amount.working_time is None:
                return self._add_working_days(start, int(amount.amount))
            amount = amount.working_time
        if amount < timedelta():
            raise ValueError(f"amount of working time must not be negative, got {amount}")
        if not amount:
            return start
        remaining = amount
        cursor = start.astimezone(UTC)
        day = self._local_date(start)
        while True:
            for opens, closes in self._sessions(day):
                if closes <= cursor:
                    continue
                begin = max(opens, cursor)
                if remaining <= closes - begin:
                    return (begin + remaining).astimezone(start.tzinfo)
                remaining -= closes - begin
            day = self._next_working_day(day)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """The working time from ``a`` to ``b``: what a time-limit clock shows (negative if b < a).

        The inverse of ``add_working_time``: ``working_time_between(s, add_working_time(s, d))``
        equals ``d``. For a clock stopped during suspension (挂账), sum the running stretches.

        Under ``beyond_official_years: refuse``, :class:`CalendarNotCovered` if a year from
        ``a`` to ``b`` is not covered.
        """
        _require_aware(a)
        _require_aware(b)
        if b < a:
            return -self.working_time_between(b, a)
        if self.beyond_official_years is BeyondCoverage.REFUSE:
            # Up front, so the refusal names every missing year, not the first one walked into.
            self._require_covered(a, b)
        begin, end = a.astimezone(UTC), b.astimezone(UTC)
        total = timedelta()
        day, last = self._local_date(a), self._local_date(b)
        while day <= last:
            for opens, closes in self._sessions(day):
                overlap = min(closes, end) - max(opens, begin)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return total

    def _add_working_days(self, start: datetime, days: int) -> datetime:
        position = self._working_position(start)
        day = position.date()
        for _ in range(days):
            day = self._next_working_day(day)
        deadline = datetime.combine(day, position.time(), self.zone)
        return deadline.astimezone(start.tzinfo)

    def _working_position(self, moment: datetime) -> datetime:
        """The moment itself within a session, else the last session's close before it."""
        local = moment.astimezone(self.zone)
        clock = local.time()
        if self.is_working_day(local.date()) and any(
            session.start < clock <= session.end for session in self.working_hours
        ):
            return local
        day = local.date()
        for _ in range(MAX_DAYS_WITHOUT_WORK + 1):
            if self.is_working_day(day):
                for session in reversed(self.working_hours):
                    close = datetime.combine(day, session.end, self.zone)
                    if close <= local:
                        return close
            day -= timedelta(days=1)
        raise ValueError(f"no working day within {MAX_DAYS_WITHOUT_WORK} days before {moment}")

    def _next_working_day(self, day: date) -> date:
        for offset in range(1, MAX_DAYS_WITHOUT_WORK + 1):
            candidate = day + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError(f"no working day within {MAX_DAYS_WITHOUT_WORK} days after {day}")

    def _sessions(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working sessions as UTC instants (none on a day off)."""
        if not self.is_working_day(day):
            return []
        zone = self.zone
        return [
            (
                datetime.combine(day, session.start, zone).astimezone(UTC),
                datetime.combine(day, session.end, zone).astimezone(UTC),
            )
            for session in self.working_hours
        ]

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def _uncovered_years(self, a: datetime, b: datetime) -> tuple[int, ...]:
        _require_aware(a)
        _require_aware(b)
        first, last = sorted((self._local_date(a).year, self._local_date(b).year))
        # Years, not days: a span is a year or two, so this stays cheap on every deadline.
        return tuple(year for year in range(first, last + 1) if not self.covers(year))

    def _require_covered(self, a: datetime, b: datetime) -> None:
        missing = self._uncovered_years(a, b)
        if missing:
            raise CalendarNotCovered(missing)


def _length(session: WorkingSession) -> timedelta:
    return datetime.combine(date.min, session.end) - datetime.combine(date.min, session.start)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment} has no timezone: working time needs an aware datetime")


def load_calendar(path: Path) -> WorkingCalendar:
    """The calendar from YAML (timezone, working_hours, extra_holidays, extra_working_days,
    official_years, beyond_official_years)."""
    data, _ = yaml_mapping(path, allowed=list(WorkingCalendar.model_fields))
    [(_, calendar)] = validate(WorkingCalendar, path.name, [("", data)])
    return calendar
