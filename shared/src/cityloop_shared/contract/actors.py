"""Who acts on a case: a person in a role at a site, or the system itself."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from .sites import SiteCode


class Role(StrEnum):
    """The roles of ``domain.md`` §3."""

    FIELD_SUPERVISOR = "field_supervisor"
    """信息监督员: reports from the street, verifies (核实) and checks (核查) on site."""
    ACCEPTANCE_OPERATOR = "acceptance_operator"
    """受理员: receives reports, sends verification and check tasks."""
    DUTY_CHIEF = "duty_chief"
    """值班长: registers, cancels, voids, forwards to the city, closes."""
    DISPATCHER = "dispatcher"
    """派遣员: dispatches, approves return, extension and suspension."""
    DEPARTMENT = "department"
    """专业部门: accepts and handles tasks, reports back."""
    UPPER_DEPARTMENT = "upper_department"
    """上级专业部门: watches subordinate departments, sends reminders and supervision."""
    LEADER = "leader"
    """领导: assigns problems, watches progress."""
    PUBLIC = "public"
    """社会公众: reports through hotlines, web or app."""
    SYSTEM = "system"
    """A CityLoop process acting on its own: timers, relays, hand-offs."""


class Actor(BaseModel):
    """An authenticated actor; ``department_id`` is set for department roles."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    role: Role
    site: SiteCode
    department_id: str | None = Field(default=None, max_length=64)

    @classmethod
    def system(cls, site: str, process: str) -> Actor:
        return cls(id=f"system:{process}", role=Role.SYSTEM, site=site)
