"""Information collection's HTTP surface: the centre's own front door for reports (the
public's is Open311, :mod:`cityloop_intake.open311`)."""

from __future__ import annotations

from fastapi import APIRouter

from cityloop_intake import decisions
from cityloop_intake.state import Report
from cityloop_intake.store import checked
from cityloop_shared.runtime.commands import Commands

router = APIRouter(tags=["intake"])
commands: Commands[Report] = Commands(router)

commands.opening(
    "/reports",
    decisions.FileReport,
    roles=decisions.channel_roles,
    decide=decisions.report,
    prepare=checked,
)
