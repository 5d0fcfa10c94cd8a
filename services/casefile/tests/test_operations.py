"""What the casefile service tells its operators, on the real broker and database: readiness,
and Prometheus metrics whose gauges read what the database and the consumer hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

import cityloop_casefile
from cityloop_casefile.app import create_app
from cityloop_deploy.site_fixtures import eventually
from cityloop_shared.adapters.sql.tables import clocks, journal
from cityloop_shared.contract import Stage, event_topic, new_id
from cityloop_shared.contract.values import ClockStep
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.settings import ServiceSettings

FAMILIES = {
    "cityloop_http_request_duration_seconds": "histogram",
    "cityloop_consumer_lag_records": "gauge",
    "cityloop_relay_backlog_events": "gauge",
    "cityloop_clocks_overdue": "gauge",
}


async def scrape(client: httpx.AsyncClient) -> dict[str, Metric]:
    answer = await client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(answer.text)}


def value(family: Metric, sample: str, **labels: str) -> float:
    found = [s.value for s in family.samples if s.name == sample and s.labels == labels]
    assert len(found) == 1, f"{sample}{labels} in {family.samples}"
    return found[0]


async def test_ready_and_every_metric_family_of_a_running_service(
    casefile: tuple[httpx.AsyncClient, ServiceRuntime], service_settings: ServiceSettings
) -> None:
    client, runtime = casefile
    ready = await client.get("/ready")
    assert (ready.status_code, ready.json()) == (200, {"ready": True})

    assert (await client.get("/health")).status_code == 200
    families = await scrape(client)
    assert {name: families[name].type for name in FAMILIES} == FAMILIES
    # The request shows up under its route's template, method and status.
    requests = families["cityloop_http_request_duration_seconds"]
    labels = {"method": "GET", "route": "/health", "status": "200"}
    assert value(requests, "cityloop_http_request_duration_seconds_count", **labels) == 1
    # A path no route takes is counted under one label, not its own.
    assert (await client.get(f"/nowhere/{new_id()}")).status_code == 404
    requests = (await scrape(client))["cityloop_http_request_duration_seconds"]
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(requests, "cityloop_http_request_duration_seconds_count", **unmatched) == 1

    # Of three clocks only the running one past its deadline is overdue.
    now = datetime.now(UTC)
    await add_clocks(runtime.database, now)
    families = await scrape(client)
    assert value(families["cityloop_clocks_overdue"], "cityloop_clocks_overdue") == 1
    assert value(families["cityloop_relay_backlog_events"], "cityloop_relay_backlog_events") == 0

    # Once its consumer group has its partitions, each followed partition has its lag.
    intake = event_topic(service_settings.site, Stage.INTAKE, service_settings.topic_namespace)

    async def intake_lag() -> list[float]:
        lag = (await scrape(client))["cityloop_consumer_lag_records"]
        return [s.value for s in lag.samples if s.labels["topic"] == intake]

    assert all(behind == 0 for behind in await eventually(intake_lag, bool, within=30))


async def test_a_service_not_started_is_not_ready_and_counts_what_it_has_not_published(
    service_settings: ServiceSettings,
) -> None:
    assert service_settings.database.schema_name
    migrations = Path(cityloop_casefile.__path__[0]) / "migrations"
    upgrade(service_settings.database, service_settings.database.schema_name, migrations)
    app = create_app(service_settings)
    runtime: ServiceRuntime = app.state.runtime
    try:
        await add_unpublished(runtime, 2)
        # No lifespan: the consumer has not started and no relay publishes.
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://casefile"
        ) as client:
            ready = await client.get("/ready")
            assert ready.status_code == 503
            assert ready.json() == {"ready": False, "reasons": ["consumer: not started"]}
            families = await scrape(client)
        backlog = value(families["cityloop_relay_backlog_events"], "cityloop_relay_backlog_events")
        assert backlog == 2
    finally:
        await runtime.database.dispose()


async def add_clocks(database: Database, now: datetime) -> None:
    def clock(deadline: datetime, stopped_at: datetime | None) -> dict[str, object]:
        return {
            "case_id": new_id(),
            "step": ClockStep.REGISTRATION.value,
            "started_at": now - timedelta(days=3),
            "deadline": deadline,
            "warn_at": deadline - timedelta(hours=1),
            "suspended_at": None,
            "stopped_at": stopped_at,
            "warned": False,
            "overdue": False,
        }

    past = now - timedelta(hours=2)
    async with database.begin() as uow:
        uow.insert(
            clocks,
            [clock(past, None), clock(past, now), clock(now + timedelta(days=1), None)],
        )


async def add_unpublished(runtime: ServiceRuntime, count: int) -> None:
    rows = [
        {
            "event_id": new_id(),
            "case_id": new_id(),
            "sequence": 1,
            "event_type": "case.registered",
            "event_hash": "0" * 64,
            "topic": runtime.topic,
            "body": "{}",
            "occurred_at": datetime.now(UTC),
            "published_at": None,
        }
        for _ in range(count)
    ]
    async with runtime.database.begin() as uow:
        uow.insert(journal, rows)
