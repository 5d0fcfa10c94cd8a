"""A Kafka broker and a PostgreSQL server of a run's own, beside the local stack's.

The fault drill stops and starts its servers while services run against them; the stack's
main broker and database serve every other test and run on this machine at the same time,
so they are never touched. An isolated stack keeps its files in a folder of its own under
the stack folder (``<stack_dir>/isolated/<name>``), runs the main broker's jars and the
machine's PostgreSQL binaries, and listens on ports of its own.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from cityloop_deploy import kafka, postgres
from cityloop_deploy.localstack import Stack
from cityloop_deploy.paths import KafkaPaths, PostgresPaths, StackPaths
from cityloop_deploy.settings import StackSettings

DEFAULT_KAFKA_PORT = 19292
"""Below the two-level tests' service ports (19301 on), above the site clusters' (19192 on)."""
DEFAULT_POSTGRES_PORT = 15532


@dataclass(frozen=True)
class IsolatedStack:
    """``name`` names the folder; the broker listens on ``kafka_port`` (its controller on the
    next port), PostgreSQL on ``postgres_port``, with the main stack's role and password."""

    main: Stack
    name: str
    kafka_port: int = DEFAULT_KAFKA_PORT
    postgres_port: int = DEFAULT_POSTGRES_PORT

    @property
    def home(self) -> Path:
        return self.main.paths.stack_dir / "isolated" / self.name

    @property
    def settings(self) -> StackSettings:
        return replace(
            self.main.settings,
            kafka_port=self.kafka_port,
            kafka_controller_port=self.kafka_port + 1,
            postgres_port=self.postgres_port,
        )

    @property
    def broker(self) -> kafka.Broker:
        return kafka.Broker(
            name=f"kafka-{self.name}",
            kafka=KafkaPaths(self.home / "kafka", libs_dir=self.main.paths.kafka.libs),
            host=self.settings.host,
            kafka_port=self.kafka_port,
            kafka_controller_port=self.kafka_port + 1,
            cluster_id=_cluster_id(self.name),
            port_settings="the isolated stack's kafka_port",
        )

    @property
    def postgres_paths(self) -> PostgresPaths:
        return postgres.locate(StackPaths(self.main.paths.repo_root, self.home))

    @property
    def kafka_bootstrap(self) -> str:
        return self.broker.kafka_bootstrap

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    def start_kafka(self) -> str:
        """Start the broker unless it runs, on the data it kept; its bootstrap address once it
        answers metadata."""
        kafka.start(self.broker, self.main.paths)
        return self.kafka_bootstrap

    def stop_kafka(self) -> bool:
        """A controlled shutdown keeping the broker's data; True when it was running."""
        return kafka.stop(self.broker.kafka)

    def start_postgres(self) -> str:
        """Start the server unless it runs, its role and database made; its URL."""
        postgres.start(self.settings, self.postgres_paths)
        return self.database_url

    def stop_postgres(self) -> bool:
        """A fast shutdown (open sessions rolled back) keeping the data; True when it ran."""
        return postgres.stop(self.postgres_paths)

    def up(self) -> None:
        self.start_postgres()
        self.start_kafka()

    def down(self) -> None:
        self.stop_kafka()
        self.stop_postgres()


def _cluster_id(name: str) -> str:
    """A KRaft cluster id of the name, in the URL-safe base64 of 16 bytes Kafka requires; never
    one beginning with "-", which Kafka's command line would take for an option."""
    seed = f"cityloop-isolated-{name}"
    while True:
        text = base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest()[:16]).decode()
        if not text.startswith("-"):
            return text.rstrip("=")
        seed += "#"
