"""Dispatch keeps its own records: the case's place, chain head and what its dispatch and
feedback say of it (channel, full category) move from the site-wide projection into
``dispatch_cases``, with the pending request of its department; the projection itself
(``cases``, ``timeline``) is casefile's alone. The inbox becomes ``tracking``, numbered in
the order events were applied."""

from typing import Any

import sqlalchemy as sa
from alembic import op

from cityloop_shared.adapters.sql.revisions import (
    add_last_occurred_at,
    carry_case_record_head,
    carry_from_timeline,
    drop_case_projection,
    track_in_order_and_park_by_case,
)

revision = "0003"
down_revision = "0002"

_MOMENT = sa.DateTime(timezone=True)
_REQUEST: dict[str, tuple[str, sa.types.TypeEngine[Any]]] = {
    "request": ("kind", sa.String(length=16)),
    "request_reason": ("reason", sa.String(length=2000)),
    "proposed_deadline": ("proposed_deadline", _MOMENT),
    "requested_by": ("requested_by", sa.String(length=128)),
    "requested_at": ("requested_at", _MOMENT),
}
_ADDED: list[tuple[str, sa.types.TypeEngine[Any]]] = [
    ("category_standard", sa.String(length=64)),
    ("category_kind", sa.String(length=16)),
    ("registered_at", _MOMENT),
    ("suspended_at", _MOMENT),
    *((name, kind) for name, (_, kind) in _REQUEST.items()),
]
_NOW_OPTIONAL: list[tuple[str, sa.types.TypeEngine[Any]]] = [
    ("case_number", sa.String(length=32)),
    ("category_code", sa.String(length=5)),
    ("grid_code", sa.String(length=15)),
    ("time_limit_amount", sa.Integer()),
    ("time_limit_unit", sa.String(length=16)),
]


def upgrade() -> None:
    track_in_order_and_park_by_case()
    # A forwarded feedback names the case's channel: verification calls a public reporter
    # back (回访) by it.
    carry_case_record_head("dispatch_cases", [("channel", sa.String(length=16))])
    with op.batch_alter_table("dispatch_cases") as batch:
        for name, kind in _ADDED:
            batch.add_column(sa.Column(name, kind, nullable=True))
        for name, kind in _NOW_OPTIONAL:
            batch.alter_column(name, existing_type=kind, nullable=True)
        batch.drop_column("suggested_department_id")
        batch.drop_column("dispatch_deadline")
        batch.create_index("ix_dispatch_cases_request", ["request"], unique=False)

    own = sa.table("dispatch_cases", *(sa.column(n) for n in ["case_id", *dict(_ADDED)]))
    timeline = sa.table(
        "timeline", *(sa.column(n) for n in ("case_id", "event_type", "occurred_at"))
    )
    clocks = sa.table("clocks", *(sa.column(n) for n in ("case_id", "step", "suspended_at")))
    pending = sa.table(
        "pending_requests", sa.column("case_id"), *(sa.column(old) for old, _ in _REQUEST.values())
    )
    op.execute(
        own.update().values(
            **{
                name: sa.select(pending.c[old])
                .where(pending.c.case_id == own.c.case_id)
                .scalar_subquery()
                for name, (old, _) in _REQUEST.items()
            },
            registered_at=sa.select(sa.func.min(timeline.c.occurred_at))
            .where(timeline.c.case_id == own.c.case_id, timeline.c.event_type == "case.registered")
            .scalar_subquery(),
            suspended_at=sa.select(clocks.c.suspended_at)
            .where(clocks.c.case_id == own.c.case_id, clocks.c.step == "disposal")
            .scalar_subquery(),
        )
    )
    # The released table kept the category's code alone; a dispatch and a forwarded feedback
    # name the whole category, and verification's check limit goes by it.
    carry_from_timeline(
        "dispatch_cases",
        "case.registered",
        category_standard=("category", "standard"),
        category_kind=("category", "kind"),
    )
    add_last_occurred_at("dispatch_cases")
    op.drop_table("pending_requests")
    drop_case_projection()
