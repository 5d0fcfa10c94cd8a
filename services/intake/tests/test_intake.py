"""Information collection over real Kafka and PostgreSQL: each channel's reports open cases,
refusals open none, a resent report opens one, likely duplicates are flagged by intake's own
record, and that record follows only the events an Open311 status needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select

from cityloop_deploy.site_fixtures import UpstreamStage, eventually, topic_records
from cityloop_intake.state import Report
from cityloop_intake.store import reports
from cityloop_shared.contract import (
    Actor,
    CaseEvent,
    CaseKind,
    CaseStatus,
    Role,
    Stage,
    decode,
    event_topic,
    verify_chain,
)
from cityloop_shared.contract.envelope import Payload
from cityloop_shared.contract.events.casefile import (
    CaseAccepted,
    CaseAcceptedPayload,
    CaseCancelled,
    CaseRegistered,
    CaseRegisteredPayload,
    CaseVoided,
    CaseVoidedPayload,
    ReasonPayload,
    VerificationReported,
    VerificationReportedPayload,
    VerificationRequested,
    VerificationRequestedPayload,
)
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseDispatchedPayload,
    ExtensionDecided,
    ExtensionDecidedPayload,
    FeedbackForwarded,
    FeedbackForwardedPayload,
    SuspensionApproved,
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
    SuspensionRequested,
)
from cityloop_shared.contract.events.intake import (
    CaseReported,
    CaseSelfHandled,
    CaseSelfHandledPayload,
)
from cityloop_shared.contract.events.verification import (
    CaseClosed,
    CaseClosedPayload,
    CheckPassed,
    CheckRequested,
    CheckRequestedPayload,
    CheckResultPayload,
)
from cityloop_shared.contract.values import (
    Attachment,
    CaseLevel,
    Category,
    ClockStep,
    GeoPoint,
    Location,
    TimeLimit,
    TimeUnit,
)
from cityloop_shared.ports.tracker import OWN, Applied
from cityloop_shared.runtime.service import ServiceRuntime

Client = tuple[httpx.AsyncClient, ServiceRuntime]
Upstream = Callable[[Stage], UpstreamStage]
Auth = Callable[..., dict[str, str]]
ReportOf = Callable[[UUID], Awaitable[Report | None]]
Step = tuple[Stage, type[CaseEvent], Actor, Payload]
Applications = Callable[[UUID], Awaitable[list[Applied]]]
CaughtUp = Callable[[], Awaitable[None]]

SITE = "370212"
POINT = {"lon": 120.45, "lat": 36.13}
GRID = "370212003001001"
"""The grid of 崂山区 that holds POINT."""
SHINAN_GRID = "370202001001001"
SUPERVISOR = "sv-370212-03"
PHOTO = {"uri": "https://media.cityloop.example/p/7.jpg", "media_type": "image/jpeg"}
STANDARD = "GB/T 47678.5-2026"

OPERATOR = Actor(id="op-1", role=Role.ACCEPTANCE_OPERATOR, site=SITE)
FIELD = Actor(id=SUPERVISOR, role=Role.FIELD_SUPERVISOR, site=SITE)
CHIEF = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=SITE)
DISPATCHER = Actor(id="dispatcher-1", role=Role.DISPATCHER, site=SITE)
URBAN = "370212-urban"
"""崂山区城市管理局."""
DEPARTMENT = Actor(id="dept-1", role=Role.DEPARTMENT, site=SITE, department_id=URBAN)


async def intake_events(runtime: ServiceRuntime, count: int) -> list[CaseReported]:
    """Every event on the site's intake topic, once there are ``count``: all reports, each
    the first link of its case's chain."""
    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, count)
    events = [decode(record.value) for record in records]
    assert verify_chain(events) == []
    assert all(isinstance(event, CaseReported) for event in events)
    return [event for event in events if isinstance(event, CaseReported)]


async def recorded_cases(runtime: ServiceRuntime) -> set[UUID]:
    """The cases intake holds a record of."""
    async with runtime.database.reading() as reader:
        rows = await reader.rows(select(reports.c.case_id))
    return {row["case_id"] for row in rows}


async def post(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/reports", json=body, headers=headers)


def registration(case_number: str, code: str = "06001") -> CaseRegisteredPayload:
    return CaseRegisteredPayload(
        case_number=case_number,
        category=Category(standard=STANDARD, kind=CaseKind.EVENT, code=code),
        grid_code=GRID,
        level=CaseLevel.DISTRICT,
        time_limit=TimeLimit(amount=3, unit=TimeUnit.WORKING_DAYS),
    )


def dispatch_to_urban(deadline: datetime) -> Step:
    """The command centre dispatches the case to 崂山区城市管理局, due by ``deadline``."""
    return (
        Stage.DISPATCH,
        CaseDispatched,
        DISPATCHER,
        CaseDispatchedPayload(department_id=URBAN, deadline=deadline),
    )


def taken_and_extended(extended: datetime) -> list[Step]:
    """The department takes the case and asks for time until ``extended``; it is granted."""
    return [
        (
            Stage.DISPOSAL,
            DisposalAccepted,
            DEPARTMENT,
            DisposalAcceptedPayload(department_id=URBAN),
        ),
        (
            Stage.DISPOSAL,
            ExtensionRequested,
            DEPARTMENT,
            ExtensionRequestedPayload(proposed_deadline=extended, reason="材料未到"),
        ),
        (
            Stage.DISPATCH,
            ExtensionDecided,
            DISPATCHER,
            ExtensionDecidedPayload(approved=True, deadline=extended),
        ),
    ]


def disposed_to_closed() -> list[Step]:
    """The department reports the work done; the feedback goes to the supervisor, whose check
    passes, and the duty chief closes the case."""
    return [
        (
            Stage.DISPOSAL,
            DisposalCompleted,
            DEPARTMENT,
            DisposalCompletedPayload(department_id=URBAN, description="已拆除"),
        ),
        (Stage.DISPATCH, FeedbackForwarded, DISPATCHER, FeedbackForwardedPayload()),
        (
            Stage.VERIFICATION,
            CheckRequested,
            OPERATOR,
            CheckRequestedPayload(supervisor_id=SUPERVISOR),
        ),
        (Stage.VERIFICATION, CheckPassed, FIELD, CheckResultPayload(remarks="已整改")),
        (Stage.VERIFICATION, CaseClosed, CHIEF, CaseClosedPayload()),
    ]


async def walk(upstream: Upstream, cause: CaseEvent, steps: list[Step]) -> list[CaseEvent]:
    """The other stages publish ``steps`` for the case of ``cause``, each caused by the last."""
    published = []
    for stage, model, actor, payload in steps:
        cause = await upstream(stage).emit(
            model, case_id=cause.case_id, actor=actor, payload=payload, cause=cause
        )
        published.append(cause)
    return published


async def until_reached(
    report_of: ReportOf, case_id: UUID, reached: Callable[[Report], bool]
) -> Report:
    """Intake's record of the case once ``reached`` holds of it."""
    found = await eventually(lambda: report_of(case_id), lambda r: r is not None and reached(r))
    assert found is not None
    return found


async def until_status(report_of: ReportOf, case_id: UUID, status: CaseStatus) -> Report:
    return await until_reached(report_of, case_id, lambda record: record.status is status)


async def test_each_channel_opens_a_case(intake: Client, auth: Auth, report_of: ReportOf) -> None:
    client, runtime = intake
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    supervisor = await post(
        client,
        auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR),
        channel="supervisor",
        category_code="06001",
        description="人行道私搭乱建",
        location={**POINT, "address": "松岭路"},
        attachments=[PHOTO],
    )
    video = await post(
        client,
        operator,
        channel="video",
        category_code="01002",
        description="视频巡查：污水井盖缺失",
        location={"grid_code": "370212001002001", "address": "香港东路"},
    )
    public = await post(
        client,
        operator,
        channel="public",
        description="热线：小区门口有垃圾堆积",
        location={"lon": 120.47, "lat": 36.09},
        reporter={"name": "张三", "phone": "13800000000"},
        external_id="12319-20261125-0042",
    )
    leader = await post(
        client,
        auth(Role.LEADER, id="leader-7"),
        channel="leader",
        description="领导交办：海滨栈道护栏松动",
        location={"grid_code": "370212002003001"},
    )
    answers = [supervisor, video, public, leader]
    assert [answer.status_code for answer in answers] == [201] * 4, [a.text for a in answers]
    assert [answer.json()["grid_code"] for answer in answers] == [
        GRID,
        "370212001002001",
        "370212001002001",
        "370212002003001",
    ]
    assert [answer.json()["event_type"] for answer in answers] == ["case.reported"] * 4
    assert public.json()["possible_duplicates"] == []

    events = {event.case_id: event for event in await intake_events(runtime, 4)}
    assert len(events) == 4
    by_channel = {event.payload.channel.value: event for event in events.values()}
    assert set(by_channel) == {"supervisor", "video", "public", "leader"}
    calendar = runtime.reference.calendar
    for answer in answers:
        event = events[UUID(answer.json()["case_id"])]
        assert event.payload.location.grid_code == answer.json()["grid_code"]
        assert str(event.event_id) == answer.json()["event_id"]
        assert event.sequence == 1
        assert event.causation_id is None
        # 受理时限: 225 working minutes from the report, whatever the channel or category.
        [acceptance] = event.payload.deadlines
        assert (acceptance.step, acceptance.due_at) == (
            ClockStep.ACCEPTANCE,
            calendar.add_working_time(event.occurred_at, timedelta(minutes=225)),
        )
        assert event.payload.due(ClockStep.ACCEPTANCE) == acceptance

    reported = by_channel["supervisor"]
    assert reported.actor == Actor(id=SUPERVISOR, role=Role.FIELD_SUPERVISOR, site=SITE)
    assert reported.payload.category == Category(
        standard=STANDARD, kind=CaseKind.EVENT, code="06001"
    )
    assert reported.payload.location.point is not None
    assert reported.payload.location.address == "松岭路"
    assert str(reported.payload.attachments[0].uri) == PHOTO["uri"]
    video_category = by_channel["video"].payload.category
    assert video_category is not None
    assert video_category.kind is CaseKind.COMPONENT
    assert by_channel["video"].payload.location.point is None
    assert by_channel["public"].payload.category is None
    assert by_channel["public"].payload.reporter is not None
    assert by_channel["public"].payload.reporter.phone == "13800000000"
    assert by_channel["public"].payload.external_id == "12319-20261125-0042"
    assert by_channel["leader"].actor.role is Role.LEADER
    assert [e.payload.reporter for c, e in by_channel.items() if c != "public"] == [None] * 3

    # Intake's own record of the hotline's report: what the reporter said, no token (the
    # hotline's number is not an Open311 token), and the report as the case's first event.
    case_id = UUID(public.json()["case_id"])
    record = await report_of(case_id)
    assert record is not None
    assert (record.status, record.channel, record.grid_code) == (
        CaseStatus.REPORTED,
        "public",
        "370212001002001",
    )
    assert (record.lon, record.lat, record.category_code) == (120.47, 36.09, None)
    assert record.description == "热线：小区门口有垃圾堆积"
    assert record.token is None
    assert record.reported_at == record.last_occurred_at == events[case_id].occurred_at
    assert record.last_event_id == events[case_id].event_id
    assert record.chain == events[case_id].link()
    assert await recorded_cases(runtime) == set(events)
    # The case file with its timeline is casefile's: intake serves no /cases.
    assert (await client.get("/cases", headers=operator)).status_code == 404
    assert (await client.get(f"/cases/{case_id}", headers=operator)).status_code == 404


async def test_refusals_open_no_case(intake: Client, auth: Auth) -> None:
    client, runtime = intake
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    valid: dict[str, Any] = {
        "channel": "supervisor",
        "category_code": "06001",
        "description": "私搭乱建",
        "location": POINT,
    }

    refused: dict[str, tuple[dict[str, Any], str]] = {
        "unknown category": ({**valid, "category_code": "99999"}, "category_code"),
        "no category": ({**valid, "category_code": None}, "category_code"),
        "video without category": (
            {**valid, "channel": "video", "category_code": None},
            "category_code",
        ),
        "outside every grid": (
            {**valid, "location": {"lon": 121.0, "lat": 37.0}},
            "location",
        ),
        "unknown grid": (
            {**valid, "location": {"grid_code": "370212009009009"}},
            "location.grid_code",
        ),
        "another district": (
            {**valid, "location": {"grid_code": SHINAN_GRID}},
            "location.grid_code",
        ),
        "another district's point": (
            {**valid, "location": {"lon": 120.33, "lat": 36.05}},
            "location",
        ),
        "grid and point disagree": (
            {**valid, "location": {**POINT, "grid_code": "370212001001001"}},
            "location.grid_code",
        ),
        "reporter not public": ({**valid, "reporter": {"name": "李四"}}, "reporter"),
        "malformed channel": ({**valid, "channel": "pigeon"}, "channel"),
        "no description": ({**valid, "description": ""}, "description"),
        "half a point": ({**valid, "location": {"lon": 120.45}}, "location"),
        "unknown field": ({**valid, "urgency": "urgent"}, "urgency"),
        "self-handled by video": (
            {**valid, "channel": "video", "self_handled": True},
            "self_handled",
        ),
    }
    for case, (body, field) in refused.items():
        headers = operator if body["channel"] == "video" else supervisor
        answer = await client.post("/reports", json=body, headers=headers)
        assert answer.status_code == 422, (case, answer.text)
        assert answer.json()["detail"][0]["loc"] == ["body", *field.split(".")], case

    assert (await client.post("/reports", json=valid)).status_code == 401
    wrong_role = await client.post("/reports", json=valid, headers=operator)
    assert wrong_role.status_code == 403
    leader_as_public = await post(client, auth(Role.LEADER), **{**valid, "channel": "public"})
    assert leader_as_public.status_code == 403
    # A district does not trust another district's issuer.
    other_district = auth(Role.FIELD_SUPERVISOR, site="370202", id="sv-370202-01")
    assert (await client.post("/reports", json=valid, headers=other_district)).status_code == 401

    accepted = await client.post("/reports", json=valid, headers=supervisor)
    assert accepted.status_code == 201
    events = await intake_events(runtime, 1)
    assert [str(event.case_id) for event in events] == [accepted.json()["case_id"]]
    assert await recorded_cases(runtime) == {UUID(accepted.json()["case_id"])}


async def test_a_supervisors_self_handled_report_opens_a_case_already_ended(
    intake: Client, auth: Auth, report_of: ReportOf
) -> None:
    """自处理: one case.self_handled, no case.reported, so no acceptance clock anywhere; intake's
    record of it is ended, and no later report nearby is taken for its duplicate."""
    client, runtime = intake
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    body: dict[str, Any] = {
        "channel": "supervisor",
        "category_code": "06010",
        "description": "暴露垃圾，已当场清理",
        "location": {**POINT, "address": "松岭路"},
        "attachments": [PHOTO],
    }
    answer = await post(client, supervisor, **body, self_handled=True)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["event_type"], answer.json()["grid_code"]) == ("case.self_handled", GRID)
    assert answer.json()["self_handled"] is True

    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 1)
    [handled] = [decode(record.value) for record in records]
    assert isinstance(handled, CaseSelfHandled)
    assert str(handled.case_id) == answer.json()["case_id"]
    assert (handled.sequence, handled.actor.id) == (1, SUPERVISOR)
    assert handled.payload == CaseSelfHandledPayload(
        category=Category(standard=STANDARD, kind=CaseKind.EVENT, code="06010"),
        description="暴露垃圾，已当场清理",
        location=Location(point=GeoPoint(**POINT), address="松岭路", grid_code=GRID),
        attachments=(Attachment.model_validate(PHOTO),),
    )
    record = await report_of(handled.case_id)
    assert record is not None
    assert (record.status, record.channel, record.category_code) == (
        CaseStatus.SELF_HANDLED,
        "supervisor",
        "06010",
    )
    assert record.reported_at == handled.occurred_at

    again = await post(client, supervisor, **body)
    assert again.status_code == 201, again.text
    assert again.json()["possible_duplicates"] == []


async def test_a_resent_report_opens_one_case(intake: Client, auth: Auth) -> None:
    client, runtime = intake
    headers = {**auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR), "Idempotency-Key": "phone-42"}
    body = {
        "channel": "supervisor",
        "category_code": "06001",
        "description": "私搭乱建",
        "location": POINT,
    }
    first = await client.post("/reports", json=body, headers=headers)
    again = await client.post("/reports", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    reused = await client.post("/reports", json={**body, "description": "另一处"}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    later = await client.post(
        "/reports",
        json={**body, "category_code": "01002"},
        headers={**headers, "Idempotency-Key": "phone-43"},
    )
    assert later.status_code == 201

    # Records of different cases may sit on different partitions: compare as sets.
    events = await intake_events(runtime, 2)
    assert {str(event.case_id) for event in events} == {
        first.json()["case_id"],
        later.json()["case_id"],
    }
    assert len(events) == 2
    assert await recorded_cases(runtime) == {
        UUID(first.json()["case_id"]),
        UUID(later.json()["case_id"]),
    }


async def file_supervisor_report(
    client: httpx.AsyncClient, auth: Auth, category: str, lat: float, lon: float = POINT["lon"]
) -> dict[str, Any]:
    answer = await post(
        client,
        auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR),
        channel="supervisor",
        category_code=category,
        description="私搭乱建",
        location={"lon": lon, "lat": lat},
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def reported_events(runtime: ServiceRuntime, count: int) -> dict[str, CaseReported]:
    return {str(event.case_id): event for event in await intake_events(runtime, count)}


async def test_a_likely_duplicate_is_flagged_not_dropped(
    intake: Client, auth: Auth, upstream: Upstream, report_of: ReportOf
) -> None:
    client, runtime = intake

    first = await file_supervisor_report(client, auth, "06001", POINT["lat"])
    near = await file_supervisor_report(client, auth, "06001", POINT["lat"] + 0.0002)  # ~22 m N
    other_category = await file_supervisor_report(client, auth, "06002", POINT["lat"])
    far = await file_supervisor_report(client, auth, "06001", POINT["lat"], POINT["lon"] + 0.0007)
    assert near["possible_duplicates"] == [first["case_id"]]  # ~63 m east ↑ is not near
    assert other_category["possible_duplicates"] == []
    assert far["possible_duplicates"] == []

    events = await reported_events(runtime, 4)
    assert [str(d) for d in events[near["case_id"]].payload.possible_duplicates] == [
        first["case_id"]
    ]
    assert events[far["case_id"]].payload.possible_duplicates == ()

    # Once intake applied the first case's cancellation, only the still open second one is a
    # likely duplicate. Acceptance is not followed: intake drops it and takes the cancellation.
    reported: CaseEvent = events[first["case_id"]]
    await walk(
        upstream,
        reported,
        [
            (Stage.CASEFILE, CaseAccepted, OPERATOR, CaseAcceptedPayload(needs_verification=False)),
            (Stage.CASEFILE, CaseCancelled, CHIEF, ReasonPayload(reason="不属于城管范围")),
        ],
    )
    await until_status(report_of, reported.case_id, CaseStatus.CANCELLED)
    again = await file_supervisor_report(client, auth, "06001", POINT["lat"] + 0.0001)
    assert again["possible_duplicates"] == [near["case_id"]]


async def test_a_closed_or_voided_case_is_no_longer_a_likely_duplicate(
    intake: Client, auth: Auth, upstream: Upstream, report_of: ReportOf
) -> None:
    client, runtime = intake
    closing = await file_supervisor_report(client, auth, "06001", POINT["lat"])
    voiding = await file_supervisor_report(client, auth, "06001", POINT["lat"] + 0.0001)
    staying = await file_supervisor_report(client, auth, "06001", POINT["lat"] + 0.0002)
    assert staying["possible_duplicates"] == [closing["case_id"], voiding["case_id"]]
    events = await reported_events(runtime, 3)

    deadline = datetime.now(UTC) + timedelta(days=3)
    await walk(
        upstream,
        events[closing["case_id"]],
        [
            (Stage.CASEFILE, CaseRegistered, CHIEF, registration("370212E060012026112500001")),
            dispatch_to_urban(deadline),
            (Stage.VERIFICATION, CaseClosed, CHIEF, CaseClosedPayload()),
        ],
    )
    await walk(
        upstream,
        events[voiding["case_id"]],
        [
            (Stage.CASEFILE, CaseRegistered, CHIEF, registration("370212E060012026112500002")),
            (
                Stage.CASEFILE,
                CaseVoided,
                CHIEF,
                CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by="chief-1"),
            ),
        ],
    )
    await until_status(report_of, UUID(closing["case_id"]), CaseStatus.CLOSED)
    await until_status(report_of, UUID(voiding["case_id"]), CaseStatus.VOIDED)

    later = await file_supervisor_report(client, auth, "06001", POINT["lat"] + 0.00015)
    assert later["possible_duplicates"] == [staying["case_id"]]


async def test_a_case_counts_as_a_duplicate_under_its_current_category(
    intake: Client, auth: Auth, upstream: Upstream, report_of: ReportOf
) -> None:
    """A public report without a category counts once registration set one; a report the
    duty chief registered under another category counts under that one."""
    client, runtime = intake
    public = await post(
        client,
        auth(Role.ACCEPTANCE_OPERATOR),
        channel="public",
        description="热线：路边搭了棚子",
        location=POINT,
    )
    assert public.status_code == 201, public.text
    public_id = public.json()["case_id"]
    reclassified = await file_supervisor_report(client, auth, "06002", POINT["lat"] + 0.0001)
    before = await file_supervisor_report(client, auth, "06001", POINT["lat"] + 0.0002)
    assert before["possible_duplicates"] == []
    events = await reported_events(runtime, 3)

    await walk(
        upstream,
        events[public_id],
        [(Stage.CASEFILE, CaseRegistered, CHIEF, registration("370212E060012026112500001"))],
    )
    await walk(
        upstream,
        events[reclassified["case_id"]],
        [(Stage.CASEFILE, CaseRegistered, CHIEF, registration("370212E060012026112500002"))],
    )
    for case_id in (public_id, reclassified["case_id"]):
        record = await until_status(report_of, UUID(case_id), CaseStatus.REGISTERED)
        assert (record.category_kind, record.category_code) == (CaseKind.EVENT, "06001")

    after = await file_supervisor_report(client, auth, "06001", POINT["lat"] + 0.00015)
    assert after["possible_duplicates"] == [public_id, reclassified["case_id"], before["case_id"]]
    other = await file_supervisor_report(client, auth, "06002", POINT["lat"])
    assert other["possible_duplicates"] == []


async def test_intake_applies_only_what_the_status_of_a_request_needs(
    intake: Client, auth: Auth, upstream: Upstream, report_of: ReportOf, applications: Applications
) -> None:
    """The whole loop is published, step by step as a site lives it; intake applies its
    report, the registration, the dispatch, the extension, the resumption and the closing,
    and drops the rest unread."""
    client, runtime = intake
    filed = await file_supervisor_report(client, auth, "06001", POINT["lat"])
    case_id = UUID(filed["case_id"])
    [reported] = (await reported_events(runtime, 1)).values()
    now = datetime.now(UTC)
    deadline, extended, resumed = (now + timedelta(days=days) for days in (3, 5, 6))
    steps: list[list[Step]] = [
        [
            (Stage.CASEFILE, CaseAccepted, OPERATOR, CaseAcceptedPayload(needs_verification=True)),
            (
                Stage.CASEFILE,
                VerificationRequested,
                OPERATOR,
                VerificationRequestedPayload(supervisor_id=SUPERVISOR),
            ),
            (
                Stage.CASEFILE,
                VerificationReported,
                FIELD,
                VerificationReportedPayload(confirmed=True),
            ),
            (Stage.CASEFILE, CaseRegistered, CHIEF, registration("370212E060012026112500001")),
        ],
        [dispatch_to_urban(deadline)],
        taken_and_extended(extended),
        [
            (Stage.DISPOSAL, SuspensionRequested, DEPARTMENT, ReasonPayload(reason="冬季停工")),
            (Stage.DISPATCH, SuspensionApproved, DISPATCHER, ReasonPayload(reason="同意挂账")),
            (
                Stage.DISPATCH,
                SuspensionResumed,
                DISPATCHER,
                SuspensionResumedPayload(deadline=resumed),
            ),
        ],
        disposed_to_closed(),
    ]
    # What each step leaves in intake's record, waited for before the next step is taken.
    reached: list[Callable[[Report], bool]] = [
        lambda r: r.status is CaseStatus.REGISTERED,
        lambda r: r.status is CaseStatus.DISPATCHED,
        lambda r: r.deadline == extended,
        lambda r: r.deadline == resumed,
        lambda r: r.status is CaseStatus.CLOSED,
    ]
    published: list[CaseEvent] = []
    cause: CaseEvent = reported
    for step, done in zip(steps, reached, strict=True):
        published += await walk(upstream, cause, step)
        cause = published[-1]
        await until_reached(report_of, case_id, done)

    record = await report_of(case_id)
    assert record is not None
    assert record.status is CaseStatus.CLOSED
    assert record.case_number == "370212E060012026112500001"
    assert (record.department_id, record.deadline) == (URBAN, resumed)
    assert record.last_occurred_at == published[-1].occurred_at
    assert record.reported_at == reported.occurred_at

    applied: list[Applied] = await applications(case_id)
    followed = {event.event_id: event for event in published}
    assert [entry.event_type for entry in applied] == [
        "case.reported",
        "case.registered",
        "case.dispatched",
        "extension.decided",
        "suspension.resumed",
        "case.closed",
    ]
    assert applied[0].source == OWN
    assert applied[0].event_id == reported.event_id
    for entry in applied[1:]:
        emitter = type(followed[entry.event_id]).emitted_by
        assert any(
            entry.source.startswith(event_topic(SITE, s, runtime.namespace)) for s in emitter
        )


async def test_a_closing_read_before_an_earlier_extension_passes_the_extension_over(
    intake: Client,
    auth: Auth,
    upstream: Upstream,
    report_of: ReportOf,
    applications: Applications,
    caught_up: CaughtUp,
) -> None:
    """Intake reads the dispatch and verification topics apart, so a backlog (a restart, a
    rebuild from the topics) may give it a case's closing before the extension decided days
    earlier. The closing is legal in intake's horizon from ``dispatched``, so it is applied;
    the extension then meets a closed case it can never take, and it happened before what
    intake applied since: it is late. Intake tracks it and passes it over: no dead letter,
    the record stays closed with the deadline it had."""
    client, runtime = intake
    filed = await file_supervisor_report(client, auth, "06001", POINT["lat"])
    case_id = UUID(filed["case_id"])
    [reported] = (await reported_events(runtime, 1)).values()
    deadline = datetime.now(UTC) + timedelta(days=3)
    extended = deadline + timedelta(days=2)
    history: list[Step] = [
        (Stage.CASEFILE, CaseRegistered, CHIEF, registration("370212E060012026112500001")),
        dispatch_to_urban(deadline),
        *taken_and_extended(extended),
        *disposed_to_closed(),
    ]
    events: dict[str, tuple[Stage, CaseEvent]] = {}
    cause: CaseEvent = reported
    for minutes, (stage, model, actor, payload) in enumerate(history, start=1):
        cause = model.create(
            case_id=case_id,
            site=SITE,
            actor=actor,
            payload=payload,
            previous=None,
            cause=cause,
            occurred_at=reported.occurred_at + timedelta(minutes=minutes),
        )
        events[cause.event_type] = (stage, cause)
    _, closed = events["case.closed"]
    _, extension = events["extension.decided"]
    assert extension.occurred_at < closed.occurred_at

    for event_type in ("case.registered", "case.dispatched", "case.closed"):
        stage, event = events[event_type]
        await upstream(stage).publish(event)
    await until_status(report_of, case_id, CaseStatus.CLOSED)
    await upstream(Stage.DISPATCH).publish(extension)
    await caught_up()

    record = await report_of(case_id)
    assert record is not None
    assert (record.status, record.deadline) == (CaseStatus.CLOSED, deadline)
    assert (record.last_event_id, record.last_occurred_at) == (
        closed.event_id,
        closed.occurred_at,
    )
    applied = await applications(case_id)
    assert [entry.event_type for entry in applied] == [
        "case.reported",
        "case.registered",
        "case.dispatched",
        "case.closed",
        "extension.decided",
    ]
    assert applied[-1].event_id == extension.event_id
    assert applied[-1].source.startswith(event_topic(SITE, Stage.DISPATCH, runtime.namespace))
    # Passed over, not set aside: the dead-letter topic stays empty.
    dead = await topic_records(
        runtime.settings.kafka.bootstrap_servers, runtime.dead_letter_topic, 0
    )
    assert [decode(record.value).event_id for record in dead] == []


async def test_a_dispatch_read_before_its_registration_waits_for_it(
    intake: Client,
    auth: Auth,
    upstream: Upstream,
    report_of: ReportOf,
    applications: Applications,
) -> None:
    """Intake reads the case file's and dispatch's topics apart: a dispatch may come first.
    Its case is not registered in intake's view yet, so it waits and is applied after."""
    client, runtime = intake
    filed = await file_supervisor_report(client, auth, "06001", POINT["lat"])
    case_id = UUID(filed["case_id"])
    [reported] = (await reported_events(runtime, 1)).values()
    registered = CaseRegistered.create(
        case_id=case_id,
        site=SITE,
        actor=CHIEF,
        payload=registration("370212E060012026112500001"),
        previous=None,
        cause=reported,
    )
    deadline = datetime.now(UTC) + timedelta(days=3)
    await upstream(Stage.DISPATCH).emit(
        CaseDispatched,
        case_id=case_id,
        actor=DISPATCHER,
        payload=CaseDispatchedPayload(department_id=URBAN, deadline=deadline),
        cause=registered,
    )

    async def parked() -> int:
        async with runtime.database.begin() as uow:
            known = await uow.tracker.lookup([], [case_id])
        return len(known.parked)

    await eventually(parked, lambda count: count == 1)
    record = await report_of(case_id)
    assert record is not None
    assert (record.status, record.department_id) == (CaseStatus.REPORTED, None)

    await upstream(Stage.CASEFILE).publish(registered)
    record = await until_status(report_of, case_id, CaseStatus.DISPATCHED)
    assert (record.case_number, record.department_id, record.deadline) == (
        "370212E060012026112500001",
        URBAN,
        deadline,
    )
    assert [entry.event_type for entry in await applications(case_id)] == [
        "case.reported",
        "case.registered",
        "case.dispatched",
    ]
    assert await parked() == 0
