"""Open311 settings, read from ``CITYLOOP_OPEN311_*`` environment variables."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEVELOPMENT_API_KEYS = {"cityloop-open311-development": "development"}


class Open311Settings(BaseSettings):
    """Who may post service requests and how often, what the discovery document tells
    clients, and what a listed request discloses.

    ``CITYLOOP_OPEN311_API_KEYS`` lists the keys as comma-separated ``key:owner`` pairs, e.g.
    ``k7f3q9:qingdao-app,x2m8r4:fixmystreet``. The owner names the client in the actor of
    every report it posts (``open311:<owner>``), so a misbehaving client can be traced and
    its key withdrawn. Unset, the one key ``cityloop-open311-development`` (owner
    ``development``) is accepted: that is for development and tests only, and every site
    sets its own keys in production. Reading (services, requests, tokens) needs no key.
    """

    model_config = SettingsConfigDict(env_prefix="CITYLOOP_OPEN311_", extra="ignore")

    api_keys: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=lambda: dict(DEVELOPMENT_API_KEYS), min_length=1
    )
    jurisdiction_id: str | None = Field(
        default=None, description="Accepted as jurisdiction_id; the site code when unset"
    )
    contact: str = "数字化城市管理监督中心 (the site's supervision centre)"
    key_service: str = "API keys are issued by the supervision centre's system administrator"
    coordinate_decimals: int = Field(
        default=3,
        ge=0,
        le=6,
        description="Decimals a listed request's lat and long keep: 3 places it within about "
        "100 m, enough to find the problem and too few to find a door",
    )
    show_departments: bool = Field(
        default=False, description="Name the department responsible (agency_responsible)"
    )
    key_rate_limit: str = Field(
        default="120/minute",
        description="POSTs (requests, feedback) one API key's owner may make, e.g. "
        "'120/minute;5000/day'",
    )
    client_rate_limit: str = Field(
        default="10/minute;100/day",
        description="POSTs one client address may make, whatever key it sends",
    )

    @field_validator("key_rate_limit", "client_rate_limit")
    @classmethod
    def _rate_limits(cls, value: str) -> str:
        parse_many(value)  # refused at start rather than at a client's first POST
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        keys: dict[str, str] = {}
        for pair in value.split(","):
            key, separator, owner = (part.strip() for part in pair.partition(":"))
            if not (separator and key and owner):
                raise ValueError(f"{pair.strip()!r} is not a key:owner pair")
            keys[key] = owner
        return keys

    @field_validator("api_keys")
    @classmethod
    def _owners_name_actors(cls, value: dict[str, str]) -> dict[str, str]:
        for owner in value.values():
            if len(owner) > 100 or any(c.isspace() for c in owner):
                raise ValueError(f"owner {owner!r} must be a name of at most 100 non-space chars")
        return value

    def built_in(self) -> list[str]:
        """The built-in development key, if it is among the keys (refused outside development)."""
        if set(self.api_keys) & set(DEVELOPMENT_API_KEYS):
            return [
                "CITYLOOP_OPEN311_API_KEYS accepts the built-in development key; set the keys "
                "the supervision centre issued (key:owner,...)"
            ]
        return []

    def owner_of(self, api_key: str | None) -> str | None:
        """The key's owner, or ``None`` for a missing or unknown key (compared in constant time)."""
        if not api_key:
            return None
        found = None
        for key, owner in self.api_keys.items():
            if hmac.compare_digest(key.encode(), api_key.encode()):
                found = owner
        return found
