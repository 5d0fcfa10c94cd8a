"""The launcher's secured site clusters, as configured: SASL/SCRAM logins only, ACLs with
nothing allowed by default, apart from the plain clusters; a password of its own for each
principal, from one key kept private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cityloop_deploy import clusters, kafka
from cityloop_deploy.kafka_logins import ADMIN, KafkaLogins, principal
from cityloop_deploy.paths import STACK_DIR_ENV, StackPaths, find_repo_root, resolve_paths
from cityloop_deploy.service import StackError
from cityloop_deploy.settings import SECURED_KAFKA_BASE_PORT_ENV, StackSettings

SITES = ["370212", "370202", "370200"]


def _paths(tmp_path: Path) -> StackPaths:
    return resolve_paths({STACK_DIR_ENV: str(tmp_path / "stack")}, repo_root=find_repo_root())


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return {key: value for key, value in pairs}


def test_a_secured_cluster_takes_scram_logins_only_and_allows_nothing_by_default(
    tmp_path: Path,
) -> None:
    paths = _paths(tmp_path)
    security = KafkaLogins.of_stack(paths).broker_security()
    city = clusters.site_clusters(StackSettings(), paths, SITES, security)[2]
    props = _properties(kafka.render_server_properties(city.broker, city.kafka, security))

    assert props["listeners"] == "SASL_PLAINTEXT://127.0.0.1:19256,CONTROLLER://127.0.0.1:19257"
    assert props["advertised.listeners"] == "SASL_PLAINTEXT://127.0.0.1:19256"
    assert props["inter.broker.listener.name"] == "SASL_PLAINTEXT"
    assert props["listener.security.protocol.map"] == (
        "CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT"
    )
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert props["authorizer.class.name"] == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    )
    assert props["super.users"] == f"User:{ADMIN}"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert security.admin_password in props["listener.name.controller.plain.sasl.jaas.config"]
    assert city.broker.name == "kafka-370200-secured"
    assert city.kafka.home == tmp_path / "stack" / "secured" / "370200"


def test_the_plain_clusters_are_left_as_they_were(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    security = KafkaLogins.of_stack(paths).broker_security()
    plain = clusters.site_clusters(StackSettings(), paths, SITES)
    secured = clusters.site_clusters(StackSettings(), paths, SITES, security)

    assert [c.kafka_port for c in plain] == [19192, 19194, 19196]
    assert [c.kafka_port for c in secured] == [19252, 19254, 19256]
    assert {c.kafka.home for c in plain}.isdisjoint({c.kafka.home for c in secured})
    props = _properties(kafka.render_server_properties(plain[0].broker, plain[0].kafka))
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19192,CONTROLLER://127.0.0.1:19193"
    assert not [key for key in props if "sasl" in key or "authorizer" in key]
    moved = StackSettings.from_env({SECURED_KAFKA_BASE_PORT_ENV: "29300"})
    assert clusters.site_clusters(moved, paths, SITES, security)[1].kafka_port == 29302


def test_each_principal_has_a_password_of_its_own_from_a_private_key(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    logins = KafkaLogins.of_stack(paths)
    key = paths.secured_clusters / "scram.key"
    users = [ADMIN, *(principal("370212", s) for s in ("intake", "casefile"))]

    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len({logins.password(user) for user in users}) == len(users)
    # The same key next time: the launcher, the fleet and the tests agree on every password.
    again = KafkaLogins.of_stack(paths)
    assert [again.password(user) for user in users] == [logins.password(user) for user in users]
    assert logins.service_env("370200", "sync") == {
        "CITYLOOP_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CITYLOOP_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "CITYLOOP_KAFKA_USERNAME": "cityloop-370200-sync",
        "CITYLOOP_KAFKA_PASSWORD": logins.password("cityloop-370200-sync"),
    }


def test_a_lost_key_is_not_silently_replaced(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    KafkaLogins.of_stack(paths)
    data = clusters.cluster_home(paths, "370212", secured=True).data
    data.mkdir(parents=True)
    (data / "meta.properties").write_text("cluster.id=x\n")
    (paths.secured_clusters / "scram.key").unlink()

    with pytest.raises(StackError, match=r"scram\.key is missing"):
        KafkaLogins.of_stack(paths)
    assert KafkaLogins.found(paths) is None
