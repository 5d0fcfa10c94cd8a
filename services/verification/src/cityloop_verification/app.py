"""The verification service (核查结案) in one process: HTTP commands, the check list, Kafka
consumer, clock scan."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cityloop_shared.runtime.app import service_app
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.stage.rules import StageRules
from cityloop_verification import decisions
from cityloop_verification.api import router
from cityloop_verification.state import CheckCase, evolve
from cityloop_verification.store import check_tasks
from cityloop_verification.topology import TOPOLOGY

RULES = StageRules(
    topology=TOPOLOGY,
    record=CheckCase,
    evolve=evolve,
    react=decisions.react,
    time=decisions.time,
)
SERVICE = StageService(
    rules=RULES,
    table=check_tasks,
    migrations=Path(__file__).parent / "migrations",
    routers=[router],
)


def create_app(settings: ServiceSettings) -> FastAPI:
    return service_app(SERVICE, settings)
