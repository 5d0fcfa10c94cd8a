"""Intake keeps its own records: each report carries what became of its case (the status,
number, current category, department and deadline Open311 shows); the site-wide projection
(``cases``, ``timeline``) is casefile's alone. The inbox becomes ``tracking``, numbered in
the order events were applied."""

from typing import Any

import sqlalchemy as sa
from alembic import op

from cityloop_shared.adapters.sql.revisions import (
    drop_case_projection,
    track_in_order_and_park_by_case,
)

revision = "0003"
down_revision = "0002"

_ADDED: list[tuple[str, sa.types.TypeEngine[Any]]] = [
    ("site", sa.String(length=6)),
    ("status", sa.String(length=32)),
    ("resume_to", sa.String(length=32)),
    ("last_event_id", sa.Uuid()),
    ("correlation_id", sa.Uuid()),
    ("chain_sequence", sa.Integer()),
    ("chain_hash", sa.String(length=64)),
    ("case_number", sa.String(length=32)),
    ("department_id", sa.String(length=64)),
    ("deadline", sa.DateTime(timezone=True)),
    ("last_occurred_at", sa.DateTime(timezone=True)),
]
_FROM_CASES = [name for name, _ in _ADDED[:10]]
_REQUIRED = {"site", "status", "last_event_id", "correlation_id", "last_occurred_at"}


def upgrade() -> None:
    track_in_order_and_park_by_case()
    with op.batch_alter_table("reports") as batch:
        for name, kind in _ADDED:
            batch.add_column(sa.Column(name, kind, nullable=True))

    own = sa.table(
        "reports",
        *(sa.column(n) for n in ["case_id", "category_kind", "category_code", "reported_at"]),
        *(sa.column(name) for name, _ in _ADDED),
    )
    cases = sa.table("cases", *(sa.column(n) for n in ["case_id", "category_code", *_FROM_CASES]))
    timeline = sa.table("timeline", sa.column("case_id"), sa.column("occurred_at"))

    def of_case(name: str) -> sa.ScalarSelect[Any]:
        return sa.select(cases.c[name]).where(cases.c.case_id == own.c.case_id).scalar_subquery()

    op.execute(
        own.update().values(
            **{name: of_case(name) for name in _FROM_CASES},
            # The kind the reporter gave holds only for the category they gave.
            category_kind=sa.case(
                (own.c.category_code == of_case("category_code"), own.c.category_kind),
                else_=sa.null(),
            ),
            category_code=of_case("category_code"),
            last_occurred_at=sa.func.coalesce(
                sa.select(sa.func.max(timeline.c.occurred_at))
                .where(timeline.c.case_id == own.c.case_id)
                .scalar_subquery(),
                own.c.reported_at,
            ),
        )
    )
    op.execute(own.delete().where(own.c.site.is_(None)))
    with op.batch_alter_table("reports") as batch:
        for name, kind in _ADDED:
            if name in _REQUIRED:
                batch.alter_column(name, existing_type=kind, nullable=False)
    drop_case_projection()
