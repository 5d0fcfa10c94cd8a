"""Every CityLoop service's app, at the site it runs at, as the services' own tests build it:
migrated on the test's fresh schema, its lifespan in the test's event loop."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType

from fastapi import FastAPI

import cityloop_casefile
import cityloop_dispatch
import cityloop_disposal
import cityloop_evaluation
import cityloop_intake
import cityloop_sync
import cityloop_verification
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.settings import ServiceSettings

SERVICES: dict[str, ModuleType] = {
    "intake": cityloop_intake,
    "casefile": cityloop_casefile,
    "dispatch": cityloop_dispatch,
    "disposal": cityloop_disposal,
    "verification": cityloop_verification,
    "evaluation": cityloop_evaluation,
    "sync": cityloop_sync,
}
CITY_SERVICES = frozenset({"sync"})
"""Services that run at the city's site only; the others run at a district's."""
DISTRICT = "370212"
"""The district the test fixtures' site is (崂山区 of the demo city)."""
REFERENCE = ReferenceData.demo()
CITY = REFERENCE.city_site or "370200"


def site_of(service: str) -> str:
    return CITY if service in CITY_SERVICES else DISTRICT


def settings_for(service: str, district: ServiceSettings) -> ServiceSettings:
    """The service's settings from the test site's: at the city, reading the test's district,
    whose topics the fixture made."""
    if service not in CITY_SERVICES:
        return district
    return district.model_copy(update={"site": CITY, "districts": district.site})


def app_of(service: str, settings: ServiceSettings) -> FastAPI:
    """The service's app, not yet started (some build Kafka clients: in an event loop)."""
    package = SERVICES[service]
    create_app: Callable[[ServiceSettings], FastAPI] = importlib.import_module(
        f"{package.__name__}.app"
    ).create_app
    return create_app(settings)


@contextlib.asynccontextmanager
async def serving(service: str, settings: ServiceSettings) -> AsyncIterator[FastAPI]:
    """The service's app on its own migrated schema, running in this event loop."""
    assert settings.database.schema_name
    migrations = Path(SERVICES[service].__path__[0]) / "migrations"
    upgrade(settings.database, settings.database.schema_name, migrations)
    app = app_of(service, settings)
    async with app.router.lifespan_context(app):
        yield app
