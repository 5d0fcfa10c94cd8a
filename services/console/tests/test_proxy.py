"""``/api/{site}/{stage}/…``: forwarded with the session's token, answered unchanged, and only
to the sites the session may act on."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cityloop_console.sessions import COOKIE, may_reach
from cityloop_shared.contract.actors import Actor, Role


def test_without_a_session_the_proxy_answers_401(client: TestClient, services: Any) -> None:
    answer = client.get("/api/370212/casefile/cases")

    assert answer.status_code == 401
    assert "sign in" in answer.json()["detail"]
    assert services.sent == []


def test_a_command_is_forwarded_with_the_token_body_and_idempotency_key(
    sign_in: Any, services: Any
) -> None:
    client = sign_in("370212", "acceptance_operator", "operator-1")
    services.answer = lambda request: httpx.Response(
        409, json={"detail": "case is closed", "status": "closed"}
    )

    answer = client.post(
        "/api/370212/casefile/cases/abc/accept?dry=1",
        content=json.dumps({"urgency": "urgent"}),
        headers={"Content-Type": "application/json", "Idempotency-Key": "k-1"},
    )

    assert answer.status_code == 409
    assert answer.json() == {"detail": "case is closed", "status": "closed"}
    (sent,) = services.sent
    assert sent.method == "POST"
    assert str(sent.url) == "http://casefile.370212.test/cases/abc/accept?dry=1"
    assert json.loads(sent.content) == {"urgency": "urgent"}
    assert sent.headers["Idempotency-Key"] == "k-1"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Authorization"] == f"Bearer {client.cookies[COOKIE]}"
    assert "cookie" not in sent.headers


def test_a_query_answer_passes_through_with_its_type(sign_in: Any, services: Any) -> None:
    client = sign_in("370200", "leader", "leader-1")
    services.answer = lambda request: httpx.Response(
        200, content=b"<svg/>", headers={"Content-Type": "image/svg+xml"}
    )

    answer = client.get("/api/370200/evaluation/evaluation/district/chart.svg?period=2026-03")

    assert answer.status_code == 200
    assert answer.content == b"<svg/>"
    assert answer.headers["content-type"] == "image/svg+xml"
    assert services.sent[0].url.params["period"] == "2026-03"


def test_a_district_person_cannot_reach_another_district(sign_in: Any, services: Any) -> None:
    client = sign_in("370212", "duty_chief", "chief-1")

    answer = client.get("/api/370202/casefile/cases")

    assert answer.status_code == 403
    assert "370202" in answer.json()["detail"]
    assert services.sent == []


def test_the_citys_people_reach_their_districts(sign_in: Any, services: Any) -> None:
    client = sign_in("370200", "leader", "leader-1")

    assert client.get("/api/370212/casefile/cases").status_code == 200
    assert str(services.sent[0].url).startswith("http://casefile.370212.test/")


@pytest.mark.parametrize(
    ("actor", "site", "stage", "reaches"),
    [
        (Actor(id="chief-1", role=Role.DUTY_CHIEF, site="370212"), "370212", "casefile", True),
        (Actor(id="chief-1", role=Role.DUTY_CHIEF, site="370212"), "370202", "casefile", False),
        (Actor(id="chief-1", role=Role.DUTY_CHIEF, site="370212"), "370200", "casefile", False),
        (Actor(id="leader-1", role=Role.LEADER, site="370200"), "370202", "sync", True),
        (Actor(id="leader-1", role=Role.LEADER, site="370200"), "370302", "casefile", False),
        (
            Actor(id="sv-370212-03", role=Role.FIELD_SUPERVISOR, site="370212"),
            "370200",
            "verification",
            True,
        ),
        (
            Actor(id="sv-370212-03", role=Role.FIELD_SUPERVISOR, site="370212"),
            "370200",
            "casefile",
            False,
        ),
        (Actor(id="leader-1", role=Role.LEADER, site="370200"), "../x", "casefile", False),
    ],
)
def test_who_reaches_which_sites_services(
    actor: Actor, site: str, stage: str, reaches: bool
) -> None:
    """Their own site; the city's people its districts; a district's supervisor the city's
    verification service too, for the checks the city entrusts them with (委托核查)."""
    assert may_reach(actor, site, stage) is reaches


def test_an_unreachable_service_answers_502_naming_it(sign_in: Any, services: Any) -> None:
    client = sign_in("370212", "dispatcher", "dispatcher-1")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    services.answer = down

    answer = client.post("/api/370212/dispatch/cases/abc/dispatch", json={})

    assert answer.status_code == 502
    assert answer.json()["service"] == "dispatch"
    assert "dispatch service of site 370212" in answer.json()["detail"]


def test_a_service_missing_from_the_directory_answers_503(sign_in: Any) -> None:
    client = sign_in("370212", "leader", "leader-1")

    answer = client.get("/api/370212/sync/cases")

    assert answer.status_code == 503
    assert answer.json()["service"] == "sync"


def test_an_unknown_stage_answers_404(sign_in: Any, services: Any) -> None:
    client = sign_in("370212", "leader", "leader-1")

    assert client.get("/api/370212/billing/cases").status_code == 404
    assert services.sent == []
