"""Typed configuration of every CityLoop process, read from ``CITYLOOP_*`` environment variables."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr
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
    security_protocol: str = Field(
        default="PLAINTEXT",
        pattern=r"^(PLAINTEXT|SASL_PLAINTEXT|SASL_SSL)$",
        description="PLAINTEXT: no authentication, for a broker of one's own; SASL_PLAINTEXT: "
        "the service logs in as its principal, unencrypted (the local stack, on loopback); "
        "SASL_SSL: logs in over TLS, as on every production cluster (docs/kafka-security.md)",
    )
    sasl_mechanism: str = Field(default="SCRAM-SHA-512", pattern=r"^SCRAM-SHA-(256|512)$")
    username: str | None = Field(
        default=None,
        description="The service's own Kafka principal (SASL): the ACLs let it write its own "
        "topics and read what it follows, nothing else",
    )
    password: SecretStr | None = None
    ssl_cafile: Path | None = Field(
        default=None,
        description="The certificate authority that signed the brokers' TLS certificates "
        "(SASL_SSL); the system's trusted ones when unset",
    )

    def model_post_init(self, context: object, /) -> None:
        # At start, not at the first connection: a service missing its login must not come
        # up and fail later on every reconnect.
        if self.security_protocol != "PLAINTEXT" and (not self.username or not self.password):
            raise ValueError(
                f"CITYLOOP_KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs "
                "CITYLOOP_KAFKA_USERNAME and CITYLOOP_KAFKA_PASSWORD"
            )


class RunMode(StrEnum):
    PRODUCTION = "production"
    DEVELOPMENT = "development"
    """Explicitly chosen: built-in signing keys, Open311 key and database password allowed."""


class TrustedIssuer(BaseModel):
    """An issuer whose tokens a site accepts: another CityLoop site (the city, for a district)
    or the city's OpenID Connect provider, with how its claims name role, site and department."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(min_length=1)
    sites: tuple[SiteCode, ...] = Field(
        min_length=1,
        description="The sites the issuer may speak for: a token naming another is refused",
    )
    jwks: str | None = Field(
        default=None,
        description="Its public keys: an http(s) URL or a file; unset, they are found through "
        "the issuer's /.well-known/openid-configuration",
    )
    audience: str | None = Field(default=None, description="Unset: the site's own audience")
    role_claim: str = "role"
    site_claim: str = "site"
    department_claim: str = "department"
    subject_claim: str = "sub"
    roles: dict[str, str] = Field(
        default_factory=dict,
        description="The issuer's names for roles (e.g. an identity server's group names) "
        "mapped to CityLoop's; unset, the claim holds CityLoop's role names",
    )


class AuthSettings(BaseSettings):
    """``CITYLOOP_AUTH_*``: how a site knows who acts (see docs/security.md)."""

    model_config = SettingsConfigDict(env_prefix="CITYLOOP_AUTH_", extra="ignore")

    issuer: str | None = Field(
        default=None, description="The site's own issuer name; unset, cityloop:<site>"
    )
    jwks_file: Path | None = Field(
        default=None,
        description="The site's public keys (JWKS): its people's tokens are checked with them "
        "and every service publishes them at /.well-known/jwks.json",
    )
    audience: str = Field(default="cityloop", min_length=1)
    trusted: list[TrustedIssuer] = Field(
        default_factory=list,
        description="Other issuers accepted, as JSON: the city's site for a district, an "
        "OpenID Connect provider",
    )
    token_max_age_seconds: int = Field(
        default=12 * 3600, gt=0, description="The longest lifetime (exp - iat) accepted"
    )
    leeway_seconds: int = Field(default=30, ge=0, description="Clock skew allowed between sites")


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
    mode: RunMode = Field(
        default=RunMode.PRODUCTION,
        description="development allows the built-in keys and passwords; anything else refuses "
        "to start with them",
    )
    auth: AuthSettings = Field(default_factory=AuthSettings)
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
