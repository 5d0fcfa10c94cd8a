"""The intake service in this test's process, on the real broker and database, and what the
tests read of it: its records, what it applied, and whether it has read all it was sent."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID

import httpx
import pytest
import pytest_asyncio

import cityloop_intake
from cityloop_deploy.site_fixtures import read_to_the_end, serve_in_process
from cityloop_intake.state import Report
from cityloop_intake.store import reports
from cityloop_shared.ports.tracker import Applied
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.settings import ServiceSettings

OPEN311_KEY = "k7f3q9-test"

Served = tuple[httpx.AsyncClient, ServiceRuntime]
ReportOf = Callable[[UUID], Awaitable[Report | None]]
Applications = Callable[[UUID], Awaitable[list[Applied]]]
CaughtUp = Callable[[], Awaitable[None]]


@pytest.fixture
def open311_key() -> str:
    """The one Open311 API key of the test site, owned by ``test-client``."""
    return OPEN311_KEY


@pytest_asyncio.fixture
async def intake(
    service_settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Served]:
    monkeypatch.setenv("CITYLOOP_OPEN311_API_KEYS", f"{OPEN311_KEY}:test-client")
    async with serve_in_process(cityloop_intake, service_settings) as served:
        yield served


@pytest.fixture
def report_of(intake: Served) -> ReportOf:
    """``await report_of(case_id)``: intake's record of the case (its ``reports`` row)."""
    _, runtime = intake

    async def load(case_id: UUID) -> Report | None:
        async with runtime.database.begin() as uow:
            found = await uow.states(reports, Report).load([case_id])
        return found.get(case_id)

    return load


@pytest.fixture
def applications(intake: Served) -> Applications:
    """``await applications(case_id)``: what intake applied to the case, in order (its
    ``tracking`` rows: the events it received and the ones it emitted)."""
    _, runtime = intake

    async def history(case_id: UUID) -> list[Applied]:
        async with runtime.database.begin() as uow:
            applied = await uow.tracker.history()
        return [entry for entry in applied if entry.case_id == case_id]

    return history


@pytest.fixture
def caught_up(intake: Served) -> CaughtUp:
    """``await caught_up()``: until intake's consumer has read to the end of the topics it
    reads (:func:`cityloop_deploy.site_fixtures.read_to_the_end`)."""
    _, runtime = intake
    return functools.partial(read_to_the_end, runtime)
