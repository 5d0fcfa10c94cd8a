"""Closed-loop benchmark: N cases through every stage of one site on the local stack.

    uv run python bench/closed_loop.py --cases 600 --concurrency 80

Starts Kafka and PostgreSQL (the local launcher) and every workflow service as its own
process in a fresh topic namespace and schemas, drives N supervisor reports from report
to close over HTTP with `concurrency` cases in flight, and reports:

- closed cases per second over the whole run;
- the stack's ceiling measured in the same run (``bench/stack_ceiling.py``'s ``write``: a
  command that is one durable write), and the ratio of closed cases per second to it
  (write requests per second ÷ 8 commands a case);
- foldings per closed case: events applied to any service's store (rows of every
  service's ``tracking``, received or emitted);
- command latency per step (HTTP round trip of the command), p50/p99;
- hop latency per event type: from the event's occurrence in the emitting service to its
  application in each consuming service (Kafka + relay + consumer + transaction), p50/p99;
- how long each case took from report to close, p50/p99;
- where the time goes: CPU milliseconds per closed case of each service, PostgreSQL, the
  Kafka broker and the driver (read from ``/proc``), database transactions per case, and
  the desks' work-queue polls per case (and the entries they listed), by service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import aiohttp
import cpu_use
import progress
import psycopg
import stack_ceiling
import uvloop
from shapely.geometry import Point

from cityloop_deploy import localstack
from cityloop_deploy.fleet import WORKFLOW_STAGES, Fleet, FleetConfig
from cityloop_shared.adapters.postgres import libpq_url
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.ports.tracker import OWN
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.testing.identity import bearer

PLACES = 2000
POLL_SECONDS = 0.2
T = TypeVar("T")
PHOTO = {"uri": "https://media.cityloop.example/p/1.jpg", "media_type": "image/jpeg"}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def _retrying(send: Callable[[], Awaitable[T]]) -> T:
    """Resend on a dropped connection; commands carry an idempotency key, so this is safe."""
    for attempt in range(5):
        try:
            return await send()
        except aiohttp.ClientConnectionError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.1)
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class Place:
    lon: float
    lat: float
    supervisor_id: str
    """The supervisor of the place's grid, who reports there and checks the work."""


def places(site: str, count: int) -> list[Place]:
    """Points spread over the site's grids of the demo city, as problems are in a city.

    One point for every case would make every report a likely duplicate of every open one.
    """
    chosen = random.Random(site)
    reference = ReferenceData.demo()
    grids = reference.grids.in_area(site)
    spread: list[Place] = []
    while len(spread) < count:
        grid = chosen.choice(grids)
        west, south, east, north = grid.geometry.bounds
        lon, lat = chosen.uniform(west, east), chosen.uniform(south, north)
        if grid.geometry.contains(Point(lon, lat)):
            supervisor = reference.supervisors.supervisor_for(grid.grid_code)
            assert supervisor is not None, f"the demo city has no supervisor for {grid.grid_code}"
            spread.append(Place(lon, lat, supervisor.id))
    return spread


class Watch:
    """One work queue a desk polls while anyone waits on it.

    One query serves every case in flight, as a dispatcher's queue does, instead of each case
    polling its own detail.
    """

    def __init__(self, driver: Driver, queue: Queue) -> None:
        self.driver = driver
        self.queue = queue
        self.waiting: dict[UUID, asyncio.Future[None]] = {}
        self.task: asyncio.Task[None] | None = None
        self.polls = 0
        self.listed = 0

    async def wait(self, case_id: UUID) -> None:
        arrived = self.waiting[case_id] = asyncio.get_running_loop().create_future()
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.poll())
        await arrived

    async def poll(self) -> None:
        try:
            while self.waiting:
                await self.look()
                await asyncio.sleep(POLL_SECONDS)
        except Exception as error:
            # Everyone waiting would otherwise wait forever on a watch that stopped.
            for arrived in self.waiting.values():
                arrived.set_exception(error)
            self.waiting.clear()

    async def look(self) -> None:
        stage, path, params, headers, listed = self.queue
        status, answer = await self.driver.call(stage, "GET", path, params=params, headers=headers)
        if status != 200:
            raise RuntimeError(f"{stage} {path}: {status} {answer}")
        self.polls += 1
        ids = listed(answer)
        self.listed += len(ids)
        for case_id in ids:
            arrived = self.waiting.pop(UUID(case_id), None)
            if arrived is not None:
                arrived.set_result(None)

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()


Queue = tuple[str, str, dict[str, Any], dict[str, str], Callable[[Any], list[str]]]
"""A desk's work queue: service, path, query, the desk's headers, the case ids it lists."""


def ids_in(key: str) -> Callable[[Any], list[str]]:
    return lambda answer: [entry["case_id"] for entry in answer[key]]


class Driver:
    def __init__(self, fleet: Fleet) -> None:
        site = fleet.config.site

        def auth(role: Role, id: str, department: str | None = None) -> dict[str, str]:
            actor = Actor(id=id, role=role, site=site, department_id=department)
            return bearer(actor)

        self.auth = auth
        self.places = places(site, PLACES)
        self.operator = auth(Role.ACCEPTANCE_OPERATOR, "operator-1")
        self.chief = auth(Role.DUTY_CHIEF, "chief-1")
        self.dispatcher = auth(Role.DISPATCHER, "dispatcher-1")
        # aiohttp rather than httpx: the driver shares the two cores with what it measures,
        # and httpx's connection pool cost it several times more CPU per request.
        self.http = {
            stage: aiohttp.ClientSession(
                base_url=fleet.config.url(stage),
                timeout=aiohttp.ClientTimeout(total=60),
                connector=aiohttp.TCPConnector(limit=200),
            )
            for stage in WORKFLOW_STAGES
        }
        self.command_latency: dict[str, list[float]] = defaultdict(list)
        self.case_seconds: list[float] = []
        self.watches: dict[str, Watch] = {}
        self.closed: list[UUID] = []

    async def command(
        self, step: str, stage: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        headers = {**headers, "Idempotency-Key": uuid4().hex}
        began = time.perf_counter()
        status, answer = await self.call(stage, "POST", path, json=body, headers=headers)
        self.command_latency[step].append(time.perf_counter() - began)
        if status >= 300:
            raise RuntimeError(f"{step}: {status} {answer}")
        decided: dict[str, Any] = answer
        return decided

    async def call(self, stage: str, method: str, path: str, **options: Any) -> tuple[int, Any]:
        """The status and JSON body of one request, resent on a dropped connection."""

        async def send() -> tuple[int, Any]:
            async with self.http[stage].request(method, path, **options) as response:
                return response.status, await response.json(content_type=None)

        return await _retrying(send)

    async def until(self, queue: Queue, case_id: UUID) -> None:
        """Wait until the desk's work queue lists the case, as the desk sees it."""
        stage, path, params, _, _ = queue
        name = f"{stage} {path} {sorted(params.items())}"
        watch = self.watches.get(name)
        if watch is None:
            watch = self.watches[name] = Watch(self, queue)
        await watch.wait(case_id)

    def reported(self) -> Queue:
        """The acceptance operator's: reported cases in the case file."""
        params = {"status": "reported", "limit": 500}
        return ("casefile", "/cases", params, self.operator, ids_in("cases"))

    def to_dispatch(self) -> Queue:
        return ("dispatch", "/dispatch/queue", {}, self.dispatcher, ids_in("awaiting_dispatch"))

    def to_do(self, staff: dict[str, str]) -> Queue:
        params = {"state": "awaiting_acceptance", "limit": 500}
        return ("disposal", "/tasks", params, staff, ids_in("tasks"))

    def to_check(self) -> Queue:
        params = {"pending": "true", "limit": 500}
        return ("verification", "/checks", params, self.chief, ids_in("checks"))

    async def one_case(self) -> None:
        began = time.perf_counter()
        place = random.choice(self.places)
        supervisor = self.auth(Role.FIELD_SUPERVISOR, place.supervisor_id)
        body = {
            "channel": "supervisor",
            "category_code": "06001",
            "description": "暴露垃圾",
            "location": {"lon": place.lon, "lat": place.lat},
        }
        reported = await self.command("report", "intake", "/reports", body, supervisor)
        case_id = UUID(reported["case_id"])
        await self.until(self.reported(), case_id)
        await self.command("accept", "casefile", f"/cases/{case_id}/accept", {}, self.operator)
        await self.command(
            "register",
            "casefile",
            f"/cases/{case_id}/register",
            {"category_code": "06001"},
            self.chief,
        )
        await self.until(self.to_dispatch(), case_id)
        dispatched = await self.command(
            "dispatch", "dispatch", f"/cases/{case_id}/dispatch", {}, self.dispatcher
        )
        department = str(dispatched["department_id"])
        staff = self.auth(Role.DEPARTMENT, f"{department}-staff", department)
        await self.until(self.to_do(staff), case_id)
        await self.command("take", "disposal", f"/cases/{case_id}/accept", {}, staff)
        await self.command(
            "complete",
            "disposal",
            f"/cases/{case_id}/complete",
            {"description": "已清理", "evidence": [PHOTO]},
            staff,
        )
        await self.until(self.to_check(), case_id)
        await self.command(
            "check", "verification", f"/cases/{case_id}/check", {"passed": True}, supervisor
        )
        await self.command("close", "verification", f"/cases/{case_id}/close", {}, self.chief)
        self.case_seconds.append(time.perf_counter() - began)
        self.closed.append(case_id)

    async def run(self, cases: int, concurrency: int) -> float:
        gate = asyncio.Semaphore(concurrency)

        async def gated() -> None:
            async with gate:
                await self.one_case()

        began = time.perf_counter()
        await asyncio.gather(*(gated() for _ in range(cases)))
        return time.perf_counter() - began

    async def close(self) -> None:
        for watch in self.watches.values():
            watch.stop()
        for session in self.http.values():
            await session.close()


def desk_load(driver: Driver, counted: str, cases: int) -> dict[str, float]:
    """Work-queue polls (or the entries they listed) per closed case, by serving service."""
    total: dict[str, int] = defaultdict(int)
    for watch in driver.watches.values():
        total[watch.queue[0]] += getattr(watch, counted)
    return {stage: round(n / cases, 2) for stage, n in sorted(total.items())}


def hop_latencies(config: FleetConfig, database_url: str) -> dict[str, list[float]]:
    """Seconds from each event's occurrence to its application, per event type, all services."""
    journals = " UNION ALL ".join(
        f'SELECT event_id, occurred_at FROM "{config.schema(stage)}".journal'
        for stage in WORKFLOW_STAGES
    )
    hops: dict[str, list[float]] = defaultdict(list)
    with psycopg.connect(libpq_url(database_url)) as conn:
        for stage in WORKFLOW_STAGES:
            rows = conn.execute(
                f"SELECT t.event_type, EXTRACT(EPOCH FROM t.applied_at - j.occurred_at) "
                f'FROM "{config.schema(stage)}".tracking t JOIN ({journals}) j USING (event_id) '
                "WHERE t.source <> %s",
                (OWN,),
            ).fetchall()
            for event_type, seconds in rows:
                hops[event_type].append(float(seconds))
    return hops


def foldings(config: FleetConfig, database_url: str, cases: list[UUID]) -> dict[str, float]:
    """Events applied per closed case, by service: what each service's tracking holds of them."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        return {
            stage: conn.execute(
                f'SELECT count(*) FROM "{config.schema(stage)}".tracking WHERE case_id = ANY(%s)',
                (cases,),
            ).fetchone()[0]  # type: ignore[index]
            / len(cases)
            for stage in WORKFLOW_STAGES
        }


def transactions(database_url: str) -> int:
    """Transactions the database has ended so far, committed or rolled back."""
    with psycopg.connect(libpq_url(database_url)) as conn:
        # The statistics reach the view about once a second; a fresh snapshot reads them.
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_kib // 1024 // 1024} GiB, {platform.platform()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=80)
    parser.add_argument(
        "--ceiling-requests",
        type=int,
        default=6000,
        help="requests of the same-run ceiling measurement (bench/stack_ceiling.py's write)",
    )
    parser.add_argument(
        "--ceiling-concurrency",
        type=int,
        default=80,
        help="requests in flight of the ceiling measurement: the ceiling bench's own default, "
        "whatever the loop's, so the ratio is to the stack's best",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--keep", action="store_true", help="keep the run's schemas and topics for inspection"
    )
    args = parser.parse_args()

    stack = localstack.Stack.from_env()
    localstack.up(stack)
    namespace = f"bench{uuid4().hex[:8]}"
    config = FleetConfig(
        site="370212",
        kafka_bootstrap=stack.settings.kafka_bootstrap,
        database_url=stack.settings.database_url,
        log_dir=stack.paths.stack_dir / "bench" / namespace,
        base_port=18900,
        topic_namespace=namespace,
        schema_prefix=f"{namespace}_",
        extra_env={"CITYLOOP_MODE": "development", "CITYLOOP_LOG_LEVEL": "WARNING"},
    )
    fleet = Fleet(config)
    try:
        with progress.phase("starting the services"):
            fleet.start()
        watched = cpu_use.local_stack(
            {os.getpid(): "driver"}
            | {service.pid: stage for stage, service in fleet.services.items() if service.pid}
        )

        async def drive() -> tuple[Driver, float, dict[str, float], int]:
            driver = Driver(fleet)
            warm_up = min(10, args.cases)
            with progress.phase(
                "warming up", total=warm_up, unit="cases", count=lambda: len(driver.closed)
            ):
                await driver.run(warm_up, min(10, args.concurrency))
            driver.command_latency.clear()
            driver.case_seconds.clear()
            driver.closed.clear()
            driver.watches.clear()
            before, ended = cpu_use.reading(watched), transactions(stack.settings.database_url)
            try:
                with progress.phase(
                    "closing cases",
                    total=args.cases,
                    unit="cases",
                    count=lambda: len(driver.closed),
                ):
                    seconds = await driver.run(args.cases, args.concurrency)
            finally:
                await driver.close()
            # A second for the statistics to reach the view (see transactions()).
            cpu = cpu_use.spent(before, cpu_use.reading(watched))
            await asyncio.sleep(1.0)
            ended = transactions(stack.settings.database_url) - ended
            return driver, seconds, cpu, ended

        driver, seconds, cpu, ended = uvloop.run(drive())
        hops = hop_latencies(config, stack.settings.database_url)
        folded = foldings(config, stack.settings.database_url, driver.closed)
    finally:
        fleet.stop()
        if not args.keep:
            fleet.clear_away()

    # The ceiling in the same run, on the same machine, once the fleet has stopped.
    ceiling = stack_ceiling.measure(
        stack.settings.database_url, args.ceiling_requests, args.ceiling_concurrency, ("write",)
    )["write"]
    closed_per_second = args.cases / seconds
    ceiling_cases = ceiling["requests_per_second"] / stack_ceiling.COMMANDS_PER_CASE
    results = {
        "machine": machine(),
        "cases": args.cases,
        "concurrency": args.concurrency,
        "seconds": round(seconds, 2),
        "closed_cases_per_second": round(closed_per_second, 2),
        "write_ceiling": {
            "concurrency": args.ceiling_concurrency,
            "requests_per_second": ceiling["requests_per_second"],
            "closed_cases_per_second": round(ceiling_cases, 1),
        },
        "ratio_to_ceiling": round(closed_per_second / ceiling_cases, 3),
        "foldings_per_closed_case": round(sum(folded.values()), 1),
        "foldings_per_closed_case_by_service": {k: round(v, 2) for k, v in folded.items()},
        "case_seconds_p50_p99": [round(percentile(driver.case_seconds, q), 3) for q in (0.5, 0.99)],
        "command_ms_p50_p99": {
            step: [round(1000 * percentile(values, q), 1) for q in (0.5, 0.99)]
            for step, values in driver.command_latency.items()
        },
        "hop_ms_p50_p99": {
            event_type: [round(1000 * percentile(values, q), 1) for q in (0.5, 0.99)]
            for event_type, values in sorted(hops.items())
        },
        "hop_mean_ms_all": round(1000 * statistics.fmean(v for vs in hops.values() for v in vs), 1),
        "cores_busy": round(sum(cpu.values()) / seconds, 2),
        "cpu_ms_per_closed_case": {
            name: round(1000 * used / args.cases, 1) for name, used in cpu.items()
        },
        "database_transactions_per_closed_case": round(ended / args.cases, 1),
        "desk_polls_per_closed_case": desk_load(driver, "polls", args.cases),
        "entries_listed_per_closed_case": desk_load(driver, "listed", args.cases),
    }
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
