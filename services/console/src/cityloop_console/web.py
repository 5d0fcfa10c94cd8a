"""What every page of the console shares: the signed-in person, the desks' access rule, and
rendering a template in the person's language."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from cityloop_console.i18n import Translator
from cityloop_console.names import Names
from cityloop_console.services import Services
from cityloop_console.sessions import COOKIE, Session, SiteKeys, read_session
from cityloop_console.settings import ConsoleSettings
from cityloop_shared.contract.actors import Role
from cityloop_shared.reference.bundle import ReferenceData

HOME = {
    Role.FIELD_SUPERVISOR: "/supervisor/",
    Role.ACCEPTANCE_OPERATOR: "/operator",
    Role.DUTY_CHIEF: "/chief",
    Role.DISPATCHER: "/dispatcher",
    Role.DEPARTMENT: "/department",
    Role.UPPER_DEPARTMENT: "/department",
    Role.LEADER: "/dashboard",
}
"""Each role's home page: where signing in leads."""

DASHBOARD_ROLES = frozenset(
    {Role.LEADER, Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF, Role.DISPATCHER}
)
"""Who sees the dashboard: leaders, and the centres that watch every case of the site."""


class SignInNeeded(Exception):
    """The page needs a signed-in person: the browser is sent to the sign-in form."""


class NotYourDesk(Exception):
    """The signed-in person's role has no business at this page: a 403 page says so."""

    def __init__(self, session: Session, roles: frozenset[Role]) -> None:
        super().__init__(f"role {session.role.value} may not open this page")
        self.session = session
        self.roles = roles


def settings_of(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.settings
    return settings


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def reference_of(request: Request) -> ReferenceData:
    reference: ReferenceData = request.app.state.reference
    return reference


def request_names(request: Request) -> Names:
    names: Names = request.app.state.names
    return names


def session_of(request: Request) -> Session | None:
    keys: SiteKeys = request.app.state.keys
    return read_session(keys, request.cookies.get(COOKIE))


def desk(request: Request, *roles: Role) -> Session:
    """The signed-in person, if their role works at this desk."""
    session = session_of(request)
    if session is None:
        raise SignInNeeded
    if session.role not in roles:
        raise NotYourDesk(session, frozenset(roles))
    return session


def language_of(request: Request) -> str:
    lang: str = request.state.lang
    return lang


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    lang = language_of(request)
    session = context.pop("session", None) or session_of(request)
    return templates.TemplateResponse(
        request,
        template,
        {
            "t": Translator(lang),
            "lang": lang,
            "session": session,
            "home": HOME.get(session.role) if session else None,
            "dashboard": session is not None and session.role in DASHBOARD_ROLES,
            "new_key": lambda: uuid4().hex,
            "names": request.app.state.names,
            **context,
        },
        status_code=status_code,
    )
