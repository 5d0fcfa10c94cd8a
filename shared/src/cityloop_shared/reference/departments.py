"""Departments (专业部门) that take dispatched cases, with their upper-level departments.

City departments (市专业部门) take dispatches from the city command centre; district units
(区专业单位), street offices (街道办事处) and their sub-units from their district's. An
upper-level department (上级专业部门) watches and urges its subordinates' cases.

Read from YAML (a ``departments:`` list) or CSV with the columns
id, name, level, site, parent_id, kind.
"""

from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from cityloop_shared.reference._sources import Located, csv_rows, validate, yaml_entries
from cityloop_shared.reference.codes import DivisionCode
from cityloop_shared.reference.errors import ReferenceDataError, problem

COLUMNS = ("id", "name", "level", "site", "kind")
OPTIONAL_COLUMNS = ("parent_id",)

DepartmentId = Annotated[str, Field(pattern=r"^[^\s,*]+$")]


class DepartmentLevel(StrEnum):
    CITY = "city"
    """市级: dispatched to by the city command centre."""
    DISTRICT = "district"
    """区级: dispatched to by its district's command centre."""


class DepartmentKind(StrEnum):
    CITY_DEPARTMENT = "city_department"
    """市专业部门."""
    DISTRICT_UNIT = "district_unit"
    """区专业单位."""
    STREET_OFFICE = "street_office"
    """街道办事处."""
    SUB_UNIT = "sub_unit"
    """所辖部门: a unit under one of the above, at its parent's level and site."""


_LEVEL_OF_KIND = {
    DepartmentKind.CITY_DEPARTMENT: DepartmentLevel.CITY,
    DepartmentKind.DISTRICT_UNIT: DepartmentLevel.DISTRICT,
    DepartmentKind.STREET_OFFICE: DepartmentLevel.DISTRICT,
}


class Department(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: DepartmentId
    name: Annotated[str, Field(min_length=1)]
    """Chinese name, e.g. 崂山区城市管理局."""
    level: DepartmentLevel
    site: DivisionCode
    """The division code of the city (level city) or the district (level district)."""
    kind: DepartmentKind
    parent_id: DepartmentId | None = None
    """The upper-level department (上级专业部门), if any."""

    @field_validator("site")
    @classmethod
    def _site_fits_level(cls, value: str, info: ValidationInfo) -> str:
        # GB/T 2260: a city's code ends in 00, its districts' codes do not.
        level = info.data.get("level")
        if level is DepartmentLevel.CITY and not value.endswith("00"):
            raise ValueError("must be a city's division code (ending in 00) for level city")
        if level is DepartmentLevel.DISTRICT and value.endswith("00"):
            raise ValueError("must be a district's division code (not ending in 00)")
        return value

    @field_validator("kind")
    @classmethod
    def _kind_fits_level(cls, value: DepartmentKind, info: ValidationInfo) -> DepartmentKind:
        level = info.data.get("level")
        expected = _LEVEL_OF_KIND.get(value)
        if level is not None and expected is not None and level is not expected:
            raise ValueError(f"is a {expected}-level kind but level is {level}")
        return value


class DepartmentDirectory:
    """All departments of a site, with their hierarchy."""

    def __init__(self, departments: Iterable[Department]) -> None:
        self._departments = tuple(departments)
        self._by_id = {department.id: department for department in self._departments}

    def get(self, department_id: str) -> Department | None:
        return self._by_id.get(department_id)

    def __getitem__(self, department_id: str) -> Department:
        return self._by_id[department_id]

    def parent(self, department_id: str) -> Department | None:
        parent_id = self._by_id[department_id].parent_id
        return self._by_id[parent_id] if parent_id else None

    def children(self, department_id: str) -> tuple[Department, ...]:
        return tuple(d for d in self._departments if d.parent_id == department_id)

    def ancestors(self, department_id: str) -> tuple[Department, ...]:
        """Upper-level departments, nearest first."""
        found: list[Department] = []
        parent = self.parent(department_id)
        while parent is not None:
            found.append(parent)
            parent = self.parent(parent.id)
        return tuple(found)

    def subordinates(self, department_id: str) -> tuple[Department, ...]:
        """Every department below this one, at any depth: whose cases it may view and urge."""
        return tuple(
            d for d in self._departments if self._by_id[department_id] in self.ancestors(d.id)
        )

    def at_site(self, site: str) -> tuple[Department, ...]:
        return tuple(d for d in self._departments if d.site == site)

    def __iter__(self) -> Iterator[Department]:
        return iter(self._departments)

    def __len__(self) -> int:
        return len(self._departments)

    def __contains__(self, department_id: object) -> bool:
        return department_id in self._by_id


def load_departments(path: Path) -> DepartmentDirectory:
    """Departments from ``.yaml``/``.yml`` (a ``departments:`` list) or ``.csv``."""
    records: Sequence[Located]
    if path.suffix.lower() == ".csv":
        records = csv_rows(path, required=COLUMNS, optional=OPTIONAL_COLUMNS)
    else:
        records = yaml_entries(path, "departments")
    departments = validate(Department, path.name, records)
    problems = _hierarchy_problems(path.name, departments)
    if problems:
        raise ReferenceDataError(problems)
    return DepartmentDirectory(department for _, department in departments)


def _hierarchy_problems(source: str, departments: list[tuple[str, Department]]) -> list[str]:
    problems: list[str] = []
    by_id: dict[str, Department] = {}
    first: dict[str, str] = {}
    for where, department in departments:
        if department.id in first:
            problems.append(
                problem(source, where, f"id '{department.id}' repeats {first[department.id]}")
            )
        first.setdefault(department.id, where)
        by_id.setdefault(department.id, department)
    for where, department in departments:
        parent = by_id.get(department.parent_id) if department.parent_id else None
        if department.parent_id and parent is None:
            text = f"parent_id '{department.parent_id}' is not a department in this file"
            problems.append(problem(source, where, text))
        elif department.kind is DepartmentKind.SUB_UNIT and parent is None:
            problems.append(problem(source, where, "parent_id is required for a sub_unit"))
        elif (
            department.kind is DepartmentKind.SUB_UNIT
            and parent is not None
            and (parent.level, parent.site) != (department.level, department.site)
        ):
            text = (
                f"a sub_unit sits at its parent's level and site; parent '{parent.id}' is "
                f"{parent.level} {parent.site}"
            )
            problems.append(problem(source, where, text))
        if _in_cycle(department, by_id):
            problems.append(
                problem(source, where, f"parent_id '{department.parent_id}' makes a cycle")
            )
    return problems


def _in_cycle(department: Department, by_id: dict[str, Department]) -> bool:
    seen = {department.id}
    parent_id = department.parent_id
    while parent_id is not None and parent_id in by_id:
        if parent_id in seen:
            return parent_id == department.id
        seen.add(parent_id)
        parent_id = by_id[parent_id].parent_id
    return False
