"""Evaluation periods (考核周期) in the site's own time zone, named as people write them:
``2026-03-10`` a day, ``2026-W11`` an ISO week, ``2026-03`` a month, ``2026-Q1`` a quarter,
``2026`` a year, and ``2026-03-01..2026-03-15`` any range of days (both days included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class BadPeriod(ValueError):
    """A period that is none of the forms above."""


@dataclass(frozen=True, slots=True)
class Period:
    """The days ``first`` to ``last``, both included, as local days of ``zone``."""

    name: str
    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), self.zone)

    @property
    def end(self) -> datetime:
        """The moment after the period: the start of the day after its last."""
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone)

    def months(self) -> list[Period]:
        """The calendar months the period touches, each whole: the steps of a trend."""
        found: list[Period] = []
        year, month = self.first.year, self.first.month
        while date(year, month, 1) <= self.last:
            found.append(parse_period(f"{year:04d}-{month:02d}", self.zone))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return found


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


def parse_period(text: str, zone: ZoneInfo) -> Period:
    text = text.strip()
    try:
        first, last = _days(text)
    except ValueError as error:
        raise BadPeriod(f"period {text!r}: {error}") from error
    if last < first:
        raise BadPeriod(f"period {text!r}: the range ends before it starts")
    if (last - first).days > 3660:
        raise BadPeriod(f"period {text!r}: longer than ten years")
    return Period(text, first, last, zone)


def _days(text: str) -> tuple[date, date]:
    if ".." in text:
        since, _, until = text.partition("..")
        return _day(since), _day(until)
    if _DAY.match(text):
        day = _day(text)
        return day, day
    if match := _WEEK.match(text):
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        return monday, monday + timedelta(days=6)
    if match := _MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        first = date(year, month, 1)
        following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return first, following - timedelta(days=1)
    if match := _QUARTER.match(text):
        year, quarter = int(match[1]), int(match[2])
        first = date(year, 3 * quarter - 2, 1)
        following = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
        return first, following - timedelta(days=1)
    if match := _YEAR.match(text):
        year = int(match[1])
        return date(year, 1, 1), date(year, 12, 31)
    raise ValueError(
        "give a day (2026-03-10), week (2026-W11), month (2026-03), quarter (2026-Q1), "
        "year (2026) or range (2026-03-01..2026-03-15)"
    )


def _day(text: str) -> date:
    if not _DAY.match(text.strip()):
        raise ValueError(f"{text!r} is not a day like 2026-03-10")
    return date.fromisoformat(text.strip())
