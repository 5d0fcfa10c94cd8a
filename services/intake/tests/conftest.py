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
OTHER_OPEN311_KEY = "x2m8r4-test"

Served = tuple[httpx.AsyncClient, ServiceRuntime]
ReportOf = Callable[[UUID], Awaitable[Report | None]]
Applications = Callable[[UUID], Awaitable[list[Applied]]]
CaughtUp = Callable[[], Awaitable[None]]


@pytest.fixture
def open311_key() -> str:
    """An Open311 API key of the test site, owned by ``test-client``."""
    return OPEN311_KEY


@pytest.fixture
def other_open311_key() -> str:
    """The test site's other Open311 API key, owned by ``other-client``."""
    return OTHER_OPEN311_KEY


@pytest.fixture
def open311_environment() -> dict[str, str]:
    """``CITYLOOP_OPEN311_*`` settings the test's intake starts with besides its keys: a
    test parametrizes this to start it otherwise."""
    return {}


@pytest_asyncio.fixture
async def intake(
    service_settings: ServiceSettings,
    monkeypatch: pytest.MonkeyPatch,
    open311_environment: dict[str, str],
) -> AsyncIterator[Served]:
    monkeypatch.setenv(
        "CITYLOOP_OPEN311_API_KEYS",
        f"{OPEN311_KEY}:test-client,{OTHER_OPEN311_KEY}:other-client",
    )
    for name, value in open311_environment.items():
        monkeypatch.setenv(name, value)
    async with serve_in_process(cityloop_intake, service_settings) as served:
        yield served


@pytest_asyncio.fixture
async def from_address(intake: Served) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """``from_address("203.0.113.7")``: a client of the test's intake that connects from that
    address (the test's own client connects from 127.0.0.1); closed with the test."""
    client, _ = intake
    # The app behind the test's client: serve_in_process hands out the client alone.
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    opened: list[httpx.AsyncClient] = []

    def connect(address: str) -> httpx.AsyncClient:
        other = httpx.ASGITransport(app=transport.app, client=(address, 40000))
        opened.append(httpx.AsyncClient(transport=other, base_url=client.base_url))
        return opened[-1]

    yield connect
    for other in opened:
        await other.aclose()


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
