from __future__ import annotations

import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from cityloop_deploy import kafka, postgres, process
from cityloop_deploy.paths import (
    STACK_DIR_ENV,
    RepositoryNotFoundError,
    find_repo_root,
    resolve_paths,
)
from cityloop_deploy.pytest_plugin import KafkaBrokerInfo, TopicFactory
from cityloop_deploy.service import ServiceStatus
from cityloop_deploy.settings import SettingsError, StackSettings, env_lines
from cityloop_shared.adapters.postgres import libpq_url

REPO = find_repo_root()


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return {key: value for key, value in pairs}


def test_server_properties_are_single_node_with_data_under_the_stack(tmp_path: Path) -> None:
    paths = resolve_paths({STACK_DIR_ENV: str(tmp_path / "stack")}, repo_root=REPO)
    props = _properties(kafka.render_server_properties(StackSettings(), paths.kafka))

    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["offsets.topic.num.partitions"] == "1"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert props[key] == "1", key
    assert props["log.dirs"] == str(tmp_path / "stack" / "kafka" / "data")


def test_server_properties_follow_the_configured_ports(tmp_path: Path) -> None:
    settings = StackSettings.from_env(
        {"CITYLOOP_STACK_KAFKA_PORT": "29092", "CITYLOOP_STACK_KAFKA_CONTROLLER_PORT": "29093"}
    )
    props = _properties(kafka.render_server_properties(settings, resolve_paths({}, REPO).kafka))

    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29093"


def test_the_stack_lives_under_the_repository_unless_overridden(tmp_path: Path) -> None:
    assert resolve_paths({}, REPO).stack_dir == REPO / ".stack"
    assert resolve_paths({}, REPO).kafka.pid_file == REPO / ".stack" / "kafka" / "kafka.pid"
    moved = resolve_paths({STACK_DIR_ENV: str(tmp_path)}, REPO)
    assert moved.postgres.data == tmp_path / "postgres" / "data"
    assert moved.pom == REPO / "deploy" / "kafka" / "pom.xml"


def test_the_repository_root_is_found_from_inside_it(tmp_path: Path) -> None:
    assert find_repo_root(REPO / "deploy" / "src" / "cityloop_deploy" / "kafka.py") == REPO
    with pytest.raises(RepositoryNotFoundError):
        find_repo_root(tmp_path)


def test_settings_default_to_the_documented_ports() -> None:
    settings = StackSettings.from_env({})
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.database_url == (
        "postgresql+psycopg://cityloop:cityloop@127.0.0.1:15432/cityloop"
    )


@pytest.mark.parametrize(
    "env",
    [
        {"CITYLOOP_STACK_KAFKA_PORT": "kafka"},
        {"CITYLOOP_STACK_POSTGRES_PORT": "70000"},
        {"CITYLOOP_STACK_POSTGRES_PORT": "19092"},
    ],
)
def test_bad_ports_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        StackSettings.from_env(env)


def test_env_lines_are_fit_for_eval() -> None:
    assert env_lines(StackSettings()) == [
        "CITYLOOP_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092",
        "CITYLOOP_DATABASE_URL=postgresql+psycopg://cityloop:cityloop@127.0.0.1:15432/cityloop",
    ]
    assert all(line.startswith("export ") for line in env_lines(StackSettings(), export=True))


def test_postgres_listens_on_loopback_with_its_socket_in_the_stack(tmp_path: Path) -> None:
    pg = resolve_paths({STACK_DIR_ENV: str(tmp_path)}, REPO).postgres
    config = postgres.render_config(StackSettings(), pg)

    assert "listen_addresses = '127.0.0.1'" in config
    assert "port = 15432" in config
    assert f"unix_socket_directories = '{tmp_path / 'postgres' / 'run'}'" in config


def _jar(path: Path, version_resource: str | None) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        if version_resource is not None:
            archive.writestr("kafka/kafka-version.properties", version_resource)


def test_kafka_version_is_read_from_the_clients_jar(tmp_path: Path) -> None:
    assert kafka.kafka_version(tmp_path / "absent") is None
    _jar(tmp_path / "kafka-clients-9.1.0.jar", "commitId=abc\nversion=9.1.0-rc\n")
    assert kafka.kafka_version(tmp_path) == "9.1.0-rc"


def test_kafka_version_falls_back_to_the_jar_name(tmp_path: Path) -> None:
    _jar(tmp_path / "kafka-clients-9.2.0.jar", None)
    assert kafka.kafka_version(tmp_path) == "9.2.0"


@pytest.fixture
def exited_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_a_stale_pid_file_is_removed_and_does_not_count(tmp_path: Path, exited_pid: int) -> None:
    pid_file = tmp_path / "kafka.pid"
    pid_file.write_text(f"{exited_pid}\n")

    assert process.running_pid(pid_file, marker=str(tmp_path / "server.properties")) is None
    assert not pid_file.exists()


def test_a_recycled_pid_of_another_program_does_not_count(tmp_path: Path) -> None:
    pid_file = tmp_path / "kafka.pid"
    pid_file.write_text("1\n")

    assert process.running_pid(pid_file, marker=str(tmp_path / "server.properties")) is None
    assert not pid_file.exists()


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[tuple[int, str]]:
    marker = str(tmp_path / "server.properties")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    # Until the child has exec'd, /proc still shows the parent's command line.
    for _ in range(500):
        if marker in (process.command_line(child.pid) or []):
            break
        time.sleep(0.01)
    try:
        yield child.pid, marker
    finally:
        child.kill()
        child.wait()


def test_a_running_server_is_found_even_without_its_pid_file(
    tmp_path: Path, sleeper: tuple[int, str]
) -> None:
    pid, marker = sleeper
    pid_file = tmp_path / "kafka.pid"

    assert process.running_pid(pid_file, marker) == pid
    assert pid_file.read_text().strip() == str(pid)
    assert process.terminate(pid, timeout=10)
    assert process.running_pid(pid_file, marker) is None


def test_status_lines_name_version_state_and_address() -> None:
    up = ServiceStatus("kafka", True, "127.0.0.1:19092", pid=7, version="Apache Kafka 4.4.0")
    down = ServiceStatus("postgres", False, "127.0.0.1:15432")

    assert up.line() == "kafka Apache Kafka 4.4.0: running (pid 7) at 127.0.0.1:19092"
    assert down.line() == "postgres: stopped at 127.0.0.1:15432"


def test_unique_names_differ_and_keep_their_suffix(unique_name: Callable[[str], str]) -> None:
    first, second = unique_name("cases"), unique_name("cases")
    assert first != second
    assert re.fullmatch(r"t[0-9a-f]{12}-cases", first)


def test_the_sqlalchemy_url_becomes_a_libpq_url() -> None:
    url = "postgresql+psycopg://cityloop:cityloop@127.0.0.1:15432/cityloop"
    assert libpq_url(url) == "postgresql://cityloop:cityloop@127.0.0.1:15432/cityloop"


def test_tests_without_servers_are_marked_unit(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("integration") is None


def test_the_broker_is_real_and_the_one_the_project_runs(
    kafka_broker_info: KafkaBrokerInfo, request: pytest.FixtureRequest
) -> None:
    assert request.node.get_closest_marker("integration") is not None
    assert "broker(s)" in kafka_broker_info.summary
    if kafka_broker_info.source == "launcher":
        assert kafka_broker_info.version == "Apache Kafka 4.4.0"
        assert kafka_broker_info.line().startswith("integration broker: Apache Kafka 4.4.0")


def test_postgres_is_version_15(postgres_url: str) -> None:
    with psycopg.connect(libpq_url(postgres_url)) as conn:
        row = conn.execute("select version()").fetchone()
    assert row is not None
    assert str(row[0]).startswith("PostgreSQL 15.")


async def test_a_record_goes_through_a_fresh_topic(
    kafka_bootstrap: str,
    kafka_topic_factory: TopicFactory,
    unique_name: Callable[[str], str],
) -> None:
    topic = await kafka_topic_factory(unique_name("roundtrip"), partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"reported", key=b"case-1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=unique_name("group"),
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"case-1", b"reported")


def test_a_fresh_schema_is_usable_and_private(postgres_url: str, pg_schema: str) -> None:
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{pg_schema}".journal (id int primary key)')
        conn.execute(f'INSERT INTO "{pg_schema}".journal VALUES (1)')
        rows = conn.execute(f'SELECT id FROM "{pg_schema}".journal').fetchall()
    assert rows == [(1,)]
