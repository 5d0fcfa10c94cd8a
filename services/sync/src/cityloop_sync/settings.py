"""What the sync service needs beyond every service's settings: where each district's Kafka
cluster is. The city's list of districts is ``CITYLOOP_DISTRICTS`` (every city service
reads it); the city's own cluster is ``CITYLOOP_KAFKA_BOOTSTRAP_SERVERS``."""

from __future__ import annotations

import re

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_ENTRY = re.compile(r"^(?P<site>\d{6})=(?P<bootstrap>[^=;\s]+)$")


class SyncSettings(BaseSettings):
    """``CITYLOOP_SYNC_CLUSTERS``: ``370212=kafka-a:9092;370202=kafka-b:9092``."""

    model_config = SettingsConfigDict(env_prefix="CITYLOOP_SYNC_", extra="ignore")

    clusters: str = Field(
        default="",
        description="Each district's Kafka bootstrap servers, `site=host:port[,host:port]`, "
        "separated by `;`. A district not named shares the city's cluster (per-site topics).",
    )
    lag_refresh_seconds: float = Field(default=1.0, gt=0)

    @field_validator("clusters")
    @classmethod
    def _well_formed(cls, value: str) -> str:
        for entry in filter(None, value.split(";")):
            if not _ENTRY.match(entry.strip()):
                raise ValueError(f"{entry!r} is not `site=host:port[,host:port]`")
        return value

    def bootstrap_of(self, district: str, city_bootstrap: str) -> str:
        for entry in filter(None, self.clusters.split(";")):
            match = _ENTRY.match(entry.strip())
            if match and match["site"] == district:
                return match["bootstrap"]
        return city_bootstrap
