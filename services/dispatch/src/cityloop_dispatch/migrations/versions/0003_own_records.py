"""Dispatch keeps its own records: the case's place and chain head move from the site-wide
projection into ``dispatch_cases``, with the pending request of its department; the
projection itself (``cases``, ``timeline``) is casefile's alone. The inbox becomes
``tracking``, numbered in the order events were applied."""

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

_TEXT = {"site": 6, "status": 32, "resume_to": 32, "chain_hash": 64, "category_standard": 64}
_TEXT |= {"category_kind": 16, "channel": 16, "request": 16, "request_reason": 2000}
_TEXT |= {"requested_by": 128}
_MOMENTS = ["registered_at", "assigned_at", "suspended_at", "proposed_deadline", "requested_at"]
_HEAD = [
    "site",
    "status",
    "resume_to",
    "last_event_id",
    "correlation_id",
    "chain_sequence",
    "chain_hash",
]
_REQUEST = {
    "request": "kind",
    "request_reason": "reason",
    "proposed_deadline": "proposed_deadline",
    "requested_by": "requested_by",
    "requested_at": "requested_at",
}


def _added() -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column(name, sa.String(length=length), nullable=True) for name, length in _TEXT.items()
    ]
    columns += [sa.Column(name, sa.DateTime(timezone=True), nullable=True) for name in _MOMENTS]
    columns += [
        sa.Column(name, sa.Uuid(), nullable=True) for name in ("last_event_id", "correlation_id")
    ]
    columns.append(sa.Column("chain_sequence", sa.Integer(), nullable=True))
    return columns


def upgrade() -> None:
    track_in_order_and_park_by_case()
    with op.batch_alter_table("dispatch_cases") as batch:
        for column in _added():
            batch.add_column(column)

    own = sa.table(
        "dispatch_cases", *(sa.column(n) for n in ["case_id", *_HEAD, *_MOMENTS, *_REQUEST])
    )
    cases = sa.table("cases", *(sa.column(n) for n in ["case_id", *_HEAD]))
    timeline = sa.table(
        "timeline", *(sa.column(n) for n in ("case_id", "event_type", "occurred_at"))
    )
    clocks = sa.table(
        "clocks", *(sa.column(n) for n in ("case_id", "step", "started_at", "suspended_at"))
    )
    pending = sa.table("pending_requests", *(sa.column(n) for n in ["case_id", *_REQUEST.values()]))

    def disposal_clock(column: str) -> sa.ScalarSelect[object]:
        return (
            sa.select(clocks.c[column])
            .where(clocks.c.case_id == own.c.case_id, clocks.c.step == "disposal")
            .scalar_subquery()
        )

    op.execute(
        own.update().values(
            **{
                name: sa.select(cases.c[name])
                .where(cases.c.case_id == own.c.case_id)
                .scalar_subquery()
                for name in _HEAD
            },
            **{
                name: sa.select(pending.c[old])
                .where(pending.c.case_id == own.c.case_id)
                .scalar_subquery()
                for name, old in _REQUEST.items()
            },
            registered_at=sa.select(sa.func.min(timeline.c.occurred_at))
            .where(timeline.c.case_id == own.c.case_id, timeline.c.event_type == "case.registered")
            .scalar_subquery(),
            assigned_at=disposal_clock("started_at"),
            suspended_at=disposal_clock("suspended_at"),
        )
    )
    op.execute(own.delete().where(own.c.site.is_(None)))

    with op.batch_alter_table("dispatch_cases") as batch:
        required: list[tuple[str, sa.types.TypeEngine[Any]]] = [
            ("site", sa.String(length=6)),
            ("status", sa.String(length=32)),
            ("last_event_id", sa.Uuid()),
            ("correlation_id", sa.Uuid()),
        ]
        optional: list[tuple[str, sa.types.TypeEngine[Any]]] = [
            ("case_number", sa.String(length=32)),
            ("category_code", sa.String(length=5)),
            ("grid_code", sa.String(length=15)),
            ("time_limit_amount", sa.Integer()),
            ("time_limit_unit", sa.String(length=16)),
        ]
        for name, kind in required:
            batch.alter_column(name, existing_type=kind, nullable=False)
        for name, kind in optional:
            batch.alter_column(name, existing_type=kind, nullable=True)
        batch.drop_column("suggested_department_id")
        batch.drop_column("dispatch_deadline")
        batch.create_index("ix_dispatch_cases_request", ["request"], unique=False)
    add_last_occurred_at("dispatch_cases")
    op.drop_table("pending_requests")
    drop_case_projection()
