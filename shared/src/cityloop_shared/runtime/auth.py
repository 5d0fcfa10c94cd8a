"""Authenticated actors: a signed bearer token names who acts, in which role, at which site."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import ColumnElement

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.sites import SiteLevel, city_of, site_level
from cityloop_shared.stage.decisions import Forbidden

_SALT = "cityloop-actor"
KNOWN_TOKENS = 10_000


class TokenSigner:
    """Signs and checks tokens; a token checked once is known until it expires, for a desk or
    a phone sends the same token with every request."""

    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self._max_age = max_age_seconds
        self._known: dict[str, tuple[Actor, float]] = {}

    def issue(self, actor: Actor) -> str:
        return self._serializer.dumps(actor.model_dump(mode="json"))

    def verify(self, token: str) -> Actor:
        known = self._known.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        try:
            data, signed_at = self._serializer.loads(
                token, max_age=self._max_age, return_timestamp=True
            )
        except SignatureExpired as error:
            raise _unauthorized("token expired") from error
        except BadSignature as error:
            raise _unauthorized("token signature is not valid") from error
        actor = Actor.model_validate(data)
        if len(self._known) >= KNOWN_TOKENS:
            self._known.clear()
        self._known[token] = (actor, signed_at.timestamp() + self._max_age)
        return actor


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def current_actor(request: Request) -> Actor:
    # A coroutine, so FastAPI runs it on the event loop rather than in its thread pool.
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("a bearer token naming the actor is required")
    signer: TokenSigner = request.app.state.token_signer
    return signer.verify(token)


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
