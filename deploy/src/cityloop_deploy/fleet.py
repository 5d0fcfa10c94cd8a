"""The workflow services of one site, each as its own process (the local stack's services).

Used by the run command to serve the demo city and by the end-to-end tests, which also
kill services with SIGKILL and start them again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from aiokafka.admin import AIOKafkaAdminClient
from psycopg import sql

from cityloop_deploy.kafka_logins import KafkaLogins
from cityloop_shared.adapters.postgres import libpq_url

WORKFLOW_STAGES = ("intake", "casefile", "dispatch", "disposal", "verification")
SITE_SERVICES = (*WORKFLOW_STAGES, "sync", "evaluation")
"""Every service a site may run: the workflow stages, sync at a city, and evaluation."""
BASE_PORT = 8101


class ServiceStartError(RuntimeError):
    """A service process exited or did not answer its health check in time."""


@dataclass(frozen=True)
class FleetConfig:
    """What every process of the fleet shares, and where each one listens."""

    site: str
    kafka_bootstrap: str
    database_url: str
    log_dir: Path
    base_port: int = BASE_PORT
    topic_namespace: str | None = None
    schema_prefix: str = ""
    extra_env: Mapping[str, str] = field(default_factory=dict)
    kafka_logins: KafkaLogins | None = None
    """Set on a secured cluster: each service logs in as its own principal."""

    def port(self, stage: str) -> int:
        return self.base_port + SITE_SERVICES.index(stage)

    def url(self, stage: str) -> str:
        return f"http://127.0.0.1:{self.port(stage)}"

    def schema(self, stage: str) -> str:
        return f"{self.schema_prefix}{stage}"

    def env(self, stage: str) -> dict[str, str]:
        values = {
            **os.environ,
            "CITYLOOP_SITE": self.site,
            "CITYLOOP_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            **(self.kafka_logins.service_env(self.site, stage) if self.kafka_logins else {}),
            "CITYLOOP_DATABASE_URL": self.database_url,
            "CITYLOOP_DATABASE_SCHEMA_NAME": self.schema(stage),
            "CITYLOOP_HTTP_PORT": str(self.port(stage)),
            **self.extra_env,
        }
        if self.topic_namespace:
            values["CITYLOOP_TOPIC_NAMESPACE"] = self.topic_namespace
        return values


class ServiceProcess:
    def __init__(self, config: FleetConfig, stage: str) -> None:
        self.config = config
        self.stage = stage
        self.log_file = config.log_dir / f"{stage}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", f"cityloop_{self.stage}"],
                env=self.config.env(self.stage),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_ready(self, within: float = 90.0) -> None:
        """Until ``/health`` answers; the consumer and relay start before it does."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise ServiceStartError(f"{self.stage} exited: see {self.log_file}")
            try:
                with urllib.request.urlopen(f"{self.config.url(self.stage)}/health", timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise ServiceStartError(f"{self.stage} did not answer within {within}s: {self.log_file}")

    def kill(self) -> None:
        """SIGKILL: a crash at an arbitrary moment, no shutdown code runs."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()

    def stop(self, within: float = 20.0) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(within)
        except subprocess.TimeoutExpired:
            self.kill()


class Fleet:
    def __init__(self, config: FleetConfig, stages: Iterable[str] = WORKFLOW_STAGES) -> None:
        self.config = config
        self.services = {stage: ServiceProcess(config, stage) for stage in stages}

    def start(self) -> None:
        for service in self.services.values():
            service.start()
        try:
            for service in self.services.values():
                service.wait_ready()
        except ServiceStartError:
            self.stop()
            raise

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()

    def __getitem__(self, stage: str) -> ServiceProcess:
        return self.services[stage]

    def clear_away(self) -> None:
        """Drop the fleet's schemas and, in a namespace of its own, its topics: test and
        benchmark runs against one local stack would otherwise pile them up."""
        with psycopg.connect(libpq_url(self.config.database_url), autocommit=True) as conn:
            for stage in self.services:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                        sql.Identifier(self.config.schema(stage))
                    )
                )
        if self.config.topic_namespace:
            asyncio.run(
                delete_namespace_topics(self.config.kafka_bootstrap, self.config.topic_namespace)
            )


async def delete_namespace_topics(bootstrap: str, namespace: str) -> None:
    """Every topic of a namespace: the fleet's, and what its services made."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        ours = [topic for topic in await admin.list_topics() if topic.startswith(f"{namespace}.")]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()
