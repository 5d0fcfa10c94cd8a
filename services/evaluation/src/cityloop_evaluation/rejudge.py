"""Judge every case again from the histories the service keeps: after a change of the
reference data (a calendar year's official days added) or of the judgement, without reading
the log again. Case by case in batches, each in its own transaction."""

from __future__ import annotations

from sqlalchemy import select

from cityloop_evaluation.projector import Projector
from cityloop_evaluation.store import TIMELINE
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.timeline import histories


async def rejudge(database: Database, reference: ReferenceData, batch: int = 500) -> int:
    """The number of cases judged again."""
    timeline = TIMELINE.timeline
    async with database.reading() as reader:
        case_ids = [
            row["case_id"]
            for row in await reader.rows(
                select(timeline.c.case_id).distinct().order_by(timeline.c.case_id)
            )
        ]
    project = Projector(reference)
    for start in range(0, len(case_ids), batch):
        chunk = case_ids[start : start + batch]
        async with database.begin() as uow:
            await project(uow, await histories(uow, timeline, chunk))
    return len(case_ids)
