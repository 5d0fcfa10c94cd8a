"""The city-level projection: cases, their timelines, and the positions read."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "city_cases",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=6), nullable=False),
        sa.Column("handled_by", sa.String(length=6), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("category_code", sa.String(length=5), nullable=True),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=True),
        sa.Column("department_id", sa.String(length=64), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("overdue_steps", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    for column in ("site", "status", "category_code", "grid_code", "department_id", "overdue"):
        op.create_index(op.f(f"ix_city_cases_{column}"), "city_cases", [column])
    op.create_table(
        "city_timeline",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=6), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(op.f("ix_city_timeline_case_id"), "city_timeline", ["case_id"])
    op.create_table(
        "positions",
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition"),
    )
