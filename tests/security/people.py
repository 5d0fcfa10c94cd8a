"""The people of the demo city that the security tests act as, and the services they read,
each served in the test's process on the real broker and database."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from cityloop_shared.contract.actors import Role
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.settings import ServiceSettings

OWN, OTHER, CITY = "370212", "370202", "370200"
"""崂山区, where the services run; 市南区, another district; 青岛市, their city."""
DISTRICTS = (OWN, OTHER)
SERVICES = ("intake", "casefile", "dispatch", "disposal", "verification", "evaluation", "sync")
"""Every service; sync runs at the city, the others at the district."""

Auth = Callable[..., dict[str, str]]

NAMED: dict[tuple[Role, str], dict[str, str]] = {
    (Role.FIELD_SUPERVISOR, OWN): {"id": "sv-370212-01"},
    (Role.FIELD_SUPERVISOR, OTHER): {"id": "sv-370202-01"},
    (Role.DEPARTMENT, OWN): {"department_id": "370212-sanitation"},
    (Role.DEPARTMENT, OTHER): {"department_id": "370202-sanitation"},
    (Role.DEPARTMENT, CITY): {"department_id": "370200-water"},
    (Role.UPPER_DEPARTMENT, OWN): {"department_id": "370212-urban"},
    (Role.UPPER_DEPARTMENT, OTHER): {"department_id": "370202-urban"},
    (Role.UPPER_DEPARTMENT, CITY): {"department_id": "370200-urban"},
}
"""Who acts in the roles the reference data names: a supervisor of the roster, a department
of the directory. 崂山区环境卫生管理所 is under 崂山区城市管理局, itself under
青岛市城市管理局; 青岛市水务管理局 oversees none of them."""


def people() -> Iterator[tuple[Role, str]]:
    """Every role but the system's, at each site where it exists: field supervisors work in
    the districts only (the city entrusts its checks to theirs)."""
    for role in Role:
        for site in (OWN, OTHER, CITY):
            if role is Role.SYSTEM or (role is Role.FIELD_SUPERVISOR and site == CITY):
                continue
            yield role, site


def headers(auth: Auth, role: Role, site: str) -> dict[str, str]:
    return auth(role, site=site, **NAMED.get((role, site), {}))


def site_of(service: str) -> str:
    return CITY if service == "sync" else OWN


def at_the_city(settings: ServiceSettings) -> ServiceSettings:
    """The city's settings for sync: its districts, whose people read their own cases in the
    city's projection (the city takes its districts' tokens)."""
    return settings.model_copy(update={"site": CITY, "districts": ",".join(DISTRICTS)})


def routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, its framework's pages included."""
    return {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if route.path is not None
        for method in route.methods or ()
        if method != "HEAD"
    }


@contextlib.asynccontextmanager
async def serve(
    service: str, settings: ServiceSettings
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """``cityloop_<service>`` migrated into the settings' schema and running in this process,
    its consumers and followers with it; HTTP goes straight to its app."""
    package = importlib.import_module(f"cityloop_{service}")
    schema = settings.database.schema_name
    assert schema, "each service of a test has a schema of its own"
    upgrade(settings.database, schema, Path(package.__path__[0]) / "migrations")
    create_app: Callable[[ServiceSettings], FastAPI] = importlib.import_module(
        f"cityloop_{service}.app"
    ).create_app
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{service}") as client:
            yield client, app
