"""Case building's HTTP surface: its commands, one line each, and the read registration
needs besides the case (the case queries are in :mod:`cityloop_casefile.queries`)."""

from __future__ import annotations

from fastapi import APIRouter

from cityloop_casefile import decisions
from cityloop_casefile.state import CaseFile
from cityloop_casefile.store import next_case_sequence
from cityloop_shared.contract.actors import Role
from cityloop_shared.runtime.commands import Commands
from cityloop_shared.runtime.transaction import StageTransaction

router = APIRouter(prefix="/cases", tags=["casefile"])
commands: Commands[CaseFile] = Commands(router)


async def numbered(
    transaction: StageTransaction[CaseFile], case: CaseFile, command: decisions.Register
) -> decisions.Registration:
    """The registration with the site's next case number of the day.

    Taking the number locks the day's row until the transaction ends, so the registration's
    own checks come first: a refused one neither reads nor holds up the registrations behind
    it. The decision checks them again, being whole without this.
    """
    decisions.registrable(case, command, transaction.view, transaction.reference)
    day = transaction.now.astimezone(transaction.reference.calendar.zone).date()
    return decisions.Registration(command, day, await next_case_sequence(transaction.uow, day))


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
commands.on_case(
    "/{case_id}/forwarding/accept",
    decisions.Remarks,
    roles=CHIEF,
    decide=decisions.accept_forwarding,
)
commands.on_case(
    "/{case_id}/forwarding/return",
    decisions.WithReason,
    roles=CHIEF,
    decide=decisions.return_forwarding,
)
