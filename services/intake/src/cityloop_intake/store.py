"""Where intake keeps its reports, and what is asked of them: likely duplicates (疑似重复上报)
and the service requests Open311 clients read: those shown to the public, and a reporter's
own by its token."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    or_,
    select,
)

from cityloop_shared.adapters.sql.tables import Moment, case_record_columns
from cityloop_shared.contract.lifecycle import TERMINAL, CaseStatus
from cityloop_shared.contract.values import GeoPoint, ReportChannel
from cityloop_shared.ports.unit_of_work import Reader

metadata = MetaData()

reports = Table(  # 上报
    "reports",
    metadata,
    *case_record_columns(),
    Column("channel", String(16), nullable=False),
    Column("category_kind", String(16)),
    Column("category_code", String(5)),
    # Null when the report named only a grid: such a report has no distance to others.
    Column("lon", Float),
    Column("lat", Float),
    Column("grid_code", String(15), nullable=False),
    Column("address", String(500)),
    Column("description", String(4000), nullable=False),
    Column("media_url", String(2000)),
    # Given to an Open311 client with its request, to look the request up by (GET tokens).
    Column("token", String(64), unique=True),
    Column("reported_at", Moment, nullable=False),
    Column("case_number", String(32)),
    Column("department_id", String(64)),
    Column("deadline", Moment),
    # The supervision centre's word on showing the case to the public; null: not said.
    Column("published", Boolean),
)
# Duplicate search: the last 24 hours of reports, then a box around the point.
Index("reports_recent_nearby", reports.c.reported_at, reports.c.lat, reports.c.lon)

NEARBY_METRES = 50.0
RECENT = timedelta(hours=24)
EARTH_RADIUS_METRES = 6_371_008.8
"""The mean radius: haversine's error from the ellipsoid is far below GPS error at 50 m."""
MAX_REQUESTS = 1000
"""Open311's response volume: at most the first 1000 requests."""

_OPEN = reports.c.status.not_in([status.value for status in TERMINAL])
_NEARBY_OPEN = (
    select(reports.c.case_id, reports.c.lon, reports.c.lat)
    .where(
        reports.c.reported_at >= bindparam("since"),
        reports.c.lat.between(bindparam("south"), bindparam("north")),
        reports.c.lon.between(bindparam("west"), bindparam("east")),
        reports.c.category_code == bindparam("category_code"),
        _OPEN,
    )
    .order_by(reports.c.reported_at, reports.c.case_id)
)
"""Open cases of a category reported since a moment within a box: built once, bound per report."""
_SHOWN = or_(
    reports.c.published.is_(True),
    and_(reports.c.published.is_(None), reports.c.channel == ReportChannel.PUBLIC.value),
)
""":attr:`cityloop_intake.state.Report.shown_to_public`, as SQL."""
_REQUESTS = select(reports).where(_SHOWN)
_OF_TOKEN = select(reports.c.case_id).where(reports.c.token == bindparam("token"))
_OWN = select(reports).where(
    reports.c.case_id == bindparam("case_id"), reports.c.token == bindparam("token")
)


def distance_metres(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle (haversine) distance between two WGS 84 points."""
    lat_a, lat_b = math.radians(a.lat), math.radians(b.lat)
    d_lat = lat_b - lat_a
    d_lon = math.radians(b.lon - a.lon)
    h = math.sin(d_lat / 2) ** 2 + math.cos(lat_a) * math.cos(lat_b) * math.sin(d_lon / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(math.sqrt(min(1.0, h)))


async def possible_duplicates(
    reader: Reader, category_code: str | None, point: GeoPoint | None, now: datetime
) -> tuple[UUID, ...]:
    """Open cases of the category reported within 50 m of the point in the last 24 hours,
    oldest first; none for a report without a category or a point.

    A second report is flagged, never dropped: only the acceptance operator can tell two
    overflowing bins on one corner from one bin reported twice. The category is the case's
    current one, so a public report that came without a category counts once the duty chief
    has registered it under one.
    """
    if category_code is None or point is None:
        return ()
    lat_span = math.degrees(NEARBY_METRES / EARTH_RADIUS_METRES)
    lon_span = lat_span / max(math.cos(math.radians(point.lat)), 1e-6)
    rows = await reader.rows(
        _NEARBY_OPEN,
        {
            "since": now - RECENT,
            "south": point.lat - lat_span,
            "north": point.lat + lat_span,
            "west": point.lon - lon_span,
            "east": point.lon + lon_span,
            "category_code": category_code,
        },
    )
    return tuple(
        row["case_id"]
        for row in rows
        if distance_metres(point, GeoPoint(lon=row["lon"], lat=row["lat"])) <= NEARBY_METRES
    )


async def requests_by_id(reader: Reader, case_ids: Iterable[UUID]) -> Sequence[Mapping[str, Any]]:
    """The requests of these ids that are shown to the public, newest first."""
    query = _REQUESTS.where(reports.c.case_id.in_(list(case_ids)))
    return await reader.rows(query.order_by(reports.c.reported_at.desc()))


async def requests_matching(
    reader: Reader,
    *,
    category_codes: Sequence[str],
    start: datetime,
    end: datetime,
    statuses: Collection[CaseStatus] | None,
) -> Sequence[Mapping[str, Any]]:
    """Requests shown to the public made between ``start`` and ``end``, in one of
    ``statuses`` (any when ``None``), newest first, at most 1000."""
    query = _REQUESTS.where(reports.c.reported_at.between(start, end))
    if category_codes:
        query = query.where(reports.c.category_code.in_(category_codes))
    if statuses is not None:
        query = query.where(reports.c.status.in_([status.value for status in statuses]))
    return await reader.rows(query.order_by(reports.c.reported_at.desc()).limit(MAX_REQUESTS))


async def own_request(reader: Reader, case_id: UUID, token: str) -> Mapping[str, Any] | None:
    """The request the token was given with, shown to the public or not: its reporter's."""
    rows = await reader.rows(_OWN, {"case_id": case_id, "token": token})
    return rows[0] if rows else None


async def request_of_token(reader: Reader, token: str) -> UUID | None:
    found: UUID | None = await reader.scalar(_OF_TOKEN, {"token": token})
    return found
