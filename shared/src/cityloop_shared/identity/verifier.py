"""Checking a bearer token: a trusted issuer, its key, its audience and lifetime, a site the
issuer may speak for, and an actor the reference data knows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
from pydantic import ValidationError

from cityloop_shared.contract.actors import Actor
from cityloop_shared.identity.roster import unknown_actor
from cityloop_shared.identity.sources import KeySource
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.settings import TrustedIssuer

KNOWN_TOKENS = 10_000
_ALGORITHMS = ["EdDSA", "ES256", "ES384", "RS256", "RS384", "RS512", "PS256"]
"""Asymmetric only: a token signed with a shared secret (HS*) or none is never accepted."""


class TokenRefused(Exception):
    """The token does not identify an actor; the message says why."""


@dataclass(frozen=True)
class Trust:
    issuer: TrustedIssuer
    keys: KeySource


class TokenVerifier:
    """Turns a token into the actor it names; a token checked once is known until it expires,
    for a desk or a phone sends the same token with every request."""

    def __init__(
        self,
        trusts: list[Trust],
        *,
        audience: str,
        reference: ReferenceData,
        max_age_seconds: int,
        leeway_seconds: int = 30,
    ) -> None:
        self._trusts = {trust.issuer.issuer: trust for trust in trusts}
        self._audience = audience
        self._reference = reference
        self._max_age = max_age_seconds
        self._leeway = leeway_seconds
        self._known: dict[str, tuple[Actor, float]] = {}

    @property
    def issuers(self) -> tuple[str, ...]:
        return tuple(self._trusts)

    async def verify(self, token: str) -> Actor:
        known = self._known.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        claims, trust = await self._checked_claims(token)
        actor = self._actor(claims, trust.issuer)
        if len(self._known) >= KNOWN_TOKENS:
            self._known.clear()
        self._known[token] = (actor, float(claims["exp"]))
        return actor

    async def _checked_claims(self, token: str) -> tuple[dict[str, Any], Trust]:
        try:
            header = jwt.get_unverified_header(token)
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as error:
            raise TokenRefused("not a signed token (JWT)") from error
        trust = self._trusts.get(str(issuer))
        if trust is None:
            raise TokenRefused(f"issuer {issuer!r} is not trusted here")
        key = await trust.keys.key(header.get("kid"))
        if key is None:
            raise TokenRefused(f"issuer {issuer} has no key {header.get('kid')!r}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=_ALGORITHMS,
                audience=trust.issuer.audience or self._audience,
                issuer=trust.issuer.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise TokenRefused("token expired") from error
        except jwt.PyJWTError as error:
            raise TokenRefused(f"token is not valid: {error}") from error
        if float(claims["exp"]) - float(claims["iat"]) > self._max_age + self._leeway:
            raise TokenRefused(f"token lives longer than the {self._max_age} s accepted")
        return claims, trust

    def _actor(self, claims: dict[str, Any], issuer: TrustedIssuer) -> Actor:
        named_role = claims.get(issuer.role_claim)
        role = issuer.roles.get(str(named_role), named_role) if issuer.roles else named_role
        try:
            actor = Actor(
                id=claims.get(issuer.subject_claim),
                role=role,
                site=claims.get(issuer.site_claim),
                department_id=claims.get(issuer.department_claim),
            )
        except ValidationError as error:
            fields = ", ".join(str(problem["loc"][0]) for problem in error.errors())
            raise TokenRefused(f"token claims do not name an actor ({fields})") from error
        if actor.site not in issuer.sites:
            raise TokenRefused(f"issuer {issuer.issuer} may not speak for site {actor.site}")
        unknown = unknown_actor(actor, self._reference)
        if unknown is not None:
            raise TokenRefused(unknown)
        return actor
