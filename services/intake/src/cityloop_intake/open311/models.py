"""What GeoReport clients send, and how categories and cases look to them.

Services are the categories of the site's dictionary; requests are cases, with their status
folded to ``open`` or ``closed``. Nothing personal leaves through Open311: no reporter's
name, phone or email is ever part of an answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import AnyUrl, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.contract.lifecycle import TERMINAL, CaseStatus
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.categories import Category, CategoryDictionary

S = CaseStatus

STATUS_NOTES: Mapping[CaseStatus, str] = {
    S.REPORTED: "已上报，等待受理",
    S.ACCEPTED: "已受理",
    S.VERIFYING: "监督员正在现场核实",
    S.VERIFIED: "已核实，等待立案",
    S.REGISTERED: "已立案，等待派遣",
    S.FORWARDED_TO_CITY: "已立案，转市级处理",
    S.WITH_CITY_COMMAND: "市级已受理，等待派遣",
    S.DISPATCHED: "已派遣至专业部门",
    S.RETURN_REQUESTED: "专业部门申请回退，等待审核",
    S.AWAITING_REDISPATCH: "等待改派",
    S.IN_DISPOSAL: "专业部门正在处置",
    S.EXTENSION_REQUESTED: "专业部门正在处置（申请延期）",
    S.SUSPENSION_REQUESTED: "专业部门正在处置（申请挂账）",
    S.SUSPENDED: "已挂账，暂缓处置",
    S.DISPOSED: "处置完成，等待核查",
    S.FEEDBACK_FORWARDED: "处置完成，等待核查",
    S.CHECKING: "监督员正在现场核查",
    S.CHECK_PASSED: "核查通过，等待结案",
    S.REWORK: "核查未通过，返工处置",
    S.CLOSED: "已结案",
    S.CANCELLED: "不予立案",
    S.VOIDED: "已作废",
    S.SELF_HANDLED: "监督员已当场处置（自处理）",
}
"""What a status means to the person who reported, shown as ``status_notes``."""

KIND_NAMES = {CaseKind.COMPONENT: "部件", CaseKind.EVENT: "事件"}


class ServiceRequestForm(BaseModel):
    """The fields of POST requests (form-encoded), less ``api_key``.

    ``address_string`` and ``address_id`` are accepted but do not locate a report on their
    own: there is no geocoder here, so ``lat`` and ``long`` are required.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    jurisdiction_id: str | None = Field(default=None, max_length=100)
    service_code: str = Field(min_length=1, max_length=32)
    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    address_string: str | None = Field(default=None, max_length=500)
    address_id: str | None = Field(default=None, max_length=128)
    email: str | None = Field(default=None, max_length=200)
    device_id: str | None = Field(default=None, max_length=128)
    account_id: str | None = Field(default=None, max_length=128)
    # "first last" must fit the reporter's name of at most 100 characters.
    first_name: str | None = Field(default=None, max_length=49)
    last_name: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=40)
    description: str | None = Field(default=None, max_length=4000)
    media_url: AnyUrl | None = Field(default=None, max_length=2000)


OpenOrClosed = Literal["open", "closed"]


class RequestsQuery(BaseModel):
    """The arguments of GET requests; lists are comma-delimited, as the spec says.

    Other arguments are ignored: clients add their own (an api_key, a cache buster).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    jurisdiction_id: str | None = None
    service_request_id: tuple[UUID, ...] = ()
    service_code: tuple[str, ...] = ()
    start_date: AwareDatetime | None = None
    end_date: AwareDatetime | None = None
    status: tuple[OpenOrClosed, ...] = ()

    @field_validator("service_request_id", "service_code", "status", mode="before")
    @classmethod
    def _comma_delimited(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


def service_code(categories: CategoryDictionary, category: Category) -> str:
    """The category code; prefixed with its kind only where a 4-digit list uses the code twice."""
    try:
        categories.get(category.code)
    except ValueError:
        return f"{category.kind.value}-{category.code}"
    return category.code


def service_category(categories: CategoryDictionary, code: str) -> Category | None:
    """The category a service code names, or ``None``."""
    kind, _, bare = code.rpartition("-")
    try:
        return categories.get(bare, CaseKind(kind) if kind else None)
    except ValueError:
        return None


def service(categories: CategoryDictionary, category: Category) -> dict[str, Any]:
    """One entry of GET services: no service asks for more than the common fields."""
    kind = KIND_NAMES[category.kind]
    return {
        "service_code": service_code(categories, category),
        "service_name": category.name,
        "description": f"{category.name}（{kind}，{category.major_name}，"
        f"{category.standard} {category.code}）",
        "metadata": False,
        "type": "realtime",
        "keywords": f"{kind}, {category.major_name}, {category.name}",
        "group": category.major_name,
    }


def service_request(reference: ReferenceData, row: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of GET requests from a row of intake's ``reports``."""
    status = CaseStatus(row["status"])
    category = _current_category(reference.categories, row)
    department = reference.departments.get(row["department_id"] or "")
    grid = reference.grids.get(row["grid_code"])
    zone = reference.calendar.zone
    notes = STATUS_NOTES.get(status, status.value)
    if row["case_number"]:
        notes += f"（案卷号 {row['case_number']}）"
    return {
        "service_request_id": str(row["case_id"]),
        "status": "closed" if status in TERMINAL else "open",
        "status_notes": notes,
        "service_name": category.name if category else None,
        "service_code": service_code(reference.categories, category) if category else None,
        "description": row["description"],
        "agency_responsible": department.name if department else None,
        "service_notice": None,
        "requested_datetime": w3c(row["reported_at"], zone),
        "updated_datetime": w3c(row["last_occurred_at"], zone),
        "expected_datetime": w3c(row["deadline"], zone) if row["deadline"] else None,
        "address": row["address"] or (grid.name if grid else None),
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": row["media_url"],
    }


def _current_category(categories: CategoryDictionary, row: Mapping[str, Any]) -> Category | None:
    """The case's category now (registration may have set or changed it)."""
    code = row["category_code"]
    if code is None:
        return None
    kind = CaseKind(row["category_kind"]) if row["category_kind"] else None
    try:
        return categories.get(code, kind)
    except ValueError:
        return None


def w3c(moment: datetime, zone: ZoneInfo) -> str:
    """A W3C date-time with its offset, in the site's time zone (e.g. +08:00)."""
    return moment.astimezone(zone).isoformat(timespec="seconds")
