"""The departments' work over real Kafka and PostgreSQL: task lists that follow dispatch,
acceptance and completion with evidence, requests for return, extension and suspension,
rework, the upper department's view, and refusals that change nothing."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from cityloop_deploy.site_fixtures import UpstreamStage, eventually, topic_records
from cityloop_shared.contract import (
    Actor,
    CaseEvent,
    Payload,
    Role,
    Stage,
    decode,
    new_id,
    verify_chain,
)
from cityloop_shared.contract.events.casefile import (
    CaseAccepted,
    CaseAcceptedPayload,
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
    FeedbackForwarded,
    FeedbackForwardedPayload,
    ReturnApproved,
    SuspensionApproved,
    SuspensionResumed,
    SuspensionResumedPayload,
)
from cityloop_shared.contract.events.disposal import (
    DisposalAccepted,
    DisposalAcceptedPayload,
    DisposalCompleted,
)
from cityloop_shared.contract.events.intake import CaseReported, CaseReportedPayload
from cityloop_shared.contract.events.verification import (
    CaseClosed,
    CaseClosedPayload,
    CheckFailed,
    CheckFailedPayload,
    CheckPassed,
    CheckRequested,
    CheckRequestedPayload,
    CheckResultPayload,
)
from cityloop_shared.contract.values import (
    CaseLevel,
    Category,
    GeoPoint,
    Location,
    ReportChannel,
    TimeLimit,
    TimeUnit,
)
from cityloop_shared.service.runtime import ServiceRuntime

Client = tuple[httpx.AsyncClient, ServiceRuntime]
Upstream = Callable[[Stage], UpstreamStage]
Auth = Callable[..., dict[str, str]]

SITE = "370212"
GRID = "370212003001001"
SUPERVISOR_ID = "sv-370212-03"
STREET_1 = "370212-street-001"
STREET_2 = "370212-street-002"
URBAN = "370212-urban"
SANITATION = "370212-sanitation"
"""A sub-unit of 崂山区城市管理局 (URBAN), itself under 青岛市城市管理局."""
DEADLINE = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
PHOTO = {
    "uri": "https://media.cityloop.example/done/1.jpg",
    "media_type": "image/jpeg",
    "sha256": "ab" * 32,
}
COMPLETION = {"description": "垃圾已清运,地面已冲洗", "evidence": [PHOTO]}

OPERATOR = Actor(id="op-1", role=Role.ACCEPTANCE_OPERATOR, site=SITE)
CHIEF = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=SITE)
DISPATCHER = Actor(id="dispatcher-1", role=Role.DISPATCHER, site=SITE)
SUPERVISOR = Actor(id=SUPERVISOR_ID, role=Role.FIELD_SUPERVISOR, site=SITE)
_sequence = itertools.count(1)


@dataclass
class Case:
    """One case moved by the stages around disposal, each event caused by the case's last."""

    id: UUID
    upstream: Upstream
    last: CaseEvent | None = None

    async def publish(
        self, stage: Stage, model: type[CaseEvent], actor: Actor, payload: Payload
    ) -> CaseEvent:
        self.last = await self.upstream(stage).emit(
            model, case_id=self.id, payload=payload, actor=actor, cause=self.last
        )
        return self.last

    async def decided(self, runtime: ServiceRuntime, answer: httpx.Response) -> CaseEvent:
        """The service's event behind an HTTP answer, as published: the cause of what follows."""
        assert answer.status_code == 200, answer.text
        self.last = await published(runtime, answer.json()["event_id"])
        return self.last


async def published(runtime: ServiceRuntime, event_id: str) -> CaseEvent:
    async def events() -> list[CaseEvent]:
        records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 1)
        return [decode(record.value) for record in records]

    found = await eventually(events, lambda seen: any(str(e.event_id) == event_id for e in seen))
    return next(event for event in found if str(event.event_id) == event_id)


async def our_events(runtime: ServiceRuntime, at_least: int) -> list[CaseEvent]:
    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, at_least)
    return [decode(record.value) for record in records]


async def dispatched(upstream: Upstream, department_id: str) -> Case:
    """A supervisor's report accepted, registered and dispatched, as the other stages do it."""
    case = Case(new_id(), upstream)
    await case.publish(
        Stage.INTAKE,
        CaseReported,
        SUPERVISOR,
        CaseReportedPayload(
            channel=ReportChannel.SUPERVISOR,
            description="暴露垃圾",
            location=Location(point=GeoPoint(lon=120.45, lat=36.13), grid_code=GRID),
        ),
    )
    await case.publish(
        Stage.CASEFILE, CaseAccepted, OPERATOR, CaseAcceptedPayload(needs_verification=False)
    )
    await case.publish(
        Stage.CASEFILE,
        CaseRegistered,
        CHIEF,
        CaseRegisteredPayload(
            case_number=f"{SITE}E0600120261125{next(_sequence):05d}",
            category=Category(standard="GB/T 47678.5-2026", kind="event", code="06001"),
            grid_code=GRID,
            level=CaseLevel.DISTRICT,
            time_limit=TimeLimit(amount=4, unit=TimeUnit.WORKING_HOURS),
        ),
    )
    await case.publish(
        Stage.DISPATCH,
        CaseDispatched,
        DISPATCHER,
        CaseDispatchedPayload(department_id=department_id, deadline=DEADLINE),
    )
    return case


async def task(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    case: Case,
    ok: Callable[[dict[str, Any] | None], bool] = lambda found: found is not None,
    **params: str,
) -> Any:
    """The case's row in a task list, once ``ok`` holds of it (None: not on the list)."""

    async def row() -> dict[str, Any] | None:
        answer = await client.get("/tasks", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        rows: list[dict[str, Any]] = answer.json()["tasks"]
        return next((r for r in rows if r["case_id"] == str(case.id)), None)

    return await eventually(row, ok)


def in_state(state: str) -> Callable[[dict[str, Any] | None], bool]:
    return lambda found: found is not None and found["state"] == state


def department(auth: Auth, department_id: str, site: str = SITE) -> dict[str, str]:
    return auth(
        Role.DEPARTMENT, site=site, id=f"staff-{department_id}", department_id=department_id
    )


async def test_a_dispatched_case_is_on_its_departments_list_only(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = disposal
    street_1, street_2 = department(auth, STREET_1), department(auth, STREET_2)
    case = await dispatched(upstream, STREET_1)

    row = await task(client, street_1, case)
    assert (row["department_id"], row["state"], row["rework_count"]) == (
        STREET_1,
        "awaiting_acceptance",
        0,
    )
    assert datetime.fromisoformat(row["deadline"]) == DEADLINE
    assert row["case_number"].startswith("370212E06001")
    assert row["case_status"] == "dispatched"

    others = await client.get("/tasks", headers=street_2)
    assert others.status_code == 200
    assert str(case.id) not in [r["case_id"] for r in others.json()["tasks"]]
    peeking = await client.get("/tasks", params={"department_id": STREET_1}, headers=street_2)
    assert peeking.status_code == 403
    not_a_department = await client.get("/tasks", headers=auth(Role.DISPATCHER))
    assert not_a_department.status_code == 403
    bad_state = await client.get("/tasks", params={"state": "lost"}, headers=street_1)
    assert bad_state.status_code == 422
    assert bad_state.json()["detail"][0]["loc"] == ["query", "state"]


async def test_accepting_then_completing_reports_back_with_evidence(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    dispatch = case.last
    assert dispatch is not None
    await task(client, street_1, case)

    accepted = await client.post(f"/cases/{case.id}/accept", json={}, headers=street_1)
    assert accepted.json()["task_state"] == "in_hand"
    await case.decided(runtime, accepted)
    row = await task(client, street_1, case)
    assert row["state"] == "in_hand"
    assert row["accepted_at"] is not None
    completed = await client.post(f"/cases/{case.id}/complete", json=COMPLETION, headers=street_1)
    assert completed.json()["task_state"] == "completed"
    await case.decided(runtime, completed)

    events = await our_events(runtime, 2)
    assert verify_chain(events) == []
    acceptance, completion = events
    assert isinstance(acceptance, DisposalAccepted)
    assert isinstance(completion, DisposalCompleted)
    assert acceptance.payload.department_id == STREET_1
    assert acceptance.actor.id == f"staff-{STREET_1}"
    assert acceptance.causation_id == dispatch.event_id
    assert completion.causation_id == acceptance.event_id
    assert completion.payload.department_id == STREET_1
    assert completion.payload.description == COMPLETION["description"]
    assert [
        (str(photo.uri), photo.media_type, photo.sha256) for photo in completion.payload.evidence
    ] == [(PHOTO["uri"], PHOTO["media_type"], PHOTO["sha256"])]

    detail = (await client.get(f"/cases/{case.id}", headers=street_1)).json()
    assert detail["status"] == "disposed"
    assert [e["event_type"] for e in detail["timeline"]][-2:] == [
        "disposal.accepted",
        "disposal.completed",
    ]
    row = await task(client, street_1, case)
    assert row["state"] == "completed"
    assert row["completed_at"] is not None

    # The check passes and the case is closed: the task leaves the department's list.
    await case.publish(Stage.DISPATCH, FeedbackForwarded, DISPATCHER, FeedbackForwardedPayload())
    await case.publish(
        Stage.VERIFICATION,
        CheckRequested,
        OPERATOR,
        CheckRequestedPayload(supervisor_id=SUPERVISOR_ID),
    )
    await case.publish(Stage.VERIFICATION, CheckPassed, SUPERVISOR, CheckResultPayload())
    await case.publish(Stage.VERIFICATION, CaseClosed, CHIEF, CaseClosedPayload())
    await task(client, street_1, case, in_state("closed"), state="closed")
    assert await task(client, street_1, case, lambda found: found is None) is None


async def test_a_return_request_hands_the_case_to_another_department(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1, street_2 = department(auth, STREET_1), department(auth, STREET_2)
    case = await dispatched(upstream, STREET_1)
    await task(client, street_1, case)

    asked = await client.post(
        f"/cases/{case.id}/return-request", json={"reason": "不属于本单位职责"}, headers=street_1
    )
    request = await case.decided(runtime, asked)
    assert request.event_type == "return.requested"
    assert request.payload == ReasonPayload(reason="不属于本单位职责")
    row = await task(client, street_1, case)
    assert (row["state"], row["pending_request"]) == ("awaiting_acceptance", "return")

    await case.publish(Stage.DISPATCH, ReturnApproved, DISPATCHER, ReasonPayload(reason="核实属实"))
    returned = await task(client, street_1, case, in_state("returned"), state="returned")
    assert returned["pending_request"] is None
    assert await task(client, street_1, case, lambda found: found is None) is None

    await case.publish(
        Stage.DISPATCH,
        CaseRedispatched,
        DISPATCHER,
        CaseRedispatchedPayload(
            department_id=STREET_2,
            previous_department_id=STREET_1,
            deadline=DEADLINE + timedelta(hours=2),
            reason="属第二街道辖区",
        ),
    )
    row = await task(client, street_2, case)
    assert (row["state"], row["rework_count"]) == ("awaiting_acceptance", 0)
    assert datetime.fromisoformat(row["deadline"]) == DEADLINE + timedelta(hours=2)
    former = await client.post(f"/cases/{case.id}/accept", json={}, headers=street_1)
    assert former.status_code == 403
    taken = await client.post(f"/cases/{case.id}/accept", json={}, headers=street_2)
    accepted = await case.decided(runtime, taken)
    assert accepted.payload == DisposalAcceptedPayload(department_id=STREET_2)


async def test_an_extension_must_propose_a_later_deadline(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    await task(client, street_1, case)
    await case.decided(
        runtime, await client.post(f"/cases/{case.id}/accept", json={}, headers=street_1)
    )
    url = f"/cases/{case.id}/extension-request"

    for proposed in (DEADLINE, DEADLINE - timedelta(hours=1), datetime(2026, 11, 29, 9, 30)):
        refused = await client.post(
            url,
            json={"proposed_deadline": proposed.isoformat(), "reason": "需订购"},
            headers=street_1,
        )
        assert refused.status_code == 422, proposed
        assert refused.json()["detail"][0]["loc"] == ["body", "proposed_deadline"]

    later = DEADLINE + timedelta(days=2)
    asked = await client.post(
        url, json={"proposed_deadline": later.isoformat(), "reason": "需订购井盖"}, headers=street_1
    )
    request = await case.decided(runtime, asked)
    assert request.event_type == "extension.requested"
    assert request.payload.model_dump() == {"proposed_deadline": later, "reason": "需订购井盖"}
    row = await task(client, street_1, case)
    assert row["pending_request"] == "extension"

    await case.publish(
        Stage.DISPATCH,
        ExtensionDecided,
        DISPATCHER,
        ExtensionDecidedPayload(approved=True, deadline=later),
    )
    row = await task(
        client,
        street_1,
        case,
        lambda found: found is not None and datetime.fromisoformat(found["deadline"]) == later,
    )
    assert (row["state"], row["pending_request"]) == ("in_hand", None)
    detail = (await client.get(f"/cases/{case.id}", headers=street_1)).json()
    assert detail["status"] == "in_disposal"
    events = await our_events(runtime, 2)
    assert [e.event_type for e in events] == ["disposal.accepted", "extension.requested"]
    assert verify_chain(events) == []


async def test_a_suspended_task_stops_until_resumed(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    await task(client, street_1, case)
    await case.decided(
        runtime, await client.post(f"/cases/{case.id}/accept", json={}, headers=street_1)
    )

    asked = await client.post(
        f"/cases/{case.id}/suspension-request", json={"reason": "需列入年度工程"}, headers=street_1
    )
    request = await case.decided(runtime, asked)
    assert request.event_type == "suspension.requested"
    assert request.payload == ReasonPayload(reason="需列入年度工程")
    assert (await task(client, street_1, case))["pending_request"] == "suspension"

    await case.publish(
        Stage.DISPATCH, SuspensionApproved, DISPATCHER, ReasonPayload(reason="同意挂账")
    )
    row = await task(client, street_1, case, in_state("suspended"))
    assert row["pending_request"] is None
    while_suspended = await client.post(
        f"/cases/{case.id}/complete", json=COMPLETION, headers=street_1
    )
    assert while_suspended.status_code == 409
    assert while_suspended.json()["status"] == "suspended"

    resumed_deadline = DEADLINE + timedelta(days=30)
    await case.publish(
        Stage.DISPATCH,
        SuspensionResumed,
        DISPATCHER,
        SuspensionResumedPayload(deadline=resumed_deadline),
    )
    row = await task(client, street_1, case, in_state("in_hand"))
    assert datetime.fromisoformat(row["deadline"]) == resumed_deadline
    done = await client.post(f"/cases/{case.id}/complete", json=COMPLETION, headers=street_1)
    assert done.status_code == 200, done.text


async def test_a_failed_check_brings_the_task_back_to_the_same_department(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    await task(client, street_1, case)
    await case.decided(
        runtime, await client.post(f"/cases/{case.id}/accept", json={}, headers=street_1)
    )
    await case.decided(
        runtime,
        await client.post(f"/cases/{case.id}/complete", json=COMPLETION, headers=street_1),
    )
    await case.publish(Stage.DISPATCH, FeedbackForwarded, DISPATCHER, FeedbackForwardedPayload())
    await case.publish(
        Stage.VERIFICATION,
        CheckRequested,
        OPERATOR,
        CheckRequestedPayload(supervisor_id=SUPERVISOR_ID),
    )
    await case.publish(
        Stage.VERIFICATION, CheckFailed, SUPERVISOR, CheckFailedPayload(reason="仍有垃圾")
    )
    rework_deadline = DEADLINE + timedelta(days=1)
    await case.publish(
        Stage.DISPATCH,
        CaseReopenedForRework,
        DISPATCHER,
        CaseReopenedForReworkPayload(
            department_id=STREET_1, deadline=rework_deadline, reason="仍有垃圾"
        ),
    )

    row = await task(client, street_1, case, lambda found: bool(found and found["rework_count"]))
    assert (row["department_id"], row["state"], row["rework_count"]) == (
        STREET_1,
        "awaiting_acceptance",
        1,
    )
    assert (row["accepted_at"], row["completed_at"]) == (None, None)
    assert datetime.fromisoformat(row["deadline"]) == rework_deadline
    again = await client.post(f"/cases/{case.id}/accept", json={}, headers=street_1)
    await case.decided(runtime, again)
    redone = await client.post(f"/cases/{case.id}/complete", json=COMPLETION, headers=street_1)
    await case.decided(runtime, redone)

    events = await our_events(runtime, 4)
    assert [e.event_type for e in events] == [
        "disposal.accepted",
        "disposal.completed",
        "disposal.accepted",
        "disposal.completed",
    ]
    assert verify_chain(events) == []
    row = await task(client, street_1, case, in_state("completed"))
    assert row["rework_count"] == 1


async def test_refusals_change_nothing(disposal: Client, auth: Auth, upstream: Upstream) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    await task(client, street_1, case)
    accept, complete = f"/cases/{case.id}/accept", f"/cases/{case.id}/complete"

    assert (await client.post(accept, json={})).status_code == 401
    other_department = await client.post(accept, json={}, headers=department(auth, STREET_2))
    assert other_department.status_code == 403
    assert STREET_1 in other_department.json()["detail"]
    other_district = await client.post(
        accept, json={}, headers=department(auth, STREET_1, site="370202")
    )
    assert other_district.status_code == 403
    wrong_role = await client.post(accept, json={}, headers=auth(Role.DISPATCHER))
    assert wrong_role.status_code == 403
    nameless = await client.post(accept, json={}, headers=auth(Role.DEPARTMENT))
    assert nameless.status_code == 403
    unknown = await client.post(f"/cases/{new_id()}/accept", json={}, headers=street_1)
    assert unknown.status_code == 404
    extra = await client.post(accept, json={"department_id": STREET_2}, headers=street_1)
    assert extra.status_code == 422
    assert extra.json()["detail"][0]["loc"] == ["body", "department_id"]

    too_early = await client.post(complete, json=COMPLETION, headers=street_1)
    assert too_early.status_code == 409
    assert too_early.json()["status"] == "dispatched"
    without_photos: list[dict[str, Any]] = [
        {"description": "已处理"},
        {"description": "已处理", "evidence": []},
    ]
    for body in without_photos:
        bare = await client.post(complete, json=body, headers=street_1)
        assert bare.status_code == 422
        assert bare.json()["detail"][0]["loc"] == ["body", "evidence"]
    early_extension = await client.post(
        f"/cases/{case.id}/extension-request",
        json={"proposed_deadline": (DEADLINE + timedelta(days=1)).isoformat(), "reason": "需订购"},
        headers=street_1,
    )
    assert early_extension.status_code == 409

    detail = (await client.get(f"/cases/{case.id}", headers=street_1)).json()
    assert detail["status"] == "dispatched"
    assert [e["event_type"] for e in detail["timeline"]] == [
        "case.reported",
        "case.accepted",
        "case.registered",
        "case.dispatched",
    ]
    # The first accepted command is the first record on the topic: nothing refused got there.
    await case.decided(runtime, await client.post(accept, json={}, headers=street_1))
    assert [e.event_type for e in await our_events(runtime, 1)] == ["disposal.accepted"]


async def test_a_repeated_completion_with_the_same_key_is_one_event(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    await task(client, street_1, case)
    await case.decided(
        runtime, await client.post(f"/cases/{case.id}/accept", json={}, headers=street_1)
    )
    retrying = {**street_1, "Idempotency-Key": "phone-retry-7"}
    url = f"/cases/{case.id}/complete"

    first = await client.post(url, json=COMPLETION, headers=retrying)
    again = await client.post(url, json=COMPLETION, headers=retrying)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    reused = await client.post(url, json={**COMPLETION, "description": "另一次"}, headers=retrying)
    assert reused.status_code == 422
    assert reused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]

    detail = (await client.get(f"/cases/{case.id}", headers=street_1)).json()
    assert [e["event_type"] for e in detail["timeline"]].count("disposal.completed") == 1
    await case.decided(runtime, first)
    events = await our_events(runtime, 2)
    assert [e.event_type for e in events] == ["disposal.accepted", "disposal.completed"]


async def test_voiding_takes_the_task_off_the_list(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    await task(client, street_1, case)
    await case.decided(
        runtime, await client.post(f"/cases/{case.id}/accept", json={}, headers=street_1)
    )
    await case.publish(
        Stage.CASEFILE,
        CaseVoided,
        CHIEF,
        CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by="chief-1"),
    )
    await task(client, street_1, case, in_state("closed"), state="closed")
    assert await task(client, street_1, case, lambda found: found is None) is None
    late = await client.post(f"/cases/{case.id}/complete", json=COMPLETION, headers=street_1)
    assert late.status_code == 409


async def test_an_upper_department_sees_its_subordinates_tasks(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = disposal
    sanitation, street_1 = department(auth, SANITATION), department(auth, STREET_1)
    upper = auth(Role.UPPER_DEPARTMENT, id="head-urban", department_id=URBAN)
    city_upper = auth(Role.UPPER_DEPARTMENT, site="370200", department_id="370200-urban")
    below = await dispatched(upstream, SANITATION)
    unrelated = await dispatched(upstream, STREET_1)
    await task(client, sanitation, below)
    await task(client, street_1, unrelated)

    seen = (await client.get("/tasks", headers=upper)).json()["tasks"]
    assert [(r["case_id"], r["department_id"]) for r in seen] == [(str(below.id), SANITATION)]
    chosen = await client.get("/tasks", params={"department_id": SANITATION}, headers=upper)
    assert [r["case_id"] for r in chosen.json()["tasks"]] == [str(below.id)]
    outside = await client.get("/tasks", params={"department_id": STREET_1}, headers=upper)
    assert outside.status_code == 403
    # 青岛市城市管理局 is above 崂山区城市管理局, so it sees the sub-unit's task too.
    from_the_city = (await client.get("/tasks", headers=city_upper)).json()["tasks"]
    assert [r["case_id"] for r in from_the_city] == [str(below.id)]
    watching_only = await client.post(f"/cases/{below.id}/accept", json={}, headers=upper)
    assert watching_only.status_code == 403
