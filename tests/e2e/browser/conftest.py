"""The console in real headless Chromium, in front of two districts and their city, each site
on a Kafka cluster and a database of its own, every service its own process.

Playwright's sync API runs its own event loop, so these tests are plain sync tests: the
console serves from a thread of its own.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from cityloop_console.app import create_app
from cityloop_console.settings import STAGES, ConsoleSettings
from cityloop_deploy.cluster_fixtures import SiteClusters
from cityloop_deploy.levels import PORTS_PER_SITE, Levels, SitePlan
from cityloop_shared.contract.actors import Role
from cityloop_shared.settings import RunMode
from tests.e2e.conftest import CITY, DISTRICTS, SERVICE_ENV

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1440, "height": 1000}
PHONE = "Pixel 7"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "console"
"""Where the tests leave each role's page, for docs/console.md."""


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync driver runs an event loop on the main thread while it is open: it
    is closed after this package, so the tests after it may run their own loops."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"no Chromium at {CHROMIUM}: install Debian's chromium package")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser, as on a desk: no cookies, a desktop screen."""
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def phone(browser: Browser, playwright: Playwright) -> Iterator[Page]:
    """A fresh browser on a phone: its screen, touch and user agent."""
    device = {k: v for k, v in playwright.devices[PHONE].items() if k != "default_browser_type"}
    context = browser.new_context(**device, locale="zh-CN")
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def levels(
    site_clusters: SiteClusters, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Levels]:
    """Two districts and their city, each with its evaluation service, each site signing
    with a key of its own."""
    namespace = f"b{uuid4().hex[:10]}"
    sites = 1 + len(DISTRICTS)
    levels = Levels(
        city=SitePlan(CITY, site_clusters.bootstrap(CITY)),
        districts=[SitePlan(d, site_clusters.bootstrap(d)) for d in DISTRICTS],
        server_url=postgres_url,
        log_dir=tmp_path_factory.mktemp("sites"),
        base_port=_free_ports(sites * PORTS_PER_SITE),
        topic_namespace=namespace,
        schema_prefix=f"{namespace}_",
        extra_env=SERVICE_ENV,
        with_evaluation=True,
        key_dir=tmp_path_factory.mktemp("keys"),
    )
    try:
        levels.start()
        yield levels
    finally:
        levels.stop()
        _off_the_browsers_loop(levels.clear_away)


@dataclass
class Console:
    """The console running in front of ``levels``."""

    url: str
    levels: Levels
    settings: ConsoleSettings

    def sign_in(self, page: Page, site: str, role: str, person: str) -> None:
        """Through the sign-in form, as a person at a desk would; ends on the role's home."""
        page.goto(f"{self.url}/login")
        page.select_option("#site", site)
        page.select_option("#role", str(Role(role)))
        page.select_option("#person", person)
        with page.expect_navigation():
            page.click("#sign-in")


@pytest.fixture(scope="module")
def console(levels: Levels, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    settings = ConsoleSettings(
        directory={
            site: {stage: fleet.config.url(stage) for stage in fleet.services if stage in STAGES}
            for site, fleet in levels.fleets.items()
        },
        key_dir=levels.key_dir,
        media_dir=tmp_path_factory.mktemp("media"),
        mode=RunMode.DEVELOPMENT,
    )
    port = _free_ports(1)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console did not start")
        time.sleep(0.05)
    try:
        yield Console(f"http://127.0.0.1:{port}", levels, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def screenshot(page: Page, name: str) -> None:
    """The page as a person sees it, for docs/console.md."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _off_the_browsers_loop(work: Callable[[], None]) -> None:
    """Run ``work`` on a thread of its own: Playwright's sync API keeps an event loop running
    on this one, on which ``asyncio.run`` (the clearing away of the sites' topics) may not."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


def _free_ports(count: int, attempts: int = 50) -> int:
    """The first of ``count`` consecutive ports free on the loopback, picked at random so
    test runs side by side do not collide; below the kernel's ephemeral ports (32768 up),
    which an outgoing connection may take between this look and the services' start."""
    for _ in range(attempts):
        first = 20000 + (uuid4().int % 120) * 100
        if all(_is_free(first + offset) for offset in range(count)):
            return first
    raise RuntimeError(f"found no {count} consecutive free ports")


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
