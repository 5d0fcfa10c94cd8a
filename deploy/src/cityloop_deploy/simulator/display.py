"""The live counts while a simulation runs, and its summary at the end."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table

from cityloop_deploy.simulator.simulation import Progress, Summary

STEPS = ("reported", "registered", "dispatched", "closed")


def live_view(progress: Progress) -> RenderableType:
    settings, tally = progress.settings, progress.tally
    total = settings.duration_s + settings.drain_s
    elapsed = min(progress.elapsed_s, total)
    hours = settings.clock.simulated_hours(elapsed)
    clock = (settings.start_hour + hours) % 24
    phase = "reporting" if elapsed < settings.duration_s else "finishing open cases"
    head = (
        f"{phase}: {elapsed:.0f}/{total:.0f} s real, simulated day "
        f"{int((settings.start_hour + hours) // 24) + 1} {int(clock):02d}:{int(clock % 1 * 60):02d}"
    )
    table = Table(show_header=False, box=None)
    for step in STEPS:
        table.add_row(step, str(tally.counts[step]))
    table.add_row("in progress", str(progress.in_progress))
    for detour, n in sorted(tally.detours.items()):
        table.add_row(f"detour: {detour}", str(n))
    table.add_row("503 (waited out)", str(tally.answers[503]))
    table.add_row("5xx", str(len(tally.server_errors)), style="red" if tally.server_errors else "")
    table.add_row("errors", str(len(tally.errors)), style="red" if tally.errors else "")
    return Group(head, ProgressBar(total=total, completed=elapsed, width=60), table)


def print_summary(console: Console, summary: Summary) -> None:
    tally = summary.tally
    table = Table(title="CityLoop simulation", show_header=False)
    table.add_row("cases planned / started", f"{summary.planned} / {summary.started}")
    for step in STEPS:
        table.add_row(step, str(tally.counts[step]))
    for status, n in sorted(summary.statuses.items()):
        table.add_row(f"case file: {status}", str(n))
    for detour, n in sorted(tally.detours.items()):
        table.add_row(f"detour: {detour}", str(n))
    for pending, n in sorted(summary.waiting.items()):
        table.add_row(f"waiting on {pending}", str(n))
    answers = ", ".join(f"{status}: {n}" for status, n in sorted(tally.answers.items()))
    table.add_row("answers", answers)
    console.print(table)
    for problem in [*tally.server_errors, *summary.unexplained][:20]:
        console.print(f"[red]{problem}[/red]")
    verdict = "[green]passed[/green]" if summary.passed else "[red]failed[/red]"
    console.print(
        f"soak test {verdict}: {len(summary.unexplained)} unexplained cases, "
        f"{len(tally.server_errors)} server errors"
    )
