"""The two answer formats of GeoReport v2 and its error answers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from fastapi import Response, status

from cityloop_intake.open311.xml import to_xml


class Format(StrEnum):
    """Chosen by the resource's suffix: ``services.xml``, ``services.json``."""

    XML = "xml"
    JSON = "json"

    @property
    def media_type(self) -> str:
        return "text/xml" if self is Format.XML else "application/json"

    @classmethod
    def of_path(cls, path: str) -> Format:
        """The format a path asks for; XML, the one every client reads, when it names none."""
        try:
            return cls(path.rpartition(".")[2])
        except ValueError:
            return cls.XML


def respond(
    fmt: Format,
    root: str,
    data: Mapping[str, Any] | Sequence[Any],
    status_code: int = status.HTTP_200_OK,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = (
        to_xml(root, data)
        if fmt is Format.XML
        else json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    )
    return Response(
        content=body,
        status_code=status_code,
        headers=headers,
        media_type=f"{fmt.media_type}; charset=utf-8",
    )


class Open311Error(Exception):
    """A refusal answered as the spec says: the HTTP status and a list of code + description.

    400 for a request that cannot be fulfilled, 403 for a missing or wrong api_key, 404 for
    a resource (service, request, token, jurisdiction) that does not exist or is not shown
    to the public, 429 for a post over the site's limits (with ``Retry-After``).
    """

    def __init__(
        self, status_code: int, *descriptions: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__("; ".join(descriptions))
        self.status_code = status_code
        self.descriptions = descriptions
        self.headers = headers


def error_response(fmt: Format, error: Open311Error) -> Response:
    errors = [
        {"code": error.status_code, "description": description}
        for description in error.descriptions
    ]
    return respond(fmt, "errors", errors, error.status_code, error.headers)
