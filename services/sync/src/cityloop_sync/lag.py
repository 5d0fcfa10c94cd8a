"""How far behind the city is with each district: records not yet mirrored up, records
mirrored but not yet in the projection, and for how long the district has not been fully
visible; kept fresh in the background, served as Prometheus metrics (in the app's registry)
and over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Gauge

from cityloop_shared.logging import get_logger
from cityloop_shared.messaging.clients import RecordReader, record_reader
from cityloop_shared.messaging.security import ClientSecurity
from cityloop_shared.runtime.timeline import TimelineFollower
from cityloop_sync.mirror import Mirror

log = get_logger("cityloop.sync.lag")


@dataclass(frozen=True, slots=True)
class DistrictLag:
    district: str
    to_mirror: int
    """Events of the district not yet on the city's cluster."""
    to_project: int
    """Events on the city's cluster not yet in the projection."""
    seconds: float
    """Since when the district was last fully visible in the projection; 0 when it is."""
    down: int
    """The city's events not yet read for the district's cluster (its cases' among them)."""

    @property
    def behind(self) -> int:
        return self.to_mirror + self.to_project


class LagWatch:
    def __init__(
        self,
        city_bootstrap: str,
        up: Mapping[str, Mirror],
        down: Mapping[str, Mirror],
        follower: TimelineFollower,
        district_topics: Mapping[str, tuple[str, ...]],
        security: ClientSecurity,
        registry: CollectorRegistry,
    ) -> None:
        self.city_bootstrap = city_bootstrap
        self.security = security
        self.up = up
        self.down = down
        self.follower = follower
        self.district_topics = district_topics
        self.registry = registry
        self._records = Gauge(
            "cityloop_sync_lag_records",
            "Events of a district not yet visible in the city projection",
            ["district", "part"],
            registry=self.registry,
        )
        self._seconds = Gauge(
            "cityloop_sync_lag_seconds",
            "Seconds since a district was last fully visible in the city projection",
            ["district"],
            registry=self.registry,
        )
        self._visible_at: dict[str, datetime] = {}
        # A district not yet seen fully visible has been behind at least since the watch began.
        self._began = datetime.now(UTC)
        self.latest: dict[str, DistrictLag] = {}

    async def run(self, every_s: float) -> None:
        consumer = record_reader(self.city_bootstrap, self.security, client_id="cityloop-sync-lag")
        started = False
        while True:
            try:
                if not started:
                    await consumer.start()
                    started = True
                await self.refresh(consumer)
            except asyncio.CancelledError:
                if started:
                    await consumer.stop()
                raise
            except Exception:
                log.exception("lag.refresh_failed")
            await asyncio.sleep(every_s)

    async def refresh(self, consumer: RecordReader) -> None:
        now = datetime.now(UTC)
        read_to = dict(self.follower.read_to)
        for district, topics in self.district_topics.items():
            partitions = [tp for tp in read_to if tp.topic in topics]
            ends = await consumer.end_offsets(partitions) if partitions else {}
            to_project = sum(max(ends[tp] - read_to[tp], 0) for tp in partitions)
            up, down = self.up.get(district), self.down.get(district)
            to_mirror = sum(p.behind for p in up.lag()) if up is not None else 0
            ready = (up is None or up.ready) and bool(partitions)
            if ready and to_mirror == 0 and to_project == 0:
                self._visible_at[district] = now
            seconds = (now - self._visible_at.get(district, self._began)).total_seconds()
            if not ready:
                seconds = float("nan")
            lag = DistrictLag(
                district=district,
                to_mirror=to_mirror,
                to_project=to_project,
                seconds=seconds,
                down=sum(p.behind for p in down.lag()) if down is not None else 0,
            )
            self.latest[district] = lag
            self._records.labels(district, "mirror").set(lag.to_mirror)
            self._records.labels(district, "projection").set(lag.to_project)
            self._records.labels(district, "down").set(lag.down)
            self._seconds.labels(district).set(seconds)
