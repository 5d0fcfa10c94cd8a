"""One service's view of its cases inside one database transaction.

Everything a service decides goes through a :class:`Ledger`: incoming events are checked
against the inbox and the lifecycle and folded into the case projection; emitted events
are chained, journaled for the relay and folded the same way. Because all of it happens
in the caller's transaction, a crash at any moment leaves either all of it or none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import bindparam, delete, insert, literal, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from cityloop_shared.contract.actors import Actor
from cityloop_shared.contract.codec import decode, encode
from cityloop_shared.contract.envelope import CaseEvent, ChainLink, Payload, event_hash
from cityloop_shared.contract.ids import new_id
from cityloop_shared.contract.lifecycle import CaseState, CaseStatus, IllegalTransition, apply
from cityloop_shared.store.database import pipelined
from cityloop_shared.store.projection import case_columns, timeline_row
from cityloop_shared.store.tables import cases, inbox, journal, parked, timeline

E = TypeVar("E", bound=CaseEvent)

_CHANGEABLE = tuple(column.name for column in cases.columns if column.name != "case_id")
_UPDATE_CASE = (
    update(cases)
    .where(cases.c.case_id == bindparam("changed_case_id"))
    .values({column: bindparam(column) for column in _CHANGEABLE})
)
"""Every changeable column of one case row, executed once for all rows a flush changes."""

# Statements are built once: building one costs about as much Python as executing it.
_CASE = select(cases).where(cases.c.case_id == bindparam("case_id"))
_CASE_FOR_UPDATE = _CASE.with_for_update()
_JOURNAL = insert(journal).inline()
"""No position read back: one cached statement for any number of rows, fit for a pipeline."""
_LOCK_CASES = (
    select(cases)
    .where(cases.c.case_id.in_(bindparam("case_ids", expanding=True)))
    # One order for every locker, so two batches sharing cases cannot deadlock.
    .order_by(cases.c.case_id)
    .with_for_update()
)
_SEEN_OR_AWAITED = union_all(
    select(inbox.c.event_id, literal(False)).where(
        inbox.c.event_id.in_(bindparam("event_ids", expanding=True))
    ),
    select(parked.c.awaiting_event_id, literal(True)),
)
"""Ids of a batch the inbox already holds (False), and the causes parked events await (True)."""
_PROCESSED = select(inbox.c.event_id).where(inbox.c.event_id == bindparam("event_id"))


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    """Already applied: a redelivery, or the service's own event read back."""
    PARKED = "parked"
    """Arrived before its cause; applied when the cause is."""
    ILLEGAL = "illegal"
    """The lifecycle forbids it even with its cause applied: a dead letter."""


@dataclass(slots=True)
class Received:
    outcome: Outcome
    applied: list[CaseEvent] = field(default_factory=list)
    """The event and any parked events its application released, in order."""
    dead: list[tuple[CaseEvent, IllegalTransition]] = field(default_factory=list)
    """This event, or released parked events, that the lifecycle refuses: dead letters."""


@dataclass(frozen=True, slots=True)
class CaseRow:
    case_id: UUID
    site: str
    state: CaseState
    last_event_id: UUID
    correlation_id: UUID
    values: dict[str, Any]
    """Every column of the ``cases`` row."""


def _chain_head(row: CaseRow | None) -> ChainLink | None:
    """The last link of this service's chain of the case's events, if it has one yet."""
    if row is None or row.values["chain_sequence"] is None:
        return None
    return ChainLink(row.values["chain_sequence"], row.values["chain_hash"])


def _case_row(row: Mapping[Any, Any] | None) -> CaseRow | None:
    if row is None:
        return None
    return CaseRow(
        case_id=row["case_id"],
        site=row["site"],
        state=CaseState(
            CaseStatus(row["status"]),
            CaseStatus(row["resume_to"]) if row["resume_to"] else None,
        ),
        last_event_id=row["last_event_id"],
        correlation_id=row["correlation_id"],
        values=dict(row),
    )


class Ledger:
    def __init__(self, conn: AsyncConnection, topic: str, site: str) -> None:
        self.conn = conn
        self.topic = topic
        self.site = site
        """The site whose stream this ledger writes: the site of every event it emits."""
        self.emitted: list[CaseEvent] = []
        self._awaited: set[UUID] | None = None
        """Causes that parked events wait for, once read (a short list: parking is rare)."""
        self._prefetched: set[UUID] = set()
        self._held: dict[UUID, list[tuple[CaseEvent, str]]] = {}
        """Events waiting for a cause further on in the same batch, by the cause's id: parked
        in memory, since the cause comes before the transaction ends."""
        self._processed: set[UUID] = set()
        self._applied: set[UUID] = set()
        """Ids known to be in the inbox: read by the prefetch, or applied since."""
        self._asked: set[UUID] = set()
        """Ids whose place in the inbox the prefetch read."""
        self._locked: dict[UUID, CaseRow | None] = {}
        self._new_cases: dict[UUID, dict[str, Any]] = {}
        self._changed_cases: dict[UUID, dict[str, Any]] = {}
        self._journal_rows: list[dict[str, Any]] = []
        self._timeline_rows: list[dict[str, Any]] = []
        self._inbox_rows: list[dict[str, Any]] = []
        self._deferred: list[tuple[Executable, dict[str, Any] | None]] = []

    async def prefetch(
        self, event_ids: list[UUID], case_ids: set[UUID], cause_ids: set[UUID] | None = None
    ) -> None:
        """Read once, for a batch about to be received, which of its events and of their
        causes the inbox already holds, what waits in the parked table, and the batch's
        cases (locked)."""
        await self.flush()
        asked = set(event_ids) | (cause_ids or set())
        found = await self.conn.execute(_SEEN_OR_AWAITED, {"event_ids": list(asked)})
        self._processed, self._awaited = set(), set()
        for event_id, awaited in found:
            (self._awaited if awaited else self._processed).add(event_id)
        self._applied = set(self._processed)
        self._asked = asked
        self._prefetched = set(event_ids)
        if case_ids:
            rows = await self.conn.execute(_LOCK_CASES, {"case_ids": list(case_ids)})
            self._locked.update(dict.fromkeys(case_ids))
            for row in rows.mappings():
                self._locked[row["case_id"]] = _case_row(row)

    async def is_processed(self, event_id: UUID) -> bool:
        await self.flush()
        return await self.conn.scalar(_PROCESSED, {"event_id": event_id}) is not None

    async def _is_applied(self, event_id: UUID) -> bool:
        """Like :meth:`is_processed`, without a read for what the prefetch already asked."""
        if event_id in self._applied:
            return True
        if event_id in self._asked:
            return False
        return await self.is_processed(event_id)

    async def case(self, case_id: UUID, *, for_update: bool = False) -> CaseRow | None:
        """The case's projection row; ``for_update`` locks it until the transaction ends.

        Locked rows are kept for the rest of the transaction: every later change to them
        goes through this ledger, so the copy stays true.
        """
        if case_id in self._locked:
            return self._locked[case_id]
        query = _CASE_FOR_UPDATE if for_update else _CASE
        found = _case_row((await self.conn.execute(query, {"case_id": case_id})).mappings().first())
        if for_update:
            self._locked[case_id] = found
        return found

    async def receive(self, event: CaseEvent, source: str) -> Received:
        """Apply an event read from a topic, at most once and only in a legal order."""
        if event.event_id in self._processed or (
            event.event_id not in self._prefetched and await self.is_processed(event.event_id)
        ):
            return Received(Outcome.DUPLICATE)
        self._processed.add(event.event_id)
        row = await self.case(event.case_id, for_update=True)
        try:
            await self._apply(event, row, source)
        except IllegalTransition as error:
            cause = event.causation_id
            if cause in self._prefetched and cause not in self._processed:
                self._held.setdefault(cause, []).append((event, source))
                return Received(Outcome.PARKED)
            if cause is not None and not await self._is_applied(cause):
                await self._park(event, cause, source)
                await self._park_held(event.event_id)
                return Received(Outcome.PARKED)
            await self._park_held(event.event_id)
            return Received(Outcome.ILLEGAL, dead=[(event, error)])
        received = Received(Outcome.APPLIED, [event])
        await self._release_parked(event.event_id, received)
        return received

    async def open_case(self, model: type[E], *, actor: Actor, payload: Payload) -> E:
        """Decide the first event of a new case, under a new id: nothing to read first."""
        case_id = new_id()
        self._locked[case_id] = None
        return await self.emit(model, case_id=case_id, actor=actor, payload=payload)

    async def emit(
        self,
        model: type[E],
        *,
        case_id: UUID,
        actor: Actor,
        payload: Payload,
        cause: CaseEvent | None = None,
    ) -> E:
        """Decide a new event: refused with :class:`IllegalTransition`, or journaled and applied.

        Without an explicit cause, the case's last applied event is the cause: that is the
        event the actor saw when deciding.
        """
        row = await self.case(case_id, for_update=True)
        event = model.create(
            case_id=case_id,
            site=self.site,
            actor=actor,
            payload=payload,
            previous=_chain_head(row),
            cause=cause,
            causation_id=row.last_event_id if row and cause is None else None,
            correlation_id=row.correlation_id if row and cause is None else None,
        )
        link = ChainLink(event.sequence, event_hash(event))
        await self._apply(
            event,
            row,
            "journal",
            {"chain_sequence": link.sequence, "chain_hash": link.event_hash},
        )
        self._journal_rows.append(
            {
                "event_id": event.event_id,
                "case_id": event.case_id,
                "sequence": link.sequence,
                "event_type": event.event_type,
                "event_hash": link.event_hash,
                "topic": self.topic,
                "body": encode(event).decode(),
                "occurred_at": event.occurred_at,
            }
        )
        self.emitted.append(event)
        return event

    async def _apply(
        self,
        event: CaseEvent,
        row: CaseRow | None,
        source: str,
        chain_head: Mapping[str, Any] | None = None,
    ) -> None:
        state = apply(row.state if row else None, event.event_type)
        now = datetime.now(UTC)
        values = {
            "status": state.status.value,
            "resume_to": state.resume_to.value if state.resume_to else None,
            "last_event_id": event.event_id,
            "updated_at": now,
            **case_columns(event),
            **(chain_head or {}),
        }
        if row is None:
            changed = {
                "case_id": event.case_id,
                "site": event.site,
                "correlation_id": event.correlation_id,
                "case_number": None,
                "channel": None,
                "category_code": None,
                "grid_code": None,
                "department_id": None,
                "deadline": None,
                "overdue": False,
                "reported_at": event.occurred_at,
                "chain_sequence": None,
                "chain_hash": None,
                **values,
            }
            self._new_cases[event.case_id] = changed
        else:
            changed = {**row.values, **values}
            if event.case_id in self._new_cases:
                self._new_cases[event.case_id] = changed
            else:
                self._changed_cases[event.case_id] = changed
        self._locked[event.case_id] = _case_row(changed)
        self._timeline_rows.append(timeline_row(event))
        self._applied.add(event.event_id)
        self._inbox_rows.append(
            {
                "event_id": event.event_id,
                "case_id": event.case_id,
                "event_type": event.event_type,
                "source": source,
                "processed_at": now,
            }
        )

    def write_later(self, statement: Executable, parameters: dict[str, Any] | None = None) -> None:
        """Execute a write at the next :meth:`flush`, with the ledger's own writes."""
        self._deferred.append((statement, parameters))

    async def flush(self) -> None:
        """Write what the transaction decided so far: case rows, journal, timeline, inbox.

        Called before the inbox is read and before the transaction commits. A batch of
        events, or a command's events, then costs one statement per table instead of
        several per event; a case changed by many events of the batch is written once.
        """
        pending = (
            self._new_cases,
            self._changed_cases,
            self._journal_rows,
            self._timeline_rows,
            self._inbox_rows,
            self._deferred,
        )
        if not any(pending):
            return
        async with pipelined(self.conn):
            if self._new_cases:
                await self.conn.execute(insert(cases), list(self._new_cases.values()))
                self._new_cases = {}
            if self._changed_cases:
                await self.conn.execute(
                    _UPDATE_CASE,
                    [
                        {"changed_case_id": case_id, **{c: row[c] for c in _CHANGEABLE}}
                        for case_id, row in self._changed_cases.items()
                    ],
                )
                self._changed_cases = {}
            if self._journal_rows:
                await self.conn.execute(_JOURNAL, self._journal_rows)
                self._journal_rows = []
            if self._timeline_rows:
                await self.conn.execute(insert(timeline), self._timeline_rows)
                self._timeline_rows = []
            if self._inbox_rows:
                await self.conn.execute(insert(inbox), self._inbox_rows)
                self._inbox_rows = []
            for statement, parameters in self._deferred:
                await self.conn.execute(statement, parameters)
            self._deferred = []

    async def _park(self, event: CaseEvent, cause: UUID, source: str) -> None:
        if self._awaited is not None:
            self._awaited.add(cause)
        await self.conn.execute(
            insert(parked).values(
                event_id=event.event_id,
                awaiting_event_id=cause,
                source=source,
                body=encode(event).decode(),
                parked_at=datetime.now(UTC),
            )
        )

    async def settle(self) -> None:
        """Before the transaction ends: what still waits in memory for a cause of its batch
        (a batch cut short) waits in the parked table instead, so nothing is dropped."""
        for cause in list(self._held):
            await self._park_held(cause)

    async def _park_held(self, cause: UUID) -> None:
        """The cause was not applied after all: what waited for it in memory waits in the table."""
        for event, source in self._held.pop(cause, []):
            await self._park(event, cause, source)

    async def _release_parked(self, cause: UUID, into: Received) -> None:
        for event, source in self._held.pop(cause, []):
            self._processed.discard(event.event_id)
            released = await self.receive(event, source)
            into.applied.extend(released.applied)
            into.dead.extend(released.dead)
        if self._awaited is not None and cause not in self._awaited:
            return
        waiting = (
            (await self.conn.execute(select(parked).where(parked.c.awaiting_event_id == cause)))
            .mappings()
            .all()
        )
        for row in waiting:
            await self.conn.execute(delete(parked).where(parked.c.event_id == row["event_id"]))
            self._processed.discard(row["event_id"])
            released = await self.receive(decode(row["body"]), row["source"])
            into.applied.extend(released.applied)
            into.dead.extend(released.dead)
