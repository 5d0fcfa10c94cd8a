"""A case walked through the whole loop by clicking the console as each of its people, in
headless Chromium, against two districts and their city each on Kafka and PostgreSQL: the
supervisor on the phone page, the centre's people and the department at their desks, the
leaders at the dashboards. Then a case the district forwards to the city, handled there by
the city's people through the same desks."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import pytest
from playwright.sync_api import Locator, Page

from cityloop_shared.contract.actors import Role
from tests.e2e.loop import Loop

from .conftest import screenshot
from .photos import png
from .supervisor_steps import check, file_report, verify

pytestmark = pytest.mark.integration

DISTRICT = "370212"
OTHER_DISTRICT = "370202"
CITY = "370200"
GRID = "370212003001001"
OTHER_GRID = "370202001001001"
"""Where the whole-loop driver reports each district's cases (tests/e2e/loop.py)."""
DEPARTMENT = "370212-sanitation"
"""Who the responsibility matrix gives 06001 (私搭乱建) in grid 370212003001001."""
CITY_CATEGORY = "01002"
CITY_DEPARTMENT = "370200-water"
"""Who the matrix gives 01002 (污水井盖) anywhere in the city: a city department."""
WITHIN = 90.0
"""How long a desk waits for a case to reach it: events travel by Kafka between services."""


def feedback(row: Locator, description: str) -> Locator:
    """The department's feedback form of ``row``, filled with the result and a photo."""
    complete = row.locator("form[data-action='complete']")
    complete.locator("input[name='description']").fill(description)
    photo = png((40, 160, 80))
    complete.locator("input[name='evidence']").set_input_files(
        files=[{"name": "after.png", "mimeType": "image/png", "buffer": photo}]
    )
    return complete


def row_on(page: Page, url: str, selector: str, within: float = WITHIN) -> Locator:
    """Open ``url`` and reload until ``selector`` shows: the row of a case that has reached
    this desk."""
    page.goto(url)
    deadline = time.monotonic() + within
    while not page.locator(selector).count():
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} never showed on {url}")
        page.wait_for_timeout(500)
        page.reload()
    return page.locator(selector).first


def submit(form: Locator) -> None:
    """Click the form's button and wait for the service's answer; a refusal fails the test
    with the words the page shows."""
    page = form.page
    handle = form.element_handle()
    form.locator("button[type=submit]").click()
    outcome = page.wait_for_function(
        """form => form.dataset.done === 'true' ? 'done'
            : form.dataset.refused !== undefined ? form.querySelector('.answer').textContent
            : false""",
        arg=handle,
        timeout=WITHIN * 1000,
    ).json_value()
    if outcome != "done":
        raise AssertionError(f"the service refused: {outcome}")
    # On success the page reloads itself, fresh idempotency keys and all.
    page.wait_for_event("load", timeout=10_000)


def case_status(page: Page, console: Any, case_id: str, status: str) -> None:
    """Until the case page shows the case in ``status``."""
    row_on(page, f"{console.url}/cases/{case_id}", f"#case[data-status='{status}']")


def test_a_case_goes_round_the_whole_loop_through_the_console(
    page: Page, phone: Page, console: Any
) -> None:
    desk = console.url
    case_id = file_report(phone, console, DISTRICT)
    screenshot(phone, "supervisor")

    # 受理, with on-site verification asked for.
    console.sign_in(page, DISTRICT, Role.ACCEPTANCE_OPERATOR, "operator-1")
    row = row_on(page, f"{desk}/operator", f"#reported tr[data-case='{case_id}']")
    screenshot(page, "acceptance_operator")
    accept = row.locator("form[data-action='accept']")
    accept.locator("input[name='needs_verification']").check()
    submit(accept)
    row = row_on(page, f"{desk}/operator", f"#to-verify tr[data-case='{case_id}']")
    submit(row.locator("form[data-action='request-verification']"))

    verify(phone, console, DISTRICT, case_id)

    # 立案 under a category of the dictionary.
    console.sign_in(page, DISTRICT, Role.DUTY_CHIEF, "chief-1")
    row = row_on(page, f"{desk}/chief", f"#to-register tr[data-case='{case_id}']")
    register = row.locator("form[data-action='register']")
    register.locator("select[name='category_code']").select_option("06001")
    screenshot(page, "duty_chief")
    submit(register)

    # 派遣 to the department the responsibility matrix suggests.
    console.sign_in(page, DISTRICT, Role.DISPATCHER, "dispatcher-1")
    row = row_on(page, f"{desk}/dispatcher", f"#to-dispatch tr[data-case='{case_id}']")
    assert row.locator("td.suggested").get_attribute("data-department") == DEPARTMENT
    dispatch = row.locator("form[data-action='dispatch']")
    assert dispatch.locator("select[name='department_id']").input_value() == DEPARTMENT
    screenshot(page, "dispatcher")
    submit(dispatch)

    # 签收, then 处置反馈 with a photo of the result.
    console.sign_in(page, DISTRICT, Role.DEPARTMENT, DEPARTMENT)
    task = f"#tasks tr[data-case='{case_id}']"
    row = row_on(page, f"{desk}/department", f"{task}[data-state='awaiting_acceptance']")
    submit(row.locator("form[data-action='accept']"))
    row = row_on(page, f"{desk}/department", f"{task}[data-state='in_hand']")
    complete = feedback(row, "已清理完毕")
    screenshot(page, "department")
    submit(complete)

    check(phone, console, DISTRICT, case_id, passed=True)

    # 结案.
    console.sign_in(page, DISTRICT, Role.DUTY_CHIEF, "chief-1")
    row = row_on(page, f"{desk}/chief", f"#to-close tr[data-case='{case_id}']")
    submit(row.locator("form[data-action='close']"))

    case_status(page, console, case_id, "closed")
    assert page.locator("#case-status").inner_text() == "已结案"
    events = page.locator("#timeline tr[data-event]").evaluate_all(
        "rows => rows.map(r => r.dataset.event)"
    )
    for event in ("case.accepted", "verification.reported", "case.registered"):
        assert event in events
    for event in ("case.dispatched", "disposal.completed", "check.passed", "case.closed"):
        assert event in events
    evidence = page.locator(".photos img")
    assert evidence.count() >= 1
    widths = evidence.evaluate_all("imgs => imgs.map(img => img.complete && img.naturalWidth)")
    assert 8 in widths, f"the department's photo did not load: {widths}"
    screenshot(page, "case")

    # The city's leaders see it closed, as the city-level projection has it.
    console.sign_in(page, CITY, Role.LEADER, "leader-1")
    case_status(page, console, case_id, "closed")
    assert page.locator("#city-view").count() == 1


def test_a_case_forwarded_to_the_city_is_handled_by_the_citys_people(
    page: Page, phone: Page, console: Any
) -> None:
    desk = console.url
    case_id = file_report(phone, console, DISTRICT)

    console.sign_in(page, DISTRICT, Role.ACCEPTANCE_OPERATOR, "operator-1")
    row = row_on(page, f"{desk}/operator", f"#reported tr[data-case='{case_id}']")
    submit(row.locator("form[data-action='accept']"))

    # The district's chief registers it as a city department's and forwards it (转市级).
    console.sign_in(page, DISTRICT, Role.DUTY_CHIEF, "chief-1")
    row = row_on(page, f"{desk}/chief", f"#to-register tr[data-case='{case_id}']")
    register = row.locator("form[data-action='register']")
    register.locator("select[name='category_code']").select_option(CITY_CATEGORY)
    register.locator("select[name='level']").select_option("city")
    submit(register)
    row = row_on(page, f"{desk}/chief", f"#to-forward tr[data-case='{case_id}']")
    forward = row.locator("form[data-action='forward-to-city']")
    forward.locator("input[name='reason']").fill("属市级专业部门处置")
    submit(forward)

    # The city's chief passes it to the city's command centre (批转).
    console.sign_in(page, CITY, Role.DUTY_CHIEF, "chief-1")
    row = row_on(page, f"{desk}/chief", f"#forwarded-in tr[data-case='{case_id}']")
    screenshot(page, "city-duty_chief")
    submit(row.locator("form[data-action='accept-forwarding']"))

    console.sign_in(page, CITY, Role.DISPATCHER, "dispatcher-1")
    row = row_on(page, f"{desk}/dispatcher", f"#to-dispatch tr[data-case='{case_id}']")
    assert row.locator("td.suggested").get_attribute("data-department") == CITY_DEPARTMENT
    submit(row.locator("form[data-action='dispatch']"))

    console.sign_in(page, CITY, Role.DEPARTMENT, CITY_DEPARTMENT)
    task = f"#tasks tr[data-case='{case_id}']"
    row = row_on(page, f"{desk}/department", f"{task}[data-state='awaiting_acceptance']")
    submit(row.locator("form[data-action='accept']"))
    row = row_on(page, f"{desk}/department", f"{task}[data-state='in_hand']")
    submit(feedback(row, "井盖已更换"))

    # The city entrusts the district's supervisor of the grid with the check (委托核查).
    check(phone, console, DISTRICT, case_id, passed=True)

    console.sign_in(page, CITY, Role.DUTY_CHIEF, "chief-1")
    row = row_on(page, f"{desk}/chief", f"#to-close tr[data-case='{case_id}']")
    submit(row.locator("form[data-action='close']"))
    case_status(page, console, case_id, "closed")
    events = page.locator("#timeline tr[data-event]").evaluate_all(
        "rows => rows.map(r => r.dataset.event)"
    )
    assert "forwarding.accepted" in events
    assert "case.closed" in events

    # The district's case file follows the city's progress to the end.
    console.sign_in(page, DISTRICT, Role.DUTY_CHIEF, "chief-1")
    case_status(page, console, case_id, "closed")


def test_the_dashboards_show_open_cases_by_grid_in_the_light_of_their_time_limits(
    page: Page, console: Any
) -> None:
    with Loop(console.levels[DISTRICT]) as loop:
        on_time = dispatched(loop)
        late = dispatched(loop)
        disposal_time_runs_out(loop, late)
        loop.await_event(late, "time_limit.overdue")
    with Loop(console.levels[OTHER_DISTRICT]) as loop:
        elsewhere = dispatched(loop)
    desk = console.url

    # The district's leader: the district's grids, the late case's grid red.
    console.sign_in(page, DISTRICT, Role.LEADER, "leader-1")
    row_on(page, f"{desk}/dashboard", f"#overdue tr[data-case='{late}']")
    assert page.locator(f"#open-cases tr[data-case='{on_time}']").count() == 1
    assert light_of_grid(page, GRID) == "red"
    assert page.locator(f"#grid-map g[data-grid^='{OTHER_DISTRICT}']").count() == 0
    screenshot(page, "leader")

    # The city's: every district's grids, from the city-level projection.
    console.sign_in(page, CITY, Role.LEADER, "leader-1")
    row_on(page, f"{desk}/dashboard", f"#open-cases tr[data-case='{elsewhere}']")
    row_on(page, f"{desk}/dashboard", f"#overdue tr[data-case='{late}']")
    assert light_of_grid(page, GRID) == "red"
    assert light_of_grid(page, OTHER_GRID) == "green"
    assert page.locator(".league[data-subject='district'] img").count() == 1
    screenshot(page, "city-dashboard")


def dispatched(loop: Loop) -> UUID:
    """A case reported, registered and dispatched through the services' APIs: open."""
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    loop.dispatch(case_id)
    return case_id


def disposal_time_runs_out(loop: Loop, case_id: UUID) -> None:
    """The case's disposal clock warns now and runs out in a few seconds: after its dispatch,
    as a real deadline would, so the city's projection, which orders a case's events by when
    they happened, sees it overdue too."""
    loop.sql(
        "dispatch",
        "UPDATE clocks SET warn_at = now(), deadline = now() + interval '3 seconds' "
        "WHERE case_id = %s AND step = 'disposal'",
        case_id,
    )


def light_of_grid(page: Page, grid: str) -> str | None:
    return page.locator(f"#grid-map g[data-grid='{grid}']").get_attribute("data-light")
