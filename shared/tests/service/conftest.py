"""A service runtime of a fresh site, with only the shared tables migrated."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityloop_shared.contract.topics import Stage
from cityloop_shared.service.migrations import upgrade
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.settings import ServiceSettings

KIT_MIGRATIONS = Path(__file__).parent / "kit_migrations"


@pytest.fixture
def runtime(service_settings: ServiceSettings) -> ServiceRuntime:
    schema = service_settings.database.schema_name
    assert schema is not None
    upgrade(service_settings.database, schema, KIT_MIGRATIONS)
    return ServiceRuntime(Stage.CASEFILE, service_settings)
