"""Checking and closing (核查结案) over real Kafka and PostgreSQL: forwarded feedback becomes a
check task for the grid's supervisor, pass and close, failure and a second round after rework,
the call-back (回访), the check clock, voiding, the city's entrusted checks, the check list,
and refusals that change nothing."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from uuid import UUID

import httpx
import pytest

from cityloop_deploy.site_fixtures import UpstreamStage, eventually, topic_records
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.codec import decode
from cityloop_shared.contract.envelope import CaseEvent, verify_chain
from cityloop_shared.contract.events.casefile import CaseVoided, CaseVoidedPayload
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseDispatchedPayload,
    CaseReopenedForRework,
    CaseReopenedForReworkPayload,
    FeedbackForwarded,
    FeedbackForwardedPayload,
)
from cityloop_shared.contract.ids import CaseKind, case_number, derived_id, new_id
from cityloop_shared.contract.lifecycle import CaseStatus
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.values import Category, ClockStep, ReportChannel
from cityloop_shared.ports.clocks import Clock
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.runtime.timers import scan_clocks
from cityloop_verification.state import CheckCase, CheckResult
from cityloop_verification.store import check_tasks

Client = tuple[httpx.AsyncClient, ServiceRuntime]
Upstream = Callable[[Stage], UpstreamStage]
Auth = Callable[..., dict[str, str]]
GRID = "370212003001001"
"""A grid of 崂山区 whose responsible supervisor is sv-370212-03."""
SUPERVISOR = "sv-370212-03"
OTHER_GRID = "370212001001001"
OTHER_SUPERVISOR = "sv-370212-01"
DEPARTMENT = "370212-sanitation"
CATEGORY = Category(standard="GB/T 47678.5-2026", kind=CaseKind.EVENT, code="06010")
PHOTO = {"uri": "https://media.cityloop.example/check/1.jpg", "media_type": "image/jpeg"}
BEIJING = timezone(timedelta(hours=8))
WEDNESDAY = date(2026, 11, 25)
"""An ordinary working day of the demo city (08:30–12:00, 13:30–17:30)."""
ONE_WORKING_HOUR = timedelta(hours=1)
"""The demo city's check limit (核查时限) for every category."""
SEQUENCES = itertools.count(1)


def dispatcher(site: str = "370212") -> Actor:
    return Actor(id="dispatcher-1", role=Role.DISPATCHER, site=site)


def facts(
    site: str = "370212",
    channel: ReportChannel = ReportChannel.PUBLIC,
    grid: str = GRID,
) -> FeedbackForwardedPayload:
    """The feedback as dispatch forwards it: with what the check needs to know of the case."""
    return FeedbackForwardedPayload(
        case_number=case_number(site, CaseKind.EVENT, "06010", date.today(), next(SEQUENCES)),
        category=CATEGORY,
        grid_code=grid,
        channel=channel,
        department_id=DEPARTMENT,
        remarks="处置完毕",
    )


async def forward(
    upstream: Upstream,
    case_id: UUID | None = None,
    *,
    site: str = "370212",
    cause: CaseEvent | None = None,
    **kwargs: Any,
) -> FeedbackForwarded:
    """The command centre forwards the department's report (处理反馈) now."""
    return await upstream(Stage.DISPATCH).emit(
        FeedbackForwarded,
        case_id=case_id or new_id(),
        actor=dispatcher(site),
        payload=facts(site, **kwargs),
        cause=cause,
    )


async def forward_at(
    upstream: Upstream, at: datetime, grid: str = GRID, site: str = "370212"
) -> FeedbackForwarded:
    """Feedback forwarded at ``at``, the first event of its case on dispatch's topic: a check's
    due time depends on the moment, and ``forward`` stamps the wall clock's."""
    feedback = FeedbackForwarded.create(
        case_id=new_id(),
        site=site,
        actor=dispatcher(site),
        payload=facts(site, grid=grid),
        previous=None,
        occurred_at=at,
    )
    await upstream(Stage.DISPATCH).publish(feedback)
    return feedback


async def record(runtime: ServiceRuntime, case_id: UUID) -> CheckCase | None:
    """Verification's own record of the case (its check task), if it holds the case."""
    async with runtime.database.begin() as uow:
        found = await uow.states(check_tasks, CheckCase).load([case_id])
    return found.get(case_id)


async def reaches(
    runtime: ServiceRuntime, case_id: UUID, status: CaseStatus, rounds: int | None = None
) -> CheckCase:
    """The record once verification sees the case in ``status`` (in round ``rounds``)."""

    def there(found: CheckCase | None) -> bool:
        return (
            found is not None
            and found.status is status
            and (rounds is None or found.rounds == rounds)
        )

    found = await eventually(lambda: record(runtime, case_id), there)
    assert found is not None
    return found


async def journal(runtime: ServiceRuntime, case_id: UUID) -> list[CaseEvent]:
    """The case's events verification decided, in chain order."""
    async with runtime.database.begin() as uow:
        return await uow.recorder.case_events(case_id)


async def applied(runtime: ServiceRuntime, case_id: UUID) -> list[str]:
    """The types of every event verification applied to the case, received or its own."""
    async with runtime.database.begin() as uow:
        return [
            entry.event_type for entry in await uow.tracker.history() if entry.case_id == case_id
        ]


async def check_clock(runtime: ServiceRuntime, case_id: UUID) -> Clock | None:
    async with runtime.database.begin() as uow:
        return await uow.clocks.clock(case_id, ClockStep.CHECK)


async def published(runtime: ServiceRuntime, at_least: int) -> list[CaseEvent]:
    """The events on verification's own topic, in topic order."""
    bootstrap = runtime.settings.kafka.bootstrap_servers
    return [decode(r.value) for r in await topic_records(bootstrap, runtime.topic, at_least)]


async def checks(
    client: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> dict[str, Any]:
    answer = await client.get("/checks", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    listed: dict[str, Any] = answer.json()
    return listed


def types_of(events: list[CaseEvent]) -> list[str]:
    return [event.event_type for event in events]


async def test_forwarded_feedback_is_checked_on_site_then_closed(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = verification
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    feedback = await forward(upstream)
    case_id = feedback.case_id
    task = await reaches(runtime, case_id, CaseStatus.CHECKING)

    [requested] = await journal(runtime, case_id)
    assert requested.event_type == "check.requested"
    # A reaction takes the time of what it answers and an id derived from it, so a replay of
    # the same feedback derives the same task.
    assert requested.occurred_at == feedback.occurred_at
    assert requested.event_id == derived_id(
        feedback.occurred_at, "verification", feedback.event_id, 0
    )
    assert requested.causation_id == feedback.event_id
    assert requested.correlation_id == feedback.correlation_id
    assert (requested.actor.id, requested.actor.site) == ("system:verification", "370212")
    payload = requested.payload.model_dump()
    due_at = runtime.reference.calendar.add_working_time(feedback.occurred_at, ONE_WORKING_HOUR)
    # The grid's supervisor is of the site: nobody else is entrusted with the check. The task
    # carries its due time as the check step's deadline too, provisional only where the working
    # calendar does not know the official days of the year (the tests run on today's date).
    calendar = runtime.reference.calendar
    first, last = (
        moment.astimezone(calendar.zone).year for moment in (feedback.occurred_at, due_at)
    )
    provisional = not all(calendar.covers(year) for year in range(first, last + 1))
    assert payload == {
        "supervisor_id": SUPERVISOR,
        "due_at": due_at,
        "entrusted_to_site": None,
        "deadlines": ({"step": ClockStep.CHECK, "due_at": due_at, "provisional": provisional},),
    }

    # The record keeps what the feedback told of the case.
    assert (task.case_number, task.category_code, task.grid_code, task.channel) == (
        feedback.payload.case_number,
        "06010",
        GRID,
        ReportChannel.PUBLIC,
    )
    assert (task.department_id, task.supervisor_id, task.rounds, task.result) == (
        DEPARTMENT,
        SUPERVISOR,
        1,
        None,
    )
    assert (task.requested_at, task.due_at) == (feedback.occurred_at, due_at)
    clock = await check_clock(runtime, case_id)
    assert clock is not None
    assert (clock.started_at, clock.deadline, clock.stopped_at) == (
        feedback.occurred_at,
        due_at,
        None,
    )

    pending = await checks(client, supervisor, pending="true")
    assert [(t["case_id"], t["rounds"], t["result"]) for t in pending["checks"]] == [
        (str(case_id), 1, None)
    ]
    [listed] = pending["checks"]
    assert listed["case_number"] == feedback.payload.case_number
    assert listed["status"] == "checking"
    assert datetime.fromisoformat(listed["due_at"]) == due_at

    passed = await client.post(
        f"/cases/{case_id}/check",
        json={"passed": True, "remarks": "已清理干净", "attachments": [PHOTO]},
        headers=supervisor,
    )
    assert passed.status_code == 200, passed.text
    assert passed.json()["event_type"] == "check.passed"
    assert passed.json()["round"] == 1
    assert (await reaches(runtime, case_id, CaseStatus.CHECK_PASSED)).result is CheckResult.PASSED
    assert (await checks(client, supervisor, pending="true"))["total"] == 0

    closed = await client.post(
        f"/cases/{case_id}/close", json={"remarks": "结案"}, headers=auth(Role.DUTY_CHIEF)
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["event_type"] == "case.closed"
    done = await reaches(runtime, case_id, CaseStatus.CLOSED)
    assert done.result is CheckResult.PASSED

    events = await journal(runtime, case_id)
    assert types_of(events) == ["check.requested", "check.passed", "case.closed"]
    check_passed = events[1]
    assert check_passed.actor.id == SUPERVISOR
    assert check_passed.payload.model_dump(mode="json")["attachments"][0]["uri"] == PHOTO["uri"]
    assert check_passed.payload.model_dump()["remarks"] == "已清理干净"
    assert events[2].actor.id == "duty_chief-1"
    clock = await check_clock(runtime, case_id)
    assert clock is not None
    assert clock.stopped_at == check_passed.occurred_at

    on_topic = await published(runtime, 3)
    assert types_of(on_topic) == ["check.requested", "check.passed", "case.closed"]
    assert verify_chain(on_topic) == []
    assert await applied(runtime, case_id) == [
        "feedback.forwarded",
        "check.requested",
        "check.passed",
        "case.closed",
    ]


async def test_verification_holds_a_case_only_from_its_feedback(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    """Dispatch's other events are not followed: before the feedback verification holds no
    case, and after it the case's history here starts with the feedback."""
    client, runtime = verification
    case_id = new_id()
    dispatched = await upstream(Stage.DISPATCH).emit(
        CaseDispatched,
        case_id=case_id,
        actor=dispatcher(),
        payload=CaseDispatchedPayload(
            department_id=DEPARTMENT, deadline=datetime.now(UTC) + timedelta(hours=4)
        ),
    )
    for path, body, role, actor_id in (
        ("check", {"passed": True}, Role.FIELD_SUPERVISOR, SUPERVISOR),
        ("close", {}, Role.DUTY_CHIEF, None),
        ("satisfaction", {"score": 5}, Role.ACCEPTANCE_OPERATOR, None),
    ):
        answer = await client.post(
            f"/cases/{case_id}/{path}", json=body, headers=auth(role, id=actor_id)
        )
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["detail"] == f"verification holds no case {case_id}"

    # Same topic, same partition: the feedback is read after the dispatch before it.
    await forward(upstream, case_id, cause=dispatched)
    await reaches(runtime, case_id, CaseStatus.CHECKING)
    assert await applied(runtime, case_id) == ["feedback.forwarded", "check.requested"]


async def test_feedback_without_a_grid_waits_with_no_check_task(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    """Feedback written before it carried the case's facts names no grid, so no supervisor:
    the case waits at feedback_forwarded rather than being sent to nobody."""
    client, runtime = verification
    old = await upstream(Stage.DISPATCH).emit(
        FeedbackForwarded,
        case_id=new_id(),
        actor=dispatcher(),
        payload=FeedbackForwardedPayload(remarks="处置完毕"),
    )
    waiting = await reaches(runtime, old.case_id, CaseStatus.FEEDBACK_FORWARDED)
    assert (waiting.grid_code, waiting.supervisor_id, waiting.rounds) == (None, None, 0)
    assert await journal(runtime, old.case_id) == []
    assert await check_clock(runtime, old.case_id) is None
    assert (await checks(client, auth(Role.DUTY_CHIEF)))["checks"] == []

    unsent = await client.post(
        f"/cases/{old.case_id}/check",
        json={"passed": True},
        headers=auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR),
    )
    assert unsent.status_code == 409
    assert unsent.json()["detail"] == "no check was requested for this case"
    early = await client.post(f"/cases/{old.case_id}/close", json={}, headers=auth(Role.DUTY_CHIEF))
    assert early.status_code == 409
    assert (early.json()["status"], early.json()["event_type"]) == (
        "feedback_forwarded",
        "case.closed",
    )
    assert await journal(runtime, old.case_id) == []


async def test_a_failed_check_is_checked_again_after_rework(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = verification
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    first = await forward(upstream)
    case_id = first.case_id
    await reaches(runtime, case_id, CaseStatus.CHECKING)

    no_reason = await client.post(
        f"/cases/{case_id}/check", json={"passed": False}, headers=supervisor
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["detail"][0]["loc"] == ["body", "reason"]
    failed = await client.post(
        f"/cases/{case_id}/check",
        json={"passed": False, "reason": "垃圾仍未清运", "attachments": [PHOTO]},
        headers=supervisor,
    )
    assert failed.status_code == 200, failed.text
    assert (failed.json()["event_type"], failed.json()["round"]) == ("check.failed", 1)
    rework = await reaches(runtime, case_id, CaseStatus.REWORK)
    assert (rework.rounds, rework.result) == (1, CheckResult.FAILED)
    clock = await check_clock(runtime, case_id)
    assert clock is not None
    assert clock.stopped_at is not None
    done = (await checks(client, supervisor, pending="false"))["checks"]
    assert [(t["rounds"], t["result"]) for t in done] == [(1, "failed")]

    check_failed = (await journal(runtime, case_id))[-1]
    assert check_failed.event_type == "check.failed"
    assert check_failed.payload.model_dump()["reason"] == "垃圾仍未清运"
    reopened = await upstream(Stage.DISPATCH).emit(
        CaseReopenedForRework,
        case_id=case_id,
        actor=Actor.system("370212", "dispatch"),
        payload=CaseReopenedForReworkPayload(
            department_id=DEPARTMENT,
            deadline=datetime.now(UTC) + timedelta(hours=4),
            reason="垃圾仍未清运",
        ),
        cause=check_failed,
    )
    # The first feedback delivered again (a consumer that crashed before committing its
    # offset) is ahead of the second on the same partition and must derive nothing.
    await upstream(Stage.DISPATCH).publish(first)
    second = await forward(upstream, case_id, cause=reopened)
    again = await reaches(runtime, case_id, CaseStatus.CHECKING, rounds=2)
    assert (again.result, again.requested_at) == (None, second.occurred_at)

    pending = (await checks(client, supervisor, pending="true"))["checks"]
    assert [(t["rounds"], t["result"]) for t in pending] == [(2, None)]
    clock = await check_clock(runtime, case_id)
    assert clock is not None
    assert (clock.started_at, clock.deadline, clock.stopped_at) == (
        second.occurred_at,
        again.due_at,
        None,
    )
    passed = await client.post(f"/cases/{case_id}/check", json={"passed": True}, headers=supervisor)
    assert passed.status_code == 200, passed.text
    assert passed.json()["round"] == 2
    closed = await client.post(f"/cases/{case_id}/close", json={}, headers=auth(Role.DUTY_CHIEF))
    assert closed.status_code == 200, closed.text
    assert (await reaches(runtime, case_id, CaseStatus.CLOSED)).rounds == 2

    events = await journal(runtime, case_id)
    assert types_of(events) == [
        "check.requested",
        "check.failed",
        "check.requested",
        "check.passed",
        "case.closed",
    ]
    assert events[2].event_id == derived_id(second.occurred_at, "verification", second.event_id, 0)
    assert events[2].causation_id == second.event_id
    assert verify_chain(events) == []
    # The rework itself is dispatch's business; the redelivered feedback was applied once.
    assert await applied(runtime, case_id) == [
        "feedback.forwarded",
        "check.requested",
        "check.failed",
        "feedback.forwarded",
        "check.requested",
        "check.passed",
        "case.closed",
    ]


async def test_refusals_change_nothing(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = verification
    chief = auth(Role.DUTY_CHIEF)
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    case_id = (await forward(upstream)).case_id
    before = await reaches(runtime, case_id, CaseStatus.CHECKING)

    unchecked = await client.post(f"/cases/{case_id}/close", json={}, headers=chief)
    assert unchecked.status_code == 409
    assert (unchecked.json()["status"], unchecked.json()["event_type"]) == (
        "checking",
        "case.closed",
    )
    stranger = auth(Role.FIELD_SUPERVISOR, id=OTHER_SUPERVISOR)
    not_theirs = await client.post(
        f"/cases/{case_id}/check", json={"passed": True}, headers=stranger
    )
    assert not_theirs.status_code == 403
    assert not_theirs.json()["detail"] == f"the check task went to supervisor {SUPERVISOR}"
    elsewhere = auth(Role.DUTY_CHIEF, site="370202")
    away = await client.post(f"/cases/{case_id}/close", json={}, headers=elsewhere)
    assert away.status_code == 401  # another district's issuer is not trusted
    wrong_role = await client.post(f"/cases/{case_id}/check", json={"passed": True}, headers=chief)
    assert wrong_role.status_code == 403
    assert "field_supervisor" in wrong_role.json()["detail"]
    assert (await client.post(f"/cases/{case_id}/check", json={"passed": True})).status_code == 401
    unknown_id = new_id()
    unknown = await client.post(f"/cases/{unknown_id}/close", json={}, headers=chief)
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == f"verification holds no case {unknown_id}"

    for body, field in (
        ({"passed": "perhaps"}, "passed"),
        ({"passed": True, "reason": "多余"}, "reason"),
        ({"passed": False, "reason": "仍有垃圾", "remarks": "备注"}, "remarks"),
        ({"passed": True, "verdict": "ok"}, "verdict"),
    ):
        malformed = await client.post(f"/cases/{case_id}/check", json=body, headers=supervisor)
        assert malformed.status_code == 422, body
        assert malformed.json()["detail"][0]["loc"] == ["body", field]

    assert await record(runtime, case_id) == before
    assert types_of(await journal(runtime, case_id)) == ["check.requested"]


async def test_the_check_list_is_soonest_due_first_and_each_supervisor_sees_their_own(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    """核查任务 in order of their due time, whatever the order they came in."""
    client, runtime = verification
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)

    def at(hour: int, minute: int) -> datetime:
        return datetime.combine(WEDNESDAY, time(hour, minute), BEIJING)

    late = await forward_at(upstream, at(9, 30))  # due 10:30
    soon = await forward_at(upstream, at(9, 0))  # due 10:00
    done = await forward_at(upstream, at(8, 45))  # due 09:45
    others = await forward_at(upstream, at(8, 30), grid=OTHER_GRID)  # due 09:30, not theirs
    for feedback in (late, soon, done, others):
        await reaches(runtime, feedback.case_id, CaseStatus.CHECKING)
    passed = await client.post(
        f"/cases/{done.case_id}/check", json={"passed": True}, headers=supervisor
    )
    assert passed.status_code == 200, passed.text

    def listed(found: dict[str, Any]) -> list[tuple[str, datetime]]:
        return [(t["case_id"], datetime.fromisoformat(t["due_at"])) for t in found["checks"]]

    def entry(feedback: FeedbackForwarded, hour: int, minute: int) -> tuple[str, datetime]:
        return (str(feedback.case_id), at(hour, minute))

    mine = await checks(client, supervisor)
    assert mine["total"] == 3
    assert listed(mine) == [entry(done, 9, 45), entry(soon, 10, 0), entry(late, 10, 30)]
    assert listed(await checks(client, supervisor, pending="true")) == [
        entry(soon, 10, 0),
        entry(late, 10, 30),
    ]
    assert listed(await checks(client, supervisor, pending="false")) == [entry(done, 9, 45)]
    page = await checks(client, supervisor, limit="1", offset="1")
    assert (page["total"], listed(page)) == (3, [entry(soon, 10, 0)])
    # Up to the largest offset PostgreSQL takes; past it, 422 naming the offset, not a 500.
    assert listed(await checks(client, supervisor, offset=str(2**63 - 1))) == []
    beyond = await client.get("/checks", params={"offset": 2**63}, headers=supervisor)
    assert [error["loc"] for error in beyond.json()["detail"]] == [["query", "offset"]]
    assert listed(await checks(client, supervisor, supervisor_id=SUPERVISOR)) == listed(mine)

    # Another supervisor sees only theirs and may not ask for someone else's.
    stranger = auth(Role.FIELD_SUPERVISOR, id=OTHER_SUPERVISOR)
    assert listed(await checks(client, stranger)) == [entry(others, 9, 30)]
    peek = await client.get("/checks", params={"supervisor_id": SUPERVISOR}, headers=stranger)
    assert peek.status_code == 403
    assert peek.json()["detail"] == "a supervisor sees only their own check tasks"

    # The centre sees the site's, or one supervisor's; another site's centre sees none.
    for role in (Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF, Role.DISPATCHER):
        everything = await checks(client, auth(role))
        assert listed(everything) == [
            entry(others, 9, 30),
            entry(done, 9, 45),
            entry(soon, 10, 0),
            entry(late, 10, 30),
        ]
    chief = auth(Role.DUTY_CHIEF)
    one = await checks(client, chief, supervisor_id=OTHER_SUPERVISOR)
    assert listed(one) == [entry(others, 9, 30)]
    elsewhere = await client.get("/checks", headers=auth(Role.DUTY_CHIEF, site="370202"))
    assert elsewhere.status_code == 401  # a district does not trust another district's issuer
    department = auth(Role.DEPARTMENT, department_id=DEPARTMENT)
    assert (await client.get("/checks", headers=department)).status_code == 403


async def test_the_public_reporter_is_called_back_once_after_closing(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = verification
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    chief = auth(Role.DUTY_CHIEF)
    public_case = (await forward(upstream)).case_id
    own_case = (await forward(upstream, channel=ReportChannel.SUPERVISOR)).case_id
    for case_id in (public_case, own_case):
        await reaches(runtime, case_id, CaseStatus.CHECKING)

    early = await client.post(
        f"/cases/{public_case}/satisfaction", json={"score": 4}, headers=operator
    )
    assert early.status_code == 409
    assert (early.json()["status"], early.json()["event_type"]) == (
        "checking",
        "satisfaction.recorded",
    )
    for case_id in (public_case, own_case):
        checked = await client.post(
            f"/cases/{case_id}/check", json={"passed": True}, headers=supervisor
        )
        assert checked.status_code == 200, checked.text
        closed = await client.post(f"/cases/{case_id}/close", json={}, headers=chief)
        assert closed.status_code == 200, closed.text

    out_of_range = await client.post(
        f"/cases/{public_case}/satisfaction", json={"score": 6}, headers=operator
    )
    assert out_of_range.status_code == 422
    assert out_of_range.json()["detail"][0]["loc"] == ["body", "score"]
    by_chief = await client.post(
        f"/cases/{public_case}/satisfaction", json={"score": 4}, headers=chief
    )
    assert by_chief.status_code == 403
    recorded = await client.post(
        f"/cases/{public_case}/satisfaction",
        json={"score": 4, "remarks": "处理及时"},
        headers=operator,
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["event_type"] == "satisfaction.recorded"
    satisfaction = (await journal(runtime, public_case))[-1]
    again = await client.post(
        f"/cases/{public_case}/satisfaction", json={"score": 1}, headers=operator
    )
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"the reporter's satisfaction was recorded at {satisfaction.occurred_at.isoformat()}"
    )
    not_public = await client.post(
        f"/cases/{own_case}/satisfaction", json={"score": 5}, headers=operator
    )
    assert not_public.status_code == 409
    assert not_public.json()["detail"] == (
        "only a public reporter is called back (回访); this case came by supervisor"
    )

    called_back = await record(runtime, public_case)
    assert called_back is not None
    assert called_back.status is CaseStatus.CLOSED
    assert called_back.satisfaction_recorded_at == satisfaction.occurred_at
    events = await journal(runtime, public_case)
    assert types_of(events)[-2:] == ["case.closed", "satisfaction.recorded"]
    assert satisfaction.payload.model_dump(mode="json") == {
        "score": 4,
        "remarks": "处理及时",
        "source": "callback",  # the centre's call-back, not the reporter's own feedback
    }
    assert verify_chain(events) == []
    assert types_of(await journal(runtime, own_case))[-1] == "case.closed"


async def test_the_check_clock_warns_once_and_goes_red_once(
    verification: Client, upstream: Upstream
) -> None:
    """The yellow and red signals take the moment each fell due, however late the scan."""
    _, runtime = verification
    current = await forward(upstream)
    await reaches(runtime, current.case_id, CaseStatus.CHECKING)
    # Feedback of a past Wednesday morning: due at 10:00, the warning at 80 % of the hour.
    nine = datetime(2026, 11, 25, 9, 0, tzinfo=BEIJING)
    late = await forward_at(upstream, nine)
    case_id = late.case_id
    await reaches(runtime, case_id, CaseStatus.CHECKING)

    async def signals() -> list[CaseEvent]:
        return [e for e in await journal(runtime, case_id) if e.event_type.startswith("time_")]

    warning, overdue = await eventually(signals, lambda found: len(found) == 2)
    ten = datetime(2026, 11, 25, 10, 0, tzinfo=BEIJING)
    assert (warning.event_type, warning.occurred_at) == (
        "time_limit.warning",
        datetime(2026, 11, 25, 9, 48, tzinfo=BEIJING),
    )
    assert (overdue.event_type, overdue.occurred_at) == ("time_limit.overdue", ten)
    for signal in (warning, overdue):
        assert signal.payload.model_dump() == {"step": ClockStep.CHECK, "deadline": ten}
        assert signal.actor.id == "system:verification-clock"
    clock = await check_clock(runtime, case_id)
    assert clock is not None
    assert (clock.warned, clock.overdue, clock.stopped_at) == (True, True, None)

    # A scan now finds nothing again: each signal was decided once.
    assert await scan_clocks(runtime) == 0
    assert await signals() == [warning, overdue]
    # Signals record lateness without moving the case.
    assert (await reaches(runtime, case_id, CaseStatus.CHECKING)).result is None
    # The clock of the feedback forwarded just now is not due yet.
    running = await check_clock(runtime, current.case_id)
    assert running is not None
    assert (running.warned, running.overdue) == (False, False)
    assert types_of(await journal(runtime, current.case_id)) == ["check.requested"]

    on_topic = [e for e in await published(runtime, 4) if e.case_id == case_id]
    assert types_of(on_topic) == ["check.requested", "time_limit.warning", "time_limit.overdue"]
    assert verify_chain(on_topic) == []


async def test_a_repeated_check_with_the_same_key_is_a_no_op(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = verification
    case_id = (await forward(upstream)).case_id
    await reaches(runtime, case_id, CaseStatus.CHECKING)
    headers = {**auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR), "Idempotency-Key": "phone-retry-1"}
    first = await client.post(f"/cases/{case_id}/check", json={"passed": True}, headers=headers)
    again = await client.post(f"/cases/{case_id}/check", json={"passed": True}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    reused = await client.post(
        f"/cases/{case_id}/check", json={"passed": False, "reason": "x"}, headers=headers
    )
    assert reused.status_code == 422
    assert reused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert types_of(await journal(runtime, case_id)) == ["check.requested", "check.passed"]
    assert (await reaches(runtime, case_id, CaseStatus.CHECK_PASSED)).result is CheckResult.PASSED


async def test_voiding_a_case_ends_its_pending_check(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = verification
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    case_id = (await forward(upstream)).case_id
    await reaches(runtime, case_id, CaseStatus.CHECKING)
    [requested] = await journal(runtime, case_id)
    voided = await upstream(Stage.CASEFILE).emit(
        CaseVoided,
        case_id=case_id,
        actor=Actor(id="chief-1", role=Role.DUTY_CHIEF, site="370212"),
        payload=CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by="chief-1"),
        cause=requested,
    )
    ended = await reaches(runtime, case_id, CaseStatus.VOIDED)
    assert (ended.result, ended.rounds) == (CheckResult.VOIDED, 1)

    clock = await check_clock(runtime, case_id)
    assert clock is not None
    assert clock.stopped_at == voided.occurred_at
    assert (await checks(client, supervisor, pending="true"))["checks"] == []
    listed = (await checks(client, supervisor))["checks"]
    assert [(t["case_id"], t["result"], t["status"]) for t in listed] == [
        (str(case_id), "voided", "voided")
    ]
    late = await client.post(f"/cases/{case_id}/check", json={"passed": True}, headers=supervisor)
    assert late.status_code == 409
    assert (late.json()["status"], late.json()["event_type"]) == ("voided", "check.passed")
    closing = await client.post(f"/cases/{case_id}/close", json={}, headers=auth(Role.DUTY_CHIEF))
    assert closing.status_code == 409
    assert types_of(await journal(runtime, case_id)) == ["check.requested"]


@pytest.mark.parametrize("site", ["370200"])
async def test_the_city_entrusts_the_check_to_the_grids_district_supervisor(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = verification
    city_chief = auth(Role.DUTY_CHIEF, site="370200")
    case_id = (await forward(upstream, site="370200")).case_id
    task = await reaches(runtime, case_id, CaseStatus.CHECKING)
    assert (task.site, task.supervisor_id) == ("370200", SUPERVISOR)

    district_supervisor = auth(Role.FIELD_SUPERVISOR, site="370212", id=SUPERVISOR)
    tasks = (await checks(client, district_supervisor))["checks"]
    assert [t["case_id"] for t in tasks] == [str(case_id)]
    assert [t["case_id"] for t in (await checks(client, city_chief))["checks"]] == [str(case_id)]
    other_district = auth(Role.FIELD_SUPERVISOR, site="370212", id=OTHER_SUPERVISOR)
    refused = await client.post(
        f"/cases/{case_id}/check", json={"passed": True}, headers=other_district
    )
    assert refused.status_code == 403
    # The demo city keeps no supervisors of its own: a token naming one is not taken.
    city_supervisor = auth(Role.FIELD_SUPERVISOR, site="370200", id="sv-370200-01")
    not_theirs = await client.post(
        f"/cases/{case_id}/check", json={"passed": True}, headers=city_supervisor
    )
    assert not_theirs.status_code == 401
    assert not_theirs.json()["detail"] == "sv-370200-01 is not a field supervisor of site 370200"
    passed = await client.post(
        f"/cases/{case_id}/check", json={"passed": True}, headers=district_supervisor
    )
    assert passed.status_code == 200, passed.text
    district_chief = auth(Role.DUTY_CHIEF, site="370212")
    assert (
        await client.post(f"/cases/{case_id}/close", json={}, headers=district_chief)
    ).status_code == 403
    closed = await client.post(f"/cases/{case_id}/close", json={}, headers=city_chief)
    assert closed.status_code == 200, closed.text
    await reaches(runtime, case_id, CaseStatus.CLOSED)
    events = await journal(runtime, case_id)
    assert types_of(events) == ["check.requested", "check.passed", "case.closed"]
    assert {e.site for e in events} == {"370200"}
    assert (events[1].actor.id, events[1].actor.site) == (SUPERVISOR, "370212")
    assert events[2].actor.site == "370200"
