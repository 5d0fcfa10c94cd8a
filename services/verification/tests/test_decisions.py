"""Checking and closing's pure rules, without a broker or a database: what each command
decides or refuses, how forwarded feedback becomes a check task (核查任务) due on the working
calendar, which clocks the events move, and how the stage's record evolves."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.envelope import CaseEvent, Payload
from cityloop_shared.contract.events.casefile import CaseVoided, CaseVoidedPayload
from cityloop_shared.contract.events.dispatch import FeedbackForwarded, FeedbackForwardedPayload
from cityloop_shared.contract.events.verification import (
    CaseClosed,
    CaseClosedPayload,
    CheckFailed,
    CheckFailedPayload,
    CheckPassed,
    CheckRequested,
    CheckRequestedPayload,
    CheckResultPayload,
    SatisfactionRecorded,
    SatisfactionRecordedPayload,
)
from cityloop_shared.contract.ids import CaseKind, new_id
from cityloop_shared.contract.lifecycle import CaseState, CaseStatus, IllegalTransition
from cityloop_shared.contract.values import (
    Attachment,
    Category,
    ClockStep,
    Deadline,
    ReportChannel,
)
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.stage import clocks as clock
from cityloop_shared.stage.decisions import Conflict, Context, Decision, Draft, Forbidden
from cityloop_verification import decisions
from cityloop_verification.app import RULES
from cityloop_verification.decisions import Check, Close, Satisfaction
from cityloop_verification.state import CheckCase, CheckResult, evolve
from cityloop_verification.topology import TOPOLOGY

REFERENCE = ReferenceData.demo()
BEIJING = timezone(timedelta(hours=8))
WEDNESDAY_9 = datetime(2026, 11, 25, 9, 0, tzinfo=BEIJING)
"""An ordinary working morning of the demo city."""
DISTRICT = "370212"
CITY = "370200"
GRID = "370212003001001"
"""A grid of 崂山区 whose responsible supervisor is sv-370212-03."""
SUPERVISOR = "sv-370212-03"
DEPARTMENT = "370212-sanitation"
CATEGORY = Category(standard="GB/T 47678.5-2026", kind=CaseKind.EVENT, code="06010")
PHOTO = Attachment(uri="https://media.cityloop.example/check/1.jpg", media_type="image/jpeg")
DISPATCHER = Actor(id="dispatcher-1", role=Role.DISPATCHER, site=DISTRICT)


def fresh(site: str = DISTRICT, status: CaseStatus = CaseStatus.FEEDBACK_FORWARDED) -> CheckCase:
    """A record as the runtime opens it: the common fields set, the stage's own at defaults."""
    return CheckCase(
        case_id=new_id(),
        site=site,
        status=status,
        last_event_id=new_id(),
        last_occurred_at=WEDNESDAY_9,
        correlation_id=new_id(),
    )


def event(
    model: type[CaseEvent],
    payload: Payload,
    case: CheckCase,
    at: datetime = WEDNESDAY_9,
    actor: Actor = DISPATCHER,
) -> Any:
    return model.create(
        case_id=case.case_id,
        site=case.site,
        actor=actor,
        payload=payload,
        previous=None,
        occurred_at=at,
    )


def feedback_payload(**facts: Any) -> FeedbackForwardedPayload:
    values: dict[str, Any] = {
        "case_number": "370212E060102026112500001",
        "category": CATEGORY,
        "grid_code": GRID,
        "channel": ReportChannel.PUBLIC,
        "department_id": DEPARTMENT,
        "remarks": "处置完毕",
    }
    return FeedbackForwardedPayload(**(values | facts))


def requested(
    site: str = DISTRICT, supervisor: str = SUPERVISOR, rounds: int = 1, **fields: Any
) -> CheckCase:
    """A case whose check went to ``supervisor`` and is pending (``fields`` change that)."""
    values: dict[str, Any] = {
        "case_number": "370212E060102026112500001",
        "category_code": "06010",
        "grid_code": GRID,
        "channel": ReportChannel.PUBLIC,
        "department_id": DEPARTMENT,
        "supervisor_id": supervisor,
        "requested_at": WEDNESDAY_9,
        "due_at": WEDNESDAY_9 + timedelta(hours=1),
        "rounds": rounds,
    }
    return dataclasses.replace(fresh(site, CaseStatus.CHECKING), **(values | fields))


def context(role: Role, id: str, site: str = DISTRICT, service_site: str = DISTRICT) -> Context:
    return Context(
        actor=Actor(id=id, role=role, site=site),
        now=WEDNESDAY_9,
        reference=REFERENCE,
        site=service_site,
        view=TOPOLOGY.view,
    )


def as_supervisor(id: str = SUPERVISOR, site: str = DISTRICT) -> Context:
    return context(Role.FIELD_SUPERVISOR, id, site)


def error_fields(error: pytest.ExceptionInfo[ValidationError]) -> list[tuple[int | str, ...]]:
    return [e["loc"] for e in error.value.errors()]


# --- the check command's body ---------------------------------------------------------------


def test_a_failed_check_needs_its_reason() -> None:
    with pytest.raises(ValidationError) as missing:
        Check(passed=False)
    assert error_fields(missing) == [("reason",)]
    assert "what is still wrong on site" in str(missing.value)
    assert Check(passed=False, reason="垃圾仍未清运").reason == "垃圾仍未清运"


def test_a_passed_check_takes_remarks_not_a_reason() -> None:
    with pytest.raises(ValidationError) as reasoned:
        Check(passed=True, reason="多余")
    assert error_fields(reasoned) == [("reason",)]
    with pytest.raises(ValidationError) as remarked:
        Check(passed=False, reason="仍有垃圾", remarks="备注")
    assert error_fields(remarked) == [("remarks",)]
    assert Check(passed=True, remarks="已清理干净").remarks == "已清理干净"


def test_command_bodies_refuse_unknown_fields_and_scores_out_of_range() -> None:
    with pytest.raises(ValidationError) as unknown:
        Check.model_validate({"passed": True, "verdict": "ok"})
    assert error_fields(unknown) == [("verdict",)]
    for score in (0, 6):
        with pytest.raises(ValidationError) as out_of_range:
            Satisfaction(score=score)
        assert error_fields(out_of_range) == [("score",)]


# --- check (核查反馈) ---------------------------------------------------------------------------


def test_the_assigned_supervisor_passes_the_check_with_remarks_and_photos() -> None:
    case = requested(rounds=2)
    decision = decisions.check(
        case, Check(passed=True, remarks="已清理干净", attachments=(PHOTO,)), as_supervisor()
    )
    assert decision == Decision(
        [Draft(CheckPassed, CheckResultPayload(remarks="已清理干净", attachments=(PHOTO,)))],
        {"round": 2},
    )


def test_the_assigned_supervisor_fails_the_check_with_the_reason() -> None:
    decision = decisions.check(
        requested(),
        Check(passed=False, reason="垃圾仍未清运", attachments=(PHOTO,)),
        as_supervisor(),
    )
    assert decision == Decision(
        [Draft(CheckFailed, CheckFailedPayload(reason="垃圾仍未清运", attachments=(PHOTO,)))],
        {"round": 1},
    )


def test_another_supervisor_of_the_site_is_refused_naming_the_assigned_one() -> None:
    with pytest.raises(Forbidden) as refused:
        decisions.check(requested(), Check(passed=True), as_supervisor("sv-370212-01"))
    assert refused.value.detail == f"the check task went to supervisor {SUPERVISOR}"


def test_a_supervisor_of_another_site_is_refused_for_the_site() -> None:
    with pytest.raises(Forbidden) as refused:
        decisions.check(
            requested(), Check(passed=True), as_supervisor("sv-370202-01", site="370202")
        )
    assert refused.value.detail == "actor of site 370202 may not act on a case of site 370212"


def test_a_city_case_is_checked_by_the_district_supervisor_it_was_entrusted_to() -> None:
    """The task itself lets its supervisor act, though they are not of the city's site."""
    decision = decisions.check(
        requested(site=CITY), Check(passed=True), as_supervisor(SUPERVISOR, site=DISTRICT)
    )
    assert [draft.model for draft in decision.events] == [CheckPassed]
    # Anyone else of the district is refused for the site: only the task reaches across it.
    with pytest.raises(Forbidden) as refused:
        decisions.check(
            requested(site=CITY), Check(passed=True), as_supervisor("sv-370212-01", DISTRICT)
        )
    assert refused.value.detail == "actor of site 370212 may not act on a case of site 370200"
    # The city's own supervisors may act on the city's case, but the task is not theirs.
    with pytest.raises(Forbidden) as not_theirs:
        decisions.check(
            requested(site=CITY), Check(passed=True), as_supervisor("sv-370200-01", CITY)
        )
    assert not_theirs.value.detail == f"the check task went to supervisor {SUPERVISOR}"


def test_a_case_that_never_got_a_check_task_cannot_be_checked() -> None:
    """Feedback without a grid leaves the case waiting at feedback_forwarded, with nobody sent."""
    case = fresh()
    waiting = evolve(case, event(FeedbackForwarded, FeedbackForwardedPayload(), case))
    with pytest.raises(Conflict) as refused:
        decisions.check(waiting, Check(passed=True), as_supervisor())
    assert refused.value.detail == "no check was requested for this case"


def test_checking_is_allowed_only_while_the_check_is_pending() -> None:
    """The runtime refuses the drafted result through the stage's view of the lifecycle."""
    view = TOPOLOGY.view
    assert view.allows(CaseState(CaseStatus.CHECKING), "check.passed")
    assert view.allows(CaseState(CaseStatus.CHECKING), "check.failed")
    for status in (CaseStatus.CHECK_PASSED, CaseStatus.REWORK, CaseStatus.VOIDED):
        with pytest.raises(IllegalTransition) as refused:
            view.decide(CaseState(status), "check.passed")
        assert (refused.value.status, refused.value.event_type) == (status, "check.passed")


# --- close (结案) ---------------------------------------------------------------------------------


def test_the_duty_chief_closes_with_remarks() -> None:
    case = requested(result=CheckResult.PASSED, status=CaseStatus.CHECK_PASSED)
    decision = decisions.close(case, Close(remarks="结案"), context(Role.DUTY_CHIEF, "chief-1"))
    assert decision == Decision([Draft(CaseClosed, CaseClosedPayload(remarks="结案"))])


def test_closing_waits_for_a_passed_check() -> None:
    view = TOPOLOGY.view
    assert view.allows(CaseState(CaseStatus.CHECK_PASSED), "case.closed")
    for status in (
        CaseStatus.FEEDBACK_FORWARDED,
        CaseStatus.CHECKING,
        CaseStatus.REWORK,
        CaseStatus.CLOSED,
        CaseStatus.VOIDED,
    ):
        with pytest.raises(IllegalTransition) as refused:
            view.decide(CaseState(status), "case.closed")
        assert refused.value.status is status


# --- satisfaction (回访) --------------------------------------------------------------------------


def closed(**fields: Any) -> CheckCase:
    return requested(status=CaseStatus.CLOSED, result=CheckResult.PASSED, **fields)


OPERATOR = context(Role.ACCEPTANCE_OPERATOR, "op-1")


def test_the_public_reporter_of_a_closed_case_is_called_back() -> None:
    decision = decisions.record_satisfaction(
        closed(), Satisfaction(score=4, remarks="处理及时"), OPERATOR
    )
    assert decision == Decision(
        [Draft(SatisfactionRecorded, SatisfactionRecordedPayload(score=4, remarks="处理及时"))]
    )


def test_satisfaction_waits_for_closing() -> None:
    for status in (CaseStatus.CHECKING, CaseStatus.CHECK_PASSED):
        with pytest.raises(IllegalTransition) as refused:
            decisions.record_satisfaction(requested(status=status), Satisfaction(score=4), OPERATOR)
        assert (refused.value.status, refused.value.event_type) == (
            status,
            "satisfaction.recorded",
        )


def test_only_a_public_report_is_called_back_naming_the_channel() -> None:
    with pytest.raises(Conflict) as supervisor_report:
        decisions.record_satisfaction(
            closed(channel=ReportChannel.SUPERVISOR), Satisfaction(score=5), OPERATOR
        )
    assert supervisor_report.value.detail == (
        "only a public reporter is called back (回访); this case came by supervisor"
    )
    with pytest.raises(Conflict) as unknown:
        decisions.record_satisfaction(closed(channel=None), Satisfaction(score=5), OPERATOR)
    assert unknown.value.detail.endswith("this case came by an unknown channel")


def test_satisfaction_is_recorded_once_naming_when() -> None:
    recorded_at = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    with pytest.raises(Conflict) as again:
        decisions.record_satisfaction(
            closed(satisfaction_recorded_at=recorded_at), Satisfaction(score=1), OPERATOR
        )
    assert again.value.detail == (
        "the reporter's satisfaction was recorded at 2026-11-25T15:00:00+00:00"
    )


# --- react: forwarded feedback sends the grid's supervisor ----------------------------------------


def after_feedback(at: datetime = WEDNESDAY_9, **facts: Any) -> tuple[CheckCase, CaseEvent]:
    """The record as the runtime hands it to ``react``: the feedback already applied."""
    case = fresh()
    forwarded = event(FeedbackForwarded, feedback_payload(**facts), case, at)
    return evolve(case, forwarded), forwarded


@pytest.mark.parametrize(
    ("at", "due_at"),
    [
        (WEDNESDAY_9, datetime(2026, 11, 25, 10, 0, tzinfo=BEIJING)),
        # The lunch break does not count: 30 minutes before it, 30 after.
        (
            datetime(2026, 11, 25, 11, 30, tzinfo=BEIJING),
            datetime(2026, 11, 25, 14, 0, tzinfo=BEIJING),
        ),
        # Friday's last half hour and Monday's first.
        (
            datetime(2026, 11, 27, 17, 0, tzinfo=BEIJING),
            datetime(2026, 11, 30, 9, 0, tzinfo=BEIJING),
        ),
        # Feedback on a Sunday night: due an hour into Monday.
        (
            datetime(2026, 11, 29, 23, 0, tzinfo=BEIJING),
            datetime(2026, 11, 30, 9, 30, tzinfo=BEIJING),
        ),
    ],
)
def test_feedback_sends_the_grids_supervisor_due_within_the_check_limit(
    at: datetime, due_at: datetime
) -> None:
    """The demo city's check limit is one working hour, counted from the feedback; the task
    carries it as its due time and as the check step's deadline."""
    case, forwarded = after_feedback(at)
    assert decisions.react(case, forwarded, REFERENCE) == [
        Draft(
            CheckRequested,
            CheckRequestedPayload(
                supervisor_id=SUPERVISOR,
                due_at=due_at,
                deadlines=(Deadline(step=ClockStep.CHECK, due_at=due_at),),
            ),
        )
    ]


def test_the_check_task_is_the_same_for_the_same_feedback() -> None:
    case, forwarded = after_feedback()
    assert decisions.react(case, forwarded, REFERENCE) == decisions.react(
        case, forwarded, REFERENCE
    )


def test_each_grid_has_its_own_supervisor() -> None:
    case, forwarded = after_feedback(grid_code="370212001001001")
    [draft] = decisions.react(case, forwarded, REFERENCE)
    due_at = datetime(2026, 11, 25, 10, 0, tzinfo=BEIJING)
    assert draft.payload == CheckRequestedPayload(
        supervisor_id="sv-370212-01",
        due_at=due_at,
        deadlines=(Deadline(step=ClockStep.CHECK, due_at=due_at),),
    )


def test_feedback_from_an_unknown_grid_or_none_sends_nobody() -> None:
    for facts in ({"grid_code": "370212999999999"}, {"grid_code": None}):
        case, forwarded = after_feedback(**facts)
        assert decisions.react(case, forwarded, REFERENCE) == []
    old = fresh()
    written_before_the_facts = event(FeedbackForwarded, FeedbackForwardedPayload(), old)
    assert (
        decisions.react(evolve(old, written_before_the_facts), written_before_the_facts, REFERENCE)
        == []
    )


def test_feedback_that_sends_nobody_is_logged_for_someone_to_see_to() -> None:
    """No check list shows such a case: the service's reaction warns, naming case and event."""
    case, forwarded = after_feedback(grid_code="370212999999999")
    with capture_logs() as logs:
        assert RULES.react(case, forwarded, REFERENCE) == []
    assert logs == [
        {
            "event": "check.no_supervisor",
            "log_level": "warning",
            "grid_code": "370212999999999",
            "case_id": str(case.case_id),
            "event_id": str(forwarded.event_id),
            "event_type": "feedback.forwarded",
            "correlation_id": str(forwarded.correlation_id),
        }
    ]
    sent, feedback = after_feedback()
    with capture_logs() as quiet:
        assert RULES.react(sent, feedback, REFERENCE) == decisions.react(sent, feedback, REFERENCE)
    assert quiet == []


def test_only_feedback_is_reacted_to() -> None:
    case = requested()
    voided = event(
        CaseVoided,
        CaseVoidedPayload(reason="重复", requested_by="op-1", approved_by="chief-1"),
        case,
    )
    assert decisions.react(case, voided, REFERENCE) == []
    passed = event(CheckPassed, CheckResultPayload(), case)
    assert decisions.react(case, passed, REFERENCE) == []


# --- time: the check clock ------------------------------------------------------------------------


def test_a_check_task_starts_the_check_clock_towards_its_due_time() -> None:
    case = fresh()
    due_at = WEDNESDAY_9 + timedelta(hours=1)
    task = event(
        CheckRequested, CheckRequestedPayload(supervisor_id=SUPERVISOR, due_at=due_at), case
    )
    assert decisions.time(case, task, REFERENCE) == [
        clock.Start(ClockStep.CHECK, WEDNESDAY_9, due_at)
    ]
    undated = event(CheckRequested, CheckRequestedPayload(supervisor_id=SUPERVISOR), case)
    assert decisions.time(case, undated, REFERENCE) == []


def test_the_result_or_a_voiding_stops_the_check_clock() -> None:
    case = requested()
    at = WEDNESDAY_9 + timedelta(minutes=40)
    for ended in (
        event(CheckPassed, CheckResultPayload(), case, at),
        event(CheckFailed, CheckFailedPayload(reason="仍有垃圾"), case, at),
        event(
            CaseVoided,
            CaseVoidedPayload(reason="重复", requested_by="op-1", approved_by="chief-1"),
            case,
            at,
        ),
    ):
        assert decisions.time(case, ended, REFERENCE) == [clock.Stop(ClockStep.CHECK, at)]


def test_other_events_leave_the_clock_alone() -> None:
    case = requested()
    for other in (
        event(FeedbackForwarded, feedback_payload(), case),
        event(CaseClosed, CaseClosedPayload(), case),
        event(SatisfactionRecorded, SatisfactionRecordedPayload(score=5), case),
    ):
        assert decisions.time(case, other, REFERENCE) == []


# --- evolve ---------------------------------------------------------------------------------------


def test_feedback_brings_what_the_check_needs_to_know_of_the_case() -> None:
    case, _ = after_feedback()
    assert (
        case.case_number,
        case.category_code,
        case.grid_code,
        case.channel,
        case.department_id,
    ) == ("370212E060102026112500001", "06010", GRID, ReportChannel.PUBLIC, DEPARTMENT)
    assert (case.supervisor_id, case.rounds, case.result) == (None, 0, None)


def test_later_feedback_without_facts_keeps_the_ones_known() -> None:
    case, _ = after_feedback()
    again = evolve(
        case, event(FeedbackForwarded, FeedbackForwardedPayload(department_id="other"), case)
    )
    assert (again.case_number, again.category_code, again.grid_code, again.channel) == (
        case.case_number,
        case.category_code,
        case.grid_code,
        case.channel,
    )
    assert again.department_id == "other"


def test_each_check_task_opens_a_round() -> None:
    case, _ = after_feedback()
    due_at = WEDNESDAY_9 + timedelta(hours=1)
    first = evolve(
        case,
        event(CheckRequested, CheckRequestedPayload(supervisor_id=SUPERVISOR, due_at=due_at), case),
    )
    assert (first.supervisor_id, first.requested_at, first.due_at, first.rounds, first.result) == (
        SUPERVISOR,
        WEDNESDAY_9,
        due_at,
        1,
        None,
    )
    failed = evolve(first, event(CheckFailed, CheckFailedPayload(reason="仍有垃圾"), first))
    assert (failed.result, failed.rounds) == (CheckResult.FAILED, 1)
    later = WEDNESDAY_9 + timedelta(days=1)
    second = evolve(
        failed,
        event(
            CheckRequested,
            CheckRequestedPayload(supervisor_id=SUPERVISOR, due_at=later + timedelta(hours=1)),
            failed,
            later,
        ),
    )
    assert (second.rounds, second.result, second.requested_at, second.due_at) == (
        2,
        None,
        later,
        later + timedelta(hours=1),
    )
    passed = evolve(second, event(CheckPassed, CheckResultPayload(), second))
    assert (passed.result, passed.rounds) == (CheckResult.PASSED, 2)


def test_voiding_ends_only_a_pending_check() -> None:
    def voided(case: CheckCase) -> CheckCase:
        payload = CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by="chief-1")
        return evolve(case, event(CaseVoided, payload, case))

    assert voided(requested()).result is CheckResult.VOIDED
    assert voided(requested(result=CheckResult.PASSED)).result is CheckResult.PASSED
    assert voided(requested(result=CheckResult.FAILED)).result is CheckResult.FAILED
    never_sent, _ = after_feedback(grid_code=None)
    assert voided(never_sent) == never_sent


def test_the_call_back_is_noted_and_the_rest_is_unchanged() -> None:
    case = closed()
    at = WEDNESDAY_9 + timedelta(days=2)
    recorded = evolve(
        case, event(SatisfactionRecorded, SatisfactionRecordedPayload(score=5), case, at)
    )
    assert recorded == dataclasses.replace(case, satisfaction_recorded_at=at)
    assert evolve(case, event(CaseClosed, CaseClosedPayload(), case)) == case


def test_evolving_is_deterministic() -> None:
    case = fresh()
    forwarded = event(FeedbackForwarded, feedback_payload(), case)
    assert evolve(case, forwarded) == evolve(case, forwarded)


def test_the_city_entrusts_the_check_to_the_districts_supervisor_of_the_grid() -> None:
    """委托核查: the city's supervision centre sends the district's supervisor, and says so."""
    at_city = evolve(fresh(CITY), event(FeedbackForwarded, feedback_payload(), fresh(CITY)))
    assert at_city is not None
    feedback = event(FeedbackForwarded, feedback_payload(), at_city)

    [city_task] = decisions.react(at_city, feedback, REFERENCE)
    at_district = evolve(fresh(), event(FeedbackForwarded, feedback_payload(), fresh()))
    assert at_district is not None
    [district_task] = decisions.react(
        at_district, event(FeedbackForwarded, feedback_payload(), at_district), REFERENCE
    )

    assert isinstance(city_task.payload, CheckRequestedPayload)
    assert (city_task.payload.supervisor_id, city_task.payload.entrusted_to_site) == (
        SUPERVISOR,
        DISTRICT,
    )
    assert isinstance(district_task.payload, CheckRequestedPayload)
    assert district_task.payload.entrusted_to_site is None
