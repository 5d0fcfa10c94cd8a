"""Intake keeps its own records: each report carries what became of its case (the status,
number, current category, department and deadline Open311 shows); the site-wide projection
(``cases``, ``timeline``) is casefile's alone. The inbox becomes ``tracking``, numbered in
the order events were applied."""

import sqlalchemy as sa
from alembic import op

from cityloop_shared.adapters.sql.revisions import (
    carry_case_record_head,
    carry_from_timeline,
    drop_case_projection,
    track_in_order_and_park_by_case,
)

revision = "0003"
down_revision = "0002"

_MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    track_in_order_and_park_by_case()
    carry_case_record_head(
        "reports",
        [
            ("case_number", sa.String(length=32)),
            ("department_id", sa.String(length=64)),
            ("deadline", _MOMENT),
        ],
    )
    # The registration sets the case's category, whatever the reporter gave (or did not).
    carry_from_timeline(
        "reports",
        "case.registered",
        category_kind=("category", "kind"),
        category_code=("category", "code"),
    )

    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("last_occurred_at", _MOMENT, nullable=True))
    own = sa.table(
        "reports", *(sa.column(n) for n in ("case_id", "reported_at", "last_occurred_at"))
    )
    timeline = sa.table("timeline", sa.column("case_id"), sa.column("occurred_at"))
    op.execute(
        own.update().values(
            last_occurred_at=sa.func.coalesce(
                sa.select(sa.func.max(timeline.c.occurred_at))
                .where(timeline.c.case_id == own.c.case_id)
                .scalar_subquery(),
                own.c.reported_at,
            ),
        )
    )
    with op.batch_alter_table("reports") as batch:
        batch.alter_column("last_occurred_at", existing_type=_MOMENT, nullable=False)
    drop_case_projection()
