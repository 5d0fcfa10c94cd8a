"""Databases of the test stage, on each backend, and events of one case as the site's
stages would publish them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import pytest_asyncio

from cityloop_shared.adapters import open_database
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.envelope import CaseEvent, ChainLink
from cityloop_shared.contract.examples import PAYLOADS
from cityloop_shared.contract.ids import new_id
from cityloop_shared.contract.registry import EVENT_TYPES, payload_model
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.runtime.transaction import StageTransaction, stage_transaction
from cityloop_shared.settings import DatabaseSettings

from .stage import SERVICE

SITE = "370212"
ACTOR = Actor(id="op-1", role=Role.ACCEPTANCE_OPERATOR, site=SITE)
REFERENCE = ReferenceData.demo()


async def migrated(url: str, schema: str) -> Database:
    upgrade(DatabaseSettings(url=url), schema, SERVICE.migrations)
    return open_database(DatabaseSettings(url=url), schema)


@pytest_asyncio.fixture(params=["postgresql", "sqlite"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh database of the test stage, on each backend."""
    if request.param == "sqlite":
        found = await migrated(f"sqlite:///{tmp_path / 'stage.sqlite'}", "main")
    else:
        found = await migrated(
            request.getfixturevalue("postgres_url"), request.getfixturevalue("pg_schema")
        )
    try:
        yield found
    finally:
        await found.dispose()


def transaction(database: Database) -> AbstractAsyncContextManager[StageTransaction[Any]]:
    return stage_transaction(database, SERVICE, site=SITE, topic="topic", reference=REFERENCE)


class Case:
    """One case's events, each caused by the one before, chained on its emitter's stream."""

    def __init__(self) -> None:
        self.case_id: UUID = new_id()
        self.events: list[CaseEvent] = []
        self._links: dict[str, ChainLink] = {}

    def next(self, event_type: str, stage: str, at: datetime | None = None) -> CaseEvent:
        model = EVENT_TYPES[event_type]
        event = model.create(
            case_id=self.case_id,
            site=SITE,
            actor=ACTOR,
            payload=payload_model(event_type).model_validate(PAYLOADS[event_type]),
            previous=self._links.get(stage),
            cause=self.events[-1] if self.events else None,
            occurred_at=at,
        )
        self._links[stage] = event.link()
        self.events.append(event)
        return event


NewCase = Callable[[], Case]


@pytest.fixture
def new_case() -> NewCase:
    return Case
