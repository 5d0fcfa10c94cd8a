"""CPU used by the processes a benchmark watches, read from ``/proc`` (Linux only)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path

Reading = dict[int, tuple[str, float]]
"""pid → (the name it is counted under, CPU seconds it has used so far)."""
Classify = Callable[[int, str, str], str | None]
"""(pid, command name, command line) → the name a process is counted under, or None."""


def local_stack(named_pids: Mapping[int, str]) -> Classify:
    """Processes named by pid, then PostgreSQL's server processes and the Kafka broker."""

    def classify(pid: int, command: str, command_line: str) -> str | None:
        if pid in named_pids:
            return named_pids[pid]
        if command == "postgres":
            return "postgres"
        if "kafka.Kafka" in command_line:
            return "kafka"
        return None

    return classify


def reading(classify: Classify) -> Reading:
    ticks = os.sysconf("SC_CLK_TCK")
    used: Reading = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        # A process may end between listing and reading: it is simply not counted.
        with contextlib.suppress(OSError):
            command = (entry / "comm").read_text().strip()
            command_line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            name = classify(int(entry.name), command, command_line)
            if name is not None:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                used[int(entry.name)] = (name, (int(fields[11]) + int(fields[12])) / ticks)
    return used


def spent(before: Reading, after: Reading) -> dict[str, float]:
    """CPU seconds per name between two readings; a process started in between counts whole."""
    totals: dict[str, float] = {}
    for pid, (name, seconds) in after.items():
        totals[name] = totals.get(name, 0.0) + seconds - before.get(pid, (name, 0.0))[1]
    return dict(sorted(totals.items(), key=lambda item: -item[1]))
