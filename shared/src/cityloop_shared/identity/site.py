"""A site's identity as its services hold it: its own issuer and keys, the issuers it trusts,
and the public keys it publishes at ``/.well-known/jwks.json``."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from cityloop_shared.contract.sites import SiteLevel, city_of, site_level
from cityloop_shared.identity.keys import SiteKey, key_set
from cityloop_shared.identity.sources import StaticKeys, key_source
from cityloop_shared.identity.tokens import site_issuer
from cityloop_shared.identity.verifier import TokenVerifier, Trust
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.settings import RunMode, ServiceSettings, TrustedIssuer

JWKS_PATH = "/.well-known/jwks.json"


def own_issuer(settings: ServiceSettings) -> str:
    return settings.auth.issuer or site_issuer(settings.site)


def published_keys(settings: ServiceSettings) -> dict[str, Any]:
    """The site's public keys: its JWKS file, or in development mode its built-in key."""
    if settings.auth.jwks_file is not None:
        keys: dict[str, Any] = json.loads(settings.auth.jwks_file.read_text())
        return keys
    if settings.mode is RunMode.DEVELOPMENT:
        return key_set(SiteKey.development(settings.site))
    raise ValueError("CITYLOOP_AUTH_JWKS_FILE is not set: the site has no keys to check tokens")


def trusted_issuers(
    settings: ServiceSettings, reference: ReferenceData, own_keys: dict[str, Any]
) -> list[Trust]:
    """The site's own issuer (checked with ``own_keys``, its :func:`published_keys`) first,
    then the configured ones. In development mode with no keys
    configured, the other level's built-in keys are trusted as a deployment trusts their
    published ones: a district its city's, the city its districts' (those it lists and those
    of its reference data: a district's supervisor reports a check the city entrusted)."""
    own = TrustedIssuer(issuer=own_issuer(settings), sites=(settings.site,))
    trusts = [Trust(own, StaticKeys(own_keys))]
    trusts += [
        Trust(issuer, key_source(issuer.jwks, issuer.issuer)) for issuer in settings.auth.trusted
    ]
    developing = settings.mode is RunMode.DEVELOPMENT and settings.auth.jwks_file is None
    if developing and not settings.auth.trusted:
        for site in _other_level(settings, reference):
            other = TrustedIssuer(issuer=site_issuer(site), sites=(site,))
            trusts.append(Trust(other, StaticKeys(key_set(SiteKey.development(site)))))
    return trusts


def _other_level(settings: ServiceSettings, reference: ReferenceData) -> tuple[str, ...]:
    if site_level(settings.site) is SiteLevel.DISTRICT:
        return (city_of(settings.site),)
    known = {d.site for d in reference.departments} | {s.site for s in reference.supervisors}
    districts = {site for site in known if site != settings.site and city_of(site) == settings.site}
    return tuple(sorted({*settings.district_sites, *districts}))


def install_identity(app: FastAPI, settings: ServiceSettings, reference: ReferenceData) -> None:
    """Checks the bearer tokens of ``app``'s requests and publishes the site's keys."""
    keys = published_keys(settings)
    app.state.token_verifier = TokenVerifier(
        trusted_issuers(settings, reference, keys),
        audience=settings.auth.audience,
        reference=reference,
        max_age_seconds=settings.auth.token_max_age_seconds,
        leeway_seconds=settings.auth.leeway_seconds,
    )

    @app.get(JWKS_PATH, tags=["identity"])
    async def site_keys() -> dict[str, Any]:
        """The site's public keys (JWKS): other sites trust its people's tokens by them."""
        return keys
