from collections.abc import Callable
from pathlib import Path

import pytest

from cityloop_shared.reference import (
    DepartmentDirectory,
    ReferenceDataError,
    load_departments,
    load_responsibility,
)

Write = Callable[[str, str], Path]

GRID = "370212001002003"
"""崂山区 (370212), street 001, community 002, grid 003."""


@pytest.fixture
def departments(write: Write) -> DepartmentDirectory:
    entries = "\n".join(
        f"  - {{id: {name}, name: {name}, level: district, site: '370212', kind: district_unit}}"
        for name in (
            "anywhere",
            "district",
            "district-major",
            "street",
            "community",
            "grid",
            "exact",
        )
    )
    return load_departments(write("departments.yaml", f"departments:\n{entries}\n"))


MATRIX = """
category,area,department_id
*,*,anywhere
*,370212,district
06,370212,district-major
06010,370212,exact
*,370212001,street
06,370212001002,community
*,370212001002003,grid
"""


def test_the_longest_area_wins_before_the_category(
    write: Write, departments: DepartmentDirectory
) -> None:
    matrix = load_responsibility(write("responsibility.csv", MATRIX), departments)

    def responsible(category: str, grid: str) -> str | None:
        department = matrix.responsible_department(category, grid)
        return department.id if department else None

    assert responsible("06010", GRID) == "grid"
    assert responsible("06010", "370212001002001") == "community"
    assert responsible("01001", "370212001002001") == "street"
    assert responsible("06010", "370212002001001") == "exact"
    assert responsible("06011", "370212002001001") == "district-major"
    assert responsible("01001", "370212002001001") == "district"
    assert responsible("01001", "370202001001001") == "anywhere"


def test_without_a_matching_rule_there_is_no_department(
    write: Write, departments: DepartmentDirectory
) -> None:
    matrix = load_responsibility(
        write("responsibility.csv", "category,area,department_id\n06,370212,district\n"),
        departments,
    )

    assert matrix.responsible_department("07001", GRID) is None
    assert matrix.rule_for("06010", "370202001001001") is None


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "06,370212,nobody",
            "responsibility.csv row 3: department_id 'nobody' is not a known department",
        ),
        (
            "06,370212,district-major",
            "responsibility.csv row 3: category '06' in area '370212' is already assigned by row 2",
        ),
        (
            "06,3702120,district",
            "responsibility.csv row 3: area '3702120' must be '*' or a grid code prefix",
        ),
        (
            "6010,370212,district",
            "responsibility.csv row 3: category '6010' must be '*', a 2-digit major",
        ),
        ("06,,district", "responsibility.csv row 3: area is required"),
        ("06,370212", "responsibility.csv row 3: has 2 cells but the header has 3"),
    ],
)
def test_malformed_rows_are_named_by_row_and_field(
    write: Write, departments: DepartmentDirectory, row: str, message: str
) -> None:
    path = write("responsibility.csv", f"category,area,department_id\n06,370212,district\n{row}\n")

    with pytest.raises(ReferenceDataError) as refused:
        load_responsibility(path, departments)

    assert str(refused.value).startswith(message)


def test_codes_of_the_older_list_are_4_digits(
    write: Write, departments: DepartmentDirectory
) -> None:
    path = write("responsibility.csv", "category,area,department_id\n0101,*,anywhere\n")

    matrix = load_responsibility(path, departments, code_width=4)

    assert matrix.responsible_department("0101", GRID) is not None
