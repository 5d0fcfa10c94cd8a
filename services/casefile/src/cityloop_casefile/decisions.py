"""Case building (案卷建立): acceptance (受理), on-site verification (核实), registration (立案),
cancellation (注销), voiding (作废), forwarding to the city (转市级) and, at the city, the city
duty chief's answer to it; and the clocks of each of these steps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import Field

from cityloop_casefile.state import CaseFile
from cityloop_shared.contract.envelope import CaseEvent
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
from cityloop_shared.contract.events.deadlines import Timed
from cityloop_shared.contract.events.intake import CaseReported
from cityloop_shared.contract.ids import CaseKind, case_number
from cityloop_shared.contract.lifecycle import CaseStatus, LifecycleView
from cityloop_shared.contract.sites import SiteLevel, city_of, site_level
from cityloop_shared.contract.values import (
    Attachment,
    CaseLevel,
    Category,
    ClockStep,
    Deadline,
    Reason,
    ReportChannel,
    Urgency,
)
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.categories import Category as DictionaryCategory
from cityloop_shared.reference.lookup import known_category
from cityloop_shared.stage import clocks as clock
from cityloop_shared.stage.deadlines import due_at, step_deadline
from cityloop_shared.stage.decisions import (
    Command,
    Conflict,
    Context,
    Decision,
    Draft,
    Forbidden,
)


class Accept(Command):
    needs_verification: bool | None = Field(
        default=None, description="Defaults to true for public reports, false otherwise"
    )
    urgency: Urgency = Field(
        default=Urgency.ORDINARY, description="Sets the registration time limit (立案时限)"
    )


class RequestVerification(Command):
    supervisor_id: str | None = Field(
        default=None, max_length=128, description="Defaults to the grid's supervisor"
    )


class ReportVerification(Command):
    confirmed: bool
    remarks: str | None = Field(default=None, max_length=2000)
    attachments: tuple[Attachment, ...] = ()


class Register(Command):
    category_code: str = Field(pattern=r"^\d{4,5}$")
    kind: CaseKind | None = Field(default=None, description="Needed only when the code is both")
    level: CaseLevel = CaseLevel.DISTRICT
    urgency: Urgency | None = Field(
        default=None, description="Defaults to the urgency the acceptance operator judged"
    )


@dataclass(frozen=True, slots=True)
class Registration:
    """A registration with the site's next case number of the day, read in its transaction."""

    command: Register
    day: date
    """The site's day the case is registered on: its number carries it."""
    sequence: int


class WithReason(Command):
    reason: Reason


class Remarks(Command):
    remarks: str | None = Field(default=None, max_length=2000)


class VoidDecision(Command):
    approve: bool
    reason: str | None = Field(default=None, max_length=2000, description="Why, if refused")


# --- commands ---------------------------------------------------------------------------------
def accept(case: CaseFile, command: Accept, ctx: Context) -> Decision:
    """受理: public reports are verified on site first, unless the operator says otherwise."""
    public = case.channel is ReportChannel.PUBLIC
    needs = public if command.needs_verification is None else command.needs_verification
    deadlines = () if needs else (_registration(case, ctx.now, ctx.reference, command.urgency),)
    payload = CaseAcceptedPayload(
        needs_verification=needs, urgency=command.urgency, deadlines=deadlines
    )
    return Decision([Draft(CaseAccepted, payload)], {"case_number": case.case_number})


def request_verification(case: CaseFile, command: RequestVerification, ctx: Context) -> Decision:
    """核实任务: the grid's supervisor is sent to confirm a public report."""
    ctx.require(case, VerificationRequested)
    supervisor_id = command.supervisor_id or _grid_supervisor(case, ctx.reference)
    due = _deadline(case, ClockStep.VERIFICATION, ctx.now, ctx.reference)
    payload = VerificationRequestedPayload(
        supervisor_id=supervisor_id, due_at=due.due_at, deadlines=(due,)
    )
    return Decision(
        [Draft(VerificationRequested, payload)],
        {"case_number": case.case_number, "supervisor_id": supervisor_id, "due_at": due.due_at},
    )


def report_verification(case: CaseFile, command: ReportVerification, ctx: Context) -> Decision:
    """核实反馈: only the supervisor the task went to reports it."""
    if case.verifier_id is not None and case.verifier_id != ctx.actor.id:
        raise Forbidden(f"the verification task went to supervisor {case.verifier_id}")
    payload = VerificationReportedPayload(
        confirmed=command.confirmed,
        remarks=command.remarks,
        attachments=command.attachments,
        deadlines=(_registration(case, ctx.now, ctx.reference),),
    )
    return Decision([Draft(VerificationReported, payload)], {"case_number": case.case_number})


def registrable(
    case: CaseFile, command: Register, view: LifecycleView, reference: ReferenceData
) -> DictionaryCategory:
    """The category a registration files the case under, once the case may be registered:
    409 while a public report waits for its verification or was not confirmed, or when the
    case is past registration; 422 naming ``category_code`` when the dictionary has no such
    category. Also asked before the case takes its number of the day (see ``api.numbered``)."""
    if case.needs_verification and case.status in (CaseStatus.ACCEPTED, CaseStatus.VERIFIED):
        if case.verified is False:
            raise Conflict("the supervisor did not confirm the problem on site: cancel the case")
        if case.verified is None:
            raise Conflict("a public report is verified on site (核实) before registration")
    view.decide(case.lifecycle, CaseRegistered.type_name())
    return known_category(
        reference.categories, command.category_code, command.kind, ("category_code",)
    )


def register(case: CaseFile, registration: Registration, ctx: Context) -> Decision:
    """立案 by the duty chief: category, level, urgency; number and time limit follow."""
    command = registration.command
    category = registrable(case, command, ctx.view, ctx.reference)
    urgency = command.urgency or case.urgency
    limit = ctx.reference.time_limits.limit_for(ClockStep.DISPOSAL, category.code, urgency)
    number = case_number(
        ctx.site, category.kind, category.code, registration.day, registration.sequence
    )
    assert case.grid_code is not None, "a reported case has a grid"
    next_step = ClockStep.FORWARDING if _forwarded(command.level, ctx.site) else ClockStep.DISPATCH
    deadlines = tuple(
        step_deadline(step, ctx.now, category.code, urgency, ctx.reference)
        for step in (next_step, ClockStep.OVERALL)
    )
    payload = CaseRegisteredPayload(
        case_number=number,
        category=Category(standard=category.standard, kind=category.kind, code=category.code),
        grid_code=case.grid_code,
        level=command.level,
        urgency=urgency,
        time_limit=limit.as_time_limit(),
        channel=case.channel,
        deadlines=deadlines,
    )
    return Decision([Draft(CaseRegistered, payload)], {"case_number": number})


def cancel(case: CaseFile, command: WithReason, ctx: Context) -> Decision:
    """注销 / 不予立案, with the reason."""
    payload = ReasonPayload(reason=command.reason)
    return Decision([Draft(CaseCancelled, payload)], {"case_number": case.case_number})


def request_voiding(case: CaseFile, command: WithReason, ctx: Context) -> Decision:
    """作废申请: any centre role asks; the duty chief decides."""
    ctx.require(case, CaseVoided)
    if case.void_requested_by is not None:
        raise Conflict(f"a voiding request by {case.void_requested_by} is pending for this case")
    return Decision(
        [Draft(VoidRequested, ReasonPayload(reason=command.reason))],
        {"case_number": case.case_number, "void_requested_by": ctx.actor.id},
    )


def decide_voiding(case: CaseFile, command: VoidDecision, ctx: Context) -> Decision:
    """作废 approved (the case is voided) or refused (the request is dropped)."""
    if case.void_requested_by is None or case.void_reason is None:
        raise Conflict("no voiding request is pending for this case")
    if not command.approve:
        refused = VoidRefusedPayload(reason=command.reason)
        return Decision([Draft(VoidRefused, refused)], {"voided": False})
    voided = CaseVoidedPayload(
        reason=case.void_reason, requested_by=case.void_requested_by, approved_by=ctx.actor.id
    )
    return Decision([Draft(CaseVoided, voided)], {"case_number": case.case_number, "voided": True})


def forward_to_city(case: CaseFile, command: WithReason, ctx: Context) -> Decision:
    """转市级: the district duty chief hands a case registered as a city department's to the
    city duty chief, with what the city needs to dispatch it."""
    if site_level(ctx.site) is not SiteLevel.DISTRICT:
        raise Conflict("only a district forwards to the city")
    ctx.require(case, CaseForwardedToCity)
    if case.level is not CaseLevel.CITY:
        raise Conflict(
            "only a case registered as a city department's (level city) is forwarded to the "
            "city: this one is the district's to dispatch"
        )
    assert case.category_code is not None, "a registered case has a category"
    category = known_category(
        ctx.reference.categories, case.category_code, case.category_kind, ("category_code",)
    )
    limit = ctx.reference.time_limits.limit_for(ClockStep.DISPOSAL, category.code, case.urgency)
    payload = CaseForwardedToCityPayload(
        city_site=city_of(ctx.site),
        reason=command.reason,
        case_number=case.case_number,
        category=Category(standard=category.standard, kind=category.kind, code=category.code),
        grid_code=case.grid_code,
        urgency=case.urgency,
        time_limit=limit.as_time_limit(),
        channel=case.channel,
        deadlines=(_deadline(case, ClockStep.CITY_ACCEPTANCE, ctx.now, ctx.reference),),
    )
    return Decision([Draft(CaseForwardedToCity, payload)], {"case_number": case.case_number})


def accept_forwarding(case: CaseFile, command: Remarks, ctx: Context) -> Decision:
    """批转: the city duty chief (市值班长) passes a forwarded case to the city command centre."""
    _at_the_city(ctx)
    payload = ForwardingAcceptedPayload(
        remarks=command.remarks,
        deadlines=(_deadline(case, ClockStep.DISPATCH, ctx.now, ctx.reference),),
    )
    return Decision([Draft(ForwardingAccepted, payload)], {"case_number": case.case_number})


def return_forwarding(case: CaseFile, command: WithReason, ctx: Context) -> Decision:
    """退回: the city duty chief sends a forwarded case back to its district, with the reason."""
    _at_the_city(ctx)
    payload = TimedReasonPayload(
        reason=command.reason,
        deadlines=(_deadline(case, ClockStep.DISPATCH, ctx.now, ctx.reference),),
    )
    return Decision([Draft(ForwardingReturned, payload)], {"case_number": case.case_number})


def _at_the_city(ctx: Context) -> None:
    if site_level(ctx.site) is not SiteLevel.CITY:
        raise Conflict("a forwarded case is accepted or sent back at the city site")


# --- clocks -----------------------------------------------------------------------------------
def time(case: CaseFile, event: CaseEvent, reference: ReferenceData) -> Sequence[clock.ClockChange]:
    """受理 runs from the report; 核实 from the task; 立案 from acceptance (or the
    verification), on the limit for the case's urgency."""
    at = event.occurred_at
    match event:
        case CaseReported(payload=p):
            return [_start(case, ClockStep.ACCEPTANCE, at, p, reference)]
        case CaseAccepted(payload=p):
            stop: list[clock.ClockChange] = [clock.Stop(ClockStep.ACCEPTANCE, at)]
            if p.needs_verification:
                return stop
            return [*stop, _start(case, ClockStep.REGISTRATION, at, p, reference)]
        case VerificationRequested(payload=p) if p.due_at is not None:
            return [clock.Start(ClockStep.VERIFICATION, at, p.due_at)]
        case VerificationReported(payload=p):
            return [
                clock.Stop(ClockStep.VERIFICATION, at),
                _start(case, ClockStep.REGISTRATION, at, p, reference),
            ]
        case CaseRegistered(payload=p) if _forwarded(p.level, event.site):
            # Registered as a city department's: the district forwards it, or it shows red.
            return [
                clock.Stop(ClockStep.REGISTRATION, at),
                _start(case, ClockStep.FORWARDING, at, p, reference),
            ]
        case CaseRegistered():
            return [clock.Stop(ClockStep.REGISTRATION, at)]
        case CaseForwardedToCity(payload=p):
            # The district's clock stops; the city duty chief's starts (each site keeps its own).
            return [
                clock.Stop(ClockStep.FORWARDING, at),
                _start(case, ClockStep.CITY_ACCEPTANCE, at, p, reference),
            ]
        case ForwardingAccepted() | ForwardingReturned():
            return [clock.Stop(ClockStep.CITY_ACCEPTANCE, at)]
        case CaseCancelled() | CaseVoided():
            return [clock.Stop(step, at) for step in _OWN_STEPS]
    return []


_OWN_STEPS = (
    ClockStep.ACCEPTANCE,
    ClockStep.VERIFICATION,
    ClockStep.REGISTRATION,
    ClockStep.FORWARDING,
    ClockStep.CITY_ACCEPTANCE,
)


def _forwarded(level: CaseLevel, site: str) -> bool:
    """A district forwards a case registered as a city department's (转市级); at the city, and
    for a district's own case, dispatch follows registration."""
    return level is CaseLevel.CITY and site_level(site) is SiteLevel.DISTRICT


def _start(
    case: CaseFile, step: ClockStep, at: datetime, payload: Timed, reference: ReferenceData
) -> clock.Start:
    """The step's clock towards the deadline the event carries (computed for a v1 event)."""
    return clock.Start(
        step, at, due_at(payload, step, lambda: _deadline(case, step, at, reference).due_at)
    )


def _registration(
    case: CaseFile, start: datetime, reference: ReferenceData, urgency: Urgency | None = None
) -> Deadline:
    return step_deadline(
        ClockStep.REGISTRATION, start, case.category_code, urgency or case.urgency, reference
    )


def _deadline(
    case: CaseFile, step: ClockStep, start: datetime, reference: ReferenceData
) -> Deadline:
    return step_deadline(step, start, case.category_code, case.urgency, reference)


def _grid_supervisor(case: CaseFile, reference: ReferenceData) -> str:
    supervisor = reference.supervisors.supervisor_for(case.grid_code or "")
    if supervisor is None:
        raise Conflict(f"grid {case.grid_code} has no supervisor: name one")
    return supervisor.id
