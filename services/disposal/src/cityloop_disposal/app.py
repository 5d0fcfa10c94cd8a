"""The disposal service (任务处理 + 处理反馈) as one process: HTTP commands, task lists, Kafka
consumer. The disposal clock belongs to dispatch, which sets and moves the deadline; this
service keeps no clocks of its own."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cityloop_disposal.api import router
from cityloop_disposal.state import DisposalCase, evolve
from cityloop_disposal.store import disposal_cases, list_task
from cityloop_disposal.topology import TOPOLOGY
from cityloop_shared.runtime.app import service_app
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.stage.rules import StageRules

RULES = StageRules(topology=TOPOLOGY, record=DisposalCase, evolve=evolve)
SERVICE = StageService(
    rules=RULES,
    table=disposal_cases,
    migrations=Path(__file__).parent / "migrations",
    routers=[router],
    project=list_task,
)


def create_app(settings: ServiceSettings) -> FastAPI:
    return service_app(SERVICE, settings)
