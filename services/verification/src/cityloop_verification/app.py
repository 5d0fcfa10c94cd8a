"""The verification service (核查结案) in one process: HTTP commands, the check list, Kafka
consumer, clock scan."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.dispatch import FeedbackForwarded
from cityloop_shared.logging import event_log_context, get_logger
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.app import service_app
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.stage.decisions import Draft
from cityloop_shared.stage.rules import StageRules
from cityloop_verification import decisions
from cityloop_verification.api import router
from cityloop_verification.state import CheckCase, evolve
from cityloop_verification.store import check_tasks
from cityloop_verification.topology import TOPOLOGY

log = get_logger(__name__)


def react(case: CheckCase, event: CaseEvent, reference: ReferenceData) -> Sequence[Draft]:
    """The stage's reaction, reported when forwarded feedback sends no supervisor: the case
    then waits at feedback_forwarded on no check list, until someone sees to its grid."""
    drafts = decisions.react(case, event, reference)
    if isinstance(event, FeedbackForwarded) and not drafts:
        log.warning("check.no_supervisor", grid_code=case.grid_code, **event_log_context(event))
    return drafts


RULES = StageRules(
    topology=TOPOLOGY,
    record=CheckCase,
    evolve=evolve,
    react=react,
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
