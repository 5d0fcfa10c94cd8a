"""What is counted for each evaluated subject in a period, as SQL over the judged cases and
step rounds: a few *tallies* per subject, each a group key and named conditions, counted in
one pass each (``count(*) FILTER (WHERE …)``) and listed case by case for a drill-down.

Every count is as of the period's end: a case registered in the period is closed if it was
closed before the period ended, whatever happened later, so a past period counts the same
however late it is asked (and after any replay).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, func, not_, or_, true

from cityloop_evaluation.config import Subject
from cityloop_evaluation.periods import Period
from cityloop_evaluation.store import evaluated_cases, step_rounds
from cityloop_shared.contract.values import ClockStep

Condition = Callable[[Period], ColumnElement[bool]]

c = evaluated_cases.c
r = step_rounds.c


def _before(column: ColumnElement[datetime], period: Period) -> ColumnElement[bool]:
    return and_(column.is_not(None), column < period.end)


def _within(column: ColumnElement[datetime], period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


# --- cases -------------------------------------------------------------------------------------
def _registered_in(p: Period) -> ColumnElement[bool]:
    return _within(c.registered_at, p)


def _voided(p: Period) -> ColumnElement[bool]:
    return _before(c.voided_at, p)


def _due_to_close(p: Period) -> ColumnElement[bool]:
    """应结案: not voided, not standing suspended (挂账) at the end, and closed or past its
    overall deadline (整体时限) by then."""
    return and_(
        not_(_voided(p)),
        not_(_before(c.suspended_at, p)),
        or_(_before(c.closed_at, p), _before(c.overall_due_at, p)),
    )


def _closed(p: Period) -> ColumnElement[bool]:
    return and_(_due_to_close(p), _before(c.closed_at, p))


def _closed_on_time(p: Period) -> ColumnElement[bool]:
    return and_(_closed(p), c.closed_on_time.is_(True))


# --- rounds ------------------------------------------------------------------------------------
def _done(p: Period) -> ColumnElement[bool]:
    return and_(r.outcome == "done", _before(r.ended_at, p))


def _round_due(p: Period) -> ColumnElement[bool]:
    """Done by the end, or past its deadline by then and not given back or passed on."""
    gone = and_(_before(r.ended_at, p), r.outcome.in_(["returned", "passed_on"]))
    return or_(_done(p), and_(_before(r.due_at, p), not_(gone)))


def _round_on_time(p: Period) -> ColumnElement[bool]:
    return and_(_done(p), r.ended_at <= r.due_at)


ROUND_COUNTERS: dict[str, Condition] = {
    "due": _round_due,
    "done": _done,
    "on_time": _round_on_time,
}


@dataclass(frozen=True)
class Tally:
    """Rows of ``table`` in the period (``base``), grouped by ``key``, counted by condition."""

    name: str
    table: Table
    key: ColumnElement[str | None]
    base: Condition
    counters: Mapping[str, Condition]
    regroup: Callable[[str], str | None] | None = field(default=None, compare=False)
    """Maps a key to the subject it counts for (a grid to its supervisor)."""


def _rounds(name: str, step: ClockStep, key: ColumnElement[str | None], **more: Condition) -> Tally:
    return Tally(
        name,
        step_rounds,
        key,
        lambda p: and_(r.step == step.value, _within(r.started_at, p), key.is_not(None)),
        {**ROUND_COUNTERS, **more},
    )


def _satisfaction(key: ColumnElement[str | None]) -> Tally:
    """回访: the public's satisfaction with cases closed in the period (external evaluation)."""
    return Tally(
        "satisfaction",
        evaluated_cases,
        key,
        lambda p: and_(_within(c.closed_at, p), c.satisfaction.is_not(None), key.is_not(None)),
        {"recorded": lambda p: true(), "satisfied": lambda p: c.satisfaction >= 4},
    )


def _region(key: ColumnElement[str | None]) -> list[Tally]:
    return [
        Tally(
            "cases",
            evaluated_cases,
            key,
            lambda p: and_(_registered_in(p), key.is_not(None)),
            {
                "registered": lambda p: true(),
                "public_confirmed": lambda p: c.channel == "public",
                "voided": _voided,
                "due_to_close": _due_to_close,
                "closed": _closed,
                "closed_on_time": _closed_on_time,
            },
        ),
        _satisfaction(key),
    ]


def tallies(subject: Subject, grid_supervisor: Callable[[str], str | None]) -> list[Tally]:
    """What is counted for ``subject``; ``grid_supervisor`` names a grid's supervisor."""
    match subject:
        case Subject.GRID:
            return _region(c.grid_code)
        case Subject.COMMUNITY:
            return _region(c.community)
        case Subject.STREET:
            return _region(c.street)
        case Subject.DISTRICT:
            return _region(c.district)
        case Subject.CITY:
            # A city's code is its districts' first four digits and "00".
            city = func.substr(c.district, 1, 4).concat("00")
            return _region(cast(ColumnElement[str | None], city))
        case Subject.DEPARTMENT:
            return [
                _rounds(
                    "disposal",
                    ClockStep.DISPOSAL,
                    r.department_id,
                    reworked=lambda p: and_(_done(p), r.reworked.is_(True)),
                ),
                Tally(
                    "cases",
                    evaluated_cases,
                    c.department_id,
                    lambda p: and_(_registered_in(p), c.department_id.is_not(None)),
                    {"due_to_close": _due_to_close, "closed": _closed},
                ),
                _satisfaction(c.department_id),
            ]
        case Subject.SUPERVISOR:
            return [
                Tally(
                    "reports",
                    evaluated_cases,
                    c.reported_by,
                    lambda p: and_(_within(c.reported_at, p), c.channel == "supervisor"),
                    {
                        "reports": lambda p: true(),
                        "valid": lambda p: or_(
                            _before(c.registered_at, p), c.self_handled.is_(True)
                        ),
                        "self_handled": lambda p: c.self_handled.is_(True),
                    },
                ),
                Tally(
                    "grids",
                    evaluated_cases,
                    c.grid_code,
                    lambda p: and_(_registered_in(p), c.grid_code.is_not(None)),
                    {
                        "registered": lambda p: true(),
                        "public_confirmed": lambda p: c.channel == "public",
                    },
                    regroup=grid_supervisor,
                ),
                _rounds("verification", ClockStep.VERIFICATION, r.actor_id),
                _rounds("check", ClockStep.CHECK, r.actor_id),
            ]
        case Subject.ACCEPTANCE_OPERATOR:
            return [_rounds("acceptance", ClockStep.ACCEPTANCE, r.actor_id)]
        case Subject.DUTY_CHIEF:
            return [
                _rounds("registration", ClockStep.REGISTRATION, r.actor_id),
                Tally(
                    "registered",
                    evaluated_cases,
                    c.registered_by,
                    lambda p: and_(_registered_in(p), c.registered_by.is_not(None)),
                    {"registered": lambda p: true(), "voided": _voided},
                ),
                Tally(
                    "closed",
                    evaluated_cases,
                    c.closed_by,
                    lambda p: and_(
                        _within(c.closed_at, p),
                        c.self_handled.is_(False),
                        c.closed_by.is_not(None),
                    ),
                    {
                        "closed": lambda p: true(),
                        "on_time": lambda p: c.closed_on_time.is_(True),
                    },
                ),
            ]
        case Subject.DISPATCHER:
            return [
                _rounds(
                    "dispatch",
                    ClockStep.DISPATCH,
                    r.actor_id,
                    wrong=lambda p: and_(_done(p), r.wrong_dispatch.is_(True)),
                )
            ]
    raise AssertionError(subject)  # pragma: no cover - every subject is matched
