"""The sync service at a city site, in one process: a mirror link up from and one down to
each district's cluster, the city-level projection, its lag, and its HTTP queries.

Each part runs on its own and starts over on its own when a cluster goes away, so a district
that is down holds up only its own links: the others, and the projection, go on.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from cityloop_shared.adapters import open_database
from cityloop_shared.contract.sites import SiteLevel, site_level
from cityloop_shared.contract.topics import Stage, case_topics
from cityloop_shared.identity.site import install_identity
from cityloop_shared.messaging.asyncapi import mirror_asyncapi
from cityloop_shared.messaging.security import client_security
from cityloop_shared.messaging.topics import ensure_site_topics
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.app import answer_refusal
from cityloop_shared.runtime.built_in import refuse_built_in
from cityloop_shared.runtime.metrics import (
    ServiceMetrics,
    database_answers,
    install_operations,
    watch_partition_lag,
)
from cityloop_shared.runtime.unavailable import answer_faults
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.stage.decisions import Refused
from cityloop_sync.follower import projection_follower
from cityloop_sync.lag import LagWatch
from cityloop_sync.links import down_link, up_link
from cityloop_sync.mirror import Mirror
from cityloop_sync.queries import router
from cityloop_sync.settings import SyncSettings

MIGRATIONS = Path(__file__).parent / "migrations"


class SyncService:
    """The moving parts of one sync process, built from its settings."""

    def __init__(self, settings: ServiceSettings, sync: SyncSettings) -> None:
        if site_level(settings.site) is not SiteLevel.CITY:
            raise ValueError(f"sync runs at a city site; {settings.site} is a district")
        if not settings.district_sites:
            raise ValueError("CITYLOOP_DISTRICTS names no district for the city to sync")
        self.settings = settings
        self.sync = sync
        self.site = settings.site
        namespace = settings.topic_namespace
        city_bootstrap = settings.kafka.bootstrap_servers
        # Sync's one principal, known to the city's cluster and to each district's.
        security = client_security(settings.kafka)
        self.schema = settings.database.schema_of(Stage.SYNC)
        self.database = open_database(settings.database, self.schema)
        self.up: dict[str, Mirror] = {}
        self.down: dict[str, Mirror] = {}
        for district in settings.district_sites:
            bootstrap = sync.bootstrap_of(district, city_bootstrap)
            if bootstrap == city_bootstrap:
                continue  # one cluster for both (per-site topics): nothing to mirror
            self.up[district] = Mirror(
                up_link(district, bootstrap, self.site, city_bootstrap, namespace, security)
            )
            self.down[district] = Mirror(
                down_link(
                    district,
                    bootstrap,
                    self.site,
                    city_bootstrap,
                    namespace,
                    self.database,
                    security,
                )
            )
        district_topics = {d: case_topics(d, namespace) for d in settings.district_sites}
        followed = [t for topics in district_topics.values() for t in topics]
        self.follower = projection_follower(
            self.database, city_bootstrap, [*followed, *case_topics(self.site, namespace)], security
        )
        self.metrics = ServiceMetrics()
        self.lag = LagWatch(
            city_bootstrap,
            self.up,
            self.down,
            self.follower,
            district_topics,
            security,
            self.metrics.registry,
        )
        watch_partition_lag(
            self.metrics,
            "cityloop_follower_lag_records",
            "Records on a followed partition the city projection has not applied yet",
            self.follower.lag,
        )
        self.tasks: list[asyncio.Task[None]] = []
        """The running parts, while the service runs."""

    async def parts(self) -> str | None:
        """Readiness: every part has started and none has stopped (each retries on its own)."""
        if not self.tasks:
            return "sync: not started"
        stopped = [task.get_name() for task in self.tasks if task.done()]
        return f"sync: stopped: {', '.join(stopped)}" if stopped else None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        for site in (self.site, *self.settings.district_sites):
            # What the projection reads on the city's cluster: the city's topics, and the
            # districts' that the links fill (with the partitions their sources have).
            await ensure_site_topics(self.settings.kafka, site, self.settings.topic_namespace)
        self.tasks = tasks = [
            asyncio.create_task(self.follower.run(), name="projection"),
            asyncio.create_task(self.lag.run(self.sync.lag_refresh_seconds), name="lag"),
            *(asyncio.create_task(m.run(), name=f"up {d}") for d, m in self.up.items()),
            *(asyncio.create_task(m.run(), name=f"down {d}") for d, m in self.down.items()),
        ]
        try:
            yield
        finally:
            self.tasks = []
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.database.dispose()


def create_app(settings: ServiceSettings, sync: SyncSettings | None = None) -> FastAPI:
    refuse_built_in(settings)
    service = SyncService(settings, sync or SyncSettings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with service.running():
            yield

    app = FastAPI(title=f"CityLoop sync ({service.site})", lifespan=lifespan)
    app.state.service = service
    app.state.database = service.database
    app.state.reference = (
        ReferenceData.load(settings.reference_dir)
        if settings.reference_dir
        else ReferenceData.demo()
    )
    install_identity(app, settings, app.state.reference)
    app.add_exception_handler(Refused, answer_refusal)  # type: ignore[arg-type]
    answer_faults(app)
    app.include_router(router)
    install_operations(app, service.metrics, [database_answers(service.database), service.parts])

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, Any]:
        """The districts the city follows, those on clusters of their own (mirrored to and
        from the city's), and whether every mirror has found where to resume."""
        return {
            "stage": Stage.SYNC.value,
            "site": service.site,
            "districts": list(settings.district_sites),
            "mirrored": list(service.up),
            "mirrors_ready": all(m.ready for m in [*service.up.values(), *service.down.values()]),
        }

    @app.get("/asyncapi.json", tags=["contract"])
    async def published_contract() -> dict[str, Any]:
        """What sync reads and mirrors (AsyncAPI 3)."""
        return mirror_asyncapi()

    @app.get("/lag", tags=["operations"])
    async def lag() -> dict[str, Any]:
        """Per district: events not yet mirrored up, not yet projected, since when it was last
        fully visible (seconds; null before the links have started), and the city's events
        not yet read for its cluster."""
        return {
            "site": service.site,
            "districts": {
                district: {
                    **asdict(found),
                    "seconds": None if math.isnan(found.seconds) else found.seconds,
                    "behind": found.behind,
                }
                for district, found in service.lag.latest.items()
            },
        }

    return app
