"""Each desk shows what the person's site and role allow, read from the services with their
token; another role's desk answers 403 with a page saying whose it is."""

from __future__ import annotations

from typing import Any

import httpx

from cityloop_console.sessions import COOKIE

CASE = {
    "case_id": "0195f3b0-0000-7000-8000-000000000001",
    "case_number": None,
    "site": "370212",
    "status": "reported",
    "channel": "supervisor",
    "category_code": "06001",
    "grid_code": "370212003001001",
    "urgency": "ordinary",
    "reported_at": "2026-03-10T09:00:00+08:00",
}


def test_a_page_without_a_session_leads_to_the_sign_in(client: Any) -> None:
    for path in ("/operator", "/chief", "/dispatcher", "/department", "/dashboard", "/"):
        answer = client.get(path, follow_redirects=False)
        assert answer.headers["location"] == "/login", path


def test_a_department_cannot_open_the_dispatch_board(sign_in: Any, services: Any) -> None:
    client = sign_in("370212", "department", "370212-sanitation")

    answer = client.get("/dispatcher")

    assert answer.status_code == 403
    assert 'id="forbidden"' in answer.text
    assert "派遣员" in answer.text
    assert services.sent == []


def test_the_operator_sees_the_reports_awaiting_acceptance_with_their_forms(
    sign_in: Any, services: Any
) -> None:
    client = sign_in("370212", "acceptance_operator", "operator-1")
    services.answer = lambda request: httpx.Response(
        200,
        json={"total": 1, "cases": [CASE]}
        if request.url.params.get("status") == "reported"
        else {"total": 0, "cases": []},
    )

    page = client.get("/operator")

    assert page.status_code == 200
    assert f'data-case="{CASE["case_id"]}"' in page.text
    assert f'data-command="/api/370212/casefile/cases/{CASE["case_id"]}/accept"' in page.text
    assert "06001" in page.text
    token = client.cookies[COOKIE]
    assert all(r.headers["Authorization"] == f"Bearer {token}" for r in services.sent)
    assert {str(r.url.host) for r in services.sent} == {"casefile.370212.test"}


def test_each_form_render_carries_an_idempotency_key_of_its_own(
    sign_in: Any, services: Any
) -> None:
    client = sign_in("370212", "acceptance_operator", "operator-1")
    services.answer = lambda request: httpx.Response(200, json={"total": 1, "cases": [CASE]})

    keys = [
        line
        for render in (client.get("/operator").text, client.get("/operator").text)
        for line in render.splitlines()
        if 'name="_key"' in line
    ]

    assert len(keys) == len(set(keys)) > 2


def test_a_service_that_cannot_be_reached_is_named_on_the_page(sign_in: Any, services: Any) -> None:
    client = sign_in("370212", "department", "370212-sanitation")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    services.answer = down

    page = client.get("/department")

    assert page.status_code == 200
    assert "disposal service of site 370212 cannot be reached" in page.text


def test_the_chief_registers_with_the_category_dictionary_and_its_time_limits(
    sign_in: Any, services: Any
) -> None:
    client = sign_in("370212", "duty_chief", "chief-1")
    accepted = {**CASE, "status": "accepted", "needs_verification": False}
    services.answer = lambda request: httpx.Response(
        200,
        json={"total": 1, "cases": [accepted]}
        if request.url.params.get("status") == "accepted"
        else {"total": 0, "cases": []},
    )

    page = client.get("/chief").text

    assert f"/api/370212/casefile/cases/{CASE['case_id']}/register" in page
    assert '<optgroup label="06 ' in page
    assert 'value="06001"' in page
    assert "处置时限" in page


def test_the_city_dashboard_reads_the_city_level_projection(sign_in: Any, services: Any) -> None:
    client = sign_in("370200", "leader", "leader-1")
    overdue = {**CASE, "status": "dispatched", "overdue": True, "deadline": "2026-03-01T00:00Z"}
    services.answer = lambda request: httpx.Response(
        200,
        json={"groups": [{"key": "370212", "cases": 1, "open": 1, "closed": 0, "overdue": 1}]}
        if request.url.path == "/statistics"
        else {"rows": []}
        if request.url.path.startswith("/evaluation")
        else {"total": 1, "cases": [overdue]},
    )

    page = client.get("/dashboard").text

    hosts = {str(r.url.host) for r in services.sent}
    assert hosts == {"sync.370200.test", "evaluation.370200.test"}
    assert 'data-grid="370212003001001" data-light="red" data-open="1"' in page
    assert 'data-grid="370202001001001" data-light="none"' in page
    assert 'data-site="370212"' in page
