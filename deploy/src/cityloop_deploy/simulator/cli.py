"""`cityloop-simulate`: a compressed working day of traffic fed to running CityLoop sites.

By default the demo city of `cityloop-run`; exits non-zero when the soak test fails.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.live import Live

from cityloop_deploy import localstack
from cityloop_deploy.levels import BASE_PORT, PORTS_PER_SITE
from cityloop_deploy.run import DEMO_DISTRICTS
from cityloop_deploy.simulator.desks import Tally
from cityloop_deploy.simulator.display import live_view, print_summary
from cityloop_deploy.simulator.rhythm import Clock
from cityloop_deploy.simulator.simulation import Progress, Settings, simulate
from cityloop_shared.contract.sites import city_of

DEMO_SITES = {
    site: f"http://127.0.0.1:{BASE_PORT + index * PORTS_PER_SITE}"
    for index, site in enumerate([*DEMO_DISTRICTS, city_of(DEMO_DISTRICTS[0])])
}
"""Where `cityloop-run` serves the demo city: the districts' ports first, then the city's."""


def _site(text: str) -> tuple[str, str]:
    site, _, url = text.partition("=")
    if not url:
        raise argparse.ArgumentTypeError(f"{text}: give SITE=URL")
    return site, url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cityloop-simulate", description=__doc__.split("\n")[0].split(": ", 1)[1]
    )
    parser.add_argument(
        "--site",
        type=_site,
        action="append",
        metavar="SITE=URL",
        help="a site to feed, at the URL of its first service (intake; the others on the "
        "ports after it); repeat for each. Default: the demo city of cityloop-run, "
        + ", ".join(f"{site}={url}" for site, url in DEMO_SITES.items()),
    )
    parser.add_argument(
        "--keys", type=Path, help="the sites' signing keys (default: the local stack's keys/)"
    )
    parser.add_argument(
        "--development", action="store_true", help="sign with the built-in development keys"
    )
    parser.add_argument("--duration", type=float, default=600, help="real seconds of reporting")
    parser.add_argument(
        "--drain", type=float, default=120, help="real seconds to go on with open cases after"
    )
    parser.add_argument(
        "--day-minutes", type=float, default=10, help="real minutes a simulated day takes"
    )
    parser.add_argument("--reports-per-day", type=float, default=400)
    parser.add_argument("--start-hour", type=int, default=7, choices=range(24), metavar="HOUR")
    parser.add_argument("--seed", type=int, default=1)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sites = dict(args.site) if args.site else DEMO_SITES
    key_dir = (
        None
        if args.development
        else args.keys or localstack.Stack.from_env().paths.stack_dir / "keys"
    )
    try:
        clock = Clock(args.day_minutes)
    except ValueError as error:
        _parser().error(str(error))
    settings = Settings(
        site_urls=sites,
        key_dir=key_dir,
        duration_s=args.duration,
        drain_s=args.drain,
        clock=clock,
        reports_per_day=args.reports_per_day,
        start_hour=args.start_hour,
        seed=args.seed,
    )
    console = Console()
    progress = Progress(settings, Tally())
    with Live(console=console, get_renderable=lambda: live_view(progress)):
        try:
            summary = asyncio.run(simulate(settings, progress))
        except ValueError as error:
            print(f"cityloop-simulate: {error}", file=sys.stderr)
            return 2
    print_summary(console, summary)
    return 0 if summary.passed else 1


if __name__ == "__main__":
    sys.exit(main())
