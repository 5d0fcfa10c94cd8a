"""Unit grids (单元网格): the cells every problem is located to, from a GeoJSON file.

The file is a FeatureCollection; each feature is a Polygon or MultiPolygon in WGS84 longitude,
latitude (GeoJSON's own system; CGCS2000 agrees to well under a metre, while the GCJ-02 or
BD-09 coordinates of Chinese web maps are shifted by hundreds of metres and must be converted
first) with the properties ``grid_code`` (15 digits), ``name`` and optionally
``supervisor_ids``. Grids must not overlap.
"""

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import shapely
from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from cityloop_shared.reference._sources import read_text, validate
from cityloop_shared.reference.codes import ANY, GridCode, GridCodeText
from cityloop_shared.reference.errors import ReferenceDataError, problem

OVERLAP_TOLERANCE_M2 = 1.0
"""Digitised borders leave slivers; an overlap smaller than this is taken as a shared border."""

_METRES_PER_DEGREE = 111_320.0


class Grid(BaseModel):
    """One unit grid (单元网格) and its outline."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    grid_code: GridCodeText
    name: Annotated[str, Field(min_length=1)]
    supervisor_ids: tuple[str, ...] = ()
    geometry: Polygon | MultiPolygon

    @property
    def code(self) -> GridCode:
        """The grid code's parts: division, street, community, sequence."""
        return GridCode.parse(self.grid_code)

    @property
    def district(self) -> str:
        """The district's division code: the grid code's first 6 digits."""
        return self.grid_code[:6]


class _GridProperties(BaseModel):
    # GIS tools add their own properties (area, labels); only ours are read.
    model_config = ConfigDict(frozen=True, extra="ignore")

    grid_code: GridCodeText
    name: Annotated[str, Field(min_length=1)]
    supervisor_ids: tuple[str, ...] = ()


class GridMap:
    """The grids of a site, indexed for point lookup."""

    def __init__(self, grids: Sequence[Grid]) -> None:
        self._grids = tuple(grids)
        self._by_code = {grid.grid_code: grid for grid in self._grids}
        self._tree = STRtree([grid.geometry for grid in self._grids])

    def grid_at(self, lon: float, lat: float) -> Grid | None:
        """The grid containing the point (WGS84), or ``None`` when no grid does.

        A point on a border shared by two grids belongs to the one with the lower grid code,
        so the answer never depends on load order.
        """
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        return min((self._grids[int(i)] for i in hits), key=lambda grid: grid.grid_code)

    def get(self, grid_code: str) -> Grid | None:
        return self._by_code.get(grid_code)

    def in_area(self, area: str) -> tuple[Grid, ...]:
        """The grids within an area (a grid code prefix, or ``*`` for all)."""
        return tuple(g for g in self._grids if area == ANY or g.grid_code.startswith(area))

    @property
    def districts(self) -> tuple[str, ...]:
        """The division codes of the districts that have grids, in order."""
        return tuple(sorted({grid.district for grid in self._grids}))

    def __iter__(self) -> Iterator[Grid]:
        return iter(self._grids)

    def __len__(self) -> int:
        return len(self._grids)

    def __contains__(self, grid_code: object) -> bool:
        return grid_code in self._by_code


def load_grids(path: Path) -> GridMap:
    """Grids from a GeoJSON FeatureCollection; refused whole on any problem."""
    source = path.name
    try:
        document = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        text = f"not valid JSON: {exc.msg}"
        raise ReferenceDataError([problem(source, f"line {exc.lineno}", text)]) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ReferenceDataError([problem(source, None, "must be a GeoJSON FeatureCollection")])
    features = document.get("features")
    if not isinstance(features, list):
        raise ReferenceDataError([problem(source, None, "'features' must be a list")])

    problems: list[str] = []
    grids: list[tuple[str, Grid]] = []
    for number, feature in enumerate(features, start=1):
        where = f"feature {number}"
        try:
            grids.append((where, _grid(source, where, feature)))
        except ReferenceDataError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ReferenceDataError(problems)
    problems = _repeated_codes(source, grids) + _overlaps(source, grids)
    if problems:
        raise ReferenceDataError(problems)
    return GridMap([grid for _, grid in grids])


def _grid(source: str, where: str, feature: object) -> Grid:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ReferenceDataError([problem(source, where, "must be a GeoJSON Feature")])
    problems: list[str] = []
    properties: _GridProperties | None = None
    geometry: Polygon | MultiPolygon | None = None
    try:
        [(_, properties)] = validate(
            _GridProperties, source, [(where, feature.get("properties") or {})]
        )
    except ReferenceDataError as exc:
        problems.extend(exc.problems)
    try:
        geometry = _geometry(feature.get("geometry"))
    except ValueError as exc:
        problems.append(problem(source, where, f"geometry {exc}"))
    if problems or properties is None or geometry is None:
        raise ReferenceDataError(problems)
    return Grid(**properties.model_dump(), geometry=geometry)


def _geometry(data: Any) -> Polygon | MultiPolygon:
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"must be a Polygon or MultiPolygon, not {kind or 'missing'}")
    try:
        geometry = shape(data)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.GEOSException):
        raise ValueError("has malformed coordinates") from None
    if not isinstance(geometry, Polygon | MultiPolygon) or geometry.is_empty:
        raise ValueError("has no coordinates")
    west, south, east, north = geometry.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise ValueError(
            "must be WGS84 longitude, latitude (longitude first, -180..180; latitude -90..90), "
            f"got bounds {geometry.bounds}"
        )
    if not geometry.is_valid:
        raise ValueError(f"is not a valid polygon: {shapely.is_valid_reason(geometry)}")
    return geometry


def _repeated_codes(source: str, grids: list[tuple[str, Grid]]) -> list[str]:
    first: dict[str, str] = {}
    problems = []
    for where, grid in grids:
        if grid.grid_code in first:
            text = f"grid_code '{grid.grid_code}' repeats {first[grid.grid_code]}"
            problems.append(problem(source, where, text))
        first.setdefault(grid.grid_code, where)
    return problems


def _overlaps(source: str, grids: list[tuple[str, Grid]]) -> list[str]:
    geometries = [grid.geometry for _, grid in grids]
    pairs = STRtree(geometries).query(geometries, predicate="intersects")
    problems = []
    for i, j in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
        if i >= j:
            continue
        shared = _area_m2(geometries[i].intersection(geometries[j]))
        if shared >= OVERLAP_TOLERANCE_M2:
            (where_i, a), (where_j, b) = grids[i], grids[j]
            text = (
                f"overlaps {where_i}: grids {b.grid_code} and {a.grid_code} share ~{shared:.0f} m²"
            )
            problems.append(problem(source, where_j, text))
    return problems


def _area_m2(geometry: BaseGeometry) -> float:
    """Area of a lon/lat geometry, close enough at city scale to judge a sliver."""
    if geometry.is_empty:
        return 0.0
    latitude = math.radians(geometry.centroid.y)
    return float(geometry.area) * _METRES_PER_DEGREE**2 * math.cos(latitude)
