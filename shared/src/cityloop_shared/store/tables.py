"""The tables every service keeps in its own schema, next to its stage's own tables.

- ``journal``: every event the service emitted, written in the transaction that decided
  it; the relay publishes it and stamps ``published_at``. Never deleted: it is the
  service's audit log.
- ``inbox``: ids of events already applied, so a redelivered record changes nothing.
- ``parked``: events that arrived before their cause (from another topic) was applied.
- ``cases`` and ``timeline``: the case projection every service answers queries from; a
  case row also keeps the head of the service's own chain of the case's events.
- ``idempotency_keys``: the first answer to a client's command, returned again on retry.
- ``clocks``: time-limit clocks of the steps the service owns (see ``clocks.py``).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

metadata = MetaData()

_Position = BigInteger().with_variant(Integer, "sqlite")
_Moment = DateTime(timezone=True)

journal = Table(
    "journal",
    metadata,
    Column("position", _Position, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("case_id", Uuid, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("event_hash", String(64), nullable=False),
    Column("topic", String(249), nullable=False),
    Column("body", Text, nullable=False),
    Column("occurred_at", _Moment, nullable=False),
    Column("published_at", _Moment),
    # Two writers racing on one case both take the same next sequence: one must fail.
    UniqueConstraint("case_id", "sequence", name="journal_case_sequence"),
)
Index(
    "journal_unpublished",
    journal.c.position,
    postgresql_where=journal.c.published_at.is_(None),
    sqlite_where=journal.c.published_at.is_(None),
)

inbox = Table(
    "inbox",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("source", String(300), nullable=False),
    Column("processed_at", _Moment, nullable=False),
)

parked = Table(
    "parked",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("awaiting_event_id", Uuid, nullable=False, index=True),
    Column("source", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("parked_at", _Moment, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("site", String(6), nullable=False),
    Column("status", String(32), nullable=False, index=True),
    Column("resume_to", String(32)),
    Column("case_number", String(32), unique=True),
    Column("channel", String(16)),
    Column("category_code", String(5), index=True),
    Column("grid_code", String(15), index=True),
    Column("department_id", String(64), index=True),
    Column("deadline", _Moment),
    Column("overdue", Boolean, nullable=False, default=False),
    Column("last_event_id", Uuid, nullable=False),
    Column("correlation_id", Uuid, nullable=False),
    Column("reported_at", _Moment, nullable=False),
    Column("updated_at", _Moment, nullable=False),
    # The head of this service's own chain of the case's events (its journal's last link),
    # kept with the row a command locks anyway, so deciding an event reads nothing more.
    Column("chain_sequence", Integer),
    Column("chain_hash", String(64)),
)
CHAIN_HEAD_COLUMNS = frozenset({"chain_sequence", "chain_hash"})
"""Bookkeeping of the ``cases`` row, not part of the case as queries show it."""

timeline = Table(
    "timeline",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("event_type", String(64), nullable=False),
    Column("actor_id", String(128), nullable=False),
    Column("actor_role", String(32), nullable=False),
    Column("actor_site", String(6), nullable=False),
    Column("occurred_at", _Moment, nullable=False),
    Column("payload", JSON, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("actor_id", String(128), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", _Moment, nullable=False),
)

clocks = Table(
    "clocks",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("step", String(16), primary_key=True),
    Column("started_at", _Moment, nullable=False),
    Column("deadline", _Moment, nullable=False),
    Column("warn_at", _Moment, nullable=False),
    Column("suspended_at", _Moment),
    Column("stopped_at", _Moment),
    Column("warned", Boolean, nullable=False, default=False),
    Column("overdue", Boolean, nullable=False, default=False),
)
Index("clocks_running", clocks.c.warn_at, clocks.c.deadline)
