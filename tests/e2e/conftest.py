"""Every workflow service of a site as its own process, on the real Kafka and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from cityloop_deploy.fleet import Fleet, FleetConfig
from cityloop_deploy.site_fixtures import TEST_SECRET

from .loop import Loop

SITE = "370212"


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
        extra_env={
            "CITYLOOP_AUTH_SECRET": TEST_SECRET,
            "CITYLOOP_CLOCK_SCAN_SECONDS": "0.3",
            "CITYLOOP_LOG_FORMAT": "json",
        },
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
def loop(fleet: Fleet, postgres_url: str) -> Iterator[Loop]:
    with Loop(fleet, postgres_url) as driver:
        yield driver


def _print_failures(log_dir: Path) -> None:
    """Errors the services logged, so a failing run shows why without digging."""
    for log in sorted(log_dir.glob("*.log")):
        lines = [line for line in log.read_text(errors="replace").splitlines() if '"error"' in line]
        for line in lines[-5:]:
            print(f"{log.name}: {line}")
