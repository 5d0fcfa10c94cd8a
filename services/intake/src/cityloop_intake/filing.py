"""What every channel's report is checked against: the site's category dictionary and its
grid map. Both front doors, the centre's own ``POST /reports`` and the public's Open311, go
through here; each names a refused field in its own vocabulary (``field``)."""

from __future__ import annotations

from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.contract.sites import SiteLevel, city_of, site_level
from cityloop_shared.contract.values import Category, GeoPoint, Location
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.categories import Category as DictionaryCategory
from cityloop_shared.reference.grids import Grid
from cityloop_shared.stage.decisions import Invalid

Field = tuple[str, ...]
"""Where a refused value sits in the request, e.g. ``("location", "grid_code")``."""


def dictionary_category(
    reference: ReferenceData, code: str, kind: CaseKind | None, field: Field
) -> DictionaryCategory:
    """The category of the site's dictionary with this code (and kind)."""
    categories = reference.categories
    try:
        found = categories.get(code, kind)
    except ValueError as error:
        raise Invalid(field, str(error), "ambiguous_category") from None
    if found is None:
        where = ", ".join(edition.standard for edition in categories.editions)
        raise Invalid(field, f"no category {code} in {where}", "unknown_category")
    return found


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
    point_field: Field,
    grid_field: Field,
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
                point_field,
                f"the point ({point.lon}, {point.lat}) lies in no unit grid of this city",
                "outside_grids",
            )
        if grid_code is not None and grid.grid_code != grid_code:
            raise Invalid(
                grid_field,
                f"the point lies in grid {grid.grid_code}, not in {grid_code}",
                "grid_mismatch",
            )
    elif grid_code is not None:
        grid = grids.get(grid_code)
        if grid is None:
            raise Invalid(grid_field, f"no unit grid {grid_code}", "unknown_grid")
    if grid is None:
        raise Invalid(point_field, "give a point (lon, lat) or a grid code", "no_location")
    if not _covers(site, grid.district):
        raise Invalid(
            grid_field if point is None else point_field,
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
