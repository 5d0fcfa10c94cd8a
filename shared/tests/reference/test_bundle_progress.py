"""``ReferenceData.load`` tells its caller each part as it is read, for a live display."""

import shutil
from pathlib import Path

import pytest

from cityloop_shared.reference import DEMO_CITY, ReferenceData, ReferenceDataError
from cityloop_shared.reference.bundle import PARTS

pytestmark = pytest.mark.unit


def test_each_part_is_told_once_in_order_with_what_it_holds() -> None:
    told: list[tuple[str, int | None]] = []

    data = ReferenceData.load(DEMO_CITY, on_part=lambda part, count: told.append((part, count)))

    assert [part for part, _ in told] == list(PARTS)
    assert told == [
        ("categories", len(data.categories)),
        ("grids", len(data.grids)),
        ("departments", len(data.departments)),
        ("responsibility", len(data.responsibility)),
        ("supervisors", len(data.supervisors)),
        ("time limits", len(data.time_limits)),
        ("calendar", len(data.calendar.working_hours)),
    ]
    assert dict(told)["grids"] == 27


def test_a_refused_part_is_told_without_a_count_and_the_rest_still_load(tmp_path: Path) -> None:
    city = Path(shutil.copytree(DEMO_CITY, tmp_path / "city"))
    (city / "departments.yaml").write_text("departments: [{id: nobody}]\n", encoding="utf-8")
    told: dict[str, int | None] = {}

    with pytest.raises(ReferenceDataError) as refused:
        ReferenceData.load(city, on_part=told.__setitem__)

    assert list(told) == list(PARTS)
    # The matrix names departments: without them it cannot be read.
    assert told["departments"] is None
    assert told["responsibility"] is None
    assert told["grids"] == 27
    assert all(p.startswith("departments.yaml") for p in refused.value.problems)
