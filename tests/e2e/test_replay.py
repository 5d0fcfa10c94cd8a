"""A stage's history replayed into a fresh store on the other backend gives the same store.

The fleet runs on PostgreSQL over real Kafka; afterwards each stage's history — what it read
and what it decided, in the order it applied them — is replayed into a fresh SQLite file.
Its reactions are derived again with the same ids and hashes, so the replayed journal is the
original byte for byte, and the records, the clocks and the tracking order are the same.
"""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cityloop_deploy.fleet import WORKFLOW_STAGES, Fleet
from cityloop_shared.adapters.postgres import PostgresDatabase
from cityloop_shared.adapters.sql.tables import clocks
from cityloop_shared.adapters.sqlite import SQLiteDatabase
from cityloop_shared.contract.codec import decode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.topics import event_topic
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.runtime.replay import history, replay
from cityloop_shared.settings import DatabaseSettings

from .loop import Loop


def service(stage: str) -> StageService[Any]:
    defined: StageService[Any] = importlib.import_module(f"cityloop_{stage}.app").SERVICE
    return defined


def test_every_stage_replays_into_sqlite_as_it_ran(
    loop: Loop, fleet: Fleet, postgres_url: str, tmp_path: Path
) -> None:
    closed = loop.run_to_close("public")
    reworked = loop.report()
    loop.accept(reworked)
    loop.register(reworked)
    department = loop.dispatch(reworked)
    loop.handle(reworked, department)
    loop.check(reworked, passed=False)
    loop.await_event(reworked, "case.reopened_for_rework")
    late = loop.report("video")
    loop.accept(late)
    loop.register(late)
    loop.dispatch(late)
    loop.disposal_time_passes(late)
    loop.await_event(late, "time_limit.overdue")
    loop.await_status(closed, "closed")
    loop.settle()

    # The test moved the late case's disposal marks by hand (loop.disposal_time_passes),
    # outside any event: the replay counts them from the events, as the service did.
    asyncio.run(_replay_all(fleet, postgres_url, tmp_path, moved=(late, "disposal")))


async def _replay_all(
    fleet: Fleet, postgres_url: str, tmp_path: Path, moved: tuple[Any, str]
) -> None:
    reference = ReferenceData.demo()
    originals = {
        stage: PostgresDatabase(DatabaseSettings(url=postgres_url), fleet.config.schema(stage))
        for stage in WORKFLOW_STAGES
    }
    try:
        emitted: dict[Any, CaseEvent] = {}
        for database in originals.values():
            async with database.begin() as uow:
                emitted |= {
                    e.event_id: decode(e.body) for e in await uow.recorder.entries(0, 10_000)
                }
        for stage in WORKFLOW_STAGES:
            await _replay_stage(stage, originals[stage], emitted, fleet, reference, tmp_path, moved)
    finally:
        for database in originals.values():
            await database.dispose()


async def _replay_stage(
    stage: str,
    original: Database,
    emitted: dict[Any, CaseEvent],
    fleet: Fleet,
    reference: ReferenceData,
    tmp_path: Path,
    moved: tuple[Any, str],
) -> None:
    defined = service(stage)
    file = tmp_path / f"{stage}.sqlite"
    settings = DatabaseSettings(url=f"sqlite:///{file}")
    upgrade(settings, stage, defined.migrations)
    fresh = SQLiteDatabase(settings)
    try:
        steps = await history(original, emitted)
        topic = event_topic(
            fleet.config.site, defined.rules.topology.stage, fleet.config.topic_namespace
        )
        result = await replay(
            defined, steps, fresh, site=fleet.config.site, topic=topic, reference=reference
        )
        assert result.differences == [], stage
        assert result.steps == len(steps) > 0
        # Dispatch forwards feedback and reopens for rework; verification sends the check.
        reacts = stage in ("dispatch", "verification")
        assert (result.rederived > 0) is reacts, f"{stage} derived {result.rederived} again"
        assert await _journal(fresh) == await _journal(original), f"{stage}'s journal"
        assert await _tracking(fresh) == await _tracking(original), f"{stage}'s tracking"
        assert await _records(fresh, defined) == await _records(original, defined), stage
        assert await _clocks(fresh, moved) == await _clocks(original, moved), f"{stage}'s clocks"
    finally:
        await fresh.dispose()


async def _journal(database: Database) -> list[tuple[Any, ...]]:
    async with database.begin() as uow:
        entries = await uow.recorder.entries(0, 10_000)
    return [(e.event_id, e.sequence, e.event_hash, e.topic, e.body) for e in entries]


async def _tracking(database: Database) -> list[tuple[Any, ...]]:
    async with database.begin() as uow:
        return [(a.event_id, a.source) for a in await uow.tracker.history(0, 10_000)]


async def _records(database: Database, defined: StageService[Any]) -> dict[Any, Any]:
    async with database.reading() as reader:
        ids = [row["case_id"] for row in await reader.rows(select(defined.table.c.case_id))]
    async with database.begin() as uow:
        return await uow.states(defined.table, defined.rules.record).load(ids)


async def _clocks(database: Database, moved: tuple[Any, str]) -> list[dict[str, Any]]:
    """Every clock row; of the clock moved by hand, all but its marks."""
    async with database.reading() as reader:
        rows = await reader.rows(select(clocks).order_by(clocks.c.case_id, clocks.c.step))
    return [
        {k: v for k, v in row.items() if (row["case_id"], row["step"]) != moved or k not in _MARKS}
        for row in rows
    ]


_MARKS = {"deadline", "warn_at"}
