"""The Docker form of the two levels (deploy/compose.sites.yaml) runs what `cityloop-run`
runs (evaluation included): the same sites, services, ports, Kafka clusters, databases and
settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cityloop_deploy import clusters, levels
from cityloop_deploy.fleet import FleetConfig
from cityloop_deploy.paths import STACK_DIR_ENV, resolve_paths
from cityloop_deploy.run import DEMO_DISTRICTS
from cityloop_deploy.settings import StackSettings

REPO = Path(__file__).parents[2]
CITY = "370200"
SITES = [*DEMO_DISTRICTS, CITY]


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((REPO / "deploy" / "compose.sites.yaml").read_text())
    found: dict[str, Any] = compose["services"]
    return found


def test_every_site_runs_every_service_of_its_level(services: dict[str, Any]) -> None:
    expected = {
        f"{stage}-{site}"
        for site in SITES
        for stage in levels.site_services(site == CITY, with_evaluation=True)
    }
    assert {name for name in services if not name.startswith(("kafka", "postgres"))} == expected


@pytest.mark.parametrize("site", SITES)
def test_a_sites_services_have_the_launchers_addresses(
    services: dict[str, Any], site: str, tmp_path: Path
) -> None:
    paths = resolve_paths({STACK_DIR_ENV: str(tmp_path)}, repo_root=REPO)

    def kafka_of(site: str) -> str:
        found = clusters.site_cluster(StackSettings(), paths, site, clusters.DEFAULT_SITES)
        return found.bootstrap

    bootstrap = kafka_of(site)
    place = SITES.index(site)
    config = FleetConfig(
        site=site,
        kafka_bootstrap=bootstrap,
        database_url=f"postgresql+psycopg://cityloop:cityloop@127.0.0.1:15432/cityloop_{site}",
        log_dir=tmp_path,
        base_port=levels.BASE_PORT + place * levels.PORTS_PER_SITE,
    )
    for stage in levels.site_services(site == CITY, with_evaluation=True):
        service = services[f"{stage}-{site}"]
        env = service["environment"]
        assert service["command"] == ["python", "-m", f"cityloop_{stage}"]
        assert service["network_mode"] == "host"
        assert env["CITYLOOP_SITE"] == site
        assert env["CITYLOOP_KAFKA_BOOTSTRAP_SERVERS"] == bootstrap
        assert env["CITYLOOP_DATABASE_URL"] == config.database_url
        assert env["CITYLOOP_HTTP_PORT"] == str(config.port(stage))
        assert env["CITYLOOP_DATABASE_POOL_SIZE"] == str(levels.POOL_SIZE)
    if site == CITY:
        sync = services[f"sync-{site}"]["environment"]
        assert sync["CITYLOOP_DISTRICTS"] == ",".join(DEMO_DISTRICTS)
        assert sync["CITYLOOP_SYNC_CLUSTERS"] == ";".join(
            f"{d}={kafka_of(d)}" for d in DEMO_DISTRICTS
        )


def test_each_site_has_its_own_database() -> None:
    made = (REPO / "deploy" / "postgres-init" / "sites.sql").read_text()
    for site in SITES:
        assert f"CREATE DATABASE cityloop_{site} OWNER cityloop;" in made
