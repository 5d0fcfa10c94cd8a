"""Information collection's HTTP surface: the centre's own front door for reports (the
public's is Open311, :mod:`cityloop_intake.open311`), the read a report needs besides its
command, which both front doors take, and the centre's word on what the public sees."""

from __future__ import annotations

from fastapi import APIRouter

from cityloop_intake import decisions
from cityloop_intake.state import Report
from cityloop_intake.store import possible_duplicates
from cityloop_shared.runtime.commands import Commands
from cityloop_shared.runtime.transaction import StageTransaction

router = APIRouter(tags=["intake"])
commands: Commands[Report] = Commands(router)


async def filed(
    transaction: StageTransaction[Report], case: None, command: decisions.FileReport
) -> decisions.Filing:
    """The report with the open cases it may repeat, looked up by the category code and point
    it gives: whether those are the site's is the decision's to check."""
    duplicates = await possible_duplicates(
        transaction.uow, command.category_code, command.location.point, transaction.now
    )
    return decisions.Filing(command, duplicates)


commands.opening(
    "/reports",
    decisions.FileReport,
    roles=decisions.channel_roles,
    decide=decisions.report,
    prepare=filed,
)
commands.on_case(
    "/reports/{case_id}/publicity",
    decisions.Publicity,
    roles=decisions.PUBLICITY_ROLES,
    decide=decisions.publicity,
    summary="Show the case to the public through Open311, or withhold it (案件公开)",
)
