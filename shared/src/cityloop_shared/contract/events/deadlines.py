"""Deadlines in events: each event that starts a step's clock names the step's deadline, so
whether the step ended on time is judged from events alone (schema version 2).

Version 1 kept the acceptance, registration, dispatch and forwarding deadlines in the clocks
table of the stage that watched them; its upcaster lifts the one deadline an old event did
carry (``deadline`` or ``due_at``) into the list and leaves the others unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from cityloop_shared.contract.envelope import Payload
from cityloop_shared.contract.values import ClockStep, Deadline

TIMED_SINCE = 2
"""The schema version from which clock-starting events carry ``deadlines``."""


class Timed(Payload):
    """A payload of an event that starts one or more clocks."""

    deadlines: tuple[Deadline, ...] = Field(
        default=(),
        description="The steps this event starts, with their deadlines (lifted from v1 events: "
        "only what they carried)",
    )

    def due(self, step: ClockStep) -> Deadline | None:
        return next((deadline for deadline in self.deadlines if deadline.step is step), None)


LIFTED_FROM_V1: dict[str, tuple[str, ClockStep] | None] = {
    "case.reported": None,
    "case.accepted": None,
    "verification.requested": ("due_at", ClockStep.VERIFICATION),
    "verification.reported": None,
    "case.registered": None,
    "case.forwarded_to_city": None,
    "forwarding.accepted": None,
    "forwarding.returned": None,
    "return.approved": None,
    "case.dispatched": ("deadline", ClockStep.DISPOSAL),
    "case.redispatched": ("deadline", ClockStep.DISPOSAL),
    "case.reopened_for_rework": ("deadline", ClockStep.DISPOSAL),
    "check.requested": ("due_at", ClockStep.CHECK),
}
"""Each timed event type, and the v1 field holding the one deadline it carried, if any."""


def lift_v1(carried: tuple[str, ClockStep] | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The upcaster of a timed event type from version 1."""

    def lift(raw: dict[str, Any]) -> dict[str, Any]:
        payload = dict(raw.get("payload") or {})
        deadlines: list[dict[str, Any]] = []
        if carried is not None and payload.get(carried[0]) is not None:
            deadlines.append({"step": carried[1].value, "due_at": payload[carried[0]]})
        payload["deadlines"] = deadlines
        return {**raw, "payload": payload}

    return lift
