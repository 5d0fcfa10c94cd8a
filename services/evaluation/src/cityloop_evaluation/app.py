"""The evaluation service (综合评价) as one process: it follows every case topic its site
reads, judges each case from its whole history, and answers evaluation queries over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from cityloop_evaluation.analytics import AnalyticsFeed
from cityloop_evaluation.api import router
from cityloop_evaluation.config import load_config
from cityloop_evaluation.projector import Projector
from cityloop_evaluation.store import TIMELINE
from cityloop_evaluation.topology import TOPOLOGY
from cityloop_shared.adapters import open_database
from cityloop_shared.contract.sites import other_level
from cityloop_shared.contract.topics import Stage, analytics_topic
from cityloop_shared.identity.site import install_identity
from cityloop_shared.logging import get_logger
from cityloop_shared.messaging.asyncapi import asyncapi
from cityloop_shared.messaging.security import client_security
from cityloop_shared.messaging.topics import (
    ensure_site_topics,
    ensure_topics,
    event_topic_config,
)
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.app import answer_refusal
from cityloop_shared.runtime.built_in import refuse_built_in
from cityloop_shared.runtime.metrics import (
    ServiceMetrics,
    database_answers,
    install_operations,
    task_running,
    watch_partition_lag,
)
from cityloop_shared.runtime.timeline import TimelineFollower
from cityloop_shared.runtime.unavailable import answer_faults
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.stage.decisions import Refused

MIGRATIONS = Path(__file__).parent / "migrations"

log = get_logger("cityloop.evaluation")


def create_app(settings: ServiceSettings) -> FastAPI:
    refuse_built_in(settings)
    reference = (
        ReferenceData.load(settings.reference_dir)
        if settings.reference_dir
        else ReferenceData.demo()
    )
    config = load_config(settings.reference_dir)
    schema = settings.database.schema_of(Stage.EVALUATION)
    database = open_database(settings.database, schema)
    sources = TOPOLOGY.sources(settings.site, settings.topic_namespace, settings.district_sites)
    security = client_security(settings.kafka)
    feed = AnalyticsFeed(
        settings.kafka.bootstrap_servers,
        analytics_topic(settings.site, settings.topic_namespace),
        security,
    )
    follower = TimelineFollower(
        database,
        settings.kafka.bootstrap_servers,
        sources,
        TIMELINE,
        Projector(reference),
        client_id=f"cityloop-evaluation-{settings.site}",
        pass_on=feed,
        security=security,
    )

    running: list[asyncio.Task[None]] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # What the follower reads must exist: the site's topics and the other level's, which
        # sync fills (the follower waits for a topic until it exists).
        for site in {settings.site, *other_level(settings.site, settings.district_sites)}:
            await ensure_site_topics(settings.kafka, site, settings.topic_namespace)
        await ensure_topics(settings.kafka, {feed.topic: event_topic_config(settings.kafka)})
        await feed.start()
        task = asyncio.create_task(follower.run(), name="evaluation")
        running.append(task)
        log.info("evaluation.started", site=settings.site, topics=len(sources))
        try:
            yield
        finally:
            running.clear()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await feed.stop()
            await database.dispose()

    app = FastAPI(title=f"CityLoop evaluation ({settings.site})", lifespan=lifespan)
    app.state.database = database
    app.state.reference = reference
    app.state.config = config
    app.state.site = settings.site
    app.state.follower = follower
    install_identity(app, settings, reference)
    app.add_exception_handler(Refused, answer_refusal)  # type: ignore[arg-type]
    answer_faults(app)
    app.include_router(router)
    metrics = ServiceMetrics()
    watch_partition_lag(
        metrics,
        "cityloop_follower_lag_records",
        "Records on a followed partition evaluation has not applied yet",
        follower.lag,
    )
    install_operations(
        app,
        metrics,
        [
            database_answers(database),
            task_running("follower", lambda: running[0] if running else None),
        ],
    )

    @app.get("/asyncapi.json", tags=["contract"])
    async def published_contract() -> dict[str, Any]:
        """What evaluation reads, with every message's schema (AsyncAPI 3)."""
        return asyncapi(TOPOLOGY)

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, Any]:
        calendar = reference.calendar
        coverage = calendar.coverage(datetime.now(calendar.zone).date())
        return {
            "stage": Stage.EVALUATION.value,
            "site": settings.site,
            "applied": follower.applied,
            "config": config.fingerprint(),
            "calendar": {**coverage.model_dump(), "complete": coverage.complete},
        }

    return app
