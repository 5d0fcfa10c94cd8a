"""Authenticated actors: a signed bearer token (see :mod:`cityloop_shared.identity`) names who
acts, in which role, at which site; these rules say on what."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy import ColumnElement

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.sites import SiteLevel, city_of, site_level
from cityloop_shared.identity.verifier import TokenRefused, TokenVerifier
from cityloop_shared.stage.decisions import Forbidden


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def current_actor(request: Request) -> Actor:
    # A coroutine, so FastAPI runs it on the event loop rather than in its thread pool.
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("a bearer token naming the actor is required")
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return await verifier.verify(token)
    except TokenRefused as refused:
        raise _unauthorized(str(refused)) from refused


CurrentActor = Annotated[Actor, Depends(current_actor)]


def may_act_on(actor: Actor, case_site: str) -> bool:
    """District people act on their district's cases; the city's people on the whole city."""
    if actor.site == case_site:
        return True
    return site_level(actor.site) is SiteLevel.CITY and city_of(case_site) == actor.site


def visible_sites(actor: Actor, site: ColumnElement[str]) -> ColumnElement[bool]:
    """Where a list's ``site`` column names a site the actor may act on (:func:`may_act_on`):
    the actor's own district, or every site of the city for the city's people."""
    if site_level(actor.site) is SiteLevel.CITY:
        # A city site is its city's first four digits and "00"; its districts share the four.
        return site.like(f"{actor.site[:4]}%")
    return site == actor.site


def require_site(actor: Actor, case_site: str) -> None:
    if not may_act_on(actor, case_site):
        raise Forbidden(f"actor of site {actor.site} may not act on a case of site {case_site}")


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        allowed = ", ".join(role.value for role in roles)
        raise Forbidden(f"role {actor.role.value} may not do this; allowed: {allowed}")
