"""The local stack as a whole: Apache Kafka and PostgreSQL up, down and asked how they are,
and the Kafka clusters of the sites that run one of their own (`cityloop_deploy.clusters`)."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cityloop_deploy import clusters, kafka, postgres
from cityloop_deploy.paths import StackPaths, resolve_paths
from cityloop_deploy.probe import ClusterProbe
from cityloop_deploy.service import ServiceStatus, StackError
from cityloop_deploy.settings import StackSettings


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
    for site in clusters.found_sites(stack.paths):
        other = clusters.found_cluster(stack.paths, site)
        if other is None or site == cluster.site or kafka.running_pid(other.kafka) is None:
            continue
        if wanted & {other.kafka_port, other.kafka_controller_port}:
            raise StackError(
                f"site {cluster.site} is to listen on {cluster.bootstrap}, where this stack's "
                f"Kafka of site {site} runs, started in another list of sites: stop it with "
                "`cityloop-stack down`, or name the sites in the order they were started"
            )
    kafka.start(cluster.broker, stack.paths)


def up_sites(stack: Stack, sites: Sequence[str]) -> dict[str, str]:
    """PostgreSQL, and a Kafka cluster for each of `sites`; a no-op for what already runs.
    Returns each site's bootstrap address. A site's ports are those of its place in
    `clusters.DEFAULT_SITES` (the test harness's too), other sites following in the order
    given."""
    order: tuple[str, ...] = clusters.DEFAULT_SITES
    for site in sites:
        order = clusters.with_site(order, site)
    chosen = [clusters.site_cluster(stack.settings, stack.paths, site, order) for site in sites]
    up_postgres(stack)
    with _launcher_lock(stack):
        for cluster in chosen:
            _start_site_cluster(stack, cluster)
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
        if kafka.stop(stack.paths.kafka):
            stopped.append("kafka")
        if postgres.stop(postgres.locate(stack.paths)):
            stopped.append("postgres")
    return stopped


def status(stack: Stack) -> list[ServiceStatus]:
    """The main broker and PostgreSQL, then each site cluster this stack has started before,
    at the address it last ran on."""
    sites = clusters.found_sites(stack.paths)
    found = (clusters.found_cluster(stack.paths, site) for site in sites)
    return [
        kafka.status(kafka.main_broker(stack.settings, stack.paths)),
        postgres.status(stack.settings, postgres.locate(stack.paths)),
        *(kafka.status(cluster.broker) for cluster in found if cluster is not None),
    ]


def launcher_kafka_version(stack: Stack) -> str | None:
    """The Kafka version of the launcher's jars (the broker's version for test reports)."""
    return kafka.kafka_version(stack.paths.kafka.libs)
