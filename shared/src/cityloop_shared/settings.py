"""Typed configuration of every CityLoop process, read from ``CITYLOOP_*`` environment variables."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from cityloop_shared.contract.sites import SiteCode
from cityloop_shared.contract.topics import Stage


class LogFormat(StrEnum):
    JSON = "json"
    """One JSON object a line: for production and log shippers."""
    CONSOLE = "console"
    """Coloured key=value lines: for people at a terminal."""


class KafkaSettings(BaseSettings):
    """``CITYLOOP_KAFKA_BOOTSTRAP_SERVERS`` and friends."""

    model_config = SettingsConfigDict(env_prefix="CITYLOOP_KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:19092"
    client_id: str = "cityloop"
    request_timeout_ms: int = Field(default=40_000, gt=0)
    batch_min_bytes: int = Field(
        default=65_536,
        gt=0,
        description="A service's consumer asks the broker for at least this much of its case "
        "topics at a time (about 60 events): a batch costs one transaction however many "
        "events it holds",
    )
    batch_wait_ms: int = Field(
        default=250,
        ge=0,
        description="How long the broker may hold a consumer's fetch to gather batch_min_bytes: "
        "the most an event of a quiet site waits for company",
    )
    retention_ms: int = Field(
        default=-1,
        ge=-1,
        description="How long a case topic a service creates keeps its events: -1 (the "
        "default) forever, as the log of record and of audits; set it to what the law asks, "
        "and archive before (cityloop-audit archive). Topics are never compacted.",
    )


class DatabaseSettings(BaseSettings):
    """``CITYLOOP_DATABASE_URL``: a SQLAlchemy URL (``postgresql+psycopg://…`` or ``sqlite…``)."""

    model_config = SettingsConfigDict(env_prefix="CITYLOOP_DATABASE_", extra="ignore")

    url: str = "postgresql+psycopg://cityloop:cityloop@127.0.0.1:15432/cityloop"
    schema_name: str | None = Field(
        default=None, description="The service's own schema; defaults to the service name"
    )
    pool_size: int = Field(
        default=15, gt=0, description="Connections kept open: HTTP commands, consumer, relay"
    )
    pool_overflow: int = Field(
        default=0,
        ge=0,
        description="Extra connections under bursts, closed after use; opening one costs the "
        "server a process, so by default a burst waits for a pooled connection instead",
    )

    def schema_of(self, stage: Stage) -> str:
        """The schema of the service that runs ``stage``: ``schema_name``, or the stage's name."""
        return self.schema_name or stage.value


class ServiceSettings(BaseSettings):
    """What every service process needs to know about where it runs."""

    model_config = SettingsConfigDict(env_prefix="CITYLOOP_", extra="ignore")

    site: SiteCode = "370212"
    topic_namespace: str | None = Field(
        default=None,
        pattern=r"^[a-zA-Z0-9_-]+$",
        description="Prefix of every topic name, for environments sharing one Kafka cluster",
    )
    districts: str = Field(
        default="",
        pattern=r"^(\d{6}(,\d{6})*)?$",
        description="At a city site, its districts' codes, comma-separated (the city's list of "
        "districts): the city's stages read their hand-offs; unused at a district",
    )
    log_format: LogFormat = LogFormat.JSON
    log_level: str = "INFO"
    auth_secret: SecretStr = Field(
        default=SecretStr("cityloop-development-secret"),
        description="Signs actor tokens; every site sets its own in production",
    )
    auth_token_max_age_seconds: int = Field(default=12 * 3600, gt=0)
    reference_dir: Path | None = Field(
        default=None, description="Reference data folder; the shipped demo city when unset"
    )
    clock_scan_seconds: float = Field(default=5.0, gt=0)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, gt=0, lt=65536)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)

    @property
    def district_sites(self) -> tuple[str, ...]:
        return tuple(code for code in self.districts.split(",") if code)
