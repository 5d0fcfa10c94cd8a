"""The shared tables and casefile's own, as first released."""

import sqlalchemy as sa
from alembic import op

from cityloop_shared.adapters.sql.revisions import create_shared_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_shared_tables()
    op.create_table(
        "case_number_sequences",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "verification_tasks",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("supervisor_id", sa.String(length=128), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_table(
        "void_requests",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
