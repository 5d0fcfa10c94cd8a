"""The projection's reader: every case topic of the city's districts and of the city itself,
as they are on the city's cluster, each touched case folded again from its whole history."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from uuid import UUID

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.messaging.security import ClientSecurity
from cityloop_shared.ports.unit_of_work import Database, UnitOfWork
from cityloop_shared.runtime.timeline import TimelineFollower
from cityloop_sync.projection import fold
from cityloop_sync.store import TIMELINE, city_cases


async def project(uow: UnitOfWork, histories: Mapping[UUID, Sequence[CaseEvent]]) -> None:
    for history in histories.values():
        case = fold(history)
        if case is not None:
            row = asdict(case)
            row["overdue"] = case.overdue
            row["overdue_steps"] = list(case.overdue_steps)
            row["status"] = case.status.value
            uow.upsert(city_cases, ["case_id"], row)


def projection_follower(
    database: Database, bootstrap: str, topics: Iterable[str], security: ClientSecurity
) -> TimelineFollower:
    """Reads ``topics`` from the city's cluster into the projection."""
    return TimelineFollower(
        database,
        bootstrap,
        topics,
        TIMELINE,
        project,
        client_id="cityloop-sync-projection",
        security=security,
    )
