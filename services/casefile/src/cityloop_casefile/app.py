"""The casefile service (案卷建立) as one process: HTTP commands, the site's case queries,
Kafka consumer, clock scan."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cityloop_casefile import decisions, queries
from cityloop_casefile.api import router
from cityloop_casefile.state import CaseFile, evolve
from cityloop_casefile.store import cases, record_timeline
from cityloop_casefile.topology import TOPOLOGY
from cityloop_shared.runtime.app import service_app
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.stage.rules import StageRules

RULES = StageRules(topology=TOPOLOGY, record=CaseFile, evolve=evolve, time=decisions.time)
SERVICE = StageService(
    rules=RULES,
    table=cases,
    migrations=Path(__file__).parent / "migrations",
    routers=[queries.router, router],
    project=record_timeline,
)


def create_app(settings: ServiceSettings) -> FastAPI:
    return service_app(SERVICE, settings)
