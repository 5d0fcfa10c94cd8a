"""The verification service (核查结案) in one process: HTTP commands, queries, Kafka consumer."""

from __future__ import annotations

from fastapi import FastAPI

from cityloop_shared.contract.topics import Stage
from cityloop_shared.service.app import service_app
from cityloop_shared.service.consumer import subscribe
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.service.timers import scan_clocks
from cityloop_shared.settings import ServiceSettings
from cityloop_verification.commands import router
from cityloop_verification.reactions import reactions


def create_app(settings: ServiceSettings) -> FastAPI:
    runtime = ServiceRuntime(Stage.VERIFICATION, settings)
    subscribe(runtime, reactions(runtime))
    runtime.every(settings.clock_scan_seconds, scan_clocks)
    return service_app(runtime, [router])
