"""Sites: one centre's deployment, named by its administrative division code (GB/T 2260)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints

SiteCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
"""Six-digit division code: ``370200`` is the city of Qingdao, ``370212`` its district Laoshan."""

_SITE = re.compile(r"^\d{6}$")


class SiteLevel(StrEnum):
    """The two levels of the Qingdao model (市区两级)."""

    CITY = "city"
    DISTRICT = "district"


def site_level(site: str) -> SiteLevel:
    """A city's code ends in ``00`` below its province; anything finer is a district."""
    _check(site)
    if site.endswith("0000"):
        raise ValueError(f"site {site!r} is a province, not a city or district")
    return SiteLevel.CITY if site.endswith("00") else SiteLevel.DISTRICT


def city_of(site: str) -> str:
    """The city site a district belongs to (the city itself for a city site)."""
    _check(site)
    return site[:4] + "00"


def other_level(site: str, districts: Iterable[str] = ()) -> tuple[str, ...]:
    """The sites of the other level a site exchanges events with: a district's city, or the
    city's ``districts`` (its list of districts)."""
    if site_level(site) is SiteLevel.DISTRICT:
        return (city_of(site),)
    return tuple(districts)


def _check(site: str) -> None:
    if not _SITE.match(site):
        raise ValueError(f"site {site!r} must be a 6-digit division code")
