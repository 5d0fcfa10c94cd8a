"""The people's client of the sites' services: who they are (tokens), how they send commands
(an ``Idempotency-Key`` each, kept through retries; a 503 waited out as its ``Retry-After``
says), how they look at their lists, and the tally of every answer.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from uuid import uuid4

import httpx

from cityloop_deploy.fleet import SITE_SERVICES
from cityloop_deploy.identities import site_token_issuer
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.identity.tokens import TokenIssuer
from cityloop_shared.testing.identity import development_issuer

T = TypeVar("T")
POLL_SECONDS = 0.3
"""How often a desk looks at a list again while someone waits on it."""
RECONNECT_SECONDS = 0.5
TOKEN_HOURS = 12
RENEW_SECONDS = 3600
"""A token is issued again after an hour, well before it expires, however long the run."""


class StepFailed(Exception):
    """A command was refused, a service failed, or a case never showed where it should."""


class Stopped(Exception):
    """The run ended while this person waited."""


def service_url(site_url: str, service: str) -> str:
    """A service of a site whose first service (intake) listens at ``site_url``: the others
    listen on the ports after it, in the order the run command lays them out."""
    parts = urlsplit(site_url)
    if parts.port is None:
        raise ValueError(f"{site_url}: a site's URL names its port")
    return f"{parts.scheme}://{parts.hostname}:{parts.port + SITE_SERVICES.index(service)}"


@dataclass
class Tally:
    """What happened, counted as it happens (for the live display and the summary)."""

    counts: Counter[str] = field(default_factory=Counter)
    detours: Counter[str] = field(default_factory=Counter)
    answers: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def answered(self, site: str, service: str, path: str, response: httpx.Response) -> None:
        self.answers[response.status_code] += 1
        busy = response.status_code == 503 and "Retry-After" in response.headers
        if response.status_code >= 500 and not busy:
            self.server_errors.append(
                f"{site} {service} {path}: {response.status_code} {response.text[:200]}"
            )


class People:
    """Tokens of the sites' people, signed with each site's key (or, in development mode,
    its built-in key)."""

    def __init__(self, key_dir: Path | None) -> None:
        self._key_dir = key_dir
        self._issuers: dict[str, TokenIssuer] = {}
        self._tokens: dict[Actor, tuple[str, float]] = {}

    def headers(
        self, role: Role, site: str, id: str | None = None, department: str | None = None
    ) -> dict[str, str]:
        actor = Actor(id=id or f"{role.value}-1", role=role, site=site, department_id=department)
        token, issued = self._tokens.get(actor, ("", -RENEW_SECONDS))
        if time.monotonic() - issued >= RENEW_SECONDS:
            token = self._issuer(site).issue(actor)
            self._tokens[actor] = (token, time.monotonic())
        return {"Authorization": f"Bearer {token}"}

    def _issuer(self, site: str) -> TokenIssuer:
        if site not in self._issuers:
            lifetime = TOKEN_HOURS * 3600
            self._issuers[site] = (
                development_issuer(site, lifetime)
                if self._key_dir is None
                else site_token_issuer(self._key_dir, site, lifetime)
            )
        return self._issuers[site]


class Desks:
    """Every person's way to every service of the sites in ``site_urls``."""

    def __init__(
        self, site_urls: Mapping[str, str], people: People, tally: Tally, patience_s: float
    ) -> None:
        self.people = people
        self.tally = tally
        self.patience_s = patience_s
        self.stopping = asyncio.Event()
        self._http = {
            (site, service): httpx.AsyncClient(base_url=service_url(url, service), timeout=30)
            for site, url in site_urls.items()
            for service in SITE_SERVICES
        }
        self._boards: dict[tuple[Any, ...], Board] = {}

    async def close(self) -> None:
        for client in self._http.values():
            await client.aclose()

    async def command(
        self, site: str, service: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        """Sent until answered 2xx, with one idempotency key; its answer."""
        headers = {**headers, "Idempotency-Key": uuid4().hex}
        deadline = time.monotonic() + self.patience_s
        while time.monotonic() < deadline:
            response = await self._send(site, service, "POST", path, json=body, headers=headers)
            if response is None:
                continue
            if response.is_success:
                answer: dict[str, Any] = response.json()
                return answer
            if response.status_code == 503 and "Retry-After" in response.headers:
                await asyncio.sleep(_retry_after(response))
                continue
            raise StepFailed(f"{site} {service} {path}: {response.status_code} {response.text}")
        raise StepFailed(f"{site} {service} {path}: not accepted within {self.patience_s:.0f} s")

    async def query(
        self, site: str, service: str, path: str, headers: dict[str, str], **params: Any
    ) -> Any:
        """The answer's body, or None while there is none to read (404, 503, no service)."""
        response = await self._send(site, service, "GET", path, headers=headers, params=params)
        if response is None or response.status_code in (404, 503):
            return None
        if not response.is_success:
            raise StepFailed(f"{site} {service} {path}: {response.status_code} {response.text}")
        return response.json()

    def board(self, key: tuple[Any, ...], look: Callable[[], Awaitable[Any]]) -> Board:
        """One person's list, shared by every case that waits to show on it."""
        if key not in self._boards:
            self._boards[key] = Board(look)
        return self._boards[key]

    async def until(self, what: str, probe: Callable[[], Awaitable[T | None]]) -> T:
        """Look again and again, as people do, until ``probe`` finds what it looks for."""
        deadline = time.monotonic() + self.patience_s
        while time.monotonic() < deadline:
            found = await probe()
            if found is not None:
                return found
            await self.pause(POLL_SECONDS)
        raise StepFailed(f"never saw {what} within {self.patience_s:.0f} s")

    async def pause(self, seconds: float) -> None:
        """Wait, unless the run ends meanwhile (then :class:`Stopped`)."""
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except TimeoutError:
            return
        raise Stopped

    async def _send(
        self, site: str, service: str, method: str, path: str, **options: Any
    ) -> httpx.Response | None:
        try:
            response = await self._http[site, service].request(method, path, **options)
        except httpx.TransportError:
            self.tally.counts["unreachable"] += 1
            await asyncio.sleep(RECONNECT_SECONDS)
            return None
        self.tally.answered(site, service, path, response)
        if response.status_code >= 500 and response.status_code != 503:
            raise StepFailed(f"{site} {service} {path}: {response.status_code}")
        return response


class Board:
    """A list looked at no more often than every ``POLL_SECONDS``, however many wait on it."""

    def __init__(self, look: Callable[[], Awaitable[Any]]) -> None:
        self._look = look
        self._seen: Any = None
        self._at = -POLL_SECONDS
        self._lock = asyncio.Lock()

    async def entries(self) -> Any:
        async with self._lock:
            if time.monotonic() - self._at >= POLL_SECONDS:
                self._seen = await self._look()
                self._at = time.monotonic()
            return self._seen


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers["Retry-After"])
    except ValueError:
        return RECONNECT_SECONDS
