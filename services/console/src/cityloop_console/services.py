"""The sites' services as the console reaches them: with the signed-in person's token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from cityloop_console.sessions import Session
from cityloop_console.settings import ConsoleSettings


class Unreachable(Exception):
    """The service is not in the directory, or did not answer."""

    def __init__(self, site: str, stage: str, why: str, status_code: int) -> None:
        super().__init__(f"the {stage} service of site {site} {why}")
        self.site = site
        self.stage = stage
        self.status_code = status_code


@dataclass(frozen=True)
class Answer:
    """A service's answer to a query: its status and JSON body."""

    status_code: int
    body: Any

    @property
    def ok(self) -> bool:
        return self.status_code < 300


class Services:
    def __init__(
        self, settings: ConsoleSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        self._client = httpx.AsyncClient(
            timeout=settings.service_timeout_seconds, transport=transport
        )

    async def close(self) -> None:
        await self._client.aclose()

    def has(self, site: str, stage: str) -> bool:
        return self._settings.service_url(site, stage) is not None

    async def send(
        self,
        session: Session,
        site: str,
        stage: str,
        method: str,
        path: str,
        *,
        params: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        base = self._settings.service_url(site, stage)
        if base is None:
            raise Unreachable(site, stage, "is not in the console's directory", 503)
        try:
            return await self._client.request(
                method,
                f"{base.rstrip('/')}/{path.lstrip('/')}",
                params=params,
                content=content,
                headers={**(headers or {}), "Authorization": f"Bearer {session.token}"},
            )
        except httpx.TimeoutException as error:
            raise Unreachable(site, stage, "did not answer in time", 503) from error
        except httpx.TransportError as error:
            raise Unreachable(site, stage, "cannot be reached", 502) from error

    async def query(
        self, session: Session, site: str, stage: str, path: str, **params: Any
    ) -> Answer:
        """A GET's JSON answer; an unreachable service answers as its status (502–504) with
        the reason, so a page shows what it could not read instead of failing whole."""
        clean = {k: v for k, v in params.items() if v is not None}
        try:
            response = await self.send(session, site, stage, "GET", path, params=clean)
        except Unreachable as error:
            return Answer(error.status_code, {"detail": str(error)})
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text}
        return Answer(response.status_code, body)
