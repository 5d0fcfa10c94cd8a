"""The intake service (信息采集) as one process: reports, Open311, Kafka consumer."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cityloop_intake.api import router
from cityloop_intake.open311.router import open311_state
from cityloop_intake.open311.router import router as open311_router
from cityloop_intake.open311.settings import Open311Settings
from cityloop_intake.state import Report, evolve
from cityloop_intake.store import reports
from cityloop_intake.topology import TOPOLOGY
from cityloop_shared.runtime.app import service_app
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.stage.rules import StageRules

RULES = StageRules(topology=TOPOLOGY, record=Report, evolve=evolve)
SERVICE = StageService(
    rules=RULES,
    table=reports,
    migrations=Path(__file__).parent / "migrations",
    routers=[router, open311_router],
)


def create_app(settings: ServiceSettings) -> FastAPI:
    open311 = Open311Settings()
    app = service_app(SERVICE, settings, built_in=open311.built_in())
    app.state.open311 = open311_state(open311, app.state.runtime.reference.calendar.zone)
    return app
