from collections.abc import Callable
from pathlib import Path

import pytest

from cityloop_shared.reference import (
    DepartmentKind,
    DepartmentLevel,
    ReferenceDataError,
    load_departments,
)

Write = Callable[[str, str], Path]

CITY = """
departments:
  - {id: city-urban, name: 市城管局, level: city, site: "370200", kind: city_department}
  - {id: city-municipal, name: 市政处, level: city, site: "370200", kind: sub_unit,
     parent_id: city-urban}
  - {id: ls-urban, name: 崂山区城管局, level: district, site: 370212, kind: district_unit,
     parent_id: city-urban}
  - {id: ls-sanitation, name: 环卫所, level: district, site: "370212", kind: sub_unit,
     parent_id: ls-urban}
  - {id: ls-street, name: 中韩街道办事处, level: district, site: "370212", kind: street_office}
"""


def test_departments_load_with_their_hierarchy(write: Write) -> None:
    departments = load_departments(write("departments.yaml", CITY))

    sanitation = departments["ls-sanitation"]
    assert (sanitation.name, sanitation.level, sanitation.site) == (
        "环卫所",
        DepartmentLevel.DISTRICT,
        "370212",
    )
    assert sanitation.kind is DepartmentKind.SUB_UNIT
    assert [d.id for d in departments.ancestors("ls-sanitation")] == ["ls-urban", "city-urban"]
    assert [d.id for d in departments.subordinates("city-urban")] == [
        "city-municipal",
        "ls-urban",
        "ls-sanitation",
    ]
    assert [d.id for d in departments.children("ls-urban")] == ["ls-sanitation"]
    assert departments.parent("ls-street") is None
    assert [d.id for d in departments.at_site("370212")] == [
        "ls-urban",
        "ls-sanitation",
        "ls-street",
    ]


def test_departments_load_from_csv_too(write: Write) -> None:
    path = write(
        "departments.csv",
        """
        id,name,level,site,parent_id,kind
        city-urban,青岛市城市管理局,city,370200,,city_department
        city-municipal,市政设施处,city,370200,city-urban,sub_unit
        """,
    )

    departments = load_departments(path)

    assert departments["city-municipal"].parent_id == "city-urban"
    assert departments["city-urban"].parent_id is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{id: x, name: 某处, level: city, site: '370200', kind: sub_unit, parent_id: nobody}",
            "departments.yaml entry 6 (line 10): parent_id 'nobody' is not a department in this "
            "file",
        ),
        (
            "{id: x, name: 某处, level: city, site: '370200', kind: sub_unit}",
            "departments.yaml entry 6 (line 10): parent_id is required for a sub_unit",
        ),
        (
            "{id: x, name: 某处, level: district, site: '370212', kind: city_department}",
            "departments.yaml entry 6 (line 10): kind 'city_department' is a city-level kind but "
            "level is district",
        ),
        (
            "{id: x, name: 某处, level: city, site: '370212', kind: city_department}",
            "departments.yaml entry 6 (line 10): site '370212' must be a city's division code",
        ),
        (
            "{id: x, name: 某处, level: district, site: '3702', kind: district_unit}",
            "departments.yaml entry 6 (line 10): site '3702' must be a 6-digit administrative "
            "division code",
        ),
        (
            "{id: x, name: 某处, level: province, site: '370000', kind: district_unit}",
            "departments.yaml entry 6 (line 10): level 'province': input should be 'city' or "
            "'district'",
        ),
        (
            "{id: ls-street, name: 某处, level: district, site: '370212', kind: street_office}",
            "departments.yaml entry 6 (line 10): id 'ls-street' repeats entry 5 (line 9)",
        ),
        (
            "{id: x, name: 某, level: district, site: '370203', kind: sub_unit,"
            " parent_id: ls-urban}",
            "departments.yaml entry 6 (line 10): a sub_unit sits at its parent's level and site",
        ),
        (
            "{id: x, name: 某, level: district, site: '370212', kind: street_office, parent: x}",
            "departments.yaml entry 6 (line 10): parent is not a known field",
        ),
    ],
)
def test_malformed_departments_are_named_by_entry_and_field(
    write: Write, entry: str, message: str
) -> None:
    path = write("departments.yaml", CITY + f"  - {entry}\n")

    with pytest.raises(ReferenceDataError) as refused:
        load_departments(path)

    assert str(refused.value).startswith(message)


def test_a_cycle_of_parents_is_refused(write: Write) -> None:
    path = write(
        "departments.yaml",
        """
        departments:
          - {id: a, name: 甲, level: city, site: "370200", kind: city_department, parent_id: b}
          - {id: b, name: 乙, level: city, site: "370200", kind: city_department, parent_id: a}
        """,
    )

    with pytest.raises(ReferenceDataError) as refused:
        load_departments(path)

    assert refused.value.problems == (
        "departments.yaml entry 1 (line 2): parent_id 'b' makes a cycle",
        "departments.yaml entry 2 (line 3): parent_id 'a' makes a cycle",
    )


def test_broken_yaml_is_named_by_line(write: Write) -> None:
    path = write("departments.yaml", "departments:\n  - {id: a, name: [\n")

    with pytest.raises(ReferenceDataError, match=r"^departments\.yaml line \d+: not valid YAML"):
        load_departments(path)
