"""The shared tables' schema revisions, which every service's migrations call.

Each function is frozen once released: a later change to :mod:`cityloop_shared.adapters.sql.tables`
comes as a new function, called by a new revision in every service. Deriving a revision
from the live table definitions instead would change what an old revision creates.
"""

import json
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op


def create_shared_tables() -> None:
    """The first revision: journal, inbox, parked events, case projection, idempotency
    records and clocks."""
    op.create_table(
        "cases",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=6), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("resume_to", sa.String(length=32), nullable=True),
        sa.Column("case_number", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("category_code", sa.String(length=5), nullable=True),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("department_id", sa.String(length=64), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("last_event_id", sa.Uuid(), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
        sa.UniqueConstraint("case_number"),
    )
    op.create_index(op.f("ix_cases_category_code"), "cases", ["category_code"], unique=False)
    op.create_index(op.f("ix_cases_department_id"), "cases", ["department_id"], unique=False)
    op.create_index(op.f("ix_cases_grid_code"), "cases", ["grid_code"], unique=False)
    op.create_index(op.f("ix_cases_status"), "cases", ["status"], unique=False)
    op.create_table(
        "clocks",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warned", sa.Boolean(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "step"),
    )
    op.create_index("clocks_running", "clocks", ["warn_at", "deadline"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("actor_id", "key"),
    )
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_table(
        "journal",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("event_hash", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("position"),
        sa.UniqueConstraint("case_id", "sequence", name="journal_case_sequence"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index(
        "journal_unpublished",
        "journal",
        ["position"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "parked",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("awaiting_event_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(
        op.f("ix_parked_awaiting_event_id"), "parked", ["awaiting_event_id"], unique=False
    )
    op.create_table(
        "timeline",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("actor_site", sa.String(length=6), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(op.f("ix_timeline_case_id"), "timeline", ["case_id"], unique=False)


def add_chain_heads_to_cases() -> None:
    """The second revision: each case row keeps the head of the service's own chain of the
    case's events, filled from the journal for the cases already there."""
    op.add_column("cases", sa.Column("chain_sequence", sa.Integer(), nullable=True))
    op.add_column("cases", sa.Column("chain_hash", sa.String(length=64), nullable=True))
    journal = sa.table(
        "journal", sa.column("case_id"), sa.column("sequence"), sa.column("event_hash")
    )
    cases = sa.table(
        "cases", sa.column("case_id"), sa.column("chain_sequence"), sa.column("chain_hash")
    )
    last = (
        sa.select(journal.c.sequence, journal.c.event_hash)
        .where(journal.c.case_id == cases.c.case_id)
        .order_by(journal.c.sequence.desc())
        .limit(1)
    )
    op.execute(
        cases.update().values(
            chain_sequence=last.with_only_columns(journal.c.sequence).scalar_subquery(),
            chain_hash=last.with_only_columns(journal.c.event_hash).scalar_subquery(),
        )
    )


def track_in_order_and_park_by_case() -> None:
    """The third revision: the inbox becomes ``tracking``, numbered in the order events were
    applied (the stage's history, for replays); a parked event waits for its case to move
    rather than for one cause, so it keeps its case id."""
    op.create_table(
        "tracking",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("position"),
        sa.UniqueConstraint("event_id"),
    )
    inbox = sa.table(
        "inbox",
        sa.column("event_id"),
        sa.column("case_id"),
        sa.column("event_type"),
        sa.column("source"),
        sa.column("processed_at"),
    )
    tracking = sa.table(
        "tracking",
        sa.column("event_id"),
        sa.column("case_id"),
        sa.column("event_type"),
        sa.column("source"),
        sa.column("applied_at"),
    )
    op.execute(
        tracking.insert().from_select(
            ["event_id", "case_id", "event_type", "source", "applied_at"],
            sa.select(
                inbox.c.event_id,
                inbox.c.case_id,
                inbox.c.event_type,
                inbox.c.source,
                inbox.c.processed_at,
            ).order_by(inbox.c.processed_at, inbox.c.event_id),
        )
    )
    op.drop_table("inbox")
    # A stage asks whether it ever applied an event of a case it holds no record of.
    op.create_index(op.f("ix_tracking_case_id"), "tracking", ["case_id"], unique=False)

    parked = sa.table(
        "parked",
        sa.column("event_id", sa.Uuid()),
        sa.column("body"),
        sa.column("case_id", sa.Uuid()),
    )
    with op.batch_alter_table("parked") as batch:
        batch.add_column(sa.Column("case_id", sa.Uuid(), nullable=True))
    connection = op.get_bind()
    for event_id, body in connection.execute(sa.select(parked.c.event_id, parked.c.body)).all():
        case_id = uuid.UUID(json.loads(body)["case_id"])
        connection.execute(
            parked.update().where(parked.c.event_id == event_id).values(case_id=case_id)
        )
    with op.batch_alter_table("parked") as batch:
        batch.drop_index("ix_parked_awaiting_event_id")
        batch.drop_column("awaiting_event_id")
        batch.alter_column("case_id", existing_type=sa.Uuid(), nullable=False)
        batch.create_index("ix_parked_case_id", ["case_id"], unique=False)


_CASE_RECORD_HEAD: list[tuple[str, sa.types.TypeEngine[Any]]] = [
    ("site", sa.String(length=6)),
    ("status", sa.String(length=32)),
    ("resume_to", sa.String(length=32)),
    ("last_event_id", sa.Uuid()),
    ("correlation_id", sa.Uuid()),
    ("chain_sequence", sa.Integer()),
    ("chain_hash", sa.String(length=64)),
]
_REQUIRED_HEAD = {"site", "status", "last_event_id", "correlation_id"}


def carry_case_record_head(
    table: str, facts: Sequence[tuple[str, sa.types.TypeEngine[Any]]] = ()
) -> None:
    """A stage's own table becomes its case records: each row takes its case's place in the
    lifecycle and chain head, and the ``facts`` named, from the case's row in the released
    projection (``cases``). A row of a case the projection does not hold has nothing to take,
    and goes."""
    added = [*_CASE_RECORD_HEAD, *facts]
    with op.batch_alter_table(table) as batch:
        for name, kind in added:
            batch.add_column(sa.Column(name, kind, nullable=True))
    own = sa.table(table, sa.column("case_id"), *(sa.column(name) for name, _ in added))
    cases = sa.table("cases", sa.column("case_id"), *(sa.column(name) for name, _ in added))
    op.execute(
        own.update().values(
            **{
                name: sa.select(cases.c[name])
                .where(cases.c.case_id == own.c.case_id)
                .scalar_subquery()
                for name, _ in added
            }
        )
    )
    op.execute(own.delete().where(own.c.site.is_(None)))
    with op.batch_alter_table(table) as batch:
        for name, kind in _CASE_RECORD_HEAD:
            if name in _REQUIRED_HEAD:
                batch.alter_column(name, existing_type=kind, nullable=False)


_PAGE = 1000


def carry_from_timeline(table: str, event_type: str, **paths: tuple[str, ...]) -> None:
    """Columns of ``table`` take what each case's event of ``event_type`` said, as the
    released projection's timeline kept it: ``category_kind=("category", "kind")`` takes the
    payload's ``category.kind``, None where the payload has none.

    The payloads are read here rather than in SQL, so no backend's own JSON functions are
    needed; a page at a time, for the timeline holds every event of the site.
    """
    timeline = sa.table(
        "timeline",
        sa.column("event_id", sa.Uuid()),
        sa.column("case_id", sa.Uuid()),
        sa.column("event_type"),
        sa.column("payload", sa.JSON()),
    )
    own = sa.table(table, sa.column("case_id", sa.Uuid()), *(sa.column(name) for name in paths))
    # A bound parameter may not share its name with a column the statement sets.
    fill = (
        own.update()
        .where(own.c.case_id == sa.bindparam("of_case"))
        .values({name: sa.bindparam(f"said_{name}") for name in paths})
    )
    page = (
        sa.select(timeline.c.event_id, timeline.c.case_id, timeline.c.payload)
        .where(timeline.c.event_type == event_type)
        .order_by(timeline.c.event_id)
        .limit(_PAGE)
    )
    connection = op.get_bind()
    after: uuid.UUID | None = None
    while found := connection.execute(
        page if after is None else page.where(timeline.c.event_id > after)
    ).all():
        connection.execute(
            fill,
            [
                {
                    "of_case": case_id,
                    **{f"said_{name}": _said(payload, path) for name, path in paths.items()},
                }
                for _, case_id, payload in found
            ],
        )
        after = found[-1].event_id


def _said(payload: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if payload is None:
            return None
        payload = payload.get(key)
    return payload


def drop_case_projection() -> None:
    """A stage other than casefile keeps its own records, not the site's whole case file."""
    op.drop_table("timeline")
    op.drop_table("cases")


def add_last_occurred_at(table: str) -> None:
    """A stage's records keep the latest moment of the events they applied (late events are
    told by it); a record carried over takes its case's last change in the old projection."""
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column("last_occurred_at", sa.DateTime(timezone=True), nullable=True))
    own = sa.table(
        table, sa.column("case_id"), sa.column("last_occurred_at"), sa.column("updated_at")
    )
    if table == "cases":
        # The projection's own rows: their last change is on them.
        op.execute(own.update().values(last_occurred_at=own.c.updated_at))
    else:
        cases = sa.table("cases", sa.column("case_id"), sa.column("updated_at"))
        last_change = (
            sa.select(cases.c.updated_at).where(cases.c.case_id == own.c.case_id).scalar_subquery()
        )
        op.execute(own.update().values(last_occurred_at=last_change))
    with op.batch_alter_table(table) as batch:
        batch.alter_column(
            "last_occurred_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
