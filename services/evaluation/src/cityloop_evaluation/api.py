"""Evaluation over HTTP: league tables (scores, ranks, grades, with the counts behind every
rate) per subject and period, as JSON or CSV; the cases behind an indicator; the production
counters; a league table and a trend over months as SVG charts.

The site's centres and leaders read every line, a city's people every district's; a
department reads its own department's lines and cases (an upper-level department those of
the departments below it), a field supervisor their own: each with the rank it holds among
all (:mod:`cityloop_shared.runtime.visibility`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import ColumnElement, Table, and_

from cityloop_evaluation.charts import Bar, Series, league_table_svg, trend_svg
from cityloop_evaluation.config import EvaluationConfig, Subject
from cityloop_evaluation.indicators import INDICATORS, SATISFACTION, VOLUME, Measured, Standing
from cityloop_evaluation.periods import BadPeriod, Period, parse_period
from cityloop_evaluation.results import GROUPINGS, Evaluation
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.auth import CurrentActor, visible_sites
from cityloop_shared.runtime.visibility import (
    DEPARTMENT_ROLES,
    SITE_WIDE,
    departments_seen,
    require_reader,
)
from cityloop_shared.stage.decisions import Forbidden, Invalid, NotFound

router = APIRouter(prefix="/evaluation", tags=["evaluation"])

READERS = frozenset({*SITE_WIDE, *DEPARTMENT_ROLES, Role.FIELD_SUPERVISOR})
"""Who reads evaluations: the centres and leaders all of them, the others their own lines."""

PeriodText = Annotated[
    str,
    Query(
        min_length=4,
        max_length=32,
        description="2026-03-10, 2026-W11, 2026-03, 2026-Q1, 2026 or 2026-03-01..2026-03-15",
    ),
]
District = Annotated[str | None, Query(pattern=r"^\d{6}$", description="Only this district")]


def _reference(request: Request) -> ReferenceData:
    reference: ReferenceData = request.app.state.reference
    return reference


def _config(request: Request) -> EvaluationConfig:
    config: EvaluationConfig = request.app.state.config
    return config


def _period(text: str, request: Request) -> Period:
    try:
        return parse_period(text, _reference(request).calendar.zone)
    except BadPeriod as error:
        raise Invalid(("period",), str(error), "invalid_period", where="query") from error


def _lines_seen(request: Request, actor: Actor, subject: Subject) -> frozenset[str] | None:
    """Whose lines of ``subject``'s evaluation the actor reads: every one (``None``) for the
    centres and leaders; a department's own, or those below an upper-level department; a
    supervisor's own. Refused for any other subject."""
    site: str = request.app.state.site
    require_reader(actor, site, READERS)
    if actor.role in SITE_WIDE:
        return None
    if subject is Subject.DEPARTMENT and actor.role in DEPARTMENT_ROLES:
        return departments_seen(actor, _reference(request).departments)
    if subject is Subject.SUPERVISOR and actor.role is Role.FIELD_SUPERVISOR:
        return frozenset({actor.id})
    raise Forbidden(f"role {actor.role.value} reads no {subject.value} evaluation")


def _require_line(request: Request, actor: Actor, subject: Subject, subject_id: str) -> None:
    seen = _lines_seen(request, actor, subject)
    if seen is not None and subject_id not in seen:
        raise Forbidden(f"{subject.value} {subject_id} is not among the lines {actor.id} may read")


def _scope(actor: Actor, district: str | None) -> Callable[[Table], ColumnElement[bool]]:
    def scope(table: Table) -> ColumnElement[bool]:
        visible = visible_sites(actor, table.c.site)
        return and_(visible, table.c.district == district) if district else visible

    return scope


async def _league(
    request: Request, actor: Actor, subject: Subject, period: Period, district: str | None
) -> list[Standing]:
    """The league table, ranked among every subject the actor's sites count, with only the
    lines the actor may read."""
    seen = _lines_seen(request, actor, subject)
    database: Database = request.app.state.database
    async with database.reading() as reader:
        evaluation = Evaluation(reader, _reference(request), _config(request))
        standings = await evaluation.league(subject, period, _scope(actor, district))
    return [s for s in standings if seen is None or s.subject_id in seen]


def _measured(measured: Measured) -> dict[str, Any]:
    return {
        "value": measured.value,
        "numerator": measured.numerator,
        "denominator": measured.denominator,
        "score": measured.score,
    }


def _config_in_force(config: EvaluationConfig, subject: Subject) -> dict[str, Any]:
    return {
        "fingerprint": config.fingerprint(),
        "weights": config.weights[subject],
        "minimum_volume": config.minimum_volume[subject],
        "grades": [g.model_dump() for g in config.grades],
        "registered_bands": [b.model_dump() for b in config.registered_bands],
        "bands_per_grid": config.bands_per_grid,
        "external_weight": config.external_weight,
    }


def _label(subject: Subject, subject_id: str, reference: ReferenceData) -> str:
    if subject is Subject.DEPARTMENT:
        department = reference.departments.get(subject_id)
        return department.name if department else subject_id
    return subject_id


@router.get("/subjects")
async def subjects(actor: CurrentActor, request: Request) -> dict[str, Any]:
    """What can be evaluated, with each subject's indicators."""
    require_reader(actor, request.app.state.site, READERS)
    return {
        subject.value: [
            {"name": i.name, "label": i.label, "kind": i.kind.value} for i in INDICATORS[subject]
        ]
        for subject in Subject
    }


@router.get("/counters")
async def production_counters(
    actor: CurrentActor,
    request: Request,
    period: PeriodText,
    by: Annotated[str, Query(description=f"One of {', '.join(GROUPINGS)}")] = "channel",
    district: District = None,
) -> dict[str, Any]:
    """生产统计: the cases reported in the period, as they stand at its end, by ``by``."""
    require_reader(actor, request.app.state.site, SITE_WIDE)
    if by not in GROUPINGS:
        raise Invalid(
            ("by",), f"split by one of {', '.join(GROUPINGS)}", "invalid_by", where="query"
        )
    chosen = _period(period, request)
    database: Database = request.app.state.database
    async with database.reading() as reader:
        evaluation = Evaluation(reader, _reference(request), _config(request))
        rows = await evaluation.production(chosen, by, _scope(actor, district))
    return {"period": _period_json(chosen), "by": by, "rows": rows}


@router.get("/{subject}")
async def league_table(
    actor: CurrentActor,
    request: Request,
    subject: Subject,
    period: PeriodText,
    district: District = None,
) -> dict[str, Any]:
    """The subject's league table: each line's indicators (value, numerator, denominator,
    score), internal and external scores, composite, rank and grade. Below the minimum
    volume a line is shown unranked."""
    chosen = _period(period, request)
    standings = await _league(request, actor, subject, chosen, district)
    reference = _reference(request)
    return {
        "subject": subject.value,
        "period": _period_json(chosen),
        "config": _config_in_force(_config(request), subject),
        "rows": [
            {
                "id": s.subject_id,
                "name": _label(subject, s.subject_id, reference),
                "rank": s.rank,
                "grade": s.grade,
                "ranked": s.ranked,
                "score": s.score,
                "internal": s.internal,
                "external": s.external,
                "indicators": {name: _measured(m) for name, m in s.indicators.items()},
                "counts": s.counts,
            }
            for s in standings
        ],
    }


@router.get("/{subject}/export.csv")
async def league_table_csv(
    actor: CurrentActor,
    request: Request,
    subject: Subject,
    period: PeriodText,
    district: District = None,
) -> Response:
    """The league table as CSV: a line per subject, each indicator's value and its counts."""
    chosen = _period(period, request)
    standings = await _league(request, actor, subject, chosen, district)
    names = [i.name for i in INDICATORS[subject]]
    if subject.is_region or subject is Subject.DEPARTMENT:
        names.append(SATISFACTION.name)
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["period", "subject", "id", "rank", "grade", "ranked", "score"]
    for name in names:
        header += [name, f"{name}_numerator", f"{name}_denominator", f"{name}_score"]
    writer.writerow([*header, "config"])
    fingerprint = _config(request).fingerprint()
    for s in standings:
        line: list[Any] = [chosen.name, subject.value, s.subject_id, s.rank, s.grade, s.ranked]
        line.append(_number(s.score))
        for name in names:
            m = s.indicators.get(name)
            line += (
                [_number(m.value), _number(m.numerator), _number(m.denominator), _number(m.score)]
                if m
                else ["", "", "", ""]
            )
        writer.writerow([*line, fingerprint])
    filename = f"evaluation-{subject.value}-{chosen.name.replace('..', '_')}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/{subject}/chart.svg")
async def league_table_chart(
    actor: CurrentActor,
    request: Request,
    subject: Subject,
    period: PeriodText,
    district: District = None,
) -> Response:
    """The league table as a bar chart, best first; the unranked greyed at the end."""
    chosen = _period(period, request)
    standings = await _league(request, actor, subject, chosen, district)
    reference = _reference(request)
    bars = [
        Bar(
            label=_label(subject, s.subject_id, reference),
            value=s.score if s.ranked else None,
            note=s.grade or f"n={int(s.counts.get(VOLUME[subject], 0))}",
        )
        for s in standings
    ]
    title = f"{subject.value} · {chosen.name}"
    return Response(league_table_svg(title, bars), media_type="image/svg+xml")


@router.get("/{subject}/{subject_id}/trend.svg")
async def trend_chart(
    actor: CurrentActor,
    request: Request,
    subject: Subject,
    subject_id: str,
    period: PeriodText,
    district: District = None,
) -> Response:
    """The subject's composite score, month by month over the period."""
    series = await _trend(request, actor, subject, subject_id, period, district)
    title = f"{_label(subject, subject_id, _reference(request))} · {period}"
    return Response(trend_svg(title, [series]), media_type="image/svg+xml")


@router.get("/{subject}/{subject_id}/trend")
async def trend(
    actor: CurrentActor,
    request: Request,
    subject: Subject,
    subject_id: str,
    period: PeriodText,
    district: District = None,
) -> dict[str, Any]:
    """The subject's composite score, month by month over the period."""
    series = await _trend(request, actor, subject, subject_id, period, district)
    return {"id": subject_id, "months": [{"month": m, "score": s} for m, s in series.points]}


async def _trend(
    request: Request,
    actor: Actor,
    subject: Subject,
    subject_id: str,
    period: str,
    district: str | None,
) -> Series:
    _require_line(request, actor, subject, subject_id)
    chosen = _period(period, request)
    months = chosen.months()
    if len(months) > 120:
        raise Invalid(
            ("period",), "a trend spans at most 120 months", "invalid_period", where="query"
        )
    points: list[tuple[str, float | None]] = []
    for month in months:
        standings = await _league(request, actor, subject, month, district)
        found = next((s for s in standings if s.subject_id == subject_id), None)
        points.append((month.name, found.score if found else None))
    return Series(name=subject_id, points=points)


@router.get("/{subject}/{subject_id}/cases")
async def drill_down(
    actor: CurrentActor,
    request: Request,
    subject: Subject,
    subject_id: str,
    period: PeriodText,
    indicator: Annotated[str, Query(max_length=64)],
    district: District = None,
) -> dict[str, Any]:
    """The cases (or step rounds) behind one indicator of one subject, each with whether it
    counts in the numerator and the denominator."""
    _require_line(request, actor, subject, subject_id)
    chosen = _period(period, request)
    database: Database = request.app.state.database
    async with database.reading() as reader:
        evaluation = Evaluation(reader, _reference(request), _config(request))
        try:
            rows = await evaluation.cases(
                subject, subject_id, chosen, indicator, _scope(actor, district)
            )
        except LookupError as error:
            known = ", ".join(i.name for i in INDICATORS[subject])
            raise NotFound(f"{subject.value} has no indicator {indicator}: {known}") from error
    return {"subject": subject.value, "id": subject_id, "indicator": indicator, "rows": rows}


def _period_json(period: Period) -> dict[str, str]:
    return {"name": period.name, "first": period.first.isoformat(), "last": period.last.isoformat()}


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"
