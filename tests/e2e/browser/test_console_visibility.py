"""Each person sees only what their site and role allow, in real Chromium: a department
neither opens another role's desk nor sees another department's tasks, a district's people
do not reach another district, and the pages speak English when asked."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from cityloop_shared.contract.actors import Role
from tests.e2e.loop import Loop

pytestmark = pytest.mark.integration

SITE = "370212"
OTHER_DISTRICT = "370202"
DEPARTMENT = "370212-sanitation"
"""Who the responsibility matrix gives 06001 in the loop's grid."""
OTHER_DEPARTMENT = "370212-street-001"


def test_a_department_cannot_open_the_dispatch_board(page: Page, console: Any) -> None:
    console.sign_in(page, SITE, Role.DEPARTMENT, DEPARTMENT)

    answer = page.goto(f"{console.url}/dispatcher")

    assert answer is not None
    assert answer.status == 403
    assert page.locator("#forbidden").is_visible()
    assert "派遣员" in page.locator("#forbidden").inner_text()
    assert page.locator("#to-dispatch").count() == 0


def test_a_department_sees_only_its_own_tasks(page: Page, console: Any) -> None:
    with Loop(console.levels[SITE]) as loop:
        case_id = loop.report()
        loop.accept(case_id)
        loop.register(case_id)
        assert loop.dispatch(case_id) == DEPARTMENT
        loop.task(case_id, DEPARTMENT)

    console.sign_in(page, SITE, Role.DEPARTMENT, DEPARTMENT)
    page.goto(f"{console.url}/department")
    own = page.locator("#tasks tr[data-case]")
    assert page.locator(f"#tasks tr[data-case='{case_id}']").count() == 1
    departments = set(own.evaluate_all("rows => rows.map(r => r.dataset.department)"))
    assert departments == {DEPARTMENT}

    console.sign_in(page, SITE, Role.DEPARTMENT, OTHER_DEPARTMENT)
    page.goto(f"{console.url}/department")
    assert page.locator(f"tr[data-case='{case_id}']").count() == 0
    seen = page.locator("#tasks tr[data-case]").evaluate_all(
        "rows => rows.map(r => r.dataset.department)"
    )
    assert set(seen) <= {OTHER_DEPARTMENT}


def test_a_district_person_cannot_reach_another_district_through_the_proxy(
    page: Page, console: Any
) -> None:
    console.sign_in(page, SITE, Role.DUTY_CHIEF, "chief-1")

    own = page.request.get(f"{console.url}/api/{SITE}/casefile/cases")
    other = page.request.get(f"{console.url}/api/{OTHER_DISTRICT}/casefile/cases")
    command = page.request.post(
        f"{console.url}/api/{OTHER_DISTRICT}/casefile/cases/0195f3b0-0000-7000-8000-000000000001/cancel",
        data={"reason": "不属于本区"},
        headers={"Idempotency-Key": "v-1"},
    )

    assert own.status == 200
    assert other.status == 403
    assert command.status == 403
    assert OTHER_DISTRICT in other.json()["detail"]


def test_the_citys_people_reach_their_districts(page: Page, console: Any) -> None:
    console.sign_in(page, "370200", Role.LEADER, "leader-1")

    for district in (SITE, OTHER_DISTRICT):
        assert page.request.get(f"{console.url}/api/{district}/casefile/cases").status == 200


def test_the_pages_switch_to_english_and_back(page: Page, console: Any) -> None:
    console.sign_in(page, SITE, Role.DISPATCHER, "dispatcher-1")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text().startswith("派遣员工作台")

    page.click("#switch-language")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text().startswith("Dispatch board")

    page.goto(f"{console.url}/dispatcher")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#switch-language").inner_text() == "中文"

    page.click("#switch-language")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
