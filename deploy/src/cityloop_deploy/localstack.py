"""The local stack as a whole: Apache Kafka and PostgreSQL up, down and asked how they are,
and the Kafka clusters of the sites that run one of their own (`cityloop_deploy.clusters`),
plain or secured (`cityloop_deploy.kafka_acls`)."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cityloop_deploy import clusters, kafka, kafka_acls, postgres
from cityloop_deploy.kafka_logins import KafkaLogins
from cityloop_deploy.paths import StackPaths, resolve_paths
from cityloop_deploy.probe import ClusterProbe
from cityloop_deploy.service import ServiceStatus, StackError
from cityloop_deploy.settings import StackSettings
from cityloop_shared.contract.sites import city_of


@dataclass(frozen=True)
class Stack:
    settings: StackSettings
    paths: StackPaths

    @classmethod
    def from_env(cls) -> Stack:
        return cls(settings=StackSettings.from_env(), paths=resolve_paths())


@dataclass(frozen=True)
class StackReport:
    kafka_version: str
    kafka_probe: ClusterProbe
    postgres_version: str


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    # Two test runs (or a test run and a shell) starting the stack at once must not both
    # launch a broker on the same data directory.
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _launcher_lock(stack: Stack) -> contextlib.AbstractContextManager[None]:
    return _exclusive(stack.paths.stack_dir / "launcher.lock")


def up_kafka(stack: Stack) -> ClusterProbe:
    with _launcher_lock(stack):
        return kafka.start(kafka.main_broker(stack.settings, stack.paths), stack.paths)


def up_postgres(stack: Stack) -> str:
    with _launcher_lock(stack):
        return postgres.start(stack.settings, postgres.locate(stack.paths))


def _start_site_cluster(stack: Stack, cluster: clusters.SiteCluster) -> None:
    # Another list of sites gives another site the same ports: say so, rather than that a
    # stranger holds them.
    wanted = {cluster.kafka_port, cluster.kafka_controller_port}
    for other in _found_clusters(stack):
        if other.kafka.home == cluster.kafka.home or kafka.running_pid(other.kafka) is None:
            continue
        if wanted & {other.kafka_port, other.kafka_controller_port}:
            raise StackError(
                f"site {cluster.site} is to listen on {cluster.bootstrap}, where this stack's "
                f"{other.broker.name} runs, started in another list of sites: stop it with "
                "`cityloop-stack down`, or name the sites in the order they were started"
            )
    kafka.start(cluster.broker, stack.paths)


def _found_clusters(stack: Stack) -> list[clusters.SiteCluster]:
    """Every site cluster this stack has started before, plain and secured."""
    paths = stack.paths
    found = [clusters.found_cluster(paths, site) for site in clusters.found_sites(paths)]
    logins = KafkaLogins.found(paths)
    if logins is not None:
        security = logins.broker_security()
        found += [
            clusters.found_cluster(paths, site, security)
            for site in clusters.found_sites(paths, secured=True)
        ]
    return [cluster for cluster in found if cluster is not None]


def up_sites(stack: Stack, sites: Sequence[str], *, secured: bool = False) -> dict[str, str]:
    """PostgreSQL, and a Kafka cluster for each of `sites`; a no-op for what already runs.
    Returns each site's bootstrap address. A site's ports are those of its place in
    `clusters.DEFAULT_SITES` (the test harness's too), other sites following in the order
    given.

    `secured`: the sites' secured clusters, which let in only SASL/SCRAM logins and allow
    each service's principal what its topology needs and nothing more: their logins, topics
    and ACLs are made (again) at every start, those of a city for the districts among
    `sites`."""
    order: tuple[str, ...] = clusters.DEFAULT_SITES
    for site in sites:
        order = clusters.with_site(order, site)
    logins = KafkaLogins.of_stack(stack.paths) if secured else None
    security = logins.broker_security() if logins is not None else None
    chosen = [
        clusters.site_cluster(stack.settings, stack.paths, site, order, security) for site in sites
    ]
    up_postgres(stack)
    with _launcher_lock(stack):
        for cluster in chosen:
            _start_site_cluster(stack, cluster)
            if logins is not None:
                districts = [s for s in sites if s != cluster.site and city_of(s) == cluster.site]
                plan = kafka_acls.cluster_plan(cluster.site, districts)
                kafka_acls.provision(cluster.bootstrap, logins, plan)
    return {cluster.site: cluster.bootstrap for cluster in chosen}


def start_site(stack: Stack, site: str, sites: Sequence[str]) -> str:
    """Start the Kafka cluster of `site` (its ports by its position in `sites`) unless it
    runs, on the data it kept; returns its bootstrap address once it answers metadata."""
    cluster = clusters.site_cluster(stack.settings, stack.paths, site, sites)
    with _launcher_lock(stack):
        _start_site_cluster(stack, cluster)
    return cluster.bootstrap


def stop_site(stack: Stack, site: str) -> bool:
    """Controlled shutdown of the site's Kafka cluster, keeping its data; True when it ran."""
    with _launcher_lock(stack):
        return kafka.stop(clusters.cluster_home(stack.paths, site))


def up(stack: Stack) -> StackReport:
    """Start what is not running and wait until both answer; a no-op for what already runs."""
    postgres_version = up_postgres(stack)
    probe = up_kafka(stack)
    return StackReport(
        kafka_version=launcher_kafka_version(stack) or "unknown",
        kafka_probe=probe,
        postgres_version=postgres_version,
    )


def down(stack: Stack) -> list[str]:
    """Stop every site's Kafka cluster and both servers, keeping their data; returns the names
    of those that were running."""
    stopped = []
    with _launcher_lock(stack):
        for site in clusters.found_sites(stack.paths):
            if kafka.stop(clusters.cluster_home(stack.paths, site)):
                stopped.append(f"kafka-{site}")
        for site in clusters.found_sites(stack.paths, secured=True):
            if kafka.stop(clusters.cluster_home(stack.paths, site, secured=True)):
                stopped.append(f"kafka-{site}-secured")
        if kafka.stop(stack.paths.kafka):
            stopped.append("kafka")
        if postgres.stop(postgres.locate(stack.paths)):
            stopped.append("postgres")
    return stopped


def status(stack: Stack) -> list[ServiceStatus]:
    """The main broker and PostgreSQL, then each site cluster this stack has started before
    (plain, then secured), at the address it last ran on."""
    return [
        kafka.status(kafka.main_broker(stack.settings, stack.paths)),
        postgres.status(stack.settings, postgres.locate(stack.paths)),
        *(kafka.status(cluster.broker) for cluster in _found_clusters(stack)),
    ]


def launcher_kafka_version(stack: Stack) -> str | None:
    """The Kafka version of the launcher's jars (the broker's version for test reports)."""
    return kafka.kafka_version(stack.paths.kafka.libs)
