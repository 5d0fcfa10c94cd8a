"""The shared tables and dispatch's own, as first released."""

import sqlalchemy as sa
from alembic import op

from cityloop_shared.adapters.sql.revisions import create_shared_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_shared_tables()
    op.create_table(
        "dispatch_cases",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=False),
        sa.Column("category_code", sa.String(length=5), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("time_limit_amount", sa.Integer(), nullable=False),
        sa.Column("time_limit_unit", sa.String(length=16), nullable=False),
        sa.Column("suggested_department_id", sa.String(length=64), nullable=True),
        sa.Column("department_id", sa.String(length=64), nullable=True),
        sa.Column("dispatch_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "pending_requests",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("proposed_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
