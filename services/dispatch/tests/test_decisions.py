"""The command centre's rules as plain functions (no broker, no database): what each command
decides or why it is refused, how the record follows the events, what the stage does on its
own when another stage's event arrives, and which clocks every event moves."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import pytest

from cityloop_dispatch import decisions
from cityloop_dispatch.decisions import (
    Dispatch,
    ExtensionDecision,
    FollowUp,
    Redispatch,
    Resume,
    WithReason,
)
from cityloop_dispatch.state import DispatchCase, RequestKind, evolve
from cityloop_dispatch.topology import TOPOLOGY
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.envelope import CaseEvent, Payload
from cityloop_shared.contract.events.casefile import (
    CaseForwardedToCity,
    CaseForwardedToCityPayload,
    CaseRegistered,
    CaseRegisteredPayload,
    CaseVoided,
    CaseVoidedPayload,
    ForwardingAccepted,
    ForwardingAcceptedPayload,
    ForwardingReturned,
    ReasonPayload,
    TimedReasonPayload,
)
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseDispatchedPayload,
    CaseRedispatched,
    CaseRedispatchedPayload,
    CaseReopenedForRework,
    CaseReopenedForReworkPayload,
    ExtensionDecided,
    ExtensionDecidedPayload,
    FeedbackForwarded,
    FeedbackForwardedPayload,
    FollowUpPayload,
    ReminderSent,
    ReturnApproved,
    ReturnRefused,
    SupervisionIssued,
    SuspensionApproved,
    SuspensionRefused,
    SuspensionResumed,
    SuspensionResumedPayload,
)
from cityloop_shared.contract.events.disposal import (
    DisposalCompleted,
    DisposalCompletedPayload,
    ExtensionRequested,
    ExtensionRequestedPayload,
    ReturnRequested,
    SuspensionRequested,
)
from cityloop_shared.contract.events.time_limits import TimeLimitPayload, TimeLimitWarning
from cityloop_shared.contract.events.verification import CheckFailed, CheckFailedPayload
from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.contract.lifecycle import CaseStatus, IllegalTransition
from cityloop_shared.contract.values import (
    CaseLevel,
    Category,
    ClockStep,
    Deadline,
    ReportChannel,
    TimeLimit,
    TimeUnit,
    Urgency,
)
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.responsibility import ResponsibilityMatrix
from cityloop_shared.stage import clocks as clock
from cityloop_shared.stage.decisions import Conflict, Context, Draft, Forbidden, Invalid

S = CaseStatus
E = TypeVar("E", bound=CaseEvent)
REFERENCE = ReferenceData.demo()
SITE = "370212"  # 崂山区
CITY = "370200"  # 青岛市
GRID = "370212003001001"
GARBAGE = "06010"  # 暴露垃圾: 4 working hours to handle
NUMBER = "370212E060102026030400001"
SANITATION = "370212-sanitation"  # what the matrix gives category 06 in 崂山区
STREET_OFFICE = "370212-street-003"  # no upper-level department
BUREAU = "370212-urban"  # upper-level department of the sanitation office
CASE_ID = UUID("01900000-0000-7000-8000-000000000001")
LAST_EVENT = UUID("01900000-0000-7000-8000-000000000002")
CORRELATION = UUID("01900000-0000-7000-8000-000000000003")

# Wednesday 4 March 2026, 10:00 in Qingdao: a working morning, so the counts below can be
# read off the demo calendar (08:30–12:00, 13:30–17:30).
REGISTERED_AT = datetime(2026, 3, 4, 1, 30, tzinfo=UTC)  # 09:30
NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # 10:00
FOUR_HOURS_ON = datetime(2026, 3, 4, 7, 30, tzinfo=UTC)  # 15:30: 2 h before and 2 h after lunch
DEADLINE = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)  # 16:00: in force once a department holds it
HALF_HOUR_ON = datetime(2026, 3, 4, 2, 30, tzinfo=UTC)  # 10:30: the ordinary dispatch limit
TEN_MINUTES_ON = datetime(2026, 3, 4, 2, 10, tzinfo=UTC)  # 10:10: the urgent dispatch limit
LATER = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)  # 14:00: no limit of the demo city from NOW

DISPATCHER = Actor(id="dispatcher-1", role=Role.DISPATCHER, site=SITE)
CHIEF = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=SITE)
SUPERVISOR = Actor(id="sv-370212-03", role=Role.FIELD_SUPERVISOR, site=SITE)
WORKER = Actor(id="sanitation-worker", role=Role.DEPARTMENT, site=SITE, department_id=SANITATION)
SYSTEM = Actor.system(SITE, "dispatch")
CATEGORY = Category(standard=REFERENCE.categories.standard, kind=CaseKind.EVENT, code=GARBAGE)

WITH_DEPARTMENT = [
    S.DISPATCHED,
    S.RETURN_REQUESTED,
    S.IN_DISPOSAL,
    S.EXTENSION_REQUESTED,
    S.SUSPENSION_REQUESTED,
    S.SUSPENDED,
]
"""Where a department holds the case: reminders (催办) and supervision (督办) reach it."""


def registered(**changes: Any) -> DispatchCase:
    """The record of a registered 暴露垃圾 case waiting for dispatch."""
    record = DispatchCase(
        case_id=CASE_ID,
        site=SITE,
        status=S.REGISTERED,
        last_event_id=LAST_EVENT,
        last_occurred_at=REGISTERED_AT,
        correlation_id=CORRELATION,
        case_number=NUMBER,
        category_standard=CATEGORY.standard,
        category_kind=CATEGORY.kind,
        category_code=GARBAGE,
        grid_code=GRID,
        channel=ReportChannel.SUPERVISOR,
        urgency=Urgency.ORDINARY,
        time_limit_amount=4,
        time_limit_unit=TimeUnit.WORKING_HOURS,
        registered_at=REGISTERED_AT,
    )
    return dataclasses.replace(record, **changes)


def with_department(status: CaseStatus = S.DISPATCHED, **changes: Any) -> DispatchCase:
    """The record once the sanitation office holds the case, due at ``DEADLINE``."""
    held = {"department_id": SANITATION, "deadline": DEADLINE}
    return registered(status=status, **(held | changes))


def context(actor: Actor = DISPATCHER, reference: ReferenceData = REFERENCE) -> Context:
    return Context(actor=actor, now=NOW, reference=reference, site=SITE, view=TOPOLOGY.view)


def event(model: type[E], payload: Payload, *, actor: Actor = SYSTEM, at: datetime = NOW) -> E:
    return model.create(
        case_id=CASE_ID, site=SITE, actor=actor, payload=payload, previous=None, occurred_at=at
    )


def registration(
    level: CaseLevel = CaseLevel.DISTRICT,
    urgency: Urgency = Urgency.ORDINARY,
    site: str = SITE,
    deadlines: tuple[Deadline, ...] = (),
) -> CaseRegistered:
    return CaseRegistered.create(
        case_id=CASE_ID,
        site=site,
        actor=CHIEF,
        payload=CaseRegisteredPayload(
            case_number=NUMBER,
            category=CATEGORY,
            grid_code=GRID,
            level=level,
            urgency=urgency,
            time_limit=TimeLimit(amount=4, unit=TimeUnit.WORKING_HOURS),
            channel=ReportChannel.SUPERVISOR,
            deadlines=deadlines,
        ),
        previous=None,
        occurred_at=REGISTERED_AT,
    )


def fresh(site: str = SITE) -> DispatchCase:
    """What the runtime hands ``evolve`` for a case the stage does not hold yet (with the
    registration's moment as ``last_occurred_at``)."""
    return DispatchCase(
        case_id=CASE_ID,
        site=site,
        status=S.REGISTERED,
        last_event_id=LAST_EVENT,
        last_occurred_at=REGISTERED_AT,
        correlation_id=CORRELATION,
    )


def refused_field(refusal: pytest.ExceptionInfo[Invalid]) -> tuple[tuple[str, ...], str]:
    return refusal.value.loc, refusal.value.kind


# --- what the stage follows -------------------------------------------------------------------
def test_the_stage_follows_registration_requests_reports_failed_checks_and_voiding_only() -> None:
    """A case cancelled before registration (注销) never reaches the command centre; a
    forwarded one leaves the district's for the city's, and may come back."""
    assert TOPOLOGY.follows_types == {
        "case.registered",
        "case.forwarded_to_city",
        "forwarding.accepted",
        "return.requested",
        "extension.requested",
        "suspension.requested",
        "disposal.completed",
        "check.failed",
        "case.voided",
    }
    assert "case.cancelled" not in TOPOLOGY.view.applies
    assert {m.type_name() for m in TOPOLOGY.follows_from_city} == {"forwarding.returned"}
    assert {m.type_name() for m in TOPOLOGY.follows_from_districts} == {"case.forwarded_to_city"}
    assert {s.value for s in TOPOLOGY.upstream} == {"casefile", "disposal", "verification"}


# --- 派遣 -----------------------------------------------------------------------------------------
def test_dispatch_goes_to_the_suggested_department_with_the_case_facts() -> None:
    decision = decisions.dispatch(registered(), Dispatch(), context())

    [draft] = decision.events
    assert draft.model is CaseDispatched
    assert draft.payload == CaseDispatchedPayload(
        department_id=SANITATION,
        suggested_department_id=SANITATION,
        deadline=FOUR_HOURS_ON,
        deadlines=(Deadline(step=ClockStep.DISPOSAL, due_at=FOUR_HOURS_ON),),
        instructions=None,
        case_number=NUMBER,
        category=CATEGORY,
        grid_code=GRID,
        channel=ReportChannel.SUPERVISOR,
    )
    assert decision.answer == {"department_id": SANITATION, "deadline": FOUR_HOURS_ON}


def test_the_dispatcher_may_choose_another_department_of_the_site() -> None:
    command = Dispatch(department_id=STREET_OFFICE, instructions="今日清理")
    [draft] = decisions.dispatch(registered(), command, context()).events
    assert isinstance(draft.payload, CaseDispatchedPayload)
    assert (draft.payload.department_id, draft.payload.suggested_department_id) == (
        STREET_OFFICE,
        SANITATION,
    )
    assert draft.payload.instructions == "今日清理"


def test_a_dispatch_is_the_same_decision_for_the_same_case_command_and_moment() -> None:
    command = Dispatch(department_id=STREET_OFFICE)
    first = decisions.dispatch(registered(), command, context())
    again = decisions.dispatch(registered(), command, context())
    assert first == again


def test_the_disposal_limit_counts_from_the_moment_of_dispatch_on_the_working_calendar() -> None:
    """Dispatched at 16:30 on a Friday: one working hour that day, three on Monday morning."""
    friday = datetime(2026, 3, 6, 8, 30, tzinfo=UTC)
    late = Context(actor=DISPATCHER, now=friday, reference=REFERENCE, site=SITE, view=TOPOLOGY.view)
    [draft] = decisions.dispatch(registered(), Dispatch(), late).events
    assert isinstance(draft.payload, CaseDispatchedPayload)
    monday = datetime(2026, 3, 9, 3, 30, tzinfo=UTC)  # Monday 11:30
    assert draft.payload.deadline == monday
    assert draft.payload.deadlines == (Deadline(step=ClockStep.DISPOSAL, due_at=monday),)


@pytest.mark.parametrize(
    ("department_id", "message"),
    [
        ("370212-nowhere", "no department 370212-nowhere"),
        (
            "370202-urban",
            "370202-urban (市南区城市管理局) takes dispatches from site 370202's command centre, "
            "not from 370212's",
        ),
        (
            "370200-water",
            "370200-water (青岛市水务管理局) takes dispatches from site 370200's command centre, "
            "not from 370212's",
        ),
    ],
)
def test_a_dispatch_to_an_unknown_or_another_sites_department_is_invalid(
    department_id: str, message: str
) -> None:
    with pytest.raises(Invalid) as refusal:
        decisions.dispatch(registered(), Dispatch(department_id=department_id), context())
    assert refused_field(refusal) == (("body", "department_id"), "invalid_department")
    assert refusal.value.detail == message


def test_without_a_suggestion_the_dispatcher_must_name_the_department() -> None:
    no_matrix = dataclasses.replace(
        REFERENCE, responsibility=ResponsibilityMatrix((), REFERENCE.departments)
    )
    with pytest.raises(Invalid) as refusal:
        decisions.dispatch(registered(), Dispatch(), context(reference=no_matrix))
    assert refused_field(refusal) == (("body", "department_id"), "invalid_department")
    assert "suggests no department" in refusal.value.detail

    named = decisions.dispatch(
        registered(), Dispatch(department_id=SANITATION), context(reference=no_matrix)
    )
    [draft] = named.events
    assert isinstance(draft.payload, CaseDispatchedPayload)
    assert (draft.payload.department_id, draft.payload.suggested_department_id) == (
        SANITATION,
        None,
    )


@pytest.mark.parametrize("status", [S.DISPATCHED, S.AWAITING_REDISPATCH, S.VOIDED, S.REWORK])
def test_only_a_registered_case_is_dispatched(status: CaseStatus) -> None:
    """A returned case is re-dispatched (改派), never dispatched again."""
    with pytest.raises(IllegalTransition) as refusal:
        decisions.dispatch(with_department(status), Dispatch(), context())
    assert (refusal.value.status, refusal.value.event_type) == (status, "case.dispatched")


def test_a_case_without_a_disposal_time_limit_cannot_be_given_a_deadline() -> None:
    unregistered = registered(time_limit_amount=None, time_limit_unit=None)
    with pytest.raises(Conflict, match="has no disposal time limit"):
        decisions.dispatch(unregistered, Dispatch(), context())


# --- 回退, 改派 -----------------------------------------------------------------------------------
def test_a_return_is_approved_or_refused_with_the_dispatchers_reason() -> None:
    """Whether the case may take the answer is the lifecycle's to say when the runtime applies
    it (409 otherwise, see the integration tests); the decision only drafts it."""
    case = with_department(S.RETURN_REQUESTED, resume_to=S.DISPATCHED)
    approved = decisions.approve_return(case, WithReason(reason="属街道职责"), context())
    refused = decisions.refuse_return(case, WithReason(reason="环卫所职责"), context())
    # The case waits for 改派 within the ordinary dispatch limit: 30 working minutes.
    assert approved.events == [
        Draft(
            ReturnApproved,
            TimedReasonPayload(
                reason="属街道职责",
                deadlines=(Deadline(step=ClockStep.DISPATCH, due_at=HALF_HOUR_ON),),
            ),
        )
    ]
    assert refused.events == [Draft(ReturnRefused, ReasonPayload(reason="环卫所职责"))]


def test_an_approved_return_of_an_urgent_case_is_due_for_redispatch_sooner() -> None:
    case = with_department(S.RETURN_REQUESTED, resume_to=S.DISPATCHED, urgency=Urgency.URGENT)
    [draft] = decisions.approve_return(case, WithReason(reason="属街道职责"), context()).events
    assert isinstance(draft.payload, TimedReasonPayload)
    assert draft.payload.deadlines == (Deadline(step=ClockStep.DISPATCH, due_at=TEN_MINUTES_ON),)


def test_a_returned_case_is_redispatched_to_another_department_with_a_fresh_limit() -> None:
    case = with_department(S.AWAITING_REDISPATCH)
    command = Redispatch(department_id=STREET_OFFICE, reason="属街道职责")
    decision = decisions.redispatch(case, command, context())
    assert decision.events == [
        Draft(
            CaseRedispatched,
            CaseRedispatchedPayload(
                department_id=STREET_OFFICE,
                previous_department_id=SANITATION,
                deadline=FOUR_HOURS_ON,
                deadlines=(Deadline(step=ClockStep.DISPOSAL, due_at=FOUR_HOURS_ON),),
                reason="属街道职责",
            ),
        )
    ]
    assert decision.answer == {"department_id": STREET_OFFICE, "deadline": FOUR_HOURS_ON}
    assert decisions.redispatch(case, command, context()) == decision


@pytest.mark.parametrize(
    ("department_id", "message"),
    [
        (SANITATION, f"{SANITATION} returned the case: re-dispatch it to another department"),
        ("370212-nowhere", "no department 370212-nowhere"),
        ("370203-sanitation", "takes dispatches from site 370203's command centre"),
    ],
)
def test_a_redispatch_to_the_returning_an_unknown_or_another_sites_department_is_invalid(
    department_id: str, message: str
) -> None:
    case = with_department(S.AWAITING_REDISPATCH)
    with pytest.raises(Invalid) as refusal:
        decisions.redispatch(
            case, Redispatch(department_id=department_id, reason="改派"), context()
        )
    assert refused_field(refusal) == (("body", "department_id"), "invalid_department")
    assert message in refusal.value.detail


def test_only_a_case_whose_return_was_approved_is_redispatched() -> None:
    with pytest.raises(IllegalTransition) as refusal:
        decisions.redispatch(
            with_department(), Redispatch(department_id=STREET_OFFICE, reason="改派"), context()
        )
    assert (refusal.value.status, refusal.value.event_type) == (S.DISPATCHED, "case.redispatched")


# --- 延期 -----------------------------------------------------------------------------------------
PROPOSED = DEADLINE + timedelta(days=1)


def extension_requested() -> DispatchCase:
    return with_department(
        S.EXTENSION_REQUESTED,
        request=RequestKind.EXTENSION,
        request_reason="需调运大型设备",
        proposed_deadline=PROPOSED,
        requested_by=WORKER.id,
        requested_at=NOW,
    )


def test_an_approved_extension_takes_the_proposed_deadline_by_default() -> None:
    decision = decisions.decide_extension(
        extension_requested(), ExtensionDecision(approved=True), context()
    )
    assert decision.events == [
        Draft(ExtensionDecided, ExtensionDecidedPayload(approved=True, deadline=PROPOSED))
    ]
    assert decision.answer == {"approved": True, "deadline": PROPOSED}


def test_an_approved_extension_may_set_a_deadline_of_the_dispatchers_own() -> None:
    own = DEADLINE + timedelta(hours=5)
    command = ExtensionDecision(approved=True, deadline=own, reason="给半天")
    [draft] = decisions.decide_extension(extension_requested(), command, context()).events
    assert draft.payload == ExtensionDecidedPayload(approved=True, deadline=own, reason="给半天")


def test_a_refused_extension_keeps_the_deadline_in_force() -> None:
    command = ExtensionDecision(approved=False, reason="可按期完成")
    decision = decisions.decide_extension(extension_requested(), command, context())
    assert decision.events == [
        Draft(
            ExtensionDecided,
            ExtensionDecidedPayload(approved=False, deadline=DEADLINE, reason="可按期完成"),
        )
    ]
    assert decision.answer == {"approved": False, "deadline": DEADLINE}


@pytest.mark.parametrize(
    ("case", "command", "message"),
    [
        (
            extension_requested(),
            ExtensionDecision(approved=False, deadline=PROPOSED),
            "a refused extension keeps the deadline in force",
        ),
        (
            extension_requested(),
            ExtensionDecision(approved=True, deadline=DEADLINE),
            f"an extension moves the deadline past {DEADLINE.isoformat()}",
        ),
        (
            extension_requested(),
            ExtensionDecision(approved=True, deadline=DEADLINE - timedelta(hours=1)),
            f"an extension moves the deadline past {DEADLINE.isoformat()}",
        ),
        (
            dataclasses.replace(extension_requested(), proposed_deadline=None),
            ExtensionDecision(approved=True),
            "no proposed deadline is known: give one",
        ),
    ],
    ids=["refused-with-a-deadline", "approved-to-the-same", "approved-earlier", "none-known"],
)
def test_an_extension_deadline_that_does_not_extend_is_invalid(
    case: DispatchCase, command: ExtensionDecision, message: str
) -> None:
    with pytest.raises(Invalid) as refusal:
        decisions.decide_extension(case, command, context())
    assert refused_field(refusal) == (("body", "deadline"), "invalid_deadline")
    assert refusal.value.detail == message


def test_an_extension_is_decided_only_while_one_is_requested() -> None:
    with pytest.raises(IllegalTransition) as refusal:
        decisions.decide_extension(with_department(), ExtensionDecision(approved=True), context())
    assert (refusal.value.status, refusal.value.event_type) == (S.DISPATCHED, "extension.decided")


# --- 挂账 -----------------------------------------------------------------------------------------
def test_a_suspension_is_approved_or_refused_with_the_dispatchers_reason() -> None:
    """As with a return, the lifecycle check is the runtime's when it applies the answer."""
    case = with_department(S.SUSPENSION_REQUESTED, request=RequestKind.SUSPENSION)
    approved = decisions.approve_suspension(case, WithReason(reason="纳入问题库"), context())
    refused = decisions.refuse_suspension(case, WithReason(reason="可先行处置"), context())
    assert approved.events == [Draft(SuspensionApproved, ReasonPayload(reason="纳入问题库"))]
    assert refused.events == [Draft(SuspensionRefused, ReasonPayload(reason="可先行处置"))]


def test_resumption_adds_back_the_working_time_left_at_suspension() -> None:
    """Suspended at 09:30 with the deadline at 16:00 (5 working hours left: 2.5 before lunch,
    2.5 after), resumed on the next Monday at 10:00: due 5 working hours later, at 16:30."""
    suspended = with_department(S.SUSPENDED, suspended_at=REGISTERED_AT)
    monday = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    ctx = Context(actor=DISPATCHER, now=monday, reference=REFERENCE, site=SITE, view=TOPOLOGY.view)

    decision = decisions.resume(suspended, Resume(reason="工程完工"), ctx)

    due = datetime(2026, 3, 9, 8, 30, tzinfo=UTC)
    assert decision.events == [
        Draft(SuspensionResumed, SuspensionResumedPayload(deadline=due, reason="工程完工"))
    ]
    assert decision.answer == {"deadline": due}
    assert decisions.resume(suspended, Resume(reason="工程完工"), ctx) == decision


def test_a_case_suspended_past_its_deadline_resumes_with_no_time_left() -> None:
    overdue = with_department(S.SUSPENDED, suspended_at=DEADLINE + timedelta(hours=1))
    [draft] = decisions.resume(overdue, Resume(), context()).events
    assert draft.payload == SuspensionResumedPayload(deadline=NOW)


def test_only_a_suspended_case_is_resumed() -> None:
    with pytest.raises(IllegalTransition) as refusal:
        decisions.resume(with_department(S.IN_DISPOSAL), Resume(), context())
    assert (refusal.value.status, refusal.value.event_type) == (S.IN_DISPOSAL, "suspension.resumed")


# --- 催办, 督办 -----------------------------------------------------------------------------------
@pytest.mark.parametrize("status", WITH_DEPARTMENT)
@pytest.mark.parametrize(
    ("decide", "model"),
    [(decisions.remind, ReminderSent), (decisions.supervise, SupervisionIssued)],
    ids=["reminder", "supervision"],
)
def test_reminders_and_supervision_reach_the_department_holding_the_case(
    decide: Any, model: type[CaseEvent], status: CaseStatus
) -> None:
    decision = decide(with_department(status), FollowUp(message="请尽快处理"), context())
    assert decision.events == [
        Draft(model, FollowUpPayload(message="请尽快处理", department_id=SANITATION))
    ]
    assert decision.answer == {"department_id": SANITATION}


@pytest.mark.parametrize(
    "status",
    [S.REGISTERED, S.AWAITING_REDISPATCH, S.DISPOSED, S.FEEDBACK_FORWARDED, S.REWORK, S.VOIDED],
)
@pytest.mark.parametrize(
    ("decide", "event_type"),
    [(decisions.remind, "reminder.sent"), (decisions.supervise, "supervision.issued")],
    ids=["reminder", "supervision"],
)
def test_nobody_is_urged_while_no_department_holds_the_case(
    decide: Any, event_type: str, status: CaseStatus
) -> None:
    """Before dispatch, after a return, once the department has reported back (the case is
    with the supervision centre), and at the end."""
    with pytest.raises(IllegalTransition) as refusal:
        decide(with_department(status), FollowUp(message="请尽快处理"), context())
    assert (refusal.value.status, refusal.value.event_type) == (status, event_type)


@pytest.mark.parametrize(
    "actor",
    [
        Actor(id="bureau-1", role=Role.UPPER_DEPARTMENT, site=SITE, department_id=BUREAU),
        Actor(id="city-1", role=Role.UPPER_DEPARTMENT, site=CITY, department_id="370200-urban"),
    ],
    ids=["district-bureau", "city-bureau"],
)
def test_an_upper_department_urges_its_subordinates_cases(actor: Actor) -> None:
    decision = decisions.supervise(
        with_department(), FollowUp(message="限今日办结"), context(actor)
    )
    assert decision.events == [
        Draft(SupervisionIssued, FollowUpPayload(message="限今日办结", department_id=SANITATION))
    ]


@pytest.mark.parametrize(
    ("actor", "case", "message"),
    [
        (
            Actor(id="bureau-1", role=Role.UPPER_DEPARTMENT, site=SITE, department_id=BUREAU),
            with_department(department_id=STREET_OFFICE),
            f"department {STREET_OFFICE} is not under department {BUREAU}",
        ),
        (
            Actor(id="bureau-2", role=Role.UPPER_DEPARTMENT, site=SITE),
            with_department(),
            "the actor's token names no department",
        ),
        (
            Actor(id="bureau-3", role=Role.UPPER_DEPARTMENT, site=SITE, department_id="dissolved"),
            with_department(),
            f"department {SANITATION} is not under department dissolved",
        ),
        (
            Actor(id="s-1", role=Role.UPPER_DEPARTMENT, site=SITE, department_id=SANITATION),
            with_department(),
            f"department {SANITATION} is not under department {SANITATION}",
        ),
    ],
    ids=["not-a-subordinate", "no-department", "unknown-department", "itself"],
)
def test_an_upper_department_may_not_urge_cases_outside_its_oversight(
    actor: Actor, case: DispatchCase, message: str
) -> None:
    for decide in (decisions.remind, decisions.supervise):
        with pytest.raises(Forbidden) as refusal:
            decide(case, FollowUp(message="催办"), context(actor))
        assert refusal.value.detail.startswith(message)


# --- reactions ------------------------------------------------------------------------------------
def completion() -> DisposalCompleted:
    return event(
        DisposalCompleted,
        DisposalCompletedPayload(department_id=SANITATION, description="已清运"),
        actor=WORKER,
    )


def test_a_completed_disposal_is_forwarded_with_the_case_facts_and_the_department() -> None:
    """处理反馈: the supervision centre learns what it needs without following registration."""
    drafts = decisions.react(with_department(S.DISPOSED), completion(), REFERENCE)
    assert drafts == [
        Draft(
            FeedbackForwarded,
            FeedbackForwardedPayload(
                department_id=SANITATION,
                case_number=NUMBER,
                category=CATEGORY,
                grid_code=GRID,
                channel=ReportChannel.SUPERVISOR,
            ),
        )
    ]


def test_a_failed_check_reopens_the_case_for_the_same_department_from_the_checks_moment() -> None:
    """返工: the fresh limit counts from when the check failed, not from when it arrived."""
    failed = event(CheckFailed, CheckFailedPayload(reason="垃圾仍在"), actor=SUPERVISOR)
    case = with_department(S.REWORK)
    drafts = decisions.react(case, failed, REFERENCE)
    assert drafts == [
        Draft(
            CaseReopenedForRework,
            CaseReopenedForReworkPayload(
                department_id=SANITATION,
                deadline=FOUR_HOURS_ON,
                reason="垃圾仍在",
                deadlines=(Deadline(step=ClockStep.DISPOSAL, due_at=FOUR_HOURS_ON),),
            ),
        )
    ]
    assert decisions.react(case, failed, REFERENCE) == drafts


def test_a_failed_check_of_a_case_no_department_held_decides_nothing() -> None:
    failed = event(CheckFailed, CheckFailedPayload(reason="垃圾仍在"), actor=SUPERVISOR)
    assert decisions.react(registered(status=S.REWORK), failed, REFERENCE) == []


@pytest.mark.parametrize(
    "received",
    [
        registration(),
        event(ReturnRequested, ReasonPayload(reason="非本单位职责"), actor=WORKER),
        event(SuspensionRequested, ReasonPayload(reason="待施工"), actor=WORKER),
        event(
            CaseVoided,
            CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by=CHIEF.id),
            actor=CHIEF,
        ),
    ],
    ids=lambda e: e.event_type,
)
def test_other_events_decide_nothing_on_their_own(received: CaseEvent) -> None:
    assert decisions.react(with_department(), received, REFERENCE) == []


# --- clocks ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("urgency", "minutes"), [(Urgency.ORDINARY, 30), (Urgency.URGENT, 10)], ids=str
)
def test_the_dispatch_clock_starts_at_registration_with_the_urgencys_limit(
    urgency: Urgency, minutes: int
) -> None:
    case = registered(urgency=urgency)
    changes = decisions.time(case, registration(urgency=urgency), REFERENCE)
    due = REGISTERED_AT + timedelta(minutes=minutes)
    assert changes == [clock.Start(ClockStep.DISPATCH, REGISTERED_AT, due)]


def test_dispatch_stops_the_dispatch_clock_and_starts_the_disposal_clock() -> None:
    dispatched = event(
        CaseDispatched,
        CaseDispatchedPayload(department_id=SANITATION, deadline=FOUR_HOURS_ON),
        actor=DISPATCHER,
    )
    assert decisions.time(with_department(), dispatched, REFERENCE) == [
        clock.Stop(ClockStep.DISPATCH, NOW),
        clock.Start(ClockStep.DISPOSAL, NOW, FOUR_HOURS_ON),
    ]
    redispatched = event(
        CaseRedispatched,
        CaseRedispatchedPayload(
            department_id=STREET_OFFICE,
            previous_department_id=SANITATION,
            deadline=FOUR_HOURS_ON,
            reason="改派",
        ),
        actor=DISPATCHER,
    )
    assert decisions.time(with_department(), redispatched, REFERENCE) == [
        clock.Stop(ClockStep.DISPATCH, NOW),
        clock.Start(ClockStep.DISPOSAL, NOW, FOUR_HOURS_ON),
    ]


def test_an_approved_return_stops_the_disposal_clock_and_restarts_the_dispatch_clock() -> None:
    """Towards the deadline the approval carries, not what the time limits give (10:30)."""
    carried = (Deadline(step=ClockStep.DISPATCH, due_at=LATER),)
    approved = event(
        ReturnApproved,
        TimedReasonPayload(reason="属街道职责", deadlines=carried),
        actor=DISPATCHER,
    )
    assert decisions.time(with_department(S.AWAITING_REDISPATCH), approved, REFERENCE) == [
        clock.Stop(ClockStep.DISPOSAL, NOW),
        clock.Start(ClockStep.DISPATCH, NOW, LATER),
    ]


def test_an_approved_return_without_a_deadline_has_its_dispatch_clock_computed() -> None:
    """A version 1 approval carried no deadline: 30 working minutes, as then."""
    approved = event(ReturnApproved, TimedReasonPayload(reason="属街道职责"), actor=DISPATCHER)
    assert decisions.time(with_department(S.AWAITING_REDISPATCH), approved, REFERENCE) == [
        clock.Stop(ClockStep.DISPOSAL, NOW),
        clock.Start(ClockStep.DISPATCH, NOW, HALF_HOUR_ON),
    ]


def test_the_approval_decided_is_the_deadline_its_clock_runs_to() -> None:
    """What approve_return writes, ``time`` reads back: one deadline, decided once."""
    case = with_department(S.RETURN_REQUESTED, resume_to=S.DISPATCHED)
    [draft] = decisions.approve_return(case, WithReason(reason="属街道职责"), context()).events
    assert isinstance(draft.payload, TimedReasonPayload)
    approved = event(ReturnApproved, draft.payload, actor=DISPATCHER)
    [_, start] = decisions.time(with_department(S.AWAITING_REDISPATCH), approved, REFERENCE)
    assert start == clock.Start(ClockStep.DISPATCH, NOW, HALF_HOUR_ON)


def test_registration_and_the_city_duty_chiefs_answers_start_the_dispatch_clock_they_carry() -> (
    None
):
    carried = (Deadline(step=ClockStep.DISPATCH, due_at=LATER),)
    overall = Deadline(step=ClockStep.OVERALL, due_at=LATER + timedelta(days=7))
    registered_event = registration(deadlines=(*carried, overall))
    passed_on = event(ForwardingAccepted, ForwardingAcceptedPayload(deadlines=carried))
    sent_back = event(
        ForwardingReturned, TimedReasonPayload(reason="属区级问题", deadlines=carried)
    )
    assert decisions.time(registered(), registered_event, REFERENCE) == [
        clock.Start(ClockStep.DISPATCH, REGISTERED_AT, LATER)
    ]
    for answer in (passed_on, sent_back):
        assert decisions.time(registered(), answer, REFERENCE) == [
            clock.Start(ClockStep.DISPATCH, NOW, LATER)
        ]


def test_rework_restarts_the_disposal_clock_towards_its_deadline() -> None:
    reopened = event(
        CaseReopenedForRework,
        CaseReopenedForReworkPayload(
            department_id=SANITATION, deadline=FOUR_HOURS_ON, reason="垃圾仍在"
        ),
    )
    assert decisions.time(with_department(), reopened, REFERENCE) == [
        clock.Start(ClockStep.DISPOSAL, NOW, FOUR_HOURS_ON)
    ]


def test_an_approved_extension_moves_the_disposal_deadline_and_a_refused_one_does_not() -> None:
    approved = event(ExtensionDecided, ExtensionDecidedPayload(approved=True, deadline=PROPOSED))
    refused = event(ExtensionDecided, ExtensionDecidedPayload(approved=False, deadline=DEADLINE))
    assert decisions.time(with_department(S.IN_DISPOSAL), approved, REFERENCE) == [
        clock.Move(ClockStep.DISPOSAL, PROPOSED)
    ]
    assert decisions.time(with_department(S.IN_DISPOSAL), refused, REFERENCE) == []


def test_suspension_pauses_the_disposal_clock_and_resumption_runs_it_again() -> None:
    approved = event(SuspensionApproved, ReasonPayload(reason="纳入问题库"))
    resumed = event(SuspensionResumed, SuspensionResumedPayload(deadline=PROPOSED))
    assert decisions.time(with_department(S.SUSPENDED), approved, REFERENCE) == [
        clock.Suspend(ClockStep.DISPOSAL, NOW)
    ]
    assert decisions.time(with_department(S.IN_DISPOSAL), resumed, REFERENCE) == [
        clock.Resume(ClockStep.DISPOSAL, NOW, PROPOSED)
    ]


def test_the_departments_report_stops_the_disposal_clock_and_voiding_stops_both() -> None:
    voided = event(
        CaseVoided,
        CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by=CHIEF.id),
        actor=CHIEF,
    )
    assert decisions.time(with_department(S.DISPOSED), completion(), REFERENCE) == [
        clock.Stop(ClockStep.DISPOSAL, NOW)
    ]
    assert decisions.time(with_department(S.VOIDED), voided, REFERENCE) == [
        clock.Stop(ClockStep.DISPATCH, NOW),
        clock.Stop(ClockStep.DISPOSAL, NOW),
    ]


@pytest.mark.parametrize(
    "received",
    [
        event(ReturnRequested, ReasonPayload(reason="非本单位职责"), actor=WORKER),
        event(ReturnRefused, ReasonPayload(reason="环卫所职责"), actor=DISPATCHER),
        event(SuspensionRefused, ReasonPayload(reason="可先行处置"), actor=DISPATCHER),
        event(
            ReminderSent,
            FollowUpPayload(message="催办", department_id=SANITATION),
            actor=DISPATCHER,
        ),
        event(TimeLimitWarning, TimeLimitPayload(step=ClockStep.DISPOSAL, deadline=DEADLINE)),
    ],
    ids=lambda e: e.event_type,
)
def test_requests_refusals_and_follow_ups_leave_the_clocks_alone(received: CaseEvent) -> None:
    """A refused return or suspension: the department's clock has kept running all along."""
    assert decisions.time(with_department(), received, REFERENCE) == []


# --- the record -----------------------------------------------------------------------------------
def test_registration_opens_the_record_with_the_case_facts_and_its_disposal_limit() -> None:
    record = evolve(fresh(), registration(urgency=Urgency.URGENT))
    assert record == dataclasses.replace(
        fresh(),
        case_number=NUMBER,
        category_standard=CATEGORY.standard,
        category_kind=CaseKind.EVENT,
        category_code=GARBAGE,
        grid_code=GRID,
        channel=ReportChannel.SUPERVISOR,
        urgency=Urgency.URGENT,
        time_limit_amount=4,
        time_limit_unit=TimeUnit.WORKING_HOURS,
        registered_at=REGISTERED_AT,
    )
    assert record is not None
    assert record.category == CATEGORY


def test_a_city_level_case_is_not_taken_up_by_a_districts_command_centre() -> None:
    """A city department's problem (市级案件): the city's command centre dispatches it."""
    assert evolve(fresh(), registration(level=CaseLevel.CITY)) is None


def forwarding(site: str = SITE) -> CaseForwardedToCity:
    return CaseForwardedToCity.create(
        case_id=CASE_ID,
        site=site,
        actor=CHIEF,
        payload=CaseForwardedToCityPayload(
            city_site=CITY,
            reason="市级道路设施",
            case_number=NUMBER,
            category=CATEGORY,
            grid_code=GRID,
            time_limit=TimeLimit(amount=4, unit=TimeUnit.WORKING_HOURS),
            channel=ReportChannel.SUPERVISOR,
        ),
        previous=None,
        occurred_at=REGISTERED_AT,
    )


def test_a_forwarded_case_waits_for_the_city_duty_chief_then_for_the_dispatcher() -> None:
    """At the city the forwarding brings what dispatch needs; 批转 puts it in the queue. At
    the district the same goes for a case the city sent back (退回)."""
    forwarded = evolve(dataclasses.replace(fresh(CITY), status=S.FORWARDED_TO_CITY), forwarding())
    assert forwarded is not None
    assert (forwarded.case_number, forwarded.category, forwarded.registered_at) == (
        NUMBER,
        CATEGORY,
        None,
    )
    assert forwarded.time_limit_amount == 4
    passed_on = event(ForwardingAccepted, ForwardingAcceptedPayload(), at=NOW)
    queued = evolve(forwarded, passed_on)
    assert queued is not None
    assert queued.registered_at == NOW
    assert decisions.time(forwarded, forwarding(), REFERENCE) == [
        clock.Stop(ClockStep.DISPATCH, REGISTERED_AT)
    ]
    [start] = decisions.time(queued, passed_on, REFERENCE)
    assert isinstance(start, clock.Start)
    assert (start.step, start.at) == (ClockStep.DISPATCH, NOW)
    sent_back = event(ForwardingReturned, TimedReasonPayload(reason="属区级问题"), at=NOW)
    [restart] = decisions.time(forwarded, sent_back, REFERENCE)
    assert isinstance(restart, clock.Start)
    assert restart.step is ClockStep.DISPATCH


def test_a_city_level_case_is_taken_up_by_the_citys_command_centre() -> None:
    record = evolve(fresh(CITY), registration(level=CaseLevel.CITY, site=CITY))
    assert record is not None
    assert (record.case_number, record.category_code) == (NUMBER, GARBAGE)


def test_a_dispatch_puts_the_case_with_the_department_and_answers_any_request() -> None:
    dispatched = event(
        CaseDispatched,
        CaseDispatchedPayload(department_id=SANITATION, deadline=FOUR_HOURS_ON),
        actor=DISPATCHER,
    )
    assert evolve(registered(), dispatched) == registered(
        department_id=SANITATION, deadline=FOUR_HOURS_ON
    )

    returned = dataclasses.replace(
        with_department(S.AWAITING_REDISPATCH),
        request=RequestKind.RETURN,
        request_reason="非本单位职责",
        requested_by=WORKER.id,
        requested_at=REGISTERED_AT,
    )
    redispatched = event(
        CaseRedispatched,
        CaseRedispatchedPayload(
            department_id=STREET_OFFICE,
            previous_department_id=SANITATION,
            deadline=PROPOSED,
            reason="属街道职责",
        ),
        actor=DISPATCHER,
    )
    assert evolve(returned, redispatched) == dataclasses.replace(
        with_department(S.AWAITING_REDISPATCH),
        department_id=STREET_OFFICE,
        deadline=PROPOSED,
    )


def test_rework_gives_the_case_back_to_its_department_with_a_new_deadline() -> None:
    reopened = event(
        CaseReopenedForRework,
        CaseReopenedForReworkPayload(department_id=SANITATION, deadline=PROPOSED, reason="仍在"),
    )
    assert evolve(with_department(S.REWORK), reopened) == with_department(
        S.REWORK, deadline=PROPOSED
    )


@pytest.mark.parametrize(
    ("request_event", "kind", "proposed"),
    [
        (event(ReturnRequested, ReasonPayload(reason="理由"), actor=WORKER), "return", None),
        (
            event(SuspensionRequested, ReasonPayload(reason="理由"), actor=WORKER),
            "suspension",
            None,
        ),
        (
            event(
                ExtensionRequested,
                ExtensionRequestedPayload(proposed_deadline=PROPOSED, reason="理由"),
                actor=WORKER,
            ),
            "extension",
            PROPOSED,
        ),
    ],
    ids=["return", "suspension", "extension"],
)
def test_a_departments_request_is_recorded_for_the_dispatcher(
    request_event: CaseEvent, kind: str, proposed: datetime | None
) -> None:
    record = evolve(with_department(), request_event)
    assert record == with_department(
        request=RequestKind(kind),
        request_reason="理由",
        proposed_deadline=proposed,
        requested_by=WORKER.id,
        requested_at=NOW,
    )


def pending(kind: RequestKind) -> DispatchCase:
    return with_department(
        request=kind,
        request_reason="理由",
        proposed_deadline=PROPOSED if kind is RequestKind.EXTENSION else None,
        requested_by=WORKER.id,
        requested_at=REGISTERED_AT,
    )


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (event(ReturnApproved, TimedReasonPayload(reason="同意")), RequestKind.RETURN),
        (event(ReturnRefused, ReasonPayload(reason="不同意")), RequestKind.RETURN),
        (event(SuspensionRefused, ReasonPayload(reason="不同意")), RequestKind.SUSPENSION),
        (
            event(
                CaseVoided,
                CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by=CHIEF.id),
                actor=CHIEF,
            ),
            RequestKind.SUSPENSION,
        ),
        (
            event(ExtensionDecided, ExtensionDecidedPayload(approved=False, deadline=DEADLINE)),
            RequestKind.EXTENSION,
        ),
    ],
    ids=lambda value: value.event_type if isinstance(value, CaseEvent) else str(value),
)
def test_an_answer_or_the_end_of_the_case_leaves_no_request_open(
    answer: CaseEvent, kind: RequestKind
) -> None:
    """The department keeps the case and its deadline; only the request is gone."""
    assert evolve(pending(kind), answer) == with_department()


def test_an_approved_extension_moves_the_deadline_in_force() -> None:
    approved = event(ExtensionDecided, ExtensionDecidedPayload(approved=True, deadline=PROPOSED))
    assert evolve(pending(RequestKind.EXTENSION), approved) == with_department(deadline=PROPOSED)


def test_suspension_is_recorded_when_approved_and_cleared_on_resumption() -> None:
    approved = event(SuspensionApproved, ReasonPayload(reason="纳入问题库"))
    suspended = evolve(pending(RequestKind.SUSPENSION), approved)
    assert suspended == with_department(suspended_at=NOW)

    later = DEADLINE + timedelta(days=10)
    resumed = event(SuspensionResumed, SuspensionResumedPayload(deadline=later))
    assert suspended is not None
    assert evolve(suspended, resumed) == with_department(deadline=later)


@pytest.mark.parametrize(
    "received",
    [
        event(
            ReminderSent,
            FollowUpPayload(message="催办", department_id=SANITATION),
            actor=DISPATCHER,
        ),
        event(FeedbackForwarded, FeedbackForwardedPayload(department_id=SANITATION)),
        completion(),
        event(CheckFailed, CheckFailedPayload(reason="仍在"), actor=SUPERVISOR),
    ],
    ids=lambda e: e.event_type,
)
def test_events_that_change_nothing_of_the_record_leave_it_as_it_was(received: CaseEvent) -> None:
    """The runtime has moved the case's status already; these add no field of dispatch's own."""
    assert evolve(with_department(), received) == with_department()
