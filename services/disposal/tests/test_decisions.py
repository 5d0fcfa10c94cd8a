"""The departments' stage as pure functions, with no database or broker: each decision
(签收, 回退/延期/挂账申请, 处置完成) and its refusals, the task record as events evolve it,
and what disposal leaves to others (no reactions, no clocks of its own).

Events are applied here as the stage's transaction applies them: the lifecycle as disposal
sees it moves the case (``receive`` for another stage's event, ``decide`` for its own), then
``evolve`` fills the task.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel, ValidationError

from cityloop_disposal import decisions
from cityloop_disposal.app import RULES
from cityloop_disposal.decisions import Accept, Complete, RequestExtension, WithReason
from cityloop_disposal.state import TO_DO, DisposalCase, PendingRequest, TaskState, evolve
from cityloop_disposal.topology import TOPOLOGY
from cityloop_shared.contract import Actor, CaseEvent, CaseKind, IllegalTransition, Role, Stage
from cityloop_shared.contract.envelope import Payload
from cityloop_shared.contract.events.casefile import (
    CaseVoided,
    CaseVoidedPayload,
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
    ReturnApproved,
    ReturnRefused,
    SuspensionApproved,
    SuspensionRefused,
    SuspensionResumed,
    SuspensionResumedPayload,
)
from cityloop_shared.contract.events.disposal import (
    DisposalAccepted,
    DisposalAcceptedPayload,
    DisposalCompleted,
    DisposalCompletedPayload,
    ExtensionRequested,
    ExtensionRequestedPayload,
    ReturnRequested,
    SuspensionRequested,
)
from cityloop_shared.contract.lifecycle import CaseStatus
from cityloop_shared.contract.topics import event_topic
from cityloop_shared.contract.values import Attachment, Category
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.stage.decisions import Conflict, Context, Decision, Draft, Forbidden, Invalid

REFERENCE = ReferenceData.demo()
SITE = "370212"
CASE_ID = UUID("6f1c2a3b-0000-4000-8000-000000000001")
GRID = "370212003001001"
CASE_NUMBER = "370212E060012026112500001"
CATEGORY = Category(standard="GB/T 47678.5-2026", kind=CaseKind.EVENT, code="06001")
STREET_1 = "370212-street-001"
STREET_2 = "370212-street-002"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(days=2)
PHOTO = Attachment(uri="https://media.cityloop.example/done/1.jpg", media_type="image/jpeg")

DISPATCHER = Actor(id="dispatcher-1", role=Role.DISPATCHER, site=SITE)
CHIEF = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=SITE)


def staff(department_id: str | None = STREET_1) -> Actor:
    return Actor(
        id=f"staff-{department_id}", role=Role.DEPARTMENT, site=SITE, department_id=department_id
    )


def context(actor: Actor | None = None) -> Context:
    return Context(
        actor=actor or staff(),
        now=T0 + timedelta(hours=1),
        reference=REFERENCE,
        site=SITE,
        view=TOPOLOGY.view,
    )


def made(
    model: type[CaseEvent], payload: Payload, at: datetime, actor: Actor = DISPATCHER
) -> CaseEvent:
    return model.create(
        case_id=CASE_ID, site=SITE, actor=actor, payload=payload, previous=None, occurred_at=at
    )


def applied(record: DisposalCase | None, event: CaseEvent) -> DisposalCase:
    """The record after ``event``, as the stage's transaction makes it."""
    before = record.lifecycle if record else None
    if type(event) in TOPOLOGY.emits:
        state = TOPOLOGY.view.decide(before, event.event_type)
    else:
        state = TOPOLOGY.view.receive(before, event.event_type)
    moved: dict[str, Any] = {
        "status": state.status,
        "resume_to": state.resume_to,
        "last_event_id": event.event_id,
        "last_occurred_at": max(event.occurred_at, record.last_occurred_at)
        if record is not None
        else event.occurred_at,
    }
    base = (
        dataclasses.replace(record, **moved)
        if record is not None
        else DisposalCase(
            case_id=event.case_id, site=event.site, correlation_id=event.correlation_id, **moved
        )
    )
    return evolve(base, event)


def folded(*events: CaseEvent) -> DisposalCase:
    record: DisposalCase | None = None
    for event in events:
        record = applied(record, event)
    assert record is not None
    return record


def dispatch(
    department_id: str = STREET_1, at: datetime = T0, deadline: datetime = DEADLINE
) -> CaseEvent:
    return made(
        CaseDispatched,
        CaseDispatchedPayload(
            department_id=department_id,
            deadline=deadline,
            case_number=CASE_NUMBER,
            category=CATEGORY,
            grid_code=GRID,
        ),
        at,
    )


def own(drafted: Decision, at: datetime, actor: Actor | None = None) -> CaseEvent:
    """The one event a decision drafted, made as the runtime makes it."""
    (draft,) = drafted.events
    return made(draft.model, draft.payload, at, actor or staff())


def voided(at: datetime) -> CaseEvent:
    return made(
        CaseVoided,
        CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by="chief-1"),
        at,
        CHIEF,
    )


def reason(text: str) -> ReasonPayload:
    return ReasonPayload(reason=text)


def dispatched() -> DisposalCase:
    return folded(dispatch())


def in_hand() -> DisposalCase:
    record = dispatched()
    return applied(
        record, own(decisions.accept(record, Accept(), context()), T0 + timedelta(hours=1))
    )


COMPLETION = Complete(description="垃圾已清运", evidence=(PHOTO,))
LATER = RequestExtension(proposed_deadline=DEADLINE + timedelta(days=1), reason="需订购井盖")

# --- the decisions ---------------------------------------------------------------------------


def test_accepting_drafts_the_acceptance_by_the_holding_department() -> None:
    decision = decisions.accept(dispatched(), Accept(), context())
    assert list(decision.events) == [
        Draft(DisposalAccepted, DisposalAcceptedPayload(department_id=STREET_1))
    ]
    assert decision.answer == {"task_state": TaskState.IN_HAND}


def test_a_return_request_carries_the_reason_and_keeps_the_task_state() -> None:
    for record, state in (
        (dispatched(), TaskState.AWAITING_ACCEPTANCE),
        (in_hand(), TaskState.IN_HAND),
    ):
        decision = decisions.request_return(
            record, WithReason(reason="不属于本单位职责"), context()
        )
        assert list(decision.events) == [Draft(ReturnRequested, reason("不属于本单位职责"))]
        assert decision.answer == {"task_state": state}


def test_an_extension_request_proposes_a_later_deadline() -> None:
    decision = decisions.request_extension(in_hand(), LATER, context())
    assert list(decision.events) == [
        Draft(
            ExtensionRequested,
            ExtensionRequestedPayload(
                proposed_deadline=DEADLINE + timedelta(days=1), reason="需订购井盖"
            ),
        )
    ]
    assert decision.answer == {"task_state": TaskState.IN_HAND}


@pytest.mark.parametrize("proposed", [DEADLINE, DEADLINE - timedelta(hours=1)])
def test_an_extension_to_no_later_than_the_deadline_is_invalid(proposed: datetime) -> None:
    command = RequestExtension(proposed_deadline=proposed, reason="需订购")
    with pytest.raises(Invalid) as refused:
        decisions.request_extension(in_hand(), command, context())
    assert refused.value.loc == ("body", "proposed_deadline")
    assert refused.value.kind == "not_after_deadline"
    assert refused.value.detail == f"must be after the current deadline {DEADLINE.isoformat()}"


def test_an_extension_is_refused_by_the_lifecycle_before_acceptance() -> None:
    with pytest.raises(IllegalTransition) as refused:
        decisions.request_extension(dispatched(), LATER, context())
    assert (refused.value.status, refused.value.event_type) == (
        CaseStatus.DISPATCHED,
        "extension.requested",
    )


def test_a_suspension_request_carries_the_reason() -> None:
    decision = decisions.request_suspension(
        in_hand(), WithReason(reason="需列入年度工程"), context()
    )
    assert list(decision.events) == [Draft(SuspensionRequested, reason("需列入年度工程"))]
    assert decision.answer == {"task_state": TaskState.IN_HAND}


def test_completing_reports_the_result_with_its_photos() -> None:
    decision = decisions.complete(in_hand(), COMPLETION, context())
    assert list(decision.events) == [
        Draft(
            DisposalCompleted,
            DisposalCompletedPayload(
                department_id=STREET_1, description="垃圾已清运", evidence=(PHOTO,)
            ),
        )
    ]
    assert decision.answer == {"task_state": TaskState.COMPLETED}


def test_the_same_command_on_the_same_task_decides_the_same() -> None:
    record = in_hand()
    assert decisions.complete(record, COMPLETION, context()) == decisions.complete(
        record, COMPLETION, context()
    )
    assert decisions.request_extension(record, LATER, context()) == decisions.request_extension(
        record, LATER, context()
    )


Decide = Callable[[DisposalCase, Context], Decision]
EVERY_DECISION: dict[str, Decide] = {
    "accept": lambda case, ctx: decisions.accept(case, Accept(), ctx),
    "request_return": lambda case, ctx: decisions.request_return(
        case, WithReason(reason="不属于本单位职责"), ctx
    ),
    "request_extension": lambda case, ctx: decisions.request_extension(case, LATER, ctx),
    "request_suspension": lambda case, ctx: decisions.request_suspension(
        case, WithReason(reason="需列入年度工程"), ctx
    ),
    "complete": lambda case, ctx: decisions.complete(case, COMPLETION, ctx),
}


@pytest.mark.parametrize("decide", EVERY_DECISION.values(), ids=EVERY_DECISION.keys())
def test_a_token_without_a_department_is_forbidden(decide: Decide) -> None:
    with pytest.raises(Forbidden) as refused:
        decide(in_hand(), context(staff(None)))
    assert refused.value.detail == "the actor's token names no department"


@pytest.mark.parametrize("decide", EVERY_DECISION.values(), ids=EVERY_DECISION.keys())
@pytest.mark.parametrize("record", [dispatched, in_hand], ids=["dispatched", "in_hand"])
def test_another_departments_task_is_forbidden_naming_the_holder(
    decide: Decide, record: Callable[[], DisposalCase]
) -> None:
    """Ownership comes first: even a request the lifecycle would refuse is a 403 here."""
    with pytest.raises(Forbidden) as refused:
        decide(record(), context(staff(STREET_2)))
    assert refused.value.detail == f"the task of case {CASE_ID} is with department {STREET_1}"


def returned() -> DisposalCase:
    record = dispatched()
    asked = own(
        decisions.request_return(record, WithReason(reason="不属于本单位职责"), context()),
        T0 + timedelta(hours=1),
    )
    return folded(
        dispatch(),
        asked,
        made(ReturnApproved, TimedReasonPayload(reason="属实"), T0 + timedelta(hours=2)),
    )


def voided_in_hand() -> DisposalCase:
    return applied(in_hand(), voided(T0 + timedelta(hours=3)))


def voided_before_dispatch() -> DisposalCase:
    return folded(voided(T0))


@pytest.mark.parametrize("decide", EVERY_DECISION.values(), ids=EVERY_DECISION.keys())
@pytest.mark.parametrize(
    "record",
    [returned, voided_in_hand, voided_before_dispatch],
    ids=["returned", "voided", "never_dispatched"],
)
def test_nothing_is_done_on_a_task_no_department_holds(
    decide: Decide, record: Callable[[], DisposalCase]
) -> None:
    with pytest.raises(Conflict) as refused:
        decide(record(), context())
    assert refused.value.detail == f"case {CASE_ID} is not with a department"


def test_commands_refuse_unknown_fields_missing_photos_and_naive_times() -> None:
    def locations(model: type[BaseModel], body: dict[str, Any]) -> list[tuple[Any, ...]]:
        with pytest.raises(ValidationError) as refused:
            model.model_validate(body)
        return [error["loc"] for error in refused.value.errors()]

    assert locations(Accept, {"department_id": STREET_2}) == [("department_id",)]
    assert locations(Complete, {"description": "已处理"}) == [("evidence",)]
    assert locations(Complete, {"description": "已处理", "evidence": []}) == [("evidence",)]
    naive = {"proposed_deadline": "2026-11-28T09:30:00", "reason": "需订购"}
    assert locations(RequestExtension, naive) == [("proposed_deadline",)]


# --- the lifecycle as disposal sees it ------------------------------------------------------


def test_disposal_follows_the_dispatchers_answers_and_the_voiding_only() -> None:
    assert TOPOLOGY.follows_types == {
        "case.dispatched",
        "case.redispatched",
        "case.reopened_for_rework",
        "return.approved",
        "return.refused",
        "extension.decided",
        "suspension.approved",
        "suspension.refused",
        "suspension.resumed",
        "case.voided",
    }
    assert TOPOLOGY.emits_types == {
        "disposal.accepted",
        "return.requested",
        "extension.requested",
        "suspension.requested",
        "disposal.completed",
    }
    # The case file's topic (for the voiding) and dispatch's; never verification's closing.
    assert TOPOLOGY.topics(SITE) == [
        event_topic(SITE, Stage.CASEFILE),
        event_topic(SITE, Stage.DISPATCH),
    ]


@pytest.mark.parametrize(
    ("record", "event_type"),
    [
        (dispatched, "disposal.completed"),
        (dispatched, "suspension.requested"),
        (in_hand, "disposal.accepted"),
    ],
)
def test_the_lifecycle_refuses_a_step_out_of_turn(
    record: Callable[[], DisposalCase], event_type: str
) -> None:
    assert not TOPOLOGY.view.allows(record().lifecycle, event_type)


def test_after_completion_disposal_still_takes_a_rework_it_did_not_see_coming() -> None:
    """The feedback and the check happen out of disposal's sight; a rework may follow."""
    record = in_hand()
    record = applied(record, own(decisions.complete(record, COMPLETION, context()), T0))
    assert record.status is CaseStatus.DISPOSED
    state = TOPOLOGY.view.receive(record.lifecycle, "case.reopened_for_rework")
    assert state.status is CaseStatus.DISPATCHED


# --- evolve ----------------------------------------------------------------------------------


def test_a_dispatch_puts_the_task_on_the_departments_list_with_the_case_facts() -> None:
    record = dispatched()
    assert (record.department_id, record.task_state, record.status) == (
        STREET_1,
        TaskState.AWAITING_ACCEPTANCE,
        CaseStatus.DISPATCHED,
    )
    assert (record.deadline, record.dispatched_at, record.last_occurred_at) == (DEADLINE, T0, T0)
    assert (record.accepted_at, record.completed_at, record.pending_request) == (None, None, None)
    assert record.rework_count == 0
    assert (record.case_number, record.category_code, record.grid_code) == (
        CASE_NUMBER,
        "06001",
        GRID,
    )


def test_a_dispatch_written_before_it_carried_the_facts_leaves_them_empty() -> None:
    bare = made(
        CaseDispatched, CaseDispatchedPayload(department_id=STREET_1, deadline=DEADLINE), T0
    )
    record = folded(bare)
    assert (record.case_number, record.category_code, record.grid_code) == (None, None, None)
    assert record.task_state is TaskState.AWAITING_ACCEPTANCE


def test_a_task_evolves_from_dispatch_through_requests_and_answers_to_completion() -> None:
    at = [T0 + timedelta(hours=n) for n in range(14)]
    extended = DEADLINE + timedelta(days=1)
    resumed = DEADLINE + timedelta(days=30)
    record = folded(dispatch(at=at[0]))

    record = applied(record, own(decisions.accept(record, Accept(), context()), at[1]))
    assert (record.task_state, record.accepted_at, record.status) == (
        TaskState.IN_HAND,
        at[1],
        CaseStatus.IN_DISPOSAL,
    )

    record = applied(record, own(decisions.request_extension(record, LATER, context()), at[2]))
    assert (record.pending_request, record.status) == (
        PendingRequest.EXTENSION,
        CaseStatus.EXTENSION_REQUESTED,
    )
    refusal = ExtensionDecidedPayload(approved=False, deadline=DEADLINE, reason="时限充足")
    record = applied(record, made(ExtensionDecided, refusal, at[3]))
    assert (record.deadline, record.pending_request, record.task_state) == (
        DEADLINE,
        None,
        TaskState.IN_HAND,
    )
    record = applied(record, own(decisions.request_extension(record, LATER, context()), at[4]))
    approval = ExtensionDecidedPayload(approved=True, deadline=extended)
    record = applied(record, made(ExtensionDecided, approval, at[5]))
    assert (record.deadline, record.pending_request) == (extended, None)

    suspend = WithReason(reason="需列入年度工程")
    record = applied(record, own(decisions.request_suspension(record, suspend, context()), at[6]))
    assert record.pending_request is PendingRequest.SUSPENSION
    record = applied(record, made(SuspensionRefused, reason("可先行处置"), at[7]))
    assert (record.pending_request, record.task_state, record.status) == (
        None,
        TaskState.IN_HAND,
        CaseStatus.IN_DISPOSAL,
    )
    record = applied(record, own(decisions.request_suspension(record, suspend, context()), at[8]))
    record = applied(record, made(SuspensionApproved, reason("同意挂账"), at[9]))
    assert (record.task_state, record.pending_request, record.status) == (
        TaskState.SUSPENDED,
        None,
        CaseStatus.SUSPENDED,
    )
    record = applied(
        record, made(SuspensionResumed, SuspensionResumedPayload(deadline=resumed), at[10])
    )
    assert (record.task_state, record.deadline) == (TaskState.IN_HAND, resumed)

    give_back = WithReason(reason="不属于本单位职责")
    record = applied(record, own(decisions.request_return(record, give_back, context()), at[11]))
    assert (record.pending_request, record.status, record.resume_to) == (
        PendingRequest.RETURN,
        CaseStatus.RETURN_REQUESTED,
        CaseStatus.IN_DISPOSAL,
    )
    record = applied(record, made(ReturnRefused, reason("属本单位"), at[12]))
    # Back in hand, where the return was asked from.
    assert (record.pending_request, record.task_state, record.status) == (
        None,
        TaskState.IN_HAND,
        CaseStatus.IN_DISPOSAL,
    )

    record = applied(record, own(decisions.complete(record, COMPLETION, context()), at[13]))
    assert (record.task_state, record.completed_at, record.status, record.last_occurred_at) == (
        TaskState.COMPLETED,
        at[13],
        CaseStatus.DISPOSED,
        at[13],
    )
    assert (record.accepted_at, record.dispatched_at, record.rework_count) == (at[1], at[0], 0)


def test_a_returned_task_stays_with_its_department_and_a_redispatch_opens_the_next() -> None:
    record = returned()
    assert (record.department_id, record.task_state, record.pending_request, record.status) == (
        STREET_1,
        TaskState.RETURNED,
        None,
        CaseStatus.AWAITING_REDISPATCH,
    )
    moved = DEADLINE + timedelta(hours=2)
    at = T0 + timedelta(hours=3)
    redispatch = CaseRedispatchedPayload(
        department_id=STREET_2, previous_department_id=STREET_1, deadline=moved, reason="改派"
    )
    record = applied(record, made(CaseRedispatched, redispatch, at))
    assert (record.department_id, record.task_state, record.status) == (
        STREET_2,
        TaskState.AWAITING_ACCEPTANCE,
        CaseStatus.DISPATCHED,
    )
    assert (record.deadline, record.dispatched_at, record.rework_count) == (moved, at, 0)
    # The case's facts came with the first dispatch; the next department sees them too.
    assert (record.case_number, record.category_code, record.grid_code) == (
        CASE_NUMBER,
        "06001",
        GRID,
    )
    taken = decisions.accept(record, Accept(), context(staff(STREET_2)))
    assert list(taken.events) == [
        Draft(DisposalAccepted, DisposalAcceptedPayload(department_id=STREET_2))
    ]


def rework(at: datetime, deadline: datetime) -> CaseEvent:
    payload = CaseReopenedForReworkPayload(
        department_id=STREET_1, deadline=deadline, reason="仍有垃圾"
    )
    return made(CaseReopenedForRework, payload, at)


def test_a_rework_reopens_the_same_departments_task_and_counts() -> None:
    record = in_hand()
    record = applied(record, own(decisions.complete(record, COMPLETION, context()), T0))
    again = DEADLINE + timedelta(days=1)
    at = T0 + timedelta(days=1)
    record = applied(record, rework(at, again))
    assert (record.department_id, record.task_state, record.rework_count, record.status) == (
        STREET_1,
        TaskState.AWAITING_ACCEPTANCE,
        1,
        CaseStatus.DISPATCHED,
    )
    assert (record.accepted_at, record.completed_at) == (None, None)
    assert (record.deadline, record.dispatched_at) == (again, at)

    record = applied(record, own(decisions.accept(record, Accept(), context()), at))
    record = applied(record, own(decisions.complete(record, COMPLETION, context()), at))
    record = applied(record, rework(at + timedelta(days=1), again + timedelta(days=1)))
    assert record.rework_count == 2
    # A re-dispatch after a rework is the next department's first go.
    asked = own(decisions.request_return(record, WithReason(reason="非本单位"), context()), at)
    record = applied(record, asked)
    record = applied(record, made(ReturnApproved, TimedReasonPayload(reason="属实"), at))
    redispatch = CaseRedispatchedPayload(
        department_id=STREET_2, previous_department_id=STREET_1, deadline=again, reason="改派"
    )
    record = applied(record, made(CaseRedispatched, redispatch, at))
    assert (record.department_id, record.rework_count) == (STREET_2, 0)


def test_a_voiding_closes_the_task_and_answers_its_pending_request() -> None:
    record = in_hand()
    asked = own(
        decisions.request_suspension(record, WithReason(reason="需列入年度工程"), context()), T0
    )
    record = applied(record, asked)
    at = T0 + timedelta(hours=5)
    record = applied(record, voided(at))
    assert (record.task_state, record.pending_request, record.status, record.last_occurred_at) == (
        TaskState.CLOSED,
        None,
        CaseStatus.VOIDED,
        at,
    )
    assert record.department_id == STREET_1


def test_a_voiding_of_a_case_never_dispatched_keeps_it_from_a_later_dispatch() -> None:
    """Disposal keeps the voided case (no department), so a dispatch read after the voiding
    (another topic) cannot put a task on a list."""
    record = voided_before_dispatch()
    assert (record.department_id, record.task_state, record.status) == (
        None,
        TaskState.CLOSED,
        CaseStatus.VOIDED,
    )
    with pytest.raises(IllegalTransition):
        TOPOLOGY.view.receive(record.lifecycle, "case.dispatched")


def test_the_same_history_evolves_the_same_record() -> None:
    history = [dispatch(), voided(T0 + timedelta(hours=1))]
    assert folded(*history) == folded(*history)


# --- what disposal leaves to others and its to-do list ---------------------------------------


def test_disposal_reacts_to_nothing_and_keeps_no_clocks() -> None:
    """The disposal clock is dispatch's: it sets, moves, pauses and stops the deadline."""
    assert TOPOLOGY.clocks == frozenset()
    record = in_hand()
    for event in (
        dispatch(),
        made(ExtensionDecided, ExtensionDecidedPayload(approved=True, deadline=DEADLINE), T0),
        made(SuspensionApproved, reason("同意挂账"), T0),
        voided(T0),
    ):
        assert list(RULES.react(record, event, REFERENCE)) == []
        assert list(RULES.time(record, event, REFERENCE)) == []


def test_the_to_do_list_holds_the_tasks_still_to_act_on() -> None:
    assert set(TO_DO) == {
        TaskState.AWAITING_ACCEPTANCE,
        TaskState.IN_HAND,
        TaskState.SUSPENDED,
    }
    assert set(TaskState) - set(TO_DO) == {
        TaskState.COMPLETED,
        TaskState.RETURNED,
        TaskState.CLOSED,
    }
