"""Value types that event payloads share."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    AnyUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
)

from .ids import CaseKind

PERSONAL: dict[str, JsonValue] = {"x-personal": True}
"""Marks a field that holds, or as free text or a photo may hold, personal data of the public
(a reporter's name, phone, home): the analysts' stream leaves it out (:mod:`.analytics`)."""

GridCode = Annotated[str, StringConstraints(pattern=r"^\d{15}$")]
"""单元网格 code: 6-digit division + 3-digit street + 3-digit community + 3-digit sequence."""

CategoryCode = Annotated[str, StringConstraints(pattern=r"^\d{4,5}$")]
"""Category code: 5 digits in GB/T 47678.5-2026, 4 digits in the older GB/T 30428.2."""

DepartmentId = Annotated[str, StringConstraints(min_length=1, max_length=64)]

Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PersonalData(Value):
    """Base of every payload part that holds personal data of the public.

    Redaction replaces each such part with ``None``, so analysts' streams never carry it.
    """


class PublicReporter(PersonalData):
    """A member of the public who reported a problem (name, phone, email are personal data)."""

    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)


class GeoPoint(Value):
    """WGS 84 longitude and latitude."""

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class Location(Value):
    point: GeoPoint | None = Field(default=None, json_schema_extra=PERSONAL)
    address: str | None = Field(default=None, max_length=500, json_schema_extra=PERSONAL)
    grid_code: GridCode


class Attachment(Value):
    """A photo, audio or video clip stored elsewhere and referenced here."""

    uri: AnyUrl
    media_type: str = Field(min_length=3, max_length=100)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None


class Category(Value):
    """A category of the versioned dictionary, keyed by (standard, kind, code)."""

    standard: str = Field(min_length=1, max_length=64)
    kind: CaseKind
    code: CategoryCode


class ReportChannel(StrEnum):
    """The four channels of information collection (信息采集)."""

    SUPERVISOR = "supervisor"
    """信息监督员上报."""
    VIDEO = "video"
    """实时视频摄像监控."""
    PUBLIC = "public"
    """公众举报: hotline, web, app, Open311."""
    LEADER = "leader"
    """上级交办 / 领导交办."""


class CaseLevel(StrEnum):
    """Whether a district or a city department is responsible (区级 / 市级)."""

    DISTRICT = "district"
    CITY = "city"


class TimeUnit(StrEnum):
    WORKING_MINUTES = "working_minutes"
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"


class TimeLimit(Value):
    """A 时限 on the working calendar."""

    amount: int = Field(gt=0, le=100_000)
    unit: TimeUnit


class ClockStep(StrEnum):
    """The steps whose time limits (环节时限) the system watches."""

    ACCEPTANCE = "acceptance"
    """受理."""
    VERIFICATION = "verification"
    """核实."""
    REGISTRATION = "registration"
    """立案."""
    FORWARDING = "forwarding"
    """转市级: a case registered as a city department's, until the district forwards it."""
    CITY_ACCEPTANCE = "city_acceptance"
    """市值班长受理: a forwarded case, until the city duty chief passes it on or back."""
    DISPATCH = "dispatch"
    """派遣."""
    DISPOSAL = "disposal"
    """处置: from dispatch to the department's completion report."""
    CHECK = "check"
    """核查."""
    OVERALL = "overall"
    """整体时限: the whole case, from registration to closure; judged by evaluation, with the
    time the case stood suspended left out, and watched by no clock."""


class Deadline(Value):
    """A step's deadline, as the stage that started the step's clock computed it: with it in
    the event, whether the step ended on time is judged from events alone."""

    step: ClockStep
    due_at: AwareDatetime
    provisional: bool = Field(
        default=False,
        description="Computed past the years the working calendar covers, on weekdays",
    )


class Urgency(StrEnum):
    ORDINARY = "ordinary"
    URGENT = "urgent"
