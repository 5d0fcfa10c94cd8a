"""Reference data (参考数据) operators load from files: categories, grids, departments,
responsibility, supervisors, time limits and the working calendar. Every loader validates on
load and refuses a file whole with one ``ReferenceDataError`` naming file, record and field.

See ``docs/reference-data.md`` for the file formats.
"""

from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.contract.values import ClockStep, TimeUnit, Urgency
from cityloop_shared.reference.bundle import DEMO_CITY, ReferenceData
from cityloop_shared.reference.calendar import (
    OfficialYear,
    WorkingCalendar,
    WorkingSession,
    load_calendar,
)
from cityloop_shared.reference.categories import (
    GB_T_47678_5,
    Category,
    CategoryDictionary,
    Edition,
    load_categories,
    load_category_folder,
)
from cityloop_shared.reference.codes import ANY, GridCode
from cityloop_shared.reference.departments import (
    Department,
    DepartmentDirectory,
    DepartmentKind,
    DepartmentLevel,
    load_departments,
)
from cityloop_shared.reference.durations import WorkingDuration
from cityloop_shared.reference.errors import ReferenceDataError
from cityloop_shared.reference.grids import Grid, GridMap, load_grids
from cityloop_shared.reference.responsibility import (
    ResponsibilityMatrix,
    ResponsibilityRule,
    load_responsibility,
)
from cityloop_shared.reference.supervisors import Supervisor, SupervisorRoster, load_supervisors
from cityloop_shared.reference.time_limits import (
    TimeLimit,
    TimeLimitTable,
    load_time_limits,
)

__all__ = [
    "ANY",
    "DEMO_CITY",
    "GB_T_47678_5",
    "CaseKind",
    "Category",
    "CategoryDictionary",
    "ClockStep",
    "Department",
    "DepartmentDirectory",
    "DepartmentKind",
    "DepartmentLevel",
    "Edition",
    "Grid",
    "GridCode",
    "GridMap",
    "OfficialYear",
    "ReferenceData",
    "ReferenceDataError",
    "ResponsibilityMatrix",
    "ResponsibilityRule",
    "Supervisor",
    "SupervisorRoster",
    "TimeLimit",
    "TimeLimitTable",
    "TimeUnit",
    "Urgency",
    "WorkingCalendar",
    "WorkingDuration",
    "WorkingSession",
    "load_calendar",
    "load_categories",
    "load_category_folder",
    "load_departments",
    "load_grids",
    "load_responsibility",
    "load_supervisors",
    "load_time_limits",
]
