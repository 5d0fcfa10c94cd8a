"""The closed loop of one district over real Kafka and PostgreSQL, each service its own process:
the source document's two district flows and every detour the workflow allows."""

from __future__ import annotations

from datetime import datetime, timedelta

from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.flows import PUBLIC_DISTRICT, SUPERVISOR_DISTRICT

from .loop import Loop


def timeline(loop: Loop, stage: str, case_id: object) -> list[str]:
    case = loop.case(stage, case_id)  # type: ignore[arg-type]
    assert case is not None
    return [entry["event_type"] for entry in case["timeline"]]


def test_a_public_report_goes_round_the_loop(loop: Loop) -> None:
    """社会公众 → 受理 → 核实 → 立案 → 派遣 → 处置 → 反馈 → 核查 → 结案."""
    case_id = loop.run_to_close("public")
    for stage in ("intake", "casefile", "dispatch", "disposal", "verification"):
        loop.await_status(stage, case_id, "closed")
    assert timeline(loop, "verification", case_id) == PUBLIC_DISTRICT


def test_supervisor_and_video_reports_skip_verification(loop: Loop) -> None:
    for channel in ("supervisor", "video"):
        case_id = loop.run_to_close(channel)
        loop.await_status("casefile", case_id, "closed")
        assert timeline(loop, "casefile", case_id) == SUPERVISOR_DISTRICT


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
    loop.await_status("dispatch", case_id, "cancelled")
    dispatched = loop.http["dispatch"].post(
        f"/cases/{case_id}/dispatch", json={}, headers=loop.auth(Role.DISPATCHER)
    )
    assert dispatched.status_code == 409


def test_voiding_with_approval(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    loop.dispatch(case_id)
    operator = loop.auth(Role.ACCEPTANCE_OPERATOR)
    loop.post("casefile", f"/cases/{case_id}/void-request", {"reason": "重复立案"}, operator)
    loop.post(
        "casefile", f"/cases/{case_id}/void-decision", {"approve": True}, loop.auth(Role.DUTY_CHIEF)
    )
    for stage in ("dispatch", "disposal", "verification"):
        loop.await_status(stage, case_id, "voided")


def test_return_and_redispatch(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    first = loop.dispatch(case_id)
    loop.await_status("disposal", case_id, "dispatched")
    loop.post(
        "disposal",
        f"/cases/{case_id}/return-request",
        {"reason": "非本单位职责"},
        loop.staff(first),
    )
    loop.await_status("dispatch", case_id, "return_requested")
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
    loop.await_status("casefile", case_id, "closed")


def test_extension(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    department = loop.dispatch(case_id)
    loop.await_status("disposal", case_id, "dispatched")
    staff = loop.staff(department)
    loop.post("disposal", f"/cases/{case_id}/accept", {}, staff)
    deadline = datetime.fromisoformat(
        loop.await_status("disposal", case_id, "in_disposal")["deadline"]
    )
    proposed = (deadline + timedelta(days=3)).isoformat()
    loop.post(
        "disposal",
        f"/cases/{case_id}/extension-request",
        {"proposed_deadline": proposed, "reason": "需订购配件"},
        staff,
    )
    loop.await_status("dispatch", case_id, "extension_requested")
    loop.post(
        "dispatch",
        f"/cases/{case_id}/extension/decide",
        {"approved": True},
        loop.auth(Role.DISPATCHER),
    )
    decided = loop.await_event("disposal", case_id, "extension.decided")
    assert datetime.fromisoformat(decided["payload"]["deadline"]) == datetime.fromisoformat(
        proposed
    )
    assert datetime.fromisoformat(
        loop.await_status("disposal", case_id, "in_disposal")["deadline"]
    ) == datetime.fromisoformat(proposed)


def test_suspension_and_resumption(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    department = loop.dispatch(case_id)
    loop.await_status("disposal", case_id, "dispatched")
    staff = loop.staff(department)
    loop.post("disposal", f"/cases/{case_id}/accept", {}, staff)
    loop.post(
        "disposal", f"/cases/{case_id}/suspension-request", {"reason": "需列入年度工程"}, staff
    )
    loop.await_status("dispatch", case_id, "suspension_requested")
    dispatcher = loop.auth(Role.DISPATCHER)
    loop.post(
        "dispatch", f"/cases/{case_id}/suspension/approve", {"reason": "同意挂账"}, dispatcher
    )
    loop.await_status("disposal", case_id, "suspended")
    loop.post("dispatch", f"/cases/{case_id}/resume", {}, dispatcher)
    resumed = loop.await_event("disposal", case_id, "suspension.resumed")
    assert resumed["payload"]["deadline"]
    loop.await_status("disposal", case_id, "in_disposal")


def test_a_failed_check_sends_the_case_back_to_the_same_department(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    department = loop.dispatch(case_id)
    loop.handle(case_id, department)
    loop.check(case_id, passed=False)
    rework = loop.await_event("dispatch", case_id, "case.reopened_for_rework")
    assert rework["payload"]["department_id"] == department
    loop.handle(case_id, department)
    loop.check(case_id, passed=True)
    loop.close(case_id)
    loop.await_status("casefile", case_id, "closed")
    events = timeline(loop, "casefile", case_id)
    assert events.count("check.failed") == 1
    assert events.count("disposal.completed") == 2


def test_an_overdue_case_turns_red_once(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    loop.dispatch(case_id)
    loop.disposal_time_passes(case_id)
    loop.await_event("casefile", case_id, "time_limit.overdue")
    overdue = loop.await_status("casefile", case_id, "dispatched")
    assert overdue["overdue"] is True
    events = timeline(loop, "dispatch", case_id)
    assert events.count("time_limit.warning") == 1
    assert events.count("time_limit.overdue") == 1


def test_illegal_commands_are_refused_and_change_nothing(loop: Loop) -> None:
    case_id = loop.report()
    loop.accept(case_id)
    loop.register(case_id)
    loop.await_status("verification", case_id, "registered")
    unchecked = loop.http["verification"].post(
        f"/cases/{case_id}/close", json={}, headers=loop.auth(Role.DUTY_CHIEF)
    )
    assert unchecked.status_code == 409
    elsewhere = loop.http["dispatch"].post(
        f"/cases/{case_id}/dispatch", json={}, headers=loop.auth(Role.DISPATCHER, site="370202")
    )
    assert elsewhere.status_code == 403
    malformed = loop.http["dispatch"].post(
        f"/cases/{case_id}/dispatch", json={"department_id": 7}, headers=loop.auth(Role.DISPATCHER)
    )
    assert malformed.status_code == 422
    assert "department_id" in malformed.text
    assert timeline(loop, "verification", case_id) == SUPERVISOR_DISTRICT[:3]
