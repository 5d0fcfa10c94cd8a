"""Replaying a stage's history from the log into a fresh store, and comparing the store it
builds with the live one: journal, tracking and records, case by case.

The history is the live store's order of what it applied (its tracking); the events it read
come from the log, by id. ``case`` narrows the comparison (and the replay) to one case.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    case: UUID | None = None,
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
        if case is not None:
            steps = [step for step in steps if step.event.case_id == case]
        topic = event_topic(site, defined.rules.topology.stage, namespace)
        result = await replay(defined, steps, fresh, site=site, topic=topic, reference=reference)
        found.steps, found.rederived = result.steps, result.rederived
        found.differences += result.differences
        for name, read in (("journal", journal), ("tracking", tracking)):
            if await read(fresh, case) != await read(live, case):
                found.differences.append(f"its {name} differs from the live one")
        replayed, kept = await records(fresh, defined, case), await records(live, defined, case)
        found.differences += [
            f"case {case_id}: the replayed record differs from the live one"
            for case_id in sorted(set(replayed) | set(kept), key=str)
            if replayed.get(case_id) != kept.get(case_id)
        ]
    finally:
        await fresh.dispose()
    return found


async def journal(database: Database, case: UUID | None = None) -> list[tuple[Any, ...]]:
    async with database.begin() as uow:
        entries = await uow.recorder.entries(0, ALL)
    return [
        (e.event_id, e.sequence, e.event_hash, e.topic, e.body)
        for e in entries
        if case is None or e.case_id == case
    ]


async def tracking(database: Database, case: UUID | None = None) -> list[tuple[Any, ...]]:
    async with database.begin() as uow:
        applied = await uow.tracker.history(0, ALL)
    return [(a.event_id, a.source) for a in applied if case is None or a.case_id == case]


async def records(
    database: Database, defined: StageService[Any], case: UUID | None = None
) -> dict[Any, Any]:
    table = defined.table
    query = select(table.c.case_id)
    if case is not None:
        query = query.where(table.c.case_id == case)
    async with database.reading() as reader:
        ids = [row["case_id"] for row in await reader.rows(query)]
    async with database.begin() as uow:
        return await uow.states(table, defined.rules.record).load(ids)
