"""Site clusters: a Kafka cluster of its own for each CityLoop site, beside the main broker.

Several sites (the city 370200, its districts 370212, 370202, ...) each run a single-node KRaft
cluster of their own on one machine, and share the stack's one PostgreSQL server. A site's
cluster keeps its data, logs, pid file and server.properties in `<stack_dir>/clusters/<site>/`
and runs the main broker's jars. Its ports come from its position in the list of sites it is
started with: cluster i (from 0) listens on base + 2i, its controller on base + 2i + 1, base
being 19192 (`CITYLOOP_STACK_SITE_KAFKA_BASE_PORT`).

A site's secured cluster (SASL/SCRAM logins and ACLs, `cityloop_deploy.kafka_acls`) is another
cluster of the site, kept in `<stack_dir>/secured/<site>/`, on ports from 19252
(`CITYLOOP_STACK_SECURED_KAFKA_BASE_PORT`) in the same way: the plain clusters the tests use
and the secured ones the run command uses never share data or ports.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cityloop_deploy.kafka import Broker, BrokerSecurity, formatted_cluster_id, read_properties
from cityloop_deploy.paths import KafkaPaths, StackPaths
from cityloop_deploy.settings import (
    SECURED_KAFKA_BASE_PORT_ENV,
    SITE_KAFKA_BASE_PORT_ENV,
    SettingsError,
    StackSettings,
)

SITE_KAFKA_BOOTSTRAP_ENV = "CITYLOOP_SITE_{site}_KAFKA_BOOTSTRAP_SERVERS"

# The order the test harness gives sites their ports in, whichever test asks first: the
# demo's districts, its city, then two more districts. Any other site comes after these.
DEFAULT_SITES = ("370212", "370202", "370200", "370203", "370213")

_SITE = re.compile(r"^\d{6}$")


def check_site(site: str) -> str:
    """`site` if it is a six-digit division code (it names a folder and a variable)."""
    if not _SITE.fullmatch(site):
        raise SettingsError(f"site {site!r} is not a 6-digit division code")
    return site


def cluster_id(site: str) -> str:
    """The KRaft cluster id of the site's cluster, the same on every machine: the URL-safe
    base64 of the first 16 bytes of the SHA-256 of `cityloop-<site>`, the form Kafka needs."""
    seed = f"cityloop-{check_site(site)}"
    while True:
        raw = hashlib.sha256(seed.encode()).digest()[:16]
        text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        # Like Kafka's own random ids, never one that its command line would take for an option.
        if not text.startswith("-"):
            return text
        seed += "#"


def cluster_home(paths: StackPaths, site: str, *, secured: bool = False) -> KafkaPaths:
    """The site cluster's own folder; its jars are the main broker's."""
    root = paths.secured_clusters if secured else paths.clusters
    return KafkaPaths(root / check_site(site), libs_dir=paths.kafka.libs)


@dataclass(frozen=True)
class SiteCluster:
    site: str
    host: str
    kafka_port: int
    kafka_controller_port: int
    cluster_id: str
    kafka: KafkaPaths
    security: BrokerSecurity | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def env_name(self) -> str:
        return SITE_KAFKA_BOOTSTRAP_ENV.format(site=self.site)

    @property
    def broker(self) -> Broker:
        secured = self.security is not None
        return Broker(
            name=f"kafka-{self.site}-secured" if secured else f"kafka-{self.site}",
            kafka=self.kafka,
            host=self.host,
            kafka_port=self.kafka_port,
            kafka_controller_port=self.kafka_controller_port,
            cluster_id=self.cluster_id,
            port_settings=SECURED_KAFKA_BASE_PORT_ENV if secured else SITE_KAFKA_BASE_PORT_ENV,
            security=self.security,
        )


def site_clusters(
    settings: StackSettings,
    paths: StackPaths,
    sites: Sequence[str],
    security: BrokerSecurity | None = None,
) -> list[SiteCluster]:
    """The clusters of `sites`, each with the ports of its position in the list; the
    secured ones when `security` is given."""
    secured = security is not None
    base_port = settings.secured_kafka_base_port if secured else settings.site_kafka_base_port
    base_setting = SECURED_KAFKA_BASE_PORT_ENV if secured else SITE_KAFKA_BASE_PORT_ENV
    for site in sites:
        check_site(site)
    if len(set(sites)) != len(sites):
        raise SettingsError(f"a site is named twice in {list(sites)}")
    taken = {settings.kafka_port, settings.kafka_controller_port, settings.postgres_port}
    clusters = []
    for index, site in enumerate(sites):
        port = base_port + 2 * index
        controller_port = port + 1
        if controller_port > 65535:
            raise SettingsError(
                f"site {site} would listen on {port} and {controller_port}, beyond 65535: "
                f"lower {base_setting}"
            )
        clash = taken & {port, controller_port}
        if clash:
            raise SettingsError(
                f"site {site} would listen on {sorted(clash)}, a port of the stack's own: "
                f"move {base_setting}"
            )
        clusters.append(
            SiteCluster(
                site=site,
                host=settings.host,
                kafka_port=port,
                kafka_controller_port=controller_port,
                cluster_id=cluster_id(site),
                kafka=cluster_home(paths, site, secured=secured),
                security=security,
            )
        )
    return clusters


def site_cluster(
    settings: StackSettings,
    paths: StackPaths,
    site: str,
    sites: Sequence[str],
    security: BrokerSecurity | None = None,
) -> SiteCluster:
    """The cluster of `site`, with the ports of its position in `sites`."""
    for cluster in site_clusters(settings, paths, sites, security):
        if cluster.site == site:
            return cluster
    raise SettingsError(f"site {site!r} is not among the sites {list(sites)}")


def with_site(order: Sequence[str], site: str) -> tuple[str, ...]:
    """`order`, with `site` at its end unless it is in it already: a site keeps its index,
    and so its ports, however many sites are added after it."""
    check_site(site)
    return tuple(order) if site in order else (*order, site)


def parse_sites(text: str) -> list[str]:
    """`370212,370202,370200` as a list, every code checked."""
    sites = [part.strip() for part in text.split(",") if part.strip()]
    if not sites:
        raise SettingsError(f"no site in {text!r}")
    for site in sites:
        check_site(site)
    if len(set(sites)) != len(sites):
        raise SettingsError(f"a site is named twice in {text!r}")
    return sites


def found_sites(paths: StackPaths, *, secured: bool = False) -> list[str]:
    """The sites with a cluster folder in this stack (a secured one's when `secured`),
    started now or before."""
    root = paths.secured_clusters if secured else paths.clusters
    if not root.is_dir():
        return []
    return sorted(
        entry.name for entry in root.iterdir() if entry.is_dir() and _SITE.fullmatch(entry.name)
    )


def _listener_addresses(listeners: str) -> dict[str, tuple[str, int]]:
    addresses = {}
    for listener in listeners.split(","):
        name, _, address = listener.strip().partition("://")
        host, _, port = address.rpartition(":")
        if port.isdigit():
            addresses[name] = (host, int(port))
    return addresses


def found_cluster(
    paths: StackPaths, site: str, security: BrokerSecurity | None = None
) -> SiteCluster | None:
    """The site's cluster (its secured one when `security` is given) as it last started: its
    ports from the server.properties it ran with, whatever list of sites it was started in;
    None when it never started."""
    kafka = cluster_home(paths, site, secured=security is not None)
    addresses = _listener_addresses(read_properties(kafka.server_properties).get("listeners", ""))
    client = "PLAINTEXT" if security is None else "SASL_PLAINTEXT"
    if client not in addresses or "CONTROLLER" not in addresses:
        return None
    host, port = addresses[client]
    return SiteCluster(
        site=site,
        host=host,
        kafka_port=port,
        kafka_controller_port=addresses["CONTROLLER"][1],
        cluster_id=formatted_cluster_id(kafka) or cluster_id(site),
        kafka=kafka,
        security=security,
    )


def env_lines(bootstraps: Iterable[tuple[str, str]], *, export: bool = False) -> list[str]:
    """`CITYLOOP_SITE_<site>_KAFKA_BOOTSTRAP_SERVERS=host:port` for each (site, bootstrap)."""
    prefix = "export " if export else ""
    return [
        f"{prefix}{SITE_KAFKA_BOOTSTRAP_ENV.format(site=site)}={shlex.quote(bootstrap)}"
        for site, bootstrap in bootstraps
    ]
