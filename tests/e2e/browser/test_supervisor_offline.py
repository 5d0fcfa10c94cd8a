"""A field supervisor works offline on their phone: what they do is kept on the phone, the
page still opens, and when the network returns each action reaches the services once, with
the idempotency key made when it was taken. Headless Chromium emulating a phone, against two
districts and the city each on Kafka and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID, uuid4

import pytest
from playwright.sync_api import Page

from cityloop_shared.contract.actors import Role
from tests.e2e.loop import Loop

from .photos import png
from .supervisor_steps import SUPERVISORS, check, file_report, open_page, verify

pytestmark = pytest.mark.integration

SITE = "370212"
GRID = "370212003001001"
"""The first grid of the site's supervisor, where the page files their report."""
SENT_WITHIN = 90.0


def photo() -> bytes:
    return png((200, 60, 40))


def awaiting_check(loop: Loop) -> UUID:
    """A case driven through the services' APIs until it waits for the supervisor's check."""
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    department = loop.dispatch(case_id)
    loop.handle(case_id, department)
    loop.check_task(case_id)
    return case_id


def reports_described(loop: Loop, description: str) -> list[str]:
    """The cases of the site's case file whose report says ``description``."""
    chief = loop.auth(Role.DUTY_CHIEF)
    listed = loop.get("casefile", "/cases", chief, grid_code=GRID, limit=500) or {"cases": []}
    found = []
    for row in listed["cases"]:
        case = loop.case(UUID(row["case_id"])) or {"timeline": []}
        if any(description == payload.get("description") for payload in reports(case)):
            found.append(row["case_id"])
    return found


def reports(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The payloads of the case's report events."""
    return [e["payload"] for e in case["timeline"] if e["event_type"] == "case.reported"]


def the_log(page: Page) -> list[dict[str, Any]]:
    """The page's log of answered actions, oldest first, as the outbox keeps it."""
    entries: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const db = await new Promise((ok, no) => {
                const open = indexedDB.open("cityloop-supervisor");
                open.onsuccess = () => ok(open.result);
                open.onerror = () => no(open.error);
            });
            const all = await new Promise((ok) => {
                const read = db.transaction("log").objectStore("log").getAll();
                read.onsuccess = () => ok(read.result);
            });
            db.close();
            return all.sort((a, b) => a.seq - b.seq);
        }"""
    )
    return entries


def send_again(page: Page, keys: list[str]) -> None:
    """Put the answered actions back in the outbox as they were sent — same keys, same
    bodies — as a phone does that never got the answers, and let the page send them."""
    page.evaluate(
        """async (keys) => {
            const db = await new Promise((ok, no) => {
                const open = indexedDB.open("cityloop-supervisor");
                open.onsuccess = () => ok(open.result);
                open.onerror = () => no(open.error);
            });
            const log = await new Promise((ok) => {
                const read = db.transaction("log").objectStore("log").getAll();
                read.onsuccess = () => ok(read.result);
            });
            const tx = db.transaction("outbox", "readwrite");
            for (const entry of log.filter((e) => keys.includes(e.key))) {
                const { seq, outcome, status, answer, reason, answeredAt, ...action } = entry;
                tx.objectStore("outbox").add({ ...action, photos: [], uploaded: [] });
            }
            await new Promise((ok) => { tx.oncomplete = ok; });
            db.close();
        }""",
        keys,
    )
    page.click("#tab-outbox")
    page.click("#send-now")


def answered_twice(page: Page) -> list[dict[str, Any]] | None:
    """The page's log once it holds two answers to each of the two actions (this phone's
    browser is new: the log holds nothing else)."""
    log = the_log(page)
    return log if len(log) == 4 else None


def queued(page: Page) -> int:
    return int(page.inner_text("#queued"))


def wait_until_sent(page: Page) -> None:
    page.wait_for_function(
        "() => document.getElementById('queued').textContent === '0'",
        timeout=SENT_WITHIN * 1000,
    )


def test_what_a_supervisor_does_offline_reaches_the_services_once(
    console: Any, phone: Page
) -> None:
    with Loop(console.levels[SITE]) as loop:
        case_id = awaiting_check(loop)
        context = phone.context

        # Online first: the page is installed (its service worker controls it) and the
        # supervisor's tasks are read, the case to check among them.
        open_page(phone, console, SITE, SUPERVISORS[SITE])
        phone.wait_for_function("() => navigator.serviceWorker.controller !== null")
        phone.click("#refresh")
        phone.wait_for_selector(
            f"#checks li[data-case-id='{case_id}'] button.answer", timeout=SENT_WITHIN * 1000
        )

        context.set_offline(True)
        phone.wait_for_selector("#network[data-state='offline']")
        description = f"私搭乱建 {uuid4().hex[:8]}"
        image = photo()
        report_key = file_report(
            phone,
            console,
            SITE,
            description=description,
            photos=[{"name": "photo.png", "mimeType": "image/png", "buffer": image}],
            wait=False,
        )
        check_key = check(phone, console, SITE, str(case_id), wait=False)
        assert queued(phone) == 2

        # Still offline, the page opens again, from the service worker, with its outbox.
        reopened = phone.reload()
        assert reopened is not None
        assert reopened.from_service_worker
        phone.wait_for_selector("body[data-ready='true']")
        assert queued(phone) == 2
        waiting = phone.locator("#queue li").evaluate_all("items => items.map(i => i.dataset.key)")
        assert waiting == [report_key, check_key]
        assert phone.locator(f"#checks li[data-case-id='{case_id}'].answered").count() == 1
        # Nothing has reached the services.
        assert loop.check_task(case_id)["result"] is None
        assert reports_described(loop, description) == []

        context.set_offline(False)
        wait_until_sent(phone)

        first = {entry["key"]: entry for entry in the_log(phone)}
        assert [first[key]["outcome"] for key in (report_key, check_key)] == ["sent", "sent"]
        reported = loop.until(
            "the report filed offline in the case file",
            lambda: reports_described(loop, description) or None,
        )
        assert reported == [first[report_key]["caseId"]]
        loop.await_status(case_id, "check_passed")
        assert loop.timeline(case_id).count("check.passed") == 1

        # The photo taken offline went up first, and the report carries it.
        report = loop.case(UUID(reported[0]))
        assert report is not None
        (attachment,) = reports(report)[0]["attachments"]
        assert attachment["media_type"] == "image/png"
        assert context.request.get(attachment["uri"]).body() == image

        # The same actions sent again, same keys: the first answers come back, nothing else.
        send_again(phone, [report_key, check_key])
        again = loop.until(
            "the answers to the actions sent again",
            lambda: answered_twice(phone),
            within=SENT_WITHIN,
        )
        assert [entry["key"] for entry in again] == [report_key, check_key] * 2
        assert [entry["outcome"] for entry in again] == ["sent"] * 4
        assert [entry["answer"] for entry in again[2:]] == [
            first[report_key]["answer"],
            first[check_key]["answer"],
        ]
        time.sleep(3)  # what a second application would have sent travels by Kafka
        assert reports_described(loop, description) == reported
        assert loop.timeline(case_id).count("check.passed") == 1
        loop.await_status(case_id, "check_passed", within=1)


def test_the_supervisors_steps_report_verify_and_check_through_the_page(
    console: Any, phone: Page
) -> None:
    """The steps the whole-loop test takes, online: each reaches its service and moves the
    case as the supervisor meant."""
    with Loop(console.levels[SITE]) as loop:
        to_verify = loop.report("public")
        loop.accept(to_verify)
        operator = loop.auth(Role.ACCEPTANCE_OPERATOR)
        loop.post("casefile", f"/cases/{to_verify}/verification/request", {}, operator)
        to_check = awaiting_check(loop)

        reported = file_report(phone, console, SITE)
        verify(phone, console, SITE, str(to_verify))
        check(phone, console, SITE, str(to_check), passed=False)

        assert loop.await_status(UUID(reported), "reported")["channel"] == "supervisor"
        verified = loop.await_event(to_verify, "verification.reported")
        assert verified["payload"]["confirmed"] is True
        assert verified["actor_id"] == SUPERVISORS[SITE]
        failed = loop.await_event(to_check, "check.failed")
        assert failed["payload"]["reason"] == "仍有垃圾"
