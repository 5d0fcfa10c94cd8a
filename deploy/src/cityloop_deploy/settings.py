"""Ports and credentials of the local stack, and the environment it hands to services."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from cityloop_deploy.service import StackError

KAFKA_BOOTSTRAP_ENV = "CITYLOOP_KAFKA_BOOTSTRAP_SERVERS"
DATABASE_URL_ENV = "CITYLOOP_DATABASE_URL"

KAFKA_PORT_ENV = "CITYLOOP_STACK_KAFKA_PORT"
KAFKA_CONTROLLER_PORT_ENV = "CITYLOOP_STACK_KAFKA_CONTROLLER_PORT"
POSTGRES_PORT_ENV = "CITYLOOP_STACK_POSTGRES_PORT"
SITE_KAFKA_BASE_PORT_ENV = "CITYLOOP_STACK_SITE_KAFKA_BASE_PORT"
SECURED_KAFKA_BASE_PORT_ENV = "CITYLOOP_STACK_SECURED_KAFKA_BASE_PORT"


class SettingsError(StackError):
    pass


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise SettingsError(f"{name}={port} is outside 1..65535")
    return port


@dataclass(frozen=True)
class StackSettings:
    # Loopback only: the stack has no authentication worth exposing to a network.
    host: str = "127.0.0.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    postgres_port: int = 15432
    # Site cluster i (cityloop_deploy.clusters) listens on base + 2i, its controller on the next.
    site_kafka_base_port: int = 19192
    # The same for the secured site clusters (SASL/SCRAM and ACLs, cityloop_deploy.kafka_acls),
    # between the plain ones and the isolated stack's broker (19292).
    secured_kafka_base_port: int = 19252
    database: str = "cityloop"
    db_user: str = "cityloop"
    db_password: str = "cityloop"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StackSettings:
        environ = os.environ if env is None else env
        settings = cls(
            kafka_port=_port(environ, KAFKA_PORT_ENV, cls.kafka_port),
            kafka_controller_port=_port(
                environ, KAFKA_CONTROLLER_PORT_ENV, cls.kafka_controller_port
            ),
            postgres_port=_port(environ, POSTGRES_PORT_ENV, cls.postgres_port),
            site_kafka_base_port=_port(environ, SITE_KAFKA_BASE_PORT_ENV, cls.site_kafka_base_port),
            secured_kafka_base_port=_port(
                environ, SECURED_KAFKA_BASE_PORT_ENV, cls.secured_kafka_base_port
            ),
        )
        ports = [settings.kafka_port, settings.kafka_controller_port, settings.postgres_port]
        if len(set(ports)) != len(ports):
            raise SettingsError(f"the stack's ports must differ, got {ports}")
        return settings

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        return (
            f"postgresql+psycopg://{self.db_user}:{self.db_password}"
            f"@{self.host}:{self.postgres_port}/{self.database}"
        )

    def service_env(self) -> dict[str, str]:
        return {KAFKA_BOOTSTRAP_ENV: self.kafka_bootstrap, DATABASE_URL_ENV: self.database_url}


def env_lines(settings: StackSettings, *, export: bool = False) -> list[str]:
    prefix = "export " if export else ""
    return [f"{prefix}{key}={shlex.quote(value)}" for key, value in settings.service_env().items()]
