"""The intake service (信息采集) as one process: reports, Open311, case queries, Kafka consumer."""

from __future__ import annotations

from fastapi import FastAPI

from cityloop_intake.commands import router
from cityloop_intake.open311.router import open311_state
from cityloop_intake.open311.router import router as open311_router
from cityloop_intake.open311.settings import Open311Settings
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.topics import Stage
from cityloop_shared.service.app import service_app
from cityloop_shared.service.consumer import subscribe
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.store.ledger import Ledger


async def fold_only(ledger: Ledger, event: CaseEvent) -> None:
    """Intake reacts to no other stage: as the first stage it starts no step after another.

    It still consumes every topic of its site, because the kit folds each event into the
    case projection before this runs: that is how intake knows whether a report's case is
    open (for duplicates) and what became of a public request (for Open311).
    """


def create_app(settings: ServiceSettings) -> FastAPI:
    runtime = ServiceRuntime(Stage.INTAKE, settings)
    subscribe(runtime, fold_only)
    app = service_app(runtime, [router, open311_router])
    app.state.open311 = open311_state(Open311Settings(), runtime.reference.calendar.zone)
    return app
