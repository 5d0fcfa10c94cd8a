"""Signing people in: a token signed with their site's key, kept in an HttpOnly cookie.

The console signs the token itself, with the key the site's services trust, so the token it
forwards to the services is the one the browser holds; reading the cookie back checks the
signature, so a cookie edited in the browser signs no one in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jwt

from cityloop_console.people import DEPARTMENT_ROLES
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.sites import SiteLevel, city_of, site_level
from cityloop_shared.identity.keys import SiteKey
from cityloop_shared.identity.tokens import TokenIssuer, site_issuer

COOKIE = "cityloop_session"
_SITE = re.compile(r"\d{6}")
AUDIENCE = "cityloop"


@dataclass(frozen=True)
class Session:
    """The signed-in person and the token that names them."""

    actor: Actor
    token: str

    @property
    def site(self) -> str:
        return self.actor.site

    @property
    def role(self) -> Role:
        return self.actor.role


class SiteKeys:
    """Each site's signing key: from ``key_dir`` (``<site>.jwk``) or the built-in one."""

    def __init__(self, key_dir: Path | None) -> None:
        self._key_dir = key_dir
        self._loaded: dict[str, SiteKey] = {}

    def key(self, site: str) -> SiteKey:
        if site not in self._loaded:
            self._loaded[site] = (
                SiteKey.development(site)
                if self._key_dir is None
                else SiteKey.load(self._key_dir / f"{site}.jwk")
            )
        return self._loaded[site]


def sign_in(keys: SiteKeys, site: str, role: Role, person: str, hours: int) -> Session:
    """A session for ``person`` acting in ``role`` at ``site``; a department's people act
    for their department (the person picked is the department)."""
    actor = Actor(
        id=person,
        role=role,
        site=site,
        department_id=person if role in DEPARTMENT_ROLES else None,
    )
    issuer = TokenIssuer(keys.key(site), issuer=site_issuer(site), lifetime_seconds=hours * 3600)
    return Session(actor, issuer.issue(actor))


def read_session(keys: SiteKeys, token: str | None) -> Session | None:
    """The session a cookie holds, or ``None`` when it is missing, forged or expired."""
    if not token:
        return None
    try:
        site = str(jwt.decode(token, options={"verify_signature": False}).get("site", ""))
        if not _SITE.fullmatch(site):
            return None
        public = keys.key(site).private.public_key()
        claims = jwt.decode(
            token,
            public,
            algorithms=["EdDSA"],
            audience=AUDIENCE,
            issuer=site_issuer(site),
        )
        actor = Actor(
            id=claims["sub"],
            role=Role(claims["role"]),
            site=claims["site"],
            department_id=claims.get("department"),
        )
    except (jwt.PyJWTError, OSError, KeyError, ValueError):
        return None
    return Session(actor, token)


def may_reach(actor: Actor, site: str, stage: str) -> bool:
    """Whether the console forwards the person's requests to ``site``'s services: their own
    site's, a city's people their districts' too. A district's field supervisor also reports
    the checks the city entrusts them with (委托核查) at the city's verification service."""
    if actor.site == site:
        return True
    try:
        level = site_level(actor.site)
        city = city_of(site)
    except ValueError:
        return False
    if level is SiteLevel.CITY:
        return city == actor.site
    return (
        actor.role is Role.FIELD_SUPERVISOR
        and stage == "verification"
        and site == city_of(actor.site)
    )
