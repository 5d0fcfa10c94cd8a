"""What verification does when an event arrives: forwarded feedback sends the grid's supervisor
to check the result on site (核查任务); a voided case ends its pending check."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from cityloop_shared.contract.actors import Actor
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import CaseVoided
from cityloop_shared.contract.events.dispatch import FeedbackForwarded
from cityloop_shared.contract.events.verification import CheckRequested, CheckRequestedPayload
from cityloop_shared.contract.values import ClockStep
from cityloop_shared.logging import get_logger
from cityloop_shared.service.consumer import Reaction
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.store.ledger import Ledger
from cityloop_shared.store.upserts import upsert
from cityloop_verification.tables import CheckResult, check_tasks

log = get_logger("cityloop.verification")


def reactions(runtime: ServiceRuntime) -> Reaction:
    async def react(ledger: Ledger, event: CaseEvent) -> None:
        if isinstance(event, FeedbackForwarded):
            await request_check(runtime, ledger, event)
        elif isinstance(event, CaseVoided):
            runtime.clocks(ledger).stop(event.case_id, ClockStep.CHECK, event.occurred_at)
            ledger.write_later(
                update(check_tasks)
                .where(check_tasks.c.case_id == event.case_id, check_tasks.c.result.is_(None))
                .values(result=CheckResult.VOIDED.value)
            )

    return react


async def request_check(runtime: ServiceRuntime, ledger: Ledger, cause: FeedbackForwarded) -> None:
    """核查任务 to the grid's supervisor, due within the check's time limit; a new round after
    rework reuses the case's task row."""
    case = await ledger.case(cause.case_id)
    assert case is not None, "the forwarded feedback was applied to the projection"
    supervisor = runtime.reference.supervisors.supervisor_for(case.values["grid_code"])
    if supervisor is None:
        # Reference data gives every known grid a supervisor; a case outside them waits
        # at feedback_forwarded rather than being sent to nobody.
        log.warning("check.no_supervisor", case_id=str(case.case_id), grid=case.values["grid_code"])
        return
    limit = runtime.reference.time_limits.limit_for(
        ClockStep.CHECK, case.values["category_code"] or "*"
    )
    now = datetime.now(UTC)
    due_at = runtime.reference.calendar.add_working_time(now, limit.duration)
    event = await ledger.emit(
        CheckRequested,
        case_id=case.case_id,
        actor=Actor.system(runtime.site, "verification"),
        payload=CheckRequestedPayload(supervisor_id=supervisor.id, due_at=due_at),
        cause=cause,
    )
    ledger.write_later(
        upsert(ledger.conn.dialect.name, check_tasks, ("case_id",), adding=("rounds",)),
        {
            "case_id": case.case_id,
            "supervisor_id": supervisor.id,
            "requested_at": event.occurred_at,
            "due_at": due_at,
            "result": None,
            "rounds": 1,
        },
    )
    runtime.clocks(ledger).start(case.case_id, ClockStep.CHECK, now, due_at)
