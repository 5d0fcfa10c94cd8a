"""``bench/progress.py``: a benchmark's live counts on stderr, plain lines off a terminal."""

from __future__ import annotations

import importlib.util
import io
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.unit

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def progress() -> ModuleType:
    # bench/ holds scripts, not a package: loaded by path, as they import it from their folder.
    spec = importlib.util.spec_from_file_location("bench_progress", BENCH / "progress.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)


def ticking(*moments: float) -> Callable[[], float]:
    readings: Iterator[float] = iter(moments)
    return lambda: next(readings)


def test_off_a_terminal_a_phase_says_what_it_does_then_its_counts_and_rate(
    progress: ModuleType,
) -> None:
    out = io.StringIO()

    with progress.phase(
        "writing the log", total=10, unit="events", stream=out, clock=ticking(0.0, 2.0)
    ) as writing:
        for _ in range(10):
            writing.advance()

    assert out.getvalue().splitlines() == [
        "writing the log …",
        "writing the log: 10/10 events (100%), 5.0 events/s, 2.0 s, done",
    ]


def test_plain_lines_come_periodically_while_the_phase_runs(progress: ModuleType) -> None:
    out = io.StringIO()
    read: list[int] = []

    with progress.phase(
        "reading", unit="records", count=lambda: len(read), stream=out, plain_every=0.05
    ):
        for record in range(40):
            read.append(record)
            time.sleep(0.01)

    lines = out.getvalue().splitlines()
    between = lines[1:-1]
    assert between, lines
    for line in between:
        assert re.fullmatch(r"reading: \d+ records, [\d.,]+ records/s, \d+\.\d s", line), line
    assert re.fullmatch(r"reading: 40 records, [\d.,]+ records/s, \d+\.\d s, done", lines[-1])


def test_items_counted_by_each_and_a_failing_phase_is_marked_stopped(
    progress: ModuleType,
) -> None:
    out = io.StringIO()

    def judge() -> None:
        with progress.phase(
            "judging", total=8, unit="cases", stream=out, clock=ticking(0.0, 0.5)
        ) as judging:
            for number in judging.each(range(8)):
                if number == 4:
                    raise RuntimeError("broken case")

    with pytest.raises(RuntimeError, match="broken case"):
        judge()

    last = out.getvalue().splitlines()[-1]
    assert last == "judging: 4/8 cases (50%), 8.0 cases/s, 0.5 s, stopped"


def test_a_phase_without_a_unit_shows_only_its_time(progress: ModuleType) -> None:
    out = io.StringIO()

    with progress.phase("starting the services", stream=out, clock=ticking(0.0, 12.3)):
        pass

    assert out.getvalue().splitlines()[-1] == "starting the services: 12.3 s, done"


def test_on_a_terminal_the_counts_are_drawn_live(
    progress: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    screen = io.StringIO()

    with progress.phase(
        "closing cases", total=4, unit="cases", stream=screen, clock=ticking(0.0, 1.0, 2.0)
    ) as closing:
        closing.advance(4)

    assert "closing cases" in screen.getvalue()
    assert "4/4 cases (100%), 2.0 cases/s, 2.0 s" in screen.getvalue()
    assert "…" not in screen.getvalue()
