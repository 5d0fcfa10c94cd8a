"""The departments' work over real Kafka and PostgreSQL: task lists that follow dispatch,
acceptance and completion with evidence, requests for return, extension and suspension and
the dispatcher's answers, rework, voiding, the upper department's view, and refusals that
change nothing.

Disposal keeps only its own records (one ``disposal_cases`` row a case, one ``tasks`` row a
case and department) and serves the departments' lists; the tests read those, its journal
and its tracking table, never a case file of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select

from cityloop_deploy.site_fixtures import (
    UpstreamStage,
    eventually,
    read_to_the_end,
    topic_records,
)
from cityloop_disposal.state import DisposalCase, TaskState
from cityloop_disposal.store import disposal_cases, tasks
from cityloop_shared.contract import (
    Actor,
    CaseEvent,
    CaseKind,
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
    ExtensionRequestedPayload,
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
from cityloop_shared.messaging import headers as record_headers
from cityloop_shared.ports.tracker import OWN
from cityloop_shared.runtime.service import ServiceRuntime

Client = tuple[httpx.AsyncClient, ServiceRuntime]
Upstream = Callable[[Stage], UpstreamStage]
Auth = Callable[..., dict[str, str]]
Row = dict[str, Any]

SITE = "370212"
GRID = "370212003001001"
CATEGORY = Category(standard="GB/T 47678.5-2026", kind=CaseKind.EVENT, code="06001")
SUPERVISOR_ID = "sv-370212-03"
STREET_1 = "370212-street-001"
STREET_2 = "370212-street-002"
URBAN = "370212-urban"
SANITATION = "370212-sanitation"
"""A sub-unit of 崂山区城市管理局 (URBAN), itself under 青岛市城市管理局."""
DEADLINE = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
"""A week ahead of the test run, so a task is not overdue unless a test makes it so."""
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
    number: str = ""
    last: CaseEvent | None = None

    async def publish(
        self, stage: Stage, model: type[CaseEvent], actor: Actor, payload: Payload
    ) -> CaseEvent:
        self.last = await self.upstream(stage).emit(
            model, case_id=self.id, payload=payload, actor=actor, cause=self.last
        )
        return self.last

    async def decided(self, runtime: ServiceRuntime, answer: httpx.Response) -> CaseEvent:
        """The service's event behind an HTTP answer, as journaled when the command committed:
        the cause of what the other stages do next."""
        assert answer.status_code == 200, answer.text
        event_id = UUID(answer.json()["event_id"])
        found = [e for e in await journaled(runtime, self.id) if e.event_id == event_id]
        assert found, f"event {event_id} of the answer is not in the journal"
        self.last = found[0]
        return self.last


async def journaled(runtime: ServiceRuntime, case_id: UUID) -> list[CaseEvent]:
    """Disposal's own events of the case, in chain order (its journal, the outbox)."""
    async with runtime.database.begin() as uow:
        return await uow.recorder.case_events(case_id)


async def applied(runtime: ServiceRuntime, case_id: UUID) -> list[tuple[str, bool]]:
    """Every event disposal applied to the case, in order: (type, whether it emitted it)."""
    async with runtime.database.begin() as uow:
        history = await uow.tracker.history()
    return [(a.event_type, a.source == OWN) for a in history if a.case_id == case_id]


async def record_of(runtime: ServiceRuntime, case_id: UUID) -> DisposalCase | None:
    """The case's one record in ``disposal_cases``: the task with the department holding it."""
    async with runtime.database.begin() as uow:
        found = await uow.states(disposal_cases, DisposalCase).load([case_id])
    return found.get(case_id)


async def task_rows(runtime: ServiceRuntime, case_id: UUID) -> list[Row]:
    """The case's rows in the ``tasks`` table, one per department that held it."""
    async with runtime.database.reading() as reader:
        rows = await reader.rows(
            select(tasks).where(tasks.c.case_id == case_id).order_by(tasks.c.dispatched_at)
        )
    return [dict(row) for row in rows]


async def published(runtime: ServiceRuntime, at_least: int) -> list[CaseEvent]:
    """Disposal's events as the relay published them on its topic."""
    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, at_least)
    return [decode(record.value) for record in records]


async def dispatched(upstream: Upstream, department_id: str, deadline: datetime = DEADLINE) -> Case:
    """A supervisor's report accepted, registered and dispatched, as the other stages do it.

    Disposal follows only the dispatch; the earlier events travel on topics it reads (the
    case file's) or ignores (intake's), so they show it drops what it does not follow.
    """
    number = f"{SITE}E0600120261125{next(_sequence):05d}"
    case = Case(new_id(), upstream, number)
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
            case_number=number,
            category=CATEGORY,
            grid_code=GRID,
            level=CaseLevel.DISTRICT,
            time_limit=TimeLimit(amount=4, unit=TimeUnit.WORKING_HOURS),
        ),
    )
    await case.publish(
        Stage.DISPATCH,
        CaseDispatched,
        DISPATCHER,
        CaseDispatchedPayload(
            department_id=department_id,
            deadline=deadline,
            case_number=number,
            category=CATEGORY,
            grid_code=GRID,
        ),
    )
    return case


async def task(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    case: Case,
    ok: Callable[[Row | None], bool] = lambda found: found is not None,
    **params: str,
) -> Any:
    """The case's row in a task list, once ``ok`` holds of it (None: not on the list)."""

    async def row() -> Row | None:
        answer = await client.get("/tasks", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        rows: list[Row] = answer.json()["tasks"]
        return next((r for r in rows if r["case_id"] == str(case.id)), None)

    return await eventually(row, ok)


def in_state(state: str) -> Callable[[Row | None], bool]:
    return lambda found: found is not None and found["state"] == state


def absent(found: Row | None) -> bool:
    return found is None


def department(auth: Auth, department_id: str, site: str = SITE) -> dict[str, str]:
    return auth(
        Role.DEPARTMENT, site=site, id=f"staff-{department_id}", department_id=department_id
    )


async def accept(
    client: httpx.AsyncClient, runtime: ServiceRuntime, headers: dict[str, str], case: Case
) -> CaseEvent:
    """签收 once the task is on the department's list; the acceptance as journaled."""
    await task(client, headers, case)
    return await case.decided(
        runtime, await client.post(f"/cases/{case.id}/accept", json={}, headers=headers)
    )


async def completed_and_forwarded(
    client: httpx.AsyncClient,
    runtime: ServiceRuntime,
    headers: dict[str, str],
    case: Case,
    department_id: str,
) -> None:
    """The department (``headers``) accepts and completes the task; dispatch forwards its
    feedback and verification asks for the check, neither of which disposal follows."""
    await accept(client, runtime, headers, case)
    await case.decided(
        runtime, await client.post(f"/cases/{case.id}/complete", json=COMPLETION, headers=headers)
    )
    await case.publish(
        Stage.DISPATCH,
        FeedbackForwarded,
        DISPATCHER,
        FeedbackForwardedPayload(department_id=department_id),
    )
    await case.publish(
        Stage.VERIFICATION,
        CheckRequested,
        OPERATOR,
        CheckRequestedPayload(supervisor_id=SUPERVISOR_ID),
    )


async def test_a_dispatched_case_is_on_its_departments_list_only(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1, street_2 = department(auth, STREET_1), department(auth, STREET_2)
    case = await dispatched(upstream, STREET_1)

    row = await task(client, street_1, case)
    assert (row["department_id"], row["state"], row["rework_count"]) == (
        STREET_1,
        "awaiting_acceptance",
        0,
    )
    assert datetime.fromisoformat(row["deadline"]) == DEADLINE
    # The dispatch carries the case's facts, so the list shows them without following the
    # case file: number, category, grid, and where disposal sees the case.
    assert (row["case_number"], row["category_code"], row["grid_code"]) == (
        case.number,
        "06001",
        GRID,
    )
    assert (row["case_status"], row["overdue"], row["pending_request"]) == (
        "dispatched",
        False,
        None,
    )
    assert (row["accepted_at"], row["completed_at"]) == (None, None)

    # One record of the case; only the dispatch was applied, nothing emitted yet.
    record = await record_of(runtime, case.id)
    assert record is not None
    assert (record.department_id, record.task_state, record.status) == (
        STREET_1,
        TaskState.AWAITING_ACCEPTANCE,
        "dispatched",
    )
    assert await applied(runtime, case.id) == [("case.dispatched", False)]
    assert await journaled(runtime, case.id) == []

    others = await client.get("/tasks", headers=street_2)
    assert others.status_code == 200
    assert str(case.id) not in [r["case_id"] for r in others.json()["tasks"]]
    peeking = await client.get("/tasks", params={"department_id": STREET_1}, headers=street_2)
    assert peeking.status_code == 403
    not_a_department = await client.get("/tasks", headers=auth(Role.DISPATCHER))
    assert not_a_department.status_code == 403
    nameless = await client.get("/tasks", headers=auth(Role.DEPARTMENT))
    assert nameless.status_code == 401  # the token names no department of the site
    assert "must name its department" in nameless.json()["detail"]
    bad_state = await client.get("/tasks", params={"state": "lost"}, headers=street_1)
    assert bad_state.status_code == 422
    assert bad_state.json()["detail"][0]["loc"] == ["query", "state"]
    # Another district's department is not taken at all: a district does not trust another
    # district's issuer.
    elsewhere = await client.get(
        "/tasks", headers=department(auth, "370202-street-001", site="370202")
    )
    assert elsewhere.status_code == 401


async def test_a_task_past_its_deadline_is_overdue_until_it_is_done(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    past = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    late = await dispatched(upstream, STREET_1, deadline=past)
    timely = await dispatched(upstream, STREET_1)

    assert (await task(client, street_1, late))["overdue"] is True
    assert (await task(client, street_1, timely))["overdue"] is False
    # The nearest deadline first, and paged.
    listed = (await client.get("/tasks", headers=street_1)).json()
    assert listed["total"] == 2
    assert [r["case_id"] for r in listed["tasks"]] == [str(late.id), str(timely.id)]
    second = await client.get("/tasks", params={"limit": 1, "offset": 1}, headers=street_1)
    assert (second.json()["total"], [r["case_id"] for r in second.json()["tasks"]]) == (
        2,
        [str(timely.id)],
    )

    await accept(client, runtime, street_1, late)
    assert (await task(client, street_1, late, in_state("in_hand")))["overdue"] is True
    await late.decided(
        runtime, await client.post(f"/cases/{late.id}/complete", json=COMPLETION, headers=street_1)
    )
    # Done late is done: the task no longer counts as overdue on the list of completed ones.
    done = await task(client, street_1, late, in_state("completed"), state="completed")
    assert done["overdue"] is False


async def test_an_offset_past_what_the_database_takes_is_refused_naming_it(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = disposal
    street_1 = department(auth, STREET_1)
    await task(client, street_1, await dispatched(upstream, STREET_1))

    beyond = await client.get(
        "/tasks", params={"limit": 78, "offset": 32589158477190044729}, headers=street_1
    )
    assert beyond.status_code == 422
    assert [error["loc"] for error in beyond.json()["detail"]] == [["query", "offset"]]
    # The largest offset PostgreSQL takes still answers, with a page past the last task.
    last = await client.get("/tasks", params={"offset": 2**63 - 1}, headers=street_1)
    assert (last.status_code, last.json()) == (200, {"total": 1, "tasks": []})


async def test_accepting_then_completing_reports_back_with_evidence(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    dispatch = case.last
    assert dispatch is not None
    await task(client, street_1, case)

    answer = await client.post(f"/cases/{case.id}/accept", json={}, headers=street_1)
    assert (answer.json()["event_type"], answer.json()["task_state"]) == (
        "disposal.accepted",
        "in_hand",
    )
    acceptance = await case.decided(runtime, answer)
    row = await task(client, street_1, case)
    assert (row["state"], row["case_status"]) == ("in_hand", "in_disposal")
    assert datetime.fromisoformat(row["accepted_at"]) == acceptance.occurred_at

    answer = await client.post(f"/cases/{case.id}/complete", json=COMPLETION, headers=street_1)
    assert answer.json()["task_state"] == "completed"
    completion = await case.decided(runtime, answer)

    events = await published(runtime, 2)
    assert [e.event_id for e in events] == [acceptance.event_id, completion.event_id]
    assert verify_chain(events) == []
    assert isinstance(acceptance, DisposalAccepted)
    assert isinstance(completion, DisposalCompleted)
    assert acceptance.payload.department_id == STREET_1
    assert acceptance.actor.id == f"staff-{STREET_1}"
    assert acceptance.causation_id == dispatch.event_id
    assert acceptance.correlation_id == dispatch.correlation_id
    assert completion.causation_id == acceptance.event_id
    assert completion.payload.department_id == STREET_1
    assert completion.payload.description == COMPLETION["description"]
    assert [
        (str(photo.uri), photo.media_type, photo.sha256) for photo in completion.payload.evidence
    ] == [(PHOTO["uri"], PHOTO["media_type"], PHOTO["sha256"])]

    # The department's part is done: off its to-do list, on its list of completed tasks.
    assert await task(client, street_1, case, absent) is None
    row = await task(client, street_1, case, in_state("completed"), state="completed")
    assert datetime.fromisoformat(row["completed_at"]) == completion.occurred_at
    assert (row["case_status"], row["overdue"]) == ("disposed", False)
    record = await record_of(runtime, case.id)
    assert record is not None
    assert (record.task_state, record.status, record.last_event_id) == (
        TaskState.COMPLETED,
        "disposed",
        completion.event_id,
    )
    assert record.chain == completion.link()
    assert await applied(runtime, case.id) == [
        ("case.dispatched", False),
        ("disposal.accepted", True),
        ("disposal.completed", True),
    ]


async def test_a_completed_task_stays_completed_when_the_case_closes(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    """Disposal no longer follows ``case.closed`` (a deliberate change from the old list,
    which kept a completed task until the case closed and then showed it ``closed``): the
    department's part ended with its report, and ``closed`` now means voided while with it."""
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    await completed_and_forwarded(client, runtime, street_1, case, STREET_1)
    await case.publish(Stage.VERIFICATION, CheckPassed, SUPERVISOR, CheckResultPayload())
    await case.publish(Stage.VERIFICATION, CaseClosed, CHIEF, CaseClosedPayload())
    # Disposal reads past the feedback, dropped by its type header, and sets nothing aside;
    # the check and the closing travel on verification's topic, which it does not read.
    await read_to_the_end(runtime)
    letters = await topic_records(
        runtime.settings.kafka.bootstrap_servers, runtime.dead_letter_topic, 0
    )
    assert letters == []

    assert await applied(runtime, case.id) == [
        ("case.dispatched", False),
        ("disposal.accepted", True),
        ("disposal.completed", True),
    ]
    row = await task(client, street_1, case, in_state("completed"), state="completed")
    assert row["case_status"] == "disposed"
    closed = await client.get("/tasks", params={"state": "closed"}, headers=street_1)
    assert closed.json() == {"total": 0, "tasks": []}
    assert await task(client, street_1, case, absent) is None


async def test_a_refused_return_leaves_the_task_where_it_was(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    await accept(client, runtime, street_1, case)

    asked = await client.post(
        f"/cases/{case.id}/return-request", json={"reason": "不属于本单位职责"}, headers=street_1
    )
    assert asked.json()["task_state"] == "in_hand"
    request = await case.decided(runtime, asked)
    assert request.event_type == "return.requested"
    assert request.payload == ReasonPayload(reason="不属于本单位职责")
    row = await task(client, street_1, case)
    assert (row["state"], row["pending_request"], row["case_status"]) == (
        "in_hand",
        "return",
        "return_requested",
    )
    # While the dispatcher decides, the task waits: no completion.
    waiting = await client.post(f"/cases/{case.id}/complete", json=COMPLETION, headers=street_1)
    assert waiting.status_code == 409
    assert (waiting.json()["status"], waiting.json()["event_type"]) == (
        "return_requested",
        "disposal.completed",
    )

    await case.publish(Stage.DISPATCH, ReturnRefused, DISPATCHER, ReasonPayload(reason="属本单位"))
    row = await task(client, street_1, case, lambda f: f is not None and not f["pending_request"])
    # Back where the request was made from: in hand, not awaiting acceptance again.
    assert (row["state"], row["case_status"]) == ("in_hand", "in_disposal")
    done = await client.post(f"/cases/{case.id}/complete", json=COMPLETION, headers=street_1)
    assert done.status_code == 200, done.text


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
    assert asked.json()["task_state"] == "awaiting_acceptance"
    request = await case.decided(runtime, asked)
    assert request.event_type == "return.requested"
    assert request.payload == ReasonPayload(reason="不属于本单位职责")
    row = await task(client, street_1, case)
    assert (row["state"], row["pending_request"]) == ("awaiting_acceptance", "return")

    await case.publish(
        Stage.DISPATCH, ReturnApproved, DISPATCHER, TimedReasonPayload(reason="核实属实")
    )
    returned = await task(client, street_1, case, in_state("returned"), state="returned")
    assert (returned["pending_request"], returned["case_status"]) == (None, "awaiting_redispatch")
    assert await task(client, street_1, case, absent) is None
    # Nothing is done on a returned task.
    for path, body in (
        ("accept", {}),
        ("complete", COMPLETION),
        ("suspension-request", {"reason": "再议"}),
    ):
        refused = await client.post(f"/cases/{case.id}/{path}", json=body, headers=street_1)
        assert refused.status_code == 409, path
        assert refused.json()["detail"] == f"case {case.id} is not with a department"

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
    assert (row["state"], row["rework_count"], row["case_status"]) == (
        "awaiting_acceptance",
        0,
        "dispatched",
    )
    assert datetime.fromisoformat(row["deadline"]) == DEADLINE + timedelta(hours=2)
    # The case's facts came with the first dispatch and stay with the task.
    assert (row["case_number"], row["category_code"], row["grid_code"]) == (
        case.number,
        "06001",
        GRID,
    )
    # One record of the case, with the department holding it now; the first department's
    # row stays on its list of returned tasks.
    record = await record_of(runtime, case.id)
    assert record is not None
    assert (record.department_id, record.task_state) == (STREET_2, TaskState.AWAITING_ACCEPTANCE)
    assert [(r["department_id"], r["state"]) for r in await task_rows(runtime, case.id)] == [
        (STREET_1, "returned"),
        (STREET_2, "awaiting_acceptance"),
    ]
    assert (await task(client, street_1, case, state="returned"))["state"] == "returned"

    former = await client.post(f"/cases/{case.id}/accept", json={}, headers=street_1)
    assert former.status_code == 403
    assert STREET_2 in former.json()["detail"]
    taken = await client.post(f"/cases/{case.id}/accept", json={}, headers=street_2)
    accepted = await case.decided(runtime, taken)
    assert accepted.payload == DisposalAcceptedPayload(department_id=STREET_2)
    assert (await task(client, street_2, case, in_state("in_hand")))["rework_count"] == 0


async def test_an_extension_must_propose_a_later_deadline(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    await task(client, street_1, case)
    url = f"/cases/{case.id}/extension-request"
    later = DEADLINE + timedelta(days=2)

    # Before acceptance the lifecycle refuses the request, whatever it proposes.
    early = await client.post(
        url, json={"proposed_deadline": later.isoformat(), "reason": "需订购"}, headers=street_1
    )
    assert early.status_code == 409
    assert (early.json()["status"], early.json()["event_type"]) == (
        "dispatched",
        "extension.requested",
    )

    await accept(client, runtime, street_1, case)
    naive = (DEADLINE + timedelta(days=1)).replace(tzinfo=None)
    for proposed in (DEADLINE, DEADLINE - timedelta(hours=1), naive):
        refused = await client.post(
            url,
            json={"proposed_deadline": proposed.isoformat(), "reason": "需订购"},
            headers=street_1,
        )
        assert refused.status_code == 422, proposed
        assert refused.json()["detail"][0]["loc"] == ["body", "proposed_deadline"]

    asked = await client.post(
        url, json={"proposed_deadline": later.isoformat(), "reason": "需订购井盖"}, headers=street_1
    )
    assert asked.json()["task_state"] == "in_hand"
    request = await case.decided(runtime, asked)
    assert request.event_type == "extension.requested"
    assert request.payload == ExtensionRequestedPayload(
        proposed_deadline=later, reason="需订购井盖"
    )
    row = await task(client, street_1, case)
    assert (row["pending_request"], row["case_status"]) == ("extension", "extension_requested")

    # A refusal answers the request and keeps the deadline in force.
    await case.publish(
        Stage.DISPATCH,
        ExtensionDecided,
        DISPATCHER,
        ExtensionDecidedPayload(approved=False, deadline=DEADLINE, reason="时限充足"),
    )
    row = await task(client, street_1, case, lambda f: f is not None and not f["pending_request"])
    assert (row["state"], row["case_status"]) == ("in_hand", "in_disposal")
    assert datetime.fromisoformat(row["deadline"]) == DEADLINE

    await case.decided(
        runtime,
        await client.post(
            url,
            json={"proposed_deadline": later.isoformat(), "reason": "确需订购"},
            headers=street_1,
        ),
    )
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
    # The next request must go beyond the deadline now in force.
    stale = await client.post(
        url, json={"proposed_deadline": later.isoformat(), "reason": "再延"}, headers=street_1
    )
    assert stale.status_code == 422
    assert stale.json()["detail"][0]["loc"] == ["body", "proposed_deadline"]
    assert later.isoformat() in stale.json()["detail"][0]["msg"]

    events = await published(runtime, 3)
    assert [e.event_type for e in events] == [
        "disposal.accepted",
        "extension.requested",
        "extension.requested",
    ]
    assert verify_chain(events) == []


async def test_a_suspended_task_stops_until_resumed(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    await accept(client, runtime, street_1, case)
    url = f"/cases/{case.id}/suspension-request"

    asked = await client.post(url, json={"reason": "需列入年度工程"}, headers=street_1)
    request = await case.decided(runtime, asked)
    assert request.event_type == "suspension.requested"
    assert request.payload == ReasonPayload(reason="需列入年度工程")
    row = await task(client, street_1, case)
    assert (row["pending_request"], row["case_status"]) == ("suspension", "suspension_requested")

    # A refusal: the department goes on with the task.
    await case.publish(
        Stage.DISPATCH, SuspensionRefused, DISPATCHER, ReasonPayload(reason="可先行处置")
    )
    row = await task(client, street_1, case, lambda f: f is not None and not f["pending_request"])
    assert (row["state"], row["case_status"]) == ("in_hand", "in_disposal")

    await case.decided(
        runtime, await client.post(url, json={"reason": "确需列入年度工程"}, headers=street_1)
    )
    await case.publish(
        Stage.DISPATCH, SuspensionApproved, DISPATCHER, ReasonPayload(reason="同意挂账")
    )
    # Suspended is still to be done: on the to-do list, its clock stopped, never overdue.
    row = await task(client, street_1, case, in_state("suspended"))
    assert (row["pending_request"], row["overdue"], row["case_status"]) == (
        None,
        False,
        "suspended",
    )
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
    await completed_and_forwarded(client, runtime, street_1, case, STREET_1)
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
    assert (row["department_id"], row["state"], row["rework_count"], row["case_status"]) == (
        STREET_1,
        "awaiting_acceptance",
        1,
        "dispatched",
    )
    assert (row["accepted_at"], row["completed_at"]) == (None, None)
    assert datetime.fromisoformat(row["deadline"]) == rework_deadline
    # The same department's task reopened, not a second one.
    assert [(r["department_id"], r["rework_count"]) for r in await task_rows(runtime, case.id)] == [
        (STREET_1, 1)
    ]
    # The rework reached disposal although it never saw the feedback or the check.
    assert await applied(runtime, case.id) == [
        ("case.dispatched", False),
        ("disposal.accepted", True),
        ("disposal.completed", True),
        ("case.reopened_for_rework", False),
    ]

    await accept(client, runtime, street_1, case)
    await case.decided(
        runtime, await client.post(f"/cases/{case.id}/complete", json=COMPLETION, headers=street_1)
    )
    events = await published(runtime, 4)
    assert [e.event_type for e in events] == [
        "disposal.accepted",
        "disposal.completed",
        "disposal.accepted",
        "disposal.completed",
    ]
    assert verify_chain(events) == []
    row = await task(client, street_1, case, in_state("completed"), state="completed")
    assert row["rework_count"] == 1


async def test_refusals_change_nothing(disposal: Client, auth: Auth, upstream: Upstream) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    await task(client, street_1, case)
    accept_url, complete_url = f"/cases/{case.id}/accept", f"/cases/{case.id}/complete"

    assert (await client.post(accept_url, json={})).status_code == 401
    other_department = await client.post(accept_url, json={}, headers=department(auth, STREET_2))
    assert other_department.status_code == 403
    assert STREET_1 in other_department.json()["detail"]
    other_district = await client.post(
        accept_url, json={}, headers=department(auth, STREET_1, site="370202")
    )
    assert other_district.status_code == 401  # another district's issuer is not trusted
    wrong_role = await client.post(accept_url, json={}, headers=auth(Role.DISPATCHER))
    assert wrong_role.status_code == 403
    nameless = await client.post(accept_url, json={}, headers=auth(Role.DEPARTMENT))
    assert nameless.status_code == 401
    assert nameless.json()["detail"] == "a department token must name its department"
    stranger = new_id()
    unknown = await client.post(f"/cases/{stranger}/accept", json={}, headers=street_1)
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == f"disposal holds no case {stranger}"
    extra = await client.post(accept_url, json={"department_id": STREET_2}, headers=street_1)
    assert extra.status_code == 422
    assert extra.json()["detail"][0]["loc"] == ["body", "department_id"]

    too_early = await client.post(complete_url, json=COMPLETION, headers=street_1)
    assert too_early.status_code == 409
    assert (too_early.json()["status"], too_early.json()["event_type"]) == (
        "dispatched",
        "disposal.completed",
    )
    without_photos: list[dict[str, Any]] = [
        {"description": "已处理"},
        {"description": "已处理", "evidence": []},
    ]
    for body in without_photos:
        bare = await client.post(complete_url, json=body, headers=street_1)
        assert bare.status_code == 422
        assert bare.json()["detail"][0]["loc"] == ["body", "evidence"]
    early_extension = await client.post(
        f"/cases/{case.id}/extension-request",
        json={"proposed_deadline": (DEADLINE + timedelta(days=1)).isoformat(), "reason": "需订购"},
        headers=street_1,
    )
    assert early_extension.status_code == 409

    # Nothing of it was journaled, applied or listed.
    assert await journaled(runtime, case.id) == []
    assert await applied(runtime, case.id) == [("case.dispatched", False)]
    record = await record_of(runtime, case.id)
    assert record is not None
    assert (record.task_state, record.status, record.chain) == (
        TaskState.AWAITING_ACCEPTANCE,
        "dispatched",
        None,
    )
    assert await record_of(runtime, stranger) is None
    # The first accepted command is the first record on the topic: nothing refused got there.
    await case.decided(runtime, await client.post(accept_url, json={}, headers=street_1))
    assert [e.event_type for e in await published(runtime, 1)] == ["disposal.accepted"]


async def test_a_repeated_completion_with_the_same_key_is_one_event(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    await accept(client, runtime, street_1, case)
    retrying = {**street_1, "Idempotency-Key": "phone-retry-7"}
    url = f"/cases/{case.id}/complete"

    first = await client.post(url, json=COMPLETION, headers=retrying)
    again = await client.post(url, json=COMPLETION, headers=retrying)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    reused = await client.post(url, json={**COMPLETION, "description": "另一次"}, headers=retrying)
    assert reused.status_code == 422
    assert reused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]

    assert [e.event_type for e in await journaled(runtime, case.id)] == [
        "disposal.accepted",
        "disposal.completed",
    ]
    await case.decided(runtime, first)
    events = await published(runtime, 2)
    assert [e.event_type for e in events] == ["disposal.accepted", "disposal.completed"]


async def test_voiding_takes_the_task_off_the_list(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = await dispatched(upstream, STREET_1)
    await accept(client, runtime, street_1, case)
    await case.decided(
        runtime,
        await client.post(
            f"/cases/{case.id}/suspension-request",
            json={"reason": "需列入年度工程"},
            headers=street_1,
        ),
    )
    await case.publish(
        Stage.CASEFILE,
        CaseVoided,
        CHIEF,
        CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by="chief-1"),
    )
    row = await task(client, street_1, case, in_state("closed"), state="closed")
    # The voiding answers the pending request too: nobody will decide it now.
    assert (row["pending_request"], row["case_status"], row["overdue"]) == (None, "voided", False)
    assert await task(client, street_1, case, absent) is None
    late = await client.post(f"/cases/{case.id}/complete", json=COMPLETION, headers=street_1)
    assert late.status_code == 409
    assert late.json()["detail"] == f"case {case.id} is not with a department"
    record = await record_of(runtime, case.id)
    assert record is not None
    assert (record.task_state, record.pending_request) == (TaskState.CLOSED, None)


async def test_a_dispatch_that_arrives_after_the_voiding_never_reaches_the_list(
    disposal: Client, auth: Auth, upstream: Upstream
) -> None:
    """The case file's topic and dispatch's are read independently: a voiding may arrive
    first. Disposal keeps the voided case, so the dispatch that follows is a dead letter, not
    a task for a case that no longer exists."""
    client, runtime = disposal
    street_1 = department(auth, STREET_1)
    case = Case(new_id(), upstream, f"{SITE}E0600120261125{next(_sequence):05d}")
    registered = await case.publish(
        Stage.CASEFILE,
        CaseRegistered,
        CHIEF,
        CaseRegisteredPayload(
            case_number=case.number,
            category=CATEGORY,
            grid_code=GRID,
            level=CaseLevel.DISTRICT,
            time_limit=TimeLimit(amount=4, unit=TimeUnit.WORKING_HOURS),
        ),
    )
    await case.publish(
        Stage.CASEFILE,
        CaseVoided,
        CHIEF,
        CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by="chief-1"),
    )

    async def voided() -> DisposalCase | None:
        return await record_of(runtime, case.id)

    record = await eventually(voided, lambda found: found is not None)
    assert record is not None
    assert (record.status, record.department_id, record.task_state) == (
        "voided",
        None,
        TaskState.CLOSED,
    )
    dispatch = await upstream(Stage.DISPATCH).emit(
        CaseDispatched,
        case_id=case.id,
        payload=CaseDispatchedPayload(department_id=STREET_1, deadline=DEADLINE),
        actor=DISPATCHER,
        cause=registered,
    )
    letters = await topic_records(
        runtime.settings.kafka.bootstrap_servers, runtime.dead_letter_topic, 1
    )
    assert [decode(letter.value).event_id for letter in letters] == [dispatch.event_id]
    assert (
        "illegal transition" in dict(letters[0].headers)[record_headers.DEAD_LETTER_REASON].decode()
    )
    assert await task_rows(runtime, case.id) == []
    for state in (None, "closed"):
        params = {"state": state} if state else {}
        listed = await client.get("/tasks", params=params, headers=street_1)
        assert listed.json()["tasks"] == []
    refused = await client.post(f"/cases/{case.id}/accept", json={}, headers=street_1)
    assert refused.status_code == 409


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
