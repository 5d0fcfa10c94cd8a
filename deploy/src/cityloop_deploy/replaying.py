"""Replaying a stage's history from the log into a fresh store, and comparing the store it
builds with the live one: journal, tracking and records, case by case.

The history is the live store's order of what it applied (its tracking); the events it read
come from the log, by id. A :class:`Selection` narrows the replay and the comparison to some
cases — one case, a district's, those with an event in a time range — each replayed whole,
for a case's record is the fold of its whole history.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import select

from cityloop_shared.adapters.sqlite import SQLiteDatabase
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.topics import event_topic
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.runtime.replay import Step, history, replay
from cityloop_shared.settings import DatabaseSettings

ALL = 1_000_000_000


def service(stage: str) -> StageService[Any]:
    defined: StageService[Any] = importlib.import_module(f"cityloop_{stage}.app").SERVICE
    return defined


@dataclass(frozen=True, slots=True)
class Selection:
    """Which cases to replay: all, or those that match every criterion given."""

    case: UUID | None = None
    district: str | None = None
    """Cases with an event of this site (a district's cases, read at the city)."""
    since: datetime | None = None
    until: datetime | None = None
    """Cases with an event that happened in ``[since, until)``."""

    def cases(self, steps: Sequence[Step]) -> set[UUID] | None:
        """The cases selected among the history's; None for all."""
        if (
            self.case is None
            and self.district is None
            and self.since is None
            and self.until is None
        ):
            return None
        chosen: set[UUID] = set()
        for step in steps:
            event = step.event
            if (
                (self.case is None or event.case_id == self.case)
                and (self.district is None or event.site == self.district)
                and (self.since is None or event.occurred_at >= self.since)
                and (self.until is None or event.occurred_at < self.until)
            ):
                chosen.add(event.case_id)
        return chosen


@dataclass(slots=True)
class StageReplay:
    stage: str
    steps: int = 0
    rederived: int = 0
    """Reactions the replay derived again, with the same ids and hashes as the live ones."""
    differences: list[str] = field(default_factory=list)


async def replay_stage(
    stage: str,
    live: Database,
    received: Mapping[UUID, CaseEvent],
    *,
    site: str,
    namespace: str | None,
    reference: ReferenceData,
    into: Path,
    selection: Selection = Selection(),
) -> StageReplay:
    """Replay ``stage``'s history into a fresh SQLite file ``into`` and compare it with the
    live store; every difference is named."""
    defined = service(stage)
    settings = DatabaseSettings(url=f"sqlite:///{into}")
    upgrade(settings, stage, defined.migrations)
    fresh = SQLiteDatabase(settings)
    found = StageReplay(stage)
    try:
        steps: list[Step] = await history(live, received)
        cases = selection.cases(steps)
        if cases is not None:
            steps = [step for step in steps if step.event.case_id in cases]
        topic = event_topic(site, defined.rules.topology.stage, namespace)
        result = await replay(defined, steps, fresh, site=site, topic=topic, reference=reference)
        found.steps, found.rederived = result.steps, result.rederived
        found.differences += result.differences
        for name, read in (("journal", journal), ("tracking", tracking)):
            if await read(fresh, cases) != await read(live, cases):
                found.differences.append(f"its {name} differs from the live one")
        replayed, kept = await records(fresh, defined, cases), await records(live, defined, cases)
        found.differences += [
            f"case {case_id}: the replayed record differs from the live one"
            for case_id in sorted(set(replayed) | set(kept), key=str)
            if replayed.get(case_id) != kept.get(case_id)
        ]
    finally:
        await fresh.dispose()
    return found


async def journal(database: Database, cases: set[UUID] | None = None) -> list[tuple[Any, ...]]:
    async with database.begin() as uow:
        entries = await uow.recorder.entries(0, ALL)
    return [
        (e.event_id, e.sequence, e.event_hash, e.topic, e.body)
        for e in entries
        if cases is None or e.case_id in cases
    ]


async def tracking(database: Database, cases: set[UUID] | None = None) -> list[tuple[Any, ...]]:
    async with database.begin() as uow:
        applied = await uow.tracker.history(0, ALL)
    return [(a.event_id, a.source) for a in applied if cases is None or a.case_id in cases]


async def records(
    database: Database, defined: StageService[Any], cases: set[UUID] | None = None
) -> dict[Any, Any]:
    table = defined.table
    query = select(table.c.case_id)
    if cases is not None:
        query = query.where(table.c.case_id.in_(list(cases)))
    async with database.reading() as reader:
        ids = [row["case_id"] for row in await reader.rows(query)]
    async with database.begin() as uow:
        return await uow.states(table, defined.rules.record).load(ids)
