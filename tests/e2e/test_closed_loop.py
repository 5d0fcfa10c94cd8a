"""The closed loop of one district over real Kafka and PostgreSQL, each service its own process:
the source document's two district flows and every detour the workflow allows."""

from __future__ import annotations

from datetime import datetime, timedelta

from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.flows import PUBLIC_DISTRICT, SUPERVISOR_DISTRICT

from .loop import Loop


def test_a_public_report_goes_round_the_loop(loop: Loop) -> None:
    """社会公众 → 受理 → 核实 → 立案 → 派遣 → 处置 → 反馈 → 核查 → 结案."""
    case_id = loop.run_to_close("public")
    loop.await_status(case_id, "closed")
    assert loop.timeline(case_id) == PUBLIC_DISTRICT
    # The public sees the end too: intake follows it for the request's Open311 status.
    request = loop.until(
        "the closed Open311 request",
        lambda: next(
            (
                r
                for r in loop.get("intake", f"/open311/v2/requests/{case_id}.json", {}) or []
                if r["status"] == "closed"
            ),
            None,
        ),
    )
    assert request["status_notes"].startswith("已结案")


def test_supervisor_and_video_reports_skip_verification(loop: Loop) -> None:
    for channel in ("supervisor", "video"):
        case_id = loop.run_to_close(channel)
        loop.await_status(case_id, "closed")
        assert loop.timeline(case_id) == SUPERVISOR_DISTRICT


def test_cancellation(loop: Loop) -> None:
    case_id = loop.report("public")
    loop.accept(case_id)
    loop.verify(case_id, confirmed=False)
    refused = loop.http["casefile"].post(
        f"/cases/{case_id}/register",
        json={"category_code": "06001"},
        headers=loop.auth(Role.DUTY_CHIEF),
    )
    assert refused.status_code == 409
    loop.post(
        "casefile",
        f"/cases/{case_id}/cancel",
        {"reason": "现场无此问题"},
        loop.auth(Role.DUTY_CHIEF),
    )
    loop.await_status(case_id, "cancelled")
    dispatched = loop.http["dispatch"].post(
        f"/cases/{case_id}/dispatch", json={}, headers=loop.auth(Role.DISPATCHER)
    )
    # A case never registered never reaches the command centre: it has nothing to dispatch.
    assert dispatched.status_code == 404
    assert "case.dispatched" not in loop.timeline(case_id)


def test_voiding_with_approval(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    department = loop.dispatch(case_id)
    loop.task(case_id, department, "awaiting_acceptance")
    loop.await_event(case_id, "case.dispatched")
    operator = loop.auth(Role.ACCEPTANCE_OPERATOR)
    loop.post("casefile", f"/cases/{case_id}/void-request", {"reason": "重复立案"}, operator)
    loop.post(
        "casefile", f"/cases/{case_id}/void-decision", {"approve": True}, loop.auth(Role.DUTY_CHIEF)
    )
    loop.await_status(case_id, "voided")
    # The department's task ends with the case, and its disposal clock stops.
    loop.task(case_id, department, "closed")
    stopped = loop.until(
        "the stopped disposal clock",
        lambda: (
            loop.sql(
                "dispatch",
                "SELECT stopped_at FROM clocks WHERE case_id = %s AND step = 'disposal' "
                "AND stopped_at IS NOT NULL",
                case_id,
            )
            or None
        ),
    )
    assert stopped
    assert loop.timeline(case_id)[-2:] == ["void.requested", "case.voided"]


def test_return_and_redispatch(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    first = loop.dispatch(case_id)
    loop.task(case_id, first, "awaiting_acceptance")
    loop.post(
        "disposal",
        f"/cases/{case_id}/return-request",
        {"reason": "非本单位职责"},
        loop.staff(first),
    )
    assert loop.queued(case_id, "pending_decisions")["kind"] == "return"
    dispatcher = loop.auth(Role.DISPATCHER)
    loop.post("dispatch", f"/cases/{case_id}/return/approve", {"reason": "属实"}, dispatcher)
    second = "370212-street-003" if first != "370212-street-003" else "370212-sanitation"
    loop.post(
        "dispatch",
        f"/cases/{case_id}/redispatch",
        {"department_id": second, "reason": "改派"},
        dispatcher,
    )
    loop.handle(case_id, second)
    loop.check(case_id)
    loop.close(case_id)
    loop.await_status(case_id, "closed")
    assert loop.task(case_id, first, "returned")["state"] == "returned"


def test_extension(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    department = loop.dispatch(case_id)
    loop.task(case_id, department, "awaiting_acceptance")
    staff = loop.staff(department)
    loop.post("disposal", f"/cases/{case_id}/accept", {}, staff)
    deadline = datetime.fromisoformat(loop.task(case_id, department, "in_hand")["deadline"])
    proposed = (deadline + timedelta(days=3)).isoformat()
    loop.post(
        "disposal",
        f"/cases/{case_id}/extension-request",
        {"proposed_deadline": proposed, "reason": "需订购配件"},
        staff,
    )
    assert loop.queued(case_id, "pending_decisions")["kind"] == "extension"
    loop.post(
        "dispatch",
        f"/cases/{case_id}/extension/decide",
        {"approved": True},
        loop.auth(Role.DISPATCHER),
    )
    decided = loop.await_event(case_id, "extension.decided")
    assert datetime.fromisoformat(decided["payload"]["deadline"]) == datetime.fromisoformat(
        proposed
    )
    moved = loop.until(
        "the department's new deadline",
        lambda: (
            task
            if datetime.fromisoformat(
                (task := loop.task(case_id, department, "in_hand"))["deadline"]
            )
            == datetime.fromisoformat(proposed)
            else None
        ),
    )
    assert moved["pending_request"] is None


def test_suspension_and_resumption(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    department = loop.dispatch(case_id)
    loop.task(case_id, department, "awaiting_acceptance")
    staff = loop.staff(department)
    loop.post("disposal", f"/cases/{case_id}/accept", {}, staff)
    loop.post(
        "disposal", f"/cases/{case_id}/suspension-request", {"reason": "需列入年度工程"}, staff
    )
    assert loop.queued(case_id, "pending_decisions")["kind"] == "suspension"
    dispatcher = loop.auth(Role.DISPATCHER)
    loop.post(
        "dispatch", f"/cases/{case_id}/suspension/approve", {"reason": "同意挂账"}, dispatcher
    )
    loop.task(case_id, department, "suspended")
    loop.post("dispatch", f"/cases/{case_id}/resume", {}, dispatcher)
    resumed = loop.await_event(case_id, "suspension.resumed")
    assert resumed["payload"]["deadline"]
    loop.task(case_id, department, "in_hand")


def test_a_failed_check_sends_the_case_back_to_the_same_department(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    department = loop.dispatch(case_id)
    loop.handle(case_id, department)
    loop.check(case_id, passed=False)
    rework = loop.await_event(case_id, "case.reopened_for_rework")
    assert rework["payload"]["department_id"] == department
    loop.handle(case_id, department)
    loop.check(case_id, passed=True)
    loop.close(case_id)
    loop.await_status(case_id, "closed")
    events = loop.timeline(case_id)
    assert events.count("check.failed") == 1
    assert events.count("disposal.completed") == 2


def test_an_overdue_case_turns_red_once(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    loop.dispatch(case_id)
    loop.disposal_time_passes(case_id)
    loop.await_event(case_id, "time_limit.overdue")
    overdue = loop.await_status(case_id, "dispatched")
    assert overdue["overdue"] is True
    events = loop.timeline(case_id)
    assert events.count("time_limit.warning") == 1
    assert events.count("time_limit.overdue") == 1
    # Dispatch scans its clocks every 0.3 s: by the time every stage is still, it has scanned
    # the spent clock many times more, and neither decided nor sent a signal again.
    loop.settle()
    decided = loop.sql(
        "dispatch", "SELECT event_type FROM journal WHERE case_id = %s ORDER BY sequence", case_id
    )
    assert decided == [("case.dispatched",), ("time_limit.warning",), ("time_limit.overdue",)]
    events = loop.timeline(case_id)
    assert events.count("time_limit.warning") == 1
    assert events.count("time_limit.overdue") == 1


def test_illegal_commands_are_refused_and_change_nothing(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    department = loop.dispatch(case_id)
    loop.handle(case_id, department)
    loop.check_task(case_id)
    unchecked = loop.http["verification"].post(
        f"/cases/{case_id}/close", json={}, headers=loop.auth(Role.DUTY_CHIEF)
    )
    assert unchecked.status_code == 409
    assert "case.closed" in unchecked.json()["detail"]
    elsewhere = loop.http["disposal"].post(
        f"/cases/{case_id}/complete",
        json={
            "description": "已处理",
            "evidence": [{"uri": "https://x.example/p.jpg", "media_type": "image/jpeg"}],
        },
        headers=loop.auth(Role.DEPARTMENT, site="370202", department=department),
    )
    assert elsewhere.status_code == 401  # another district's issuer is not trusted
    malformed = loop.http["verification"].post(
        f"/cases/{case_id}/check",
        json={"passed": "perhaps"},
        headers=loop.auth(Role.FIELD_SUPERVISOR, id="sv-370212-03"),
    )
    assert malformed.status_code == 422
    assert "passed" in malformed.text
    loop.await_event(case_id, "check.requested")
    assert loop.timeline(case_id) == SUPERVISOR_DISTRICT[:8]
