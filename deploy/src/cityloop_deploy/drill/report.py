"""A drill's result as Markdown, for docs/fault-drill.md and the terminal."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable

from cityloop_deploy.drill.faults import DrillReport

SHOWN_FAULTS = 20


def machine() -> str:
    """The machine the drill ran on: what limits its figures."""
    memory = ""
    try:
        with open("/proc/meminfo") as info:
            kib = int(info.readline().split()[1])
        memory = f", {kib / 2**20:.0f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.system()} {platform.release()} ({platform.machine()}), "
        f"{os.cpu_count()} cores{memory}, Python {platform.python_version()}, "
        # Whatever else ran on the machine meanwhile shows here, and in the phases' lengths.
        f"load average {os.getloadavg()[2]:.1f} over the last 15 minutes"
    )


def markdown(report: DrillReport, versions: str) -> str:
    plan, tally, books = report.plan, report.tally, report.books
    lines = [
        f"### {report.started:%Y-%m-%d %H:%M} UTC: {'passed' if report.passed else 'FAILED'}",
        "",
        f"Machine: {machine()}; {versions}.",
        "",
        f"Plan: Kafka stopped {plan.kafka_outage_s:.0f} s, PostgreSQL stopped "
        f"{plan.postgres_outage_s:.0f} s, then each service killed with SIGKILL and started "
        f"again, {plan.between_kills_s:.0f} s apart; {plan.steady_s:.0f} s of steady load "
        f"before, between and after; a report every {plan.report_every_s:g} s, "
        f"{plan.desks} desks taking cases from report to close.",
        "",
        "| phase | began (s) | lasted (s) |",
        "|---|---:|---:|",
        *(f"| {p.name} | {p.began_s:.1f} | {p.lasted_s:.1f} |" for p in report.phases),
        "",
        f"Cases reported {len(tally.reported)}, taken to their close {len(tally.closed)}; "
        f"every service had applied everything {report.caught_up_s:.1f} s after the desks "
        "finished.",
        "",
        "Answers the people got (no connection: the service was being restarted):",
        "",
        "| service | 2xx | 404 (not there yet) | 503 + Retry-After | other | no connection |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for service in report.services:
        counted = {status: n for (name, _, status), n in tally.answers.items() if name == service}
        ok = sum(n for status, n in counted.items() if 200 <= status < 300)
        other = sum(counted.values()) - ok - counted.get(404, 0) - counted.get(503, 0)
        lines.append(
            f"| {service} | {ok} | {counted.get(404, 0)} | {counted.get(503, 0)} | {other} "
            f"| {tally.unreachable[service]} |"
        )
    lines += [
        "",
        "The books after recovery, per service (accepted = commands answered 2xx; to apply = "
        "events of the site's journals it follows or emits; applied = of them in its inbox):",
        "",
        "| service | accepted | lost | journaled | decided twice | on its topic | re-sent "
        "| to apply | applied | parked |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {s.service} | {s.accepted_commands} | {s.lost} | {s.journaled} "
            f"| {s.decided_twice} | {s.logged} | {s.resent} | {s.to_apply} | {s.applied} "
            f"| {s.parked} |"
            for s in books.services
        ),
        "",
        f"Cases in the journals {books.cases}, each step of report to close once: "
        f"{books.closed}; broken chain links on the topics: {len(books.broken_links)}.",
    ]
    faults = report.faults
    lines += ["", f"Faults: {len(faults)}."]
    lines += _listed(faults) + _listed(books.broken_links)
    return "\n".join(lines) + "\n"


def _listed(items: Iterable[str]) -> list[str]:
    shown = list(items)
    return [f"- {item}" for item in shown[:SHOWN_FAULTS]] + (
        [f"- … and {len(shown) - SHOWN_FAULTS} more"] if len(shown) > SHOWN_FAULTS else []
    )
