"""What every service tells its operators: ``/metrics`` in Prometheus's text format and
``/ready`` beside ``/health``.

Each app keeps its own registry, so several apps in one process never share a metric. Values
that live in the database or in a Kafka client (the relay backlog, clocks overdue, lags) are
read when Prometheus scrapes, not kept up to date between scrapes; a reading that fails is
logged and leaves the gauge at its last value, so a scrape always answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError
from fastapi import FastAPI, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import Select, func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityloop_shared.adapters.sql.tables import clocks, journal
from cityloop_shared.logging import get_logger
from cityloop_shared.ports.unit_of_work import Database

log = get_logger("cityloop.metrics")

Refresh = Callable[[], Awaitable[None]]
Check = Callable[[], Awaitable[str | None]]
"""A readiness check: None when ready, else why not."""

CHECK_SECONDS = 2.0
"""How long a readiness check or a scrape-time reading may take: a probe times out too."""
UNMATCHED = "unmatched"
"""The route label of a request no route took: paths that nobody routes must not each make
a time series of their own."""


class ServiceMetrics:
    """One app's registry, its request latencies, and the readings taken at each scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "cityloop_http_request_duration_seconds",
            "HTTP request latency by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._refreshes: list[tuple[str, Refresh]] = []

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(name, documentation, list(labels), registry=self.registry)

    def on_scrape(self, name: str, refresh: Refresh) -> None:
        self._refreshes.append((name, refresh))

    async def exposition(self) -> bytes:
        for name, refresh in self._refreshes:
            try:
                await asyncio.wait_for(refresh(), CHECK_SECONDS)
            except Exception:
                log.warning("metrics.reading_failed", reading=name, exc_info=True)
        return generate_latest(self.registry)


class _Timing:
    """Times every HTTP request by its route's template (``/cases/{case_id}``), not its path."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        answered = [status.HTTP_500_INTERNAL_SERVER_ERROR]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            self.metrics.requests.labels(scope["method"], route, str(answered[0])).observe(
                time.perf_counter() - began
            )


def install_operations(app: FastAPI, metrics: ServiceMetrics, checks: Sequence[Check]) -> None:
    """Time the app's requests, and serve ``/metrics`` and ``/ready`` (503 naming each check
    that fails)."""
    app.add_middleware(_Timing, metrics=metrics)

    @app.get("/metrics", tags=["operations"])
    async def prometheus_metrics() -> Response:
        """The service's metrics, in Prometheus's text format."""
        return Response(await metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/ready", tags=["operations"])
    async def ready() -> JSONResponse:
        """Whether the service can take work: its database answers and its consumer runs
        (liveness is ``/health``)."""
        reasons = [reason for reason in [await _checked(check) for check in checks] if reason]
        if reasons:
            return JSONResponse(
                {"ready": False, "reasons": reasons},
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return JSONResponse({"ready": True})


async def _checked(check: Check) -> str | None:
    try:
        return await asyncio.wait_for(check(), CHECK_SECONDS)
    except TimeoutError:
        return f"{check.__name__}: no answer within {CHECK_SECONDS}s"


def database_answers(store: Database) -> Check:
    # A check is named by its function in /ready's reasons, as "database: ...".
    async def database() -> str | None:
        try:
            async with store.reading() as reader:
                await reader.scalar(select(1))
        except Exception as error:
            # Anyone may ask /ready: the answer names the failure, the log says where.
            log.warning("ready.database_failed", exc_info=True)
            return f"database: {type(error).__name__}"
        return None

    return database


def watch_relay_backlog(metrics: ServiceMetrics, database: Database) -> None:
    """Events journaled and not yet published: the outbox the relay still has to send."""
    _watch_count(
        metrics,
        database,
        "relay_backlog",
        metrics.gauge(
            "cityloop_relay_backlog_events", "Journaled events the relay has not published yet"
        ),
        lambda: select(func.count()).select_from(journal).where(journal.c.published_at.is_(None)),
    )


def watch_clocks_overdue(metrics: ServiceMetrics, database: Database) -> None:
    """Running clocks past their deadline: steps late now (signalled or not), not yet done."""
    _watch_count(
        metrics,
        database,
        "clocks_overdue",
        metrics.gauge(
            "cityloop_clocks_overdue", "Running time-limit clocks whose deadline has passed"
        ),
        lambda: (
            select(func.count())
            .select_from(clocks)
            .where(
                clocks.c.stopped_at.is_(None),
                clocks.c.suspended_at.is_(None),
                clocks.c.deadline <= datetime.now(UTC),
            )
        ),
    )


def _watch_count(
    metrics: ServiceMetrics,
    database: Database,
    name: str,
    gauge: Gauge,
    query: Callable[[], Select[int]],
) -> None:
    """Sets ``gauge`` to the count ``query`` makes at each scrape (made then: it may read the
    time)."""

    async def read() -> None:
        async with database.reading() as reader:
            gauge.set(await reader.scalar(query()))

    metrics.on_scrape(name, read)


def task_running(name: str, task: Callable[[], asyncio.Task[None] | None]) -> Check:
    """Ready once the task has started, for as long as it runs (a reader that retries on
    its own is running; how far behind it is, its lag gauge tells)."""

    async def running() -> str | None:
        started = task()
        if started is None:
            return f"{name}: not started"
        if started.done():
            return f"{name}: stopped"
        return None

    return running


def watch_partition_lag(
    metrics: ServiceMetrics,
    name: str,
    documentation: str,
    lag: Callable[[], Awaitable[Mapping[TopicPartition, int]]],
) -> None:
    """A gauge per topic and partition, of records a reader has not read yet."""
    gauge = metrics.gauge(name, documentation, ["topic", "partition"])

    async def read() -> None:
        found = await lag()
        # A partition no longer assigned (a rebalance moved it) must not keep its last value.
        gauge.clear()
        for tp, behind in found.items():
            gauge.labels(tp.topic, str(tp.partition)).set(behind)

    metrics.on_scrape(name, read)


async def consumer_lag(consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
    """Per assigned partition: its end as of the consumer's last fetch, less where the
    consumer reads next. A partition not fetched yet is left out (its end is not known)."""
    lag: dict[TopicPartition, int] = {}
    for tp in consumer.assignment():
        end = consumer.highwater(tp)
        if end is None:
            continue
        try:
            position = await asyncio.wait_for(consumer.position(tp), CHECK_SECONDS / 4)
        except (TimeoutError, IllegalStateError):
            continue
        lag[tp] = max(end - position, 0)
    return lag
