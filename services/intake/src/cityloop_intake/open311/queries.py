"""Service requests as intake knows them: its own reports joined to the case projection.

The report gives what the public said (text, place, photo); the projection, which intake
folds from every stage's topic, gives what became of it (status, department, deadline).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cityloop_intake.tables import reports
from cityloop_shared.contract.lifecycle import TERMINAL
from cityloop_shared.store.tables import cases, timeline

MAX_REQUESTS = 1000
"""The spec's response volume: at most the first 1000 requests."""

_TERMINAL = [status.value for status in TERMINAL]

_LAST_CHANGE = (
    select(func.max(timeline.c.occurred_at))
    .where(timeline.c.case_id == reports.c.case_id)
    .scalar_subquery()
)

REQUESTS: Select[Any] = select(
    reports.c.case_id,
    reports.c.description,
    reports.c.address,
    reports.c.grid_code,
    reports.c.lat,
    reports.c.lon,
    reports.c.media_url,
    reports.c.category_kind,
    reports.c.category_code.label("reported_category_code"),
    reports.c.reported_at,
    cases.c.status,
    cases.c.category_code,
    cases.c.department_id,
    cases.c.case_number,
    cases.c.deadline,
    _LAST_CHANGE.label("updated_at"),
).join(cases, cases.c.case_id == reports.c.case_id)


async def requests_by_id(
    conn: AsyncConnection, case_ids: Iterable[UUID]
) -> Sequence[Mapping[str, Any]]:
    query = REQUESTS.where(reports.c.case_id.in_(list(case_ids))).order_by(
        reports.c.reported_at.desc()
    )
    rows: Sequence[Mapping[str, Any]] = (await conn.execute(query)).mappings().all()
    return rows


async def requests_matching(
    conn: AsyncConnection,
    *,
    category_codes: Sequence[str],
    start: datetime,
    end: datetime,
    statuses: Sequence[str],
) -> Sequence[Mapping[str, Any]]:
    """Requests made between ``start`` and ``end``, newest first, at most 1000."""
    query = REQUESTS.where(reports.c.reported_at.between(start, end))
    if category_codes:
        query = query.where(cases.c.category_code.in_(category_codes))
    if set(statuses) == {"closed"}:
        query = query.where(cases.c.status.in_(_TERMINAL))
    elif set(statuses) == {"open"}:
        query = query.where(cases.c.status.not_in(_TERMINAL))
    query = query.order_by(reports.c.reported_at.desc()).limit(MAX_REQUESTS)
    rows: Sequence[Mapping[str, Any]] = (await conn.execute(query)).mappings().all()
    return rows


async def request_of_token(conn: AsyncConnection, token: str) -> UUID | None:
    found: UUID | None = await conn.scalar(
        select(reports.c.case_id).where(reports.c.token == token)
    )
    return found
