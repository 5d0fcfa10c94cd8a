"""The reporter's own word on a closed request (external evaluation, 外部评价): only with the
request's token, only once the case is closed, recorded as the public's satisfaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest

from cityloop_deploy.site_fixtures import UpstreamStage, eventually, topic_records
from cityloop_shared.contract import decode
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.events.casefile import (
    CaseAccepted,
    CaseAcceptedPayload,
    CaseRegistered,
    CaseRegisteredPayload,
)
from cityloop_shared.contract.events.dispatch import CaseDispatched, CaseDispatchedPayload
from cityloop_shared.contract.events.disposal import (
    DisposalAccepted,
    DisposalAcceptedPayload,
    DisposalCompleted,
    DisposalCompletedPayload,
)
from cityloop_shared.contract.events.verification import (
    CaseClosed,
    CaseClosedPayload,
    SatisfactionRecorded,
    SatisfactionSource,
)
from cityloop_shared.contract.ids import CaseKind, case_number
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.values import CaseLevel, Category, TimeLimit, TimeUnit
from cityloop_shared.runtime.service import ServiceRuntime

pytestmark = pytest.mark.integration

SITE = "370212"
V2 = "/open311/v2"
STAFF = Actor(id="staff-1", role=Role.DUTY_CHIEF, site=SITE)
FORM = {
    "service_code": "06001",
    "lat": "36.1002",
    "long": "120.4702",
    "description": "人行道上搭了棚子",
}
Served = tuple[httpx.AsyncClient, ServiceRuntime]


async def feedback(client: httpx.AsyncClient, request_id: str, **fields: str) -> httpx.Response:
    return await client.post(f"{V2}/requests/{request_id}/feedback.json", data=fields)


async def test_the_reporter_rates_a_closed_request_with_its_token(
    intake: Served, open311_key: str, upstream: Callable[[Stage], UpstreamStage]
) -> None:
    client, runtime = intake
    posted = await client.post(f"{V2}/requests.json", data={**FORM, "api_key": open311_key})
    assert posted.status_code == 201, posted.text
    [answer] = posted.json()
    request_id, token = answer["service_request_id"], answer["token"]
    key = {"api_key": open311_key}

    early = await feedback(client, request_id, **key, token=token, score="5")
    assert early.status_code == 409
    assert "closed" in early.text

    reported = decode(
        (await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 1))[0].value
    )
    cause: Any = reported
    registered = CaseRegisteredPayload(
        case_number=case_number(SITE, CaseKind.EVENT, "06001", date(2026, 3, 10), 1),
        category=Category(standard="GB/T 47678.5-2026", kind=CaseKind.EVENT, code="06001"),
        grid_code="370212003001001",
        level=CaseLevel.DISTRICT,
        time_limit=TimeLimit(amount=4, unit=TimeUnit.WORKING_HOURS),
    )
    for stage, model, payload in [
        (Stage.CASEFILE, CaseAccepted, CaseAcceptedPayload(needs_verification=False)),
        (Stage.CASEFILE, CaseRegistered, registered),
        (
            Stage.DISPATCH,
            CaseDispatched,
            CaseDispatchedPayload(department_id="370212-urban", deadline=reported.occurred_at),
        ),
        (Stage.DISPOSAL, DisposalAccepted, DisposalAcceptedPayload(department_id="370212-urban")),
        (
            Stage.DISPOSAL,
            DisposalCompleted,
            DisposalCompletedPayload(department_id="370212-urban", description="已拆除"),
        ),
        (Stage.VERIFICATION, CaseClosed, CaseClosedPayload()),
    ]:
        cause = await upstream(stage).emit(
            model, case_id=reported.case_id, actor=STAFF, payload=payload, cause=cause
        )

    async def status_of() -> str:
        found = await client.get(f"{V2}/requests/{request_id}.json")
        return str(found.json()[0]["status"])

    await eventually(status_of, lambda status: status == "closed")

    stranger = await feedback(client, request_id, **key, token="not-the-token", score="1")
    assert stranger.status_code == 403
    assert "token" in stranger.text
    no_key = await feedback(client, request_id, token=token, score="1")
    assert no_key.status_code == 403
    bad_score = await feedback(client, request_id, **key, token=token, score="6")
    assert bad_score.status_code == 400
    assert "score" in bad_score.text

    rated = await feedback(client, request_id, **key, token=token, score="4", comment="挺快")
    assert rated.status_code == 200, rated.text
    assert rated.json() == [{"service_request_id": request_id, "score": 4}]
    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 2)
    recorded = decode(records[-1].value)
    assert isinstance(recorded, SatisfactionRecorded)
    assert (recorded.payload.score, recorded.payload.remarks) == (4, "挺快")
    assert recorded.payload.source is SatisfactionSource.OPEN311
    assert recorded.actor.role is Role.PUBLIC
