"""The sync service in this test's process at the city site, its district sharing the city's
cluster (per-site topics, nothing to mirror): the projection, its queries and who may see
what, its lag, and that it resumes where it stopped without applying anything twice."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import uuid4

import httpx

from cityloop_deploy.site_fixtures import UpstreamStage, eventually
from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.flows import SUPERVISOR_DISTRICT
from cityloop_shared.contract.topics import Stage
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.settings import ServiceSettings
from cityloop_sync.app import MIGRATIONS, create_app
from cityloop_sync.settings import SyncSettings

CITY = "370200"
STAGE_OF = {
    "case.reported": Stage.INTAKE,
    "case.accepted": Stage.CASEFILE,
    "case.registered": Stage.CASEFILE,
    "case.dispatched": Stage.DISPATCH,
    "disposal.accepted": Stage.DISPOSAL,
    "disposal.completed": Stage.DISPOSAL,
    "feedback.forwarded": Stage.DISPATCH,
    "check.requested": Stage.VERIFICATION,
    "check.passed": Stage.VERIFICATION,
    "case.closed": Stage.VERIFICATION,
    "time_limit.overdue": Stage.DISPATCH,
}
Auth = Callable[..., dict[str, str]]
History = Callable[..., list[CaseEvent]]


@contextlib.asynccontextmanager
async def sync_service(settings: ServiceSettings) -> AsyncIterator[httpx.AsyncClient]:
    city = settings.model_copy(update={"site": CITY, "districts": settings.site})
    assert city.database.schema_name
    upgrade(city.database, city.database.schema_name, MIGRATIONS)
    app = create_app(city, SyncSettings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sync") as client:
            yield client


async def shown(client: httpx.AsyncClient, case_id: Any, auth: Auth, status: str) -> Any:
    async def probe() -> Any:
        answer = await client.get(f"/cases/{case_id}", headers=auth(Role.DUTY_CHIEF, site=CITY))
        return answer.json() if answer.status_code == 200 else None

    return await eventually(probe, lambda found: found is not None and found["status"] == status)


async def test_the_projection_shows_each_case_once_whoever_sends_it_again(
    service_settings: ServiceSettings,
    upstream: Callable[[Stage], UpstreamStage],
    auth: Auth,
    history: History,
) -> None:
    events = history(SUPERVISOR_DISTRICT)
    case_id = events[0].case_id
    async with sync_service(service_settings) as client:
        for event in events[:4]:
            await upstream(STAGE_OF[event.event_type]).publish(event)
        found = await shown(client, case_id, auth, "dispatched")
        assert [e["event_type"] for e in found["timeline"]] == SUPERVISOR_DISTRICT[:4]
        lag = await eventually(
            lambda: _json(client.get("/lag")),
            lambda answer: answer["districts"].get(service_settings.site, {}).get("seconds") == 0,
        )
        assert lag["districts"][service_settings.site]["behind"] == 0
        contract = (await client.get("/asyncapi.json")).json()
        assert {"readCasefileEvents", "mirrorCasefileEvents"} <= set(contract["operations"])
        metrics = (await client.get("/metrics")).text
        assert f'cityloop_sync_lag_seconds{{district="{service_settings.site}"}} 0.0' in metrics

    async with sync_service(service_settings) as client:
        # A restart resumes where it stopped; a record sent again changes nothing.
        for event in [*events[2:4], *events[4:]]:
            await upstream(STAGE_OF[event.event_type]).publish(event)
        found = await shown(client, case_id, auth, "closed")
        assert [e["event_type"] for e in found["timeline"]] == SUPERVISOR_DISTRICT
        assert found["events"] == len(events)


async def test_who_sees_what_of_the_citys_cases(
    service_settings: ServiceSettings,
    upstream: Callable[[Stage], UpstreamStage],
    auth: Auth,
    history: History,
) -> None:
    district = service_settings.site
    department = "370212-sanitation"
    events = history(SUPERVISOR_DISTRICT[:4], case_dispatched={"department_id": department})
    case_id = events[0].case_id
    async with sync_service(service_settings) as client:
        for event in events:
            await upstream(STAGE_OF[event.event_type]).publish(event)
        await shown(client, case_id, auth, "dispatched")

        async def sees(headers: dict[str, str]) -> int:
            return (await client.get(f"/cases/{case_id}", headers=headers)).status_code

        assert await sees(auth(Role.LEADER, site=CITY)) == 200
        assert await sees(auth(Role.DUTY_CHIEF, site=district)) == 200
        assert await sees(auth(Role.DUTY_CHIEF, site="370202")) == 403
        # A department sees the cases dispatched to it, an upper-level one those below it.
        assert await sees(auth(Role.DEPARTMENT, site=district, department_id=department)) == 200
        assert await sees(auth(Role.UPPER_DEPARTMENT, department_id="370212-urban")) == 200
        assert await sees(auth(Role.DEPARTMENT, site=CITY, department_id="370200-water")) == 403
        assert await sees(auth(Role.FIELD_SUPERVISOR, id="sv-370212-01")) == 403
        missing = await client.get(f"/cases/{uuid4()}", headers=auth(Role.LEADER, site=CITY))
        assert missing.status_code == 404
        listed = await client.get(
            "/cases",
            params={"district": district, "status": "dispatched", "overdue": "false"},
            headers=auth(Role.DUTY_CHIEF, site=CITY),
        )
        assert [c["case_id"] for c in listed.json()["cases"]] == [str(case_id)]
        none = await client.get(
            "/cases", params={"status": "closed"}, headers=auth(Role.DUTY_CHIEF, site=CITY)
        )
        assert none.json() == {"total": 0, "cases": []}
        # Up to the largest offset PostgreSQL takes; past it, 422 naming the offset.
        last = await client.get(
            "/cases", params={"offset": 2**63 - 1}, headers=auth(Role.DUTY_CHIEF, site=CITY)
        )
        assert last.json() == {"total": 1, "cases": []}
        beyond = await client.get(
            "/cases", params={"offset": 2**63}, headers=auth(Role.DUTY_CHIEF, site=CITY)
        )
        assert [error["loc"] for error in beyond.json()["detail"]] == [["query", "offset"]]
        stats = await client.get(
            "/statistics", params={"by": "status"}, headers=auth(Role.LEADER, site=CITY)
        )
        assert stats.json()["groups"] == [
            {"key": "dispatched", "cases": 1, "open": 1, "closed": 0, "overdue": 0}
        ]
        wrong = await client.get(
            "/statistics", params={"by": "colour"}, headers=auth(Role.LEADER, site=CITY)
        )
        assert wrong.status_code == 422
        assert wrong.json()["detail"][0]["loc"] == ["query", "by"]


async def _json(request: Any) -> Any:
    return (await request).json()


async def test_the_supervision_centre_sees_which_cases_wait_past_their_dispatch_limit(
    service_settings: ServiceSettings,
    upstream: Callable[[Stage], UpstreamStage],
    auth: Auth,
    history: History,
) -> None:
    late = history(
        [*SUPERVISOR_DISTRICT[:3], "time_limit.overdue"], time_limit_overdue={"step": "dispatch"}
    )
    on_time = history(SUPERVISOR_DISTRICT[:3])
    centre = auth(Role.DUTY_CHIEF, site=CITY)
    async with sync_service(service_settings) as client:
        for event in [*late, *on_time]:
            await upstream(STAGE_OF[event.event_type]).publish(event)
        await shown(client, on_time[0].case_id, auth, "registered")
        found = await shown(client, late[0].case_id, auth, "registered")
        assert found["overdue_steps"] == ["dispatch"]
        listed = await client.get("/cases", params={"overdue_step": "dispatch"}, headers=centre)
        assert [c["case_id"] for c in listed.json()["cases"]] == [str(late[0].case_id)]
