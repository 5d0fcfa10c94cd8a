"""How a case's events are judged: each step round on time or not, rework keeping the first
round's lateness, suspended time left out, deadlines of old events computed on the working
calendar across a holiday and a make-up working day. Expected values are worked out by hand
on the demo calendar (working hours 08:30–12:00 and 13:30–17:30, 7.5 hours a day)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cityloop_evaluation.judgement import Outcome, judge
from cityloop_shared.contract.codec import decode, encode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.deadlines import LIFTED_FROM_V1
from cityloop_shared.contract.values import ClockStep
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.stage.deadlines import step_deadline
from cityloop_shared.testing.stories import Story

pytestmark = pytest.mark.unit

REFERENCE = ReferenceData.demo()
SH = ZoneInfo("Asia/Shanghai")


def at(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=SH)


def test_rework_keeps_the_first_rounds_lateness() -> None:
    story = (
        Story()
        .reported(at("2026-03-10", "08:40"), by="sv-370212-01")
        .accepted(at("2026-03-10", "08:45"), by="op-1")
        .registered(
            at("2026-03-10", "08:50"),
            by="chief-1",
            dispatch_due=at("2026-03-10", "09:20"),
            overall_due=at("2026-03-11", "08:50"),
        )
        .handled(
            department="370212-urban",
            dispatched=at("2026-03-10", "09:00"),
            due=at("2026-03-10", "11:00"),
            done=at("2026-03-10", "11:30"),  # half an hour late
        )
        .check_requested(
            at("2026-03-10", "11:30"), supervisor="sv-370212-01", due=at("2026-03-10", "14:00")
        )
        .check_failed(at("2026-03-10", "11:50"), supervisor="sv-370212-01")
        .rework(at("2026-03-10", "13:30"), department="370212-urban", due=at("2026-03-10", "15:30"))
        .taken(at("2026-03-10", "13:40"), department="370212-urban")
        .completed(at("2026-03-10", "14:00"), department="370212-urban")  # on time
        .feedback(at("2026-03-10", "14:00"), department="370212-urban")
        .check_requested(
            at("2026-03-10", "14:00"), supervisor="sv-370212-01", due=at("2026-03-10", "15:00")
        )
        .check_passed(at("2026-03-10", "14:20"), supervisor="sv-370212-01")
        .closed(at("2026-03-10", "14:30"), by="chief-1")
    )
    case = judge(story.events, REFERENCE)
    assert case is not None
    disposal = [r for r in case.rounds if r.step is ClockStep.DISPOSAL]
    assert [(r.round, r.on_time, r.reworked) for r in disposal] == [
        (1, False, True),
        (2, True, False),
    ]
    assert case.handled_on_time is False
    assert case.reworks == 1
    checks = [r for r in case.rounds if r.step is ClockStep.CHECK]
    assert [(r.actor_id, r.on_time) for r in checks] == [("sv-370212-01", True)] * 2
    assert case.closed_on_time is True
    # 09:00 to 14:00 on the working calendar: 3 h before lunch and 30 min after.
    assert case.handling == timedelta(hours=3, minutes=30)


def test_suspended_time_is_left_out_of_the_overall_limit_and_the_handling_time() -> None:
    story = (
        Story()
        .reported(at("2026-03-10", "08:40"), by="sv-370212-01")
        .accepted(at("2026-03-10", "08:50"), by="op-1")
        .registered(
            at("2026-03-10", "09:00"),
            by="chief-1",
            dispatch_due=at("2026-03-10", "09:30"),
            overall_due=at("2026-03-17", "09:00"),  # five working days
        )
        .dispatched(
            at("2026-03-10", "09:30"),
            by="dispatcher-1",
            department="370212-urban",
            due=at("2026-03-10", "11:30"),
        )
        .taken(at("2026-03-10", "09:40"), department="370212-urban")
        .suspension_asked(at("2026-03-10", "10:00"), department="370212-urban")
        .suspended(at("2026-03-11", "09:00"), by="dispatcher-1")
        # A working day later (7.5 h stood still); 1 h 30 min were left, so due 10:30.
        .resumed(at("2026-03-12", "09:00"), by="dispatcher-1", deadline=at("2026-03-12", "10:30"))
        .completed(at("2026-03-17", "10:00"), department="370212-urban")
        .feedback(at("2026-03-17", "10:00"), department="370212-urban")
        .check_requested(
            at("2026-03-17", "10:00"), supervisor="sv-370212-01", due=at("2026-03-17", "11:00")
        )
        .check_passed(at("2026-03-17", "10:30"), supervisor="sv-370212-01")
        .closed(at("2026-03-17", "16:00"), by="chief-1")
    )
    case = judge(story.events, REFERENCE)
    assert case is not None
    assert case.suspended == timedelta(hours=7, minutes=30)
    # 17 Mar 09:00 plus 7.5 working hours: 7 h that day, 30 min on the 18th.
    assert case.overall_due_at == at("2026-03-18", "09:00")
    assert case.closed_on_time is True  # late by the limit alone, on time without the pause
    (disposal,) = [r for r in case.rounds if r.step is ClockStep.DISPOSAL]
    assert disposal.due_at == at("2026-03-12", "10:30")
    assert disposal.on_time is False
    assert disposal.suspended == timedelta(hours=7, minutes=30)
    # 10 Mar 09:30–17:30 is 6.5 h, 11/12/13/16 Mar 30 h, 17 Mar to 10:00 1.5 h: 38 h, less 7.5.
    assert case.handling == timedelta(hours=30, minutes=30)


@pytest.mark.parametrize(
    ("registered", "dispatch_due"),
    [
        # National Day: 1–7 October are holidays, the 8th a working Thursday.
        (at("2026-09-30", "17:15"), at("2026-10-08", "08:45")),
        # Saturday 10 October is a make-up working day (调休).
        (at("2026-10-09", "17:15"), at("2026-10-10", "08:45")),
    ],
)
def test_an_old_event_without_deadlines_has_them_computed_on_the_working_calendar(
    registered: datetime, dispatch_due: datetime
) -> None:
    story = (
        Story()
        .reported(registered - timedelta(minutes=20), by="sv-370212-01")
        .accepted(registered - timedelta(minutes=10), by="op-1")
        .registered(registered, by="chief-1")  # no deadlines: as version 1 wrote it
    )
    case = judge(story.events, REFERENCE)
    assert case is not None
    (dispatch,) = [r for r in case.rounds if r.step is ClockStep.DISPATCH]
    assert dispatch.due_at == dispatch_due  # 30 working minutes


def test_a_returned_dispatch_is_a_wrong_one_and_the_round_is_not_the_departments() -> None:
    story = (
        Story()
        .reported(at("2026-03-10", "08:40"), by="sv-370212-01")
        .accepted(at("2026-03-10", "08:45"), by="op-1")
        .registered(at("2026-03-10", "08:50"), by="chief-1", dispatch_due=at("2026-03-10", "09:20"))
        .dispatched(
            at("2026-03-10", "09:00"),
            by="dispatcher-1",
            department="370212-sanitation",
            due=at("2026-03-10", "11:00"),
        )
        .return_asked(at("2026-03-10", "09:10"), department="370212-sanitation")
        .return_approved(
            at("2026-03-10", "09:20"), by="dispatcher-1", dispatch_due=at("2026-03-10", "09:50")
        )
        .redispatched(
            at("2026-03-10", "10:00"),
            by="dispatcher-2",
            department="370212-urban",
            previous="370212-sanitation",
            due=at("2026-03-10", "13:30"),
        )
    )
    case = judge(story.events, REFERENCE)
    assert case is not None
    dispatches = [r for r in case.rounds if r.step is ClockStep.DISPATCH]
    assert [(r.actor_id, r.on_time, r.wrong_dispatch) for r in dispatches] == [
        ("dispatcher-1", True, True),
        ("dispatcher-2", False, False),  # 10:00 is past 09:50
    ]
    disposals = [r for r in case.rounds if r.step is ClockStep.DISPOSAL]
    assert [(r.department_id, r.outcome) for r in disposals] == [
        ("370212-sanitation", Outcome.RETURNED),
        ("370212-urban", None),
    ]
    assert case.department_id == "370212-urban"
    assert case.returns == 1


def test_a_self_handled_report_is_a_closed_case_with_no_steps() -> None:
    story = Story().self_handled(at("2026-03-10", "10:00"), by="sv-370212-01")
    case = judge(story.events, REFERENCE)
    assert case is not None
    assert (case.self_handled, case.channel, case.reported_by) == (
        True,
        "supervisor",
        "sv-370212-01",
    )
    assert case.closed_at == case.reported_at == at("2026-03-10", "10:00")
    assert case.rounds == ()


def as_version_1(event: CaseEvent) -> CaseEvent:
    """The event as version 1 logged it (no ``deadlines``), read back through the upcasters."""
    raw = json.loads(encode(event))
    if event.event_type in LIFTED_FROM_V1:
        raw["schema_version"] = 1
        del raw["payload"]["deadlines"]
    return decode(json.dumps(raw))


def test_a_log_written_with_version_1_is_judged_as_the_same_log_in_version_2() -> None:
    """Schema evolution: the v1 log lacks the deadlines v2 carries; its upcaster lifts what
    v1 had, and the rest is computed as the stages computed it then."""

    def due(step: ClockStep, start: datetime) -> datetime:
        return step_deadline(step, start, "01002", None, REFERENCE).due_at

    reported, accepted, registered = (
        at("2026-03-10", "08:40"),
        at("2026-03-10", "08:45"),
        at("2026-03-10", "08:50"),
    )
    story = (
        Story()
        .reported(reported, by="sv-370212-01", acceptance_due=due(ClockStep.ACCEPTANCE, reported))
        .accepted(accepted, by="op-1", registration_due=due(ClockStep.REGISTRATION, accepted))
        .registered(
            registered,
            by="chief-1",
            dispatch_due=due(ClockStep.DISPATCH, registered),
            overall_due=due(ClockStep.OVERALL, registered),
        )
        .handled(
            department="370212-urban",
            dispatched=at("2026-03-10", "09:00"),
            due=at("2026-03-10", "11:00"),
            done=at("2026-03-10", "11:30"),
        )
        .check_requested(
            at("2026-03-10", "11:30"), supervisor="sv-370212-01", due=at("2026-03-10", "14:00")
        )
        .check_passed(at("2026-03-10", "11:50"), supervisor="sv-370212-01")
        .closed(at("2026-03-10", "14:30"), by="chief-1")
    )
    old = [as_version_1(event) for event in story.events]
    assert {e.schema_version for e in old if e.event_type in LIFTED_FROM_V1} == {2}  # lifted
    assert judge(old, REFERENCE) == judge(story.events, REFERENCE)
