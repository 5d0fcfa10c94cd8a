"""A stage transaction on each backend: events applied once and only where the case can take
them, early ones waiting for their case, impossible ones dead, reactions derived with their
cause's moment, decisions chained, and all of it written together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from cityloop_shared.adapters.sql.tables import parked, tracking
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.codec import encode
from cityloop_shared.contract.envelope import event_hash
from cityloop_shared.contract.events.verification import (
    CaseClosed,
    CaseClosedPayload,
    CheckPassed,
    CheckResultPayload,
)
from cityloop_shared.contract.ids import derived_id
from cityloop_shared.contract.lifecycle import CaseStatus, IllegalTransition
from cityloop_shared.contract.values import CaseLevel, ClockStep
from cityloop_shared.ports.tracker import OWN
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.clocks import ClockKeeper
from cityloop_shared.runtime.transaction import Outcome
from cityloop_shared.stage import clocks
from cityloop_shared.stage.decisions import Draft

from .conftest import SITE, NewCase, transaction
from .stage import CHECK_LIMIT, TOPOLOGY

SUPERVISOR = Actor(id="sv-1", role=Role.FIELD_SUPERVISOR, site=SITE)
CHIEF = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=SITE)


def to_feedback(new_case: NewCase) -> Any:
    """A case from its report to the forwarded feedback, as the site's stages emit it."""
    case = new_case()
    for event_type, stage in [
        ("case.reported", "intake"),
        ("case.accepted", "casefile"),
        ("case.registered", "casefile"),
        ("case.dispatched", "dispatch"),
        ("disposal.accepted", "disposal"),
        ("disposal.completed", "disposal"),
        ("feedback.forwarded", "dispatch"),
    ]:
        case.next(event_type, stage)
    return case


async def receive_all(database: Database, case: Any, *types: str) -> list[Outcome]:
    chosen = [event for event in case.events if event.event_type in types]
    async with transaction(database) as tx:
        await tx.prepare(chosen)
        return [await tx.receive(event, f"topic/0/{n}") for n, event in enumerate(chosen)]


async def record(database: Database, case: Any) -> Any:
    async with transaction(database) as tx:
        return await tx.case(case.case_id)


async def count(database: Database, table: Any) -> int:
    async with database.reading() as reader:
        counted: int = await reader.scalar(select(func.count()).select_from(table))
        return counted


async def test_an_event_is_applied_once(database: Database, new_case: NewCase) -> None:
    case = to_feedback(new_case)
    assert await receive_all(database, case, "case.registered") == [Outcome.APPLIED]
    assert await receive_all(database, case, "case.registered") == [Outcome.DUPLICATE]
    async with database.begin() as uow:
        applied = await uow.tracker.history()
    assert [(a.event_type, a.source) for a in applied] == [("case.registered", "topic/0/0")]


async def test_the_stage_sees_the_case_through_what_it_follows(
    database: Database, new_case: NewCase
) -> None:
    """It never saw the report or the acceptance, nor does it need to."""
    case = to_feedback(new_case)
    outcomes = await receive_all(database, case, "case.registered", "case.dispatched")
    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED]
    found = await record(database, case)
    assert (found.status, found.label) == (CaseStatus.DISPATCHED, "case.dispatched")
    assert found.last_event_id == case.events[3].event_id


async def test_an_event_ahead_of_its_case_waits_in_the_batch(
    database: Database, new_case: NewCase
) -> None:
    case = to_feedback(new_case)
    registered, dispatched, accepted = case.events[2], case.events[3], case.events[4]
    async with transaction(database) as tx:
        await tx.prepare([registered, accepted, dispatched])
        assert await tx.receive(registered, "casefile/0/1") is Outcome.APPLIED
        assert await tx.receive(accepted, "disposal/0/1") is Outcome.PARKED
        assert await tx.receive(dispatched, "dispatch/0/1") is Outcome.APPLIED
    async with database.begin() as uow:
        order = [a.event_type for a in await uow.tracker.history()]
    assert order == ["case.registered", "case.dispatched", "disposal.accepted"]
    assert await count(database, parked) == 0


async def test_what_waits_when_a_batch_ends_is_parked_then_applied_when_the_case_moves(
    database: Database, new_case: NewCase
) -> None:
    case = to_feedback(new_case)
    assert await receive_all(database, case, "case.registered") == [Outcome.APPLIED]
    assert await receive_all(database, case, "disposal.accepted") == [Outcome.PARKED]
    assert await count(database, parked) == 1
    # Redelivered while parked: still waiting, not parked twice.
    assert await receive_all(database, case, "disposal.accepted") == [Outcome.PARKED]
    assert await count(database, parked) == 1
    assert await receive_all(database, case, "case.dispatched") == [Outcome.APPLIED]
    assert await count(database, parked) == 0
    assert (await record(database, case)).status is CaseStatus.IN_DISPOSAL


async def test_an_event_the_case_can_never_take_is_dead(
    database: Database, new_case: NewCase
) -> None:
    case = to_feedback(new_case)
    await receive_all(database, case, "case.registered", "case.dispatched")
    again = case.next("case.registered", "casefile")  # caused by the feedback: applied? no
    async with transaction(database) as tx:
        await tx.prepare([again])
        assert await tx.receive(again, "casefile/0/9") is Outcome.DEAD
        (dead,) = tx.dead
    assert dead.event == again
    assert "case.registered is not allowed for a case in status 'dispatched'" in dead.reason
    assert await count(database, parked) == 0


async def test_an_event_overtaken_by_a_later_one_is_late_not_dead(
    database: Database, new_case: NewCase
) -> None:
    """Topics are read independently: the department's acceptance, read after a voiding that
    came later, can no longer be applied, but it is no fault of anyone's."""
    case = new_case()
    start = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    for minute, (event_type, stage) in enumerate(
        [
            ("case.reported", "intake"),
            ("case.accepted", "casefile"),
            ("case.registered", "casefile"),
            ("case.dispatched", "dispatch"),
            ("disposal.accepted", "disposal"),
            ("case.voided", "casefile"),
            ("disposal.completed", "disposal"),  # told of the voiding too late: a real fault
        ]
    ):
        case.next(event_type, stage, at=start + timedelta(minutes=minute))
    registered, dispatched, accepted, voided, completed = case.events[2:]
    async with transaction(database) as tx:
        await tx.prepare([registered, dispatched, voided, accepted, completed])
        outcomes = [
            await tx.receive(event, f"t/0/{n}")
            for n, event in enumerate([registered, dispatched, voided, accepted, completed])
        ]
        dead = [letter.event for letter in tx.dead]
    assert outcomes[2:] == [Outcome.APPLIED, Outcome.LATE, Outcome.DEAD]
    assert dead == [completed]
    found = await record(database, case)
    assert (found.status, found.label) == (CaseStatus.VOIDED, "case.voided")
    assert found.last_occurred_at == voided.occurred_at
    async with transaction(database) as tx:
        await tx.prepare([accepted])
        assert await tx.receive(accepted, "t/0/3") is Outcome.DUPLICATE


async def test_what_comes_of_a_case_the_stage_did_not_take_up_is_passed_over(
    database: Database, new_case: NewCase
) -> None:
    """A city department's case is not the district's: its later events are neither
    applied to a record nor dead letters, and a redelivery of them changes nothing."""
    case = new_case()
    case.next("case.reported", "intake")
    case.next("case.accepted", "casefile")
    registered = case.next("case.registered", "casefile")
    city = registered.model_copy(
        update={"payload": registered.payload.model_copy(update={"level": CaseLevel.CITY})}
    )
    voided = case.next("case.voided", "casefile")
    async with transaction(database) as tx:
        await tx.prepare([city, voided])
        assert await tx.receive(city, "casefile/0/1") is Outcome.APPLIED
        assert await tx.receive(voided, "casefile/0/2") is Outcome.DECLINED
        assert tx.dead == []
    assert await record(database, case) is None
    async with transaction(database) as tx:
        await tx.prepare([voided])
        assert await tx.receive(voided, "casefile/0/2") is Outcome.DUPLICATE
    assert await count(database, parked) == 0


async def test_a_reaction_takes_its_causes_moment_and_a_derived_id(
    database: Database, new_case: NewCase
) -> None:
    case = to_feedback(new_case)
    feedback = case.events[-1]
    async with transaction(database) as tx:
        chosen = case.events[2:]
        await tx.prepare(chosen)
        for n, event in enumerate(chosen):
            await tx.receive(event, f"t/0/{n}")
        (check,) = tx.emitted
    assert check.event_type == "check.requested"
    assert (check.occurred_at, check.causation_id) == (feedback.occurred_at, feedback.event_id)
    assert check.correlation_id == feedback.correlation_id
    assert check.event_id == derived_id(feedback.occurred_at, "verification", feedback.event_id, 0)
    assert (check.sequence, check.previous_hash) == (1, None)
    assert check.payload.due_at == feedback.occurred_at + CHECK_LIMIT
    async with database.begin() as uow:
        (journaled,) = await uow.recorder.case_events(case.case_id)
        clock = await uow.clocks.clock(case.case_id, ClockStep.CHECK)
    assert encode(journaled) == encode(check)
    assert clock is not None
    assert (clock.started_at, clock.deadline) == (check.occurred_at, check.payload.due_at)
    assert clock.started_at <= clock.warn_at <= clock.deadline


async def test_decisions_chain_each_case_and_a_refused_one_writes_nothing(
    database: Database, new_case: NewCase
) -> None:
    case = to_feedback(new_case)
    await receive_all(database, case, *TOPOLOGY.follows_types)
    now = datetime.now(UTC)
    refused = [Draft(CaseClosed, CaseClosedPayload())]

    async def close_unchecked() -> None:
        async with transaction(database) as tx:
            await tx.decide(await tx.case(case.case_id), refused, actor=CHIEF, at=now)

    with pytest.raises(IllegalTransition, match=r"case\.closed is not allowed"):
        await close_unchecked()
    assert await count(database, tracking) == 6  # the five events read and the check sent

    async with transaction(database) as tx:
        found = await tx.case(case.case_id)
        passed, closed = await tx.decide(
            found,
            [Draft(CheckPassed, CheckResultPayload()), Draft(CaseClosed, CaseClosedPayload())],
            actor=SUPERVISOR,
            at=now,
        )
    async with database.begin() as uow:
        check, *rest = await uow.recorder.case_events(case.case_id)
        clock = await uow.clocks.clock(case.case_id, ClockStep.CHECK)
        applied = await uow.tracker.history()
    assert rest == [passed, closed]
    assert (passed.sequence, passed.previous_hash) == (2, event_hash(check))
    assert (closed.sequence, closed.previous_hash) == (3, event_hash(passed))
    assert passed.causation_id == check.event_id
    assert (await record(database, case)).status is CaseStatus.CLOSED
    assert clock is not None
    assert clock.stopped_at == now
    assert [a.source for a in applied[-3:]] == [OWN, OWN, OWN]


async def test_a_clock_resumes_with_its_warning_kept_and_moves_afresh(
    database: Database, new_case: NewCase
) -> None:
    """Resumption keeps the working time to the warning; a moved deadline warns again at
    80 % of the working time from the clock's start.

    Working hours are 08:30–12:00 and 13:30–17:30 in Asia/Shanghai (UTC+8), Monday to
    Friday (no holiday falls in these weeks of 2026); the moments below are counted by hand.
    """
    calendar = ReferenceData.demo().calendar
    start = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Qingdao
    deadline = calendar.add_working_time(start, timedelta(hours=4))
    case_id = new_case().case_id
    async with database.begin() as uow:
        keeper = ClockKeeper(uow.clocks, calendar)
        await keeper.apply(case_id, [clocks.Start(ClockStep.DISPOSAL, start, deadline)])
        first = await uow.clocks.clock(case_id, ClockStep.DISPOSAL)
        assert first is not None
        suspended = start + timedelta(hours=1)
        resumed = suspended + timedelta(days=7)
        later = calendar.add_working_time(
            resumed, calendar.working_time_between(suspended, deadline)
        )
        await keeper.apply(
            case_id,
            [
                clocks.Suspend(ClockStep.DISPOSAL, suspended),
                clocks.Resume(ClockStep.DISPOSAL, resumed, later),
            ],
        )
        back = await uow.clocks.clock(case_id, ClockStep.DISPOSAL)
        assert back is not None
        moved = calendar.add_working_time(later, timedelta(hours=8))
        await keeper.apply(case_id, [clocks.Move(ClockStep.DISPOSAL, moved)])
        final = await uow.clocks.clock(case_id, ClockStep.DISPOSAL)
    # Deadline Tue 14:30 (3 h to noon, 1 h after lunch); 80 % of 4 h is 3 h 12 min:
    # noon, then 12 min after lunch.
    assert deadline == datetime(2026, 11, 24, 6, 30, tzinfo=UTC)
    assert first.warn_at == datetime(2026, 11, 24, 5, 42, tzinfo=UTC)  # Tue 13:42
    between = calendar.working_time_between
    assert (back.deadline, back.suspended_at) == (later, None)
    assert between(resumed, back.warn_at) == between(suspended, first.warn_at)
    # Suspended Tue 10:00, 2 h 12 min before the warning; resumed Tue 1 Dec 10:00.
    assert back.warn_at == datetime(2026, 12, 1, 5, 42, tzinfo=UTC)  # Tue 1 Dec 13:42
    assert final is not None
    # Moved to Wed 2 Dec 15:00 (Tue 1 Dec 14:30 and 8 h). From the start: 7 h on Tue 24,
    # 7.5 h on each of five working days, 5 h on Wed 2 Dec, 49.5 h; 80 % is 39 h 36 min:
    # 7 + 4 × 7.5 = 37 h by Mon 30 Nov's close, 2 h 36 min into Tue 1 Dec's morning.
    assert moved == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
    assert (final.deadline, final.warn_at) == (
        moved,
        datetime(2026, 12, 1, 3, 6, tzinfo=UTC),  # Tue 1 Dec 11:06
    )
