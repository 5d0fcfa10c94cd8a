"""The sites' signing keys on this machine, and what each site's services are told to trust.

Each site gets an Ed25519 key of its own (kept under the stack's ``keys/`` folder, readable by
its owner only) and publishes the public half; a district trusts its city's keys, and the city
its districts', at the URL where the other site's case file service publishes them, so the
city's people act on district cases with no secret shared between sites.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from cityloop_shared.identity.keys import SiteKey, key_set
from cityloop_shared.identity.site import JWKS_PATH
from cityloop_shared.identity.tokens import TokenIssuer, site_issuer


def site_key(key_dir: Path, site: str) -> SiteKey:
    """The site's key, made on first use; its public key set is written beside it."""
    private = key_dir / f"{site}.jwk"
    if private.exists():
        return SiteKey.load(private)
    key = SiteKey.generate(site)
    key.save(private)
    jwks_file(key_dir, site).write_text(json.dumps(key_set(key), indent=2))
    return key


def jwks_file(key_dir: Path, site: str) -> Path:
    return key_dir / f"{site}.jwks.json"


def site_token_issuer(key_dir: Path, site: str, lifetime_seconds: int = 12 * 3600) -> TokenIssuer:
    return TokenIssuer(
        site_key(key_dir, site), issuer=site_issuer(site), lifetime_seconds=lifetime_seconds
    )


def identity_env(key_dir: Path, site: str, others: Mapping[str, str]) -> dict[str, str]:
    """A site's ``CITYLOOP_AUTH_*``: its own public keys, and the other level's sites it
    trusts, each by the URL where that site's case file service publishes its keys (a
    district its city; the city its districts)."""
    site_key(key_dir, site)
    env = {"CITYLOOP_AUTH_JWKS_FILE": str(jwks_file(key_dir, site))}
    trusted = [
        {"issuer": site_issuer(other), "sites": [other], "jwks": url + JWKS_PATH}
        for other, url in others.items()
    ]
    if trusted:
        env["CITYLOOP_AUTH_TRUSTED"] = json.dumps(trusted)
    return env
