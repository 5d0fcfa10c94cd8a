"""The shared tables and verification's own, as first released."""

import sqlalchemy as sa
from alembic import op

from cityloop_shared.adapters.sql.revisions import create_shared_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_shared_tables()
    op.create_table(
        "check_tasks",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("supervisor_id", sa.String(length=128), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index(
        op.f("ix_check_tasks_supervisor_id"), "check_tasks", ["supervisor_id"], unique=False
    )
