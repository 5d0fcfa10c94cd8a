"""Likely duplicates (疑似重复上报): the same problem reported again while the first is open.

A second report is flagged, never dropped: only the acceptance operator can tell two
overflowing bins on one corner from one bin reported twice.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cityloop_intake.tables import reports
from cityloop_shared.contract.lifecycle import TERMINAL
from cityloop_shared.contract.values import GeoPoint
from cityloop_shared.store.tables import cases

NEARBY_METRES = 50.0
RECENT = timedelta(hours=24)
EARTH_RADIUS_METRES = 6_371_008.8
"""The mean radius: haversine's error from the ellipsoid is far below GPS error at 50 m."""


_NEARBY_OPEN = (
    select(reports.c.case_id, reports.c.lon, reports.c.lat)
    .join(cases, cases.c.case_id == reports.c.case_id)
    .where(
        reports.c.reported_at >= bindparam("since"),
        reports.c.lat.between(bindparam("south"), bindparam("north")),
        reports.c.lon.between(bindparam("west"), bindparam("east")),
        cases.c.category_code == bindparam("category_code"),
        cases.c.status.not_in([status.value for status in TERMINAL]),
    )
    .order_by(reports.c.reported_at, reports.c.case_id)
)
"""Open cases of a category reported since a moment within a box: built once, bound per report."""


def distance_metres(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle (haversine) distance between two WGS 84 points."""
    lat_a, lat_b = math.radians(a.lat), math.radians(b.lat)
    d_lat = lat_b - lat_a
    d_lon = math.radians(b.lon - a.lon)
    h = math.sin(d_lat / 2) ** 2 + math.cos(lat_a) * math.cos(lat_b) * math.sin(d_lon / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(math.sqrt(min(1.0, h)))


async def possible_duplicates(
    conn: AsyncConnection, category_code: str, point: GeoPoint, now: datetime
) -> tuple[UUID, ...]:
    """Open cases of the same category reported within 50 m in the last 24 hours, oldest first.

    The category is the case's current one in the projection, so a public report that came
    without a category counts once the duty chief has registered it under one.
    """
    lat_span = math.degrees(NEARBY_METRES / EARTH_RADIUS_METRES)
    lon_span = lat_span / max(math.cos(math.radians(point.lat)), 1e-6)
    rows = await conn.execute(
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
        row.case_id
        for row in rows
        if distance_metres(point, GeoPoint(lon=row.lon, lat=row.lat)) <= NEARBY_METRES
    )
