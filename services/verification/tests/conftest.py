"""The verification service in this test's process, on the real broker and database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

import cityloop_verification
from cityloop_deploy.site_fixtures import serve_in_process
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.settings import ServiceSettings


@pytest_asyncio.fixture
async def verification(
    service_settings: ServiceSettings,
) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    async with serve_in_process(cityloop_verification, service_settings) as served:
        yield served
