"""A stage's history replayed into a fresh store on the other backend gives the same store.

The fleet runs on PostgreSQL over real Kafka; afterwards each stage's history — what it read
and what it decided, in the order it applied them — is replayed into a fresh SQLite file.
Its reactions are derived again with the same ids and hashes, so the replayed journal is the
original byte for byte, and the records, the clocks and the tracking order are the same.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cityloop_deploy import audit
from cityloop_deploy.fleet import WORKFLOW_STAGES, Fleet
from cityloop_deploy.replaying import journal, records, service, tracking
from cityloop_shared.adapters.postgres import PostgresDatabase
from cityloop_shared.adapters.sql.tables import clocks
from cityloop_shared.adapters.sqlite import SQLiteDatabase
from cityloop_shared.contract.codec import decode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.topics import event_topic
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.runtime.replay import history, replay
from cityloop_shared.settings import DatabaseSettings

from .loop import Loop


def test_every_stage_replays_into_sqlite_as_it_ran(
    loop: Loop,
    fleet: Fleet,
    postgres_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
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

    # The operator's command does the same from the log and the live stores ...
    config = fleet.config
    assert config.topic_namespace
    command = [
        "replay",
        *("--site", config.site, "--namespace", config.topic_namespace),
        *("--bootstrap", config.kafka_bootstrap, "--database", postgres_url),
        *("--schema-prefix", config.schema_prefix),
    ]
    assert audit.main(command) == 0
    everything = capsys.readouterr().out
    assert "casefile: " in everything
    # A district's cases, or those with an event in a time range, are replayed whole: here
    # every case, so the same steps; a range with no event selects none.
    selected = ["--district", config.site, "--since", "2020-01-01T00:00+00:00"]
    assert audit.main([*command, *selected, "--until", "2100-01-01T00:00+00:00"]) == 0
    assert capsys.readouterr().out == everything
    assert audit.main([*command, "--stage", "casefile", "--since", "2100-01-01T00:00+00:00"]) == 0
    assert "casefile: 0 steps, 0 derived again: the same" in capsys.readouterr().out
    # ... and names a live record that is not what its events make it, case by case.
    loop.sql(
        "casefile", "UPDATE cases SET grid_code = '370212003003001' WHERE case_id = %s", closed
    )
    assert audit.main([*command, "--stage", "casefile", "--case", str(closed)]) == 1
    out = capsys.readouterr().out
    assert f"case {closed}: the replayed record differs from the live one" in out


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
        assert await journal(fresh) == await journal(original), f"{stage}'s journal"
        assert await tracking(fresh) == await tracking(original), f"{stage}'s tracking"
        assert await records(fresh, defined) == await records(original, defined), stage
        assert await _clocks(fresh, moved) == await _clocks(original, moved), f"{stage}'s clocks"
    finally:
        await fresh.dispose()


async def _clocks(database: Database, moved: tuple[Any, str]) -> list[dict[str, Any]]:
    """Every clock row; of the clock moved by hand, all but its marks."""
    async with database.reading() as reader:
        rows = await reader.rows(select(clocks).order_by(clocks.c.case_id, clocks.c.step))
    return [
        {k: v for k, v in row.items() if (row["case_id"], row["step"]) != moved or k not in _MARKS}
        for row in rows
    ]


_MARKS = {"deadline", "warn_at"}
