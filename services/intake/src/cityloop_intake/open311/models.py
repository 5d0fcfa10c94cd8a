"""What GeoReport clients send, and how categories and cases look to them.

Services are the categories of the site's dictionary; requests are the cases shown to the
public, with their status folded to ``open`` or ``closed`` (:mod:`.statuses`). Nothing
personal leaves through Open311: no reporter's name, phone or email is ever part of an
answer, and no member of staff is ever named.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import AnyUrl, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from cityloop_intake.open311.settings import Open311Settings
from cityloop_intake.open311.statuses import PUBLIC_STATUSES, OpenOrClosed
from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.contract.lifecycle import CaseStatus
from cityloop_shared.contract.values import ReportChannel
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.categories import Category, CategoryDictionary

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


def service_request(
    reference: ReferenceData,
    row: Mapping[str, Any],
    settings: Open311Settings,
    *,
    own: bool = False,
) -> dict[str, Any]:
    """One entry of GET requests from a row of intake's ``reports``, as the public reads it,
    or (``own``) as its reporter reads it with the request's token.

    The public reads a public report's own words and photo; of a case the centre showed from
    its own channels (a supervisor's, a video patrol's, a leader's) only the category: the
    staff's words and photos stay inside. Any request is placed by the name of its unit grid
    and its point rounded to ``coordinate_decimals``, since a typed address or an exact point
    may be somebody's home; its reporter reads the address and point they gave. The
    department responsible is named only where the site says so (``show_departments``).
    """
    shown = PUBLIC_STATUSES[CaseStatus(row["status"])]
    category = _current_category(reference.categories, row)
    department = reference.departments.get(row["department_id"] or "")
    grid = reference.grids.get(row["grid_code"])
    zone = reference.calendar.zone
    notes = shown.notes
    if row["case_number"]:
        notes += f"（案卷号 {row['case_number']}）"
    reporters_own = own or row["channel"] == ReportChannel.PUBLIC.value
    digits = None if own else settings.coordinate_decimals
    return {
        "service_request_id": str(row["case_id"]),
        "status": shown.status,
        "status_notes": notes,
        "service_name": category.name if category else None,
        "service_code": service_code(reference.categories, category) if category else None,
        "description": row["description"] if reporters_own else None,
        "agency_responsible": department.name if department and settings.show_departments else None,
        "service_notice": None,
        "requested_datetime": w3c(row["reported_at"], zone),
        "updated_datetime": w3c(row["last_occurred_at"], zone),
        "expected_datetime": w3c(row["deadline"], zone) if row["deadline"] else None,
        "address": (row["address"] if own else None) or (grid.name if grid else None),
        "lat": _rounded(row["lat"], digits),
        "long": _rounded(row["lon"], digits),
        "media_url": row["media_url"] if reporters_own else None,
    }


def _rounded(degrees: float | None, digits: int | None) -> float | None:
    if degrees is None or digits is None:
        return degrees
    return round(degrees, digits)


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
