"""One transaction of a stage: the events it receives and decides, applied to its records.

A received event is applied at most once (the inbox) and only where the stage's view of
the case allows it; one that came before the case could take it waits, parked with its case,
and is applied as soon as the case moves. A decided event is chained to the stage's last
event of the case, applied the same way, journaled for the relay and tracked. Reactions are
decided in the same transaction, with the time and a derived id of the event they answer,
so a replay of the same history derives the same events. All of it is written when the
transaction ends, or none of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from uuid import UUID

from cityloop_shared.contract.actors import Actor
from cityloop_shared.contract.codec import decode
from cityloop_shared.contract.envelope import CaseEvent, event_hash
from cityloop_shared.contract.ids import derived_id, new_id
from cityloop_shared.contract.lifecycle import CaseState, IllegalTransition
from cityloop_shared.contract.sites import site_level
from cityloop_shared.logging import event_log_context, get_logger
from cityloop_shared.ports.tracker import OWN
from cityloop_shared.ports.unit_of_work import Database, UnitOfWork
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.clocks import ClockKeeper
from cityloop_shared.stage.clocks import at_level
from cityloop_shared.stage.decisions import Draft
from cityloop_shared.stage.record import CaseRecord

if TYPE_CHECKING:
    from cityloop_shared.runtime.definition import StageService

R = TypeVar("R", bound=CaseRecord)
log = get_logger("cityloop.transaction")

EventIds = Callable[[int], UUID]
"""The id of the n-th event of a decision."""
BeforeCommit = Callable[["StageTransaction[Any]"], Awaitable[None]]
"""Work done once the transaction's work is settled and before it commits (publishing its
dead letters): should it fail, the transaction does not commit."""


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    """Applied before: a redelivery."""
    PARKED = "parked"
    """The case cannot take it yet; applied when the case moves."""
    DEAD = "dead"
    """The case can never take it: a dead letter."""
    DECLINED = "declined"
    """Of a case the stage did not take up (its ``evolve`` declined the case's first event)."""
    LATE = "late"
    """Overtaken: it happened before what the stage applied to the case since (read late from
    another topic) and no longer applies. Passed over, not a dead letter."""


@dataclass(frozen=True, slots=True)
class DeadEvent:
    event: CaseEvent
    source: str
    reason: str


@dataclass(slots=True)
class _Waiting:
    event: CaseEvent
    source: str
    stored: bool
    """Read from the parked table (rather than held since it arrived in this transaction)."""


@contextlib.asynccontextmanager
async def stage_transaction(
    database: Database,
    service: StageService[R],
    *,
    site: str,
    topic: str,
    reference: ReferenceData,
    before_commit: BeforeCommit | None = None,
) -> AsyncIterator[StageTransaction[R]]:
    """A stage transaction on a new database transaction: what still waits when the block ends
    is parked, then ``before_commit`` runs, and the database writes it all as it commits.

    ``before_commit`` runs inside the database transaction: if it raises, or the process dies
    before the commit, nothing of the transaction is kept and its work is done again.
    """
    async with database.begin() as uow:
        transaction = StageTransaction(uow, service, site=site, topic=topic, reference=reference)
        yield transaction
        transaction.settle()
        if before_commit is not None:
            await before_commit(transaction)


class StageTransaction(Generic[R]):
    def __init__(
        self,
        uow: UnitOfWork,
        service: StageService[R],
        *,
        site: str,
        topic: str,
        reference: ReferenceData,
    ) -> None:
        self.uow = uow
        self.rules = service.rules
        self.view = service.rules.topology.view
        self.stage = service.rules.topology.stage
        self.site = site
        self.topic = topic
        self.reference = reference
        self.emitted: list[CaseEvent] = []
        self.dead: list[DeadEvent] = []
        self._service = service
        self._states = uow.states(service.table, service.rules.record)
        self._clocks = ClockKeeper(uow.clocks, reference.calendar)
        self._level = site_level(site)
        self._system = Actor.system(site, self.stage.value)
        self._cases: dict[UUID, R | None] = {}
        self._applied: set[UUID] = set()
        self._asked: set[UUID] = set()
        """Ids whose place in the inbox is known (applied or not)."""
        self._waiting: dict[UUID, list[_Waiting]] = {}
        self.now = datetime.now(UTC)
        """When this transaction began: the bookkeeping time of what it tracks and parks."""

    # --- reading ------------------------------------------------------------------------------
    async def load(self, case_ids: Collection[UUID]) -> None:
        """Read (and lock) the records of these cases at once."""
        wanted = set(case_ids) - self._cases.keys()
        found = await self._states.load(wanted)
        for case_id in wanted:
            self._cases[case_id] = found.get(case_id)

    async def case(self, case_id: UUID) -> R | None:
        """The stage's record of the case, locked until the transaction ends."""
        if case_id not in self._cases:
            await self.load([case_id])
        return self._cases[case_id]

    async def prepare(self, events: Sequence[CaseEvent]) -> None:
        """One round of reads for a batch: which of its events and of their causes were
        applied, what is parked for its cases, and its cases' records."""
        asked = {event.event_id for event in events}
        asked |= {event.causation_id for event in events if event.causation_id is not None}
        cases = {event.case_id for event in events}
        known = await self.uow.tracker.lookup(asked, cases)
        self._applied |= known.applied
        self._asked |= asked
        for parked in known.parked:
            waiting = _Waiting(decode(parked.body), parked.source, stored=True)
            self._waiting.setdefault(parked.case_id, []).append(waiting)
        await self.load(cases)

    async def _is_applied(self, event_id: UUID) -> bool:
        if event_id not in self._asked:
            known = await self.uow.tracker.lookup([event_id], [])
            self._applied |= known.applied
            self._asked.add(event_id)
        return event_id in self._applied

    # --- receiving ----------------------------------------------------------------------------
    async def receive(self, event: CaseEvent, source: str) -> Outcome:
        """Apply an event read from a topic: at most once, and only where the case can take it."""
        if await self._is_applied(event.event_id):
            return Outcome.DUPLICATE
        if any(w.event.event_id == event.event_id for w in self._waiting.get(event.case_id, ())):
            return Outcome.PARKED  # a redelivery of an event parked before
        outcome = await self._receive(event, source)
        if outcome is Outcome.PARKED:
            self._waiting.setdefault(event.case_id, []).append(_Waiting(event, source, False))
        elif outcome is Outcome.APPLIED:
            await self._release(event.case_id)
        return outcome

    async def _receive(self, event: CaseEvent, source: str) -> Outcome:
        record = await self.case(event.case_id)
        before = record.lifecycle if record else None
        try:
            state = self.view.receive(before, event.event_type)
        except IllegalTransition as refusal:
            if record is None and await self.uow.tracker.knows_case(event.case_id):
                self.uow.tracker.track(event, source, self.now)
                self._applied.add(event.event_id)
                return Outcome.DECLINED
            cause = event.causation_id
            if (
                cause is not None
                and not await self._is_applied(cause)
                and self.view.may_follow(before, event.event_type)
            ):
                return Outcome.PARKED
            return self._set_aside(record, event, source, refusal)
        await self._take(record, event, state, source)
        return Outcome.APPLIED

    async def _take(
        self, record: R | None, event: CaseEvent, state: CaseState, source: str
    ) -> None:
        """Apply an event the case can take, and decide the stage's reaction to it."""
        after = await self._apply(record, event, state, source)
        if after is not None:
            await self._react(after, event)

    async def _release(self, case_id: UUID) -> None:
        """The case moved: what waited for it is applied if it now can be, dead if it never
        can, and waits on otherwise."""
        moved = True
        while moved and self._waiting.get(case_id):
            moved = False
            for waiting in list(self._waiting[case_id]):
                record = self._cases.get(case_id)
                before = record.lifecycle if record else None
                try:
                    state = self.view.receive(before, waiting.event.event_type)
                except IllegalTransition as refusal:
                    if self.view.may_follow(before, waiting.event.event_type):
                        continue
                    self._set_aside(record, waiting.event, waiting.source, refusal)
                else:
                    await self._take(record, waiting.event, state, waiting.source)
                    moved = True
                self._waiting[case_id].remove(waiting)
                if waiting.stored:
                    self.uow.tracker.unpark(waiting.event.event_id)
                if moved:
                    break

    def _set_aside(
        self, record: R | None, event: CaseEvent, source: str, refusal: IllegalTransition
    ) -> Outcome:
        """An event the case can never take: late if the stage applied something that happened
        after it (it is tracked, so it is not read again), a dead letter otherwise."""
        if record is not None and event.occurred_at <= record.last_occurred_at:
            self.uow.tracker.track(event, source, self.now)
            self._applied.add(event.event_id)
            return Outcome.LATE
        self.dead.append(DeadEvent(event, source, f"illegal transition: {refusal}"))
        return Outcome.DEAD

    def settle(self) -> None:
        """Before the transaction ends: what still waits since this transaction waits in the
        parked table, so nothing is dropped."""
        for waiting in (w for ws in self._waiting.values() for w in ws if not w.stored):
            self.uow.tracker.park(waiting.event, waiting.source, self.now)
            waiting.stored = True

    async def _react(self, record: R, event: CaseEvent) -> None:
        drafts = self.rules.react(record, event, self.reference)
        if not drafts:
            return
        stage = self.stage.value
        try:
            await self.decide(
                record,
                drafts,
                actor=self._system,
                at=event.occurred_at,
                cause=event,
                ids=lambda n: derived_id(event.occurred_at, stage, event.event_id, n),
            )
        except IllegalTransition as moved_on:
            # The stage's view of the case moved past the reaction (a parked event released
            # after it): the reaction no longer applies, and nothing of it was written.
            log.warning("reaction.skipped", reason=str(moved_on), **event_log_context(event))

    # --- deciding -----------------------------------------------------------------------------
    async def decide(
        self,
        record: R | None,
        drafts: Sequence[Draft],
        *,
        actor: Actor,
        at: datetime,
        cause: CaseEvent | None = None,
        ids: EventIds | None = None,
    ) -> list[CaseEvent]:
        """Make, apply and journal the drafted events of one case, or refuse all of them with
        :class:`IllegalTransition`: the stage's view must allow each where the case will be.

        Without a ``cause``, the case's last applied event is the cause: the event the actor
        saw when deciding.
        """
        states: list[CaseState] = []
        state = record.lifecycle if record else None
        for draft in drafts:
            state = self.view.decide(state, draft.event_type)
            states.append(state)
        case = record.case_id if record else new_id()
        events = []
        for index, (draft, state) in enumerate(zip(drafts, states, strict=True)):
            event = draft.model.create(
                case_id=case,
                site=self.site,
                actor=actor,
                payload=draft.payload,
                previous=record.chain if record else None,
                cause=cause,
                causation_id=record.last_event_id if record and cause is None else None,
                correlation_id=record.correlation_id if record and cause is None else None,
                occurred_at=at,
                event_id=ids(index) if ids else None,
            )
            record = await self._apply(record, event, state, OWN, own=True)
            self.uow.recorder.append([event], self.topic)
            self.emitted.append(event)
            events.append(event)
        return events

    async def restore(self, event: CaseEvent) -> None:
        """Apply an event this stage decided before (a command's or its clock's), as a replay
        of its history does: where the stage's chain of the case expects it, journaled again."""
        record = await self.case(event.case_id)
        state = self.view.decide(record.lifecycle if record else None, event.event_type)
        head = record.chain if record else None
        expected = (head.sequence + 1, head.event_hash) if head else (1, None)
        if (event.sequence, event.previous_hash) != expected:
            raise ValueError(
                f"event {event.event_id} does not follow the stage's chain of case {event.case_id}"
            )
        await self._apply(record, event, state, OWN, own=True)
        self.uow.recorder.append([event], self.topic)
        self.emitted.append(event)

    # --- applying -----------------------------------------------------------------------------
    async def _apply(
        self, record: R | None, event: CaseEvent, state: CaseState, source: str, own: bool = False
    ) -> R | None:
        moved: dict[str, Any] = {
            "status": state.status,
            "resume_to": state.resume_to,
            "last_event_id": event.event_id,
            "last_occurred_at": max(event.occurred_at, record.last_occurred_at)
            if record is not None
            else event.occurred_at,
        }
        if own:
            moved |= {"chain_sequence": event.sequence, "chain_hash": event_hash(event)}
        base = (
            dataclasses.replace(record, **moved)
            if record is not None
            else self.rules.record(
                case_id=event.case_id,
                site=event.site,
                correlation_id=event.correlation_id,
                **moved,
            )
        )
        after = self.rules.evolve(base, event)
        if after is None and record is not None:
            raise TypeError(f"{self.stage} dropped its record of case {event.case_id}")
        self.uow.tracker.track(event, source, self.now)
        self._applied.add(event.event_id)
        self._asked.add(event.event_id)
        if after is None:
            return None
        self._cases[event.case_id] = after
        self._states.save(after)
        changes = self.rules.time(after, event, self.reference)
        await self._clocks.apply(event.case_id, at_level(self._level, changes))
        if self._service.project is not None:
            self._service.project(self.uow, after, event)
        return after
