"""Intake's pure inside, without a database or a broker: the checks of a report, the event
it decides, who files each channel, how its record follows the case, and distances."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from cityloop_intake.app import RULES
from cityloop_intake.decisions import (
    CHANNEL_ROLES,
    FileReport,
    Filing,
    Publicity,
    channel_roles,
    publicity,
    report,
    report_payload,
)
from cityloop_intake.open311.models import service_request, w3c
from cityloop_intake.open311.settings import Open311Settings
from cityloop_intake.state import Report, evolve
from cityloop_intake.store import NEARBY_METRES, distance_metres
from cityloop_intake.topology import TOPOLOGY
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.envelope import CaseEvent, Payload
from cityloop_shared.contract.events.casefile import (
    CaseCancelled,
    CaseForwardedToCity,
    CaseForwardedToCityPayload,
    CaseRegistered,
    CaseRegisteredPayload,
    CaseVoided,
    CaseVoidedPayload,
    ReasonPayload,
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
    SuspensionResumed,
    SuspensionResumedPayload,
)
from cityloop_shared.contract.events.intake import (
    CaseReported,
    CaseReportedPayload,
    CaseSelfHandled,
    CaseSelfHandledPayload,
    PublicityDecided,
    PublicityDecidedPayload,
)
from cityloop_shared.contract.events.verification import CaseClosed, CaseClosedPayload
from cityloop_shared.contract.ids import CaseKind, new_id
from cityloop_shared.contract.lifecycle import CaseStatus, IllegalTransition
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.values import (
    CaseLevel,
    Category,
    ClockStep,
    Deadline,
    GeoPoint,
    Location,
    ReportChannel,
    TimeLimit,
    TimeUnit,
)
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.categories import Category as DictionaryCategory
from cityloop_shared.reference.categories import CategoryDictionary, Edition
from cityloop_shared.stage.decisions import Conflict, Context, Invalid

pytestmark = pytest.mark.unit

E = TypeVar("E", bound=CaseEvent)

REFERENCE = ReferenceData.demo()
SITE = "370212"
"""崂山区 of the demo city."""
STANDARD = "GB/T 47678.5-2026"
POINT = {"lon": 120.45, "lat": 36.13}
GRID = "370212003001001"
"""The grid of 崂山区 that holds POINT."""
SHINAN_POINT = {"lon": 120.33, "lat": 36.05}
SHINAN_GRID = "370202001001001"
"""市南区's grid that holds SHINAN_POINT."""
QD = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
"""Noon in Qingdao, a Wednesday."""
SUPERVISOR = Actor(id="sv-370212-03", role=Role.FIELD_SUPERVISOR, site=SITE)
OPERATOR = Actor(id="op-1", role=Role.ACCEPTANCE_OPERATOR, site=SITE)
OPEN311_CLIENT = Actor(id="open311:test-client", role=Role.PUBLIC, site=SITE)
CHIEF = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=SITE)
DISPATCHER = Actor(id="dispatcher-1", role=Role.DISPATCHER, site=SITE)
LEADER = Actor(id="leader-1", role=Role.LEADER, site=SITE)
PHOTO = {"uri": "https://media.cityloop.example/p/7.jpg", "media_type": "image/jpeg"}
SETTINGS = Open311Settings(coordinate_decimals=3, show_departments=False)
"""What Open311 discloses as shipped: no department named, points to 3 decimals."""
NAMING = SETTINGS.model_copy(update={"show_departments": True})


def command(**changes: Any) -> FileReport:
    """A supervisor's report at POINT, as changed (``None`` leaves a field out)."""
    fields: dict[str, Any] = {
        "channel": "supervisor",
        "category_code": "06001",
        "description": "人行道私搭乱建",
        "location": {**POINT, "address": "松岭路"},
        "attachments": [PHOTO],
        **changes,
    }
    return FileReport.model_validate({k: v for k, v in fields.items() if v is not None})


def refusal(body: FileReport, reference: ReferenceData = REFERENCE, site: str = SITE) -> Invalid:
    with pytest.raises(Invalid) as refused:
        report_payload(body, reference, site, NOON)
    return refused.value


def context(actor: Actor = SUPERVISOR) -> Context:
    return Context(actor=actor, now=NOON, reference=REFERENCE, site=SITE, view=TOPOLOGY.view)


# --- report_payload: the refusals, each naming its field -------------------------------------


@pytest.mark.parametrize("channel", ["supervisor", "video"])
def test_supervisor_and_video_reports_must_name_their_category(channel: str) -> None:
    refused = refusal(command(channel=channel, category_code=None))
    assert refused.loc == ("body", "category_code")
    assert refused.kind == "missing_category"
    assert refused.detail == f"a {channel} report names its category"


@pytest.mark.parametrize("channel", ["public", "leader"])
def test_public_and_leader_reports_may_leave_the_category_to_registration(channel: str) -> None:
    payload = report_payload(command(channel=channel, category_code=None), REFERENCE, SITE, NOON)
    assert payload.category is None
    assert payload.channel is ReportChannel(channel)


@pytest.mark.parametrize("channel", ["supervisor", "video", "leader"])
def test_only_a_public_report_names_a_reporter(channel: str) -> None:
    refused = refusal(command(channel=channel, reporter={"name": "李四"}))
    assert refused.loc == ("body", "reporter")
    assert refused.kind == "reporter_not_public"


def test_an_unknown_category_is_refused() -> None:
    refused = refusal(command(category_code="99999"))
    assert refused.loc == ("body", "category_code")
    assert refused.kind == "unknown_category"
    assert "no category 99999" in refused.detail
    assert STANDARD in refused.detail


def test_an_ambiguous_category_needs_its_kind() -> None:
    """In the older 4-digit list (GB/T 30428.2) components and events are numbered apart,
    so one code can name both: the report must say which."""
    standard = "GB/T 30428.2-2013"
    both = [
        DictionaryCategory(
            standard=standard,
            major_code="01",
            major_name=name,
            kind=kind,
            code="0101",
            name=f"{name}0101",
        )
        for kind, name in ((CaseKind.COMPONENT, "公用设施"), (CaseKind.EVENT, "市容环境"))
    ]
    four_digit = dataclasses.replace(
        REFERENCE, categories=CategoryDictionary([Edition(standard, "2013")], 4, both)
    )
    refused = refusal(command(category_code="0101"), four_digit)
    assert refused.loc == ("body", "category_code")
    assert refused.kind == "ambiguous_category"
    assert "give the kind" in refused.detail

    named = report_payload(
        command(category_code="0101", category_kind="event"), four_digit, SITE, NOON
    )
    assert named.category == Category(standard=standard, kind=CaseKind.EVENT, code="0101")


def test_a_point_outside_every_grid_is_refused() -> None:
    refused = refusal(command(location={"lon": 121.0, "lat": 37.0}))
    assert refused.loc == ("body", "location")
    assert refused.kind == "outside_grids"


def test_an_unknown_grid_is_refused() -> None:
    refused = refusal(command(location={"grid_code": "370212009009009"}))
    assert refused.loc == ("body", "location", "grid_code")
    assert refused.kind == "unknown_grid"


def test_a_grid_of_another_district_is_reported_there() -> None:
    by_grid = refusal(command(location={"grid_code": SHINAN_GRID}))
    assert by_grid.loc == ("body", "location", "grid_code")
    assert by_grid.kind == "other_district"
    assert "district 370202" in by_grid.detail
    by_point = refusal(command(location=SHINAN_POINT))
    assert by_point.loc == ("body", "location")
    assert by_point.kind == "other_district"


def test_a_point_and_a_grid_that_disagree_are_refused() -> None:
    refused = refusal(command(location={**POINT, "grid_code": "370212001001001"}))
    assert refused.loc == ("body", "location", "grid_code")
    assert refused.kind == "grid_mismatch"
    assert refused.detail == f"the point lies in grid {GRID}, not in 370212001001001"


def test_a_city_site_takes_reports_of_any_of_its_districts() -> None:
    payload = report_payload(command(location=SHINAN_POINT), REFERENCE, "370200", NOON)
    assert payload.location.grid_code == SHINAN_GRID


# --- report_payload: what it builds -------------------------------------------------------------


def test_the_payload_says_the_report_as_checked() -> None:
    payload = report_payload(command(external_id="sv-phone-42"), REFERENCE, SITE, NOON)
    assert payload == CaseReportedPayload(
        channel=ReportChannel.SUPERVISOR,
        category=Category(standard=STANDARD, kind=CaseKind.EVENT, code="06001"),
        description="人行道私搭乱建",
        location=Location(point=GeoPoint(**POINT), address="松岭路", grid_code=GRID),
        attachments=command().attachments,
        reporter=None,
        external_id="sv-phone-42",
        possible_duplicates=(),
        # 225 working minutes from noon: the afternoon session opens at 13:30, so 17:15.
        deadlines=(
            Deadline(step=ClockStep.ACCEPTANCE, due_at=datetime(2026, 11, 25, 17, 15, tzinfo=QD)),
        ),
    )
    assert str(payload.attachments[0].uri) == PHOTO["uri"]


@pytest.mark.parametrize(
    ("now", "due_at"),
    [
        # Wednesday 09:00 + 225 min: 3 h to noon, 45 min after 13:30.
        (datetime(2026, 11, 25, 9, 0, tzinfo=QD), datetime(2026, 11, 25, 14, 15, tzinfo=QD)),
        # Friday 16:00: 90 min left that day, 135 min from Monday 08:30.
        (datetime(2026, 11, 27, 16, 0, tzinfo=QD), datetime(2026, 11, 30, 10, 45, tzinfo=QD)),
        # Saturday night: the clock starts on Monday morning.
        (datetime(2026, 11, 28, 22, 0, tzinfo=QD), datetime(2026, 11, 30, 13, 45, tzinfo=QD)),
    ],
)
def test_the_acceptance_deadline_counts_working_time_from_the_report(
    now: datetime, due_at: datetime
) -> None:
    """受理时限: the same 225 working minutes for any category (and for none), no urgency."""
    for body in (command(), command(channel="public", category_code=None)):
        payload = report_payload(body, REFERENCE, SITE, now)
        assert payload.deadlines == (Deadline(step=ClockStep.ACCEPTANCE, due_at=due_at),)
        assert payload.due(ClockStep.ACCEPTANCE) == Deadline(
            step=ClockStep.ACCEPTANCE, due_at=due_at
        )


def test_a_grid_alone_is_taken_as_given_and_a_component_keeps_its_kind() -> None:
    payload = report_payload(
        command(channel="video", category_code="01002", location={"grid_code": "370212001002001"}),
        REFERENCE,
        SITE,
        NOON,
    )
    assert payload.location == Location(point=None, address=None, grid_code="370212001002001")
    assert payload.category == Category(standard=STANDARD, kind=CaseKind.COMPONENT, code="01002")


def test_a_public_report_keeps_its_reporter_and_the_hotlines_id() -> None:
    payload = report_payload(
        command(
            channel="public",
            category_code=None,
            reporter={"name": "张三", "phone": "13800000000"},
            external_id="12319-20261125-0042",
        ),
        REFERENCE,
        SITE,
        NOON,
    )
    assert payload.reporter is not None
    assert (payload.reporter.name, payload.reporter.phone) == ("张三", "13800000000")
    assert payload.external_id == "12319-20261125-0042"


def test_the_same_report_gives_the_same_payload() -> None:
    assert report_payload(command(), REFERENCE, SITE, NOON) == report_payload(
        command(), REFERENCE, SITE, NOON
    )


# --- report: the event and the answer --------------------------------------------------------


def test_a_report_drafts_one_case_reported_with_its_likely_duplicates() -> None:
    payload = report_payload(command(), REFERENCE, SITE, NOON)
    earlier = (UUID(int=1), UUID(int=2))
    decision = report(None, Filing(command(), earlier), context())
    [draft] = decision.events
    assert draft.model is CaseReported
    assert draft.event_type == "case.reported"
    assert draft.payload == payload.model_copy(update={"possible_duplicates": earlier})
    assert dict(decision.answer) == {"grid_code": GRID, "possible_duplicates": earlier}


def test_a_report_without_duplicates_answers_none() -> None:
    by_grid = command(location={"grid_code": "370212002003001"})
    decision = report(None, Filing(by_grid, ()), context())
    assert decision.answer["grid_code"] == "370212002003001"
    assert decision.answer["possible_duplicates"] == ()
    assert decision == report(None, Filing(by_grid, ()), context())


def test_a_supervisors_self_handled_report_opens_and_ends_a_case_at_once() -> None:
    """自处理: one case.self_handled with what was fixed, where, and the photos of the result;
    no case.reported, so no acceptance clock starts."""
    body = command(
        self_handled=True,
        category_code="06010",
        description="暴露垃圾，已当场清理",
        external_id="sv-phone-43",
    )
    decision = report(None, Filing(body, (UUID(int=1),)), context())
    [draft] = decision.events
    assert draft.model is CaseSelfHandled
    assert draft.event_type == "case.self_handled"
    assert draft.payload == CaseSelfHandledPayload(
        category=Category(standard=STANDARD, kind=CaseKind.EVENT, code="06010"),
        description="暴露垃圾，已当场清理",
        location=Location(point=GeoPoint(**POINT), address="松岭路", grid_code=GRID),
        attachments=body.attachments,
        external_id="sv-phone-43",
    )
    assert str(draft.payload.attachments[0].uri) == PHOTO["uri"]
    assert dict(decision.answer) == {"grid_code": GRID, "self_handled": True}


def test_a_self_handled_report_is_checked_like_any_report() -> None:
    with pytest.raises(Invalid) as refused:
        report(None, Filing(command(self_handled=True, category_code=None), ()), context())
    assert (refused.value.loc, refused.value.kind) == (
        ("body", "category_code"),
        "missing_category",
    )


@pytest.mark.parametrize(
    ("channel", "actor"), [("video", OPERATOR), ("public", OPERATOR), ("leader", LEADER)]
)
def test_only_a_supervisor_reports_a_problem_as_self_handled(channel: str, actor: Actor) -> None:
    with pytest.raises(Invalid) as refused:
        report(None, Filing(command(channel=channel, self_handled=True), ()), context(actor))
    assert refused.value.status_code == 422
    assert refused.value.loc == ("body", "self_handled")
    assert refused.value.kind == "self_handled_not_supervisor"


def test_a_report_is_not_self_handled_unless_it_says_so() -> None:
    assert command().self_handled is False
    [draft] = report(None, Filing(command(), ()), context()).events
    assert draft.model is CaseReported


@pytest.mark.parametrize(
    ("changes", "field", "kind"),
    [
        ({"category_code": "99999"}, ("category_code",), "unknown_category"),
        ({"location": {"lon": 121.0, "lat": 37.0}}, ("location",), "outside_grids"),
        ({"location": {"grid_code": SHINAN_GRID}}, ("location", "grid_code"), "other_district"),
    ],
)
def test_the_decision_checks_the_report_itself(
    changes: dict[str, Any], field: tuple[str, ...], kind: str
) -> None:
    """Both front doors hand the decision the command as sent (and the duplicates read for
    it): the dictionary and the grid map are the decision's to check."""
    with pytest.raises(Invalid) as refused:
        report(None, Filing(command(**changes), (UUID(int=1),)), context())
    assert (refused.value.loc, refused.value.kind) == (("body", *field), kind)


# --- channel_roles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "role"),
    [
        ("supervisor", Role.FIELD_SUPERVISOR),
        ("video", Role.ACCEPTANCE_OPERATOR),
        ("public", Role.ACCEPTANCE_OPERATOR),
        ("leader", Role.LEADER),
    ],
)
def test_each_channel_is_filed_by_one_role(channel: str, role: Role) -> None:
    assert channel_roles(command(channel=channel, category_code="06001")) == {role}
    assert CHANNEL_ROLES[ReportChannel(channel)] is role


def test_every_channel_has_a_filer() -> None:
    assert set(CHANNEL_ROLES) == set(ReportChannel)


# --- topology and rules ---------------------------------------------------------------------


def test_intake_follows_only_what_the_status_of_a_request_needs() -> None:
    assert TOPOLOGY.stage is Stage.INTAKE
    assert TOPOLOGY.emits_types == {
        "case.reported",
        "case.self_handled",
        "satisfaction.recorded",
        "publicity.decided",
    }
    assert TOPOLOGY.follows_types == {
        "case.registered",
        "case.forwarded_to_city",
        "case.dispatched",
        "case.redispatched",
        "case.reopened_for_rework",
        "extension.decided",
        "suspension.resumed",
        "case.closed",
        "case.cancelled",
        "case.voided",
    }
    assert TOPOLOGY.upstream == (Stage.CASEFILE, Stage.DISPATCH, Stage.VERIFICATION)
    assert TOPOLOGY.clocks == frozenset()


def test_intake_reacts_to_nothing_and_watches_no_clock() -> None:
    """The acceptance time limit is the case file's: intake only opens cases."""
    reported = reported_event(OPERATOR, channel="public")
    record = applied(None, reported)
    registered = registered_event(reported)
    assert RULES.react(record, registered, REFERENCE) == ()
    assert RULES.time(record, registered, REFERENCE) == ()


# --- evolve: the record follows the case through intake's view ---------------------------------


def reported_event(actor: Actor, **changes: Any) -> CaseReported:
    payload = report_payload(command(**changes), REFERENCE, SITE, NOON)
    return CaseReported.create(
        case_id=new_id(), site=SITE, actor=actor, payload=payload, previous=None, occurred_at=NOON
    )


def follow(cause: CaseEvent, model: type[E], actor: Actor, payload: Payload, hours: int) -> E:
    """An event of another stage caused by ``cause``, ``hours`` after noon."""
    return model.create(
        case_id=cause.case_id,
        site=SITE,
        actor=actor,
        payload=payload,
        previous=None,
        cause=cause,
        occurred_at=NOON + timedelta(hours=hours),
    )


def registered_event(cause: CaseEvent, code: str = "06001") -> CaseRegistered:
    return follow(
        cause,
        CaseRegistered,
        CHIEF,
        CaseRegisteredPayload(
            case_number=f"370212E{code}2026112500001",
            category=Category(standard=STANDARD, kind=CaseKind.EVENT, code=code),
            grid_code=GRID,
            level=CaseLevel.DISTRICT,
            time_limit=TimeLimit(amount=3, unit=TimeUnit.WORKING_DAYS),
        ),
        1,
    )


def applied(record: Report | None, event: CaseEvent) -> Report:
    """The record after ``event``, as the runtime applies it: the case moves in intake's view
    of the lifecycle (decided for its own report, received for the others') and keeps the
    latest moment applied, then evolves."""
    if record is None:
        state = TOPOLOGY.view.decide(None, event.event_type)
        record = Report(
            case_id=event.case_id,
            site=event.site,
            status=state.status,
            last_event_id=event.event_id,
            last_occurred_at=event.occurred_at,
            correlation_id=event.correlation_id,
        )
    else:
        state = TOPOLOGY.view.receive(record.lifecycle, event.event_type)
        record = dataclasses.replace(
            record,
            status=state.status,
            resume_to=state.resume_to,
            last_event_id=event.event_id,
            last_occurred_at=max(event.occurred_at, record.last_occurred_at),
        )
    return evolve(record, event)


def test_a_report_opens_a_record_of_what_the_reporter_said() -> None:
    reported = reported_event(SUPERVISOR)
    record = applied(None, reported)
    assert record.status is CaseStatus.REPORTED
    assert (record.channel, record.category_kind, record.category_code) == (
        ReportChannel.SUPERVISOR,
        CaseKind.EVENT,
        "06001",
    )
    assert (record.lon, record.lat, record.grid_code) == (POINT["lon"], POINT["lat"], GRID)
    assert (record.address, record.description) == ("松岭路", "人行道私搭乱建")
    assert record.media_url == PHOTO["uri"]
    assert record.reported_at == record.last_occurred_at == NOON
    assert (record.case_number, record.department_id, record.deadline) == (None, None, None)
    assert record.token is None
    assert evolve(applied(None, reported), reported) == evolve(applied(None, reported), reported)


def test_a_self_handled_report_opens_a_record_that_is_already_ended() -> None:
    body = command(self_handled=True, description="私搭乱建，已当场劝离")
    [draft] = report(None, Filing(body, ()), context()).events
    handled = CaseSelfHandled.create(
        case_id=new_id(),
        site=SITE,
        actor=SUPERVISOR,
        payload=draft.payload,
        previous=None,
        occurred_at=NOON,
    )
    record = applied(None, handled)
    assert record.status is CaseStatus.SELF_HANDLED
    assert (record.channel, record.category_kind, record.category_code) == (
        ReportChannel.SUPERVISOR,
        CaseKind.EVENT,
        "06001",
    )
    assert (record.lon, record.lat, record.grid_code) == (POINT["lon"], POINT["lat"], GRID)
    assert (record.address, record.description) == ("松岭路", "私搭乱建，已当场劝离")
    assert record.media_url == PHOTO["uri"]
    assert record.reported_at == NOON
    assert (record.case_number, record.department_id, record.deadline, record.token) == (
        None,
        None,
        None,
        None,
    )


def test_an_open311_client_reads_a_self_handled_report_as_a_closed_request() -> None:
    [draft] = report(None, Filing(command(self_handled=True), ()), context()).events
    handled = CaseSelfHandled.create(
        case_id=new_id(),
        site=SITE,
        actor=SUPERVISOR,
        payload=draft.payload,
        previous=None,
        occurred_at=NOON,
    )
    request = service_request(REFERENCE, dataclasses.asdict(applied(None, handled)), SETTINGS)
    assert (request["status"], request["status_notes"]) == (
        "closed",
        "已结案：问题已处置，监督员发现后当场处理（自处理）",
    )
    assert (request["service_code"], request["expected_datetime"]) == ("06001", None)


def test_only_a_public_actor_gets_a_token() -> None:
    """An Open311 client posts as the public and looks its request up by the token it was
    given (the external id); a hotline operator's external id is the hotline's own number."""
    by_client = applied(None, reported_event(OPEN311_CLIENT, channel="public", external_id="ab12"))
    assert by_client.token == "ab12"
    by_hotline = applied(
        None, reported_event(OPERATOR, channel="public", external_id="12319-20261125-0042")
    )
    assert by_hotline.token is None


def test_the_record_follows_registration_dispatch_extension_and_closing() -> None:
    reported = reported_event(OPEN311_CLIENT, channel="public", category_code=None)
    record = applied(None, reported)
    assert (record.category_kind, record.category_code) == (None, None)

    registered = registered_event(reported, code="06002")
    record = applied(record, registered)
    assert record.status is CaseStatus.REGISTERED
    assert record.case_number == "370212E060022026112500001"
    assert (record.category_kind, record.category_code) == (CaseKind.EVENT, "06002")
    assert record.last_occurred_at == registered.occurred_at

    deadline = NOON + timedelta(days=3)
    dispatched = follow(
        registered,
        CaseDispatched,
        DISPATCHER,
        CaseDispatchedPayload(department_id="370212-urban", deadline=deadline),
        2,
    )
    record = applied(record, dispatched)
    assert record.status is CaseStatus.DISPATCHED
    assert (record.department_id, record.deadline) == ("370212-urban", deadline)
    assert record.last_occurred_at == dispatched.occurred_at

    extended = deadline + timedelta(days=2)
    decided = follow(
        dispatched,
        ExtensionDecided,
        DISPATCHER,
        ExtensionDecidedPayload(approved=True, deadline=extended),
        30,
    )
    record = applied(record, decided)
    assert record.status is CaseStatus.IN_DISPOSAL
    assert (record.department_id, record.deadline) == ("370212-urban", extended)

    resumed_to = extended + timedelta(days=1)
    resumed = follow(
        decided, SuspensionResumed, DISPATCHER, SuspensionResumedPayload(deadline=resumed_to), 40
    )
    record = applied(record, resumed)
    assert record.deadline == resumed_to

    closed = follow(resumed, CaseClosed, CHIEF, CaseClosedPayload(), 50)
    record = applied(record, closed)
    assert record.status is CaseStatus.CLOSED
    assert record.last_occurred_at == closed.occurred_at
    # What the reporter said, the number, the category and the department stay as they were.
    assert (record.case_number, record.category_code, record.department_id) == (
        "370212E060022026112500001",
        "06002",
        "370212-urban",
    )
    assert (record.description, record.reported_at, record.deadline) == (
        "人行道私搭乱建",
        NOON,
        resumed_to,
    )


def test_redispatch_and_rework_move_the_department_and_the_deadline() -> None:
    reported = reported_event(SUPERVISOR)
    registered = registered_event(reported)
    forwarded = follow(
        registered,
        CaseForwardedToCity,
        CHIEF,
        CaseForwardedToCityPayload(city_site="370200", reason="跨区问题，转市级"),
        2,
    )
    record = applied(applied(applied(None, reported), registered), forwarded)
    assert record.status is CaseStatus.FORWARDED_TO_CITY
    assert record.last_occurred_at == forwarded.occurred_at

    first = NOON + timedelta(days=3)
    dispatched = follow(
        forwarded,
        CaseDispatched,
        DISPATCHER,
        CaseDispatchedPayload(department_id="370212-urban", deadline=first),
        3,
    )
    second = NOON + timedelta(days=4)
    redispatched = follow(
        dispatched,
        CaseRedispatched,
        DISPATCHER,
        CaseRedispatchedPayload(
            department_id="370212-sanitation",
            previous_department_id="370212-urban",
            deadline=second,
            reason="不属本部门",
        ),
        5,
    )
    record = applied(applied(record, dispatched), redispatched)
    assert record.status is CaseStatus.DISPATCHED
    assert (record.department_id, record.deadline) == ("370212-sanitation", second)

    third = NOON + timedelta(days=6)
    reopened = follow(
        redispatched,
        CaseReopenedForRework,
        DISPATCHER,
        CaseReopenedForReworkPayload(
            department_id="370212-sanitation", deadline=third, reason="核查未通过"
        ),
        50,
    )
    record = applied(record, reopened)
    assert record.status is CaseStatus.DISPATCHED
    assert (record.department_id, record.deadline) == ("370212-sanitation", third)
    assert record.last_occurred_at == reopened.occurred_at


def test_a_cancellation_and_a_voiding_end_the_record() -> None:
    reported = reported_event(SUPERVISOR)
    cancelled = follow(reported, CaseCancelled, CHIEF, ReasonPayload(reason="不属于城管范围"), 1)
    record = applied(applied(None, reported), cancelled)
    assert record.status is CaseStatus.CANCELLED
    assert record.last_occurred_at == cancelled.occurred_at
    assert record.case_number is None

    other = reported_event(SUPERVISOR)
    registered = registered_event(other)
    voided = follow(
        registered,
        CaseVoided,
        CHIEF,
        CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by="chief-1"),
        2,
    )
    record = applied(applied(applied(None, other), registered), voided)
    assert record.status is CaseStatus.VOIDED
    assert record.case_number == "370212E060012026112500001"
    assert record.last_occurred_at == voided.occurred_at


def test_an_open311_client_reads_the_record_as_its_request() -> None:
    """What GET requests shows is the record: notes by status with the case number once
    registered, the department's name where the site names it, the deadline, the last
    applied event's time; the unit grid's name for the address the reporter typed."""
    zone = REFERENCE.calendar.zone
    reported = reported_event(OPEN311_CLIENT, channel="public", external_id="ab12")
    record = applied(None, reported)
    request = service_request(REFERENCE, dataclasses.asdict(record), NAMING)
    assert (request["status"], request["status_notes"]) == ("open", "已上报，等待受理")
    assert request["service_code"] == "06001"
    assert (
        request["requested_datetime"] == request["updated_datetime"] == "2026-11-25T12:00:00+08:00"
    )
    assert (request["agency_responsible"], request["expected_datetime"]) == (None, None)
    assert (request["lat"], request["long"]) == (36.13, 120.45)
    assert request["address"] == "崂山区第三街道第一社区1号网格"

    registered = registered_event(reported, code="06002")
    record = applied(record, registered)
    request = service_request(REFERENCE, dataclasses.asdict(record), NAMING)
    assert request["status_notes"] == "已立案，等待派遣（案卷号 370212E060022026112500001）"
    assert (request["service_code"], request["service_name"]) == ("06002", "店面无证装修")
    assert request["updated_datetime"] == "2026-11-25T13:00:00+08:00"

    deadline = NOON + timedelta(days=3)
    dispatched = follow(
        registered,
        CaseDispatched,
        DISPATCHER,
        CaseDispatchedPayload(department_id="370212-urban", deadline=deadline),
        2,
    )
    record = applied(record, dispatched)
    request = service_request(REFERENCE, dataclasses.asdict(record), NAMING)
    assert request["status_notes"] == "已派遣至专业部门（案卷号 370212E060022026112500001）"
    assert request["agency_responsible"] == "崂山区城市管理局"
    assert request["expected_datetime"] == w3c(deadline, zone) == "2026-11-28T12:00:00+08:00"
    unnamed = service_request(REFERENCE, dataclasses.asdict(record), SETTINGS)
    assert unnamed == {**request, "agency_responsible": None}

    record = applied(record, follow(dispatched, CaseClosed, CHIEF, CaseClosedPayload(), 50))
    request = service_request(REFERENCE, dataclasses.asdict(record), NAMING)
    assert (request["status"], request["status_notes"]) == (
        "closed",
        "已结案：问题已处置，经现场核查通过（案卷号 370212E060022026112500001）",
    )
    assert request["updated_datetime"] == "2026-11-27T14:00:00+08:00"
    assert request == service_request(REFERENCE, dataclasses.asdict(record), NAMING)


def test_a_closing_before_registration_cannot_be_applied_yet() -> None:
    """Intake's horizon after a report reaches no further than verification: a closing read
    before the registration waits (the runtime parks it) rather than ending the case."""
    record = applied(None, reported_event(SUPERVISOR))
    with pytest.raises(IllegalTransition):
        TOPOLOGY.view.receive(record.lifecycle, "case.closed")
    assert TOPOLOGY.view.may_follow(record.lifecycle, "case.closed")


def test_intake_decides_a_report_only_for_a_new_case() -> None:
    record = applied(None, reported_event(SUPERVISOR))
    with pytest.raises(IllegalTransition) as refused:
        context().require(record, CaseReported)
    assert (refused.value.status, refused.value.event_type) == (
        CaseStatus.REPORTED,
        "case.reported",
    )


# --- publicity: what the supervision centre shows the public ----------------------------------


def decided_publicity(record: Report, public: bool, actor: Actor = OPERATOR) -> Report:
    """The record after the centre's decision to show (or withhold) its case."""
    [draft] = publicity(record, Publicity(public=public), context(actor)).events
    decided = PublicityDecided.create(
        case_id=record.case_id,
        site=SITE,
        actor=actor,
        payload=draft.payload,
        previous=None,
        occurred_at=NOON + timedelta(hours=1),
    )
    return applied(record, decided)


@pytest.mark.parametrize(
    ("channel", "actor", "shown"),
    [
        ("public", OPEN311_CLIENT, True),
        ("public", OPERATOR, True),
        ("supervisor", SUPERVISOR, False),
        ("video", OPERATOR, False),
        ("leader", LEADER, False),
    ],
)
def test_only_the_publics_own_reports_are_shown_until_the_centre_decides(
    channel: str, actor: Actor, shown: bool
) -> None:
    record = applied(None, reported_event(actor, channel=channel))
    assert record.published is None
    assert record.shown_to_public is shown


def test_the_centre_shows_a_supervisors_case_and_withholds_it_again() -> None:
    record = applied(None, reported_event(SUPERVISOR))
    decision = publicity(record, Publicity(public=True, reason="典型案例"), context(OPERATOR))
    [draft] = decision.events
    assert draft.model is PublicityDecided
    assert draft.payload == PublicityDecidedPayload(public=True, reason="典型案例")
    assert dict(decision.answer) == {"public": True}

    shown = decided_publicity(record, True)
    assert (shown.published, shown.shown_to_public, shown.status) == (True, True, record.status)
    withheld = decided_publicity(shown, False, CHIEF)
    assert (withheld.published, withheld.shown_to_public) == (False, False)


def test_the_centre_withholds_a_public_report() -> None:
    record = applied(None, reported_event(OPEN311_CLIENT, channel="public"))
    withheld = decided_publicity(record, False)
    assert (withheld.published, withheld.shown_to_public) == (False, False)
    assert decided_publicity(withheld, True).shown_to_public is True


def test_saying_what_already_holds_is_refused() -> None:
    supervisors = applied(None, reported_event(SUPERVISOR))
    with pytest.raises(Conflict, match="already withheld from the public") as refused:
        publicity(supervisors, Publicity(public=False), context(OPERATOR))
    assert refused.value.status_code == 409
    public = applied(None, reported_event(OPEN311_CLIENT, channel="public"))
    with pytest.raises(Conflict, match="already shown to the public"):
        publicity(public, Publicity(public=True), context(OPERATOR))
    with pytest.raises(Conflict, match="already shown to the public"):
        publicity(decided_publicity(supervisors, True), Publicity(public=True), context())


def test_an_ended_case_is_still_shown_or_withheld() -> None:
    """A closed request found to carry a phone number is withdrawn after its end; a
    supervisor's problem fixed on the spot may be shown as one the city dealt with."""
    reported = reported_event(OPEN311_CLIENT, channel="public")
    cancelled = follow(reported, CaseCancelled, CHIEF, ReasonPayload(reason="不属于城管范围"), 1)
    record = applied(applied(None, reported), cancelled)
    assert decided_publicity(record, False).shown_to_public is False

    [draft] = report(None, Filing(command(self_handled=True), ()), context()).events
    handled = CaseSelfHandled.create(
        case_id=new_id(),
        site=SITE,
        actor=SUPERVISOR,
        payload=draft.payload,
        previous=None,
        occurred_at=NOON,
    )
    shown = decided_publicity(applied(None, handled), True)
    assert (shown.status, shown.shown_to_public) == (CaseStatus.SELF_HANDLED, True)


# --- store.distance_metres ----------------------------------------------------------------------


def test_distance_is_zero_to_itself_and_symmetric() -> None:
    here, there = GeoPoint(**POINT), GeoPoint(lon=120.451, lat=36.131)
    assert distance_metres(here, here) == 0.0
    assert distance_metres(here, there) == distance_metres(there, here)


def test_a_degree_of_latitude_is_the_mean_earth_radius_arc() -> None:
    metres = distance_metres(GeoPoint(lon=120.0, lat=36.0), GeoPoint(lon=120.0, lat=37.0))
    assert metres == pytest.approx(111_195.08, abs=0.01)


def test_the_fifty_metres_of_a_likely_duplicate() -> None:
    """About 22 m north is near; about 63 m east (a degree of longitude shrinks with the
    cosine of the latitude) is not."""
    here = GeoPoint(**POINT)
    north = distance_metres(here, GeoPoint(lon=POINT["lon"], lat=POINT["lat"] + 0.0002))
    east = distance_metres(here, GeoPoint(lon=POINT["lon"] + 0.0007, lat=POINT["lat"]))
    assert north == pytest.approx(22.24, abs=0.01)
    assert east == pytest.approx(62.86, abs=0.05)
    assert north <= NEARBY_METRES < east
