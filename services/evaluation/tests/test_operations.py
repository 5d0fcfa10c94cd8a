"""What the evaluation service tells its operators, on the real broker and database: ready
once its reader runs, and how far behind that reader is on each partition it follows."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cityloop_deploy.site_fixtures import eventually
from cityloop_evaluation.topology import TOPOLOGY
from cityloop_shared.runtime.timeline import TimelineFollower
from cityloop_shared.settings import ServiceSettings

Served = tuple[httpx.AsyncClient, TimelineFollower]


async def test_ready_and_the_readers_lag_per_partition(
    evaluation: Callable[..., contextlib.AbstractAsyncContextManager[Served]],
    service_settings: ServiceSettings,
) -> None:
    followed = set(
        TOPOLOGY.sources(
            service_settings.site,
            service_settings.topic_namespace,
            service_settings.district_sites,
        )
    )
    async with evaluation(service_settings) as (client, _):
        ready = await client.get("/ready")
        assert (ready.status_code, ready.json()) == (200, {"ready": True})

        async def lag() -> dict[str, list[float]]:
            text = (await client.get("/metrics")).text
            families = {family.name: family for family in text_string_to_metric_families(text)}
            assert families["cityloop_http_request_duration_seconds"].type == "histogram"
            found: dict[str, list[float]] = {}
            for sample in families["cityloop_follower_lag_records"].samples:
                found.setdefault(sample.labels["topic"], []).append(sample.value)
            return found

        # Every followed topic, once fetched, is read to its end (nothing was published).
        read = await eventually(lag, lambda found: set(found) == followed, within=30)
        assert all(behind == 0 for values in read.values() for behind in values)
