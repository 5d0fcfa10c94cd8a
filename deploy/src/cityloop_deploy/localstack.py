"""The local stack as a whole: Apache Kafka and PostgreSQL up, down and asked how they are."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cityloop_deploy import kafka, postgres
from cityloop_deploy.paths import StackPaths, resolve_paths
from cityloop_deploy.probe import ClusterProbe
from cityloop_deploy.service import ServiceStatus
from cityloop_deploy.settings import StackSettings


@dataclass(frozen=True)
class Stack:
    settings: StackSettings
    paths: StackPaths

    @classmethod
    def from_env(cls) -> Stack:
        return cls(settings=StackSettings.from_env(), paths=resolve_paths())


@dataclass(frozen=True)
class StackReport:
    kafka_version: str
    kafka_probe: ClusterProbe
    postgres_version: str


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    # Two test runs (or a test run and a shell) starting the stack at once must not both
    # launch a broker on the same data directory.
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def up_kafka(stack: Stack) -> ClusterProbe:
    with _exclusive(stack.paths.stack_dir / "launcher.lock"):
        return kafka.start(stack.settings, stack.paths)


def up_postgres(stack: Stack) -> str:
    with _exclusive(stack.paths.stack_dir / "launcher.lock"):
        return postgres.start(stack.settings, postgres.locate(stack.paths))


def up(stack: Stack) -> StackReport:
    """Start what is not running and wait until both answer; a no-op for what already runs."""
    postgres_version = up_postgres(stack)
    probe = up_kafka(stack)
    return StackReport(
        kafka_version=launcher_kafka_version(stack) or "unknown",
        kafka_probe=probe,
        postgres_version=postgres_version,
    )


def down(stack: Stack) -> list[str]:
    """Stop both servers, keeping their data; returns the names of those that were running."""
    stopped = []
    with _exclusive(stack.paths.stack_dir / "launcher.lock"):
        if kafka.stop(stack.paths):
            stopped.append("kafka")
        if postgres.stop(postgres.locate(stack.paths)):
            stopped.append("postgres")
    return stopped


def status(stack: Stack) -> list[ServiceStatus]:
    return [
        kafka.status(stack.settings, stack.paths),
        postgres.status(stack.settings, postgres.locate(stack.paths)),
    ]


def launcher_kafka_version(stack: Stack) -> str | None:
    """The Kafka version of the launcher's jars (the broker's version for test reports)."""
    return kafka.kafka_version(stack.paths.kafka.libs)
