"""The map of open cases by grid: each grid coloured by the worst light of its open cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cityloop_console.gridmap import Light, grid_lights, grid_map, light_of
from cityloop_shared.reference.bundle import ReferenceData

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def case(grid: str = "370212003001001", **values: object) -> dict[str, object]:
    return {"grid_code": grid, "status": "dispatched", "overdue": False, **values}


def at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).isoformat()


def test_a_case_is_red_when_overdue_or_past_its_deadline() -> None:
    assert light_of(case(overdue=True, deadline=at(5)), NOW) is Light.RED
    assert light_of(case(deadline=at(-1)), NOW) is Light.RED


def test_a_case_is_yellow_in_the_last_fifth_of_its_time() -> None:
    assert light_of(case(updated_at=at(-9), deadline=at(1)), NOW) is Light.YELLOW
    assert light_of(case(updated_at=at(-5), deadline=at(5)), NOW) is Light.GREEN


def test_a_case_without_a_deadline_is_green() -> None:
    assert light_of(case(), NOW) is Light.GREEN


def test_a_grid_takes_the_worst_light_of_its_open_cases_only() -> None:
    lights = grid_lights(
        [
            case(deadline=at(5), updated_at=at(-1)),
            case(deadline=at(-1)),
            case(status="closed", deadline=at(-10)),
            case(grid="370212003001002", deadline=at(5), updated_at=at(-1)),
            case(grid="370212003001003", status="closed", deadline=at(-10)),
        ],
        NOW,
    )

    assert lights == {
        "370212003001001": (Light.RED, 2),
        "370212003001002": (Light.GREEN, 1),
    }


def test_the_map_draws_every_grid_of_the_district_coloured_by_its_light() -> None:
    reference = ReferenceData.demo()
    grids = [g for g in reference.grids if g.district == "370212"]

    drawn = grid_map(grids, {"370212003001001": (Light.YELLOW, 3)})

    assert len(drawn.cells) == len(grids)
    by_code = {cell.grid_code: cell for cell in drawn.cells}
    assert by_code["370212003001001"].light is Light.YELLOW
    assert by_code["370212003001001"].open_cases == 3
    assert {cell.light for code, cell in by_code.items() if code != "370212003001001"} == {
        Light.NONE
    }
    for cell in drawn.cells:
        assert cell.path.startswith("M")
        assert cell.path.endswith("Z")
        assert 0 <= cell.label_x <= drawn.width
        assert 0 <= cell.label_y <= drawn.height
