"""The tables every stage keeps in its own schema, beside its own, and the columns of every
stage's case record table.

- ``journal``: every event the stage emitted (the outbox); the relay stamps ``published_at``.
- ``tracking`` (the inbox): every event applied to the stage's records, received or
  emitted, in the order applied.
- ``parked``: events that arrived before their case could take them.
- ``idempotency_keys``: the first answer to a client's command.
- ``clocks``: time-limit clocks of the steps the stage owns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)


class Moment(TypeDecorator[datetime]):
    """A point in time, stored in UTC and read back time-zone aware on every backend (SQLite
    keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        """A moment stays a moment; ``column - timedelta`` stays date arithmetic."""
        return self if isinstance(value, datetime) else self.impl.coerce_compared_value(op, value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


metadata = MetaData()

Position = BigInteger().with_variant(Integer, "sqlite")
"""SQLite numbers rows itself only for an INTEGER primary key."""

journal = Table(
    "journal",
    metadata,
    Column("position", Position, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("case_id", Uuid, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("event_hash", String(64), nullable=False),
    Column("topic", String(249), nullable=False),
    Column("body", Text, nullable=False),
    Column("occurred_at", Moment, nullable=False),
    Column("published_at", Moment),
    # Two writers racing on one case both take the same next sequence: one must fail.
    UniqueConstraint("case_id", "sequence", name="journal_case_sequence"),
)
Index(
    "journal_unpublished",
    journal.c.position,
    postgresql_where=journal.c.published_at.is_(None),
    sqlite_where=journal.c.published_at.is_(None),
)

tracking = Table(
    "tracking",
    metadata,
    Column("position", Position, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    # Whether the stage ever applied an event of a case it holds no record of.
    Column("case_id", Uuid, nullable=False, index=True),
    Column("event_type", String(64), nullable=False),
    Column("source", String(300), nullable=False),
    Column("applied_at", Moment, nullable=False),
)

parked = Table(
    "parked",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("source", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("parked_at", Moment, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("actor_id", String(128), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", Moment, nullable=False),
)

clocks = Table(
    "clocks",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("step", String(16), primary_key=True),
    Column("started_at", Moment, nullable=False),
    Column("deadline", Moment, nullable=False),
    Column("warn_at", Moment, nullable=False),
    Column("suspended_at", Moment),
    Column("stopped_at", Moment),
    Column("warned", Boolean, nullable=False, default=False),
    Column("overdue", Boolean, nullable=False, default=False),
)
Index("clocks_running", clocks.c.warn_at, clocks.c.deadline)


def case_record_columns() -> list[Column[Any]]:
    """The columns of :class:`~cityloop_shared.stage.record.CaseRecord`, first in every
    stage's case record table."""
    return [
        Column("case_id", Uuid, primary_key=True),
        Column("site", String(6), nullable=False),
        Column("status", String(32), nullable=False),
        Column("resume_to", String(32)),
        Column("last_event_id", Uuid, nullable=False),
        Column("last_occurred_at", Moment, nullable=False),
        Column("correlation_id", Uuid, nullable=False),
        Column("chain_sequence", Integer),
        Column("chain_hash", String(64)),
    ]
