"""A city and its districts on one machine, each site with its own Kafka cluster, database
and services, the city's sync service joining them: for the run command and the tests.

Each site is deployed as it would be on its own; the only thing the city is told of its
districts is their list and where their clusters are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import make_url

from cityloop_deploy.fleet import SITE_SERVICES, WORKFLOW_STAGES, Fleet, FleetConfig
from cityloop_deploy.identities import identity_env
from cityloop_deploy.kafka_logins import KafkaLogins
from cityloop_shared.adapters.postgres import libpq_url
from cityloop_shared.contract.sites import SiteLevel, site_level

BASE_PORT = 8101
PORTS_PER_SITE = 20
POOL_SIZE = 5
"""Connections each service keeps: the sites share one local PostgreSQL (200 connections)."""


def site_database(server_url: str, site: str) -> str:
    """The URL of the site's own database on the server, created if it is not there."""
    name = f"cityloop_{site}"
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@dataclass(frozen=True)
class SitePlan:
    site: str
    kafka_bootstrap: str


def site_services(is_city: bool, with_evaluation: bool) -> list[str]:
    """The services a site of the levels runs: the workflow stages, sync at the city, and
    evaluation when asked for."""
    return [
        *WORKFLOW_STAGES,
        *(["sync"] if is_city else []),
        *(["evaluation"] if with_evaluation else []),
    ]


@dataclass
class Levels:
    """The fleets of a city and its districts: districts first, then the city with sync."""

    city: SitePlan
    districts: Sequence[SitePlan]
    server_url: str
    log_dir: Path
    base_port: int = BASE_PORT
    topic_namespace: str | None = None
    schema_prefix: str = ""
    extra_env: Mapping[str, str] = field(default_factory=dict)
    with_evaluation: bool = False
    """Each site runs its evaluation service as well (综合评价): the run command's city does."""
    kafka_logins: KafkaLogins | None = None
    """Set when the sites' clusters are secured: each service logs in as its own principal."""
    key_dir: Path | None = None
    """Where each site's signing key is kept; unset, the sites run on their built-in
    development keys."""
    fleets: dict[str, Fleet] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if site_level(self.city.site) is not SiteLevel.CITY:
            raise ValueError(f"{self.city.site} is not a city site")
        plans = [*self.districts, self.city]
        casefile = SITE_SERVICES.index("casefile")
        published = {
            plan.site: f"http://127.0.0.1:{self._base_port(index) + casefile}"
            for index, plan in enumerate(plans)
        }
        for index, plan in enumerate(plans):
            is_city = plan is self.city
            env = {"CITYLOOP_DATABASE_POOL_SIZE": str(POOL_SIZE), **self.extra_env}
            if self.key_dir is not None:
                others = [d.site for d in self.districts] if is_city else [self.city.site]
                trusted = {other: published[other] for other in others}
                env |= identity_env(self.key_dir, plan.site, trusted)
            if is_city:
                env["CITYLOOP_DISTRICTS"] = ",".join(d.site for d in self.districts)
                env["CITYLOOP_SYNC_CLUSTERS"] = ";".join(
                    f"{d.site}={d.kafka_bootstrap}" for d in self.districts
                )
            config = FleetConfig(
                site=plan.site,
                kafka_bootstrap=plan.kafka_bootstrap,
                database_url=site_database(self.server_url, plan.site),
                log_dir=self.log_dir / plan.site,
                base_port=self._base_port(index),
                topic_namespace=self.topic_namespace,
                schema_prefix=self.schema_prefix,
                extra_env=env,
                kafka_logins=self.kafka_logins,
            )
            self.fleets[plan.site] = Fleet(config, site_services(is_city, self.with_evaluation))

    def _base_port(self, index: int) -> int:
        return self.base_port + index * PORTS_PER_SITE

    def __getitem__(self, site: str) -> Fleet:
        return self.fleets[site]

    def start(self) -> None:
        started: list[Fleet] = []
        try:
            for fleet in self.fleets.values():
                fleet.start()
                started.append(fleet)
        except Exception:
            for fleet in started:
                fleet.stop()
            raise

    def stop(self) -> None:
        for fleet in reversed(list(self.fleets.values())):
            fleet.stop()

    def clear_away(self) -> None:
        for fleet in self.fleets.values():
            fleet.clear_away()
