"""Evaluation query benchmark: a year of a city (100,000 closed cases by default) answers a
period query of the evaluation service.

    uv run python bench/evaluation_query.py --cases 100000

Generates the cases of 2026 for the demo city's three districts (崂山区, 市南区, 市北区): each
told event by event as the stages log them (reports from every channel, on-time and late
dispatch and handling, returns and re-dispatch, rework, suspensions, call-backs), judged by
the evaluation service's own fold, and its rows written to a fresh schema of the local
stack's PostgreSQL. Then asks the service over HTTP (in process) for every subject's league
table of the year and of a month, and the production counters, each several times, and
reports the median and slowest answer.

The same-run ceiling is a bare aggregate over the same rows: one ``count(*)`` with one filter
over the year's cases, straight through psycopg (no SQLAlchemy, no indicators, no JSON),
with the ratio of a period query's median to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import closed_loop
import httpx
import progress
import psycopg

from cityloop_deploy import localstack
from cityloop_evaluation.app import MIGRATIONS, create_app
from cityloop_evaluation.config import Subject
from cityloop_evaluation.judgement import judge
from cityloop_evaluation.projector import case_row, round_rows
from cityloop_evaluation.store import evaluated_cases, step_rounds
from cityloop_shared.adapters.postgres import libpq_url
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.values import ReportChannel
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.settings import DatabaseSettings, RunMode, ServiceSettings
from cityloop_shared.testing.identity import bearer
from cityloop_shared.testing.stories import Story

CITY, DISTRICTS = "370200", ("370212", "370202", "370203")
CATEGORIES = ("01002", "01037", "06010", "06012", "04013")
REFERENCE = ReferenceData.demo()
CALENDAR = REFERENCE.calendar


def working_days(year: int) -> list[date]:
    day, found = date(year, 1, 1), []
    while day.year == year:
        if CALENDAR.is_working_day(day):
            found.append(day)
        day += timedelta(days=1)
    return found


def story(number: int, rng: random.Random, days: list[date]) -> Story:
    """One closed case, as varied as a city's."""
    district = rng.choice(DISTRICTS)
    street, community = rng.randint(1, 3), rng.randint(1, 3)
    grid = f"{district}{street:03d}{community:03d}001"
    supervisor = f"sv-{district}-{street:02d}"
    chief = f"chief-{district}-{rng.randint(1, 3)}"
    dispatcher = f"dispatcher-{district}-{rng.randint(1, 4)}"
    departments = [f"{district}-urban", f"{district}-sanitation", f"{district}-street-00{street}"]
    department = rng.choice(departments)
    channel = rng.choices(
        [ReportChannel.SUPERVISOR, ReportChannel.PUBLIC, ReportChannel.VIDEO, ReportChannel.LEADER],
        [70, 20, 5, 5],
    )[0]
    day = rng.choice(days)
    start = datetime.combine(day, datetime.min.time(), CALENDAR.zone) + timedelta(
        hours=8, minutes=30 + rng.randint(0, 420)
    )

    def later(moment: datetime, minutes: int) -> datetime:
        return CALENDAR.add_working_time(moment, timedelta(minutes=minutes))

    s = Story(
        site=district, grid=grid, category=rng.choice(CATEGORIES), sequence=number % 99_999 + 1
    )
    reporter = supervisor if channel is ReportChannel.SUPERVISOR else f"{channel.value}-reporter"
    if channel is ReportChannel.SUPERVISOR and rng.random() < 0.08:
        return s.self_handled(start, by=supervisor)
    s.reported(start, by=reporter, channel=channel, acceptance_due=later(start, 225))
    accepted = later(start, rng.randint(2, 60))
    registered = later(accepted, rng.randint(2, 40))
    s.accepted(
        accepted,
        by=f"operator-{district}-{rng.randint(1, 3)}",
        registration_due=later(accepted, 30),
    )
    s.registered(
        registered,
        by=chief,
        dispatch_due=later(registered, 30),
        overall_due=later(registered, 5 * 450),
    )
    dispatched = later(registered, rng.randint(2, 45))
    if rng.random() < 0.03:
        wrong = rng.choice([d for d in departments if d != department])
        s.dispatched(dispatched, by=dispatcher, department=wrong, due=later(dispatched, 180))
        back = later(dispatched, rng.randint(10, 60))
        s.return_asked(back, department=wrong).return_approved(
            back, by=dispatcher, dispatch_due=later(back, 30)
        )
        dispatched = later(back, rng.randint(2, 45))
        s.redispatched(
            dispatched,
            by=dispatcher,
            department=department,
            previous=wrong,
            due=later(dispatched, 180),
        )
        s.taken(dispatched, department=department)
    else:
        s.dispatched(dispatched, by=dispatcher, department=department, due=later(dispatched, 180))
        s.taken(dispatched, department=department)
    moment = dispatched
    if rng.random() < 0.02:
        moment = later(moment, 30)
        s.suspension_asked(moment, department=department).suspended(moment, by=dispatcher)
        moment = later(moment, rng.randint(450, 2250))
        s.resumed(moment, by=dispatcher, deadline=later(moment, 150))
    for round_ in range(3):
        done = later(moment, rng.randint(20, 260))
        s.completed(done, department=department).feedback(done, department=department)
        s.check_requested(done, supervisor=supervisor, due=later(done, 60))
        checked = later(done, rng.randint(10, 90))
        if round_ < 2 and rng.random() < 0.05:
            s.check_failed(checked, supervisor=supervisor)
            s.rework(checked, department=department, due=later(checked, 180))
            s.taken(checked, department=department)
            moment = checked
            continue
        s.check_passed(checked, supervisor=supervisor)
        s.closed(later(checked, rng.randint(5, 120)), by=chief)
        break
    if channel is ReportChannel.PUBLIC and rng.random() < 0.8:
        s.satisfaction(
            later(s.events[-1].occurred_at, 60),
            score=rng.choices([5, 4, 3, 2, 1], [50, 25, 12, 8, 5])[0],
        )
    return s


def rows(count: int, seed: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    rng, days = random.Random(seed), working_days(2026)
    for number in range(count):
        judged = judge(story(number, rng, days).events, REFERENCE)
        assert judged is not None
        yield case_row(judged), round_rows(judged)


def write(url: str, schema: str, count: int, seed: int) -> float:
    """Generate, judge and COPY the year's rows; the seconds it took."""
    case_columns = [c.name for c in evaluated_cases.columns]
    round_columns = [c.name for c in step_rounds.columns]
    began = time.perf_counter()
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        with conn.cursor() as cur:
            with progress.phase("telling and judging", total=count, unit="cases") as judging:
                generated = list(judging.each(rows(count, seed)))
            with (
                progress.phase("copying cases", total=count, unit="cases") as copying,
                cur.copy(f"COPY evaluated_cases ({', '.join(case_columns)}) FROM STDIN") as copy,
            ):
                for case, _ in copying.each(generated):
                    copy.write_row([case[c] for c in case_columns])
            with (
                progress.phase("copying step rounds", total=count, unit="cases") as copying,
                cur.copy(
                    "COPY step_rounds "
                    f"({', '.join(f'{chr(34)}{c}{chr(34)}' for c in round_columns)}) FROM STDIN"
                ) as copy,
            ):
                for _, rounds in copying.each(generated):
                    for round_ in rounds:
                        copy.write_row([round_[c] for c in round_columns])
        conn.execute("ANALYZE evaluated_cases")
        conn.execute("ANALYZE step_rounds")
    return time.perf_counter() - began


def bare_scan(url: str, schema: str, repeats: int) -> list[float]:
    """The ceiling: one count with one filter over the year's cases, through psycopg."""
    timings = []
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        for _ in range(repeats):
            began = time.perf_counter()
            conn.execute(
                "SELECT district, count(*), count(*) FILTER (WHERE closed_at < %s) "
                "FROM evaluated_cases WHERE registered_at >= %s AND registered_at < %s "
                "GROUP BY district",
                ("2027-01-01T00:00+08:00", "2026-01-01T00:00+08:00", "2027-01-01T00:00+08:00"),
            ).fetchall()
            timings.append(time.perf_counter() - began)
    return timings


async def ask(settings: ServiceSettings, repeats: int) -> dict[str, list[float]]:
    app = create_app(settings)
    headers = bearer(Actor(id="leader-1", role=Role.LEADER, site=CITY))
    queries = {
        **{
            f"{subject.value} {period}": (f"/evaluation/{subject.value}", {"period": period})
            for subject in Subject
            for period in ("2026", "2026-06")
        },
        "counters 2026 by major": ("/evaluation/counters", {"period": "2026", "by": "major"}),
    }
    timings: dict[str, list[float]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evaluation") as client:
        asking = progress.phase("asking the service", total=len(queries) * repeats, unit="queries")
        with asking as asked:
            for name, (path, params) in queries.items():
                found = timings[name] = []
                for _ in asked.each(range(repeats)):
                    began = time.perf_counter()
                    answer = await client.get(path, params=params, headers=headers)
                    found.append(time.perf_counter() - began)
                    answer.raise_for_status()
    await app.state.database.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    stack = localstack.Stack.from_env()
    localstack.up(stack)
    url = stack.settings.database_url
    schema = f"bench_evaluation_{uuid4().hex[:8]}"
    database = DatabaseSettings(url=url, schema_name=schema)
    upgrade(database, schema, MIGRATIONS)
    try:
        written = write(url, schema, args.cases, args.seed)
        settings = ServiceSettings(
            site=CITY, districts=",".join(DISTRICTS), database=database, mode=RunMode.DEVELOPMENT
        )
        timings = asyncio.run(ask(settings, args.repeats))
        ceiling = statistics.median(bare_scan(url, schema, args.repeats))
    finally:
        with psycopg.connect(libpq_url(url)) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    results = {
        "machine": closed_loop.machine(),
        "cases": args.cases,
        "generate_judge_write_s": round(written, 1),
        "bare_scan_ms": round(ceiling * 1000, 1),
        "queries_ms": {
            name: {
                "median": round(statistics.median(found) * 1000, 1),
                "max": round(max(found) * 1000, 1),
                "ratio_to_bare_scan": round(statistics.median(found) / ceiling, 1),
            }
            for name, found in timings.items()
        },
    }
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
