"""The simulator's plan: the day's rhythm, the channels' mix and the detours' probabilities,
drawn from one seed."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from shapely.geometry import Point

from cityloop_deploy.simulator.plan import (
    CITY_PROBLEMS,
    DISTRICT_PROBLEMS,
    Detour,
    Mix,
    PlannedCase,
    Source,
    plan,
    reference,
)
from cityloop_deploy.simulator.rhythm import HOURLY_WEIGHTS, Clock, arrivals
from cityloop_shared.contract.values import ReportChannel

DISTRICTS = ["370212", "370202"]


def test_reports_follow_the_days_curve() -> None:
    days, per_day = 200, 100
    times = arrivals(random.Random(3), per_day, start_hour=0, hours=24 * days)
    assert len(times) == pytest.approx(days * per_day, rel=0.03)
    by_hour = Counter(int(t // 60) % 24 for t in times)
    for hour, weight in enumerate(HOURLY_WEIGHTS):
        expected = days * per_day * weight / sum(HOURLY_WEIGHTS)
        assert by_hour[hour] == pytest.approx(expected, rel=0.25), hour
    assert by_hour[9] > 5 * by_hour[3]  # the morning peak against the dead of night


def test_a_run_started_mid_morning_follows_the_clock_from_there() -> None:
    times = arrivals(random.Random(5), 2000, start_hour=10, hours=2.5)
    assert all(0 <= t < 150 for t in times)
    assert times == sorted(times)
    # 10:00–11:00 carries weight 11, 12:00–12:30 half an hour of weight 6.
    first_hour = sum(1 for t in times if t < 60)
    last_half = sum(1 for t in times if t >= 120)
    assert first_hour > 2.5 * last_half


def test_the_clock_compresses_a_day_into_real_minutes() -> None:
    clock = Clock(day_minutes=10)
    assert clock.speed == 144
    assert clock.real_seconds(60) == pytest.approx(25)
    assert clock.simulated_hours(600) == pytest.approx(24)
    with pytest.raises(ValueError, match="positive"):
        Clock(day_minutes=0)


def test_the_same_seed_gives_the_same_plan() -> None:
    def drawn(seed: int) -> list[PlannedCase]:
        return plan(seed, DISTRICTS, 300, 7, 24, Mix(), with_city=True)

    assert drawn(11) == drawn(11)
    assert drawn(11) != drawn(12)


def test_sources_and_detours_come_in_their_shares() -> None:
    mix = Mix()
    cases = plan(7, DISTRICTS, 1000, 0, 24 * 5, mix, with_city=True)
    n = len(cases)
    sources = Counter(case.source for case in cases)
    for source, share in mix.sources.items():
        assert sources[source] / n == pytest.approx(share, abs=0.02), source
    public = [c for c in cases if c.source.channel is ReportChannel.PUBLIC]
    cancelled = [c for c in cases if Detour.CANCELLATION in c.detours]
    # Only a public report is verified, so only it may be found to be nothing and cancelled;
    # a cancelled case goes no further.
    assert all(c.source.channel is ReportChannel.PUBLIC for c in cancelled)
    assert all(c.detours == {Detour.CANCELLATION} for c in cancelled)
    share = mix.detours[Detour.CANCELLATION]
    assert len(cancelled) / len(public) == pytest.approx(share, abs=0.03)
    going_on = [c for c in cases if Detour.CANCELLATION not in c.detours]
    for detour in (Detour.CITY, Detour.RETURN, Detour.EXTENSION, Detour.SUSPENSION, Detour.REWORK):
        taken = sum(1 for c in going_on if detour in c.detours)
        assert taken / len(going_on) == pytest.approx(mix.detours[detour], abs=0.02), detour
    for case in cases:
        problems = CITY_PROBLEMS if Detour.CITY in case.detours else DISTRICT_PROBLEMS
        assert problems[case.category_code] == case.description
    assert {c.district for c in cases} == set(DISTRICTS)


def test_without_a_city_no_problem_is_forwarded() -> None:
    cases = plan(7, DISTRICTS, 1000, 0, 24, Mix(), with_city=False)
    assert cases
    assert not any(Detour.CITY in c.detours for c in cases)
    assert all(c.category_code in DISTRICT_PROBLEMS for c in cases)


def test_reports_come_from_places_in_the_district_with_their_grids_supervisor() -> None:
    demo = reference()
    for case in plan(3, DISTRICTS, 500, 0, 24, Mix(), with_city=False):
        point = Point(case.place.lon, case.place.lat)
        grid = next(g for g in demo.grids.in_area(case.district) if g.geometry.contains(point))
        supervisor = demo.supervisors.supervisor_for(grid.grid_code)
        assert supervisor is not None
        assert supervisor.id == case.place.supervisor_id


def test_a_mix_may_leave_a_source_out() -> None:
    mix = Mix(sources={Source.SUPERVISOR: 1.0}, detours={})
    cases = plan(1, DISTRICTS, 500, 0, 24, mix, with_city=True)
    assert {c.source for c in cases} == {Source.SUPERVISOR}
    assert all(not c.detours for c in cases)
