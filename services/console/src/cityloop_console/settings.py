"""The console's settings, read from ``CITYLOOP_CONSOLE_*`` (and ``CITYLOOP_MODE``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cityloop_shared.settings import LogFormat, RunMode

STAGES = ("intake", "casefile", "dispatch", "disposal", "verification", "evaluation", "sync")
"""The services a site's directory may name."""

_DEMO_SITES = ("370212", "370202", "370200")
_DEMO_BASE_PORT = 8101
_PORTS_PER_SITE = 20
_SERVICE_OFFSETS = {
    "intake": 0,
    "casefile": 1,
    "dispatch": 2,
    "disposal": 3,
    "verification": 4,
    "sync": 5,
    "evaluation": 6,
}


def demo_directory() -> dict[str, dict[str, str]]:
    """Where ``./deploy/run.sh`` serves the demo city: its two districts, then the city, each
    site's services on ports of their own (sync at the city only)."""
    directory = {}
    for index, site in enumerate(_DEMO_SITES):
        base = _DEMO_BASE_PORT + index * _PORTS_PER_SITE
        directory[site] = {
            stage: f"http://127.0.0.1:{base + offset}"
            for stage, offset in _SERVICE_OFFSETS.items()
            if stage != "sync" or site.endswith("00")
        }
    return directory


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLOOP_CONSOLE_", extra="ignore")

    directory: dict[str, dict[str, str]] = Field(
        default_factory=demo_directory,
        description="Site → stage → base URL of that site's service, as JSON; unset, the "
        "demo city as ./deploy/run.sh serves it",
    )
    key_dir: Path | None = Field(
        default=None,
        description="Where the sites' signing keys are (<site>.jwk); unset, each site's "
        "built-in development key",
    )
    media_dir: Path = Field(
        default=Path("var/console-media"), description="Where uploaded photos are kept"
    )
    reference_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("CITYLOOP_REFERENCE_DIR", "reference_dir"),
        description="The city's reference data, as its services run on; the demo city unset",
    )
    media_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    language: str = Field(default="zh", pattern=r"^(zh|en)$")
    session_hours: int = Field(default=12, gt=0, le=12)
    """A token lives no longer than the services accept (CITYLOOP_AUTH_TOKEN_MAX_AGE_SECONDS)."""
    service_timeout_seconds: float = Field(default=15.0, gt=0)
    mode: RunMode = Field(
        default=RunMode.PRODUCTION,
        validation_alias=AliasChoices("CITYLOOP_MODE", "mode"),
        description="The console's sign-in is a demo sign-in: it runs in development only",
    )
    log_format: LogFormat = Field(
        default=LogFormat.JSON, validation_alias=AliasChoices("CITYLOOP_LOG_FORMAT", "log_format")
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8090, gt=0, lt=65536)

    @property
    def sites(self) -> tuple[str, ...]:
        return tuple(self.directory)

    def service_url(self, site: str, stage: str) -> str | None:
        return self.directory.get(site, {}).get(stage)


def refusals(settings: ConsoleSettings) -> list[str]:
    """Why the console may not start with ``settings``: its person-picker sign-in signs any
    person's token, which only a development or demo console may offer."""
    if settings.mode is RunMode.DEVELOPMENT:
        return []
    return [
        "the console signs people in by picking them from a list (a development sign-in): "
        "set CITYLOOP_MODE=development to run it, and sign people in through the city's "
        "identity provider elsewhere (docs/security.md)"
    ]
