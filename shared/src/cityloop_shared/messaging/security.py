"""How a CityLoop process logs in to Kafka: the client options of its ``KafkaSettings``.

Every Kafka client a service makes takes them, so a service reaches a cluster with ACLs
only as its own principal (docs/kafka-security.md). On a PLAINTEXT cluster they are empty.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from faststream.security import BaseSecurity, SASLScram256, SASLScram512

from cityloop_shared.settings import KafkaSettings

ClientSecurity = Mapping[str, Any]
"""aiokafka keyword arguments: ``security_protocol``, the SASL login and the TLS context."""

PLAINTEXT: ClientSecurity = MappingProxyType({})
"""No login: a cluster without authentication."""


def client_security(settings: KafkaSettings) -> dict[str, Any]:
    """The keyword arguments an aiokafka producer, consumer or admin client logs in with."""
    if settings.security_protocol == "PLAINTEXT":
        return {}
    # KafkaSettings refuses SASL without them.
    assert settings.username
    assert settings.password
    options: dict[str, Any] = {
        "security_protocol": settings.security_protocol,
        "sasl_mechanism": settings.sasl_mechanism,
        "sasl_plain_username": settings.username,
        "sasl_plain_password": settings.password.get_secret_value(),
    }
    if settings.security_protocol == "SASL_SSL":
        options["ssl_context"] = tls_context(settings)
    return options


def broker_security(settings: KafkaSettings) -> BaseSecurity | None:
    """The same login as FastStream's ``security=`` of a ``KafkaBroker``."""
    if settings.security_protocol == "PLAINTEXT":
        return None
    assert settings.username
    assert settings.password
    scram = SASLScram512 if settings.sasl_mechanism == "SCRAM-SHA-512" else SASLScram256
    over_tls = settings.security_protocol == "SASL_SSL"
    return scram(
        settings.username,
        settings.password.get_secret_value(),
        ssl_context=tls_context(settings) if over_tls else None,
        use_ssl=over_tls,
    )


def tls_context(settings: KafkaSettings) -> ssl.SSLContext:
    """Verifies the brokers' certificates and host names against ``ssl_cafile``, or the
    system's trusted authorities when it is unset."""
    cafile = str(settings.ssl_cafile) if settings.ssl_cafile else None
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
