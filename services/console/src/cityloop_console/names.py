"""Names behind the codes pages show: categories, grids, departments, time limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from cityloop_shared.contract.values import ClockStep
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.categories import Category


@dataclass(frozen=True)
class Minor:
    code: str
    name: str
    limit_amount: str
    limit_unit: str


@dataclass(frozen=True)
class Major:
    code: str
    name: str
    kind: str
    minors: list[Minor] = field(default_factory=list)


class Names:
    def __init__(self, reference: ReferenceData) -> None:
        self._reference = reference
        self._categories: dict[str, Category] = {c.code: c for c in reference.categories}
        self._grids = {g.grid_code: g.name for g in reference.grids}

    def category(self, code: str | None) -> str:
        found = self._categories.get(code or "")
        return f"{code} {found.name}" if found else (code or "")

    def grid(self, code: str | None) -> str:
        return self._grids.get(code or "", code or "")

    def department(self, department_id: str | None) -> str:
        found = self._reference.departments.get(department_id or "")
        return found.name if found else (department_id or "")

    def departments_of(self, site: str) -> list[tuple[str, str]]:
        """The departments a site's command centre dispatches to: its own level's."""
        return [(d.id, d.name) for d in self._reference.departments if d.site == site]

    def dictionary(self) -> list[Major]:
        """The category dictionary by major (大类), each minor (小类) with its disposal time
        limit (处置时限) for an ordinary case."""
        majors: dict[str, Major] = {}
        limits = self._reference.time_limits
        for category in self._categories.values():
            major = majors.setdefault(
                category.major_code,
                Major(category.major_code, category.major_name, category.kind.value),
            )
            limit = limits.limit_for(ClockStep.DISPOSAL, category.code)
            major.minors.append(
                Minor(category.code, category.name, f"{limit.amount:g}", limit.unit.value)
            )
        return [majors[code] for code in sorted(majors)]
