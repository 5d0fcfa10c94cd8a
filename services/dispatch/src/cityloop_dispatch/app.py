"""The dispatch service (任务派遣) as one process: HTTP commands, case queries, Kafka consumer."""

from __future__ import annotations

from fastapi import FastAPI

from cityloop_dispatch.commands import router
from cityloop_dispatch.reactions import reactions
from cityloop_shared.contract.topics import Stage
from cityloop_shared.service.app import service_app
from cityloop_shared.service.consumer import subscribe
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.service.timers import scan_clocks
from cityloop_shared.settings import ServiceSettings


def create_app(settings: ServiceSettings) -> FastAPI:
    runtime = ServiceRuntime(Stage.DISPATCH, settings)
    subscribe(runtime, reactions(runtime))
    runtime.every(settings.clock_scan_seconds, scan_clocks)
    return service_app(runtime, [router])
