"""What casefile does when an event arrives: a new report starts the acceptance clock."""

from __future__ import annotations

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.intake import CaseReported
from cityloop_shared.contract.values import ClockStep
from cityloop_shared.service.consumer import Reaction
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.store.ledger import Ledger


def reactions(runtime: ServiceRuntime) -> Reaction:
    async def react(ledger: Ledger, event: CaseEvent) -> None:
        if isinstance(event, CaseReported):
            category = event.payload.category.code if event.payload.category else "*"
            limit = runtime.reference.time_limits.limit_for(ClockStep.ACCEPTANCE, category)
            deadline = runtime.reference.calendar.add_working_time(
                event.occurred_at, limit.duration
            )
            runtime.clocks(ledger).start(
                event.case_id, ClockStep.ACCEPTANCE, event.occurred_at, deadline
            )

    return react
