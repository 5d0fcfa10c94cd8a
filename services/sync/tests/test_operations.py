"""What the sync service tells its operators, on the real broker and database: ready once
its parts run, its districts' lag and its projection reader's lag among its metrics."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cityloop_deploy.site_fixtures import eventually
from cityloop_shared.contract.topics import case_topics
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.settings import ServiceSettings
from cityloop_sync.app import MIGRATIONS, create_app
from cityloop_sync.settings import SyncSettings

CITY = "370200"


async def test_ready_and_the_lags_of_the_city(service_settings: ServiceSettings) -> None:
    district = service_settings.site
    city = service_settings.model_copy(update={"site": CITY, "districts": district})
    assert city.database.schema_name
    upgrade(city.database, city.database.schema_name, MIGRATIONS)
    app = create_app(city, SyncSettings())
    followed = {
        *case_topics(district, city.topic_namespace),
        *case_topics(CITY, city.topic_namespace),
    }
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sync") as client:
            ready = await client.get("/ready")
            assert (ready.status_code, ready.json()) == (200, {"ready": True})

            async def families() -> dict[str, list[tuple[dict[str, str], float]]]:
                text = (await client.get("/metrics")).text
                return {
                    family.name: [(sample.labels, sample.value) for sample in family.samples]
                    for family in text_string_to_metric_families(text)
                }

            def complete(found: dict[str, list[tuple[dict[str, str], float]]]) -> bool:
                read = {labels["topic"] for labels, _ in found["cityloop_follower_lag_records"]}
                # The district is fully visible once its links have started and caught up.
                visible = ({"district": district}, 0.0) in found["cityloop_sync_lag_seconds"]
                return read == followed and visible

            found = await eventually(families, complete, within=30)
            assert all(behind == 0 for _, behind in found["cityloop_follower_lag_records"])
            parts = {labels["part"] for labels, _ in found["cityloop_sync_lag_records"]}
            assert parts == {"mirror", "projection", "down"}
            assert "cityloop_http_request_duration_seconds" in found


async def test_health_names_the_districts_followed_and_those_mirrored(
    service_settings: ServiceSettings,
) -> None:
    """A district on the city's own cluster (per-site topics) is followed but not mirrored."""
    district = service_settings.site
    other = "370202"
    city = service_settings.model_copy(update={"site": CITY, "districts": f"{district},{other}"})
    # Never reached: a health answer does not connect.
    app = create_app(city, SyncSettings(clusters=f"{other}=kafka-{other}.invalid:9092"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sync"
    ) as client:
        health = (await client.get("/health")).json()
    assert health["districts"] == [district, other]
    assert health["mirrored"] == [other]
