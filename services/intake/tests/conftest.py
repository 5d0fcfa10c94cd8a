"""The intake service in this test's process, on the real broker and database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

import cityloop_intake
from cityloop_intake.app import create_app
from cityloop_shared.contract.topics import Stage
from cityloop_shared.service.migrations import upgrade
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.settings import ServiceSettings

MIGRATIONS = Path(cityloop_intake.__file__).parent / "migrations"
OPEN311_KEY = "k7f3q9-test"


@pytest.fixture
def open311_key() -> str:
    """The one Open311 API key of the test site, owned by ``test-client``."""
    return OPEN311_KEY


@pytest_asyncio.fixture
async def intake(
    service_settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    assert service_settings.database.schema_name
    monkeypatch.setenv("CITYLOOP_OPEN311_API_KEYS", f"{OPEN311_KEY}:test-client")
    upgrade(service_settings.database, service_settings.database.schema_name, MIGRATIONS)
    app = create_app(service_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client, app.state.runtime
    assert Stage.INTAKE.value in app.title
