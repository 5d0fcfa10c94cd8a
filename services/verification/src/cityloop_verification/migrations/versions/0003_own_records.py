"""Verification keeps its own records: each checked case's place, chain head and what the
check needs of it move onto ``check_tasks``; the site-wide projection (``cases``,
``timeline``) is casefile's alone. The inbox becomes ``tracking``, numbered in the order
events were applied."""

import sqlalchemy as sa
from alembic import op

from cityloop_shared.adapters.sql.revisions import (
    add_last_occurred_at,
    carry_case_record_head,
    drop_case_projection,
    track_in_order_and_park_by_case,
)

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    track_in_order_and_park_by_case()
    carry_case_record_head(
        "check_tasks",
        [
            ("case_number", sa.String(length=32)),
            ("category_code", sa.String(length=5)),
            ("grid_code", sa.String(length=15)),
            ("channel", sa.String(length=16)),
            ("department_id", sa.String(length=64)),
        ],
    )
    moment = sa.DateTime(timezone=True)
    with op.batch_alter_table("check_tasks") as batch:
        batch.add_column(sa.Column("satisfaction_recorded_at", moment, nullable=True))
        batch.alter_column("supervisor_id", existing_type=sa.String(length=128), nullable=True)
        batch.alter_column("requested_at", existing_type=moment, nullable=True)
        batch.alter_column("due_at", existing_type=moment, nullable=True)

    own = sa.table("check_tasks", sa.column("case_id"), sa.column("satisfaction_recorded_at"))
    timeline = sa.table(
        "timeline", *(sa.column(n) for n in ("case_id", "event_type", "occurred_at"))
    )
    op.execute(
        own.update().values(
            satisfaction_recorded_at=sa.select(sa.func.min(timeline.c.occurred_at))
            .where(
                timeline.c.case_id == own.c.case_id,
                timeline.c.event_type == "satisfaction.recorded",
            )
            .scalar_subquery(),
        )
    )
    add_last_occurred_at("check_tasks")
    drop_case_projection()
