"""Casefile keeps the site's case file: what verification and voiding requests said moves
from their own tables onto the case rows, with the case's urgency, level and category kind
as its report and registration set them, and whether its acceptance sent it to
verification. The inbox becomes ``tracking``, numbered in the order events were applied."""

from typing import Any

import sqlalchemy as sa
from alembic import op

from cityloop_shared.adapters.sql.revisions import (
    add_last_occurred_at,
    carry_from_timeline,
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
_AT_AN_END = ("closed", "cancelled", "voided")


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
        # The released service left a request pending when its case ended; the case file
        # drops it then, for nothing is left to decide.
        return (
            sa.select(voids.c[column])
            .where(voids.c.case_id == cases.c.case_id, cases.c.status.not_in(_AT_AN_END))
            .scalar_subquery()
        )

    op.execute(
        cases.update().values(
            # The released service wrote a case's task row with its acceptance for
            # verification, so a case accepted without one was not to be verified.
            needs_verification=sa.case(
                (sa.exists().where(tasks.c.case_id == cases.c.case_id), sa.true()),
                (cases.c.status == "reported", sa.null()),
                else_=sa.false(),
            ),
            verifier_id=of_task("supervisor_id"),
            verified=of_task("confirmed"),
            void_requested_by=of_void("requested_by"),
            void_reason=of_void("reason"),
            void_requested_at=of_void("requested_at"),
        )
    )
    # The reporter's kind holds until a registration sets the case's category.
    carry_from_timeline("cases", "case.reported", category_kind=("category", "kind"))
    carry_from_timeline(
        "cases",
        "case.registered",
        urgency=("urgency",),
        level=("level",),
        category_kind=("category", "kind"),
    )
    # Acceptances carried no urgency before this: an unregistered case's is the default.
    op.execute(cases.update().where(cases.c.urgency.is_(None)).values(urgency="ordinary"))
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("urgency", existing_type=sa.String(length=16), nullable=False)
    add_last_occurred_at("cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("updated_at")
    op.drop_table("verification_tasks")
    op.drop_table("void_requests")
