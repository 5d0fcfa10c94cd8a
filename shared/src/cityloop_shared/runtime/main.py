"""Starting a service process: configure logs, migrate its schema, serve HTTP and Kafka."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import uvicorn
from fastapi import FastAPI

from cityloop_shared.logging import configure_logging
from cityloop_shared.runtime.app import service_app
from cityloop_shared.runtime.built_in import BuiltInSettings
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.settings import ServiceSettings


def refusing_built_in(program: str, build: Callable[[], FastAPI]) -> FastAPI:
    """``build()``'s app, or the process ends naming every built-in setting it refused."""
    try:
        return build()
    except BuiltInSettings as refused:
        raise SystemExit(f"{program}: {refused}") from None


def serve(
    service: StageService[Any], create_app: Callable[[ServiceSettings], FastAPI] | None = None
) -> None:
    """Migrate the service's schema, then serve its app (``create_app``'s, when the service
    adds to the one :func:`service_app` makes)."""
    settings = ServiceSettings()
    configure_logging(settings.log_format, settings.log_level)
    stage = service.rules.topology.stage
    app = refusing_built_in(
        f"cityloop-{stage.value}", lambda: (create_app or partial(service_app, service))(settings)
    )
    upgrade(settings.database, settings.database.schema_of(stage), service.migrations)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        # Longer than clients' and proxies' idle pools, so a reused connection is not
        # closed under a request in flight.
        timeout_keep_alive=75,
    )
