"""Replaying a stage's history into a fresh store, on any backend.

A stage's history is what it applied, in the order it applied it (its ``tracking``): events
read from topics, and events it decided itself. A replay receives the first again — so its
reactions are derived again, with the same ids and hashes — and restores the second (a
command's or a clock's decision, which nothing re-derives). The replayed store then holds the
same records, journal and clocks as the original; where the replay goes another way (a
reaction derived differently, an event it cannot apply), its ``differences`` say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from cityloop_shared.contract.codec import decode, encode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.time_limits import TimeLimitOverdue, TimeLimitWarning
from cityloop_shared.ports.clocks import DueSignal
from cityloop_shared.ports.tracker import OWN, Applied
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.runtime.transaction import Outcome, stage_transaction

PAGE = 1000
_TRACKED = frozenset({Outcome.APPLIED, Outcome.LATE, Outcome.DECLINED})
"""What a received event in the history came to: it is tracked only when it came to one of
these, so the replay must come to one of them too."""


@dataclass(frozen=True, slots=True)
class Step:
    event: CaseEvent
    source: str
    """Where the stage read it (``topic/partition/offset``), or :data:`OWN` if it decided it."""


@dataclass(slots=True)
class Replay:
    steps: int = 0
    rederived: int = 0
    """The history's reactions derived again (rather than restored)."""
    differences: list[str] = field(default_factory=list)
    """Reactions derived differently from the history's, or derived where it had none; events
    the history applied that the replay could not (waiting for their case, or dead)."""


async def history(database: Database, received: Mapping[UUID, CaseEvent]) -> list[Step]:
    """A stage's history from its own store; the events it read come from ``received`` (the
    topics, or the journals of the stages that emitted them), by id."""
    applied: list[Applied] = []
    own: dict[UUID, CaseEvent] = {}
    async with database.begin() as uow:
        while page := await uow.tracker.history(applied[-1].position if applied else 0, PAGE):
            applied.extend(page)
        position = 0
        while entries := await uow.recorder.entries(position, PAGE):
            own |= {entry.event_id: decode(entry.body) for entry in entries}
            position = entries[-1].position
    return [
        Step(own[entry.event_id] if entry.source == OWN else received[entry.event_id], entry.source)
        for entry in applied
    ]


async def replay(
    service: StageService[Any],
    steps: Iterable[Step],
    database: Database,
    *,
    site: str,
    topic: str,
    reference: ReferenceData,
) -> Replay:
    """Apply ``steps`` to ``database`` (fresh, migrated) in one transaction."""
    result = Replay()
    async with stage_transaction(
        database, service, site=site, topic=topic, reference=reference
    ) as transaction:
        uow = transaction.uow
        derived: dict[UUID, CaseEvent] = {}
        for step in steps:
            result.steps += 1
            if step.source != OWN:
                before = len(transaction.emitted)
                outcome = await transaction.receive(step.event, step.source)
                if outcome not in _TRACKED and outcome is not Outcome.DEAD:
                    result.differences.append(
                        f"{step.event.event_id} was {outcome.value} in the replay"
                    )
                derived |= {e.event_id: e for e in transaction.emitted[before:]}
            elif (again := derived.pop(step.event.event_id, None)) is not None:
                result.rederived += 1
                if encode(again) != encode(step.event):
                    result.differences.append(f"{step.event.event_id} was derived differently")
            else:
                await transaction.restore(step.event)
                if isinstance(step.event, TimeLimitWarning | TimeLimitOverdue):
                    payload = step.event.payload
                    uow.clocks.mark_signalled(
                        DueSignal(
                            step.event.case_id,
                            payload.step,
                            payload.deadline,
                            isinstance(step.event, TimeLimitOverdue),
                            step.event.occurred_at,
                        )
                    )
        result.differences += [f"{event_id} was derived anew" for event_id in derived]
        # With the reason; this names too what waited in the replay and died when its case moved.
        result.differences += [
            f"{dead.event.event_id} is a dead letter in the replay: {dead.reason}"
            for dead in transaction.dead
        ]
    return result
