"""The command centre's HTTP surface: its commands, one line each, and its work queue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from cityloop_dispatch import decisions
from cityloop_dispatch.state import DispatchCase
from cityloop_dispatch.store import queue
from cityloop_shared.contract.actors import Role
from cityloop_shared.runtime.auth import CurrentActor, require_role, require_site
from cityloop_shared.runtime.commands import Commands, service_runtime

router = APIRouter(tags=["dispatch"])
commands: Commands[DispatchCase] = Commands(router)

DISPATCHER = {Role.DISPATCHER}
FOLLOW_UP = {Role.DISPATCHER, Role.UPPER_DEPARTMENT}

commands.on_case(
    "/cases/{case_id}/dispatch", decisions.Dispatch, roles=DISPATCHER, decide=decisions.dispatch
)
commands.on_case(
    "/cases/{case_id}/return/approve",
    decisions.WithReason,
    roles=DISPATCHER,
    decide=decisions.approve_return,
)
commands.on_case(
    "/cases/{case_id}/return/refuse",
    decisions.WithReason,
    roles=DISPATCHER,
    decide=decisions.refuse_return,
)
commands.on_case(
    "/cases/{case_id}/redispatch",
    decisions.Redispatch,
    roles=DISPATCHER,
    decide=decisions.redispatch,
)
commands.on_case(
    "/cases/{case_id}/extension/decide",
    decisions.ExtensionDecision,
    roles=DISPATCHER,
    decide=decisions.decide_extension,
)
commands.on_case(
    "/cases/{case_id}/suspension/approve",
    decisions.WithReason,
    roles=DISPATCHER,
    decide=decisions.approve_suspension,
)
commands.on_case(
    "/cases/{case_id}/suspension/refuse",
    decisions.WithReason,
    roles=DISPATCHER,
    decide=decisions.refuse_suspension,
)
commands.on_case(
    "/cases/{case_id}/resume", decisions.Resume, roles=DISPATCHER, decide=decisions.resume
)
commands.on_case(
    "/cases/{case_id}/reminders", decisions.FollowUp, roles=FOLLOW_UP, decide=decisions.remind
)
commands.on_case(
    "/cases/{case_id}/supervision", decisions.FollowUp, roles=FOLLOW_UP, decide=decisions.supervise
)


@router.get("/dispatch/queue")
async def dispatch_queue(actor: CurrentActor, request: Request) -> dict[str, Any]:
    """派遣队列: cases awaiting (re-)dispatch, and departments' requests awaiting a decision."""
    require_role(actor, Role.DISPATCHER)
    runtime = service_runtime(request)
    require_site(actor, runtime.site)
    async with runtime.database.reading() as reader:
        return await queue(reader, runtime.reference)
