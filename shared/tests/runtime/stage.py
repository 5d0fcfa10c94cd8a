"""A small stage to test the runtime with: it follows the case from registration to the
department's report and sends a check when the feedback is forwarded, as verification does."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import CaseRegistered, CaseVoided
from cityloop_shared.contract.events.dispatch import CaseDispatched, FeedbackForwarded
from cityloop_shared.contract.events.disposal import DisposalAccepted, DisposalCompleted
from cityloop_shared.contract.events.verification import (
    CaseClosed,
    CheckFailed,
    CheckPassed,
    CheckRequested,
    CheckRequestedPayload,
)
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.topology import Topology
from cityloop_shared.contract.values import CaseLevel, ClockStep
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.stage import clocks
from cityloop_shared.stage.decisions import Draft
from cityloop_shared.stage.rules import StageRules
from cityloop_shared.testing.contracts import Sample, samples

TOPOLOGY = Topology(
    stage=Stage.VERIFICATION,
    follows=frozenset(
        # Voiding can end a case at any step: a stage that did not follow it could never be
        # sure a decision of its own is still allowed.
        {
            CaseRegistered,
            CaseDispatched,
            DisposalAccepted,
            DisposalCompleted,
            FeedbackForwarded,
            CaseVoided,
        }
    ),
    emits=frozenset({CheckRequested, CheckPassed, CheckFailed, CaseClosed}),
    clocks=frozenset({ClockStep.CHECK}),
)
CHECK_LIMIT = timedelta(hours=1)


def evolve(case: Sample, event: CaseEvent) -> Sample | None:
    """The record's label is the last event applied; ``done`` once a check was sent. A city
    department's case is not taken up."""
    if isinstance(event, CaseRegistered) and event.payload.level is CaseLevel.CITY:
        return None
    if isinstance(event, CheckRequested):
        return dataclasses.replace(
            case, label=event.event_type, done=True, due_at=event.payload.due_at
        )
    return dataclasses.replace(case, label=event.event_type)


def react(case: Sample, event: CaseEvent, reference: ReferenceData) -> Sequence[Draft]:
    if isinstance(event, FeedbackForwarded):
        due_at = event.occurred_at + CHECK_LIMIT
        return [Draft(CheckRequested, CheckRequestedPayload(supervisor_id="sv-1", due_at=due_at))]
    return []


def time(case: Sample, event: CaseEvent, reference: ReferenceData) -> Sequence[clocks.ClockChange]:
    if isinstance(event, CheckRequested) and event.payload.due_at is not None:
        return [clocks.Start(ClockStep.CHECK, event.occurred_at, event.payload.due_at)]
    if isinstance(event, CheckPassed):
        return [clocks.Stop(ClockStep.CHECK, event.occurred_at)]
    return []


SERVICE = StageService(
    rules=StageRules(topology=TOPOLOGY, record=Sample, evolve=evolve, react=react, time=time),
    table=samples,
    migrations=Path(__file__).parent / "migrations",
)
