"""Site clusters: a Kafka cluster of its own for each site, beside the stack's main broker."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cityloop_deploy import cli, clusters, kafka, localstack, process
from cityloop_deploy.cluster_fixtures import SiteClusters
from cityloop_deploy.paths import STACK_DIR_ENV, StackPaths, find_repo_root, resolve_paths
from cityloop_deploy.probe import probe_cluster
from cityloop_deploy.service import StackError
from cityloop_deploy.settings import (
    KAFKA_CONTROLLER_PORT_ENV,
    KAFKA_PORT_ENV,
    POSTGRES_PORT_ENV,
    SITE_KAFKA_BASE_PORT_ENV,
    SettingsError,
    StackSettings,
)
from cityloop_shared.runtime.built_in import BuiltInSettings, refuse_built_in
from cityloop_shared.settings import ServiceSettings

REPO = find_repo_root()
COMPOSE_SITES = ("370212", "370202", "370200")


def _paths(tmp_path: Path) -> StackPaths:
    return resolve_paths({STACK_DIR_ENV: str(tmp_path / "stack")}, repo_root=REPO)


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return {key: value for key, value in pairs}


def test_ports_follow_the_place_in_the_list(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    found = clusters.site_clusters(StackSettings(), paths, ["370212", "370202", "370200"])

    assert [(c.site, c.kafka_port, c.kafka_controller_port) for c in found] == [
        ("370212", 19192, 19193),
        ("370202", 19194, 19195),
        ("370200", 19196, 19197),
    ]
    assert [c.bootstrap for c in found] == ["127.0.0.1:19192", "127.0.0.1:19194", "127.0.0.1:19196"]
    city = found[2]
    assert city.kafka.home == tmp_path / "stack" / "clusters" / "370200"
    assert city.kafka.data == tmp_path / "stack" / "clusters" / "370200" / "data"
    assert city.kafka.pid_file == tmp_path / "stack" / "clusters" / "370200" / "kafka.pid"
    # The main broker's jars, not a copy.
    assert city.kafka.libs == paths.kafka.libs == tmp_path / "stack" / "kafka" / "libs"
    assert city.env_name == "CITYLOOP_SITE_370200_KAFKA_BOOTSTRAP_SERVERS"


def test_the_base_port_is_configurable(tmp_path: Path) -> None:
    settings = StackSettings.from_env({SITE_KAFKA_BASE_PORT_ENV: "29100"})
    found = clusters.site_clusters(settings, _paths(tmp_path), ["370200", "370212"])

    ports = [(c.kafka_port, c.kafka_controller_port) for c in found]
    assert ports == [(29100, 29101), (29102, 29103)]


@pytest.mark.parametrize(
    ("env", "sites"),
    [
        ({}, ["37021"]),
        ({}, ["370212", "370212"]),
        ({}, ["../etc"]),
        # The second site would take PostgreSQL's port.
        ({SITE_KAFKA_BASE_PORT_ENV: "15430"}, ["370212", "370202"]),
        ({SITE_KAFKA_BASE_PORT_ENV: "65535"}, ["370212"]),
    ],
)
def test_bad_sites_and_clashing_ports_are_refused(
    tmp_path: Path, env: dict[str, str], sites: list[str]
) -> None:
    with pytest.raises(SettingsError):
        clusters.site_clusters(StackSettings.from_env(env), _paths(tmp_path), sites)


def test_each_site_has_its_own_cluster_id_derived_from_its_code() -> None:
    ids = {site: clusters.cluster_id(site) for site in clusters.DEFAULT_SITES}

    assert len(set(ids.values())) == len(ids)
    assert kafka.CLUSTER_ID not in ids.values()
    for site, cluster_id in ids.items():
        # Kafka's form: the URL-safe base64 of 16 bytes, without padding.
        assert len(cluster_id) == 22
        raw = base64.urlsafe_b64decode(cluster_id + "==")
        assert raw == hashlib.sha256(f"cityloop-{site}".encode()).digest()[:16]
    assert ids["370212"] == "zv-x4VQKndvmmNp7PAVD5w"


def test_a_sites_port_does_not_depend_on_which_test_asks_first(tmp_path: Path) -> None:
    stack = localstack.Stack(StackSettings(), _paths(tmp_path))
    one, other = SiteClusters(stack, print), SiteClusters(stack, print)

    assert one.cluster("370200").kafka_port == 19196
    assert one.cluster("370281").kafka_port == 19202  # after the five of the default list
    assert one.cluster("370212").kafka_port == 19192
    assert other.cluster("370212").kafka_port == 19192
    assert other.cluster("370200").kafka_port == 19196
    assert other.cluster("370281").kafka_port == 19202
    assert other.cluster("370282").kafka_port == 19204
    assert clusters.with_site(("370212",), "370212") == ("370212",)


def test_server_properties_are_per_cluster(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    cluster = clusters.site_clusters(StackSettings(), paths, ["370212", "370202"])[1]
    props = _properties(kafka.render_server_properties(cluster.broker, cluster.kafka))

    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19194,CONTROLLER://127.0.0.1:19195"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19194"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19195"
    assert props["log.dirs"] == str(tmp_path / "stack" / "clusters" / "370202" / "data")
    assert props["auto.create.topics.enable"] == "false"
    assert cluster.broker.name == "kafka-370202"
    assert cluster.broker.cluster_id == clusters.cluster_id("370202")


def test_the_main_broker_is_unchanged(tmp_path: Path) -> None:
    settings, paths = StackSettings(), _paths(tmp_path)
    main = kafka.main_broker(settings, paths)

    assert (main.name, main.kafka_bootstrap, main.kafka_controller_port) == (
        "kafka",
        "127.0.0.1:19092",
        19093,
    )
    assert main.cluster_id == "Q2l0eUxvb3AtbG9jYWwwMQ"
    assert main.kafka == paths.kafka
    assert kafka.render_server_properties(main, main.kafka) == kafka.render_server_properties(
        settings, paths.kafka
    )


def test_storage_of_another_cluster_is_refused(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    cluster = clusters.site_clusters(StackSettings(), paths, ["370212"])[0]
    cluster.kafka.data.mkdir(parents=True)
    (cluster.kafka.data / "meta.properties").write_text(f"cluster.id={kafka.CLUSTER_ID}\n")

    with pytest.raises(StackError, match="belongs to cluster"):
        kafka.format_storage(cluster.broker, paths.log4j2_config)


def test_status_lists_each_site_cluster_at_its_last_address(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    stack = localstack.Stack(StackSettings(), paths)
    for cluster in clusters.site_clusters(stack.settings, paths, ["370212", "370202"]):
        cluster.kafka.home.mkdir(parents=True)
        text = kafka.render_server_properties(cluster.broker, cluster.kafka)
        cluster.kafka.server_properties.write_text(text)

    assert clusters.found_sites(paths) == ["370202", "370212"]
    found = clusters.found_cluster(paths, "370202")
    assert found is not None
    assert (found.kafka_port, found.kafka_controller_port) == (19194, 19195)
    assert found.cluster_id == clusters.cluster_id("370202")
    lines = [status.line() for status in localstack.status(stack)[2:]]
    assert lines == [
        "kafka-370202: stopped at 127.0.0.1:19194",
        "kafka-370212: stopped at 127.0.0.1:19192",
    ]


def test_env_prints_a_line_per_site_fit_for_eval(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (KAFKA_PORT_ENV, KAFKA_CONTROLLER_PORT_ENV, POSTGRES_PORT_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(SITE_KAFKA_BASE_PORT_ENV, raising=False)

    assert cli.main(["env", "--export", "--sites", "370212, 370202,370200"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0] == "export CITYLOOP_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092"
    assert lines[2:] == [
        "export CITYLOOP_SITE_370212_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19192",
        "export CITYLOOP_SITE_370202_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19194",
        "export CITYLOOP_SITE_370200_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19196",
    ]


def test_the_compose_file_of_the_sites_matches_the_launcher(tmp_path: Path) -> None:
    compose: dict[str, Any] = yaml.safe_load((REPO / "deploy" / "compose.sites.yaml").read_text())
    services = compose["services"]
    expected = clusters.site_clusters(StackSettings(), _paths(tmp_path), COMPOSE_SITES)

    servers = {name for name in services if name.startswith(("kafka", "postgres"))}
    assert servers == {*(f"kafka-{site}" for site in COMPOSE_SITES), "postgres"}
    volumes: set[str] = set()
    for cluster in expected:
        service = services[f"kafka-{cluster.site}"]
        env = service["environment"]
        port, controller = cluster.kafka_port, cluster.kafka_controller_port
        assert service["ports"] == [f"127.0.0.1:{port}:{port}"]
        assert env["CLUSTER_ID"] == cluster.cluster_id
        assert env["KAFKA_LISTENERS"] == f"PLAINTEXT://:{port},CONTROLLER://:{controller}"
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{cluster.bootstrap}"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"1@localhost:{controller}"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert f"localhost:{port}" in service["healthcheck"]["test"][1]
        volumes.update(volume.split(":")[0] for volume in service["volumes"])
    assert len(volumes) == len(COMPOSE_SITES)
    # The one PostgreSQL is compose.yaml's, on the launcher's port.
    assert services["postgres"]["extends"] == {"file": "compose.yaml", "service": "postgres"}
    main: dict[str, Any] = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    assert main["services"]["postgres"]["ports"] == ["127.0.0.1:15432:5432"]
    assert compose["name"] == main["name"]


async def _topics(bootstrap: str) -> set[str]:
    admin: Any = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def _create_topic(bootstrap: str, name: str) -> None:
    admin: Any = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1)])
    finally:
        await admin.close()


async def _delete_topic(bootstrap: str, name: str) -> None:
    admin: Any = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([name])
    finally:
        await admin.close()


async def test_two_sites_run_clusters_of_their_own_that_stop_and_start(
    site_clusters: SiteClusters,
    unique_name: Callable[[str], str],
    request: pytest.FixtureRequest,
) -> None:
    assert request.node.get_closest_marker("integration") is not None
    district = site_clusters.bootstrap("370212")
    other = site_clusters.bootstrap("370202")
    assert district == site_clusters.cluster("370212").bootstrap
    assert other == site_clusters.cluster("370202").bootstrap
    assert district != other

    first, second = await probe_cluster(district), await probe_cluster(other)
    assert first.cluster_id == clusters.cluster_id("370212")
    assert second.cluster_id == clusters.cluster_id("370202")
    assert first.cluster_id != second.cluster_id
    kept = unique_name("kept")
    await _create_topic(other, kept)
    try:
        assert kept not in await _topics(district)

        site_clusters.stop("370202")
        host, _, port = other.rpartition(":")
        assert not process.port_in_use(host, int(port))
        with pytest.raises(Exception):  # noqa: B017, PT011 - any failure: nothing answers there
            await probe_cluster(other, timeout_ms=1000)
        assert (await probe_cluster(district)).cluster_id == first.cluster_id

        assert site_clusters.start("370202") == other
        assert (await probe_cluster(other)).cluster_id == second.cluster_id
        assert kept in await _topics(other)  # its data kept
    finally:
        await _delete_topic(site_clusters.bootstrap("370202"), kept)


def test_every_service_of_the_compose_file_would_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside development mode a service refuses built-in keys and passwords: the compose
    demo, which uses them, must say it is one."""
    compose: dict[str, Any] = yaml.safe_load((REPO / "deploy" / "compose.sites.yaml").read_text())
    workers = {
        name: service["environment"]
        for name, service in compose["services"].items()
        if "CITYLOOP_SITE" in service.get("environment", {})
    }
    assert len(workers) >= 3 * 6
    for name, env in workers.items():
        with monkeypatch.context() as patched:
            for key, value in env.items():
                patched.setenv(key, str(value))
            try:
                refuse_built_in(ServiceSettings())
            except BuiltInSettings as refused:
                raise AssertionError(f"{name} would not start: {refused}") from refused
