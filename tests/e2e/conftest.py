"""Every workflow service of a site as its own process, on the real Kafka and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from cityloop_deploy.cluster_fixtures import SiteClusters
from cityloop_deploy.fleet import Fleet, FleetConfig
from cityloop_deploy.levels import Levels, SitePlan

from .loop import Loop

SITE = "370212"
SERVICE_ENV = {
    "CITYLOOP_MODE": "development",
    "CITYLOOP_CLOCK_SCAN_SECONDS": "0.3",
    "CITYLOOP_LOG_FORMAT": "json",
}
"""What every service of the tests' sites runs with: the sites' built-in keys (development
mode), a quick clock scan."""


@pytest.fixture(scope="module")
def fleet(
    kafka_bootstrap: str, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    namespace = f"e{uuid4().hex[:10]}"
    config = FleetConfig(
        site=SITE,
        kafka_bootstrap=kafka_bootstrap,
        database_url=postgres_url,
        log_dir=tmp_path_factory.mktemp("services"),
        base_port=18101 + (uuid4().int % 50) * 10,
        topic_namespace=namespace,
        schema_prefix=f"{namespace}_",
        extra_env=SERVICE_ENV,
    )
    fleet = Fleet(config)
    try:
        fleet.start()
        yield fleet
    finally:
        fleet.stop()
        _print_failures(config.log_dir)
        fleet.clear_away()


@pytest.fixture
def loop(fleet: Fleet) -> Iterator[Loop]:
    with Loop(fleet) as driver:
        yield driver


def _print_failures(log_dir: Path) -> None:
    """Errors the services logged, so a failing run shows why without digging."""
    for log in sorted(log_dir.glob("*.log")):
        lines = [line for line in log.read_text(errors="replace").splitlines() if '"error"' in line]
        for line in lines[-5:]:
            print(f"{log.name}: {line}")


CITY = "370200"
DISTRICTS = ("370212", "370202")


@pytest.fixture(scope="module")
def levels(
    site_clusters: SiteClusters, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Levels]:
    """Two districts and their city, each site on a Kafka cluster and a database of its own,
    every service its own process, the city's sync joining them."""
    namespace = f"e{uuid4().hex[:10]}"
    levels = Levels(
        city=SitePlan(CITY, site_clusters.bootstrap(CITY)),
        districts=[SitePlan(d, site_clusters.bootstrap(d)) for d in DISTRICTS],
        server_url=postgres_url,
        log_dir=tmp_path_factory.mktemp("sites"),
        base_port=19301 + (uuid4().int % 20) * 60,
        topic_namespace=namespace,
        schema_prefix=f"{namespace}_",
        extra_env=SERVICE_ENV,
        # Each site its own key, trusting the other level by the keys it publishes.
        key_dir=tmp_path_factory.mktemp("keys"),
    )
    try:
        levels.start()
        yield levels
    finally:
        levels.stop()
        for fleet in levels.fleets.values():
            _print_failures(fleet.config.log_dir)
        levels.clear_away()
