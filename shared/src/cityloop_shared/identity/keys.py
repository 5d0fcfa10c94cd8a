"""A site's signing keys (Ed25519, as JSON Web Keys) and the public key set it publishes.

A site signs its people's tokens with its private key and publishes the public half at
``/.well-known/jwks.json``; another site trusts it by that key set, so no secret is ever
shared between sites. In development mode a site without keys of its own uses a built-in
key derived from its code: anyone can derive it, which is why nothing else accepts it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt import PyJWK
from jwt.algorithms import OKPAlgorithm

_DEVELOPMENT_SEED = "cityloop-development-key:"


@dataclass(frozen=True)
class SiteKey:
    """One private signing key and its key id (``kid``)."""

    kid: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, site: str) -> SiteKey:
        private = Ed25519PrivateKey.generate()
        return cls(kid=f"{site}-{_thumbprint(private)[:16]}", private=private)

    @classmethod
    def development(cls, site: str) -> SiteKey:
        """The built-in key of ``site``: for development mode only."""
        seed = hashlib.sha256(f"{_DEVELOPMENT_SEED}{site}".encode()).digest()
        return cls(kid=f"{site}-development", private=Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def load(cls, path: Path) -> SiteKey:
        """A private JWK written by :meth:`save`."""
        jwk = json.loads(path.read_text())
        key = PyJWK.from_dict(jwk).key
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key (kty OKP, crv Ed25519)")
        return cls(kid=jwk["kid"], private=key)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.private_jwk()))
        path.chmod(0o600)

    def private_jwk(self) -> dict[str, Any]:
        return {**json.loads(OKPAlgorithm.to_jwk(self.private)), "kid": self.kid}

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(OKPAlgorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}


def key_set(*keys: SiteKey) -> dict[str, Any]:
    """The public JWKS of ``keys``: what a site publishes."""
    return {"keys": [key.public_jwk() for key in keys]}


def is_development_key(jwk: dict[str, Any]) -> bool:
    """Whether a public JWK is the built-in development key of the site its ``kid`` names."""
    kid = str(jwk.get("kid", ""))
    if kid.endswith("-development"):
        return True
    site = kid[:6]
    return site.isdigit() and jwk.get("x") == SiteKey.development(site).public_jwk()["x"]


def _thumbprint(private: Ed25519PrivateKey) -> str:
    public = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    return hashlib.sha256(public["x"].encode()).hexdigest()
