"""Evaluation: judged cases, step rounds, the histories they come from, positions read."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def _moment(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "timeline",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=6), nullable=False),
        _moment("occurred_at", nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        _moment("logged_at", nullable=False),
        _moment("applied_at", nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(op.f("ix_timeline_case_id"), "timeline", ["case_id"])
    op.create_table(
        "positions",
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition"),
    )
    op.create_table(
        "evaluated_cases",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=6), nullable=False),
        sa.Column("district", sa.String(length=6), nullable=True),
        sa.Column("street", sa.String(length=9), nullable=True),
        sa.Column("community", sa.String(length=12), nullable=True),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("reported_by", sa.String(length=128), nullable=True),
        sa.Column("category_kind", sa.String(length=16), nullable=True),
        sa.Column("major", sa.String(length=2), nullable=True),
        sa.Column("category_code", sa.String(length=5), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("self_handled", sa.Boolean(), nullable=False),
        _moment("reported_at", nullable=False),
        _moment("accepted_at"),
        sa.Column("verified", sa.Boolean(), nullable=True),
        _moment("registered_at"),
        sa.Column("registered_by", sa.String(length=128), nullable=True),
        _moment("dispatched_at"),
        sa.Column("department_id", sa.String(length=64), nullable=True),
        _moment("handled_at"),
        sa.Column("handled_on_time", sa.Boolean(), nullable=True),
        _moment("closed_at"),
        sa.Column("closed_by", sa.String(length=128), nullable=True),
        sa.Column("closed_on_time", sa.Boolean(), nullable=True),
        _moment("cancelled_at"),
        _moment("voided_at"),
        _moment("overall_due_at"),
        _moment("suspended_at"),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("extensions", sa.Integer(), nullable=False),
        sa.Column("suspensions", sa.Integer(), nullable=False),
        sa.Column("reworks", sa.Integer(), nullable=False),
        sa.Column("handling_minutes", sa.Float(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_evaluated_cases_reported_at", "evaluated_cases", ["reported_at"])
    op.create_index("ix_evaluated_cases_registered_at", "evaluated_cases", ["registered_at"])
    op.create_table(
        "step_rounds",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=6), nullable=False),
        sa.Column("district", sa.String(length=6), nullable=True),
        sa.Column("actor_id", sa.String(length=128), nullable=True),
        sa.Column("department_id", sa.String(length=64), nullable=True),
        _moment("started_at", nullable=False),
        _moment("due_at"),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        _moment("ended_at"),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("reworked", sa.Boolean(), nullable=False),
        sa.Column("wrong_dispatch", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "step", "round"),
    )
    op.create_index("ix_step_rounds_step_started_at", "step_rounds", ["step", "started_at"])


def downgrade() -> None:
    for table in ("step_rounds", "evaluated_cases", "positions", "timeline"):
        op.drop_table(table)
