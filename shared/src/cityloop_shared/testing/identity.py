"""Tokens for tests, demos and benchmarks run in development mode: each site's built-in key."""

from __future__ import annotations

from cityloop_shared.contract.actors import Actor
from cityloop_shared.identity.keys import SiteKey
from cityloop_shared.identity.tokens import TokenIssuer, site_issuer


def development_issuer(site: str, lifetime_seconds: int = 3600) -> TokenIssuer:
    """Signs tokens of ``site``'s people that services in development mode accept."""
    return TokenIssuer(
        SiteKey.development(site), issuer=site_issuer(site), lifetime_seconds=lifetime_seconds
    )


def bearer(actor: Actor) -> dict[str, str]:
    """Headers naming ``actor`` with a token of its site's built-in key."""
    return {"Authorization": f"Bearer {development_issuer(actor.site).issue(actor)}"}
