"""The intake service's own table, beside the shared ones."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Index, MetaData, String, Table, Uuid

metadata = MetaData()

reports = Table(  # 上报
    "reports",
    metadata,
    Column("case_id", Uuid, primary_key=True),
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
    Column("reported_at", DateTime(timezone=True), nullable=False),
)
# Duplicate search: the last 24 hours of reports, then a box around the point.
Index("reports_recent_nearby", reports.c.reported_at, reports.c.lat, reports.c.lon)
