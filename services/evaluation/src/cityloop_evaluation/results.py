"""Evaluation results read from the judged rows: a subject's counts and league table for a
period, the cases behind an indicator, the production counters, a trend over months."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, select, true

from cityloop_evaluation.config import EvaluationConfig, Subject
from cityloop_evaluation.indicators import INDICATORS, SATISFACTION, Standing, league
from cityloop_evaluation.measures import Tally, tallies
from cityloop_evaluation.periods import Period
from cityloop_evaluation.store import evaluated_cases, step_rounds
from cityloop_shared.ports.unit_of_work import Reader
from cityloop_shared.reference.bundle import ReferenceData

Scope = Callable[[Table], ColumnElement[bool]]
"""Which rows of a table the asker may count (their sites; a district asked for)."""


def everything(_: Table) -> ColumnElement[bool]:
    return true()


@dataclass(frozen=True)
class Evaluation:
    """What one reading needs: the judged rows, the reference data and the standard."""

    reader: Reader
    reference: ReferenceData
    config: EvaluationConfig

    def _tallies(self, subject: Subject) -> list[Tally]:
        def supervisor_of(grid: str) -> str | None:
            found = self.reference.supervisors.supervisor_for(grid)
            return found.id if found else None

        return tallies(subject, supervisor_of)

    async def counts(
        self, subject: Subject, period: Period, scope: Scope = everything
    ) -> dict[str, dict[str, float]]:
        """Each subject's counts, as ``tally.counter``."""
        found: dict[str, dict[str, float]] = defaultdict(dict)
        for tally in self._tallies(subject):
            counted = [
                func.count().filter(condition(period)).label(name)
                for name, condition in tally.counters.items()
            ]
            statement = (
                select(tally.key.label("key"), *counted)
                .where(tally.base(period), scope(tally.table))
                .group_by(tally.key)
            )
            for row in await self.reader.rows(statement):
                key = row["key"] if tally.regroup is None else tally.regroup(row["key"])
                if key is None:
                    continue
                mine = found[key]
                for name in tally.counters:
                    label = f"{tally.name}.{name}"
                    mine[label] = mine.get(label, 0) + row[name]
        return found

    async def league(
        self, subject: Subject, period: Period, scope: Scope = everything
    ) -> list[Standing]:
        counts = await self.counts(subject, period, scope)
        return league(subject, counts, self.config, self._grids_in(subject))

    def _grids_in(self, subject: Subject) -> Callable[[str], int]:
        if not subject.is_region:
            return lambda _: 1
        codes = [grid.grid_code for grid in self.reference.grids]

        def grids_in(region: str) -> int:
            # A city's code ends in "00" where its districts' codes go on.
            prefix = region[:4] if subject is Subject.CITY else region
            return sum(1 for code in codes if code.startswith(prefix)) or 1

        return grids_in

    async def cases(
        self,
        subject: Subject,
        subject_id: str,
        period: Period,
        indicator: str,
        scope: Scope = everything,
    ) -> list[dict[str, Any]]:
        """The cases (or step rounds) an indicator of one subject counted, each with whether
        it counts in the numerator and in the denominator."""
        spec = next((i for i in (*INDICATORS[subject], SATISFACTION) if i.name == indicator), None)
        if spec is None:
            raise LookupError(indicator)
        terms = [t.lstrip("-") for t in spec.numerator]
        tally_name = terms[0].split(".")[0]
        tally = next(t for t in self._tallies(subject) if t.name == tally_name)
        wanted = [*dict.fromkeys([*terms, *([spec.denominator] if spec.denominator else [])])]
        flags = [
            tally.counters[name.split(".", 1)[1]](period).label(name.split(".", 1)[1])
            for name in wanted
        ]
        if tally.regroup is None:
            matches: ColumnElement[bool] = tally.key == subject_id
        else:
            codes = [grid.grid_code for grid in self.reference.grids]
            keys = [code for code in codes if tally.regroup(code) == subject_id]
            matches = tally.key.in_(keys)
        columns = [tally.table.c.case_id]
        if tally.table is step_rounds:
            columns += [step_rounds.c.round, step_rounds.c.started_at, step_rounds.c.due_at]
            columns += [step_rounds.c.ended_at]
        statement = (
            select(*columns, *flags)
            .where(tally.base(period), scope(tally.table), matches)
            .order_by(tally.table.c.case_id)
        )
        return [dict(row) for row in await self.reader.rows(statement)]

    async def production(
        self, period: Period, by: str, scope: Scope = everything
    ) -> list[dict[str, Any]]:
        """生产统计: the cases reported in the period, as of its end, by ``by``."""
        c = evaluated_cases.c
        end = period.end

        def before(column: ColumnElement[Any]) -> ColumnElement[bool]:
            return and_(column.is_not(None), column < end)

        counted: dict[str, ColumnElement[bool]] = {
            "reported": c.self_handled.is_(False),
            "accepted": before(c.accepted_at),
            "verified": and_(before(c.accepted_at), c.verified.is_(True)),
            "registered": before(c.registered_at),
            "dispatched": before(c.dispatched_at),
            "handled": and_(before(c.handled_at), c.self_handled.is_(False)),
            "handled_on_time": and_(before(c.handled_at), c.handled_on_time.is_(True)),
            "handled_late": and_(before(c.handled_at), c.handled_on_time.is_(False)),
            "closed": and_(before(c.closed_at), c.self_handled.is_(False)),
            "closed_late": and_(before(c.closed_at), c.closed_on_time.is_(False)),
            "reworked": c.reworks > 0,
            "returned": c.returns > 0,
            "extended": c.extensions > 0,
            "suspended": c.suspensions > 0,
            "self_handled": c.self_handled.is_(True),
            "cancelled": before(c.cancelled_at),
            "voided": before(c.voided_at),
        }
        key = GROUPINGS[by]
        statement = (
            select(
                key.label("key"),
                *(func.count().filter(cond).label(name) for name, cond in counted.items()),
                func.avg(c.handling_minutes)
                .filter(before(c.handled_at))
                .label("average_handling_minutes"),
            )
            .where(c.reported_at >= period.start, c.reported_at < end, scope(evaluated_cases))
            .group_by(key)
            .order_by(key)
        )
        return [dict(row) for row in await self.reader.rows(statement)]

    async def case_count(self) -> int:
        return int(await self.reader.scalar(select(func.count()).select_from(evaluated_cases)))


GROUPINGS: dict[str, ColumnElement[Any]] = {
    "channel": evaluated_cases.c.channel,
    "category_kind": evaluated_cases.c.category_kind,
    "major": evaluated_cases.c.major,
    "category_code": evaluated_cases.c.category_code,
    "district": evaluated_cases.c.district,
    "street": evaluated_cases.c.street,
    "community": evaluated_cases.c.community,
    "grid_code": evaluated_cases.c.grid_code,
    "department_id": evaluated_cases.c.department_id,
}
"""What the production counters can be split by: channel (supervisor vs public…), component
or event, major category, a region, a department."""
