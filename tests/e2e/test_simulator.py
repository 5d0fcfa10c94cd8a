"""`cityloop-simulate` as a soak test: half a minute of a compressed day fed to a whole
district, every service its own process on the real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio

from rich.console import Console

from cityloop_deploy.fleet import Fleet
from cityloop_deploy.simulator.display import print_summary
from cityloop_deploy.simulator.plan import Detour
from cityloop_deploy.simulator.rhythm import Clock
from cityloop_deploy.simulator.simulation import Settings, Summary, simulate


def test_a_compressed_day_leaves_every_case_explained(fleet: Fleet) -> None:
    settings = Settings(
        site_urls={fleet.config.site: fleet.config.url("intake")},
        key_dir=None,  # the fleet runs in development mode, on the built-in keys
        duration_s=30,
        drain_s=10,  # short: the cases of the last minutes are still under way at the end
        # A day in a minute: a case's usual path of about six hours takes some fifteen seconds.
        clock=Clock(day_minutes=1),
        reports_per_day=100,
        start_hour=8,
        seed=5,
    )
    summary: Summary = asyncio.run(simulate(settings))
    print_summary(Console(width=120), summary)  # shown when the test fails

    tally = summary.tally
    assert summary.started == summary.planned >= 20
    assert tally.server_errors == []
    assert summary.unexplained == [], summary.unexplained
    assert summary.passed
    assert tally.counts["reported"] == summary.started
    assert tally.counts["closed"] > 0
    # Cases ended and cases still under way, as a living site has.
    assert summary.statuses["closed"] == tally.counts["closed"]
    assert len(summary.statuses) >= 3, summary.statuses
    assert sum(summary.statuses.values()) == summary.started
    # Detours happened; a single district has no city to forward to.
    assert sum(tally.detours.values()) > 0
    assert Detour.CITY not in tally.detours
