"""One process per service: its HTTP API and its Kafka consumer share a lifespan, and every
refusal is answered in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from cityloop_shared.contract.lifecycle import IllegalTransition
from cityloop_shared.identity.site import install_identity
from cityloop_shared.messaging.asyncapi import asyncapi
from cityloop_shared.runtime.built_in import refuse_built_in
from cityloop_shared.runtime.consumer import subscribe
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.runtime.metrics import (
    ServiceMetrics,
    database_answers,
    install_operations,
    watch_clocks_overdue,
    watch_partition_lag,
    watch_relay_backlog,
)
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.runtime.timers import scan_clocks
from cityloop_shared.runtime.unavailable import answer_faults
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.stage.decisions import Invalid, Refused


def service_app(
    service: StageService[Any], settings: ServiceSettings, built_in: Sequence[str] = ()
) -> FastAPI:
    """The service's app: its routers, its consumer, its clock scan if it watches a step;
    refused outside development mode with built-in settings (``built_in``: the service's own
    findings besides the shared ones)."""
    refuse_built_in(settings, *built_in)
    runtime = ServiceRuntime(service, settings)
    subscribe(runtime)
    if service.rules.topology.clocks:
        runtime.every(settings.clock_scan_seconds, scan_clocks)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with runtime.running():
            yield

    async def consumer() -> str | None:
        return None if runtime.consuming else "consumer: not started"

    app = FastAPI(title=f"CityLoop {runtime.stage.value} ({runtime.site})", lifespan=lifespan)
    app.state.runtime = runtime
    install_identity(app, settings, runtime.reference)
    app.add_exception_handler(IllegalTransition, _illegal)  # type: ignore[arg-type]
    app.add_exception_handler(Refused, answer_refusal)  # type: ignore[arg-type]
    answer_faults(app)
    for router in service.routers:
        app.include_router(router)
    install_operations(app, _metrics(runtime), [database_answers(runtime.database), consumer])

    @app.get("/asyncapi.json", tags=["contract"])
    async def published_contract() -> dict[str, Any]:
        """What the service publishes and reads, with every message's schema (AsyncAPI 3)."""
        return asyncapi(service.rules.topology)

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, Any]:
        """The service, and whether its calendar knows this year's and next year's official
        days (a deadline in a year it does not know counts Monday to Friday)."""
        coverage = runtime.calendar_coverage()
        return {
            "stage": runtime.stage.value,
            "site": runtime.site,
            "topic": runtime.topic,
            "calendar": {**coverage.model_dump(), "complete": coverage.complete},
        }

    return app


def _metrics(runtime: ServiceRuntime) -> ServiceMetrics:
    metrics = ServiceMetrics()
    watch_relay_backlog(metrics, runtime.database)
    watch_clocks_overdue(metrics, runtime.database)
    watch_partition_lag(
        metrics,
        "cityloop_consumer_lag_records",
        "Records on a followed partition the service's consumer has not read yet",
        runtime.consumer_lag,
    )
    return metrics


async def _illegal(_: Request, error: IllegalTransition) -> JSONResponse:
    return JSONResponse(
        {
            "detail": str(error),
            "status": error.status.value if error.status else None,
            "event_type": error.event_type,
        },
        status_code=status.HTTP_409_CONFLICT,
    )


async def answer_refusal(_: Request, error: Refused) -> JSONResponse:
    """A refused command or query as HTTP: 422 naming the field, or the refusal's status."""
    if isinstance(error, Invalid):
        detail: Any = [{"loc": list(error.loc), "msg": error.detail, "type": error.kind}]
    else:
        detail = error.detail
    return JSONResponse({"detail": detail}, status_code=error.status_code)
