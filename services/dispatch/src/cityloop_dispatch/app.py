"""The dispatch service (任务派遣) as one process: HTTP commands, work queue, Kafka consumer,
clock scan."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cityloop_dispatch import decisions
from cityloop_dispatch.api import router
from cityloop_dispatch.state import DispatchCase, evolve
from cityloop_dispatch.store import dispatch_cases
from cityloop_dispatch.topology import TOPOLOGY
from cityloop_shared.runtime.app import service_app
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.stage.rules import StageRules

RULES = StageRules(
    topology=TOPOLOGY,
    record=DispatchCase,
    evolve=evolve,
    react=decisions.react,
    time=decisions.time,
)
SERVICE = StageService(
    rules=RULES,
    table=dispatch_cases,
    migrations=Path(__file__).parent / "migrations",
    routers=[router],
)


def create_app(settings: ServiceSettings) -> FastAPI:
    return service_app(SERVICE, settings)
