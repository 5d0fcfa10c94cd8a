"""One valid payload for every event type, and a builder of whole events around them.

Used by the contract tests and as documentation of what each event carries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from cityloop_shared.contract import EVENT_TYPES, Actor, CaseEvent, ChainLink, Role, new_id
from cityloop_shared.contract.registry import payload_model

DEADLINE = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
PHOTO = {"uri": "https://media.cityloop.example/p/1.jpg", "media_type": "image/jpeg"}
CATEGORY = {"standard": "GB/T 47678.5-2026", "kind": "component", "code": "01002"}
GRID = "370212001001001"

PAYLOADS: dict[str, dict[str, Any]] = {
    "case.reported": {
        "channel": "public",
        "category": CATEGORY,
        "description": "污水井盖缺失",
        "location": {
            "point": {"lon": 120.47, "lat": 36.1},
            "address": "香港东路",
            "grid_code": GRID,
        },
        "attachments": [PHOTO],
        "reporter": {"name": "张三", "phone": "13800000000", "email": "z@example.com"},
        "external_id": "open311-42",
    },
    "case.self_handled": {
        "category": CATEGORY,
        "description": "井盖移位，已当场复位",
        "location": {"point": {"lon": 120.47, "lat": 36.1}, "grid_code": GRID},
        "attachments": [PHOTO],
    },
    "case.accepted": {"needs_verification": True, "urgency": "urgent"},
    "verification.requested": {"supervisor_id": "sup-7", "due_at": DEADLINE.isoformat()},
    "verification.reported": {"confirmed": True, "remarks": "属实", "attachments": [PHOTO]},
    "case.registered": {
        "case_number": "370212C010022026112500001",
        "category": CATEGORY,
        "grid_code": GRID,
        "level": "district",
        "urgency": "urgent",
        "time_limit": {"amount": 2, "unit": "working_hours"},
        "channel": "public",
        "deadlines": [
            {"step": "dispatch", "due_at": DEADLINE.isoformat()},
            {"step": "overall", "due_at": DEADLINE.isoformat()},
        ],
    },
    "case.cancelled": {"reason": "不属于城管范围"},
    "void.requested": {"reason": "重复立案"},
    "void.refused": {"reason": "非重复立案"},
    "case.voided": {"reason": "重复立案", "requested_by": "op-1", "approved_by": "chief-1"},
    "case.forwarded_to_city": {
        "city_site": "370200",
        "reason": "市级道路设施",
        "case_number": "370212C010022026112500001",
        "category": CATEGORY,
        "grid_code": GRID,
        "urgency": "urgent",
        "time_limit": {"amount": 2, "unit": "working_hours"},
        "channel": "public",
    },
    "forwarding.accepted": {"remarks": "批转市指挥中心"},
    "forwarding.returned": {"reason": "属区级问题, 由区指挥中心派遣"},
    "case.dispatched": {
        "department_id": "ls-sanitation",
        "suggested_department_id": "ls-sanitation",
        "deadline": DEADLINE.isoformat(),
        "case_number": "370212C010022026112500001",
        "category": CATEGORY,
        "grid_code": GRID,
        "channel": "public",
    },
    "case.redispatched": {
        "department_id": "ls-roads",
        "previous_department_id": "ls-sanitation",
        "deadline": DEADLINE.isoformat(),
        "reason": "权属为道路部门",
    },
    "return.requested": {"reason": "不属于本单位职责"},
    "return.approved": {"reason": "核实属实"},
    "return.refused": {"reason": "属于本单位职责"},
    "extension.requested": {
        "proposed_deadline": (DEADLINE + timedelta(days=2)).isoformat(),
        "reason": "需订购井盖",
    },
    "extension.decided": {"approved": True, "deadline": (DEADLINE + timedelta(days=2)).isoformat()},
    "suspension.requested": {"reason": "需列入年度工程"},
    "suspension.approved": {"reason": "同意挂账"},
    "suspension.refused": {"reason": "可在时限内处置"},
    "suspension.resumed": {"deadline": (DEADLINE + timedelta(days=30)).isoformat()},
    "disposal.accepted": {"department_id": "ls-sanitation"},
    "disposal.completed": {
        "department_id": "ls-sanitation",
        "description": "已更换井盖",
        "evidence": [PHOTO],
    },
    "feedback.forwarded": {
        "remarks": "处置完毕",
        "department_id": "ls-sanitation",
        "case_number": "370212C010022026112500001",
        "category": CATEGORY,
        "grid_code": GRID,
        "channel": "public",
    },
    "check.requested": {"supervisor_id": "sup-7"},
    "check.passed": {"remarks": "已修复"},
    "check.failed": {"reason": "井盖未固定", "attachments": [PHOTO]},
    "case.closed": {},
    "case.reopened_for_rework": {
        "department_id": "ls-sanitation",
        "deadline": DEADLINE.isoformat(),
        "reason": "井盖未固定",
    },
    "time_limit.warning": {"step": "disposal", "deadline": DEADLINE.isoformat()},
    "time_limit.overdue": {"step": "disposal", "deadline": DEADLINE.isoformat()},
    "reminder.sent": {"message": "请尽快处置", "department_id": "ls-sanitation"},
    "supervision.issued": {"message": "督办:逾期未处置"},
    "satisfaction.recorded": {"score": 5},
    "publicity.decided": {"public": True, "reason": "典型案例，向公众展示处置结果"},
}

ACTOR = Actor(id="chief-1", role=Role.DUTY_CHIEF, site="370212")


def example_event(
    event_type: str,
    case_id: UUID | None = None,
    previous: ChainLink | None = None,
) -> CaseEvent:
    return EVENT_TYPES[event_type].create(
        case_id=case_id or new_id(),
        site="370212",
        actor=ACTOR,
        payload=payload_model(event_type).model_validate(PAYLOADS[event_type]),
        previous=previous,
    )
