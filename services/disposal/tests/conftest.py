"""The disposal service in this test's process, on the real broker and database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

import cityloop_disposal
from cityloop_disposal.app import create_app
from cityloop_shared.contract.topics import Stage
from cityloop_shared.service.migrations import upgrade
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.settings import ServiceSettings

MIGRATIONS = Path(cityloop_disposal.__file__).parent / "migrations"


@pytest_asyncio.fixture
async def disposal(
    service_settings: ServiceSettings,
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    assert service_settings.database.schema_name
    upgrade(service_settings.database, service_settings.database.schema_name, MIGRATIONS)
    app = create_app(service_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://disposal") as client:
            yield client, app.state.runtime
    assert Stage.DISPOSAL.value in app.title
