"""The plan of a run, drawn from one seed: when each report comes, from which channel, where,
what problem, and which detours its case will take. The same seed gives the same plan.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

from shapely.geometry import Point

from cityloop_deploy.simulator.rhythm import arrivals
from cityloop_shared.contract.values import ReportChannel
from cityloop_shared.reference.bundle import ReferenceData


class Source(StrEnum):
    """Where a report comes from: the four channels, the public's by its three ways in."""

    SUPERVISOR = "supervisor"
    HOTLINE = "hotline"
    WEB = "web"
    APP = "app"
    VIDEO = "video"
    LEADER = "leader"

    @property
    def channel(self) -> ReportChannel:
        if self in (Source.HOTLINE, Source.WEB, Source.APP):
            return ReportChannel.PUBLIC
        return ReportChannel(self.value)


class Detour(StrEnum):
    """What takes a case off the straight road from report to close."""

    CITY = "city"
    """转市级: a city department's problem, forwarded to the city at its district."""
    CANCELLATION = "cancellation"
    """A public report the supervisor finds nothing of on site: cancelled."""
    RETURN = "return"
    """回退: the department says it is not theirs; the dispatcher approves and redispatches."""
    EXTENSION = "extension"
    """延期: the department asks for more time; the dispatcher grants it."""
    SUSPENSION = "suspension"
    """挂账: the work waits on something else; suspended, then resumed."""
    REWORK = "rework"
    """The supervisor's check fails; the department does the work again."""


@dataclass(frozen=True)
class Mix:
    """The shares of the sources and the probability of each detour."""

    sources: Mapping[Source, float] = field(
        default_factory=lambda: {
            Source.SUPERVISOR: 0.50,
            Source.HOTLINE: 0.12,
            Source.WEB: 0.06,
            Source.APP: 0.07,
            Source.VIDEO: 0.20,
            Source.LEADER: 0.05,
        }
    )
    detours: Mapping[Detour, float] = field(
        default_factory=lambda: {
            Detour.CITY: 0.10,
            Detour.CANCELLATION: 0.15,
            Detour.RETURN: 0.08,
            Detour.EXTENSION: 0.08,
            Detour.SUSPENSION: 0.05,
            Detour.REWORK: 0.10,
        }
    )
    """Each drawn on its own; cancellation only of public reports (only they are verified)."""


DISTRICT_PROBLEMS = {
    "06001": "私搭乱建",
    "06004": "建筑物外立面污损",
    "07001": "非法小广告",
    "09001": "无照经营游商",
    "09005": "店外经营",
}
"""Problems of the demo city's district departments (sanitation, street offices)."""
CITY_PROBLEMS = {"01001": "供水井盖破损", "01002": "污水井盖缺失", "01003": "雨水井盖破损"}
"""Problems of its city departments (municipal facilities, water): registered as city level."""


@dataclass(frozen=True)
class Place:
    lon: float
    lat: float
    supervisor_id: str
    """The supervisor of the place's grid: reports there, verifies and checks the work."""


@dataclass(frozen=True)
class PlannedCase:
    number: int
    at_minutes: float
    """Simulated minutes from the start of the run."""
    district: str
    source: Source
    category_code: str
    description: str
    place: Place
    detours: frozenset[Detour]
    seed: int
    """The case's own random source, for its people's delays."""


def plan(
    seed: int,
    districts: Sequence[str],
    reports_per_day: float,
    start_hour: int,
    hours: float,
    mix: Mix,
    with_city: bool,
) -> list[PlannedCase]:
    """Every case of a run of ``hours`` simulated hours from ``start_hour``."""
    rng = random.Random(seed)
    sources, shares = zip(*mix.sources.items(), strict=True)
    cases = []
    for number, at in enumerate(arrivals(rng, reports_per_day, start_hour, hours)):
        source: Source = rng.choices(sources, shares)[0]
        drawn = {d for d, p in mix.detours.items() if rng.random() < p}
        if source.channel is not ReportChannel.PUBLIC or Detour.CANCELLATION not in drawn:
            drawn.discard(Detour.CANCELLATION)
        else:
            drawn = {Detour.CANCELLATION}  # a cancelled case goes no further
        if not with_city:
            drawn.discard(Detour.CITY)
        problems = CITY_PROBLEMS if Detour.CITY in drawn else DISTRICT_PROBLEMS
        code = rng.choice(sorted(problems))
        district = rng.choice(districts)
        cases.append(
            PlannedCase(
                number=number,
                at_minutes=at,
                district=district,
                source=source,
                category_code=code,
                description=problems[code],
                place=_place(rng, district),
                detours=frozenset(drawn),
                seed=rng.getrandbits(32),
            )
        )
    return cases


def _place(rng: random.Random, district: str) -> Place:
    """A point in one of the district's grids, as problems are spread over a city."""
    demo = reference()
    grids = demo.grids.in_area(district)
    if not grids:
        raise ValueError(f"the demo city has no grids in {district}")
    while True:
        grid = rng.choice(grids)
        west, south, east, north = grid.geometry.bounds
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        supervisor = demo.supervisors.supervisor_for(grid.grid_code)
        if supervisor is not None and grid.geometry.contains(Point(lon, lat)):
            return Place(lon, lat, supervisor.id)


@cache
def reference() -> ReferenceData:
    return ReferenceData.demo()
