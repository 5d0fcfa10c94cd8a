"""How a service logs in to Kafka: no options on a PLAINTEXT broker, its SCRAM login on a
secured one, over TLS checked against the brokers' authority for SASL_SSL; a SASL setting
without a login stops it at start."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import pytest
from faststream.security import SASLScram256, SASLScram512
from pydantic import SecretStr, ValidationError

from cityloop_shared.messaging.security import broker_security, client_security
from cityloop_shared.settings import KafkaSettings


def login(protocol: str, mechanism: str = "SCRAM-SHA-512", **more: object) -> KafkaSettings:
    return KafkaSettings(
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        username="cityloop-370212-intake",
        password=SecretStr("its-own"),
        **more,  # type: ignore[arg-type]
    )


def test_a_plaintext_broker_takes_no_login() -> None:
    settings = KafkaSettings(security_protocol="PLAINTEXT")

    assert client_security(settings) == {}
    assert broker_security(settings) is None


def test_on_a_secured_cluster_every_client_logs_in_as_the_services_principal() -> None:
    settings = login("SASL_PLAINTEXT", "SCRAM-SHA-256")

    assert client_security(settings) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "cityloop-370212-intake",
        "sasl_plain_password": "its-own",
    }
    broker = broker_security(settings)
    assert isinstance(broker, SASLScram256)
    assert (broker.username, broker.password, broker.use_ssl) == (
        "cityloop-370212-intake",
        "its-own",
        False,
    )


def test_over_tls_the_brokers_certificates_and_names_are_checked() -> None:
    settings = login("SASL_SSL", ssl_cafile=Path(certifi.where()))

    options = client_security(settings)
    context = options["ssl_context"]
    assert options["security_protocol"] == "SASL_SSL"
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0
    broker = broker_security(settings)
    assert isinstance(broker, SASLScram512)
    assert broker.use_ssl
    assert broker.ssl_context is not None
    assert broker.ssl_context.verify_mode is ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    "given",
    [
        {"security_protocol": "SASL_SSL"},
        {"security_protocol": "SASL_PLAINTEXT", "username": "cityloop-370212-intake"},
        {"security_protocol": "SSL", "username": "u", "password": "p"},
        {
            "security_protocol": "SASL_SSL",
            "username": "u",
            "password": "p",
            "sasl_mechanism": "PLAIN",
        },
    ],
)
def test_a_login_that_cannot_work_stops_the_service_at_start(given: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        KafkaSettings(**given)  # type: ignore[arg-type]


def test_the_login_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYLOOP_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("CITYLOOP_KAFKA_USERNAME", "cityloop-370200-sync")
    monkeypatch.setenv("CITYLOOP_KAFKA_PASSWORD", "from-the-fleet")

    options = client_security(KafkaSettings())

    assert options["sasl_plain_username"] == "cityloop-370200-sync"
    assert options["sasl_plain_password"] == "from-the-fleet"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert "from-the-fleet" not in repr(KafkaSettings())
