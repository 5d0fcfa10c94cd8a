"""One process per service: its HTTP API and its Kafka consumer share a lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.responses import JSONResponse

from cityloop_shared.contract.lifecycle import IllegalTransition
from cityloop_shared.service.auth import TokenSigner
from cityloop_shared.service.queries import router as case_queries
from cityloop_shared.service.runtime import ServiceRuntime


def service_app(runtime: ServiceRuntime, routers: Iterable[APIRouter]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with runtime.running():
            yield

    app = FastAPI(
        title=f"CityLoop {runtime.stage.value} ({runtime.site})",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.token_signer = TokenSigner(
        runtime.settings.auth_secret.get_secret_value(),
        runtime.settings.auth_token_max_age_seconds,
    )
    app.add_exception_handler(IllegalTransition, _conflict)  # type: ignore[arg-type]
    app.include_router(case_queries)
    for router in routers:
        app.include_router(router)

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        return {"stage": runtime.stage.value, "site": runtime.site, "topic": runtime.topic}

    return app


async def _conflict(_: Request, error: IllegalTransition) -> JSONResponse:
    return JSONResponse(
        {
            "detail": str(error),
            "status": error.status.value if error.status else None,
            "event_type": error.event_type,
        },
        status_code=status.HTTP_409_CONFLICT,
    )
