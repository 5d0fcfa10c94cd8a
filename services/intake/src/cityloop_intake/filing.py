"""Filing a report as a new case: the checks every channel shares, duplicates, the event.

Intake is the first stage: a report it accepts becomes a case (``case.reported``) with a
new case id. Both front doors, the centre's own ``POST /reports`` and the public's Open311,
go through here, and each names a refused field in its own vocabulary.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import insert

from cityloop_intake.duplicates import possible_duplicates
from cityloop_intake.tables import reports
from cityloop_shared.contract.actors import Actor
from cityloop_shared.contract.events.intake import CaseReported, CaseReportedPayload
from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.contract.sites import SiteLevel, city_of, site_level
from cityloop_shared.contract.values import Category, GeoPoint, Location
from cityloop_shared.reference.categories import Category as DictionaryCategory
from cityloop_shared.reference.grids import Grid
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.store.ledger import Ledger

_FILE_REPORT = insert(reports)

Field = tuple[str, ...]
"""Where a refused value sits in the request, e.g. ``("location", "grid_code")``."""


class Refusal(Exception):
    """A report this site cannot take; ``kind`` is a stable machine-readable reason."""

    def __init__(self, field: Field, message: str, kind: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.kind = kind


def dictionary_category(
    runtime: ServiceRuntime, code: str, kind: CaseKind | None, field: Field
) -> DictionaryCategory:
    """The category of the site's dictionary with this code (and kind)."""
    categories = runtime.reference.categories
    try:
        found = categories.get(code, kind)
    except ValueError as error:
        raise Refusal(field, str(error), "ambiguous_category") from None
    if found is None:
        where = ", ".join(edition.standard for edition in categories.editions)
        raise Refusal(field, f"no category {code} in {where}", "unknown_category")
    return found


def event_category(category: DictionaryCategory) -> Category:
    """A dictionary category as events carry it: keyed by its own standard, kind and code."""
    return Category(standard=category.standard, kind=category.kind, code=category.code)


def locate(
    runtime: ServiceRuntime,
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
    grids = runtime.reference.grids
    grid: Grid | None = None
    if point is not None:
        grid = grids.grid_at(point.lon, point.lat)
        if grid is None:
            raise Refusal(
                point_field,
                f"the point ({point.lon}, {point.lat}) lies in no unit grid of this city",
                "outside_grids",
            )
        if grid_code is not None and grid.grid_code != grid_code:
            raise Refusal(
                grid_field,
                f"the point lies in grid {grid.grid_code}, not in {grid_code}",
                "grid_mismatch",
            )
    elif grid_code is not None:
        grid = grids.get(grid_code)
        if grid is None:
            raise Refusal(grid_field, f"no unit grid {grid_code}", "unknown_grid")
    if grid is None:
        raise Refusal(point_field, "give a point (lon, lat) or a grid code", "no_location")
    if not _covers(runtime.site, grid.district):
        raise Refusal(
            grid_field if point is None else point_field,
            f"grid {grid.grid_code} ({grid.name}) belongs to district {grid.district}, "
            f"not to site {runtime.site}: report it there",
            "other_district",
        )
    return Location(point=point, address=address, grid_code=grid.grid_code)


def _covers(site: str, district: str) -> bool:
    """A district takes reports of its own grids; a city site of any grid of its districts."""
    if site_level(site) is SiteLevel.CITY:
        return city_of(district) == site
    return district == site


async def file_report(
    runtime: ServiceRuntime,
    ledger: Ledger,
    actor: Actor,
    payload: CaseReportedPayload,
    *,
    token: str | None = None,
) -> CaseReported:
    """Open a case for the report, flagging recent nearby open cases of the same category."""
    duplicates: tuple[UUID, ...] = ()
    point = payload.location.point
    if payload.category is not None and point is not None:
        duplicates = await possible_duplicates(
            ledger.conn, payload.category.code, point, datetime.now(UTC)
        )
    event = await ledger.open_case(
        CaseReported,
        actor=actor,
        payload=payload.model_copy(update={"possible_duplicates": duplicates}),
    )
    ledger.write_later(
        _FILE_REPORT,
        {
            "case_id": event.case_id,
            "channel": payload.channel.value,
            "category_kind": payload.category.kind.value if payload.category else None,
            "category_code": payload.category.code if payload.category else None,
            "lon": point.lon if point else None,
            "lat": point.lat if point else None,
            "grid_code": payload.location.grid_code,
            "address": payload.location.address,
            "description": payload.description,
            "media_url": str(payload.attachments[0].uri) if payload.attachments else None,
            "token": token,
            "reported_at": event.occurred_at,
        },
    )
    return event
