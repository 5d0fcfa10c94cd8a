"""The console's app: the sign-in, the desks of each role, the dashboard, the API proxy and
the photos, with the field supervisor's mobile page beside them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.base import RequestResponseEndpoint

from cityloop_console import media, proxy, signin, supervisor
from cityloop_console.desks import cases, chief, dashboard, department, dispatcher, operator
from cityloop_console.i18n import LANG_COOKIE, LANGUAGES, Translator
from cityloop_console.names import Names
from cityloop_console.services import Services
from cityloop_console.sessions import SiteKeys
from cityloop_console.settings import ConsoleSettings, refusals
from cityloop_console.web import HOME, NotYourDesk, SignInNeeded, render, session_of
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.built_in import BuiltInSettings

PACKAGE = Path(__file__).parent


def create_app(
    settings: ConsoleSettings,
    *,
    reference: ReferenceData | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The console over ``settings``' directory of services (reached through ``transport``
    when given); outside development mode it refuses to be made (:class:`BuiltInSettings`,
    naming why)."""
    problems = refusals(settings)
    if problems:
        raise BuiltInSettings(problems)
    services = Services(settings, transport)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await services.close()

    app = FastAPI(title="CityLoop console", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.services = services
    app.state.keys = SiteKeys(settings.key_dir)
    app.state.reference = reference or (
        ReferenceData.load(settings.reference_dir)
        if settings.reference_dir
        else ReferenceData.demo()
    )
    app.state.names = Names(app.state.reference)
    templates = Jinja2Templates(directory=PACKAGE / "templates")
    app.state.templates = templates

    @app.middleware("http")
    async def language(request: Request, call_next: RequestResponseEndpoint) -> Response:
        """``?lang=en`` or ``?lang=zh`` switches, and a cookie keeps the choice."""
        asked = request.query_params.get("lang")
        kept = request.cookies.get(LANG_COOKIE)
        request.state.lang = (
            asked if asked in LANGUAGES else kept if kept in LANGUAGES else settings.language
        )
        response = await call_next(request)
        if asked in LANGUAGES:
            response.set_cookie(LANG_COOKIE, asked, max_age=365 * 86400, samesite="lax")
        return response

    @app.exception_handler(SignInNeeded)
    async def to_sign_in(request: Request, error: SignInNeeded) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(NotYourDesk)
    async def not_your_desk(request: Request, error: NotYourDesk) -> Response:
        t = Translator(request.state.lang)
        allowed = sorted(t.name("role", role.value) for role in error.roles)
        return render(
            request, "forbidden.html", status_code=403, session=error.session, allowed=allowed
        )

    @app.get("/", include_in_schema=False)
    async def start(request: Request) -> Response:
        session = session_of(request)
        return RedirectResponse(HOME[session.role] if session else "/login", status_code=303)

    for module in (signin, proxy, media, operator, chief, dispatcher, department, dashboard):
        app.include_router(module.router)
    app.include_router(cases.router)
    app.include_router(supervisor.router)
    app.mount("/static", StaticFiles(directory=PACKAGE / "static"), name="static")
    return app
