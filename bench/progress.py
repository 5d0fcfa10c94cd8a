"""Live progress of a benchmark on stderr, so that its results on stdout stay parseable.

    with progress.phase("closing cases", total=600, unit="cases", count=lambda: len(closed)):
        ...
    with progress.phase("writing the log", total=len(events), unit="events") as writing:
        for event in events:
            ...
            writing.advance()

A thread samples the count twice a second and draws it: the measured loops only add to a
counter, or not even that when ``count`` reads one the benchmark keeps anyway, so the
figures do not pay for the display. On a terminal one live line (rich) shows what the phase
does, a bar and how far it is (done of planned), its rate per second and its time; elsewhere
(CI logs) a plain line says the same when the phase starts, every ``PLAIN_EVERY`` seconds
and when it ends.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeVar

from rich.console import Console
from rich.live import Live
from rich.text import Text

SAMPLE_SECONDS = 0.5
BAR_WIDTH = 30
PLAIN_EVERY = 5.0
"""Seconds between two plain lines: often enough to see a run move, seldom enough to read."""

T = TypeVar("T")


class Phase:
    """One long step of a benchmark and how far it has got."""

    def __init__(
        self,
        what: str,
        total: int | None,
        unit: str | None,
        count: Callable[[], int] | None,
        clock: Callable[[], float],
    ) -> None:
        self.what = what
        self.total = total
        self.unit = unit
        self.done = 0
        """Items done so far, when the benchmark counts them with :meth:`advance`."""
        self._count = count
        self._clock = clock
        self._began = clock()

    def advance(self, items: int = 1) -> None:
        self.done += items

    def each(self, items: Iterable[T]) -> Iterator[T]:
        """The items, each counted once the loop has taken the next."""
        for item in items:
            yield item
            self.done += 1

    def counted(self) -> int:
        return self._count() if self._count is not None else self.done

    def status(self) -> str:
        """How far the phase is, e.g. ``120/600 cases (20%), 35.2 cases/s, 3.4 s``."""
        seconds = self._clock() - self._began
        if self.unit is None:
            return f"{seconds:.1f} s"
        done = self.counted()
        counts = f"{done:,}/{self.total:,}" if self.total else f"{done:,}"
        share = f" ({100 * done / self.total:.0f}%)" if self.total else ""
        rate = done / seconds if seconds > 0 else 0.0
        per_second = f"{rate:,.1f}" if rate < 10 else f"{rate:,.0f}"
        return f"{counts} {self.unit}{share}, {per_second} {self.unit}/s, {seconds:.1f} s"


@contextmanager
def phase(
    what: str,
    *,
    total: int | None = None,
    unit: str | None = None,
    count: Callable[[], int] | None = None,
    stream: TextIO | None = None,
    plain_every: float = PLAIN_EVERY,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Phase]:
    """Show ``what`` the benchmark does while the block runs.

    ``unit`` names what is counted (without it only the time is shown); ``count`` reads the
    count from the benchmark's own tally, else the block counts with :meth:`Phase.advance`.
    """
    out = stream if stream is not None else sys.stderr
    current = Phase(what, total, unit, count, clock)
    console = Console(file=out)
    shown = _live(console, current) if console.is_terminal else _plain(out, current, plain_every)
    with shown:
        yield current


@contextmanager
def _sampled(every: float, sample: Callable[[], None]) -> Iterator[None]:
    """``sample`` called from a thread every ``every`` seconds while the block runs."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            sample()

    thread = threading.Thread(target=run, name="bench-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def _plain(out: TextIO, current: Phase, every: float) -> Iterator[None]:
    def say(line: str) -> None:
        print(line, file=out, flush=True)

    say(f"{current.what} …")
    ended = "stopped"
    try:
        with _sampled(every, lambda: say(f"{current.what}: {current.status()}")):
            yield
        ended = "done"
    finally:
        say(f"{current.what}: {current.status()}, {ended}")


@contextmanager
def _live(console: Console, current: Phase) -> Iterator[None]:
    # One Text line through Live: a rich Progress table costs ten times as much to draw, time
    # the benchmark's own loop would wait on. Stdout is left alone: it carries the results.
    with Live(
        _line(current),
        console=console,
        auto_refresh=False,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as shown:

        def sample() -> None:
            shown.update(_line(current), refresh=True)

        try:
            with _sampled(SAMPLE_SECONDS, sample):
                yield
        finally:
            sample()


def _line(current: Phase) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{current.what} ", style="bold")
    if current.total:
        filled = min(BAR_WIDTH, BAR_WIDTH * current.counted() // current.total)
        line.append("━" * filled, style="green")
        line.append("━" * (BAR_WIDTH - filled), style="grey23")
        line.append(" ")
    line.append(current.status())
    return line
