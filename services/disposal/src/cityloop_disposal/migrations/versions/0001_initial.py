"""The shared tables and disposal's own, as first released."""

import sqlalchemy as sa
from alembic import op

from cityloop_shared.adapters.sql.revisions import create_shared_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_shared_tables()
    op.create_table(
        "tasks",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=6), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rework_count", sa.Integer(), nullable=False),
        sa.Column("pending_request", sa.String(length=16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "department_id"),
    )
    op.create_index("tasks_department_state", "tasks", ["department_id", "state"], unique=False)
