"""`cityloop-reference`: load a site's reference data folder and check it, as its services will.

    cityloop-reference check [FOLDER]     # without FOLDER: the shipped demo city

Loads the folder part by part (categories, grids, departments, responsibility, supervisors,
time limits, calendar), showing on a terminal which part is loading, how many are done and
what each held (elsewhere, as in CI logs, one plain line a part), then cross-checks the parts
and prints a table of what each holds. Lists every problem and exits 1 when the folder would
be refused, 0 when it is clean. A calendar that does not cover this year or the next is told,
not refused: services start with it and warn.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from cityloop_shared.reference.bundle import (
    CALENDAR,
    CATEGORIES,
    DEMO_CITY,
    DEPARTMENTS,
    GRIDS,
    PARTS,
    RESPONSIBILITY,
    SUPERVISORS,
    TIME_LIMITS,
    PartLoaded,
    ReferenceData,
)
from cityloop_shared.reference.errors import ReferenceDataError

FILES = dict(
    zip(
        PARTS,
        (f"{CATEGORIES}/", GRIDS, DEPARTMENTS, RESPONSIBILITY, SUPERVISORS, TIME_LIMITS, CALENDAR),
        strict=True,
    )
)
"""Where each part is read from, within the folder."""

UNITS = dict(
    zip(
        PARTS,
        (
            "categories",
            "grids",
            "departments",
            "rules",
            "supervisors",
            "limits",
            "working sessions",
        ),
        strict=True,
    )
)
"""What a part's count counts."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cityloop-reference", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="load a reference data folder and list its problems")
    check.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=DEMO_CITY,
        help="the site's reference data folder (default: the shipped demo city)",
    )
    return parser


def held(count: int | None) -> str:
    return "refused" if count is None else str(count)


@contextmanager
def shown_parts(console: Console, counts: dict[str, int | None]) -> Iterator[PartLoaded]:
    """A callback for ``ReferenceData.load`` that records each part's count and shows it: live
    on a terminal, else one plain line a part."""
    if not console.is_terminal or console.is_dumb_terminal:

        def plain(part: str, count: int | None) -> None:
            counts[part] = count
            console.print(f"{part} {held(count)}")

        yield plain
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("parts"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"loading {PARTS[0]}", total=len(PARTS))

        def live(part: str, count: int | None) -> None:
            counts[part] = count
            done = len(counts)
            upcoming = f"loading {PARTS[done]}" if done < len(PARTS) else "cross-checking"
            progress.update(task, completed=done, description=upcoming, refresh=True)
            mark = "[green]✓[/]" if count is not None else "[red]✗[/]"
            progress.console.print(f"{mark} {part} {held(count)}")

        yield live


def summary(counts: dict[str, int | None]) -> Table:
    table = Table(title="reference data")
    table.add_column("part")
    table.add_column("file")
    table.add_column("items", justify="right")
    table.add_column("of")
    for part in PARTS:
        count = counts.get(part)
        if count is None:
            table.add_row(part, FILES[part], "[red]refused[/]", "")
        else:
            table.add_row(part, FILES[part], str(count), UNITS[part])
    return table


def coverage_note(data: ReferenceData, today: date) -> str | None:
    """What services will warn about the calendar at start, if anything."""
    coverage = data.calendar.coverage(today)
    missing = [
        year
        for year, covered in (
            (coverage.current_year, coverage.current_covered),
            (coverage.current_year + 1, coverage.next_covered),
        )
        if not covered
    ]
    if not missing:
        return None
    years = " and ".join(map(str, missing))
    return (
        f"the calendar does not cover {years}: list the official days under official_years "
        f"in {CALENDAR} once announced (services warn until then)"
    )


def check(folder: Path, console: Console) -> int:
    if not folder.is_dir():
        print(f"cityloop-reference: {folder} is not a folder", file=sys.stderr)
        return 2
    console.print(f"checking {folder}", markup=False)
    counts: dict[str, int | None] = {}
    try:
        with shown_parts(console, counts) as on_part:
            data = ReferenceData.load(folder, on_part=on_part)
    except ReferenceDataError as refused:
        console.print(summary(counts))
        console.print(f"[bold red]{len(refused.problems)} problem(s)[/]:")
        for problem in refused.problems:
            console.print(f"  {problem}", markup=False)
        return 1
    console.print(summary(counts))
    districts = ", ".join(data.districts)
    console.print(f"[green]clean[/]: city {data.city_site}, districts {districts}")
    note = coverage_note(data, datetime.now(data.calendar.zone).date())
    if note is not None:
        console.print(f"[yellow]note[/]: {note}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # One problem a line however long, so an operator (or a script) can read them off.
    console = Console(soft_wrap=True, highlight=False)
    return check(args.folder, console)


if __name__ == "__main__":
    raise SystemExit(main())
