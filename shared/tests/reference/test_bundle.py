import shutil
from pathlib import Path

import pytest

from cityloop_shared.reference import (
    DEMO_CITY,
    ClockStep,
    DepartmentLevel,
    ReferenceData,
    ReferenceDataError,
)


@pytest.fixture(scope="module")
def demo() -> ReferenceData:
    return ReferenceData.demo()


@pytest.fixture
def city(tmp_path: Path) -> Path:
    """A copy of the demo city to break."""
    return Path(shutil.copytree(DEMO_CITY, tmp_path / "city"))


def test_the_demo_city_has_three_districts_of_nine_grids(demo: ReferenceData) -> None:
    assert demo.city_site == "370200"
    assert demo.districts == ("370202", "370203", "370212")
    assert len(demo.grids) == 27
    assert len(demo.categories) == 254
    assert demo.categories.standard == "GB/T 47678.5-2026"


def test_every_grid_of_the_demo_has_a_supervisor_and_a_department_for_every_category(
    demo: ReferenceData,
) -> None:
    for grid in demo.grids:
        supervisor = demo.supervisors.supervisor_for(grid.grid_code)
        assert supervisor is not None
        assert supervisor.site == grid.district
        for category in demo.categories:
            department = demo.responsibility.responsible_department(category.code, grid.grid_code)
            assert department is not None
            assert department.level is DepartmentLevel.CITY or department.site == grid.district


def test_a_report_in_the_demo_city_is_routed_end_to_end(demo: ReferenceData) -> None:
    # Exposed garbage (暴露垃圾) reported at a point in 崂山区.
    grid = demo.grids.grid_at(120.465, 36.125)
    assert grid is not None
    assert grid.grid_code == "370212003002001"
    supervisor = demo.supervisors.supervisor_for(grid.grid_code)
    department = demo.responsibility.responsible_department("06010", grid.grid_code)
    limit = demo.time_limits.limit_for(ClockStep.DISPOSAL, "06010")

    assert supervisor is not None
    assert supervisor.name == "周涛"
    assert department is not None
    assert department.name == "崂山区环境卫生管理所"
    assert [d.name for d in demo.departments.ancestors(department.id)] == [
        "崂山区城市管理局",
        "青岛市城市管理局",
    ]
    assert str(limit.duration) == "4 working hours"


def test_city_assets_and_street_order_go_where_the_matrix_says(demo: ReferenceData) -> None:
    def responsible(category: str, grid: str) -> str:
        department = demo.responsibility.responsible_department(category, grid)
        assert department is not None
        return department.id

    assert responsible("01002", "370202001001001") == "370200-water"  # 污水井盖
    assert responsible("01037", "370203002002001") == "370200-urban-municipal"  # 路灯
    assert responsible("09006", "370203002002001") == "370203-street-002"  # 占道经营
    assert responsible("91001", "370202001001001") == "370202-urban"  # local: 海水浴场秩序


def test_a_grid_without_supervisor_is_reported(city: Path) -> None:
    roster = city / "supervisors.yaml"
    roster.write_text(
        roster.read_text(encoding="utf-8").replace(', "370212003003001"', ""), encoding="utf-8"
    )

    with pytest.raises(ReferenceDataError) as refused:
        ReferenceData.load(city)

    assert refused.value.problems == (
        "supervisors.yaml: grid 370212003003001 (崂山区第三街道第三社区1号网格) has no supervisor",
    )


def test_a_supervisor_of_an_unknown_grid_is_reported(city: Path) -> None:
    roster = city / "supervisors.yaml"
    roster.write_text(
        roster.read_text(encoding="utf-8").replace(
            '"370212003003001"', '"370212003003001", "370212009009009"'
        ),
        encoding="utf-8",
    )

    with pytest.raises(ReferenceDataError) as refused:
        ReferenceData.load(city)

    assert refused.value.problems == (
        "supervisors.yaml: supervisor 'sv-370212-03' has grid 370212009009009, "
        "which is not in grids.geojson",
    )


def test_gaps_in_the_matrix_are_listed_by_district_and_category(city: Path) -> None:
    matrix = city / "responsibility.csv"
    text = matrix.read_text(encoding="utf-8").replace("*,370203,370203-urban\n", "")
    matrix.write_text(text, encoding="utf-8")

    with pytest.raises(ReferenceDataError) as refused:
        ReferenceData.load(city)

    problems = refused.value.problems
    assert problems[0] == (
        "responsibility.csv: no department for category 04001 (古树名木) in district 370203: "
        "grids 370203001001001, 370203001002001, 370203001003001 …"
    )
    assert len(problems) == 21
    assert problems[-1].startswith("responsibility.csv: … and ")


def test_matrix_rules_must_name_known_categories_and_places(city: Path) -> None:
    with (city / "responsibility.csv").open("a", encoding="utf-8") as matrix:
        matrix.write("11,370202,370202-urban\n")
        matrix.write("06,370202004,370202-urban\n")
        matrix.write("07,370203,370202-urban\n")

    with pytest.raises(ReferenceDataError) as refused:
        ReferenceData.load(city)

    assert refused.value.problems == (
        "responsibility.csv: category '11' is not in the category dictionary",
        "responsibility.csv: category '06' in area '370202004': the area has no grids",
        "responsibility.csv: category '07' in area '370203': district department "
        "'370202-urban' works only in district 370202",
    )


def test_problems_of_several_files_are_reported_together(city: Path) -> None:
    (city / "calendar.yaml").write_text("timezone: Mars/Olympus\n", encoding="utf-8")
    (city / "time_limits.yaml").unlink()

    with pytest.raises(ReferenceDataError) as refused:
        ReferenceData.load(city)

    assert refused.value.problems[0].startswith("time_limits.yaml: file not found")
    assert refused.value.problems[1].startswith("calendar.yaml: timezone 'Mars/Olympus'")


def test_grid_supervisor_ids_must_agree_with_the_roster(city: Path) -> None:
    grids = city / "grids.geojson"
    grids.write_text(
        grids.read_text(encoding="utf-8").replace(
            '"grid_code": "370202001001001",',
            '"grid_code": "370202001001001", "supervisor_ids": ["sv-x"],',
        ),
        encoding="utf-8",
    )

    with pytest.raises(ReferenceDataError) as refused:
        ReferenceData.load(city)

    assert refused.value.problems == (
        "grids.geojson: grid 370202001001001 lists supervisor_ids sv-x but supervisors.yaml "
        "gives it to 'sv-370202-01'",
    )
