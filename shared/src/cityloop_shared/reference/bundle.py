"""All reference data of a site, loaded from one folder and checked as a whole.

The folder holds::

    categories/dictionary.yaml  the category dictionary (and any local extension CSVs)
    grids.geojson               unit grids
    departments.yaml            departments
    responsibility.csv          the responsibility matrix
    supervisors.yaml            field supervisors
    time_limits.yaml            time limits
    calendar.yaml               the working calendar

Each file is validated on its own, then against the others: the matrix names only known
categories and departments, district departments only in their own district, every
supervisor's grid exists and every grid has a supervisor, and every category has a
responsible department in every grid.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cityloop_shared.reference.calendar import WorkingCalendar, load_calendar
from cityloop_shared.reference.categories import CategoryDictionary, load_category_folder
from cityloop_shared.reference.codes import ANY, DEFAULT_CODE_WIDTH
from cityloop_shared.reference.departments import (
    DepartmentDirectory,
    DepartmentLevel,
    load_departments,
)
from cityloop_shared.reference.errors import ReferenceDataError, problem
from cityloop_shared.reference.grids import GridMap, load_grids
from cityloop_shared.reference.responsibility import ResponsibilityMatrix, load_responsibility
from cityloop_shared.reference.supervisors import SupervisorRoster, load_supervisors
from cityloop_shared.reference.time_limits import TimeLimitTable, load_time_limits

DEMO_CITY = Path(__file__).with_name("data") / "demo-qingdao"
"""The shipped demo: 青岛市 (370200) with 市南区, 市北区 and 崂山区."""

CATEGORIES = "categories"
GRIDS = "grids.geojson"
DEPARTMENTS = "departments.yaml"
RESPONSIBILITY = "responsibility.csv"
SUPERVISORS = "supervisors.yaml"
TIME_LIMITS = "time_limits.yaml"
CALENDAR = "calendar.yaml"

PARTS = (
    "categories",
    "grids",
    "departments",
    "responsibility",
    "supervisors",
    "time limits",
    "calendar",
)
"""The parts of a folder, in the order ``ReferenceData.load`` reads them."""

PartLoaded = Callable[[str, int | None], None]
"""Told after each part: its name and how many items it holds (the calendar: its working
sessions), or None when the part was refused or could not be read (the responsibility matrix
without departments)."""

MAX_LISTED_GAPS = 20
"""Coverage gaps listed one by one before the rest are only counted."""

T = TypeVar("T")


@dataclass(frozen=True)
class ReferenceData:
    """The reference data a site runs on (参考数据)."""

    categories: CategoryDictionary
    grids: GridMap
    departments: DepartmentDirectory
    responsibility: ResponsibilityMatrix
    supervisors: SupervisorRoster
    time_limits: TimeLimitTable
    calendar: WorkingCalendar

    @classmethod
    def load(cls, folder: Path, *, on_part: PartLoaded | None = None) -> "ReferenceData":
        """Load and cross-check a folder; one ``ReferenceDataError`` lists every problem found.

        ``on_part`` is told after each part of :data:`PARTS`, in order, so a long load can be
        followed; the cross-checks come after the last part.
        """
        problems: list[str] = []

        def attempt(part: str, load: Callable[[], T | None], size: Callable[[T], int]) -> T | None:
            try:
                loaded = load()
            except ReferenceDataError as exc:
                problems.extend(exc.problems)
                loaded = None
            if on_part is not None:
                on_part(part, None if loaded is None else size(loaded))
            return loaded

        categories = attempt("categories", lambda: load_category_folder(folder / CATEGORIES), len)
        width = categories.code_width if categories else DEFAULT_CODE_WIDTH
        grids = attempt("grids", lambda: load_grids(folder / GRIDS), len)
        departments = attempt("departments", lambda: load_departments(folder / DEPARTMENTS), len)
        responsibility = attempt(
            "responsibility",
            lambda: (
                load_responsibility(folder / RESPONSIBILITY, departments, code_width=width)
                if departments
                else None
            ),
            len,
        )
        supervisors = attempt("supervisors", lambda: load_supervisors(folder / SUPERVISORS), len)
        time_limits = attempt(
            "time limits", lambda: load_time_limits(folder / TIME_LIMITS, code_width=width), len
        )
        calendar = attempt(
            "calendar",
            lambda: load_calendar(folder / CALENDAR),
            lambda calendar: len(calendar.working_hours),
        )
        if (
            problems
            or categories is None
            or grids is None
            or departments is None
            or responsibility is None
            or supervisors is None
            or time_limits is None
            or calendar is None
        ):
            raise ReferenceDataError(problems)
        data = cls(
            categories, grids, departments, responsibility, supervisors, time_limits, calendar
        )
        problems = data.inconsistencies()
        if problems:
            raise ReferenceDataError(problems)
        return data

    @classmethod
    def demo(cls) -> "ReferenceData":
        """The shipped demo city, 青岛市, with three districts."""
        return cls.load(DEMO_CITY)

    @property
    def districts(self) -> tuple[str, ...]:
        """Division codes of the districts that have grids."""
        return self.grids.districts

    @property
    def city_site(self) -> str | None:
        """The city's division code, from its city-level departments (None if it has none)."""
        sites = sorted({d.site for d in self.departments if d.level is DepartmentLevel.CITY})
        return sites[0] if sites else None

    def inconsistencies(self) -> list[str]:
        """Problems between the files (each file on its own is already valid)."""
        return [
            *self._unknown_categories(),
            *self._misplaced_sites(),
            *self._misplaced_rules(),
            *self._supervision_gaps(),
            *self._responsibility_gaps(),
        ]

    def _unknown_categories(self) -> list[str]:
        majors = self.categories.majors()
        selectors = [(RESPONSIBILITY, rule.category) for rule in self.responsibility]
        selectors += [(TIME_LIMITS, limit.category) for limit in self.time_limits]
        return [
            problem(source, None, f"category '{selector}' is not in the category dictionary")
            for source, selector in dict.fromkeys(selectors)
            if selector != ANY and selector not in majors and selector not in self.categories
        ]

    def _misplaced_sites(self) -> list[str]:
        city_sites = sorted({d.site for d in self.departments if d.level is DepartmentLevel.CITY})
        problems = []
        if len(city_sites) > 1:
            text = f"city-level departments name several cities: {', '.join(city_sites)}"
            problems.append(problem(DEPARTMENTS, None, text))
        problems += [
            problem(
                DEPARTMENTS,
                None,
                f"department '{d.id}' is at site {d.site}, a district with no grids",
            )
            for d in self.departments
            if d.level is DepartmentLevel.DISTRICT and d.site not in self.districts
        ]
        problems += [
            problem(GRIDS, None, f"district {district} does not belong to city {city_sites[0]}")
            for district in self.districts
            if city_sites and district[:4] != city_sites[0][:4]
        ]
        return problems

    def _misplaced_rules(self) -> list[str]:
        problems = []
        for rule in self.responsibility:
            department = self.departments[rule.department_id]
            where = f"category '{rule.category}' in area '{rule.area}'"
            if rule.area != ANY and not self.grids.in_area(rule.area):
                problems.append(problem(RESPONSIBILITY, None, f"{where}: the area has no grids"))
            elif department.level is DepartmentLevel.DISTRICT and not (
                rule.area != ANY and rule.area.startswith(department.site)
            ):
                text = (
                    f"{where}: district department '{department.id}' works only in "
                    f"district {department.site}"
                )
                problems.append(problem(RESPONSIBILITY, None, text))
        return problems

    def _supervision_gaps(self) -> list[str]:
        problems = [
            problem(
                SUPERVISORS,
                None,
                f"supervisor '{supervisor.id}' has grid {code}, which is not in {GRIDS}",
            )
            for supervisor in self.supervisors
            for code in supervisor.grid_codes
            if code not in self.grids
        ]
        for grid in self.grids:
            supervisor = self.supervisors.supervisor_for(grid.grid_code)
            if supervisor is None:
                text = f"grid {grid.grid_code} ({grid.name}) has no supervisor"
                problems.append(problem(SUPERVISORS, None, text))
            elif grid.supervisor_ids and supervisor.id not in grid.supervisor_ids:
                text = (
                    f"grid {grid.grid_code} lists supervisor_ids {', '.join(grid.supervisor_ids)} "
                    f"but {SUPERVISORS} gives it to '{supervisor.id}'"
                )
                problems.append(problem(GRIDS, None, text))
        return problems

    def _responsibility_gaps(self) -> list[str]:
        gaps: dict[tuple[str, str], list[str]] = defaultdict(list)
        for grid in self.grids:
            for category in self.categories:
                if self.responsibility.rule_for(category.code, grid.grid_code) is None:
                    gaps[grid.district, category.code].append(grid.grid_code)
        lines = [
            problem(
                RESPONSIBILITY,
                None,
                f"no department for category {code} "
                f"({self._category_name(code)}) in district {district}: "
                f"grids {', '.join(grids[:3])}{' …' if len(grids) > 3 else ''}",
            )
            for (district, code), grids in sorted(gaps.items())
        ]
        if len(lines) > MAX_LISTED_GAPS:
            more = len(lines) - MAX_LISTED_GAPS
            lines = [
                *lines[:MAX_LISTED_GAPS],
                problem(RESPONSIBILITY, None, f"… and {more} more gaps"),
            ]
        return lines

    def _category_name(self, code: str) -> str:
        return " / ".join(c.name for c in self.categories if c.code == code)
