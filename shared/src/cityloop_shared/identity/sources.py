"""Where an issuer's public keys come from: a file, a JWKS URL, or its OpenID Connect discovery.

Remote key sets are fetched when first needed and again when a token names a key id not yet
seen (the issuer rotated its keys), at most once per ``refresh_seconds``, so a flood of
tokens with made-up key ids cannot turn into a flood of requests.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Protocol

import httpx
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

DISCOVERY_PATH = "/.well-known/openid-configuration"


class KeySource(Protocol):
    async def key(self, kid: str | None) -> PyJWK | None:
        """The public key with id ``kid`` (the only key, when the token names none)."""
        ...


def _pick(keys: PyJWKSet, kid: str | None) -> PyJWK | None:
    if kid is None:
        return keys.keys[0] if len(keys.keys) == 1 else None
    return next((key for key in keys.keys if key.key_id == kid), None)


class StaticKeys:
    def __init__(self, jwks: dict[str, Any]) -> None:
        self._keys = PyJWKSet.from_dict(jwks)

    @classmethod
    def from_file(cls, path: Path) -> StaticKeys:
        return cls(json.loads(path.read_text()))

    async def key(self, kid: str | None) -> PyJWK | None:
        return _pick(self._keys, kid)


class RemoteKeys:
    def __init__(self, url: str, *, refresh_seconds: float = 30.0, timeout: float = 5.0) -> None:
        self._url = url
        self._refresh = refresh_seconds
        self._timeout = timeout
        self._keys: PyJWKSet | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> PyJWK | None:
        found = _pick(self._keys, kid) if self._keys else None
        if found is not None:
            return found
        async with self._lock:
            if time.monotonic() - self._fetched_at >= self._refresh:
                self._fetched_at = time.monotonic()
                self._keys = await self._fetch()
        return _pick(self._keys, kid) if self._keys else None

    async def _fetch(self) -> PyJWKSet | None:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                answer = await client.get(await self.url())
                answer.raise_for_status()
                return PyJWKSet.from_dict(answer.json())
        except (httpx.HTTPError, KeyError, ValueError, PyJWKError, PyJWKSetError):
            # Unreachable or garbled: the tokens it signed wait until it answers again.
            return self._keys

    async def url(self) -> str:
        return self._url


class DiscoveredKeys(RemoteKeys):
    """An OpenID Connect provider's keys, at the ``jwks_uri`` its discovery document names."""

    def __init__(self, issuer: str, **options: float) -> None:
        super().__init__(issuer.rstrip("/") + DISCOVERY_PATH, **options)
        self._jwks_uri: str | None = None

    async def url(self) -> str:
        if self._jwks_uri is None:
            async with httpx.AsyncClient(timeout=5.0) as client:
                answer = await client.get(await super().url())
                answer.raise_for_status()
                self._jwks_uri = str(answer.json()["jwks_uri"])
        return self._jwks_uri


def key_source(jwks: str | None, issuer: str) -> KeySource:
    """The source a trusted issuer's settings name."""
    if jwks is None:
        return DiscoveredKeys(issuer)
    if jwks.startswith(("http://", "https://")):
        return RemoteKeys(jwks)
    return StaticKeys.from_file(Path(jwks))
