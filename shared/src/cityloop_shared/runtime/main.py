"""Starting a service process: configure logs, migrate its schema, serve HTTP and Kafka."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from cityloop_shared.contract.topics import Stage
from cityloop_shared.logging import configure_logging
from cityloop_shared.service.migrations import upgrade
from cityloop_shared.settings import ServiceSettings


def serve(stage: Stage, migrations: Path, create_app: Callable[[ServiceSettings], FastAPI]) -> None:
    settings = ServiceSettings()
    configure_logging(settings.log_format, settings.log_level)
    upgrade(settings.database, settings.database.schema_name or stage.value, migrations)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        # Longer than clients' and proxies' idle pools, so a reused connection is not
        # closed under a request in flight.
        timeout_keep_alive=75,
    )
