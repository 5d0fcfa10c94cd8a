"""CityLoop's test harness: a real Apache Kafka and a real PostgreSQL, or a loud failure.

Each comes from configuration if given, else from the local launcher, else from
testcontainers where a Docker engine answers. A test never silently skips for want of a
broker, and an in-memory stand-in is refused.
"""

from __future__ import annotations

import asyncio
import os
import sys
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal
from uuid import uuid4

import psycopg
import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from psycopg import sql
from sqlalchemy.engine import make_url

from cityloop_deploy import containers, kafka, localstack
from cityloop_deploy.cluster_fixtures import SiteClusters, open_site_clusters
from cityloop_deploy.probe import BrokerNotReadyError, run_sync, wait_for_broker
from cityloop_deploy.service import StackError
from cityloop_deploy.site_fixtures import (
    auth,
    service_settings,
    site,
    site_topics,
    topic_namespace,
    upstream,
)
from cityloop_shared.adapters.postgres import libpq_url

KAFKA_ENV = "CITYLOOP_TEST_KAFKA_BOOTSTRAP_SERVERS"
DATABASE_ENV = "CITYLOOP_TEST_DATABASE_URL"

Source = Literal["configured", "launcher", "testcontainers"]

# Fixtures that reach a real server; a test that needs one of them, however indirectly,
# is an integration test.
INTEGRATION_FIXTURES = frozenset(
    {"kafka_bootstrap", "kafka_broker_info", "postgres_url", "site_clusters"}
)

INSTALL_HINT = (
    "install Java 17+ and Maven (the launcher runs Kafka from the Maven Central jars) and "
    "the PostgreSQL 15 server, or run a Docker engine for testcontainers, or point "
    f"{KAFKA_ENV} / {DATABASE_ENV} at running servers"
)

__all__ = [
    "SiteClusters",
    "auth",
    "service_settings",
    "site",
    "site_topics",
    "topic_namespace",
    "upstream",
]

_report_lines = pytest.StashKey[list[str]]()


@dataclass(frozen=True)
class KafkaBrokerInfo:
    bootstrap: str
    source: Source
    version: str
    summary: str

    def line(self) -> str:
        return f"integration broker: {self.version} ({self.source}) at {self.bootstrap}"


def _report(config: pytest.Config, line: str) -> None:
    config.stash.setdefault(_report_lines, []).append(line)
    print(line, file=sys.stderr)


def _refuse_fake_broker(bootstrap: str) -> None:
    if "memory" in bootstrap.lower() or "://" in bootstrap:
        pytest.fail(
            f"{KAFKA_ENV}={bootstrap!r} is not a Kafka bootstrap list (host:port,...): "
            "integration tests need a real broker, never an in-memory one",
            pytrace=False,
        )


def _launcher_version_at(bootstrap: str) -> str | None:
    """The jars' version when `bootstrap` is the launcher's own running broker."""
    try:
        stack = localstack.Stack.from_env()
    except StackError:
        return None
    if bootstrap != stack.settings.kafka_bootstrap:
        return None
    if kafka.running_pid(stack.paths.kafka) is None:
        return None
    return localstack.launcher_kafka_version(stack)


def _start_kafka() -> tuple[str, Source, str, Callable[[], None] | None]:
    configured = os.environ.get(KAFKA_ENV, "").strip()
    if configured:
        _refuse_fake_broker(configured)
        version = _launcher_version_at(configured)
        return (
            configured,
            "configured",
            f"Apache Kafka {version}" if version else "Kafka (version not known to the harness)",
            None,
        )
    try:
        stack = localstack.Stack.from_env()
        localstack.up_kafka(stack)
        version = localstack.launcher_kafka_version(stack) or "unknown"
        return stack.settings.kafka_bootstrap, "launcher", f"Apache Kafka {version}", None
    except StackError as launcher_error:
        if not containers.docker_engine_answers():
            pytest.fail(
                f"no Kafka broker for integration tests: the local launcher failed "
                f"({launcher_error}) and no Docker engine answers: {INSTALL_HINT}",
                pytrace=False,
            )
        warnings.warn(
            f"the local launcher failed ({launcher_error}); using testcontainers instead",
            stacklevel=1,
        )
    started = containers.start_kafka()
    return started.address, "testcontainers", started.description, started.stop


@pytest.fixture(scope="session")
def kafka_broker_info(request: pytest.FixtureRequest) -> Iterator[KafkaBrokerInfo]:
    bootstrap, source, version, stop = _start_kafka()
    try:
        try:
            probe = run_sync(lambda: wait_for_broker(bootstrap, within_s=30.0))
        except BrokerNotReadyError as error:
            pytest.fail(f"the {source} Kafka at {bootstrap} is not a usable broker: {error}")
        info = KafkaBrokerInfo(
            bootstrap=bootstrap, source=source, version=version, summary=probe.summary()
        )
        _report(request.config, f"{info.line()}; {info.summary}")
        yield info
    finally:
        if stop is not None:
            stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker_info: KafkaBrokerInfo) -> str:
    return kafka_broker_info.bootstrap


@pytest.fixture(scope="session")
def site_clusters(request: pytest.FixtureRequest) -> Iterator[SiteClusters]:
    """A Kafka cluster of its own per site, from the local launcher: `bootstrap("370200")`
    starts that site's broker if need be; `stop(site)` / `start(site)` stop it (its data
    kept) and start it again. A broker that cannot start fails the test."""
    clusters = open_site_clusters(lambda line: _report(request.config, line))
    try:
        yield clusters
    finally:
        clusters.restore()


def _start_postgres() -> tuple[str, Source, Callable[[], None] | None]:
    configured = os.environ.get(DATABASE_ENV, "").strip()
    if configured:
        if make_url(configured).get_backend_name() != "postgresql":
            pytest.fail(
                f"{DATABASE_ENV}={configured!r}: integration tests need PostgreSQL",
                pytrace=False,
            )
        return configured, "configured", None
    try:
        stack = localstack.Stack.from_env()
        localstack.up_postgres(stack)
        return stack.settings.database_url, "launcher", None
    except StackError as launcher_error:
        if not containers.docker_engine_answers():
            pytest.fail(
                f"no PostgreSQL for integration tests: the local launcher failed "
                f"({launcher_error}) and no Docker engine answers: {INSTALL_HINT}",
                pytrace=False,
            )
        warnings.warn(
            f"the local launcher failed ({launcher_error}); using testcontainers instead",
            stacklevel=1,
        )
    started = containers.start_postgres()
    return started.address, "testcontainers", started.stop


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    url, source, stop = _start_postgres()
    try:
        try:
            with psycopg.connect(libpq_url(url), connect_timeout=10) as conn:
                row = conn.execute("SHOW server_version").fetchone()
        except psycopg.Error as error:
            pytest.fail(f"the {source} PostgreSQL at {make_url(url)!r} does not answer: {error}")
        where = make_url(url).render_as_string(hide_password=True)
        version = row[0] if row else "unknown"
        _report(request.config, f"integration database: PostgreSQL {version} ({source}) at {where}")
        yield url
    finally:
        if stop is not None:
            stop()


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """Names no other test, nor an earlier run against the same broker, has used."""

    def make(suffix: str) -> str:
        return f"t{uuid4().hex[:12]}-{suffix}"

    return make


TopicFactory = Callable[..., Awaitable[str]]


@pytest_asyncio.fixture
async def kafka_topic_factory(kafka_bootstrap: str) -> AsyncIterator[TopicFactory]:
    """`await create(name, partitions=3, **topic_configs)` creates a topic and returns once
    the broker's metadata shows all its partitions led. Afterwards the topics are deleted,
    and with them every topic of their namespaces (``ns.`` before ``cityloop.``), also those
    the test's services made (the other level's): a broker's open files are counted, and a
    run leaves nothing behind."""
    admin: Any = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    created: list[str] = []

    async def create(name: str, partitions: int = 1, **topic_configs: str) -> str:
        response: Any = await admin.create_topics(
            [NewTopic(name, partitions, 1, topic_configs=topic_configs)]
        )
        for topic, code, *rest in response.topic_errors:
            if code != 0:
                raise AssertionError(f"creating topic {topic} failed: error {code} {rest}")
        created.append(name)
        await _until_led(admin, name, partitions)
        return name

    try:
        yield create
    finally:
        namespaces = {name.partition(".cityloop.")[0] for name in created if ".cityloop." in name}
        ours = [
            topic
            for topic in await admin.list_topics()
            if topic in created or topic.split(".", 1)[0] in namespaces
        ]
        if ours:
            await admin.delete_topics(ours)
        await admin.close()


async def _until_led(admin: Any, name: str, partitions: int) -> None:
    for _ in range(200):
        described: list[dict[str, Any]] = await admin.describe_topics([name])
        found = [t for t in described if t["topic"] == name and t["error_code"] == 0]
        if found and sum(p["leader"] >= 0 for p in found[0]["partitions"]) == partitions:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"topic {name} did not show {partitions} led partitions in metadata")


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A fresh, empty schema in the test database, dropped with all it holds afterwards."""
    name = f"t{uuid4().hex[:12]}"
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # First, so that `-m unit` / `-m integration` deselect on the marks given here.
    for item in items:
        if item.get_closest_marker("unit") or item.get_closest_marker("integration"):
            continue
        needs_servers = INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        item.add_marker(pytest.mark.integration if needs_servers else pytest.mark.unit)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    for line in config.stash.get(_report_lines, []):
        terminalreporter.write_line(line)
