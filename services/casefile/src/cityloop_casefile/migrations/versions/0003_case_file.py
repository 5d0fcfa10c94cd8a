"""Casefile keeps the site's case file: what verification and voiding requests said moves
from their own tables onto the case rows, with the case's urgency, level and category kind
as its registration set them, and whether its acceptance sent it to verification. The inbox
becomes ``tracking``, numbered in the order events were applied."""

from typing import Any

import sqlalchemy as sa
from alembic import op

from cityloop_shared.adapters.sql.revisions import (
    add_last_occurred_at,
    track_in_order_and_park_by_case,
)

revision = "0003"
down_revision = "0002"

_ADDED: list[tuple[str, sa.types.TypeEngine[Any]]] = [
    ("category_kind", sa.String(length=16)),
    ("urgency", sa.String(length=16)),
    ("level", sa.String(length=16)),
    ("needs_verification", sa.Boolean()),
    ("verifier_id", sa.String(length=128)),
    ("verified", sa.Boolean()),
    ("void_requested_by", sa.String(length=128)),
    ("void_reason", sa.String(length=2000)),
    ("void_requested_at", sa.DateTime(timezone=True)),
]


def upgrade() -> None:
    track_in_order_and_park_by_case()
    with op.batch_alter_table("cases") as batch:
        for name, kind in _ADDED:
            batch.add_column(sa.Column(name, kind, nullable=True))

    cases = sa.table("cases", *(sa.column(n) for n in ["case_id", "status", *dict(_ADDED)]))
    tasks = sa.table(
        "verification_tasks", *(sa.column(n) for n in ("case_id", "supervisor_id", "confirmed"))
    )
    voids = sa.table(
        "void_requests",
        *(sa.column(n) for n in ("case_id", "requested_by", "reason", "requested_at")),
    )

    def of_task(column: str) -> sa.ScalarSelect[Any]:
        return (
            sa.select(tasks.c[column]).where(tasks.c.case_id == cases.c.case_id).scalar_subquery()
        )

    def of_void(column: str) -> sa.ScalarSelect[Any]:
        return (
            sa.select(voids.c[column]).where(voids.c.case_id == cases.c.case_id).scalar_subquery()
        )

    # What only the case's events said: a case accepted for verification whose task was not
    # sent yet has no task row, and the registration set the urgency, level and kind.
    timeline = sa.table(
        "timeline", sa.column("case_id"), sa.column("event_type"), sa.column("payload", sa.JSON)
    )

    def of_event(event_type: str, value: Any) -> sa.ScalarSelect[Any]:
        return (
            sa.select(value)
            .where(timeline.c.case_id == cases.c.case_id, timeline.c.event_type == event_type)
            .limit(1)
            .scalar_subquery()
        )

    accepted_for_verification = of_event(
        "case.accepted", timeline.c.payload["needs_verification"].as_boolean()
    )

    def registered(*path: str) -> sa.ScalarSelect[Any]:
        return of_event("case.registered", timeline.c.payload[path].as_string())

    op.execute(
        cases.update().values(
            urgency=sa.func.coalesce(registered("urgency"), "ordinary"),
            level=registered("level"),
            category_kind=registered("category", "kind"),
            needs_verification=sa.case(
                (sa.exists().where(tasks.c.case_id == cases.c.case_id), sa.true()),
                (cases.c.status == "reported", sa.null()),
                else_=sa.func.coalesce(accepted_for_verification, sa.false()),
            ),
            verifier_id=of_task("supervisor_id"),
            verified=of_task("confirmed"),
            void_requested_by=of_void("requested_by"),
            void_reason=of_void("reason"),
            void_requested_at=of_void("requested_at"),
        )
    )
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("urgency", existing_type=sa.String(length=16), nullable=False)
    add_last_occurred_at("cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("updated_at")
    op.drop_table("verification_tasks")
    op.drop_table("void_requests")
