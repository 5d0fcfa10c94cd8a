"""Disposal keeps its own records: each case's task with the department holding it, with the
case's number, category and grid on the department's list; the site-wide projection
(``cases``, ``timeline``) is casefile's alone. The inbox becomes ``tracking``, numbered in
the order events were applied."""

import sqlalchemy as sa
from alembic import op

from cityloop_shared.adapters.sql.revisions import (
    drop_case_projection,
    track_in_order_and_park_by_case,
)

revision = "0003"
down_revision = "0002"

_HEAD = "case_id site status resume_to last_event_id correlation_id chain_sequence chain_hash"
_TASK = "department_id deadline dispatched_at accepted_at completed_at rework_count"
_FACTS = "case_number category_code grid_code"


def upgrade() -> None:
    track_in_order_and_park_by_case()
    op.create_table(
        "disposal_cases",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=6), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("resume_to", sa.String(length=32), nullable=True),
        sa.Column("last_event_id", sa.Uuid(), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=False),
        sa.Column("chain_sequence", sa.Integer(), nullable=True),
        sa.Column("chain_hash", sa.String(length=64), nullable=True),
        sa.Column("department_id", sa.String(length=64), nullable=True),
        sa.Column("task_state", sa.String(length=32), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rework_count", sa.Integer(), nullable=False),
        sa.Column("pending_request", sa.String(length=16), nullable=True),
        sa.Column("case_number", sa.String(length=32), nullable=True),
        sa.Column("category_code", sa.String(length=5), nullable=True),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("last_occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("case_number", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("category_code", sa.String(length=5), nullable=True))
        batch.add_column(sa.Column("grid_code", sa.String(length=15), nullable=True))

    cases = sa.table("cases", *(sa.column(n) for n in f"{_HEAD} {_FACTS}".split()))
    tasks = sa.table(
        "tasks",
        *(
            sa.column(n)
            for n in f"case_id state pending_request updated_at {_TASK} {_FACTS}".split()
        ),
    )
    records = sa.table(
        "disposal_cases",
        *(
            sa.column(n)
            for n in f"{_HEAD} task_state pending_request last_occurred_at {_TASK} {_FACTS}".split()
        ),
    )
    op.execute(
        tasks.update().values(
            **{
                name: sa.select(cases.c[name])
                .where(cases.c.case_id == tasks.c.case_id)
                .scalar_subquery()
                for name in _FACTS.split()
            }
        )
    )
    # The released service closed the completed task when the case closed (结案). A task now
    # stays completed, and ``closed`` means the case was voided (作废) while with the
    # department: a task closed with its closed case was a completed one.
    op.execute(
        tasks.update()
        .where(
            tasks.c.state == "closed",
            sa.select(cases.c.status).where(cases.c.case_id == tasks.c.case_id).scalar_subquery()
            == "closed",
        )
        .values(state="completed")
    )
    latest = tasks.alias("latest")
    current = (
        sa.select(latest.c.department_id)
        .where(latest.c.case_id == cases.c.case_id)
        .order_by(latest.c.updated_at.desc(), latest.c.department_id)
        .limit(1)
        .scalar_subquery()
    )
    columns = [*_HEAD.split(), "task_state", "pending_request", "last_occurred_at", *_TASK.split()]
    op.execute(
        records.insert().from_select(
            [*columns, *_FACTS.split()],
            sa.select(
                *(cases.c[name] for name in _HEAD.split()),
                tasks.c.state,
                tasks.c.pending_request,
                tasks.c.updated_at,
                *(tasks.c[name] for name in _TASK.split()),
                *(cases.c[name] for name in _FACTS.split()),
            )
            .select_from(cases.join(tasks, tasks.c.case_id == cases.c.case_id))
            .where(tasks.c.department_id == current),
        )
    )
    drop_case_projection()
