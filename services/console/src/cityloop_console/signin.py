"""The demo sign-in (演示登录): pick a site, a role and a person; the console signs their token.

A development and demo front door only: anyone at the form may be anyone. A city signs its
people in through its own identity provider instead (docs/security.md), whose tokens the
services trust directly.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from cityloop_console.people import SIGN_IN_ROLES, directory_of_people, people
from cityloop_console.sessions import COOKIE, SiteKeys, sign_in
from cityloop_console.web import HOME, reference_of, render, settings_of
from cityloop_shared.contract.actors import Role
from cityloop_shared.logging import get_logger

router = APIRouter()
log = get_logger("cityloop.console")


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _form(request)


def _form(request: Request, refused: bool = False) -> Response:
    settings = settings_of(request)
    return render(
        request,
        "login.html",
        status_code=422 if refused else 200,
        refused=refused,
        sites=settings.sites,
        roles=[role.value for role in SIGN_IN_ROLES],
        people=directory_of_people(reference_of(request), settings.sites),
    )


@router.post("/login")
async def login(
    request: Request,
    site: Annotated[str, Form()],
    role: Annotated[str, Form()],
    person: Annotated[str, Form()],
) -> Response:
    settings = settings_of(request)
    chosen = Role(role) if role in {r.value for r in SIGN_IN_ROLES} else None
    known = (
        chosen is not None
        and site in settings.sites
        and person in {p.id for p in people(reference_of(request), site, chosen)}
    )
    if not known or chosen is None:
        return _form(request, refused=True)
    keys: SiteKeys = request.app.state.keys
    session = sign_in(keys, site, chosen, person, settings.session_hours)
    log.info("console.signed_in", site=site, role=role, person=person)
    response = RedirectResponse(HOME[chosen], status_code=303)
    response.set_cookie(
        COOKIE,
        session.token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
