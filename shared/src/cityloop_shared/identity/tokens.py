"""Actor tokens: a JWT signed by a site's key, naming the actor in CityLoop's claims.

``sub`` is the actor id; ``role``, ``site`` and ``department`` say in which role, at which
site and for which department they act. ``iss``, ``aud``, ``iat``, ``exp`` and the key id in
the header let any site that trusts the issuer check the token with published keys alone.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from cityloop_shared.contract.actors import Actor
from cityloop_shared.identity.keys import SiteKey


def site_issuer(site: str) -> str:
    """The issuer name of a CityLoop site's own tokens."""
    return f"cityloop:{site}"


class TokenIssuer:
    """Signs tokens for the people of one site (the operators' ``cityloop-token``, the demo)."""

    def __init__(
        self, key: SiteKey, *, issuer: str, audience: str = "cityloop", lifetime_seconds: int = 3600
    ) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._lifetime = lifetime_seconds

    def issue(self, actor: Actor, *, lifetime_seconds: int | None = None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": actor.id,
            "iat": now,
            "exp": now + (lifetime_seconds or self._lifetime),
            "role": actor.role.value,
            "site": actor.site,
        }
        if actor.department_id is not None:
            claims["department"] = actor.department_id
        return jwt.encode(
            claims, self._key.private, algorithm="EdDSA", headers={"kid": self._key.kid}
        )
