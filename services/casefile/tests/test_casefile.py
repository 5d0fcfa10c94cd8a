"""Case building and the site's case file over real Kafka and PostgreSQL: acceptance,
verification, registration, cancellation, voiding and forwarding with refusals that change
nothing; the clocks of those steps; and the case file that follows every other stage's
events in lifecycle order, with its lists and its timeline."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import update

from cityloop_deploy.site_fixtures import UpstreamStage, eventually, topic_records
from cityloop_shared.adapters.sql.tables import clocks
from cityloop_shared.contract import (
    Actor,
    CaseEvent,
    Role,
    Stage,
    decode,
    event_topic,
    new_id,
    verify_chain,
)
from cityloop_shared.contract.events.casefile import CaseRegisteredPayload
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseDispatchedPayload,
    FeedbackForwarded,
    FeedbackForwardedPayload,
    FollowUpPayload,
    ReminderSent,
    SupervisionIssued,
)
from cityloop_shared.contract.events.disposal import (
    DisposalAccepted,
    DisposalAcceptedPayload,
    DisposalCompleted,
    DisposalCompletedPayload,
)
from cityloop_shared.contract.events.intake import CaseReported, CaseReportedPayload
from cityloop_shared.contract.events.time_limits import TimeLimitOverdue, TimeLimitPayload
from cityloop_shared.contract.events.verification import (
    CaseClosed,
    CaseClosedPayload,
    CheckPassed,
    CheckRequested,
    CheckRequestedPayload,
    CheckResultPayload,
)
from cityloop_shared.contract.flows import SUPERVISOR_DISTRICT
from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.contract.values import (
    Category,
    ClockStep,
    GeoPoint,
    Location,
    PublicReporter,
    ReportChannel,
    Urgency,
)
from cityloop_shared.messaging import headers
from cityloop_shared.ports.clocks import Clock
from cityloop_shared.ports.tracker import OWN
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.runtime.timers import scan_clocks

Client = tuple[httpx.AsyncClient, ServiceRuntime]
Upstream = Callable[[Stage], UpstreamStage]
Auth = Callable[..., dict[str, str]]

SITE = "370212"
GRID = "370212003001001"
"""Supervised by sv-370212-03."""
OTHER_GRID = "370212001001001"
SUPERVISOR = "sv-370212-03"
DEPARTMENT = "370212-sanitation"
REPORTER = Actor(id="op-1", role=Role.ACCEPTANCE_OPERATOR, site=SITE)
DISPATCHER = Actor(id="dispatcher-1", role=Role.DISPATCHER, site=SITE)
STAFF = Actor(id="staff-1", role=Role.DEPARTMENT, site=SITE, department_id=DEPARTMENT)
FIELD = Actor(id=SUPERVISOR, role=Role.FIELD_SUPERVISOR, site=SITE)
CHIEF = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=SITE)


# --- helpers ----------------------------------------------------------------------------------
async def report(
    upstream: Upstream,
    channel: ReportChannel,
    *,
    grid: str = GRID,
    category: str | None = None,
    reporter: PublicReporter | None = None,
    description: str = "暴露垃圾",
) -> CaseReported:
    """A report as intake publishes it, on the site's intake topic."""
    return await upstream(Stage.INTAKE).emit(
        CaseReported,
        case_id=new_id(),
        actor=REPORTER,
        payload=CaseReportedPayload(
            channel=channel,
            category=_category(category) if category else None,
            description=description,
            location=Location(point=GeoPoint(lon=120.45, lat=36.13), grid_code=grid),
            reporter=reporter,
        ),
    )


def _category(code: str) -> Category:
    """Majors 01–05 of GB/T 47678.5 are components (部件), 06–10 events (事件)."""
    kind = CaseKind.COMPONENT if int(code[:2]) <= 5 else CaseKind.EVENT
    return Category(standard="GB/T 47678.5-2026", kind=kind, code=code)


async def case_file(client: httpx.AsyncClient, case_id: UUID, auth: dict[str, str]) -> Any:
    response = await client.get(f"/cases/{case_id}", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


async def known(
    client: httpx.AsyncClient,
    case_id: UUID,
    auth: dict[str, str],
    ok: Callable[[Any], bool] = lambda case: True,
) -> Any:
    """The case file once casefile holds the case and ``ok`` holds of it."""

    async def probe() -> Any:
        response = await client.get(f"/cases/{case_id}", headers=auth)
        return response.json() if response.status_code == 200 else None

    return await eventually(probe, lambda case: case is not None and ok(case))


def event_types(case: Any) -> list[str]:
    return [entry["event_type"] for entry in case["timeline"]]


async def post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], auth: dict[str, str]
) -> Any:
    """A command that must go through; its answer."""
    response = await client.post(path, json=body, headers=auth)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    return response.json()


async def accepted_and_registered(
    client: httpx.AsyncClient,
    auth: Auth,
    case_id: UUID,
    category: str = "06001",
    urgency: str = "ordinary",
) -> Any:
    """A report that needs no verification (a supervisor's, a camera's) accepted and
    registered; the registration's answer."""
    await post(
        client, f"/cases/{case_id}/accept", {"urgency": urgency}, auth(Role.ACCEPTANCE_OPERATOR)
    )
    return await post(
        client, f"/cases/{case_id}/register", {"category_code": category}, auth(Role.DUTY_CHIEF)
    )


async def clock(runtime: ServiceRuntime, case_id: UUID, step: ClockStep) -> Clock | None:
    async with runtime.database.begin() as uow:
        return await uow.clocks.clock(case_id, step)


async def own_events(runtime: ServiceRuntime, case_id: UUID) -> dict[str, CaseEvent]:
    """The case's events casefile decided, by type (the last of each)."""
    async with runtime.database.begin() as uow:
        return {event.event_type: event for event in await uow.recorder.case_events(case_id)}


def after_working(runtime: ServiceRuntime, start: datetime, minutes: int) -> datetime:
    return runtime.reference.calendar.add_working_time(start, timedelta(minutes=minutes))


def number_of_today(runtime: ServiceRuntime, prefix: str) -> re.Pattern[str]:
    """A case number of today's register (the site's day): prefix, day, 5-digit sequence."""
    today = datetime.now(runtime.reference.calendar.zone).strftime("%Y%m%d")
    return re.compile(rf"^{prefix}{today}\d{{5}}$")


# --- acceptance, verification, registration ---------------------------------------------------
async def test_a_public_report_is_verified_then_registered(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    chief = auth(Role.DUTY_CHIEF)
    case_id = (await report(upstream, ReportChannel.PUBLIC)).case_id
    await known(client, case_id, operator)

    accepted = await client.post(
        f"/cases/{case_id}/accept", json={"urgency": "urgent"}, headers=operator
    )
    assert accepted.status_code == 200, accepted.text
    # A public report must be verified before registration.
    early = await client.post(
        f"/cases/{case_id}/register", json={"category_code": "06001"}, headers=chief
    )
    assert early.status_code == 409
    assert "verified on site" in early.json()["detail"]
    asked = await client.post(f"/cases/{case_id}/verification/request", json={}, headers=operator)
    assert asked.json()["supervisor_id"] == SUPERVISOR
    stranger = auth(Role.FIELD_SUPERVISOR, id="sv-370212-01")
    refused = await client.post(
        f"/cases/{case_id}/verification/report", json={"confirmed": True}, headers=stranger
    )
    assert refused.status_code == 403
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    verified = await client.post(
        f"/cases/{case_id}/verification/report", json={"confirmed": True}, headers=supervisor
    )
    assert verified.status_code == 200, verified.text
    # No urgency given: the registration takes the one judged at acceptance.
    registered = await client.post(
        f"/cases/{case_id}/register", json={"category_code": "06001"}, headers=chief
    )
    assert registered.status_code == 200, registered.text
    number = registered.json()["case_number"]
    assert number_of_today(runtime, "370212E06001").match(number), number

    detail = await case_file(client, case_id, operator)
    assert detail["status"] == "registered"
    assert (detail["case_number"], detail["urgency"]) == (number, "urgent")
    assert (detail["verifier_id"], detail["verified"]) == (SUPERVISOR, True)
    assert event_types(detail) == [
        "case.reported",
        "case.accepted",
        "verification.requested",
        "verification.reported",
        "case.registered",
    ]
    assert detail["timeline"][1]["payload"]["urgency"] == "urgent"
    assert detail["timeline"][3]["actor_id"] == SUPERVISOR
    registration = detail["timeline"][4]["payload"]
    assert (registration["channel"], registration["urgency"]) == ("public", "urgent")

    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 4)
    events = [decode(r.value) for r in records]
    assert [e.event_type for e in events] == [
        "case.accepted",
        "verification.requested",
        "verification.reported",
        "case.registered",
    ]
    assert verify_chain(events) == []
    # The command's moment is its transaction's: the registration happened then, and its
    # case number is of that day in the site's zone.
    registered_at = events[-1].occurred_at
    zone = runtime.reference.calendar.zone
    assert number[-13:-5] == registered_at.astimezone(zone).strftime("%Y%m%d")
    # The case file shows when it last changed: the last event it applied.
    assert datetime.fromisoformat(detail["updated_at"]) == registered_at


async def test_each_step_of_a_verified_case_runs_its_own_clock(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    """受理 from the report, 核实 from the task to its due time, 立案 from the verification
    report on the urgent limit the operator set: each stopped where its step ends."""
    client, runtime = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    reported = await report(upstream, ReportChannel.PUBLIC)
    case_id = reported.case_id
    await known(client, case_id, operator)

    acceptance = await clock(runtime, case_id, ClockStep.ACCEPTANCE)
    assert acceptance is not None
    assert (acceptance.started_at, acceptance.deadline, acceptance.stopped_at) == (
        reported.occurred_at,
        after_working(runtime, reported.occurred_at, 225),
        None,
    )

    await post(client, f"/cases/{case_id}/accept", {"urgency": "urgent"}, operator)
    accepted = (await own_events(runtime, case_id))["case.accepted"]
    acceptance = await clock(runtime, case_id, ClockStep.ACCEPTANCE)
    assert acceptance is not None
    assert acceptance.stopped_at == accepted.occurred_at
    # The case goes to verification first: registration's time has not begun.
    assert await clock(runtime, case_id, ClockStep.REGISTRATION) is None

    asked = await post(client, f"/cases/{case_id}/verification/request", {}, operator)
    requested = (await own_events(runtime, case_id))["verification.requested"]
    verification = await clock(runtime, case_id, ClockStep.VERIFICATION)
    assert verification is not None
    assert (verification.started_at, verification.deadline, verification.stopped_at) == (
        requested.occurred_at,
        datetime.fromisoformat(asked["due_at"]),
        None,
    )

    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    await post(client, f"/cases/{case_id}/verification/report", {"confirmed": True}, supervisor)
    verified = (await own_events(runtime, case_id))["verification.reported"]
    verification = await clock(runtime, case_id, ClockStep.VERIFICATION)
    registration = await clock(runtime, case_id, ClockStep.REGISTRATION)
    assert verification is not None
    assert verification.stopped_at == verified.occurred_at
    assert registration is not None
    assert (registration.started_at, registration.deadline) == (
        verified.occurred_at,
        after_working(runtime, verified.occurred_at, 10),
    )

    await post(
        client, f"/cases/{case_id}/register", {"category_code": "06001"}, auth(Role.DUTY_CHIEF)
    )
    registered = (await own_events(runtime, case_id))["case.registered"]
    registration = await clock(runtime, case_id, ClockStep.REGISTRATION)
    assert registration is not None
    assert registration.stopped_at == registered.occurred_at


async def test_a_supervisor_report_skips_verification(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    chief = auth(Role.DUTY_CHIEF)
    case_id = (await report(upstream, ReportChannel.SUPERVISOR)).case_id
    await known(client, case_id, operator)
    await post(client, f"/cases/{case_id}/accept", {}, operator)
    unknown = await client.post(
        f"/cases/{case_id}/register", json={"category_code": "99999"}, headers=chief
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "category_code"]

    registered = await client.post(
        f"/cases/{case_id}/register", json={"category_code": "01002"}, headers=chief
    )

    assert registered.status_code == 200, registered.text
    number = registered.json()["case_number"]
    assert number_of_today(runtime, "370212C01002").match(number), number
    # The refused registration gave its number of the day back.
    assert number.endswith("00001")
    detail = await case_file(client, case_id, operator)
    assert (detail["needs_verification"], detail["verified"]) == (False, None)
    assert detail["timeline"][-1]["payload"]["channel"] == "supervisor"


async def test_an_urgent_acceptance_starts_the_urgent_registration_clock(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    """立案时限: urgent 10 working minutes, otherwise 30, from an acceptance that needs no
    verification; the registration stops it."""
    client, runtime = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    urgent = (await report(upstream, ReportChannel.SUPERVISOR)).case_id
    ordinary = (await report(upstream, ReportChannel.VIDEO)).case_id
    await known(client, urgent, operator)
    await known(client, ordinary, operator)

    await post(client, f"/cases/{urgent}/accept", {"urgency": "urgent"}, operator)
    await post(client, f"/cases/{ordinary}/accept", {}, operator)

    for case_id, minutes in ((urgent, 10), (ordinary, 30)):
        accepted = (await own_events(runtime, case_id))["case.accepted"]
        registration = await clock(runtime, case_id, ClockStep.REGISTRATION)
        assert registration is not None
        assert (registration.started_at, registration.deadline, registration.stopped_at) == (
            accepted.occurred_at,
            after_working(runtime, accepted.occurred_at, minutes),
            None,
        ), minutes

    await post(
        client, f"/cases/{urgent}/register", {"category_code": "06001"}, auth(Role.DUTY_CHIEF)
    )
    registered = (await own_events(runtime, urgent))["case.registered"]
    registration = await clock(runtime, urgent, ClockStep.REGISTRATION)
    assert registration is not None
    assert registration.stopped_at == registered.occurred_at
    assert isinstance(registered.payload, CaseRegisteredPayload)
    assert registered.payload.urgency is Urgency.URGENT


async def test_an_unconfirmed_report_is_cancelled_and_its_clocks_stop(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    chief = auth(Role.DUTY_CHIEF)
    case_id = (await report(upstream, ReportChannel.PUBLIC)).case_id
    await known(client, case_id, operator)
    await post(client, f"/cases/{case_id}/accept", {}, operator)
    await post(client, f"/cases/{case_id}/verification/request", {}, operator)
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    await post(client, f"/cases/{case_id}/verification/report", {"confirmed": False}, supervisor)

    refused = await client.post(
        f"/cases/{case_id}/register", json={"category_code": "06001"}, headers=chief
    )
    assert refused.status_code == 409
    assert "did not confirm" in refused.json()["detail"]
    await post(client, f"/cases/{case_id}/cancel", {"reason": "现场无此问题"}, chief)

    cancelled = (await own_events(runtime, case_id))["case.cancelled"]
    registration = await clock(runtime, case_id, ClockStep.REGISTRATION)
    assert registration is not None
    assert registration.stopped_at == cancelled.occurred_at
    detail = await case_file(client, case_id, operator)
    assert detail["status"] == "cancelled"
    assert detail["verified"] is False
    assert detail["timeline"][-1]["payload"] == {"reason": "现场无此问题"}


async def test_registration_time_running_out_is_signalled_once_each(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    """黄灯 then 红灯 of the registration step, from casefile's own clock scan, each dated
    the moment it fell due (the marks are moved to just after the acceptance, long before the
    scan runs). A red light of registration does not make the case file overdue: only a late
    disposal does."""
    client, runtime = casefile
    chief = auth(Role.DUTY_CHIEF)
    case_id = (await report(upstream, ReportChannel.SUPERVISOR)).case_id
    await known(client, case_id, chief)
    await post(client, f"/cases/{case_id}/accept", {}, auth(Role.ACCEPTANCE_OPERATOR))
    accepted = (await own_events(runtime, case_id))["case.accepted"]
    warn_at = accepted.occurred_at + timedelta(milliseconds=1)
    deadline = accepted.occurred_at + timedelta(milliseconds=2)

    async with runtime.database.begin() as uow:
        uow.write(
            update(clocks)
            .where(clocks.c.case_id == case_id, clocks.c.step == ClockStep.REGISTRATION.value)
            .values(warn_at=warn_at, deadline=deadline)
        )

    detail = await known(
        client, case_id, chief, lambda case: event_types(case)[-1] == "time_limit.overdue"
    )
    assert event_types(detail) == [
        "case.reported",
        "case.accepted",
        "time_limit.warning",
        "time_limit.overdue",
    ]
    warning, overdue = detail["timeline"][-2:]
    assert warning["payload"]["step"] == overdue["payload"]["step"] == "registration"
    assert datetime.fromisoformat(warning["occurred_at"]) == warn_at
    assert datetime.fromisoformat(overdue["occurred_at"]) == deadline
    assert detail["overdue"] is False
    # A scan now finds nothing again: each signal was decided once.
    assert await scan_clocks(runtime) == 0
    assert event_types(await case_file(client, case_id, chief)) == event_types(detail)
    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 3)
    signals = [decode(r.value).event_type for r in records]
    assert signals == ["case.accepted", "time_limit.warning", "time_limit.overdue"]
    # The duty chief registers all the same; the red light stays in the timeline.
    await post(client, f"/cases/{case_id}/register", {"category_code": "06001"}, chief)


async def test_refusals_change_nothing(casefile: Client, auth: Auth, upstream: Upstream) -> None:
    client, _ = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    chief = auth(Role.DUTY_CHIEF)
    case_id = (await report(upstream, ReportChannel.SUPERVISOR)).case_id
    await known(client, case_id, operator)

    assert (await client.post(f"/cases/{case_id}/accept", json={})).status_code == 401
    wrong_role = await client.post(f"/cases/{case_id}/accept", json={}, headers=chief)
    assert wrong_role.status_code == 403
    other_district = auth(Role.ACCEPTANCE_OPERATOR, site="370202")
    elsewhere = await client.post(f"/cases/{case_id}/accept", json={}, headers=other_district)
    assert elsewhere.status_code == 401  # a district does not trust another district's issuer
    assert "cityloop:370202" in elsewhere.json()["detail"]
    malformed = await client.post(
        f"/cases/{case_id}/accept", json={"needs_verification": "perhaps"}, headers=operator
    )
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["body", "needs_verification"]
    no_such_urgency = await client.post(
        f"/cases/{case_id}/accept", json={"urgency": "whenever"}, headers=operator
    )
    assert no_such_urgency.status_code == 422
    assert no_such_urgency.json()["detail"][0]["loc"] == ["body", "urgency"]
    too_early = await client.post(
        f"/cases/{case_id}/register", json={"category_code": "06001"}, headers=chief
    )
    assert too_early.status_code == 409
    assert (too_early.json()["status"], too_early.json()["event_type"]) == (
        "reported",
        "case.registered",
    )
    stranger = new_id()
    nowhere = await client.post(f"/cases/{stranger}/accept", json={}, headers=operator)
    assert nowhere.status_code == 404
    assert nowhere.json()["detail"] == f"casefile holds no case {stranger}"

    await post(client, f"/cases/{case_id}/accept", {}, operator)
    unknown = await client.post(
        f"/cases/{case_id}/register", json={"category_code": "99999"}, headers=chief
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "category_code"]
    cancelled = await client.post(
        f"/cases/{case_id}/cancel", json={"reason": "不属于城管范围"}, headers=chief
    )
    assert cancelled.status_code == 200
    after = await client.post(
        f"/cases/{case_id}/register", json={"category_code": "06001"}, headers=chief
    )
    assert after.status_code == 409
    assert after.json()["status"] == "cancelled"
    bad_category = await client.post(
        f"/cases/{case_id}/register", json={"category_code": "6"}, headers=chief
    )
    assert bad_category.status_code == 422
    assert bad_category.json()["detail"][0]["loc"] == ["body", "category_code"]

    detail = await case_file(client, case_id, operator)
    assert detail["case_number"] is None
    assert event_types(detail) == ["case.reported", "case.accepted", "case.cancelled"]


async def test_a_repeated_command_with_the_same_key_is_a_no_op(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    case_id = (await report(upstream, ReportChannel.VIDEO)).case_id
    await known(client, case_id, operator)
    headers = {**operator, "Idempotency-Key": "phone-retry-1"}
    first = await client.post(f"/cases/{case_id}/accept", json={}, headers=headers)
    again = await client.post(f"/cases/{case_id}/accept", json={}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    reused = await client.post(
        f"/cases/{case_id}/accept", json={"needs_verification": True}, headers=headers
    )
    assert reused.status_code == 422
    assert reused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    detail = await case_file(client, case_id, operator)
    assert event_types(detail).count("case.accepted") == 1


async def test_a_command_sent_twice_at_once_is_decided_once_and_answered_alike(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    case_id = (await report(upstream, ReportChannel.VIDEO)).case_id
    await known(client, case_id, operator)
    headers = {**operator, "Idempotency-Key": "double-tap"}

    first, second = await asyncio.gather(
        *(client.post(f"/cases/{case_id}/accept", json={}, headers=headers) for _ in range(2))
    )

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    detail = await case_file(client, case_id, operator)
    assert event_types(detail).count("case.accepted") == 1


# --- voiding and forwarding -------------------------------------------------------------------
async def test_voiding_needs_the_duty_chiefs_approval(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    """作废: a centre role asks (void.requested), the duty chief refuses (void.refused) or
    approves (case.voided); one request at a time."""
    client, _ = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    dispatcher = auth(Role.DISPATCHER)
    chief = auth(Role.DUTY_CHIEF, id="chief-9")
    case_id = (await report(upstream, ReportChannel.SUPERVISOR)).case_id
    await known(client, case_id, operator)
    await post(client, f"/cases/{case_id}/accept", {}, operator)
    no_void_yet = await client.post(
        f"/cases/{case_id}/void-request", json={"reason": "重复"}, headers=operator
    )
    assert no_void_yet.status_code == 409  # not registered yet
    assert no_void_yet.json()["status"] == "accepted"
    await post(client, f"/cases/{case_id}/register", {"category_code": "06001"}, chief)
    unasked = await client.post(
        f"/cases/{case_id}/void-decision", json={"approve": True}, headers=chief
    )
    assert unasked.status_code == 409
    assert "no voiding request is pending" in unasked.json()["detail"]
    department = auth(Role.DEPARTMENT, department_id=DEPARTMENT)
    not_centre = await client.post(
        f"/cases/{case_id}/void-request", json={"reason": "重复"}, headers=department
    )
    assert not_centre.status_code == 403

    asked = await post(client, f"/cases/{case_id}/void-request", {"reason": "重复立案"}, dispatcher)
    assert asked["void_requested_by"] == "dispatcher-1"
    pending = await case_file(client, case_id, operator)
    assert (pending["void_requested_by"], pending["void_reason"]) == ("dispatcher-1", "重复立案")
    second = await client.post(
        f"/cases/{case_id}/void-request", json={"reason": "又一次"}, headers=operator
    )
    assert second.status_code == 409
    assert "dispatcher-1" in second.json()["detail"]
    refused = await post(
        client, f"/cases/{case_id}/void-decision", {"approve": False, "reason": "并非重复"}, chief
    )
    assert refused["voided"] is False
    after_refusal = await case_file(client, case_id, operator)
    assert after_refusal["status"] == "registered"
    assert after_refusal["void_requested_by"] is None

    await post(client, f"/cases/{case_id}/void-request", {"reason": "重复立案"}, operator)
    voided = await post(client, f"/cases/{case_id}/void-decision", {"approve": True}, chief)
    assert voided["voided"] is True

    detail = await case_file(client, case_id, operator)
    assert detail["status"] == "voided"
    assert event_types(detail)[-4:] == [
        "void.requested",
        "void.refused",
        "void.requested",
        "case.voided",
    ]
    first_request, refusal, _, voiding = detail["timeline"][-4:]
    assert (first_request["actor_id"], first_request["payload"]) == (
        "dispatcher-1",
        {"reason": "重复立案"},
    )
    assert (refusal["actor_id"], refusal["payload"]) == ("chief-9", {"reason": "并非重复"})
    assert voiding["payload"] == {
        "reason": "重复立案",
        "requested_by": "acceptance_operator-1",
        "approved_by": "chief-9",
    }


async def test_forwarding_to_the_city_is_recorded(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    chief = auth(Role.DUTY_CHIEF)
    case_id = (await report(upstream, ReportChannel.SUPERVISOR)).case_id
    await known(client, case_id, operator)
    await post(client, f"/cases/{case_id}/accept", {}, operator)
    await post(
        client,
        f"/cases/{case_id}/register",
        {"category_code": "01002", "level": "city"},
        chief,
    )
    waiting = await client.get("/cases?level=city&status=registered", headers=operator)
    assert [c["case_id"] for c in waiting.json()["cases"]] == [str(case_id)]
    forwarded = await client.post(
        f"/cases/{case_id}/forward-to-city", json={"reason": "市级道路设施"}, headers=chief
    )
    assert forwarded.status_code == 200, forwarded.text
    detail = await case_file(client, case_id, operator)
    assert (detail["status"], detail["level"]) == ("forwarded_to_city", "city")
    payload = detail["timeline"][-1]["payload"]
    assert (payload["city_site"], payload["reason"]) == ("370200", "市级道路设施")
    assert payload["case_number"] == detail["case_number"]
    assert payload["category"]["code"] == "01002"
    assert payload["time_limit"] == {"amount": 2, "unit": "working_hours"}
    waiting = await client.get("/cases?level=city&status=registered", headers=operator)
    assert waiting.json()["cases"] == []


async def test_only_a_city_case_is_forwarded_and_only_the_city_answers_a_forwarding(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    chief = auth(Role.DUTY_CHIEF)
    case_id = (await report(upstream, ReportChannel.SUPERVISOR)).case_id
    await known(client, case_id, operator)
    await post(client, f"/cases/{case_id}/accept", {}, operator)
    await post(client, f"/cases/{case_id}/register", {"category_code": "06010"}, chief)

    refused = await client.post(
        f"/cases/{case_id}/forward-to-city", json={"reason": "市级"}, headers=chief
    )
    answered = await client.post(f"/cases/{case_id}/forwarding/accept", json={}, headers=chief)

    assert refused.status_code == 409
    assert "level city" in refused.json()["detail"]
    assert answered.status_code == 409, answered.text
    detail = await case_file(client, case_id, operator)
    assert detail["status"] == "registered"


# --- the case file: every stage's events, in lifecycle order ----------------------------------
async def test_the_case_file_follows_every_stage_in_lifecycle_order(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    """A supervisor's case round the loop, its events from four topics: the department's
    acceptance arrives before the dispatch it answers and waits for it; a check requested
    at the very moment of the feedback it answers (a reaction) still follows it in the
    timeline."""
    client, runtime = casefile
    chief = auth(Role.DUTY_CHIEF)
    reported = await report(upstream, ReportChannel.SUPERVISOR)
    case_id = reported.case_id
    await known(client, case_id, chief)
    registration = await accepted_and_registered(client, auth, case_id, "06010")

    dispatched = CaseDispatched.create(
        case_id=case_id,
        site=SITE,
        actor=DISPATCHER,
        payload=CaseDispatchedPayload(
            department_id=DEPARTMENT,
            deadline=datetime.now(UTC) + timedelta(hours=4),
            case_number=registration["case_number"],
        ),
        previous=None,
        causation_id=UUID(registration["event_id"]),
        correlation_id=reported.correlation_id,
    )
    taken = await upstream(Stage.DISPOSAL).emit(
        DisposalAccepted,
        case_id=case_id,
        actor=STAFF,
        payload=DisposalAcceptedPayload(department_id=DEPARTMENT),
        cause=dispatched,
    )

    async def parked() -> list[UUID]:
        async with runtime.database.begin() as uow:
            found = await uow.tracker.lookup([], [case_id])
        return [waiting.event_id for waiting in found.parked]

    assert await eventually(parked, lambda ids: ids == [taken.event_id])
    assert event_types(await case_file(client, case_id, chief))[-1] == "case.registered"

    await upstream(Stage.DISPATCH).publish(dispatched)
    await known(client, case_id, chief, lambda case: case["status"] == "in_disposal")
    assert await parked() == []

    completed = await upstream(Stage.DISPOSAL).emit(
        DisposalCompleted,
        case_id=case_id,
        actor=STAFF,
        payload=DisposalCompletedPayload(department_id=DEPARTMENT, description="已清理"),
        cause=taken,
    )
    feedback = FeedbackForwarded.create(
        case_id=case_id,
        site=SITE,
        actor=DISPATCHER,
        payload=FeedbackForwardedPayload(department_id=DEPARTMENT),
        previous=dispatched.link(),
        cause=completed,
    )
    await upstream(Stage.DISPATCH).publish(feedback)
    await known(client, case_id, chief, lambda case: case["status"] == "feedback_forwarded")
    # Verification's reaction takes its cause's moment; its id even sorts before the cause's.
    check = CheckRequested.create(
        case_id=case_id,
        site=SITE,
        actor=Actor.system(SITE, "verification"),
        payload=CheckRequestedPayload(supervisor_id=SUPERVISOR),
        previous=None,
        cause=feedback,
        occurred_at=feedback.occurred_at,
        event_id=UUID(int=feedback.event_id.int - 1),
    )
    await upstream(Stage.VERIFICATION).publish(check)
    passed = CheckPassed.create(
        case_id=case_id,
        site=SITE,
        actor=FIELD,
        payload=CheckResultPayload(remarks="已清理"),
        previous=check.link(),
        cause=check,
    )
    await upstream(Stage.VERIFICATION).publish(passed)
    closed = CaseClosed.create(
        case_id=case_id,
        site=SITE,
        actor=CHIEF,
        payload=CaseClosedPayload(),
        previous=passed.link(),
        cause=passed,
    )
    await upstream(Stage.VERIFICATION).publish(closed)

    detail = await known(client, case_id, chief, lambda case: case["status"] == "closed")
    assert event_types(detail) == SUPERVISOR_DISTRICT
    assert detail["department_id"] == DEPARTMENT
    assert detail["deadline"] is not None
    entries = {entry["event_type"]: entry for entry in detail["timeline"]}
    assert entries["check.requested"]["occurred_at"] == entries["feedback.forwarded"]["occurred_at"]
    assert entries["disposal.accepted"]["actor_id"] == STAFF.id
    async with runtime.database.begin() as uow:
        history = [applied for applied in await uow.tracker.history() if applied.case_id == case_id]
    assert [applied.event_type for applied in history] == SUPERVISOR_DISTRICT
    sources = {applied.event_type: applied.source for applied in history}
    assert sources["case.accepted"] == OWN
    assert sources["disposal.accepted"].startswith(
        event_topic(SITE, Stage.DISPOSAL, runtime.namespace) + "/"
    )


async def test_an_overdue_disposal_marks_the_case_file(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    """红灯 of the disposal step, signalled by dispatch's clock: the lists' overdue cases. A
    red light of another step is recorded but does not make the department late."""
    client, _ = casefile
    chief = auth(Role.DUTY_CHIEF)
    reported = await report(upstream, ReportChannel.SUPERVISOR)
    case_id = reported.case_id
    await known(client, case_id, chief)
    await accepted_and_registered(client, auth, case_id)
    clock_actor = Actor.system(SITE, "dispatch-clock")
    dispatch = upstream(Stage.DISPATCH)
    deadline = datetime.now(UTC)
    await dispatch.emit(
        TimeLimitOverdue,
        case_id=case_id,
        actor=clock_actor,
        payload=TimeLimitPayload(step=ClockStep.DISPATCH, deadline=deadline),
    )
    await dispatch.emit(
        CaseDispatched,
        case_id=case_id,
        actor=DISPATCHER,
        payload=CaseDispatchedPayload(department_id=DEPARTMENT, deadline=deadline),
    )
    late = await known(client, case_id, chief, lambda case: case["status"] == "dispatched")
    assert late["overdue"] is False
    assert event_types(late)[-2:] == ["time_limit.overdue", "case.dispatched"]

    await dispatch.emit(
        TimeLimitOverdue,
        case_id=case_id,
        actor=clock_actor,
        payload=TimeLimitPayload(step=ClockStep.DISPOSAL, deadline=deadline),
    )

    await known(client, case_id, chief, lambda case: case["overdue"] is True)
    overdue = (await client.get("/cases", params={"overdue": "true"}, headers=chief)).json()
    assert [case["case_id"] for case in overdue["cases"]] == [str(case_id)]
    on_time = (await client.get("/cases", params={"overdue": "false"}, headers=chief)).json()
    assert on_time["total"] == 0


async def test_what_the_case_cannot_take_goes_to_the_dead_letter_topic(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    """A dispatch on intake's topic (a topic its emitter does not own), a department's
    acceptance of a cancelled case (which can never take it, whatever its cause), and a
    dispatch of a case never reported: each set aside with its reason, none in a timeline."""
    client, runtime = casefile
    chief = auth(Role.DUTY_CHIEF)
    case_id = (await report(upstream, ReportChannel.SUPERVISOR)).case_id
    await known(client, case_id, chief)
    await post(client, f"/cases/{case_id}/accept", {}, auth(Role.ACCEPTANCE_OPERATOR))
    await post(client, f"/cases/{case_id}/cancel", {"reason": "不属于城管范围"}, chief)
    dispatch = CaseDispatchedPayload(department_id=DEPARTMENT, deadline=datetime.now(UTC))

    misrouted = await upstream(Stage.INTAKE).emit(
        CaseDispatched, case_id=case_id, actor=DISPATCHER, payload=dispatch
    )
    never_dispatched = CaseDispatched.create(
        case_id=case_id, site=SITE, actor=DISPATCHER, payload=dispatch, previous=None
    )
    too_late = await upstream(Stage.DISPOSAL).emit(
        DisposalAccepted,
        case_id=case_id,
        actor=STAFF,
        payload=DisposalAcceptedPayload(department_id=DEPARTMENT),
        cause=never_dispatched,
    )
    stranger = await upstream(Stage.DISPATCH).emit(
        CaseDispatched, case_id=new_id(), actor=DISPATCHER, payload=dispatch
    )

    records = await topic_records(
        runtime.settings.kafka.bootstrap_servers, runtime.dead_letter_topic, 3
    )
    reasons = {
        decode(record.value).event_id: dict(record.headers)[headers.DEAD_LETTER_REASON].decode()
        for record in records
    }
    intake_topic = event_topic(SITE, Stage.INTAKE, runtime.namespace)
    assert set(reasons) == {misrouted.event_id, too_late.event_id, stranger.event_id}
    assert f"case.dispatched may not arrive on {intake_topic}" in reasons[misrouted.event_id]
    assert (
        "disposal.accepted is not allowed for a case in status 'cancelled'"
        in (reasons[too_late.event_id])
    )
    assert (
        "case.dispatched is not allowed for a case that does not exist"
        in (reasons[stranger.event_id])
    )
    detail = await case_file(client, case_id, chief)
    assert event_types(detail) == ["case.reported", "case.accepted", "case.cancelled"]
    assert (await client.get(f"/cases/{stranger.case_id}", headers=chief)).status_code == 404


async def test_a_redelivered_event_is_applied_once(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    """A reminder (催办) read twice, as after a consumer's crash before its commit: an
    observation the case could take again, so only the inbox keeps it single. The
    supervision after it, on the same topic and partition, shows both were read."""
    client, runtime = casefile
    chief = auth(Role.DUTY_CHIEF)
    case_id = (await report(upstream, ReportChannel.SUPERVISOR)).case_id
    await known(client, case_id, chief)
    await accepted_and_registered(client, auth, case_id)
    dispatch = upstream(Stage.DISPATCH)
    await dispatch.emit(
        CaseDispatched,
        case_id=case_id,
        actor=DISPATCHER,
        payload=CaseDispatchedPayload(
            department_id=DEPARTMENT, deadline=datetime.now(UTC) + timedelta(hours=4)
        ),
    )
    reminder = await dispatch.emit(
        ReminderSent,
        case_id=case_id,
        actor=DISPATCHER,
        payload=FollowUpPayload(message="请尽快处置", department_id=DEPARTMENT),
    )

    await upstream(Stage.DISPATCH).publish(reminder)
    await dispatch.emit(
        SupervisionIssued,
        case_id=case_id,
        actor=DISPATCHER,
        payload=FollowUpPayload(message="督办", department_id=DEPARTMENT),
    )

    detail = await known(
        client, case_id, chief, lambda case: event_types(case)[-1] == "supervision.issued"
    )
    assert event_types(detail)[-3:] == ["case.dispatched", "reminder.sent", "supervision.issued"]
    async with runtime.database.begin() as uow:
        history = await uow.tracker.history()
    assert [applied.event_id for applied in history].count(reminder.event_id) == 1


# --- queries ----------------------------------------------------------------------------------
async def test_the_case_lists_filter_and_page_the_sites_cases(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = casefile
    chief = auth(Role.DUTY_CHIEF)
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    first = (await report(upstream, ReportChannel.SUPERVISOR, category="06001")).case_id
    second = (
        await report(upstream, ReportChannel.PUBLIC, grid=OTHER_GRID, category="01002")
    ).case_id
    third = (await report(upstream, ReportChannel.VIDEO)).case_id
    for case_id in (first, second, third):
        await known(client, case_id, chief)
    await post(client, f"/cases/{second}/accept", {}, operator)
    await accepted_and_registered(client, auth, third, "06010")
    await upstream(Stage.DISPATCH).emit(
        CaseDispatched,
        case_id=third,
        actor=DISPATCHER,
        payload=CaseDispatchedPayload(
            department_id=DEPARTMENT, deadline=datetime.now(UTC) + timedelta(hours=4)
        ),
    )
    await known(client, third, chief, lambda case: case["status"] == "dispatched")

    async def listed(actor: dict[str, str] = chief, **params: Any) -> tuple[int, list[UUID]]:
        response = await client.get("/cases", params=params, headers=actor)
        assert response.status_code == 200, response.text
        found = response.json()
        return found["total"], [UUID(case["case_id"]) for case in found["cases"]]

    # Newest report first.
    assert await listed() == (3, [third, second, first])
    assert await listed(status="reported") == (1, [first])
    assert await listed(status="accepted") == (1, [second])
    assert await listed(status="dispatched") == (1, [third])
    assert await listed(grid_code=GRID) == (2, [third, first])
    assert await listed(grid_code=OTHER_GRID) == (1, [second])
    assert await listed(category_code="01002") == (1, [second])
    assert await listed(category_code="06010") == (1, [third])  # as registered
    assert await listed(department_id=DEPARTMENT) == (1, [third])
    assert await listed(overdue="false") == (3, [third, second, first])
    assert await listed(overdue="true") == (0, [])
    assert await listed(limit=2) == (3, [third, second])
    assert await listed(limit=2, offset=2) == (3, [first])
    # Up to the largest offset PostgreSQL takes; past it, 422 naming the offset, not a 500.
    assert await listed(offset=2**63 - 1) == (3, [])
    beyond = await client.get("/cases", params={"offset": 2**63}, headers=chief)
    assert [error["loc"] for error in beyond.json()["detail"]] == [["query", "offset"]]
    assert await listed(status="reported", grid_code=OTHER_GRID) == (0, [])
    bad = await client.get("/cases", params={"category_code": "6"}, headers=chief)
    assert bad.status_code == 422
    page = (await client.get("/cases", params={"limit": 1}, headers=chief)).json()["cases"][0]
    assert "chain_hash" not in page
    assert (page["department_id"], page["case_number"] is not None) == (DEPARTMENT, True)

    # The city's people see the whole city; another district's are not taken at all.
    city = auth(Role.LEADER, site="370200")
    assert await listed(city) == (3, [third, second, first])
    assert (await client.get(f"/cases/{first}", headers=city)).status_code == 200
    other_district = auth(Role.DUTY_CHIEF, site="370202")
    assert (await client.get("/cases", headers=other_district)).status_code == 401
    # A department sees the cases dispatched to it, and no other.
    staff = auth(Role.DEPARTMENT, id="staff-1", department_id=DEPARTMENT)
    assert await listed(staff) == (1, [third])
    assert (await client.get(f"/cases/{third}", headers=staff)).status_code == 200
    refused = await client.get(f"/cases/{first}", headers=staff)
    assert refused.status_code == 403
    assert refused.json()["detail"] == f"case {first} is not among the cases staff-1 may see"
    # A field supervisor sees a case once it waits for them on site, in their grid.
    grid_supervisor = auth(Role.FIELD_SUPERVISOR, id="sv-370212-01")  # OTHER_GRID's
    assert await listed(grid_supervisor) == (0, [])
    await post(client, f"/cases/{second}/verification/request", {}, operator)
    await known(client, second, chief, lambda case: case["status"] == "verifying")
    assert await listed(grid_supervisor) == (1, [second])
    assert await listed(auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)) == (0, [])
    # The public reads none of the case file.
    public = await client.get("/cases", headers=auth(Role.PUBLIC, id="citizen-1"))
    assert public.status_code == 403
    stranger = new_id()
    missing = await client.get(f"/cases/{stranger}", headers=chief)
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"casefile holds no case {stranger}"
    assert (await client.get(f"/cases/{first}")).status_code == 401


async def test_only_the_supervision_centre_sees_the_reporters_personal_data(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = casefile
    event = await report(
        upstream,
        ReportChannel.PUBLIC,
        description="噪音扰民",
        reporter=PublicReporter(name="张三", phone="13800000000"),
    )
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    await known(client, event.case_id, operator)
    for centre in (operator, auth(Role.DUTY_CHIEF)):
        seen = await case_file(client, event.case_id, centre)
        assert seen["timeline"][0]["payload"]["reporter"] == {
            "name": "张三",
            "phone": "13800000000",
            "email": None,
        }
    for outsider in (auth(Role.DISPATCHER), auth(Role.LEADER, site="370200")):
        hidden = await case_file(client, event.case_id, outsider)
        assert hidden["timeline"][0]["payload"]["reporter"] is None
        assert hidden["timeline"][0]["payload"]["description"] == "噪音扰民"
