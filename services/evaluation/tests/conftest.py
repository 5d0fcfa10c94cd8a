"""The evaluation service in this test's process, on the real broker and database, and a
fixed event log to feed it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from cityloop_deploy.site_fixtures import UpstreamStage
from cityloop_evaluation.app import MIGRATIONS, create_app
from cityloop_evaluation.config import EvaluationConfig
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.topics import Stage
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.runtime.timeline import TimelineFollower
from cityloop_shared.settings import ServiceSettings

Served = tuple[httpx.AsyncClient, TimelineFollower]


@pytest.fixture
def evaluation() -> Callable[..., contextlib.AbstractAsyncContextManager[Served]]:
    """``async with evaluation(settings, config) as (client, follower)``."""
    return _evaluation


@contextlib.asynccontextmanager
async def _evaluation(
    settings: ServiceSettings, config: EvaluationConfig | None = None
) -> AsyncIterator[Served]:
    """The service migrated and following the site's topics; ``config`` in force if given."""
    assert settings.database.schema_name
    upgrade(settings.database, settings.database.schema_name, MIGRATIONS)
    app = create_app(settings)
    if config is not None:
        app.state.config = config
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://evaluation") as client:
            yield client, app.state.follower


@pytest.fixture
def publish(upstream: Callable[[Stage], UpstreamStage]) -> Callable[..., object]:
    """``await publish(events)``: each event on the topic of the stage that emits it."""

    async def send(events: list[CaseEvent]) -> None:
        for event in events:
            await upstream(next(iter(type(event).emitted_by))).publish(event)

    return send
