"""The map of open cases by grid (网格案件亮灯图): each unit grid coloured by the worst
time-limit light (亮灯) of its open cases."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from shapely.geometry import MultiPolygon, Polygon

from cityloop_shared.contract.lifecycle import TERMINAL
from cityloop_shared.reference.grids import Grid

WIDTH = 640.0
"""The SVG's width in its own units; the height follows the grids' shape."""
WARNING_SHARE = 0.2
"""What is left of a step's time at the yellow light: the clocks warn at 80 % used."""


class Light(IntEnum):
    """Ordered by gravity, so the worst of a grid's cases is the greatest."""

    NONE = 0
    GREEN = 1
    YELLOW = 2
    RED = 3

    @property
    def css(self) -> str:
        return self.name.lower()


def light_of(case: Mapping[str, Any], now: datetime) -> Light:
    """A case's light: red when overdue or past its deadline; yellow when less than a fifth of
    the time from its last step to its deadline is left; green otherwise.

    The clocks' own warnings count working time; the list the map is drawn from carries only
    the deadline and when the case last moved, so the yellow here is their wall-clock
    reading, good enough to point at a grid."""
    if case.get("overdue"):
        return Light.RED
    deadline = _moment(case.get("deadline"))
    if deadline is None:
        return Light.GREEN
    if deadline <= now:
        return Light.RED
    since = _moment(case.get("updated_at")) or _moment(case.get("reported_at"))
    if since is not None and since < deadline:
        left = (deadline - now) / (deadline - since)
        if left < WARNING_SHARE:
            return Light.YELLOW
    return Light.GREEN


def is_open(case: Mapping[str, Any]) -> bool:
    return case.get("status") not in TERMINAL


@dataclass(frozen=True)
class Cell:
    grid_code: str
    name: str
    path: str
    light: Light
    open_cases: int
    label_x: float
    label_y: float


@dataclass(frozen=True)
class GridMap:
    cells: list[Cell]
    width: float
    height: float


def grid_lights(cases: Iterable[Mapping[str, Any]], now: datetime) -> dict[str, tuple[Light, int]]:
    """Per grid code: the worst light of its open cases and how many there are."""
    found: dict[str, tuple[Light, int]] = {}
    for case in cases:
        grid = case.get("grid_code")
        if not grid or not is_open(case):
            continue
        light, count = found.get(grid, (Light.NONE, 0))
        found[grid] = (max(light, light_of(case, now)), count + 1)
    return found


def grid_map(grids: Iterable[Grid], lights: Mapping[str, tuple[Light, int]]) -> GridMap:
    """The grids drawn to scale, north up (longitude shrunk by the cosine of the latitude)."""
    chosen = list(grids)
    if not chosen:
        return GridMap([], WIDTH, 0.0)
    bounds = [g.geometry.bounds for g in chosen]
    west, south = min(b[0] for b in bounds), min(b[1] for b in bounds)
    east, north = max(b[2] for b in bounds), max(b[3] for b in bounds)
    squeeze = math.cos(math.radians((south + north) / 2))
    span = max((east - west) * squeeze, 1e-9)
    scale = WIDTH / span

    def point(lon: float, lat: float) -> tuple[float, float]:
        return ((lon - west) * squeeze * scale, (north - lat) * scale)

    cells = []
    for grid in chosen:
        light, count = lights.get(grid.grid_code, (Light.NONE, 0))
        centre = grid.geometry.representative_point()
        x, y = point(centre.x, centre.y)
        cells.append(
            Cell(
                grid.grid_code,
                grid.name,
                _path(grid.geometry, point),
                light,
                count,
                round(x, 1),
                round(y, 1),
            )
        )
    return GridMap(cells, WIDTH, round((north - south) * scale, 1))


def _path(
    geometry: Polygon | MultiPolygon, point: Callable[[float, float], tuple[float, float]]
) -> str:
    polygons = geometry.geoms if isinstance(geometry, MultiPolygon) else [geometry]
    parts = []
    for polygon in polygons:
        for ring in (polygon.exterior, *polygon.interiors):
            xy = [point(lon, lat) for lon, lat in ring.coords]
            parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + " Z")
    return " ".join(parts)


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
