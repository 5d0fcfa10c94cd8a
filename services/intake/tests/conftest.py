"""The intake service in this test's process, on the real broker and database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

import cityloop_intake
from cityloop_deploy.site_fixtures import serve_in_process
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.settings import ServiceSettings

OPEN311_KEY = "k7f3q9-test"


@pytest.fixture
def open311_key() -> str:
    """The one Open311 API key of the test site, owned by ``test-client``."""
    return OPEN311_KEY


@pytest_asyncio.fixture
async def intake(
    service_settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    monkeypatch.setenv("CITYLOOP_OPEN311_API_KEYS", f"{OPEN311_KEY}:test-client")
    async with serve_in_process(cityloop_intake, service_settings) as served:
        yield served
