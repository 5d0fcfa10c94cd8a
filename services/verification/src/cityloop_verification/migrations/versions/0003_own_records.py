"""Verification keeps its own records: each checked case's place, chain head and what the
check needs of it move onto ``check_tasks``; the site-wide projection (``cases``,
``timeline``) is casefile's alone. The inbox becomes ``tracking``, numbered in the order
events were applied."""

from typing import Any

import sqlalchemy as sa
from alembic import op

from cityloop_shared.adapters.sql.revisions import (
    add_last_occurred_at,
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
    ("category_code", sa.String(length=5)),
    ("grid_code", sa.String(length=15)),
    ("channel", sa.String(length=16)),
    ("department_id", sa.String(length=64)),
    ("satisfaction_recorded_at", sa.DateTime(timezone=True)),
]
_HEAD = [name for name, _ in _ADDED[:7]]
_FACTS = [name for name, _ in _ADDED[7:11]]


def upgrade() -> None:
    track_in_order_and_park_by_case()
    with op.batch_alter_table("check_tasks") as batch:
        for name, kind in _ADDED:
            batch.add_column(sa.Column(name, kind, nullable=True))

    own = sa.table("check_tasks", *(sa.column(n) for n in ["case_id", *dict(_ADDED)]))
    cases = sa.table("cases", *(sa.column(n) for n in ["case_id", *_HEAD, *_FACTS]))
    timeline = sa.table(
        "timeline", *(sa.column(n) for n in ("case_id", "event_type", "occurred_at"))
    )
    op.execute(
        own.update().values(
            **{
                name: sa.select(cases.c[name])
                .where(cases.c.case_id == own.c.case_id)
                .scalar_subquery()
                for name in [*_HEAD, *_FACTS]
            },
            satisfaction_recorded_at=sa.select(sa.func.min(timeline.c.occurred_at))
            .where(
                timeline.c.case_id == own.c.case_id,
                timeline.c.event_type == "satisfaction.recorded",
            )
            .scalar_subquery(),
        )
    )
    op.execute(own.delete().where(own.c.site.is_(None)))
    with op.batch_alter_table("check_tasks") as batch:
        for name, kind in _ADDED:
            if name in ("site", "status", "last_event_id", "correlation_id"):
                batch.alter_column(name, existing_type=kind, nullable=False)
        batch.alter_column("supervisor_id", existing_type=sa.String(length=128), nullable=True)
        batch.alter_column("requested_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch.alter_column("due_at", existing_type=sa.DateTime(timezone=True), nullable=True)
    add_last_occurred_at("check_tasks")
    drop_case_projection()
