"""The clock scan every clock-owning stage runs: yellow and red signals, once each.

A signal's event takes the moment it fell due as its time, and an id derived from the
clock and that moment, so the same clock gives the same event however late the scan runs.
"""

from __future__ import annotations

from uuid import UUID

from cityloop_shared.contract.actors import Actor
from cityloop_shared.contract.events.time_limits import (
    TimeLimitOverdue,
    TimeLimitPayload,
    TimeLimitWarning,
)
from cityloop_shared.contract.ids import derived_id
from cityloop_shared.contract.lifecycle import IllegalTransition
from cityloop_shared.ports.clocks import DueSignal
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.runtime.transaction import EventIds
from cityloop_shared.stage.decisions import Draft


async def scan_clocks(runtime: ServiceRuntime) -> int:
    """Emit every signal due now; the number emitted. Safe to run again at any time."""
    actor = Actor.system(runtime.site, f"{runtime.stage.value}-clock")
    emitted = 0
    async with runtime.transaction() as transaction:
        signals = await transaction.uow.clocks.due(transaction.now)
        await transaction.load({signal.case_id for signal in signals})
        for signal in signals:
            transaction.uow.clocks.mark_signalled(signal)
            model = TimeLimitOverdue if signal.overdue else TimeLimitWarning
            case = await transaction.case(signal.case_id)
            if case is None:
                continue
            try:
                await transaction.decide(
                    case,
                    [Draft(model, TimeLimitPayload(step=signal.step, deadline=signal.deadline))],
                    actor=actor,
                    at=signal.due_at,
                    ids=_signal_ids(signal, model.type_name()),
                )
            except IllegalTransition:
                # The case may stand where the signal no longer applies (it ended, perhaps
                # unseen by this stage): it is marked signalled, and nothing of it is written.
                continue
            emitted += 1
    return emitted


def _signal_ids(signal: DueSignal, event_type: str) -> EventIds:
    def event_id(index: int) -> UUID:
        seed = (signal.case_id, signal.step.value, event_type, signal.deadline, index)
        return derived_id(signal.due_at, *seed)

    return event_id
