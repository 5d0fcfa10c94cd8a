"""The embedded mode: a whole city in one process — its districts and the city site, every
service (evaluation and sync included) and the web console — on SQLite files and the
embedded log instead of PostgreSQL and Kafka.

The services are the same code as in the distributed mode; only their settings differ:
each service's database is a SQLite file of its own, ``CITYLOOP_KAFKA_BOOTSTRAP_SERVERS``
names the embedded log (:mod:`cityloop_shared.messaging.embedded`), and each listens on the
port it would have in the distributed run command, so every tool (the simulator, tokens,
the console) finds them in the same places. Everything is kept under one data folder and
survives a restart, a crash included.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from fastapi import FastAPI

import cityloop_casefile.app as casefile
import cityloop_dispatch.app as dispatch
import cityloop_disposal.app as disposal
import cityloop_evaluation.app as evaluation
import cityloop_intake.app as intake
import cityloop_sync.app as sync
import cityloop_verification.app as verification
from cityloop_console.app import create_app as create_console
from cityloop_console.settings import ConsoleSettings
from cityloop_deploy.fleet import SITE_SERVICES, WORKFLOW_STAGES
from cityloop_deploy.identities import jwks_file, site_key
from cityloop_deploy.levels import PORTS_PER_SITE
from cityloop_deploy.simulator.rhythm import Clock
from cityloop_deploy.simulator.simulation import Settings, simulate
from cityloop_shared.contract.sites import city_of
from cityloop_shared.identity.tokens import site_issuer
from cityloop_shared.logging import get_logger
from cityloop_shared.messaging.embedded import embedded_bootstrap
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.settings import (
    AuthSettings,
    DatabaseSettings,
    KafkaSettings,
    LogFormat,
    RunMode,
    ServiceSettings,
    TrustedIssuer,
)

log = get_logger("cityloop.embedded")

BASE_PORT = 8101
CONSOLE_PORT = 8090

_BUILDERS: dict[str, tuple[Callable[[ServiceSettings], FastAPI], Path]] = {
    "intake": (intake.create_app, intake.SERVICE.migrations),
    "casefile": (casefile.create_app, casefile.SERVICE.migrations),
    "dispatch": (dispatch.create_app, dispatch.SERVICE.migrations),
    "disposal": (disposal.create_app, disposal.SERVICE.migrations),
    "verification": (verification.create_app, verification.SERVICE.migrations),
    "evaluation": (evaluation.create_app, evaluation.MIGRATIONS),
    "sync": (sync.create_app, sync.MIGRATIONS),
}
"""Each service as its own process makes it: its app, and the migrations of its database."""


@dataclass(frozen=True)
class Served:
    """One app of the process and where it listens."""

    name: str
    app: FastAPI
    port: int


@dataclass
class EmbeddedCity:
    """A city and its districts in one process, kept under ``data_dir``."""

    data_dir: Path
    districts: Sequence[str]
    base_port: int = BASE_PORT
    console_port: int = CONSOLE_PORT
    host: str = "127.0.0.1"
    log_format: LogFormat = LogFormat.CONSOLE
    clock_scan_seconds: float = 5.0
    served: list[Served] = field(init=False, default_factory=list)

    @property
    def city(self) -> str:
        return city_of(self.districts[0])

    @property
    def sites(self) -> list[str]:
        """Districts first, then the city: the order of the distributed run command's ports."""
        return [*self.districts, self.city]

    @property
    def key_dir(self) -> Path:
        return self.data_dir / "keys"

    def services_of(self, site: str) -> list[str]:
        extra = ["sync", "evaluation"] if site == self.city else ["evaluation"]
        return [*WORKFLOW_STAGES, *extra]

    def port(self, site: str, service: str) -> int:
        return (
            self.base_port + self.sites.index(site) * PORTS_PER_SITE + SITE_SERVICES.index(service)
        )

    def url(self, site: str, service: str) -> str:
        return f"http://{self.host}:{self.port(site, service)}"

    @property
    def console_url(self) -> str:
        return f"http://{self.host}:{self.console_port}"

    def settings(self, site: str, service: str) -> ServiceSettings:
        """What the service would read from its environment in the distributed mode."""
        site_key(self.key_dir, site)
        others = list(self.districts) if site == self.city else [self.city]
        for other in others:
            site_key(self.key_dir, other)
        return ServiceSettings(
            site=site,
            districts=",".join(self.districts) if site == self.city else "",
            mode=RunMode.DEVELOPMENT,
            log_format=self.log_format,
            clock_scan_seconds=self.clock_scan_seconds,
            http_host=self.host,
            http_port=self.port(site, service),
            kafka=KafkaSettings(bootstrap_servers=embedded_bootstrap(self.data_dir / "log.sqlite")),
            database=DatabaseSettings(url=f"sqlite:///{self.data_dir / site / service}.sqlite"),
            auth=AuthSettings(
                jwks_file=jwks_file(self.key_dir, site),
                trusted=[
                    TrustedIssuer(
                        issuer=site_issuer(other),
                        sites=(other,),
                        jwks=str(jwks_file(self.key_dir, other)),
                    )
                    for other in others
                ],
            ),
        )

    def build(self) -> list[Served]:
        """Migrate every service's database and make its app; then the console's."""
        for site in self.sites:
            (self.data_dir / site).mkdir(parents=True, exist_ok=True)
        self.served = []
        for site in self.sites:
            for service in self.services_of(site):
                settings = self.settings(site, service)
                create, migrations = _BUILDERS[service]
                app = create(settings)
                upgrade(settings.database, service, migrations)
                self.served.append(Served(f"{service} {site}", app, settings.http_port))
        console = ConsoleSettings(
            directory={
                site: {service: self.url(site, service) for service in self.services_of(site)}
                for site in self.sites
            },
            key_dir=self.key_dir,
            media_dir=self.data_dir / "media",
            mode=RunMode.DEVELOPMENT,
        )
        self.served.append(Served("console", create_console(console), self.console_port))
        return self.served

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Every app started (its lifespan entered) and listening, until the block ends."""
        async with contextlib.AsyncExitStack() as stack:
            # Every port first: one taken stops the start with its name, before anything runs.
            sockets = [stack.enter_context(self._listen(served)) for served in self.served]
            for served in self.served:
                await stack.enter_async_context(served.app.router.lifespan_context(served.app))
            servers = [
                _QuietServer(
                    uvicorn.Config(
                        served.app,
                        lifespan="off",
                        log_config=None,
                        access_log=False,
                        timeout_keep_alive=75,
                    )
                )
                for served in self.served
            ]
            tasks = [
                asyncio.create_task(server.serve(sockets=[sock]))
                for server, sock in zip(servers, sockets, strict=True)
            ]
            try:
                yield
            finally:
                for server in servers:
                    server.should_exit = True
                await asyncio.gather(*tasks, return_exceptions=True)

    @contextlib.contextmanager
    def _listen(self, served: Served) -> Iterator[socket.socket]:
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listening.bind((self.host, served.port))
        except OSError as error:
            listening.close()
            raise OSError(
                f"{served.name} cannot listen on {self.host}:{served.port}: {error}"
            ) from None
        listening.listen(2048)
        with listening:
            yield listening


class _QuietServer(uvicorn.Server):
    """A server among many in one process: the process, not each server, answers signals."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


async def run_until_stopped(
    city: EmbeddedCity, started: Callable[[], None], traffic: Settings | None = None
) -> None:
    """Serve the city until SIGINT or SIGTERM; with ``traffic``, feed it the simulator's."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with city.running():
        started()
        feeding = asyncio.create_task(simulate(traffic)) if traffic is not None else None
        await stop.wait()
        if feeding is not None:
            feeding.cancel()
            await asyncio.gather(feeding, return_exceptions=True)
    log.info("embedded.stopped")


def demo_traffic(city: EmbeddedCity, reports_per_day: float) -> Settings:
    """The simulator's people at work in every site of ``city`` for a day compressed into an
    hour, so the console and evaluation show life."""
    return Settings(
        site_urls={site: city.url(site, "intake") for site in city.sites},
        key_dir=city.key_dir,
        duration_s=3600,
        drain_s=600,
        clock=Clock(day_minutes=60),
        reports_per_day=reports_per_day,
        start_hour=7,
        seed=int(time.time()),
    )
