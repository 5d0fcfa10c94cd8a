"""The embedded mode (the README's run command) killed with SIGKILL while the simulator feeds
it: restarted on the same data, every case the simulator began is intact and goes on to its
end, every event any stage journaled reaches the case file and evaluation once, and no
journal is left unpublished."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from rich.console import Console

from cityloop_deploy.embedded import EmbeddedCity
from cityloop_deploy.simulator.desks import Tally
from cityloop_deploy.simulator.display import print_summary
from cityloop_deploy.simulator.rhythm import Clock
from cityloop_deploy.simulator.simulation import Progress, Settings, simulate

from .ports import free_port_block

DISTRICTS = ("370212", "370202")
READY_TIMEOUT_S = 90


class EmbeddedProcess:
    """``cityloop-run`` (embedded) as a process of its own, on ``city``'s data and ports."""

    def __init__(self, city: EmbeddedCity, log: Path) -> None:
        self.city = city
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "cityloop_deploy.run",
            "--data",
            str(self.city.data_dir),
            "--districts",
            ",".join(self.city.districts),
            "--port",
            str(self.city.base_port),
            "--console-port",
            str(self.city.console_port),
        ]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self) -> None:
        urls = [
            f"{self.city.url(site, service)}/ready"
            for site in self.city.sites
            for service in self.city.services_of(site)
        ]
        deadline = time.monotonic() + READY_TIMEOUT_S
        for url in urls:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise AssertionError(f"embedded mode exited:\n{self.log.read_text()[-3000:]}")
                try:
                    with urllib.request.urlopen(url, timeout=2) as answer:
                        if answer.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{url} not ready:\n{self.log.read_text()[-3000:]}")
                time.sleep(0.2)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedProcess]:
    base, console = free_port_block()
    city = EmbeddedCity(tmp_path / "data", DISTRICTS, base_port=base, console_port=console)
    process = EmbeddedProcess(city, tmp_path / "embedded.log")
    try:
        yield process
    finally:
        process.stop()


def test_a_killed_embedded_city_restarts_with_every_case_intact(
    embedded: EmbeddedProcess,
) -> None:
    city = embedded.city
    embedded.start()
    settings = Settings(
        site_urls={site: city.url(site, "intake") for site in city.sites},
        key_dir=city.key_dir,
        duration_s=30,
        drain_s=50,
        clock=Clock(day_minutes=1),
        reports_per_day=120,
        start_hour=8,
        seed=11,
    )
    progress = Progress(settings, Tally())

    async def drive_through_a_crash() -> int:
        running = asyncio.create_task(simulate(settings, progress))
        await asyncio.sleep(15)
        begun = sum(1 for story in progress.stories if story.case_id is not None)
        await asyncio.to_thread(embedded.kill)
        # The simulator's people keep resending with their idempotency keys meanwhile.
        await asyncio.to_thread(embedded.start)
        summary = await running
        print_summary(Console(width=120), summary)  # shown when the test fails
        assert summary.unexplained == [], summary.unexplained
        assert summary.tally.server_errors == []
        return begun

    begun_before_the_kill = asyncio.run(drive_through_a_crash())
    assert begun_before_the_kill >= 5
    cases = {story.case_id for story in progress.stories if story.case_id is not None}
    assert len(cases) == len(progress.stories) >= 20

    deadline = time.monotonic() + 60
    while (gaps := _gaps(city, cases)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert gaps == []
    # Nothing failed on the way there: no delivery was retried, no part started over.
    assert "Traceback" not in embedded.log.read_text()


def _gaps(city: EmbeddedCity, cases: set[UUID]) -> list[str]:
    """What is not (yet) as it should be: events journaled but not published, or not once
    in the case file and evaluation of their site; cases the case file does not hold."""
    gaps: list[str] = []
    held: set[str] = set()
    for site in city.sites:
        journaled: set[str] = set()
        for service in city.services_of(site):
            if service in ("evaluation", "sync"):
                continue
            rows = _rows(city, site, service, "SELECT event_id, published_at FROM journal")
            journaled |= {event_id for event_id, _ in rows}
            unpublished = [event_id for event_id, published in rows if not published]
            if unpublished:
                gaps.append(f"{site} {service}: {len(unpublished)} events not published")
        for reader in ("casefile", "evaluation"):
            seen = [row[0] for row in _rows(city, site, reader, "SELECT event_id FROM timeline")]
            if len(seen) != len(set(seen)):
                gaps.append(f"{site} {reader}: an event in its timeline twice")
            missing = journaled - set(seen)
            if missing:
                gaps.append(f"{site} {reader}: {len(missing)} journaled events not in timeline")
        held |= {
            row[0] for row in _rows(city, site, "casefile", "SELECT DISTINCT case_id FROM timeline")
        }
    lost = {str(case).replace("-", "") for case in cases} - {c.replace("-", "") for c in held}
    if lost:
        gaps.append(f"{len(lost)} begun cases not in any case file")
    return gaps


def _rows(city: EmbeddedCity, site: str, service: str, query: str) -> list[tuple[str, ...]]:
    path = city.data_dir / site / f"{service}.sqlite"
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        # An unset column (published_at) reads as the empty string.
        return [
            tuple("" if v is None else str(v) for v in row) for row in connection.execute(query)
        ]
    finally:
        connection.close()
