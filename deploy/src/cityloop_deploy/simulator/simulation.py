"""A run: reports filed as the plan says, each case's people at work, then the soak test's
audit of every case started."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cityloop_deploy.simulator.actors import Story
from cityloop_deploy.simulator.desks import Desks, People, StepFailed, Stopped, Tally
from cityloop_deploy.simulator.plan import Mix, plan
from cityloop_deploy.simulator.rhythm import Clock
from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.sites import SiteLevel, site_level

ENDS = {"closed": "closed", "cancelled": "cancelled"}
"""A story's end, and the status the case file must then show."""
AUDIT_SECONDS = 30.0
"""How long the case files may take to show what the last commands did."""


@dataclass(frozen=True)
class Settings:
    site_urls: Mapping[str, str]
    """Each site's first service (intake); a city among them takes the city problems."""
    key_dir: Path | None
    """Where the sites' signing keys are; None: the built-in keys of development mode."""
    duration_s: float
    """Real seconds of reporting."""
    drain_s: float
    """Real seconds the people go on with open cases once reporting stops."""
    clock: Clock
    reports_per_day: float
    start_hour: int
    seed: int
    mix: Mix = field(default_factory=Mix)
    patience_s: float = 120.0
    """Real seconds a person waits for a case to show at their desk before calling it stuck."""

    @property
    def districts(self) -> list[str]:
        return [s for s in self.site_urls if site_level(s) is SiteLevel.DISTRICT]

    @property
    def city(self) -> str | None:
        return next((s for s in self.site_urls if site_level(s) is SiteLevel.CITY), None)


@dataclass
class Summary:
    planned: int
    started: int
    tally: Tally
    statuses: Counter[str]
    """The case file's status of every case started, at its district, at the end."""
    waiting: Counter[str]
    """What the cases still in progress wait on."""
    unexplained: list[str]

    @property
    def passed(self) -> bool:
        return not self.unexplained and not self.tally.server_errors


@dataclass
class Progress:
    """What the live display shows."""

    settings: Settings
    tally: Tally
    began: float = field(default_factory=time.monotonic)
    stories: list[Story] = field(default_factory=list)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.began

    @property
    def in_progress(self) -> int:
        return sum(1 for s in self.stories if s.pending not in ENDS and s.failure is None)


async def simulate(settings: Settings, progress: Progress | None = None) -> Summary:
    """Run the simulation, keeping ``progress`` (for a display) up to date."""
    if not settings.districts:
        raise ValueError("a simulation needs at least one district")
    hours = settings.clock.simulated_hours(settings.duration_s)
    cases = plan(
        settings.seed,
        settings.districts,
        settings.reports_per_day,
        settings.start_hour,
        hours,
        settings.mix,
        with_city=settings.city is not None,
    )
    progress = progress or Progress(settings, Tally())
    progress.began = time.monotonic()
    tally = progress.tally
    desks = Desks(settings.site_urls, People(settings.key_dir), tally, settings.patience_s)
    tasks: list[asyncio.Task[None]] = []
    try:
        for case in cases:
            await asyncio.sleep(
                max(0.0, settings.clock.real_seconds(case.at_minutes) - progress.elapsed_s)
            )
            story = Story(case, settings.city, desks, settings.clock, tally)
            progress.stories.append(story)
            tasks.append(asyncio.create_task(story.live()))
        await asyncio.sleep(max(0.0, settings.duration_s - progress.elapsed_s))
        if tasks:
            await asyncio.wait(tasks, timeout=settings.drain_s)
        desks.stopping.set()
        await asyncio.gather(*tasks)
        statuses, unexplained = await audit(progress.stories, desks)
    finally:
        await desks.close()
    waiting = Counter(
        s.pending for s in progress.stories if s.pending not in ENDS and s.failure is None
    )
    return Summary(len(cases), len(progress.stories), tally, statuses, waiting, unexplained)


async def audit(stories: list[Story], desks: Desks) -> tuple[Counter[str], list[str]]:
    """Every case started must be in a state its story explains: closed or cancelled in its
    district's case file when the story ended so, or else in progress with the step it
    waits on known, and not ended there."""
    desks.stopping.clear()
    statuses: Counter[str] = Counter()
    unexplained = [s.failure for s in stories if s.failure is not None]

    async def one(story: Story) -> None:
        if story.case_id is None:
            return
        district = story.case.district
        chief = desks.people.headers(Role.DUTY_CHIEF, district)
        path = f"/cases/{story.case_id}"
        expected = ENDS.get(story.pending)

        async def probe() -> str | None:
            found = await desks.query(district, "casefile", path, chief)
            if found is None:
                return None
            status = str(found["status"])
            shown = status == expected if expected else status not in ENDS.values()
            return status if shown else None

        try:
            statuses[await desks.until(f"case {story.case_id} as its story left it", probe)] += 1
        except (StepFailed, Stopped) as failed:
            statuses["unknown"] += 1
            if story.failure is None:
                unexplained.append(f"case {story.case.number} ({story.pending}): {failed}")

    patience, desks.patience_s = desks.patience_s, AUDIT_SECONDS
    try:
        await asyncio.gather(*(one(s) for s in stories))
    finally:
        desks.patience_s = patience
    return statuses, unexplained
