"""What a report is checked against besides the category dictionary: the site's grid map.

Both front doors, the centre's own ``POST /reports`` and the public's Open311, file the same
command (:class:`cityloop_intake.decisions.FileReport`), so a refused location names the
command's field: ``location``, or ``location.grid_code`` for the code given.
"""

from __future__ import annotations

from cityloop_shared.contract.sites import SiteLevel, city_of, site_level
from cityloop_shared.contract.values import Category, GeoPoint, Location
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.categories import Category as DictionaryCategory
from cityloop_shared.reference.grids import Grid
from cityloop_shared.stage.decisions import Invalid

POINT_FIELD = ("location",)
GRID_FIELD = ("location", "grid_code")


def event_category(category: DictionaryCategory) -> Category:
    """A dictionary category as events carry it: keyed by its own standard, kind and code."""
    return Category(standard=category.standard, kind=category.kind, code=category.code)


def locate(
    reference: ReferenceData,
    site: str,
    *,
    point: GeoPoint | None,
    grid_code: str | None,
    address: str | None,
) -> Location:
    """The report's location on this site's grid map (单元网格).

    A point is located to the grid containing it; a grid code alone is taken as given. When
    both come, they must agree, since a supervisor's phone is more often right than a typed code.
    """
    grids = reference.grids
    grid: Grid | None = None
    if point is not None:
        grid = grids.grid_at(point.lon, point.lat)
        if grid is None:
            raise Invalid(
                POINT_FIELD,
                f"the point ({point.lon}, {point.lat}) lies in no unit grid of this city",
                "outside_grids",
            )
        if grid_code is not None and grid.grid_code != grid_code:
            raise Invalid(
                GRID_FIELD,
                f"the point lies in grid {grid.grid_code}, not in {grid_code}",
                "grid_mismatch",
            )
    elif grid_code is not None:
        grid = grids.get(grid_code)
        if grid is None:
            raise Invalid(GRID_FIELD, f"no unit grid {grid_code}", "unknown_grid")
    if grid is None:
        raise Invalid(POINT_FIELD, "give a point (lon, lat) or a grid code", "no_location")
    if not _covers(site, grid.district):
        raise Invalid(
            GRID_FIELD if point is None else POINT_FIELD,
            f"grid {grid.grid_code} ({grid.name}) belongs to district {grid.district}, "
            f"not to site {site}: report it there",
            "other_district",
        )
    return Location(point=point, address=address, grid_code=grid.grid_code)


def _covers(site: str, district: str) -> bool:
    """A district takes reports of its own grids; a city site of any grid of its districts."""
    if site_level(site) is SiteLevel.CITY:
        return city_of(district) == site
    return district == site
