"""Case building's pure rules, without a database or a broker: what each command decides or
refuses, how every event changes the case file, and which clocks the events move."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from cityloop_casefile.app import RULES
from cityloop_casefile.decisions import (
    Accept,
    Register,
    Registration,
    Remarks,
    ReportVerification,
    RequestVerification,
    VoidDecision,
    WithReason,
    accept,
    accept_forwarding,
    cancel,
    decide_voiding,
    forward_to_city,
    register,
    report_verification,
    request_verification,
    request_voiding,
    return_forwarding,
    time,
)
from cityloop_casefile.state import CaseFile, evolve
from cityloop_casefile.topology import TOPOLOGY
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.codec import decode, encode
from cityloop_shared.contract.envelope import CaseEvent, Payload
from cityloop_shared.contract.events.casefile import (
    CaseAccepted,
    CaseAcceptedPayload,
    CaseCancelled,
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
    VerificationReported,
    VerificationReportedPayload,
    VerificationRequested,
    VerificationRequestedPayload,
    VoidRefused,
    VoidRefusedPayload,
    VoidRequested,
)
from cityloop_shared.contract.events.dispatch import (
    CaseRedispatched,
    CaseRedispatchedPayload,
    ExtensionDecided,
    ExtensionDecidedPayload,
)
from cityloop_shared.contract.events.time_limits import TimeLimitOverdue, TimeLimitPayload
from cityloop_shared.contract.examples import PAYLOADS
from cityloop_shared.contract.flows import SOURCE_FLOWS
from cityloop_shared.contract.ids import CaseKind, new_id
from cityloop_shared.contract.lifecycle import CaseStatus, IllegalTransition
from cityloop_shared.contract.registry import EVENT_TYPES, payload_model
from cityloop_shared.contract.values import (
    Attachment,
    CaseLevel,
    ClockStep,
    Deadline,
    ReportChannel,
    TimeLimit,
    TimeUnit,
    Urgency,
)
from cityloop_shared.contract.values import Category as EventCategory
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.categories import (
    GB_T_47678_5,
    Category,
    CategoryDictionary,
    Edition,
)
from cityloop_shared.stage.clocks import Start, Stop
from cityloop_shared.stage.decisions import Conflict, Context, Decision, Forbidden, Invalid

P = TypeVar("P", bound=Payload)

REFERENCE = ReferenceData.demo()
SITE = "370212"
"""崂山区 of the demo city."""
GRID = "370212003001001"
GRID_SUPERVISOR = "sv-370212-03"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI)
"""A Tuesday morning at the start of the working day: working time and wall time agree until
noon, so the deadlines below can be written down."""
AT_0910 = datetime(2026, 3, 10, 9, 10, tzinfo=SHANGHAI)
"""NOW + 10 working minutes: the urgent registration and dispatch limits."""
AT_0930 = datetime(2026, 3, 10, 9, 30, tzinfo=SHANGHAI)
"""NOW + 30 working minutes: the ordinary registration, dispatch and forwarding limits."""
AT_1000 = datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)
"""NOW + 1 working hour: the verification and city acceptance limits."""
CASE_ID = UUID("0195d3a0-0000-7000-8000-000000000001")
OPERATOR = Actor(id="op-1", role=Role.ACCEPTANCE_OPERATOR, site=SITE)
CHIEF = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=SITE)
SUPERVISOR = Actor(id=GRID_SUPERVISOR, role=Role.FIELD_SUPERVISOR, site=SITE)
PHOTO = Attachment.model_validate(
    {"uri": "https://media.cityloop.example/p/1.jpg", "media_type": "image/jpeg"}
)


def context(
    actor: Actor = OPERATOR, site: str = SITE, reference: ReferenceData = REFERENCE
) -> Context:
    return Context(actor=actor, now=NOW, reference=reference, site=site, view=TOPOLOGY.view)


def case_file(status: CaseStatus, **fields: Any) -> CaseFile:
    """A case of the district in ``status``, reported by a supervisor in the test grid."""
    defaults: dict[str, Any] = {
        "channel": ReportChannel.SUPERVISOR,
        "grid_code": GRID,
        "reported_at": NOW - timedelta(minutes=5),
        "last_occurred_at": NOW - timedelta(minutes=5),
    }
    return CaseFile(
        case_id=CASE_ID,
        site=SITE,
        status=status,
        last_event_id=new_id(),
        correlation_id=CASE_ID,
        **{**defaults, **fields},
    )


def only(decision: Decision, payload_type: type[P]) -> P:
    """The payload of the one event the decision drafts, checked to be of ``payload_type``."""
    [draft] = decision.events
    assert isinstance(draft.payload, payload_type), draft
    return draft.payload


def registration(command: Register, sequence: int = 7) -> Registration:
    return Registration(command, date(2026, 3, 10), sequence)


def event(event_type: str, at: datetime = NOW, actor: Actor = CHIEF, **payload: Any) -> CaseEvent:
    """An event of the test case: the contract's example payload, with ``payload`` over it."""
    body = payload_model(event_type).model_validate({**PAYLOADS[event_type], **payload})
    return EVENT_TYPES[event_type].create(
        case_id=CASE_ID, site=SITE, actor=actor, payload=body, previous=None, occurred_at=at
    )


# --- 受理 acceptance ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("channel", "needs_verification"),
    [
        (ReportChannel.PUBLIC, True),
        (ReportChannel.SUPERVISOR, False),
        (ReportChannel.VIDEO, False),
        (ReportChannel.LEADER, False),
    ],
)
def test_acceptance_verifies_only_public_reports_by_default(
    channel: ReportChannel, needs_verification: bool
) -> None:
    decision = accept(case_file(CaseStatus.REPORTED, channel=channel), Accept(), context())

    [draft] = decision.events
    assert draft.model is CaseAccepted
    # Without verification the registration clock starts now: 30 working minutes, ordinary.
    registration = (
        () if needs_verification else (Deadline(step=ClockStep.REGISTRATION, due_at=AT_0930),)
    )
    assert draft.payload == CaseAcceptedPayload(
        needs_verification=needs_verification, urgency=Urgency.ORDINARY, deadlines=registration
    )


@pytest.mark.parametrize(
    ("channel", "asked"), [(ReportChannel.PUBLIC, False), (ReportChannel.SUPERVISOR, True)]
)
def test_the_operator_may_override_the_channels_verification_default(
    channel: ReportChannel, asked: bool
) -> None:
    decision = accept(
        case_file(CaseStatus.REPORTED, channel=channel),
        Accept(needs_verification=asked),
        context(),
    )

    registration = () if asked else (Deadline(step=ClockStep.REGISTRATION, due_at=AT_0930),)
    assert decision.events[0].payload == CaseAcceptedPayload(
        needs_verification=asked, deadlines=registration
    )


def test_acceptance_carries_the_urgency_the_operator_judged() -> None:
    command = Accept.model_validate({"urgency": "urgent"})

    decision = accept(case_file(CaseStatus.REPORTED), command, context())

    # The urgent registration limit: 10 working minutes.
    assert decision.events[0].payload == CaseAcceptedPayload(
        needs_verification=False,
        urgency=Urgency.URGENT,
        deadlines=(Deadline(step=ClockStep.REGISTRATION, due_at=AT_0910),),
    )
    assert Accept().urgency is Urgency.ORDINARY


def test_a_decision_is_the_same_for_the_same_inputs() -> None:
    """Decisions read nothing but their arguments, so a retried command decides alike."""
    case = case_file(CaseStatus.ACCEPTED, needs_verification=False, urgency=Urgency.URGENT)
    command = Register(category_code="06001")

    assert accept(case, Accept(), context()) == accept(case, Accept(), context())
    assert register(case, registration(command), context(CHIEF)) == register(
        case, registration(command), context(CHIEF)
    )


# --- 核实 verification -------------------------------------------------------------------------
def test_verification_goes_to_the_grids_supervisor_within_the_verification_limit() -> None:
    case = case_file(CaseStatus.ACCEPTED, channel=ReportChannel.PUBLIC, needs_verification=True)

    decision = request_verification(case, RequestVerification(), context())

    due_at = AT_1000  # 1 working hour
    [draft] = decision.events
    assert draft.model is VerificationRequested
    assert draft.payload == VerificationRequestedPayload(
        supervisor_id=GRID_SUPERVISOR,
        due_at=due_at,
        deadlines=(Deadline(step=ClockStep.VERIFICATION, due_at=due_at),),
    )
    assert decision.answer["supervisor_id"] == GRID_SUPERVISOR
    assert decision.answer["due_at"] == due_at


def test_the_operator_may_name_another_supervisor() -> None:
    case = case_file(CaseStatus.ACCEPTED, needs_verification=True)

    decision = request_verification(case, RequestVerification(supervisor_id="sv-9"), context())

    assert only(decision, VerificationRequestedPayload).supervisor_id == "sv-9"


def test_a_grid_without_a_supervisor_needs_one_named() -> None:
    case = case_file(CaseStatus.ACCEPTED, grid_code="370212999999999")

    with pytest.raises(Conflict, match="grid 370212999999999 has no supervisor"):
        request_verification(case, RequestVerification(), context())


def test_verification_is_requested_only_of_an_accepted_case() -> None:
    with pytest.raises(IllegalTransition) as refused:
        request_verification(case_file(CaseStatus.REPORTED), RequestVerification(), context())

    assert refused.value.status is CaseStatus.REPORTED
    assert refused.value.event_type == "verification.requested"


def test_the_supervisor_of_the_task_reports_the_verification() -> None:
    case = case_file(CaseStatus.VERIFYING, verifier_id=GRID_SUPERVISOR)
    command = ReportVerification(confirmed=True, remarks="属实", attachments=(PHOTO,))

    decision = report_verification(case, command, context(SUPERVISOR))

    [draft] = decision.events
    assert draft.model is VerificationReported
    # The registration clock starts from the report, on the ordinary 30 working minutes.
    assert draft.payload == VerificationReportedPayload(
        confirmed=True,
        remarks="属实",
        attachments=(PHOTO,),
        deadlines=(Deadline(step=ClockStep.REGISTRATION, due_at=AT_0930),),
    )


def test_a_verification_report_carries_the_registration_deadline_of_the_accepted_urgency() -> None:
    case = case_file(CaseStatus.VERIFYING, verifier_id=GRID_SUPERVISOR, urgency=Urgency.URGENT)

    decision = report_verification(case, ReportVerification(confirmed=True), context(SUPERVISOR))

    assert only(decision, VerificationReportedPayload).deadlines == (
        Deadline(step=ClockStep.REGISTRATION, due_at=AT_0910),
    )


def test_another_supervisor_may_not_report_the_verification() -> None:
    case = case_file(CaseStatus.VERIFYING, verifier_id=GRID_SUPERVISOR)
    stranger = Actor(id="sv-370212-01", role=Role.FIELD_SUPERVISOR, site=SITE)

    with pytest.raises(Forbidden, match=f"went to supervisor {GRID_SUPERVISOR}"):
        report_verification(case, ReportVerification(confirmed=True), context(stranger))


# --- 立案 registration -------------------------------------------------------------------------
def test_registration_numbers_the_case_and_sets_its_disposal_limit() -> None:
    case = case_file(CaseStatus.ACCEPTED, needs_verification=False, channel=ReportChannel.VIDEO)

    decision = register(case, registration(Register(category_code="06001")), context(CHIEF))

    assert decision.events[0].model is CaseRegistered
    payload = only(decision, CaseRegisteredPayload)
    # site + E (event) + category + day + the day's sequence
    assert payload.case_number == "370212E060012026031000007"
    assert decision.answer == {"case_number": "370212E060012026031000007"}
    assert (payload.category.standard, payload.category.kind, payload.category.code) == (
        "GB/T 47678.5-2026",
        CaseKind.EVENT,
        "06001",
    )
    assert payload.grid_code == GRID
    assert payload.level is CaseLevel.DISTRICT
    assert payload.urgency is Urgency.ORDINARY
    assert payload.time_limit == TimeLimit(amount=4, unit=TimeUnit.WORKING_HOURS)
    assert payload.channel is ReportChannel.VIDEO


def test_a_district_case_is_registered_with_its_dispatch_and_overall_deadlines() -> None:
    """派遣时限 30 working minutes (ordinary); 整体时限 5 working days for 06001, from Tuesday
    09:00 to the next Tuesday 09:00 (no holiday between)."""
    case = case_file(CaseStatus.ACCEPTED, needs_verification=False)

    decision = register(case, registration(Register(category_code="06001")), context(CHIEF))

    assert only(decision, CaseRegisteredPayload).deadlines == (
        Deadline(step=ClockStep.DISPATCH, due_at=AT_0930),
        Deadline(step=ClockStep.OVERALL, due_at=datetime(2026, 3, 17, 9, 0, tzinfo=SHANGHAI)),
    )


def test_an_urgent_case_of_its_own_overall_limit_is_registered_with_those_deadlines() -> None:
    """Urgent: dispatch within 10 working minutes; 06010 has an overall limit of 1 working
    day, to Wednesday 09:00."""
    case = case_file(CaseStatus.ACCEPTED, needs_verification=False, urgency=Urgency.URGENT)

    decision = register(case, registration(Register(category_code="06010")), context(CHIEF))

    assert only(decision, CaseRegisteredPayload).deadlines == (
        Deadline(step=ClockStep.DISPATCH, due_at=AT_0910),
        Deadline(step=ClockStep.OVERALL, due_at=datetime(2026, 3, 11, 9, 0, tzinfo=SHANGHAI)),
    )


def test_a_city_case_registered_at_a_district_waits_for_its_forwarding_not_dispatch() -> None:
    """The district forwards it within 30 working minutes (the same urgent or not); 01002's
    overall limit is 1 working day."""
    case = case_file(CaseStatus.ACCEPTED, needs_verification=False, urgency=Urgency.URGENT)
    command = Register(category_code="01002", level=CaseLevel.CITY)

    decision = register(case, registration(command), context(CHIEF))

    payload = only(decision, CaseRegisteredPayload)
    assert payload.level is CaseLevel.CITY
    assert payload.deadlines == (
        Deadline(step=ClockStep.FORWARDING, due_at=AT_0930),
        Deadline(step=ClockStep.OVERALL, due_at=datetime(2026, 3, 11, 9, 0, tzinfo=SHANGHAI)),
    )
    assert payload.due(ClockStep.DISPATCH) is None


def test_a_city_case_registered_at_the_city_waits_for_dispatch() -> None:
    """Nothing to forward at the city site: its own dispatch clock starts."""
    city_chief = Actor(id="chief-c", role=Role.DUTY_CHIEF, site="370200")
    case = dataclasses.replace(
        case_file(CaseStatus.ACCEPTED, needs_verification=False), site="370200"
    )
    command = Register(category_code="06001", level=CaseLevel.CITY)

    decision = register(case, registration(command), context(city_chief, site="370200"))

    assert only(decision, CaseRegisteredPayload).deadlines == (
        Deadline(step=ClockStep.DISPATCH, due_at=AT_0930),
        Deadline(step=ClockStep.OVERALL, due_at=datetime(2026, 3, 17, 9, 0, tzinfo=SHANGHAI)),
    )


def test_the_overall_deadline_crosses_the_weekend_in_working_days() -> None:
    """Registered Friday 16:00: 5 working days end the next Friday at 16:00, and 30 working
    minutes of dispatch end at 16:30."""
    friday = datetime(2026, 3, 13, 16, 0, tzinfo=SHANGHAI)
    case = case_file(CaseStatus.ACCEPTED, needs_verification=False)
    ctx = dataclasses.replace(context(CHIEF), now=friday)

    decision = register(case, registration(Register(category_code="06001")), ctx)

    assert only(decision, CaseRegisteredPayload).deadlines == (
        Deadline(step=ClockStep.DISPATCH, due_at=datetime(2026, 3, 13, 16, 30, tzinfo=SHANGHAI)),
        Deadline(step=ClockStep.OVERALL, due_at=datetime(2026, 3, 20, 16, 0, tzinfo=SHANGHAI)),
    )


def test_a_component_case_number_carries_c() -> None:
    case = case_file(CaseStatus.ACCEPTED, needs_verification=False)

    decision = register(
        case, registration(Register(category_code="01002"), sequence=12), context(CHIEF)
    )

    assert decision.answer["case_number"] == "370212C010022026031000012"


def test_registration_takes_the_urgency_judged_at_acceptance_unless_told() -> None:
    """06003 has no limit of its own: urgent cases of major 06 get 2 hours, others 3 days."""
    case = case_file(CaseStatus.ACCEPTED, needs_verification=False, urgency=Urgency.URGENT)

    defaulted = register(case, registration(Register(category_code="06003")), context(CHIEF))
    told = register(
        case,
        registration(Register(category_code="06003", urgency=Urgency.ORDINARY)),
        context(CHIEF),
    )

    urgent = only(defaulted, CaseRegisteredPayload)
    ordinary = only(told, CaseRegisteredPayload)
    assert urgent.urgency is Urgency.URGENT
    assert urgent.time_limit == TimeLimit(amount=2, unit=TimeUnit.WORKING_HOURS)
    assert ordinary.urgency is Urgency.ORDINARY
    assert ordinary.time_limit == TimeLimit(amount=3, unit=TimeUnit.WORKING_DAYS)


def test_a_public_report_is_not_registered_before_verification() -> None:
    case = case_file(CaseStatus.ACCEPTED, channel=ReportChannel.PUBLIC, needs_verification=True)

    with pytest.raises(Conflict, match="verified on site"):
        register(case, registration(Register(category_code="06001")), context(CHIEF))


def test_a_report_the_supervisor_did_not_confirm_is_not_registered() -> None:
    case = case_file(
        CaseStatus.VERIFIED, channel=ReportChannel.PUBLIC, needs_verification=True, verified=False
    )

    with pytest.raises(Conflict, match="did not confirm"):
        register(case, registration(Register(category_code="06001")), context(CHIEF))


def test_a_confirmed_report_is_registered() -> None:
    case = case_file(
        CaseStatus.VERIFIED, channel=ReportChannel.PUBLIC, needs_verification=True, verified=True
    )

    decision = register(case, registration(Register(category_code="06001")), context(CHIEF))

    assert decision.events[0].model is CaseRegistered
    assert only(decision, CaseRegisteredPayload).channel is ReportChannel.PUBLIC


def test_a_cancelled_case_is_not_registered() -> None:
    with pytest.raises(IllegalTransition) as refused:
        register(
            case_file(CaseStatus.CANCELLED),
            registration(Register(category_code="06001")),
            context(CHIEF),
        )

    assert refused.value.status is CaseStatus.CANCELLED
    assert refused.value.event_type == "case.registered"


def test_an_unknown_category_is_refused_naming_the_field() -> None:
    case = case_file(CaseStatus.ACCEPTED, needs_verification=False)

    with pytest.raises(Invalid) as refused:
        register(case, registration(Register(category_code="99999")), context(CHIEF))

    assert refused.value.loc == ("body", "category_code")
    assert refused.value.kind == "unknown_category"
    assert "no category 99999 in GB/T 47678.5-2026" in refused.value.detail


def test_a_code_naming_a_component_and_an_event_needs_the_kind() -> None:
    """In the older 4-digit list components and events are numbered apart: 0101 is both."""
    older = CategoryDictionary(
        [Edition("GB/T 30428.2-2013", "2013")],
        4,
        [
            Category(
                standard="GB/T 30428.2-2013",
                major_code="01",
                major_name="公用设施",
                kind=CaseKind.COMPONENT,
                code="0101",
                name="上水井盖",
            ),
            Category(
                standard="GB/T 30428.2-2013",
                major_code="01",
                major_name="市容环境",
                kind=CaseKind.EVENT,
                code="0101",
                name="私搭乱建",
            ),
        ],
    )
    reference = dataclasses.replace(REFERENCE, categories=older)
    case = case_file(CaseStatus.ACCEPTED, needs_verification=False)

    with pytest.raises(Invalid) as refused:
        register(
            case, registration(Register(category_code="0101")), context(CHIEF, reference=reference)
        )
    told = register(
        case,
        registration(Register(category_code="0101", kind=CaseKind.COMPONENT)),
        context(CHIEF, reference=reference),
    )

    assert refused.value.loc == ("body", "category_code")
    assert refused.value.kind == "ambiguous_category"
    assert told.answer["case_number"] == "370212C01012026031000007"


# --- 注销 cancellation, 作废 voiding, 转市级 forwarding -------------------------------------
def test_cancellation_carries_its_reason() -> None:
    decision = cancel(
        case_file(CaseStatus.VERIFIED), WithReason(reason="现场无此问题"), context(CHIEF)
    )

    [draft] = decision.events
    assert draft.model is CaseCancelled
    assert draft.payload == ReasonPayload(reason="现场无此问题")


def test_a_voiding_request_names_who_asked_and_why() -> None:
    decision = request_voiding(
        case_file(CaseStatus.DISPATCHED), WithReason(reason="重复立案"), context(OPERATOR)
    )

    [draft] = decision.events
    assert draft.model is VoidRequested
    assert draft.payload == ReasonPayload(reason="重复立案")
    assert decision.answer["void_requested_by"] == "op-1"


def test_a_second_voiding_request_waits_for_the_first() -> None:
    case = case_file(CaseStatus.REGISTERED, void_requested_by="op-1", void_reason="重复立案")

    with pytest.raises(Conflict, match="a voiding request by op-1 is pending"):
        request_voiding(case, WithReason(reason="又一次"), context(OPERATOR))


def test_only_a_registered_case_is_voided() -> None:
    with pytest.raises(IllegalTransition) as refused:
        request_voiding(case_file(CaseStatus.ACCEPTED), WithReason(reason="重复"), context())

    assert refused.value.status is CaseStatus.ACCEPTED
    assert refused.value.event_type == "case.voided"


def test_a_voiding_decision_needs_a_pending_request() -> None:
    with pytest.raises(Conflict, match="no voiding request is pending"):
        decide_voiding(case_file(CaseStatus.REGISTERED), VoidDecision(approve=True), context(CHIEF))


def test_an_approved_voiding_names_who_asked_and_who_approved() -> None:
    case = case_file(CaseStatus.IN_DISPOSAL, void_requested_by="op-1", void_reason="重复立案")

    decision = decide_voiding(case, VoidDecision(approve=True), context(CHIEF))

    [draft] = decision.events
    assert draft.model is CaseVoided
    assert draft.payload == CaseVoidedPayload(
        reason="重复立案", requested_by="op-1", approved_by="chief-1"
    )
    assert decision.answer["voided"] is True


def test_a_refused_voiding_keeps_the_chiefs_reason() -> None:
    case = case_file(CaseStatus.REGISTERED, void_requested_by="op-1", void_reason="重复立案")

    decision = decide_voiding(case, VoidDecision(approve=False, reason="并非重复"), context(CHIEF))

    [draft] = decision.events
    assert draft.model is VoidRefused
    assert draft.payload == VoidRefusedPayload(reason="并非重复")
    assert decision.answer == {"voided": False}


def test_a_district_forwards_a_city_case_with_what_the_city_dispatches_by() -> None:
    case = case_file(
        CaseStatus.REGISTERED,
        case_number="370212C010022026112500001",
        category_kind=CaseKind.COMPONENT,
        category_code="01002",
        level=CaseLevel.CITY,
        urgency=Urgency.URGENT,
    )
    decision = forward_to_city(case, WithReason(reason="市级道路设施"), context(CHIEF))

    [draft] = decision.events
    assert draft.model is CaseForwardedToCity
    assert draft.payload == CaseForwardedToCityPayload(
        city_site="370200",
        reason="市级道路设施",
        case_number="370212C010022026112500001",
        category=EventCategory(standard=GB_T_47678_5, kind=CaseKind.COMPONENT, code="01002"),
        grid_code=GRID,
        urgency=Urgency.URGENT,
        # 污水井盖's disposal limit in the demo city's time limits.
        time_limit=TimeLimit(amount=2, unit=TimeUnit.WORKING_HOURS),
        channel=ReportChannel.SUPERVISOR,
        # The city duty chief's clock: 1 working hour from the forwarding.
        deadlines=(Deadline(step=ClockStep.CITY_ACCEPTANCE, due_at=AT_1000),),
    )


def test_a_district_case_is_not_forwarded() -> None:
    case = case_file(CaseStatus.REGISTERED, category_code="01002", level=CaseLevel.DISTRICT)

    with pytest.raises(Conflict, match="only a case registered as a city department's"):
        forward_to_city(case, WithReason(reason="市级"), context(CHIEF))


def test_the_city_duty_chief_passes_a_forwarded_case_on_or_sends_it_back() -> None:
    city_chief = Actor(id="chief-c", role=Role.DUTY_CHIEF, site="370200")
    case = case_file(CaseStatus.FORWARDED_TO_CITY, level=CaseLevel.CITY)
    at_city = context(city_chief, site="370200")

    [accepted] = accept_forwarding(case, Remarks(remarks="批转"), at_city).events
    [returned] = return_forwarding(case, WithReason(reason="属区级问题"), at_city).events

    # Either way the case waits for dispatch next, within 30 working minutes (ordinary).
    dispatch = (Deadline(step=ClockStep.DISPATCH, due_at=AT_0930),)
    assert (accepted.model, accepted.payload) == (
        ForwardingAccepted,
        ForwardingAcceptedPayload(remarks="批转", deadlines=dispatch),
    )
    assert (returned.model, returned.payload) == (
        ForwardingReturned,
        TimedReasonPayload(reason="属区级问题", deadlines=dispatch),
    )
    urgent = dataclasses.replace(case, urgency=Urgency.URGENT)
    assert only(
        accept_forwarding(urgent, Remarks(), at_city), ForwardingAcceptedPayload
    ).deadlines == (Deadline(step=ClockStep.DISPATCH, due_at=AT_0910),)
    with pytest.raises(Conflict, match="at the city site"):
        accept_forwarding(case, Remarks(), context(CHIEF))


def test_the_city_forwards_to_nobody() -> None:
    city_chief = Actor(id="chief-c", role=Role.DUTY_CHIEF, site="370200")

    with pytest.raises(Conflict, match="only a district forwards to the city"):
        forward_to_city(
            case_file(CaseStatus.REGISTERED),
            WithReason(reason="市级"),
            context(city_chief, site="370200"),
        )


# --- evolve -----------------------------------------------------------------------------------
def replay(
    event_types: list[str], payloads: Mapping[str, Mapping[str, Any]] | None = None
) -> list[CaseFile]:
    """The case file after each event, applied as the runtime applies a received event: the
    status moved by the lifecycle as casefile sees it and the latest moment applied kept in
    ``last_occurred_at``, then ``evolve``. ``payloads`` changes the contract's example payload
    of an event type."""
    files: list[CaseFile] = []
    record: CaseFile | None = None
    for minute, event_type in enumerate(event_types):
        changed = (payloads or {}).get(event_type, {})
        applied = event(event_type, NOW + timedelta(minutes=minute), **changed)
        state = TOPOLOGY.view.receive(record.lifecycle if record else None, event_type)
        base = (
            dataclasses.replace(
                record,
                status=state.status,
                resume_to=state.resume_to,
                last_event_id=applied.event_id,
                last_occurred_at=max(applied.occurred_at, record.last_occurred_at),
            )
            if record
            else CaseFile(
                case_id=CASE_ID,
                site=SITE,
                status=state.status,
                resume_to=state.resume_to,
                correlation_id=applied.correlation_id,
                last_event_id=applied.event_id,
                last_occurred_at=applied.occurred_at,
            )
        )
        record = evolve(base, applied)
        files.append(record)
    return files


@pytest.mark.parametrize("flow", sorted(SOURCE_FLOWS))
def test_the_case_file_follows_each_source_flow_to_its_close(flow: str) -> None:
    event_types = SOURCE_FLOWS[flow]
    verified = flow.startswith("public")
    channel = "public" if verified else "supervisor"

    at_city = flow.endswith("city")
    level = CaseLevel.CITY if at_city else CaseLevel.DISTRICT
    files = replay(
        event_types,
        {
            "case.reported": {"channel": channel},
            "case.accepted": {"needs_verification": verified},
            "case.registered": {"level": level.value},
        },
    )

    closed = files[-1]
    assert closed.status is CaseStatus.CLOSED
    assert closed.channel is ReportChannel(channel)
    assert closed.case_number == PAYLOADS["case.registered"]["case_number"]
    assert (closed.category_kind, closed.category_code) == (CaseKind.COMPONENT, "01002")
    assert closed.grid_code == "370212001001001"
    assert closed.urgency is Urgency.URGENT
    assert closed.level is level
    assert closed.department_id == "ls-sanitation"
    assert closed.deadline == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    assert closed.overdue is False
    assert closed.reported_at == NOW
    assert closed.last_occurred_at == NOW + timedelta(minutes=len(event_types) - 1)
    assert closed.needs_verification is verified
    assert closed.verifier_id == ("sup-7" if verified else None)
    assert closed.verified is (True if verified else None)


def test_each_event_of_the_public_flow_moves_the_case_file() -> None:
    files = replay(SOURCE_FLOWS["public_district"])

    assert [f.status for f in files] == [
        CaseStatus.REPORTED,
        CaseStatus.ACCEPTED,
        CaseStatus.VERIFYING,
        CaseStatus.VERIFIED,
        CaseStatus.REGISTERED,
        CaseStatus.DISPATCHED,
        CaseStatus.IN_DISPOSAL,
        CaseStatus.DISPOSED,
        CaseStatus.FEEDBACK_FORWARDED,
        CaseStatus.CHECKING,
        CaseStatus.CHECK_PASSED,
        CaseStatus.CLOSED,
    ]
    reported, accepted, requested, verified, registered, dispatched = files[:6]
    assert reported.channel is ReportChannel.PUBLIC
    assert reported.category_code == "01002"  # as the reporter told it
    assert reported.case_number is None
    assert (accepted.needs_verification, accepted.urgency) == (True, Urgency.URGENT)
    assert (requested.verifier_id, requested.verified) == ("sup-7", None)
    assert verified.verified is True
    assert registered.case_number == "370212C010022026112500001"
    assert registered.department_id is None
    assert dispatched.department_id == "ls-sanitation"


def test_a_self_handled_report_opens_a_case_file_that_is_already_ended() -> None:
    """自处理: recorded with what the supervisor reported, and no clock of case building."""
    [handled] = replay(["case.self_handled"])

    assert handled.status is CaseStatus.SELF_HANDLED
    assert handled.channel is ReportChannel.SUPERVISOR
    assert (handled.category_kind, handled.category_code) == (CaseKind.COMPONENT, "01002")
    assert (handled.grid_code, handled.reported_at) == ("370212001001001", NOW)
    assert (handled.case_number, handled.urgency) == (None, Urgency.ORDINARY)
    assert time(handled, event("case.self_handled", actor=SUPERVISOR), REFERENCE) == []


def test_a_registration_corrects_what_the_reporter_told() -> None:
    files = replay(
        ["case.reported", "case.accepted", "case.registered"],
        {
            "case.reported": {"category": None},
            "case.registered": {
                "category": {"standard": "GB/T 47678.5-2026", "kind": "event", "code": "06010"},
                "urgency": "ordinary",
                "level": "city",
            },
        },
    )

    assert (files[0].category_kind, files[0].category_code) == (None, None)
    registered = files[-1]
    assert (registered.category_kind, registered.category_code) == (CaseKind.EVENT, "06010")
    assert (registered.urgency, registered.level) == (Urgency.ORDINARY, CaseLevel.CITY)


def test_a_voiding_request_waits_on_the_case_file_until_decided_or_the_case_closes() -> None:
    """A request still pending when the case closes (结案) has nothing left to decide."""
    asked_at = NOW + timedelta(minutes=1)
    registered = case_file(CaseStatus.REGISTERED)
    operator = Actor(id="op-7", role=Role.ACCEPTANCE_OPERATOR, site=SITE)

    pending = evolve(registered, event("void.requested", asked_at, operator, reason="重复立案"))
    refused = evolve(pending, event("void.refused", asked_at + timedelta(minutes=1)))
    voided = evolve(pending, event("case.voided", asked_at + timedelta(minutes=1)))
    closed = evolve(
        dataclasses.replace(pending, status=CaseStatus.CLOSED),
        event("case.closed", asked_at + timedelta(minutes=1)),
    )

    assert (pending.void_requested_by, pending.void_reason, pending.void_requested_at) == (
        "op-7",
        "重复立案",
        asked_at,
    )
    for decided in (refused, voided, closed):
        assert (decided.void_requested_by, decided.void_reason, decided.void_requested_at) == (
            None,
            None,
            None,
        )


def test_an_overdue_disposal_marks_the_case_file_until_a_new_deadline() -> None:
    dispatched = case_file(CaseStatus.IN_DISPOSAL, department_id="ls-sanitation", deadline=NOW)
    later = NOW + timedelta(days=2)

    overdue = evolve(
        dispatched,
        TimeLimitOverdue.create(
            case_id=CASE_ID,
            site=SITE,
            actor=Actor.system(SITE, "dispatch-clock"),
            payload=TimeLimitPayload(step=ClockStep.DISPOSAL, deadline=NOW),
            previous=None,
        ),
    )
    extended = evolve(
        overdue,
        ExtensionDecided.create(
            case_id=CASE_ID,
            site=SITE,
            actor=CHIEF,
            payload=ExtensionDecidedPayload(approved=True, deadline=later),
            previous=None,
        ),
    )
    redispatched = evolve(
        overdue,
        CaseRedispatched.create(
            case_id=CASE_ID,
            site=SITE,
            actor=CHIEF,
            payload=CaseRedispatchedPayload(
                department_id="ls-roads",
                previous_department_id="ls-sanitation",
                deadline=later,
                reason="权属为道路部门",
            ),
            previous=None,
        ),
    )

    assert overdue.overdue is True
    assert (extended.overdue, extended.deadline) == (False, later)
    assert (redispatched.overdue, redispatched.department_id, redispatched.deadline) == (
        False,
        "ls-roads",
        later,
    )


@pytest.mark.parametrize(
    "step", [ClockStep.ACCEPTANCE, ClockStep.REGISTRATION, ClockStep.DISPATCH, ClockStep.CHECK]
)
def test_only_the_disposal_step_makes_the_case_file_overdue(step: ClockStep) -> None:
    """The list's ``overdue`` filter is the departments' lateness (处置超时)."""
    case = case_file(CaseStatus.REGISTERED)

    after = evolve(case, event("time_limit.overdue", step=step.value))

    assert after.overdue is False


def test_casefile_decides_nothing_on_its_own() -> None:
    """The read model only records: no event another stage emits makes casefile emit one."""
    case = case_file(CaseStatus.DISPATCHED)

    for model in TOPOLOGY.follows:
        name = model.type_name()
        assert RULES.react(case, event(name), REFERENCE) == (), name


# --- time: the clocks of acceptance, verification and registration ----------------------------
def test_a_report_starts_the_acceptance_clock() -> None:
    """A report carrying no deadline (the contract's example, as a v1 event reads) has it
    computed: 225 working minutes from 09:00, 3 h to noon, 45 min after the lunch break."""
    reported = case_file(CaseStatus.REPORTED)

    changes = time(reported, event("case.reported"), REFERENCE)

    assert changes == [
        Start(ClockStep.ACCEPTANCE, NOW, datetime(2026, 3, 10, 14, 15, tzinfo=SHANGHAI))
    ]


@pytest.mark.parametrize(("urgency", "minutes"), [(Urgency.URGENT, 10), (Urgency.ORDINARY, 30)])
def test_an_acceptance_without_verification_starts_the_registration_clock_for_its_urgency(
    urgency: Urgency, minutes: int
) -> None:
    accepted = event("case.accepted", needs_verification=False, urgency=urgency.value)
    case = evolve(case_file(CaseStatus.ACCEPTED), accepted)

    changes = time(case, accepted, REFERENCE)

    assert changes == [
        Stop(ClockStep.ACCEPTANCE, NOW),
        Start(ClockStep.REGISTRATION, NOW, NOW + timedelta(minutes=minutes)),
    ]


def test_an_acceptance_for_verification_only_stops_the_acceptance_clock() -> None:
    accepted = event("case.accepted", needs_verification=True)
    case = evolve(case_file(CaseStatus.ACCEPTED), accepted)

    assert time(case, accepted, REFERENCE) == [Stop(ClockStep.ACCEPTANCE, NOW)]


def test_a_verification_task_runs_until_its_due_time() -> None:
    due_at = NOW + timedelta(hours=1)
    requested = event("verification.requested", due_at=due_at.isoformat())
    without = event("verification.requested", due_at=None)
    case = case_file(CaseStatus.VERIFYING)

    assert time(case, requested, REFERENCE) == [Start(ClockStep.VERIFICATION, NOW, due_at)]
    assert time(case, without, REFERENCE) == []


def test_a_verification_report_starts_the_registration_clock_for_the_accepted_urgency() -> None:
    """The urgent limit of 10 working minutes, not the ordinary 30: the urgency the operator
    judged at acceptance is the case's until registration."""
    case = case_file(CaseStatus.VERIFIED, needs_verification=True, urgency=Urgency.URGENT)

    changes = time(case, event("verification.reported"), REFERENCE)

    assert changes == [
        Stop(ClockStep.VERIFICATION, NOW),
        Start(ClockStep.REGISTRATION, NOW, datetime(2026, 3, 10, 9, 10, tzinfo=SHANGHAI)),
    ]


LATER = datetime(2026, 3, 10, 15, 0, tzinfo=SHANGHAI)
"""A deadline no time limit of the demo city gives from NOW: a clock that shows it took it
from the event."""


def carrying(step: ClockStep, due_at: datetime = LATER) -> list[dict[str, str]]:
    return [{"step": step.value, "due_at": due_at.isoformat()}]


def test_a_report_starts_the_acceptance_clock_towards_the_deadline_it_carries() -> None:
    """The deadline intake wrote, not what the time limits give today (14:15)."""
    reported = event("case.reported", deadlines=carrying(ClockStep.ACCEPTANCE))

    changes = time(case_file(CaseStatus.REPORTED), reported, REFERENCE)

    assert changes == [Start(ClockStep.ACCEPTANCE, NOW, LATER)]


def test_an_acceptance_starts_the_registration_clock_towards_the_deadline_it_carries() -> None:
    accepted = event(
        "case.accepted",
        needs_verification=False,
        urgency="urgent",
        deadlines=carrying(ClockStep.REGISTRATION),
    )
    case = evolve(case_file(CaseStatus.ACCEPTED), accepted)

    assert time(case, accepted, REFERENCE) == [
        Stop(ClockStep.ACCEPTANCE, NOW),
        Start(ClockStep.REGISTRATION, NOW, LATER),
    ]


def test_a_verification_report_starts_the_registration_clock_towards_its_deadline() -> None:
    case = case_file(CaseStatus.VERIFIED, needs_verification=True, urgency=Urgency.URGENT)
    reported = event("verification.reported", deadlines=carrying(ClockStep.REGISTRATION))

    assert time(case, reported, REFERENCE) == [
        Stop(ClockStep.VERIFICATION, NOW),
        Start(ClockStep.REGISTRATION, NOW, LATER),
    ]


def test_a_city_registration_starts_the_forwarding_clock_towards_its_deadline() -> None:
    """The overall deadline it also carries is evaluation's: no clock of case building."""
    registered = event(
        "case.registered",
        level="city",
        deadlines=[
            *carrying(ClockStep.FORWARDING),
            *carrying(ClockStep.OVERALL, LATER + timedelta(days=5)),
        ],
    )
    case = evolve(case_file(CaseStatus.REGISTERED), registered)

    assert time(case, registered, REFERENCE) == [
        Stop(ClockStep.REGISTRATION, NOW),
        Start(ClockStep.FORWARDING, NOW, LATER),
    ]


def test_a_forwarding_starts_the_city_duty_chiefs_clock_towards_its_deadline() -> None:
    forwarded = event("case.forwarded_to_city", deadlines=carrying(ClockStep.CITY_ACCEPTANCE))
    case = evolve(case_file(CaseStatus.FORWARDED_TO_CITY), forwarded)

    assert time(case, forwarded, REFERENCE) == [
        Stop(ClockStep.FORWARDING, NOW),
        Start(ClockStep.CITY_ACCEPTANCE, NOW, LATER),
    ]


def test_a_city_case_registered_at_the_city_starts_no_forwarding_clock() -> None:
    """Only a district forwards (registration carries the city's dispatch deadline): a
    forwarding clock at the city would run on, with nothing to stop it, and show red."""
    city_chief = Actor(id="chief-c", role=Role.DUTY_CHIEF, site="370200")
    payload = payload_model("case.registered").model_validate(
        {**PAYLOADS["case.registered"], "level": "city", "deadlines": carrying(ClockStep.DISPATCH)}
    )
    registered = CaseRegistered.create(
        case_id=CASE_ID,
        site="370200",
        actor=city_chief,
        payload=payload,
        previous=None,
        occurred_at=NOW,
    )
    case = evolve(dataclasses.replace(case_file(CaseStatus.REGISTERED), site="370200"), registered)

    assert time(case, registered, REFERENCE) == [Stop(ClockStep.REGISTRATION, NOW)]


def test_a_deadline_of_another_step_is_not_taken_for_the_clocks_own() -> None:
    """A city registration carrying no forwarding deadline: computed, 30 working minutes."""
    registered = event("case.registered", level="city", deadlines=carrying(ClockStep.DISPATCH))
    case = evolve(case_file(CaseStatus.REGISTERED), registered)

    assert time(case, registered, REFERENCE) == [
        Stop(ClockStep.REGISTRATION, NOW),
        Start(ClockStep.FORWARDING, NOW, AT_0930),
    ]


def test_a_version_1_event_without_deadlines_has_its_clock_computed_as_then() -> None:
    """An event written before deadlines were carried, read back through the upcaster."""
    raw = json.loads(encode(event("case.accepted", needs_verification=False, urgency="urgent")))
    raw["schema_version"] = 1
    del raw["payload"]["deadlines"]
    accepted = decode(json.dumps(raw))
    assert isinstance(accepted, CaseAccepted)
    assert (accepted.schema_version, accepted.payload.deadlines) == (2, ())
    case = evolve(case_file(CaseStatus.ACCEPTED), accepted)

    assert time(case, accepted, REFERENCE) == [
        Stop(ClockStep.ACCEPTANCE, NOW),
        Start(ClockStep.REGISTRATION, NOW, AT_0910),
    ]


def test_registration_stops_the_registration_clock() -> None:
    case = case_file(CaseStatus.REGISTERED)

    assert time(case, event("case.registered"), REFERENCE) == [Stop(ClockStep.REGISTRATION, NOW)]


def clocks_along(
    event_types: list[str], payloads: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[list[set[ClockStep]], list[ClockStep]]:
    """The clocks of case building running after each event of the path, as ``time`` starts
    and stops them, and the steps the path's last event stops. Every stop must find its clock
    running: a stop of a clock that is not writes an update that changes nothing."""
    running: set[ClockStep] = set()
    after_each: list[set[ClockStep]] = []
    stopped: list[ClockStep] = []
    for minute, (event_type, case) in enumerate(
        zip(event_types, replay(event_types, payloads), strict=True)
    ):
        changed = (payloads or {}).get(event_type, {})
        applied = event(event_type, NOW + timedelta(minutes=minute), **changed)
        stopped = []
        for change in time(case, applied, REFERENCE):
            assert change.step in TOPOLOGY.clocks, change
            if isinstance(change, Start):
                running.add(change.step)
            else:
                assert isinstance(change, Stop), change
                assert change.step in running, (event_type, change)
                running.discard(change.step)
                stopped.append(change.step)
        after_each.append(set(running))
    return after_each, stopped


@pytest.mark.parametrize(
    ("event_type", "status"),
    [("case.cancelled", CaseStatus.CANCELLED), ("case.voided", CaseStatus.VOIDED)],
)
def test_an_end_stops_every_clock_of_case_building(event_type: str, status: CaseStatus) -> None:
    changes = time(case_file(status), event(event_type), REFERENCE)

    assert changes == [
        Stop(ClockStep.ACCEPTANCE, NOW),
        Stop(ClockStep.VERIFICATION, NOW),
        Stop(ClockStep.REGISTRATION, NOW),
        Stop(ClockStep.FORWARDING, NOW),
        Stop(ClockStep.CITY_ACCEPTANCE, NOW),
    ]


@pytest.mark.parametrize("flow", sorted(SOURCE_FLOWS))
def test_each_source_flow_stops_every_clock_it_starts_by_registration(flow: str) -> None:
    verified = flow.startswith("public")
    at_city = flow.endswith("city")
    running, _ = clocks_along(
        SOURCE_FLOWS[flow],
        {
            "case.accepted": {"needs_verification": verified},
            "case.registered": {"level": "city" if at_city else "district"},
        },
    )

    registered = SOURCE_FLOWS[flow].index("case.registered")
    assert running[registered - 1] == {ClockStep.REGISTRATION}
    if at_city:
        # 转市级 runs until the forwarding, 市值班长受理 until the city duty chief's 批转.
        assert running[registered] == {ClockStep.FORWARDING}
        assert running[registered + 1] == {ClockStep.CITY_ACCEPTANCE}
        registered += 2
    assert all(after == set() for after in running[registered:])


def test_the_city_duty_chief_is_timed_from_the_forwarding() -> None:
    forwarded = event("case.forwarded_to_city")
    case = evolve(case_file(CaseStatus.FORWARDED_TO_CITY), forwarded)

    [stop, start] = time(case, forwarded, REFERENCE)
    assert stop == Stop(ClockStep.FORWARDING, NOW)
    assert isinstance(start, Start)
    assert (start.step, start.at) == (ClockStep.CITY_ACCEPTANCE, NOW)
    assert REFERENCE.calendar.working_time_between(NOW, start.deadline) == timedelta(hours=1)
    for answer in ("forwarding.accepted", "forwarding.returned"):
        assert time(case, event(answer), REFERENCE) == [Stop(ClockStep.CITY_ACCEPTANCE, NOW)]


@pytest.mark.parametrize("event_type", ["case.dispatched", "time_limit.overdue", "void.requested"])
def test_other_events_move_no_clock_of_case_building(event_type: str) -> None:
    assert time(case_file(CaseStatus.DISPATCHED), event(event_type), REFERENCE) == []


def test_the_clocks_are_the_same_for_the_same_event() -> None:
    """A replay of the same history starts the same clocks."""
    accepted = event("case.accepted", needs_verification=False, urgency="urgent")
    case = evolve(case_file(CaseStatus.ACCEPTED), accepted)

    assert time(case, accepted, REFERENCE) == time(case, accepted, REFERENCE)


def test_casefile_applies_every_event_type_so_it_sees_the_strict_lifecycle() -> None:
    """What the replay above relies on: a case stands where casefile last saw it, never
    anywhere an unseen move could have taken it."""
    assert TOPOLOGY.follows_types | TOPOLOGY.emits_types == set(EVENT_TYPES)
    for status in CaseStatus:
        state = case_file(status).lifecycle
        assert TOPOLOGY.view.horizon(state) == (state,), status
