"""What a field supervisor does on their phone page (/supervisor/), as sync Playwright steps:
file a report, answer a verification, answer a check. Each signs in as a supervisor of the
site first when the page is not already theirs, and waits until the service has answered."""

from __future__ import annotations

import json
import time
from typing import Protocol
from uuid import uuid4

from playwright.sync_api import FilePayload, Page

SUPERVISORS = {"370212": "sv-370212-03", "370202": "sv-370202-01"}
"""The supervisor of the grid each district's cases are reported in by the whole-loop tests
(tests/e2e/loop.py): the one verifications and checks are sent to."""
CATEGORY = "06001"
"""私搭乱建, the category the whole-loop tests report under."""
ANSWER_WITHIN = 60.0
"""How long a step waits for the service's answer to come back to the page."""
TASK_WITHIN = 60.0
"""How long a step waits for a task to reach the supervisor's list (it travels by Kafka)."""


class Console(Protocol):
    url: str

    def sign_in(self, page: Page, site: str, role: str, person: str) -> None: ...


def open_page(page: Page, console: Console, site: str, person: str | None = None) -> None:
    """The supervisor's page, signed in as ``person`` (the site's usual supervisor)."""
    person = person or SUPERVISORS[site]
    if not page.url.startswith(f"{console.url}/supervisor/") or _session(page) != (site, person):
        console.sign_in(page, site, "field_supervisor", person)
        page.goto(f"{console.url}/supervisor/")
    page.wait_for_selector("body[data-ready='true']")


def file_report(
    page: Page,
    console: Console,
    site: str,
    *,
    description: str | None = None,
    photos: list[FilePayload] | None = None,
    wait: bool = True,
) -> str:
    """上报 a new problem in the supervisor's first grid; the id of the case it opened (with
    ``wait=False``, as when offline, the idempotency key of the queued report)."""
    open_page(page, console, site)
    page.click("#tab-report")
    page.select_option("#category", CATEGORY)
    page.fill("#description", description or f"私搭乱建 {uuid4().hex[:8]}")
    if photos:
        page.set_input_files("#photos", files=photos)
    key = _submit(page, "#report", "#file-report")
    return sent_case(page, key) if wait else key


def verify(page: Page, console: Console, site: str, case_id: str, confirmed: bool = True) -> None:
    """核实: the verification task of the case answered as found on site."""
    open_page(page, console, site)
    _answer(page, "verifications", case_id, yes=confirmed, text="现场情况属实")


def check(
    page: Page,
    console: Console,
    site: str,
    case_id: str,
    passed: bool = True,
    *,
    wait: bool = True,
) -> str:
    """核查: the check task of the case answered; the answer's idempotency key."""
    open_page(page, console, site)
    text = "已处置到位" if passed else "仍有垃圾"
    return _answer(page, "checks", case_id, yes=passed, text=text, wait=wait)


def _answer(
    page: Page, list_id: str, case_id: str, *, yes: bool, text: str, wait: bool = True
) -> str:
    page.click("#tab-tasks")
    button = f"#{list_id} li[data-case-id='{case_id}'] button.answer"
    deadline = time.monotonic() + TASK_WITHIN
    while not page.locator(button).count():
        if time.monotonic() > deadline:
            raise AssertionError(f"case {case_id} never reached the supervisor's {list_id}")
        page.click("#refresh")
        page.wait_for_timeout(500)
    page.click(button)
    page.check("#answer-yes" if yes else "#answer-no")
    page.fill("#answer-text", text)
    key = _submit(page, "#answer", "#submit-answer")
    if wait:
        sent_case(page, key)
    return key


def _submit(page: Page, form: str, button: str) -> str:
    """Submit the form; the idempotency key of the action it queued."""
    before = page.get_attribute(form, "data-last-key")
    page.click(button)
    page.wait_for_function(
        "([form, before]) => document.querySelector(form).dataset.lastKey"
        " && document.querySelector(form).dataset.lastKey !== before",
        arg=[form, before],
    )
    key = page.get_attribute(form, "data-last-key")
    assert key is not None
    return key


def sent_case(page: Page, key: str) -> str:
    """Wait until the action queued under ``key`` has been answered; the case id it names.
    A refusal fails with the service's reason."""
    entry = page.wait_for_selector(
        f"#sent li[data-key='{key}']", state="attached", timeout=ANSWER_WITHIN * 1000
    )
    assert entry is not None
    if entry.get_attribute("data-outcome") != "sent":
        raise AssertionError(f"the page's action was refused: {entry.inner_text()}")
    case_id = entry.get_attribute("data-case-id")
    assert case_id, f"the answer to {key} names no case"
    return case_id


def _session(page: Page) -> tuple[str, str] | None:
    found = page.evaluate("() => document.getElementById('session')?.textContent ?? null")
    if not found:
        return None
    session = json.loads(found)
    return session["site"], session["id"]
