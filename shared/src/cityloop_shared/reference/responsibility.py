"""The responsibility matrix (责任矩阵): which department handles a category in an area.

A CSV with the columns category, area, department_id. ``category`` is a full code, a 2-digit
major or ``*``; ``area`` is a grid code prefix (6 district, 9 street, 12 community or 15 grid
digits) or ``*``. The most specific row wins: the longest area first, then an exact code over
a major over ``*``. Two rows equally specific for the same case would leave the dispatcher
guessing, so they refuse the file. Rows starting with ``#`` are comments.
"""

from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from cityloop_shared.reference._sources import csv_rows, validate
from cityloop_shared.reference.codes import (
    ANY,
    DEFAULT_CODE_WIDTH,
    Area,
    CategorySelector,
    GridCode,
    selector_rank,
    selectors_for,
)
from cityloop_shared.reference.departments import Department, DepartmentDirectory
from cityloop_shared.reference.errors import ReferenceDataError, problem

COLUMNS = ("category", "area", "department_id")


class ResponsibilityRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    category: CategorySelector
    area: Area
    department_id: str

    @property
    def specificity(self) -> tuple[int, int]:
        """(area digits, category rank): larger is more specific."""
        return (0 if self.area == ANY else len(self.area), selector_rank(self.category))


class ResponsibilityMatrix:
    """Rules resolving (category, grid) to the responsible department."""

    def __init__(self, rules: tuple[ResponsibilityRule, ...], departments: DepartmentDirectory):
        self.rules = rules
        self.departments = departments
        self._by_key = {(rule.area, rule.category): rule for rule in rules}

    def rule_for(self, category_code: str, grid_code: str) -> ResponsibilityRule | None:
        """The most specific rule for a category in a grid, or ``None`` when none applies."""
        for area in GridCode.parse(grid_code).areas():
            for selector in selectors_for(category_code):
                rule = self._by_key.get((area, selector))
                if rule is not None:
                    return rule
        return None

    def responsible_department(self, category_code: str, grid_code: str) -> Department | None:
        """The department responsible for a category in a grid (None: no rule covers it)."""
        rule = self.rule_for(category_code, grid_code)
        return self.departments[rule.department_id] if rule else None

    def __iter__(self) -> Iterator[ResponsibilityRule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)


def load_responsibility(
    path: Path, departments: DepartmentDirectory, *, code_width: int = DEFAULT_CODE_WIDTH
) -> ResponsibilityMatrix:
    """The matrix from CSV; every department id must be in ``departments``."""
    source = path.name
    rows = csv_rows(path, required=COLUMNS)
    rules = validate(ResponsibilityRule, source, rows, context={"code_width": code_width})
    problems: list[str] = []
    first: dict[tuple[str, str], str] = {}
    for where, rule in rules:
        if rule.department_id not in departments:
            text = f"department_id '{rule.department_id}' is not a known department"
            problems.append(problem(source, where, text))
        key = (rule.area, rule.category)
        if key in first:
            text = (
                f"category '{rule.category}' in area '{rule.area}' is already assigned by "
                f"{first[key]}: equally specific rows are ambiguous"
            )
            problems.append(problem(source, where, text))
        first.setdefault(key, where)
    if problems:
        raise ReferenceDataError(problems)
    return ResponsibilityMatrix(tuple(rule for _, rule in rules), departments)
