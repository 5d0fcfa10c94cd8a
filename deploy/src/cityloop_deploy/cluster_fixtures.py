"""The harness's site clusters: a Kafka cluster of its own for each site a test asks for.

Loaded by the harness plugin as the session fixture ``site_clusters``. Each site's broker comes
from the local launcher (`cityloop_deploy.clusters`), on the ports of the site's place in
`clusters.DEFAULT_SITES`, so a site has the same address whichever test asks for it first; a
site not in that list takes the next place after it. Like the main broker, the brokers keep
running after the session for the next one (`cityloop-stack down` stops them); a broker a
test stopped and did not start again is started again at the session's end.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest

from cityloop_deploy import clusters, localstack
from cityloop_deploy.service import StackError


class SiteClusters:
    """``bootstrap(site)``: the site's own broker, started on first use; ``stop(site)`` and
    ``start(site)``: a controlled shutdown keeping its data, and a start on that data that
    returns once the broker answers a metadata request."""

    def __init__(self, stack: localstack.Stack, report: Callable[[str], None]) -> None:
        self._stack = stack
        self._report = report
        self._order: tuple[str, ...] = clusters.DEFAULT_SITES
        self._ready: dict[str, str] = {}
        self._stopped: set[str] = set()
        self._reported: set[str] = set()

    def cluster(self, site: str) -> clusters.SiteCluster:
        """The site's cluster: its ports and its cluster id, started or not."""
        try:
            self._order = clusters.with_site(self._order, site)
            return clusters.site_cluster(self._stack.settings, self._stack.paths, site, self._order)
        except StackError as error:
            pytest.fail(f"no Kafka cluster for site {site!r}: {error}", pytrace=False)

    def bootstrap(self, site: str) -> str:
        """The site's bootstrap address, its broker started (by the launcher) if need be."""
        if site in self._ready:
            return self._ready[site]
        return self.start(site)

    def start(self, site: str) -> str:
        """Start the site's broker unless it runs; returns once it answers metadata."""
        cluster = self.cluster(site)
        try:
            address = localstack.start_site(self._stack, site, self._order)
        except StackError as error:
            pytest.fail(
                f"the launcher could not start Kafka for site {site}: {error}", pytrace=False
            )
        self._ready[site] = address
        self._stopped.discard(site)
        if site not in self._reported:
            self._reported.add(site)
            self._report(
                f"site cluster {site}: Apache Kafka "
                f"{localstack.launcher_kafka_version(self._stack) or 'unknown'} (launcher) at "
                f"{address}, cluster id {cluster.cluster_id}"
            )
        return address

    def stop(self, site: str) -> None:
        """A controlled shutdown of the site's broker; its data stays for `start`."""
        self.cluster(site)
        self._ready.pop(site, None)
        try:
            localstack.stop_site(self._stack, site)
        except StackError as error:
            pytest.fail(f"stopping Kafka of site {site} failed: {error}", pytrace=False)
        self._stopped.add(site)

    def restore(self) -> None:
        """Start again the brokers a test stopped and left stopped."""
        for site in sorted(self._stopped):
            try:
                localstack.start_site(self._stack, site, self._order)
            except StackError as error:
                warnings.warn(
                    f"Kafka of site {site} stays stopped: {error}", RuntimeWarning, stacklevel=1
                )
        self._stopped.clear()


def open_site_clusters(report: Callable[[str], None]) -> SiteClusters:
    try:
        stack = localstack.Stack.from_env()
    except StackError as error:
        pytest.fail(f"no site clusters for integration tests: {error}", pytrace=False)
    return SiteClusters(stack, report)
