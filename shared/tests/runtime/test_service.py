"""The test stage as a running service over real Kafka and PostgreSQL: it reads only the
topics of what it follows and drops other types unread, sets aside what it cannot apply,
relays what it decides, and takes HTTP commands once per idempotency key, refused cleanly."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter
from pydantic import Field
from structlog.testing import capture_logs

from cityloop_deploy.site_fixtures import UpstreamStage, eventually, topic_records
from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.codec import decode, encode
from cityloop_shared.contract.events.verification import CheckPassed, CheckResultPayload
from cityloop_shared.contract.topics import Stage, event_topic
from cityloop_shared.messaging import headers
from cityloop_shared.reference import OfficialYear
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.app import service_app
from cityloop_shared.runtime.commands import Commands
from cityloop_shared.runtime.definition import StageService
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.stage.decisions import Command, Context, Decision, Draft, Forbidden, Invalid
from cityloop_shared.testing.contracts import Sample

from .conftest import Case, NewCase
from .stage import SERVICE

Client = tuple[httpx.AsyncClient, ServiceRuntime]
Upstream = Callable[[Stage], UpstreamStage]
Auth = Callable[..., dict[str, str]]


class Pass(Command):
    remarks: str | None = Field(default=None, max_length=200)


def pass_check(case: Sample, command: Pass, ctx: Context) -> Decision:
    if ctx.actor.id != "sv-370212-01":
        raise Forbidden("the check went to sv-370212-01")
    if command.remarks == "看不清":
        raise Invalid(("remarks",), "say what was seen", "vague_remarks")
    return Decision(
        [Draft(CheckPassed, CheckResultPayload(remarks=command.remarks))], {"sent": case.done}
    )


router = APIRouter()
commands: Commands[Sample] = Commands(router)
commands.on_case("/cases/{case_id}/pass", Pass, roles={Role.FIELD_SUPERVISOR}, decide=pass_check)
SERVED = StageService(
    rules=SERVICE.rules, table=SERVICE.table, migrations=SERVICE.migrations, routers=[router]
)


@pytest_asyncio.fixture
async def stage(service_settings: ServiceSettings) -> AsyncIterator[Client]:
    assert service_settings.database.schema_name
    upgrade(service_settings.database, service_settings.database.schema_name, SERVED.migrations)
    app = service_app(SERVED, service_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://stage") as client:
            yield client, app.state.runtime


async def to_checking(upstream: Upstream, new_case: NewCase) -> Case:
    case = new_case()
    for event_type, stage in [
        ("case.reported", Stage.INTAKE),
        ("case.accepted", Stage.CASEFILE),
        ("case.registered", Stage.CASEFILE),
        ("case.dispatched", Stage.DISPATCH),
        ("disposal.accepted", Stage.DISPOSAL),
        ("disposal.completed", Stage.DISPOSAL),
        ("feedback.forwarded", Stage.DISPATCH),
    ]:
        event = case.next(event_type, stage.value)
        await upstream(stage).publish(event)
    return case


async def tracked(runtime: ServiceRuntime) -> list[Any]:
    async with runtime.database.begin() as uow:
        return await uow.tracker.history()


async def test_what_is_followed_is_applied_and_what_is_decided_is_relayed(
    stage: Client, upstream: Upstream, new_case: NewCase, kafka_bootstrap: str
) -> None:
    _, runtime = stage
    case = await to_checking(upstream, new_case)
    history = await eventually(lambda: tracked(runtime), lambda h: len(h) >= 6)
    followed = ["case.registered", "case.dispatched", "disposal.accepted", "disposal.completed"]
    assert [a.event_type for a in history[:6]] == [
        *followed,
        "feedback.forwarded",
        "check.requested",
    ]
    # The check's clock may warn at once (a holiday has no working time): that is relayed too.
    records = await topic_records(kafka_bootstrap, runtime.topic, at_least=1)
    (record,) = [r for r in records if decode(r.value).event_type == "check.requested"]
    relayed = decode(record.value)
    assert relayed.event_type == "check.requested"
    assert relayed.causation_id == case.events[-1].event_id
    assert dict(record.headers)[headers.EVENT_TYPE] == b"check.requested"
    assert dict(record.headers)[headers.EVENT_ID] == str(relayed.event_id).encode()
    assert record.key == str(case.case_id).encode()

    async def unpublished() -> list[Any]:
        async with runtime.database.begin() as uow:
            return await uow.recorder.unpublished(10)

    assert await eventually(unpublished, lambda pending: pending == []) == []


async def test_what_cannot_be_applied_is_set_aside_with_the_reason(
    stage: Client, new_case: NewCase, service_settings: ServiceSettings, kafka_bootstrap: str
) -> None:
    _, runtime = stage
    casefile = event_topic(runtime.site, Stage.CASEFILE, runtime.namespace)
    disposal = event_topic(runtime.site, Stage.DISPOSAL, runtime.namespace)
    misplaced = new_case().next("case.dispatched", "dispatch")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for topic, value, event_type in [
            (casefile, b"not even JSON", "case.accepted"),  # not followed: dropped unread
            (casefile, b"not even JSON", "case.registered"),
            (disposal, encode(misplaced), "case.dispatched"),  # only dispatch's topic may
        ]:
            await producer.send_and_wait(
                topic, value, key=b"k", headers=[(headers.EVENT_TYPE, event_type.encode())]
            )
    finally:
        await producer.stop()
    letters = await topic_records(kafka_bootstrap, runtime.dead_letter_topic, at_least=2)
    reasons = sorted(dict(r.headers)[headers.DEAD_LETTER_REASON].decode() for r in letters)
    assert len(letters) == 2
    assert reasons[0].startswith(f"case.dispatched may not arrive on {disposal}")
    assert reasons[1].startswith("not JSON")
    sources = {dict(r.headers)[headers.DEAD_LETTER_SOURCE].decode().split("/")[0] for r in letters}
    assert sources == {casefile, disposal}


async def test_a_command_runs_once_per_key_and_refusals_name_what_is_wrong(
    stage: Client, upstream: Upstream, new_case: NewCase, auth: Auth
) -> None:
    client, runtime = stage
    case = await to_checking(upstream, new_case)
    await eventually(lambda: tracked(runtime), lambda h: len(h) >= 6)
    supervisor = auth(Role.FIELD_SUPERVISOR, id="sv-370212-01")
    url = f"/cases/{case.case_id}/pass"

    async def post(body: dict[str, Any], headers: dict[str, str], key: str | None = None) -> Any:
        sent = {**headers, **({"Idempotency-Key": key} if key else {})}
        return await client.post(url, json=body, headers=sent)

    assert (await post({}, auth(Role.DUTY_CHIEF))).status_code == 403
    other = await post({}, auth(Role.FIELD_SUPERVISOR, id="sv-370212-02"))
    assert (other.status_code, other.json()) == (403, {"detail": "the check went to sv-370212-01"})
    vague = await post({"remarks": "看不清"}, supervisor)
    assert vague.status_code == 422
    assert vague.json()["detail"][0]["loc"] == ["body", "remarks"]
    unknown = await client.post(f"/cases/{UUID(int=7)}/pass", json={}, headers=supervisor)
    assert unknown.status_code == 404

    first = await post({"remarks": "已清理"}, supervisor, key="k-1")
    again = await post({"remarks": "已清理"}, supervisor, key="k-1")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["sent"] is True
    reused = await post({"remarks": "另一个"}, supervisor, key="k-1")
    assert reused.status_code == 422
    assert reused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    twice = await post({"remarks": "已清理"}, supervisor)
    assert twice.status_code == 409
    assert (twice.json()["status"], twice.json()["event_type"]) == ("check_passed", "check.passed")
    async with runtime.database.begin() as uow:
        decided = [e.event_type for e in await uow.recorder.case_events(case.case_id)]
    assert [t for t in decided if not t.startswith("time_limit.")] == [
        "check.requested",
        "check.passed",
    ]


async def test_health_says_whether_the_calendar_knows_this_year_and_the_next(
    stage: Client,
) -> None:
    client, runtime = stage
    today = datetime.now(runtime.reference.calendar.zone).date()

    answer = (await client.get("/health")).json()

    calendar = answer["calendar"]
    assert calendar["current_year"] == today.year
    covers = runtime.reference.calendar.covers
    assert (calendar["current_covered"], calendar["next_covered"]) == (
        covers(today.year),
        covers(today.year + 1),
    )
    assert calendar["complete"] is (covers(today.year) and covers(today.year + 1))


async def test_a_service_warns_at_start_when_its_calendar_does_not_cover_this_year_or_the_next(
    service_settings: ServiceSettings,
) -> None:
    assert service_settings.database.schema_name
    upgrade(service_settings.database, service_settings.database.schema_name, SERVED.migrations)
    for covered in (False, True):
        reference = ReferenceData.demo()
        if covered:
            # The operator lists the years after the package's (their days as Monday–Friday).
            years = {year: OfficialYear() for year in range(2027, 2100)}
            calendar = reference.calendar.model_copy(update={"official_years": years})
            reference = dataclasses.replace(reference, calendar=calendar)
        app = service_app(SERVED, service_settings)
        app.state.runtime.reference = reference
        with capture_logs() as logs:
            async with app.router.lifespan_context(app):
                pass
        warned = [entry for entry in logs if entry["event"] == "calendar.not_covered"]
        assert bool(warned) is not covered
        if warned:
            assert warned[0]["log_level"] == "warning"
