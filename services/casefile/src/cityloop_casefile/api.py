"""Case building's HTTP surface: its commands, one line each (the case queries are in
:mod:`cityloop_casefile.queries`)."""

from __future__ import annotations

from fastapi import APIRouter

from cityloop_casefile import decisions
from cityloop_casefile.state import CaseFile
from cityloop_casefile.store import numbered
from cityloop_shared.contract.actors import Role
from cityloop_shared.runtime.commands import Commands

router = APIRouter(prefix="/cases", tags=["casefile"])
commands: Commands[CaseFile] = Commands(router)

OPERATOR = {Role.ACCEPTANCE_OPERATOR}
CHIEF = {Role.DUTY_CHIEF}
CENTRE = {Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF, Role.DISPATCHER}

commands.on_case("/{case_id}/accept", decisions.Accept, roles=OPERATOR, decide=decisions.accept)
commands.on_case(
    "/{case_id}/verification/request",
    decisions.RequestVerification,
    roles=OPERATOR,
    decide=decisions.request_verification,
)
commands.on_case(
    "/{case_id}/verification/report",
    decisions.ReportVerification,
    roles={Role.FIELD_SUPERVISOR},
    decide=decisions.report_verification,
)
commands.on_case(
    "/{case_id}/register",
    decisions.Register,
    roles=CHIEF,
    decide=decisions.register,
    prepare=numbered,
)
commands.on_case("/{case_id}/cancel", decisions.WithReason, roles=CHIEF, decide=decisions.cancel)
commands.on_case(
    "/{case_id}/void-request", decisions.WithReason, roles=CENTRE, decide=decisions.request_voiding
)
commands.on_case(
    "/{case_id}/void-decision", decisions.VoidDecision, roles=CHIEF, decide=decisions.decide_voiding
)
commands.on_case(
    "/{case_id}/forward-to-city",
    decisions.WithReason,
    roles=CHIEF,
    decide=decisions.forward_to_city,
)
