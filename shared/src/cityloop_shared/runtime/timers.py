"""The clock scan every clock-owning service runs: yellow and red signals, once each."""

from __future__ import annotations

from datetime import UTC, datetime

from cityloop_shared.contract.actors import Actor
from cityloop_shared.contract.events.time_limits import (
    TimeLimitOverdue,
    TimeLimitPayload,
    TimeLimitWarning,
)
from cityloop_shared.contract.lifecycle import allowed
from cityloop_shared.service.runtime import ServiceRuntime


async def scan_clocks(runtime: ServiceRuntime) -> int:
    """Emit every signal due now; the number emitted. Safe to run again at any time."""
    actor = Actor.system(runtime.site, f"{runtime.stage.value}-clock")
    emitted = 0
    async with runtime.transaction() as ledger:
        clocks = runtime.clocks(ledger)
        for signal in await clocks.due(datetime.now(UTC)):
            clocks.mark_signalled(signal)
            model = TimeLimitOverdue if signal.overdue else TimeLimitWarning
            case = await ledger.case(signal.case_id, for_update=True)
            if case is None or not allowed(case.state, model.model_fields["event_type"].default):
                continue
            await ledger.emit(
                model,
                case_id=signal.case_id,
                actor=actor,
                payload=TimeLimitPayload(step=signal.step, deadline=signal.deadline),
            )
            emitted += 1
    return emitted
